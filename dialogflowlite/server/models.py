"""Which model the server runs, loading it with the configured stores, and replacing it.

``PUT /model``, ``DELETE /model`` and the pulls of a model server change the
model of the process that does them. With ``run --workers N`` that is one of
N processes: it records its choice in ``models/.served.json``, and every
other worker, before it answers its next request, switches to the same model
(:class:`SharedModelChoice`), so that an answer never depends on the worker
that gives it.

The choices are numbered in the order they are recorded (a model is recorded
once it is loaded), and the newest one is what every worker serves, whatever
its source: a model another worker pulled is loaded by following that
record too (see :mod:`dialogflowlite.server.model_server`), never past a
``PUT`` or ``DELETE /model`` recorded after it, nor past one recorded while
the pulled model downloaded or loaded (:func:`choice_mark`). A ``PUT`` or
``DELETE /model`` also gets a ticket as it arrives (:func:`choice_ticket`),
which its record keeps: when a change with a later ticket was recorded
first, it changes nothing (409), so of two changes the later one is served,
whichever loads faster. Only recorded changes count, so a change that fails
costs nothing, and a pull, which has no ticket, never refuses a change. A
``PUT`` or ``DELETE /model`` whose choice cannot be recorded (the record's
lock or file cannot be had) is made in no worker (503); a pull that cannot
be recorded is served by its worker, and the others take it from the pull
record (see :mod:`dialogflowlite.server.model_server`).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import ModelLoadError
from dialogflowlite.server.left_files import delete_left_files

if TYPE_CHECKING:
    from collections.abc import Callable

    from dialogflowlite.agent import Agent
    from dialogflowlite.server.app import ServerConfig

logger = logging.getLogger(__name__)

#: (inode, size, modification time, change time) of a model file
FileSignature = tuple[int, int, int, int]


def resolve_model_path(config: ServerConfig, requested: str | None = None) -> Path:
    """``requested`` (or ``--model``), relative to the project; else the newest under models/.

    A path without a model is named in full, with what is wrong with it, by
    :func:`dialogflowlite.agent.resolve_model_path`.
    """
    from dialogflowlite.agent import missing_model_error
    from dialogflowlite.agent import resolve_model_path as resolve_given
    from dialogflowlite.artifact import latest_model

    project = config.project_dir
    wanted = requested or config.model_path
    if wanted:
        path = Path(wanted).expanduser()
        if not path.is_absolute():
            path = project / path if (project / path).exists() else path.resolve()
        resolved = resolve_given(path)
        return _prefer_whole_model(path, resolved) if resolved != path else resolved
    if not project.is_dir():
        raise ModelLoadError(f"the project folder {project} does not exist",
                             hint="pass the folder of an existing project with --project")
    newest = latest_model(project / "models")
    if newest is None:
        raise missing_model_error(project / "models", under=True)
    return _prefer_whole_model(project / "models", newest)


#: (served, skipped) model pairs already explained in the log
_told: set[tuple[Path, Path]] = set()


def _prefer_whole_model(folder: Path, newest: Path) -> Path:
    """``newest``, unless it cannot hold conversations and an older model in ``folder`` can.

    `train nlu` (or `data split nlu` and `train nlu --nlu ...`) writes a model
    without dialogue policies; serving it would answer nothing, so the newest
    whole model is served, and the log says so. `--model` serves any model.
    """
    from dialogflowlite.artifact import latest_model_with, read_manifest

    manifest = read_manifest(newest)
    if manifest is None or manifest.sections.get("core"):
        return newest
    whole = latest_model_with(folder, "core")
    if whole is None:
        return newest
    if (whole, newest) in _told:  # `run` resolves the model twice: say it once
        return whole
    _told.add((whole, newest))
    parts = ", ".join(sorted(k for k, v in manifest.sections.items() if v)) or "nothing"
    logger.warning("serving %s, the newest model that holds conversations: %s is newer but "
                   "has only %s (pass --model %s to serve it)", whole.name, newest.name, parts,
                   _as_typed(newest))
    return whole


def _as_typed(path: Path) -> str:
    """``path`` as ``--model`` takes it from the working folder (the file's name alone
    names no model: it lies in ``models/``)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def load_server_agent(config: ServerConfig, model_file: Path | None = None,
                      stores: tuple[Any, Any, Any] | None = None) -> tuple[Agent, Path]:
    """Load the model with the stores endpoints.yml configures (or the ones given).

    ``stores`` is (tracker store, lock store, event broker or None).
    """
    from dialogflowlite.agent import Agent
    from dialogflowlite.stores.factory import create_lock_store, create_tracker_store

    model_file = model_file or resolve_model_path(config)
    if config.torch_threads:
        import torch

        torch.set_num_threads(config.torch_threads)
    endpoints = config.read_endpoints()
    if stores is None:
        from dialogflowlite.brokers.base import create_event_broker

        tracker_store = create_tracker_store(endpoints.get("tracker_store"),
                                             project=config.project_dir,
                                             default_sqlite=config.tracker_db)
        lock_store = create_lock_store(endpoints.get("lock_store"), project=config.project_dir,
                                       tracker_store=tracker_store, workers=config.workers)
        event_broker = create_event_broker(endpoints.get("event_broker"),
                                           project=config.project_dir)
    else:
        tracker_store, lock_store, event_broker = stores
    agent = Agent.load(model_file, tracker_store=tracker_store, lock_store=lock_store,
                       endpoints=endpoints, quantize=config.quantize, event_broker=event_broker)
    agent.warn_about_unreachable_actions()
    agent.warn_about_missing_nlu()
    warm_up(agent)
    return agent, model_file


