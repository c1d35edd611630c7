"""Pulling models from a model server (Rasa's endpoints.yml ``models:``).

endpoints.yml::

    models:
      url: "https://models.example.com/bot/latest.tar"
      wait_time_between_pulls: 100     # seconds; 0 or null: pull once, at start
      timeout: 300                     # seconds per download (default 300, as Rasa)
      keep: 3                          # pulled model files kept in models/ (default 3)
      headers: {Authorization: "Bearer ${MODEL_TOKEN}"}
      token: ${MODEL_TOKEN}            # Rasa's other endpoint settings too: token,
                                       # token_name, params, basic_auth, cafile

The server asks ``url`` for the model with ``If-None-Match: <ETag of the
model it has>``. ``304 Not Modified`` (or ``204 No Content``, as Rasa reads it)
changes nothing; ``200`` with a model
file (what ``dialogflowlite train`` writes) stores it under the project's
``models/`` and switches to it as ``PUT /model`` does: the running model
answers until the new one is loaded. A download that is not a model file, a
server that is down, or any other answer is logged and the
running model stays. A server started without a local model pulls one first.
After each switch only the newest ``keep`` pulled files stay in ``models/``
(models you trained are never deleted; a loaded model no longer needs its
file).

Workers of one server (``--workers``) share the pulls: a pull holds a lock
file in ``models/`` until the model it found is loaded, and is then recorded
with its ETag, its URL and the server's run in ``models/.pulled.json`` (a
worker that dies before leaves no record). A download of the served bytes
under a new ETag rewrites the record, so no worker asks with the old one
again. ``PUT /model`` with ``model_server`` always asks the server. The model a worker pulls is
a model choice like ``PUT /model``: that worker records it in
``models/.served.json`` (see
:class:`~dialogflowlite.server.models.SharedModelChoice`), and the newest
recorded choice, whatever its source, is the one every worker serves. So a
worker that finds a pull of another worker of this run takes only its ETag
(it does not download that model again) and then follows the recorded
choices, as it does before each request: the pulled model, unless a newer
``PUT`` or ``DELETE /model`` was recorded after it. Each pull first follows
the recorded choices too, so that it asks the model server the newest choice
names; a ``PUT`` or ``DELETE /model`` recorded while the pulled model
downloads or loads wins (:func:`~dialogflowlite.server.models.choice_mark`).
A pull left by an earlier server (within the last interval) is a model
this run has not chosen yet: the worker that finds it switches to it and
records it as its own pull.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from dialogflowlite.errors import ConfigError
from dialogflowlite.io.endpoint_settings import ACCESS_KEYS, EndpointAccess, read_access
from dialogflowlite.io.formats import did_you_mean
from dialogflowlite.server.left_files import delete_left_files
from dialogflowlite.server.process_lock import process_lock

if TYPE_CHECKING:
    from sanic import Sanic

logger = logging.getLogger(__name__)

DEFAULT_WAIT = 100.0
#: seconds a download may take (Rasa's too: a 130 MB model needs 4 MB/s within 60 s)
DEFAULT_TIMEOUT = 300.0
#: the settings of endpoints.yml ``models:`` (and of ``PUT /model``'s ``model_server``)
MODELS_KEYS = ("url", "wait_time_between_pulls", "timeout", "keep", *ACCESS_KEYS)
DEFAULT_KEEP = 3
#: answers that say the server has no model newer than the one asked with (Rasa reads
#: 204 No Content so too)
NO_NEW_MODEL = (304, 204)
#: the file names pulled models get (``model_file_name`` with this prefix)
PULLED_PREFIX = "pulled"
#: in ``models/``: the newest pull of any worker, and the lock pulls hold
PULL_RECORD = ".pulled.json"
PULL_LOCK = ".pull.lock"


def _connect_timeout_error() -> type[BaseException]:
    """aiohttp's error for a connection not made in time (3.10 and later; before, a
    connection timeout was a plain TimeoutError, said as a slow download)."""
    import aiohttp

    return getattr(aiohttp, "ConnectionTimeoutError", _NeverRaised)


class _NeverRaised(Exception):
    """Stands in for an error class the installed library lacks."""


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


#: how the files that downloads write into end
PARTIAL_SUFFIX = ".partial"
#: the name of a download's ``.partial`` file (:func:`_create_partial`): not that of a
#: model ``train --fixed-model-name pulled-...`` is writing (``pulled-x.tar.partial``)
_DOWNLOAD_PARTIAL = re.compile(rf"{PULLED_PREFIX}-.+\.tar\.[0-9a-f]{{8}}"
                               rf"{re.escape(PARTIAL_SUFFIX)}")
#: after a pulled model's name: the name is claimed while the model moves there (where
#: the file system has no hard links)
CLAIM_SUFFIX = ".claim"


def _create_partial(folder: Path) -> tuple[Path, int]:
    """A new, empty file in ``folder`` for a download, and its open handle.

    Created exclusively, under a name of its own: not a ``*.tar`` name, so
    nothing looking for models takes it while it downloads.
    """
    from dialogflowlite.artifact import model_file_name

    while True:
        path = folder / (f"{model_file_name(PULLED_PREFIX)}.{secrets.token_hex(4)}"
                         f"{PARTIAL_SUFFIX}")
        try:
            return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue


class _DiskError(Exception):
    """Writing a download to disk failed (its ``__cause__`` says how): the models
    folder's fault, not the model server's."""


async def _write_body(response: Any, partial: _PartialFile) -> None:
    """Write the body of ``response`` into ``partial``; :class:`_DiskError` when the disk
    refuses it (a network error while reading it is raised as it comes)."""
    try:
        out = partial.open()
    except OSError as e:
        raise _DiskError from e
    try:
        async for chunk in response.content.iter_chunked(1 << 20):
            try:
                out.write(chunk)
            except OSError as e:
                raise _DiskError from e
        try:
            out.close()  # writes the last buffered bytes: a full disk may refuse only them
        except OSError as e:
            raise _DiskError from e
    finally:
        with contextlib.suppress(OSError):  # after an error, which is the one to report
            out.close()


class _PartialFile:
    """The ``.partial`` file of one download, created only once there is a body to write
    (:meth:`open`); :meth:`discard` deletes it, if it was created."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path: Path | None = None

    def open(self) -> BinaryIO:
        self.path, handle = _create_partial(self.folder)
        return os.fdopen(handle, "wb")

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def remove_left_downloads(folder: Path) -> list[Path]:
    """Delete the ``.partial`` files and name claims (:func:`claim_pulled_name`) of
    downloads that ended without cleaning up (a process killed while it downloaded);
    the files deleted.

    Called holding the pull lock, which every download holds while it writes
    its file and claims its name: none of them then belongs to a live download,
    in any worker or server on this folder.
    """
    left = [*(path for path in folder.glob(f"{PULLED_PREFIX}-*{PARTIAL_SUFFIX}")
              if _DOWNLOAD_PARTIAL.fullmatch(path.name)),
            *folder.glob(f"{PULLED_PREFIX}-*{CLAIM_SUFFIX}")]
    return delete_left_files(left, "downloads that never finished")


