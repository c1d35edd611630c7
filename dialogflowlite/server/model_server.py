"""Pulling models from a model server (Rasa's endpoints.yml ``models:``).

endpoints.yml::

    models:
      url: "https://models.example.com/bot/latest.tar"
      wait_time_between_pulls: 100     # seconds; 0 or null: pull once, at start
      timeout: 60                      # seconds per download (default 60)
      keep: 3                          # pulled model files kept in models/ (default 3)
      headers: {Authorization: "Bearer ${MODEL_TOKEN}"}

The server asks ``url`` for the model with ``If-None-Match: <ETag of the
model it has>``. ``304 Not Modified`` changes nothing; ``200`` with a model
file (what ``dialogflowlite train`` writes) stores it under the project's
``models/`` and switches to it as ``PUT /model`` does: the running model
answers until the new one is loaded. A download that is not a model file, a
server that is down, or an answer other than 200 and 304 is logged and the
running model stays. A server started without a local model pulls one first.
After each switch only the newest ``keep`` pulled files stay in ``models/``
(models you trained are never deleted; a loaded model no longer needs its
file).

Workers of one server (``--workers``) share the pulls: a pull holds a lock
file in ``models/``, and a worker that finds a model another worker pulled
since its own last pull (recorded with its ETag in ``models/.pulled.json``)
switches to that file instead of downloading it again (and, already serving
it, asks with its ETag). A switch in one worker is followed by the others
before their next request in any case (see
:class:`~dialogflowlite.server.models.SharedModelChoice`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import ConfigError
from dialogflowlite.server.process_lock import process_lock

if TYPE_CHECKING:
    from sanic import Sanic

logger = logging.getLogger(__name__)

DEFAULT_WAIT = 100.0
DEFAULT_TIMEOUT = 60.0
DEFAULT_KEEP = 3
#: the file names pulled models get (``model_file_name`` with this prefix)
PULLED_PREFIX = "pulled"
#: in ``models/``: the newest pull of any worker, and the lock pulls hold
PULL_RECORD = ".pulled.json"
PULL_LOCK = ".pull.lock"


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class ModelServer:
    """Where models come from, how often to ask, and what was pulled last."""

    url: str
    folder: Path
    wait_time_between_pulls: float | None = DEFAULT_WAIT
    timeout: float = DEFAULT_TIMEOUT
    headers: dict[str, str] = field(default_factory=dict)
    keep: int = DEFAULT_KEEP
    etag: str | None = None
    #: whether the last :meth:`pull` took another worker's pull (which that worker announced)
    taken_from_another_worker: bool = False

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
        headers = section.get("headers") or {}
        if not isinstance(headers, dict):
            raise ConfigError("endpoints.yml models headers must be a mapping")
        return cls(url, project_dir / "models", wait, timeout,
                   {str(k): str(v) for k, v in headers.items()}, keep)

    async def pull(self, current: Path | None = None) -> Path | None:
        """The model file to switch to, or None (nothing new, or the pull failed).

        Another worker's recent pull is taken from ``models/`` when there is
        one; otherwise the model is downloaded if it changed. ``current`` is
        the running model's file: a download with the same bytes is not a new
        model.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        async with process_lock(self.folder / PULL_LOCK):
            shared = self._pulled_by_another_worker(current)
            self.taken_from_another_worker = shared is not None
            if shared is not None:
                return shared
            pulled = await self._download(current)
            if pulled is not None and self.etag:
                record = {"etag": self.etag, "file": pulled.name, "time": time.time()}
                (self.folder / PULL_RECORD).write_text(json.dumps(record), encoding="utf-8")
            return pulled

    def _pulled_by_another_worker(self, current: Path | None) -> Path | None:
        """The model another worker pulled since this one last asked, if its file is here."""
        try:
            record = json.loads((self.folder / PULL_RECORD).read_text(encoding="utf-8"))
            etag, name, when = str(record["etag"]), str(record["file"]), float(record["time"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        path = self.folder / name
        # only a pull within the last interval: an older one may no longer be the newest
        recent = time.time() - when < max(self.wait_time_between_pulls or 0.0, self.timeout)
        if etag == self.etag or not recent or not path.is_file():
            return None
        self.etag = etag
        if current is not None and path == current:
            # already followed: asking with its ETag gets 304, not the whole model again
            return None
        logger.info("model %s was pulled by another worker; switching to it", name)
        return path

    async def _download(self, current: Path | None) -> Path | None:
        import aiohttp

        from dialogflowlite.artifact import READABLE_FORMATS, model_file_name, read_manifest

        headers = dict(self.headers)
        if self.etag:
            headers["If-None-Match"] = self.etag
        # not a *.tar name while it downloads: nothing looking for models takes it
        partial = self.folder / f"{model_file_name(PULLED_PREFIX)}.partial"
        try:
            async with aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=self.timeout)) as session, \
                    session.get(self.url, headers=headers) as response:
                if response.status == 304:
                    return None
                if response.status != 200:
                    logger.error("model server %s answered HTTP %d; the running model stays",
                                 self.url, response.status)
                    return None
                with partial.open("wb") as out:
                    async for chunk in response.content.iter_chunked(1 << 20):
                        out.write(chunk)
                etag = response.headers.get("ETag")
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            partial.unlink(missing_ok=True)
            logger.error("model server %s cannot be reached (%s); the running model stays",
                         self.url, type(e).__name__)
            return None
        if current is not None and current.is_file() and \
                file_digest(partial) == file_digest(current):
            partial.unlink()
            self.etag = etag
            return None
        # the manifest says whether it is a model of this version (reading it unpacks
        # nothing; loading checks the rest)
        manifest = read_manifest(partial)
        if manifest is None or manifest.format not in READABLE_FORMATS:
            partial.unlink(missing_ok=True)
            found = ("no model file" if manifest is None
                     else f"a model of format {manifest.format}, not "
                          f"{' or '.join(map(str, READABLE_FORMATS))}")
            logger.error("model server %s sent no usable model (%s); the running model stays",
                         self.url, found)
            return None
        target = self.folder / model_file_name(PULLED_PREFIX)
        partial.rename(target)
        self.etag = etag
        logger.info("pulled model %s from %s", target.name, self.url)
        return target

    def prune(self, current: Path | None) -> list[Path]:
        """Delete pulled model files beyond the newest :attr:`keep` (never ``current``)."""
        from dialogflowlite.artifact import MODEL_SUFFIX

        pulled = sorted(self.folder.glob(f"{PULLED_PREFIX}-*{MODEL_SUFFIX}"),
                        key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
        removed = [p for p in pulled[self.keep:] if current is None or p != current]
        for path in removed:
            path.unlink(missing_ok=True)
        return removed


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
    """Pull every ``wait_time_between_pulls`` seconds, switching to each new model."""
    from dialogflowlite.server.models import swap_model

    while True:
        pulled = None
        try:
            pulled = await server.pull(getattr(app.ctx, "model_file", None))
            if pulled is not None:
                # the worker that pulled it told the others already: telling them again
                # would make them reload it, or undo a choice made since
                await swap_model(app, str(pulled),
                                 announce=not server.taken_from_another_worker)
                server.prune(getattr(app.ctx, "model_file", None))
        except Exception as e:  # a bad pull never stops the server or the next pull
            logger.error("pulling a model from %s failed: %s", server.url, e)
            if pulled is not None:
                # a model that does not load must not be the newest file at the next start
                # (its ETag is kept: the same model is not downloaded again)
                pulled.unlink(missing_ok=True)
        if not server.wait_time_between_pulls:
            return
        await asyncio.sleep(server.wait_time_between_pulls)