#: parsed once after loading: one message alone and a padded batch of two
WARM_UP_TEXTS = ("hello", "hello there, how are you?")


def warm_up(agent: Any) -> None:
    """Parse a few throwaway messages so the first real ones do not pay one-time costs.

    The NLU encoder is traced on first use (once alone, once in a padded batch)
    and PyTorch sizes its buffers; done while loading, that happens before
    the server answers (or, for ``PUT /model``, while the old model still
    does). Nothing is stored: parsing touches no conversation.
    """
    if agent.nlu is None:
        return
    try:
        agent.nlu.parse_batch([WARM_UP_TEXTS[0]])
        agent.nlu.parse_batch(list(WARM_UP_TEXTS))
    except Exception as e:  # a real message would fail the same way, with its own error
        logger.warning("warming up the NLU model failed: %s", e)


async def close_stores(agent: Any) -> None:
    """Close the agent's tracker and lock stores and event broker, if they hold connections."""
    await close_store_objects(stores_of(agent))


def stores_of(agent: Any) -> tuple[Any, Any, Any]:
    """(tracker store, lock store, event broker) of ``agent``."""
    return (getattr(agent, "tracker_store", None), getattr(agent, "lock_store", None),
            getattr(agent, "event_broker", None))


async def close_store_objects(stores: tuple[Any, Any, Any]) -> None:
    """Close a (tracker store, lock store, event broker) triple, skipping what is None."""
    for store in stores:
        # a broker first publishes what is still queued
        close = getattr(store, "shutdown", None) or getattr(store, "close", None)
        if close is None:
            continue
        try:
            result = close()
            if inspect.isawaitable(result):
                await result
        except Exception as e:  # closing must not keep the server from stopping
            logger.warning("closing %s failed: %s", type(store).__name__, e)


def retire_agent(app: Any, agent: Any) -> None:
    """Remember ``agent``, just swapped out, so that the server's stop also closes its
    reminders (they would otherwise fire into closed stores).

    Held weakly: an agent without pending reminders is freed as before; one
    with them is kept alive by their timers until they fire or are closed.
    """
    processor = getattr(agent, "processor", None)
    retired = getattr(app.ctx, "retired_processors", None)
    if processor is not None and retired is not None:
        retired.add(processor)


def model_fingerprints(agent: Any) -> dict[str, str]:
    """Component key -> fingerprint, from the manifest of the model ``agent`` was loaded
    from (``GET /status``): the model served, also when its file was replaced since."""
    archive = getattr(agent, "archive", None)
    if archive is None:
        return {}
    return {c.key: c.fingerprint for c in archive.manifest.components}


#: what the model choices were when a pull began: (changes in this worker, number of the
#: newest recorded choice it knew), see :func:`choice_mark`
ChoiceMark = tuple[int, int]