def claim_pulled_name(downloaded: Path) -> Path:
    """Give the ``downloaded`` model a pulled model's name that no file has:
    ``pulled-<time>.tar``, else ``pulled-<time>-2.tar``, ``-3``, ...

    Never over an existing file: two downloads in the same second (by one worker
    or two) each keep their own, so a worker that loaded the first is never
    told that the second one is the model it serves. ``downloaded`` may be left
    in place: the caller deletes it.
    """
    from dialogflowlite.artifact import MODEL_SUFFIX, model_file_name

    stem = model_file_name(PULLED_PREFIX)[: -len(MODEL_SUFFIX)]
    target, count = downloaded.with_name(f"{stem}{MODEL_SUFFIX}"), 1
    while True:
        try:
            _link_exclusively(downloaded, target)
            return target
        except FileExistsError:
            count += 1
            target = downloaded.with_name(f"{stem}-{count}{MODEL_SUFFIX}")


def _link_exclusively(source: Path, target: Path) -> None:
    """Make ``target`` name the bytes of ``source``; FileExistsError when it exists."""
    try:
        os.link(source, target)  # fails rather than replace a file
        return
    except FileExistsError:
        raise
    except OSError:  # no hard links on this file system: claim the name, then fill it
        pass
    # The claim is a side file, not an empty model: an empty `pulled-*.tar` would be
    # the newest model a start without --model picks if the process died here.
    claim = target.with_name(target.name + CLAIM_SUFFIX)
    os.close(os.open(claim, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        if target.exists():  # claimed and filled by another before this claim
            raise FileExistsError(target)
        os.replace(source, target)
    finally:
        claim.unlink(missing_ok=True)


@dataclass
class ModelServer:
    """Where models come from, how often to ask, and what was pulled last."""

    url: str
    folder: Path
    wait_time_between_pulls: float | None = DEFAULT_WAIT
    timeout: float = DEFAULT_TIMEOUT
    #: headers, query parameters (``token`` among them), basic auth and ``cafile``
    access: EndpointAccess = field(default_factory=EndpointAccess)
    keep: int = DEFAULT_KEEP
    etag: str | None = None
    #: the ``run`` id the workers of this server share (see :func:`share_pulls`); None in
    #: a one-process server, for which every pull record is an earlier server's
    run_id: str | None = None
    #: whether the last :meth:`pull` took the ETag of another worker's pull of this run
    #: (which that worker records as a model choice, see :func:`keep_pulling`)
    taken_from_another_worker: bool = False
    #: the model file the server answers with now (see :func:`share_pulls`); a pulled
    #: file it serves is never deleted, even when its switch raised afterwards
    serving: Callable[[], Path | None] | None = field(default=None, repr=False)
    #: how many of this worker's model choices did not reach the other workers, the
    #: number of the last choice this worker made or followed, and of the newest one
    #: recorded (see :func:`share_pulls`): a pull the others were not told of is
    #: recorded as such, with the choice its worker knew of, so that they switch to its
    #: file themselves unless a newer choice was recorded since
    untold_choices: Callable[[], int] | None = field(default=None, repr=False)
    known_choice: Callable[[], int] | None = field(default=None, repr=False)
    newest_choice: Callable[[], int] | None = field(default=None, repr=False)
    #: why the last :meth:`pull` brought no model, in words ("it answered HTTP 204: it
    #: has no model"), for the errors that say so; None after a pull that brought one
    no_model_reason: str | None = None

    @classmethod
    def from_config(cls, section: Any, project_dir: Path) -> ModelServer | None:
        """The model server of endpoints.yml ``models:``, or None without a ``url``."""
        if not section:
            return None
        if not isinstance(section, dict) or not section.get("url"):
            raise ConfigError("endpoints.yml models needs a `url`",
                              hint='write `models: {url: "https://...", '
                                   "wait_time_between_pulls: 100}`")
        url = str(section["url"])
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"endpoints.yml models url {url!r} is not an http(s) address")
        try:
            wait = section.get("wait_time_between_pulls", DEFAULT_WAIT)
            wait = float(wait) if wait else None
            timeout = float(section.get("timeout", DEFAULT_TIMEOUT))
        except (TypeError, ValueError):
            raise ConfigError("endpoints.yml models: wait_time_between_pulls and timeout "
                              "are numbers of seconds") from None
        keep = section.get("keep", DEFAULT_KEEP)
        if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
            raise ConfigError(f"endpoints.yml models: keep must be a whole number of at least "
                              f"1, not {keep!r}")
        unknown = [str(key) for key in section if key not in MODELS_KEYS]
        if unknown:
            # a misspelt `wait_time_between_pulls` or `token` was dropped without a word
            raise ConfigError(f"endpoints.yml models has no setting '{unknown[0]}'",
                              hint=did_you_mean(unknown[0], MODELS_KEYS)
                              or f"its settings are {', '.join(MODELS_KEYS)}")

        def error(problem: str, hint: str | None) -> ConfigError:
            return ConfigError(f"endpoints.yml models: {problem}", hint=hint)

        # as Rasa's endpoint settings: the token goes as a query parameter (`token_name`)
        return cls(url, project_dir / "models", wait, timeout, read_access(section, error),
                   keep)

    async def pull(self, current: Path | None = None, *, take: bool = True,
                   switch: Callable[[Path], Awaitable[Any]] | None = None) -> Path | None:
        """The model file to switch to, or None (nothing new, or the pull failed).

        Another worker's pull of this run is taken when there is one (its ETag;
        :attr:`taken_from_another_worker` says so): the path returned then names
        that worker's file, which may be gone (dropped for a newer choice, or
        pruned), so it is never loaded directly: the caller follows the recorded
        model choices instead. A recent pull of an earlier server is taken too.
        Otherwise the model is downloaded if it changed.
        ``current`` is the running model's file: a download with the same bytes
        is not a new model. ``take=False`` always asks the model server (``PUT
        /model`` with ``model_server``: the model it serves now, not one pulled
        earlier).

        ``switch`` switches to a model this pull found (still holding the pull
        lock, so no other worker downloads it meanwhile); only then is the pull
        recorded in ``models/.pulled.json``, so a worker that dies before its
        switch leaves no record that would make the others skip the model. A
        model ``switch`` fails on is deleted (it must not be the newest file at
        the next start) and the error raised; its ETag is kept, so the same
        model is not downloaded again (but for the file of another worker's pull
        that it could not record as a choice: that worker serves it, so it stays,
        and the next pull tries it again). A downloaded model that ``switch`` drops
        (a newer model choice was made while it loaded) is deleted too, and its
        pull recorded.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        self.no_model_reason = None
        async with process_lock(self.folder / PULL_LOCK):
            remove_left_downloads(self.folder)
            self.taken_from_another_worker = False
            record = self._read_record()
            if take and record is not None and record["etag"] != self.etag:
                etag = self.etag
                taken = self._take(record, current)
                if self.taken_from_another_worker:
                    return taken
                if taken is not None:  # an earlier server's pull, or another worker's that
                    # it could not record as a choice, which this worker takes
                    # a one-process server has no run id: every earlier pull is another run's
                    of_this_run = self.run_id is not None and record["run"] == self.run_id
                    return await self._switch_to_taken(taken, switch, etag,
                                                       of_this_run=of_this_run)
            pulled = await self._download(current)
            if pulled is None:
                if current is not None and record is not None and self.etag and \
                        self.etag != record["etag"] and self.folder / record["file"] == current:
                    # the same bytes under a new ETag: recorded, so that no worker asks
                    # with the old one again (and downloads the whole model for nothing);
                    # a pull the others were not told of stays so; one of an earlier run
                    # counts as told (its `after` numbers that run's choices, not this one's)
                    self._record(current, told=record["told"] or record["run"] != self.run_id,
                                 after=record["after"])
                return None
            return await self._switch_and_record(pulled, switch, downloaded=True)

    async def _switch_to_taken(self, taken: Path,
                               switch: Callable[[Path], Awaitable[Any]] | None,
                               etag: str | None, *, of_this_run: bool) -> Path:
        """Switch to the file of an earlier pull (:meth:`_take`). A switch that fails on the
        pull of another worker of this run, which serves the file, neither deletes it nor
        keeps its ETag: a load that failed here (memory, a cancel) is tried again at the
        next pull, and the other workers can still take the file."""
        try:
            return await self._switch_and_record(taken, switch, downloaded=False,
                                                 keep_on_failure=of_this_run)
        except BaseException:
            if of_this_run and not self._serves(taken):
                self.etag = etag
            raise

    async def _switch_and_record(self, pulled: Path,
                                 switch: Callable[[Path], Awaitable[Any]] | None, *,
                                 downloaded: bool, keep_on_failure: bool = False) -> Path:
        untold_before = self._untold()
        if switch is not None:
            try:
                await switch(pulled)
            except BaseException:  # a model that did not load, or a cancel (shutdown,
                # a PUT whose client hung up) that may come after the switch
                if self._serves(pulled):
                    self._record(pulled, told=self._untold() == untold_before)
                elif not keep_on_failure:
                    pulled.unlink(missing_ok=True)
                raise
            if downloaded and not self._serves(pulled):
                self._delete_dropped(pulled)
        # told unless this switch's own choice could not be recorded (a switch dropped
        # for a newer choice records none, and is told)
        self._record(pulled, told=self._untold() == untold_before)
        return pulled

    def _untold(self) -> int:
        return self.untold_choices() if self.untold_choices is not None else 0

    def _delete_dropped(self, pulled: Path) -> None:
        """Delete a model this pull downloaded and then dropped for a newer choice, so that
        a restart without ``--model`` does not serve it as the newest file in models/.

        Nothing else can serve or load it: its name is new, no model choice names
        it (it was not installed, so not published), and the pull record naming it
        is written after this. That record keeps its ETag, which the other workers
        take even with the file gone, so none downloads the model again.
        """
        if self.serving is None:  # no way to tell whether it serves
            return
        pulled.unlink(missing_ok=True)
        logger.info("deleted %s, dropped for the newer model choice", pulled.name)

    def _serves(self, pulled: Path) -> bool:
        served = self.serving() if self.serving is not None else None
        return served is not None and Path(served) == pulled

    def _record(self, pulled: Path, *, told: bool = True, after: int | None = None) -> None:
        """Record the pull of ``pulled`` (its switch is done); ``told``: whether its
        choice reached the other workers (if not, ``after``: the last choice its worker
        knew of, by default this one's). A record that cannot be written is a
        warning: the model is served and its choice published already."""
        if not self.etag:
            return
        try:
            self._write_record(pulled, told, after)
        except OSError as e:
            logger.warning("the pull of %s cannot be recorded, so other workers may "
                           "download it again: writing %s failed: %s", pulled.name,
                           self.folder / PULL_RECORD, e)

    def _read_record(self) -> dict[str, Any] | None:
        """The newest pull from this server's URL, or None."""
        try:
            record = json.loads((self.folder / PULL_RECORD).read_text(encoding="utf-8"))
            record = {"etag": str(record["etag"]), "file": str(record["file"]),
                      "time": float(record["time"]), "url": record.get("url"),
                      "run": record.get("run"), "told": record.get("told", True) is not False,
                      "after": int(record.get("after") or 0)}
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return record if record["url"] == self.url else None

    def _write_record(self, pulled: Path, told: bool, after: int | None = None) -> None:
        # a switch the other workers were not told of says so, with the last choice
        # this worker knew of as it switched: they switch to its file themselves (a
        # recorded choice naming it never comes) unless a newer choice was recorded
        record = {"etag": self.etag, "file": pulled.name, "time": time.time(),
                  "url": self.url, "run": self.run_id}
        if not told:
            if after is None:
                after = self.known_choice() if self.known_choice is not None else 0
            record.update(told=False, after=after)
        (self.folder / PULL_RECORD).write_text(json.dumps(record), encoding="utf-8")

    def _newest(self) -> int:
        return self.newest_choice() if self.newest_choice is not None else 0

    def _take(self, record: dict[str, Any], current: Path | None) -> Path | None:
        """The file of another worker's pull of this run (taking its ETag, even when the
        file is gone), or of a recent pull of an earlier server that is here; else None.

        Another worker's pull is loaded by following the recorded choices
        (:attr:`taken_from_another_worker`), unless that worker could not record it
        as a choice (``told`` false) and no newer choice was recorded since: then
        this worker switches to its file and records the choice."""
        path = self.folder / record["file"]
        if (self.run_id is not None and record["run"] == self.run_id and not record["told"]
                and path.is_file() and self._newest() <= record["after"]):
            # another worker serves it, but could not record it as a choice: with no
            # newer choice recorded since, this worker's switch records it
            self.etag = record["etag"]
            if current is not None and path == current:
                return None
            logger.info("model %s was pulled by another worker; switching to it", path.name)
            return path
        if self.run_id is not None and record["run"] == self.run_id:
            # taken even when its file is gone (pruned, or dropped for a newer choice,
            # see _delete_dropped): the recorded choices say what serves, not the file
            self.etag = record["etag"]
            if current is not None and path == current:
                # this worker serves it already: asked with that ETag, the server answers
                # 304 (a download of the same bytes under a newer ETag rewrites the record)
                return None
            # that worker records the model as a choice: following the recorded choices
            # loads it, unless a newer one was made since
            self.taken_from_another_worker = True
            return path
        # an earlier server's pull: only a recent one whose file is here may still be
        # the newest
        if not path.is_file():
            return None
        if time.time() - record["time"] >= max(self.wait_time_between_pulls or 0.0,
                                               self.timeout):
            return None
        self.etag = record["etag"]
        if current is not None and path == current:
            # already served: asked with its ETag, the server answers 304, not the model
            return None
        # not chosen in this run yet: this worker's pull now, which it records once switched
        logger.info("model %s was pulled before; switching to it", path.name)
        return path

    async def _download(self, current: Path | None) -> Path | None:
        """The new model the server sends, under a pulled model's name no other file has
        (:func:`claim_pulled_name`), or None (nothing new, or the download failed).

        It downloads into a ``.partial`` file of its own, created once the server sends
        a model, which is deleted on every way out that does not name it a model: a
        failure, a cancel (a ``PUT`` whose client hung up, the server stopping), or
        bytes that are no new model.
        """
        headers = dict(self.access.headers)
        if self.etag:
            headers["If-None-Match"] = self.etag
        partial = _PartialFile(self.folder)
        try:
            fetched, etag = await self._fetch(headers, partial)
            if not fetched or partial.path is None or \
                    not await self._is_new_model(partial.path, current, etag):
                return None
            target = claim_pulled_name(partial.path)
        finally:
            partial.discard()
        self.etag = etag
        logger.info("pulled model %s from %s", target.name, self.url)
        return target

    async def _fetch(self, headers: dict[str, str],
                     partial: _PartialFile) -> tuple[bool, str | None]:
        """Write the model the server sends into ``partial``: (whether it sent one, its
        ETag). Without one, :attr:`no_model_reason` says why; a server that cannot be
        reached, an answer other than 200 and :data:`NO_NEW_MODEL`, and a download
        that cannot be written to disk are logged as errors."""
        import aiohttp

        connect_timeout = _connect_timeout_error()
        try:
            async with aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=self.timeout)) as session, \
                    session.get(self.url, **{**self.access.request_options(),
                                             "headers": headers}) as response:
                if response.status in NO_NEW_MODEL:
                    self.no_model_reason = (
                        f"it answered HTTP {response.status}: it has no model"
                        + (" newer than the one asked with" if self.etag else ""))
                    logger.info("model server %s has no new model (HTTP %d)", self.url,
                                response.status)
                    return False, None
                if response.status != 200:
                    return self._no_model(f"it answered HTTP {response.status}")
                await _write_body(response, partial)
                return True, response.headers.get("ETag")
        except _DiskError as e:
            return self._no_model(f"the download cannot be written to {self.folder}: "
                                  f"{e.__cause__}")
        except connect_timeout:
            # (a TimeoutError too): no connection, so no download was under way
            return self._no_model(f"it did not accept a connection within {self.timeout:g} s "
                                  "(the models endpoint's `timeout`)")
        except asyncio.TimeoutError:
            return self._no_model(f"the download did not finish within {self.timeout:g} s "
                                  "(the models endpoint's `timeout`)")
        except aiohttp.ClientPayloadError as e:
            return self._no_model(f"the download was cut off ({e})")
        except (aiohttp.ClientError, OSError) as e:
            return self._no_model(f"it cannot be reached ({type(e).__name__})")

    def _no_model(self, reason: str) -> tuple[bool, None]:
        """Log ``reason`` as the error that brought no model; keep it for the messages
        that say why none came (:attr:`no_model_reason`)."""
        self.no_model_reason = reason
        logger.error("model server %s: %s; the running model stays", self.url, reason)
        return False, None

    async def _is_new_model(self, partial: Path, current: Path | None,
                            etag: str | None) -> bool:
        """Whether the downloaded ``partial`` is a model of this version other than the
        running one (``current``); the same bytes under a new ETag take that ETag.

        The files are read in a worker thread: a large model would otherwise hold
        up every request meanwhile.
        """
        from dialogflowlite.artifact import READABLE_FORMATS, read_manifest

        loop = asyncio.get_running_loop()
        if current is not None and current.is_file() and \
                await loop.run_in_executor(None, file_digest, partial) == \
                await loop.run_in_executor(None, file_digest, current):
            self.etag = etag
            self.no_model_reason = "it sent the model already served"
            return False
        # the manifest says whether it is a model of this version (reading it unpacks
        # nothing; loading checks the rest)
        manifest = await loop.run_in_executor(None, read_manifest, partial)
        if manifest is None or manifest.format not in READABLE_FORMATS:
            found = ("no model file" if manifest is None
                     else f"a model of format {manifest.format}, not "
                          f"{' or '.join(map(str, READABLE_FORMATS))}")
            self._no_model(f"it sent no usable model ({found})")
            return False
        return True

    def prune(self, current: Path | None) -> list[Path]:
        """Delete pulled model files beyond the newest :attr:`keep` (never ``current``)."""
        from dialogflowlite.artifact import MODEL_SUFFIX

        pulled = sorted(self.folder.glob(f"{PULLED_PREFIX}-*{MODEL_SUFFIX}"),
                        key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
        removed = [p for p in pulled[self.keep:] if current is None or p != current]
        for path in removed:
            path.unlink(missing_ok=True)
        return removed


def share_pulls(app: Sanic, server: ModelServer) -> ModelServer:
    """``server``, sharing its pulls with the other workers of ``app``'s server (if any)."""
    shared = getattr(app.ctx, "shared_model", None)
    server.run_id = shared.run_id if shared is not None else None
    server.serving = lambda: getattr(app.ctx, "model_file", None)
    if shared is not None:
        server.untold_choices = lambda: shared.untold_choices
        server.known_choice = lambda: shared.seen
        server.newest_choice = shared.newest_number
    return server


def pull_later(app: Sanic, server: ModelServer) -> None:
    """From now on pull from ``server`` (its first pull after ``wait_time_between_pulls``)
    instead of any model server pulled from before; with no wait time, pull no more."""
    previous = getattr(app.ctx, "model_pulling", None)
    if previous is not None and not previous.done():
        previous.cancel()
    app.ctx.model_pulling = None
    if not server.wait_time_between_pulls:
        return

    async def wait_then_pull() -> None:
        await asyncio.sleep(server.wait_time_between_pulls or 0)
        await keep_pulling(app, server)

    app.ctx.model_pulling = asyncio.get_running_loop().create_task(wait_then_pull())


async def keep_pulling(app: Sanic, server: ModelServer) -> None:
    """Pull every ``wait_time_between_pulls`` seconds, switching to each new model.

    Under ``--workers`` each pull first follows the model choices the workers
    recorded (the newest one may name another model server, which replaces
    this pulling); a model this worker pulls is recorded as the newest choice,
    and one another worker pulled is loaded by following the recorded choices.
    """
    from dialogflowlite.server.models import choice_mark, follow_shared_choice, swap_model

    share_pulls(app, server)
    while True:
        try:
            await follow_shared_choice(app)
            # a PUT or DELETE /model made while the pulled model downloads or loads wins
            since = choice_mark(app)

            async def switch(pulled: Path, since: Any = since) -> None:
                await swap_model(app, str(pulled), since=since)

            await server.pull(getattr(app.ctx, "model_file", None), switch=switch)
            if server.taken_from_another_worker:
                # recorded by the worker that pulled it, in its place among the choices
                await follow_shared_choice(app)
            else:
                server.prune(getattr(app.ctx, "model_file", None))
        except Exception as e:  # a bad pull never stops the server or the next pull
            # (a model that does not load was deleted; its ETag is kept: the same model
            # is not downloaded again)
            logger.error("pulling a model from %s failed: %s", server.url, e)
        if not server.wait_time_between_pulls:
            return
        await asyncio.sleep(server.wait_time_between_pulls)