def choice_mark(app: Any) -> ChoiceMark:
    """Where the model choices stand now, for a model pull about to begin.

    :func:`swap_model` given it drops the model it loaded when a choice was
    made since (a ``PUT`` or ``DELETE /model`` of this worker or another one,
    recorded while the pull downloaded or loaded its model): the newer choice
    wins, though the pull publishes later.

    Take it right after :func:`follow_shared_choice`: this worker has then
    followed every choice recorded so far, so its ``seen`` is the newest
    number, and only a choice recorded after the mark is newer than it (a
    choice followed meanwhile is one of those, as it counts as a change here).
    A ``PUT`` or ``DELETE /model`` that has arrived but is not recorded yet
    does not drop the pull, as in a single worker: it may still fail, and
    when it does not, it is recorded after the pull and replaces it.
    """
    shared = getattr(app.ctx, "shared_model", None)
    return getattr(app.ctx, "model_changes", 0), shared.seen if shared is not None else 0


async def choice_ticket(app: Any) -> int | None:
    """The ticket of a ``PUT`` or ``DELETE /model`` arriving now, taken before it loads
    or downloads anything (the HTTP routes take it in a request hook, before the
    request waits for its worker's first load or for it to follow another worker).

    Given to :func:`swap_model` or :func:`unload_model`, it orders the changes
    as they arrived, in this worker and (under ``--workers``) in all of them:
    a change that finishes after a later one was served changes nothing and
    raises a 409 :class:`~dialogflowlite.errors.ApiError`, so the last choice
    made is the one served, whichever model loads faster. A model pull has no
    ticket: it never refuses a change. None under ``--workers`` when the
    ticket cannot be kept: the change is then ordered as it finishes.
    """
    shared = getattr(app.ctx, "shared_model", None)
    if shared is not None:
        return await shared.reserve()
    app.ctx.choice_tickets = getattr(app.ctx, "choice_tickets", 0) + 1
    return app.ctx.choice_tickets


async def swap_model(app: Any, requested: str, *, model_server: dict[str, Any] | None = None,
                     announce: bool = True, since: ChoiceMark | None = None,
                     ticket: int | None = None) -> Path | None:
    """Load ``requested`` next to the running model, then switch to it (``PUT /model``).

    Loading happens in a worker thread while the old model keeps answering;
    the switch is one assignment, so every message runs on exactly one of the
    two. The new agent reuses the stores of the old one (same conversations,
    same connections; after ``DELETE /model``, those of the unloaded one),
    and nothing keeps the old agent alive afterwards but its reminders not
    yet due: they still fire on it, as Rasa's scheduled jobs keep the
    processor that scheduled them, and the server's stop cancels them (see
    :func:`retire_agent`).

    Under ``--workers``, the other workers follow (unless ``announce`` is
    False: this worker follows another's choice); ``model_server`` is the
    model server the choice came from, which they then pull from too. A
    change (no ``since``) whose choice cannot be recorded for them is made in
    no worker: a 503 :class:`~dialogflowlite.errors.ApiError` says why. A
    cancel (a client that hung up) while the record's lock is busy changes
    nothing either.

    ``since`` (a :func:`choice_mark` taken when a model pull began): when a
    model choice was made since, the loaded model is dropped, nothing
    changes and None is returned.

    ``ticket`` (a :func:`choice_ticket` taken as the ``PUT`` arrived): when a
    change that arrived later is served already, the loaded model is dropped
    and a 409 :class:`~dialogflowlite.errors.ApiError` raised.
    """
    async with app.ctx.model_swap_lock:
        return await _swap_holding_lock(app, requested, model_server, announce, since,
                                        ticket)


async def _swap_holding_lock(app: Any, requested: str, model_server: dict[str, Any] | None,
                             announce: bool, since: ChoiceMark | None = None,
                             ticket: int | None = None) -> Path | None:
    config = app.ctx.config
    model_file = resolve_model_path(config, requested)
    old = app.ctx.agent
    stores = stores_of(old) if old is not None else getattr(app.ctx, "unloaded_stores", None)
    del old  # nothing here keeps the replaced model alive
    started = time.perf_counter()
    # taken before the load: a file put over the path meanwhile is one not served here
    signature = file_signature(model_file)
    agent, model_file = await asyncio.get_running_loop().run_in_executor(
        None, load_server_agent, config, model_file, stores)

    def install() -> None:
        _install(app, agent, model_file, signature, started)

    if since is None:  # a PUT /model, or (announce False) a switch to another's choice
        await _serve_in_turn(app, ticket, install, model_file, model_server,
                             announce=announce)
        return model_file
    if getattr(app.ctx, "model_changes", 0) != since[0]:
        return _drop(model_file)
    shared = getattr(app.ctx, "shared_model", None)
    if shared is None or not announce:
        install()
        return model_file

    def no_newer_choice(record: dict[str, Any] | None) -> bool:
        return shared.newest_number(record) <= since[1]

    installed = await _change_and_record(
        shared, still_wanted=no_newer_choice, change=install,
        changed=lambda: app.ctx.agent is agent, model_file=model_file,
        model_server=model_server)
    return model_file if installed else _drop(model_file)


async def _serve_in_turn(app: Any, ticket: int | None, install: Callable[[], None],
                         model_file: Path | None,
                         model_server: dict[str, Any] | None, *, announce: bool) -> None:
    """Make the change numbered ``ticket`` (``install()``, holding the swap lock) and
    record it, unless a change that arrived after it is served already: then raise 409.
    ``ticket`` None: a change that got none, made as it finishes.

    Under ``--workers`` (``announce``), the other workers make the change too, or
    none does: a choice that cannot be recorded is a 503 (:func:`_record_then_change`).
    """

    def make() -> None:
        install()
        if ticket is not None:
            app.ctx.served_ticket = ticket

    def in_turn(record: dict[str, Any] | None) -> bool:
        if ticket is not None:  # (no record: none could be read, or one worker alone)
            _refuse_if_overtaken(app, ticket, 0 if record is None
                                 else shared.newest_ticket(record))
        return True

    shared = getattr(app.ctx, "shared_model", None) if announce else None
    if shared is None:
        in_turn(None)
        make()
        return
    await _record_then_change(shared, still_wanted=in_turn, change=make,
                              model_file=model_file, model_server=model_server,
                              ticket=ticket)


async def _record_then_change(shared: SharedModelChoice, *,
                              still_wanted: Callable[[dict[str, Any] | None], bool],
                              change: Callable[[], None], model_file: Path | None,
                              model_server: dict[str, Any] | None,
                              ticket: int | None) -> None:
    """Record a ``PUT`` or ``DELETE /model`` as the newest choice, then make the
    ``change`` (holding the swap lock), if ``still_wanted`` (which may raise instead).

    As in :func:`_change_and_record`, the record is read once under its lock
    and the change made under it with no await in between; but the record is
    written first, so that when its lock or file cannot be had no worker
    changes its model: a 503 says why and what to do (the change made here
    alone would split the workers until the next choice). ``still_wanted`` is
    asked first (with None when the lock cannot be had): a change that is a
    409 anyway says so.
    """
    from dialogflowlite.server.process_lock import process_lock

    recorded = False
    try:
        async with process_lock(shared.folder / SHARED_CHOICE_LOCK):
            record = shared.recorded()
            if not still_wanted(record):
                return
            shared.record_choice(model_file, model_server, ticket, record=record)
            recorded = True
            change()
    except OSError as e:
        if recorded:  # the change itself failed: not a matter of the record
            raise
        still_wanted(None)
        raise unrecorded_change_error(shared, e) from e


def unrecorded_change_error(shared: SharedModelChoice, error: OSError) -> Exception:
    """The 503 of a ``PUT`` or ``DELETE /model`` that changed nothing, in any worker,
    because its choice could not be recorded for the other workers (``error``); the
    server's error handler logs it, with what to do, as an error."""
    from dialogflowlite.errors import ApiError

    folder = shared.folder
    return ApiError(503, "ServiceUnavailable",
                    f"no worker changed its model: the change cannot be recorded for the "
                    f"other workers in {folder.name}/{SHARED_CHOICE_FILE} ({error}); make "
                    f"the {folder.name} folder writable by the server (free disk space; "
                    f"raise the open-file limit if it says 'Too many open files'), then "
                    f"send the request again")


async def _change_and_record(shared: SharedModelChoice, *,
                             still_wanted: Callable[[dict[str, Any] | None], bool],
                             change: Callable[[], None], changed: Callable[[], bool],
                             model_file: Path | None, model_server: dict[str, Any] | None,
                             ticket: int | None = None) -> bool:
    """Make a model pull's ``change`` (holding the swap lock) and record it as the newest
    choice, if ``still_wanted`` (which may raise instead); whether the change was made.

    ``still_wanted`` gets the record as read once, under the record's lock, and
    the change is made and recorded under that lock, with no await in between:
    no other worker's choice lands between the check and the record, and a
    cancel cannot leave the change made here and not recorded. When the lock
    cannot be had, the change is made in this worker only (``changed()``: it was
    made before the error), as when the record cannot be written, and
    ``still_wanted`` gets None: only what this worker knows counts (the pull's
    record then tells the other workers, see
    :class:`~dialogflowlite.server.model_server.ModelServer`).
    """
    from dialogflowlite.server.process_lock import process_lock

    try:
        async with process_lock(shared.folder / SHARED_CHOICE_LOCK):
            record = shared.recorded()
            if not still_wanted(record):
                return False
            change()
            shared.write(model_file, model_server, ticket=ticket, record=record)
        return True
    except OSError as e:  # no lock to be had: made here only, as a record that fails
        shared.not_told(e)
    if not changed():
        if not still_wanted(None):
            return False
        change()
    return True


def _refuse_if_overtaken(app: Any, ticket: int, recorded: int) -> None:
    """Raise 409 when a change with a ticket above ``ticket`` is served (``recorded``:
    the highest ticket the workers recorded)."""
    from dialogflowlite.errors import ApiError

    if max(getattr(app.ctx, "served_ticket", 0), recorded) > ticket:
        raise ApiError(409, "Conflict",
                       "a model change (PUT or DELETE /model) that arrived after this one "
                       "was made while this one loaded, and is what the server serves; "
                       "this request changed nothing")


def _drop(model_file: Path) -> None:
    # the loaded agent shares the running model's stores: they stay open; nothing else
    # holds it, so it is freed
    logger.info("model %s was pulled, but a newer model choice was made while it loaded; "
                "it is not served", model_file.name)
    return None


def _install(app: Any, agent: Any, model_file: Path, signature: FileSignature | None,
             started: float) -> None:
    """Serve ``agent`` in place of the running model (holding the swap lock)."""
    old = app.ctx.agent
    seconds = serve_agent(app, agent, model_file, signature, started)
    app.ctx.unloaded_stores = None
    logger.info("switched to model %s (loaded in %.2f s)", model_file.name, seconds)
    if old is not None:
        retire_agent(app, old)


def serve_agent(app: Any, agent: Any, model_file: Path, signature: FileSignature | None,
                started: float) -> float:
    """Answer with ``agent``, loaded from ``model_file`` since ``started`` (a
    ``time.perf_counter()``), and count the load in the metrics; the seconds it took.

    ``signature``: :func:`file_signature` of ``model_file`` taken before the load
    began, so a file written over the path during the load counts as another one.
    """
    app.ctx.agent = agent
    app.ctx.model_file = model_file
    app.ctx.model_file_signature = signature
    app.ctx.model_changes = getattr(app.ctx, "model_changes", 0) + 1
    seconds = time.perf_counter() - started
    app.ctx.metrics.model_load_seconds.set(seconds)
    app.ctx.metrics.model_loads.inc()
    return seconds


async def unload_model(app: Any, *, announce: bool = True, ticket: int | None = None) -> None:
    """Serve no model (``DELETE /model``): later requests get 409, as in Rasa.

    Turns already running finish on the model they began with (they hold
    its agent). The stores stay open for the next ``PUT /model`` and close
    at the server's stop; the unloaded agent's pending reminders are
    cancelled then too (see :func:`retire_agent`).

    ``ticket``: as for :func:`swap_model`, a 409 when a change that arrived
    later is served already, and a 503 when, under ``--workers``, the choice
    cannot be recorded for the other workers.
    """
    async with app.ctx.model_swap_lock:
        await _serve_in_turn(app, ticket, lambda: _unload_holding_lock(app), None, None,
                             announce=announce)


def _unload_holding_lock(app: Any) -> None:
    old = app.ctx.agent
    if old is not None:
        app.ctx.unloaded_stores = stores_of(old)
        retire_agent(app, old)
        logger.info("unloaded model %s", getattr(app.ctx.model_file, "name", "?"))
    app.ctx.agent = None
    app.ctx.model_file = None
    app.ctx.model_changes = getattr(app.ctx, "model_changes", 0) + 1


# ---------------------------------------------------------------------------
# one model for all the workers of a server
# ---------------------------------------------------------------------------

#: in ``models/``: the latest model choice of any worker, and the lock its writers hold
SHARED_CHOICE_FILE = ".served.json"
SHARED_CHOICE_LOCK = ".served.lock"
#: in ``models/``: the highest ticket handed to a ``PUT`` or ``DELETE /model`` as it arrived
SHARED_TICKET_FILE = ".served.tickets.json"
#: the temporary file a process writes before renaming it over one of those two:
#: ``<name>.<process id>``
_LEFT_WRITE = re.compile(r"\.served(?:\.tickets)?\.json\.([0-9]+)")
#: seconds after which a temporary file is taken as left, even when a process of its id
#: runs (ids are reused); a write takes a moment
LEFT_WRITE_AGE = 3600.0
#: the record argument left out: the record is read from the file
_READ_NOW: Any = object()


@dataclass
class SharedModelChoice:
    """The model that all the workers of one server serve (``run --workers N``).

    A worker that replaces or unloads its model (``PUT /model``, ``DELETE
    /model``, a pull from a model server) records the choice
    (:meth:`record_choice`), numbered, in ``models/.served.json``; before each request the
    others look at that file (one ``stat`` while nothing changed) and switch
    to a choice newer than their own (:func:`follow_shared_choice`), as do
    their model pulls (``GET /health`` only starts the switch,
    :func:`start_following`). The numbers order all the choices
    of all the workers: the file holds only the newest, which wins, and the
    highest ticket of a ``PUT`` or ``DELETE /model`` recorded so far
    (:func:`choice_ticket`), which orders those changes only. A record
    of an earlier server (another ``run`` id) is ignored, so a restart serves
    the model it is started with.
    """

    folder: Path
    run_id: str
    #: the number of the last choice this worker made or followed
    seen: int = 0
    #: how many of this worker's choices did not reach the record (the other workers
    #: were not told of them, see :meth:`not_told`); a caller compares it before and
    #: after a change to learn whether that change was told
    untold_choices: int = 0
    #: the file's (inode, mtime, size) when last read: unchanged means nothing new
    _read_as: tuple[int, int, int] | None = None
    #: the switch to another worker's choice in progress, which requests wait for
    following: asyncio.Task | None = field(default=None, repr=False)
    #: the choice :attr:`following` switches to
    following_choice: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def path(self) -> Path:
        return self.folder / SHARED_CHOICE_FILE

    async def reserve(self) -> int | None:
        """The ticket of a ``PUT`` or ``DELETE /model`` arriving now: higher than every
        ticket handed out so far, in any worker; None when it cannot be kept (the
        choice is then recorded as it is made).

        A ticket only orders the changes among themselves (:meth:`newest_ticket`):
        one handed to a change that then fails changes nothing.
        """
        from dialogflowlite.server.process_lock import process_lock

        try:
            async with process_lock(self.folder / SHARED_CHOICE_LOCK):
                remove_left_record_writes(self.folder)
                ticket = max(self.newest_ticket(self.recorded()), self.reserved()) + 1
                self._write_json(self.folder / SHARED_TICKET_FILE,
                                 {"run": self.run_id, "reserved": ticket})
        except OSError as e:
            logger.warning("a model change cannot be numbered as it arrives, so a slower "
                           "earlier one may still replace it: writing %s failed: %s",
                           self.folder / SHARED_TICKET_FILE, e)
            return None
        return ticket

    def reserved(self) -> int:
        """The highest number :meth:`reserve` handed out in this server's run (0: none)."""
        try:
            data = json.loads((self.folder / SHARED_TICKET_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return 0
        if not isinstance(data, dict) or data.get("run") != self.run_id \
                or not isinstance(data.get("reserved"), int):
            return 0
        return data["reserved"]

    async def publish(self, model_file: Path | None,
                      model_server: dict[str, Any] | None) -> None:
        """Record this worker's choice (``None``: no model) as the newest one, taking the
        record's lock; logged (:meth:`not_told`) when it cannot be recorded."""
        from dialogflowlite.server.process_lock import process_lock

        try:
            async with process_lock(self.folder / SHARED_CHOICE_LOCK):
                self.write(model_file, model_server, record=self.recorded())
        except OSError as e:
            self.not_told(e)

    def write(self, model_file: Path | None, model_server: dict[str, Any] | None,
              ticket: int | None = None, *, record: dict[str, Any] | None) -> None:
        """Record this worker's choice (``model_file`` None: no model) as the newest one,
        for a caller holding the record's lock, who read ``record`` (:meth:`recorded`)
        under it; ``ticket``: the one :meth:`reserve` gave a ``PUT`` or ``DELETE
        /model`` (None: a pull, or a change that got no ticket, which keep the recorded
        one). A record that cannot be written is logged (:meth:`not_told`)."""
        try:
            self.record_choice(model_file, model_server, ticket, record=record)
        except OSError as e:
            self.not_told(e)

    def record_choice(self, model_file: Path | None, model_server: dict[str, Any] | None,
                      ticket: int | None = None, *, record: dict[str, Any] | None) -> None:
        """:meth:`write`, raising the ``OSError`` when the record cannot be written (the
        record is then as it was)."""
        remove_left_record_writes(self.folder)
        number = self.newest_number(record) + 1
        if ticket is None:
            ticket = self.newest_ticket(record)
        data = {"run": self.run_id, "number": number, "ticket": ticket,
                "model_file": str(model_file) if model_file is not None else None,
                "model_server": model_server}
        self._write_json(self.path, data)
        self.seen = number
        self._read_as = self._signature()

    @staticmethod
    def _write_json(path: Path, data: dict[str, Any]) -> None:
        partial = path.with_name(f"{path.name}.{os.getpid()}")
        # owner-only: a model server's headers may hold its access token
        handle = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(data, out)
            os.replace(partial, path)  # readers never see half a file
        except BaseException:
            partial.unlink(missing_ok=True)  # a full disk must not keep half a record
            raise

    def not_told(self, e: OSError) -> None:
        """Log that the other workers keep their model, as writing the record failed."""
        self.untold_choices += 1
        logger.error("the other workers cannot be told of the model change, they keep "
                     "their model: writing %s failed: %s", self.path, e)

    def recorded(self) -> dict[str, Any] | None:
        """The record as the file holds it now, or None, for a caller holding the record's
        lock: read once per change, and given to :meth:`newest_number`,
        :meth:`newest_ticket` and :meth:`write` (the file's signature is not taken:
        :meth:`newer` still sees a choice read here)."""
        return self._read()

    def newest_number(self, record: dict[str, Any] | None = _READ_NOW) -> int:
        """The number of the newest choice recorded (in ``record``, from :meth:`recorded`;
        by default the file is read) or made or followed by this worker since."""
        if record is _READ_NOW:
            record = self._read()
        return max(self.seen, record["number"] if record else 0)

    def newest_ticket(self, record: dict[str, Any] | None = _READ_NOW) -> int:
        """The highest ticket of a ``PUT`` or ``DELETE /model`` recorded so far (in
        ``record``, from :meth:`recorded`; by default the file is read), 0: none."""
        if record is _READ_NOW:
            record = self._read()
        ticket = record.get("ticket") if record else None
        return ticket if isinstance(ticket, int) else 0

    def newer(self) -> dict[str, Any] | None:
        """Another worker's choice made since this worker's last one, or None."""
        signature = self._signature()
        if signature is None or signature == self._read_as:
            return None
        self._read_as = signature
        record = self._read()
        if record is None or record.get("number", 0) <= self.seen:
            return None
        return record

    def latest(self) -> dict[str, Any] | None:
        """The newest choice of this server's run as the file holds it now, or None."""
        self._read_as = self._signature()
        return self._read()

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_ino, stat.st_mtime_ns, stat.st_size

    def _read(self) -> dict[str, Any] | None:
        """The record of this server's run, or None (missing, unreadable, another run's)."""
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("run") != self.run_id \
                or not isinstance(record.get("number"), int):
            return None
        return record


def remove_left_record_writes(folder: Path) -> list[Path]:
    """Delete the temporary files of the choice record and its tickets
    (``.served.json.<process id>``, see :meth:`SharedModelChoice._write_json`) that a
    process killed while it wrote one left; the files deleted.

    Called holding the record's lock, which every such write holds. Even so
    (the lock is not kept where the platform has no POSIX file locks) only a
    file whose process no longer runs, or older than :data:`LEFT_WRITE_AGE`,
    is deleted: never one a live worker is writing.
    """
    left = [path for path in folder.glob(".served*.json.*")
            if (written_by := _LEFT_WRITE.fullmatch(path.name)) is not None
            and _left(path, int(written_by.group(1)))]
    return delete_left_files(left, "processes that stopped while they wrote the model choice")


def _left(path: Path, pid: int) -> bool:
    """Whether the temporary file ``path`` of process ``pid`` is no longer being written."""
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:  # gone meanwhile
        return False
    return age > LEFT_WRITE_AGE or not _process_runs(pid)


def _process_runs(pid: int) -> bool:
    """Whether a process with id ``pid`` runs on this machine (True when that cannot be
    told)."""
    if pid <= 0:  # no process has such an id
        return False
    if os.name != "posix":  # there, os.kill would end the process, not ask about it
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: it runs
        return True
    return True


async def follow_shared_choice(app: Any) -> None:
    """Before a request (and a model pull): switch to the model another worker chose
    since, if any.

    The request (and all others arriving meanwhile) waits for the switch, so
    that no answer comes from the model another worker replaced. A model
    that fails to load is logged and this worker keeps its own.

    A choice recorded while the switch ran (one ``GET /health`` began, say)
    is followed too: on return this worker has caught up with every choice
    recorded before the call, which :func:`choice_mark` relies on.
    """
    shared = getattr(app.ctx, "shared_model", None)
    while shared is not None:
        start_following(app)
        following = shared.following
        if following is None or following.done():  # nothing (more) to follow
            return
        # not shield(): a switch that failed is logged once (_log_follow_failure), not
        # raised into every request that waited for it; a cancelled request leaves it be
        await asyncio.wait({following})


def start_following(app: Any) -> dict[str, Any] | None:
    """Begin switching to the model another worker chose since, if any, without waiting
    for it; the choice being followed (``model_file`` None: no model), or None.

    ``GET /health`` answers with this: a probe never waits for a model to load.
    """
    shared = getattr(app.ctx, "shared_model", None)
    if shared is None:
        return None
    if shared.following is None or shared.following.done():
        record = shared.newer()
        if record is None:
            return None
        shared.following = asyncio.get_running_loop().create_task(_follow(app, record))
        shared.following.add_done_callback(_log_follow_failure)
        shared.following_choice = record
    return shared.following_choice


def _log_follow_failure(following: asyncio.Task) -> None:
    """Log a switch to another worker's choice that failed unexpectedly (a model that
    does not load is logged by :func:`_follow` itself), once, whoever waited for it."""
    if following.cancelled():
        return
    error = following.exception()  # retrieved here: asyncio does not warn of it later
    if error is not None:
        logger.error("following the model choice of another worker failed; this worker "
                     "keeps the model it has", exc_info=error)


def file_signature(path: Path) -> FileSignature | None:
    """(inode, size, modification time, change time) of the file at ``path``; None when
    it cannot be read: another file written or moved to the same path has another one
    (the change time too when a copy puts the old modification time back)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


def _serves(app: Any, wanted: str) -> bool:
    """Whether ``wanted`` is the model file this worker already serves: the same path,
    still holding the file that was loaded (not one written over it since)."""
    current = getattr(app.ctx, "model_file", None)
    if current is None or getattr(app.ctx, "agent", None) is None:
        return False
    try:
        path = resolve_model_path(app.ctx.config, wanted)
    except ModelLoadError:  # loading it names what is wrong
        return False
    return path.resolve() == Path(current).resolve() and \
        file_signature(path) == getattr(app.ctx, "model_file_signature", None)


async def _follow(app: Any, record: dict[str, Any]) -> None:
    shared: SharedModelChoice = app.ctx.shared_model
    async with app.ctx.model_swap_lock:
        # choices made while waiting for the lock: only the newest is loaded
        newest = shared.latest()
        if newest is not None and newest["number"] > record["number"]:
            record = newest
        # a choice this worker made while waiting for the lock is newer: it stays
        if record["number"] <= shared.seen:
            return
        shared.seen = record["number"]
        # the changes that arrived before the one recorded are overtaken, here too when
        # the record's lock cannot be had (see _refuse_if_overtaken)
        app.ctx.served_ticket = max(getattr(app.ctx, "served_ticket", 0),
                                    shared.newest_ticket(record))
        wanted = record.get("model_file")
        try:
            if wanted is None:
                _unload_holding_lock(app)
            elif _serves(app, wanted):
                # this worker got there first (e.g. took the same pull): nothing to load
                pass
            else:
                logger.info("another worker switched to model %s; switching too",
                            Path(wanted).name)
                await _swap_holding_lock(app, wanted, None, announce=False)
        except Exception as e:  # the request goes on with the model this worker has
            logger.error("another worker switched to model %s, which this worker cannot "
                         "load; it keeps model %s: %s", wanted,
                         getattr(app.ctx.model_file, "name", None), e)
            return
    section = record.get("model_server")
    if isinstance(section, dict):
        from dialogflowlite.server.model_server import ModelServer, pull_later

        try:
            server = ModelServer.from_config(section, app.ctx.config.project_dir)
        except Exception as e:  # the worker that published it had accepted it
            logger.error("the model server another worker switched to is not usable: %s", e)
            return
        if server is not None:
            pull_later(app, server)
