"""Tracker stores and lock stores: where conversations live between messages.

A :class:`TrackerStore` keeps each conversation as the list of its events in
Rasa's JSON. It is append-only friendly: :meth:`TrackerStore.save` hands a
backend only the events it does not hold yet, and :meth:`TrackerStore.retrieve`
rebuilds the tracker by replaying every stored event, so the tracker that comes
back is identical to the one that was saved. A backend implements four small
coroutines (:meth:`~TrackerStore.load_events`, :meth:`~TrackerStore.append_events`,
:meth:`~TrackerStore.delete`, :meth:`~TrackerStore.keys`).

Between messages a store keeps the decoded events of recent conversations in
memory. A backend that can say cheaply whether a conversation changed (a
*version*, from :meth:`~TrackerStore.stored_version`, that changes with every
write) lets :meth:`~TrackerStore.retrieve` skip reading and decoding the whole
conversation when nothing else wrote to it since: each message then costs the
same however long the conversation is. Another process writing to the
conversation changes its version, so the next retrieve reads it from the store.
A turn reads only the latest session (:meth:`~TrackerStore.retrieve_latest_session`,
as Rasa's stores hand a turn), and only that session is kept for it in memory.

A :class:`LockStore` hands out one lock per conversation, so messages of one
sender are processed one after the other, in the order they arrived.

Stores are registered by ``type`` through the ``dfl_register_tracker_stores``
and ``dfl_register_lock_stores`` hooks; :func:`create_tracker_store` and
:func:`create_lock_store` build one from an endpoints.yml section.
"""

from __future__ import annotations

import abc
import json
import logging
import math
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from dialogflowlite.errors import ConfigError, PluginError, TrackerStoreError
from dialogflowlite.shared.events import Event
from dialogflowlite.shared.recent import RecentItems
from dialogflowlite.shared.tracker import DialogueStateTracker
from dialogflowlite.stores.stored_events import (
    latest_session_start,
    readable_events,
    reported_events,
    warn_unreadable,
)

try:
    import ujson as _ujson
except ImportError:  # pragma: no cover - ujson comes with Sanic on CPython
    _ujson = None

if TYPE_CHECKING:
    from dialogflowlite.shared.domain import Domain

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: endpoints.yml ``type`` values that mean the in-memory stores
MEMORY_TYPES = ("memory", "in_memory", "InMemoryTrackerStore", "InMemoryLockStore")

#: how many conversations with unreadable stored events a store remembers as such
_MAX_WITH_UNREADABLE = 10_000


@dataclass(frozen=True)
class StoredVersion:
    """What a write left behind: the conversation's version before and after it."""

    before: Hashable | None
    after: Hashable


@dataclass(frozen=True)
class _Recent:
    version: Hashable
    events: tuple[Event, ...]
    #: whether ``events`` are the whole conversation, or only its latest session (what
    #: :meth:`TrackerStore.retrieve_latest_session` keeps)
    whole: bool = True


class TrackerStore(abc.ABC):
    """Saves and loads conversations as their events.

    ``domain`` gives the slots (types and initial values) that rebuilt trackers
    start from; the agent sets it when it loads a model.
    """

    #: how many conversations' decoded events are kept between messages (0: none)
    recent_conversations: ClassVar[int] = 2000
    #: and how many events they hold together at most: a decoded event takes about
    #: 1 KB, so a bound on the number of conversations alone bounds no memory
    #: while conversations grow long (the oldest conversation goes first)
    recent_events: ClassVar[int] = 20_000

    def __init__(self, domain: Domain | None = None) -> None:
        if isinstance(domain, (str, PurePath)):
            # SQLiteTrackerStore("bot.db") would otherwise open the default file
            raise TypeError(f"{type(self).__name__}: the first argument is the domain, not "
                            f"{str(domain)!r}; pass a file or URL by keyword (db=..., url=...)")
        self.domain = domain
        self._recent: RecentItems[str, _Recent] = RecentItems(
            self.recent_conversations, max_weight=self.recent_events,
            weigh=lambda recent: len(recent.events))
        #: conversations whose last full read left unreadable events out: for them the
        #: store holds more events than their trackers (see _events_held_for)
        self._with_unreadable: RecentItems[str, bool] = RecentItems(_MAX_WITH_UNREADABLE)
        self._reported_unreadable = reported_events()
        #: the trackers :meth:`retrieve_latest_session` handed out, and how many of their
        #: events the store holds: not the stored count, which has the earlier sessions too
        self._session_trackers: weakref.WeakKeyDictionary[DialogueStateTracker, int] = \
            weakref.WeakKeyDictionary()

    # ------------------------------------------------------------ backend interface

    @abc.abstractmethod
    async def load_events(self, sender_id: str) -> list[dict[str, Any]] | None:
        """Every stored event of ``sender_id`` in order, or None for an unknown sender."""

    @abc.abstractmethod
    async def append_events(self, sender_id: str,
                            events: list[dict[str, Any]]) -> StoredVersion | None:
        """Add ``events`` after the stored ones (creating the conversation if needed).

        Backends with versions return the versions before (None for a new
        conversation) and after the write, read in the same transaction.
        """

    @abc.abstractmethod
    async def delete(self, sender_id: str) -> None:
        """Forget the conversation of ``sender_id`` (no error if unknown)."""

    @abc.abstractmethod
    async def keys(self) -> list[str]:
        """The ids of every stored conversation."""

    async def stored_version(self, sender_id: str) -> Hashable | None:
        """A value that changes with every write to the conversation; None when the
        sender is unknown or the backend cannot tell (then nothing is kept in memory).

        Backends that answer also return a :class:`StoredVersion` from
        :meth:`append_events` and implement :meth:`load_versioned_events`.
        """
        return None

    def remembered_version(self, sender_id: str) -> Hashable | None:
        """The version of the conversation whose events this store keeps in memory
        (None when it keeps none): a backend may write on the condition that the
        stored version is still this one, and so know the version before its write
        without reading it back."""
        recent = self._recent.get(sender_id)
        return None if recent is None else recent.version

    async def load_versioned_events(
            self, sender_id: str) -> tuple[list[dict[str, Any]] | None, Hashable | None]:
        """The stored events and the version they are at, read together."""
        return await self.load_events(sender_id), None

    async def load_versioned_session_events(
            self, sender_id: str) -> tuple[list[Any] | None, Hashable | None]:
        """The stored events from the latest ``session_started`` on (all without one)
        and the version of the conversation, read together. Backends that can skip
        the earlier events (decode only the latest session) override this."""
        events, version = await self.load_versioned_events(sender_id)
        if events is None:
            return None, None
        return events[latest_session_start(events):], version

    async def count_events(self, sender_id: str) -> int:
        """How many events are stored for ``sender_id`` (backends may answer faster)."""
        return len(await self.load_events(sender_id) or [])

    async def replace_events(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        """Store exactly ``events`` for ``sender_id``, dropping what was there."""
        await self.delete(sender_id)
        await self.append_events(sender_id, events)

    async def close(self) -> None:  # noqa: B027 - optional for backends
        """Release connections (nothing to do for stores that hold none)."""

    @classmethod
    def from_endpoint_config(cls, config: dict[str, Any],
                             domain: Domain | None = None) -> TrackerStore:
        """Build the store from its endpoints.yml section (``type`` already removed).

        Each key is a keyword argument of ``__init__``: a key it does not take, or
        one it needs and the section lacks, is a :class:`ConfigError` naming it.
        """
        from dialogflowlite.stores.factory import build_store

        return build_store(cls, config, "tracker_store", domain=domain)

    # ------------------------------------------------------------ what callers use

    def tracker_from_events(self, sender_id: str,
                            events: list[dict[str, Any]]) -> DialogueStateTracker:
        """Replay stored event JSON into a tracker with this store's domain slots.

        An event that fails the checks the HTTP API applies is left out, with a
        warning naming it (:mod:`dialogflowlite.stores.stored_events`); the store
        keeps it unchanged.
        """
        read, unreadable = readable_events(events)
        if unreadable:
            warn_unreadable(sender_id, unreadable, self._reported_unreadable)
            self._with_unreadable.put(sender_id, True)
        else:
            self._with_unreadable.pop(sender_id)
        try:
            return DialogueStateTracker(sender_id, self._slots(), read)
        except Exception as e:
            raise lasting(TrackerStoreError(
                f"conversation {sender_id!r} in {type(self).__name__} holds events that "
                f"cannot be replayed: {e}", hint="check what wrote into the tracker store")) from e

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The stored conversation rebuilt as a tracker, or None for an unknown sender."""
        recent = self._recent.get(sender_id)
        if recent is not None and recent.whole:
            # (other coroutines may change the kept entries while this one waits)
            if await self.stored_version(sender_id) == recent.version:
                return DialogueStateTracker(sender_id, self._slots(), recent.events)
            if self._recent.get(sender_id) is recent:
                self._recent.pop(sender_id)
        events, version = await self.load_versioned_events(sender_id)
        if events is None:
            return None
        tracker = self.tracker_from_events(sender_id, events)
        if version is not None:
            self._remember(sender_id, version, tuple(tracker.events))
        return tracker

    async def retrieve_latest_session(self, sender_id: str) -> DialogueStateTracker | None:
        """The conversation from its latest ``session_started`` on (all of it without
        one), or None for an unknown sender: what a turn needs, as Rasa's tracker
        stores hand it.

        Nothing before the latest session start counts for the turn (the applied
        events begin there, and the slots kept are set again after it), and its
        cost then depends on the session's length, not on every earlier session's.
        :meth:`save` then stores the events added to the tracker since (with or
        without ``new_events``).
        """
        recent = self._recent.get(sender_id)
        if recent is not None:
            if await self.stored_version(sender_id) == recent.version:
                start = latest_session_start(recent.events)
                events = recent.events[start:]
                if start and self._recent.get(sender_id) is recent:
                    # earlier sessions are kept no longer (a whole read loads them)
                    self._recent.put(sender_id, _Recent(recent.version, events, whole=False))
                return self._handed_out(DialogueStateTracker(sender_id, self._slots(), events))
            if self._recent.get(sender_id) is recent:
                self._recent.pop(sender_id)
        stored, version = await self.load_versioned_session_events(sender_id)
        if stored is None:
            return None
        tracker = self.tracker_from_events(sender_id, stored)
        if version is not None:
            # (whether earlier sessions were left out is not known here: never whole)
            self._remember(sender_id, version, tuple(tracker.events), whole=False)
        return self._handed_out(tracker)

    def _handed_out(self, tracker: DialogueStateTracker) -> DialogueStateTracker:
        self._session_trackers[tracker] = len(tracker.events)
        return tracker

    def _slots(self) -> Any:
        return self.domain.slots.values() if self.domain is not None else None

    def _remember(self, sender_id: str, version: Hashable, events: tuple[Event, ...],
                  whole: bool = True) -> None:
        self._recent.put(sender_id, _Recent(version, events, whole))

    def _remember_append(self, sender_id: str, written: Any,
                         new_events: list[dict[str, Any]]) -> None:
        """Extend the kept events by what an append wrote, if they were current."""
        recent = self._recent.pop(sender_id, None)
        if not isinstance(written, StoredVersion):
            return
        if recent is not None and recent.version == written.before:
            earlier, whole = recent.events, recent.whole
        elif written.before is None:  # the conversation started with this write
            earlier, whole = (), True
        else:
            return
        # what a reload would give: the events as stored (a data-masking plugin may have
        # changed the JSON), not the caller's objects. One that fails the checks is left
        # to the next read, which skips it with a warning, as it does for other writers.
        added, unreadable = readable_events(new_events)
        if unreadable:
            return
        events = earlier + tuple(added)
        if not whole:  # a latest session kept goes on from a new one the write started
            events = events[latest_session_start(events):]
        self._remember(sender_id, written.after, events, whole)

    async def exists(self, sender_id: str) -> bool:
        return await self.load_events(sender_id) is not None

    async def save(self, tracker: DialogueStateTracker,
                   new_events: list[dict[str, Any]] | None = None) -> None:
        """Store the events of ``tracker`` that the store does not hold yet.

        ``new_events`` gives their JSON ready-made (the processor passes it after
        plugins have seen it, e.g. to mask personal data). Without it, the events
        after the stored ones are serialised from the tracker (for one that
        :meth:`retrieve_latest_session` handed out: those added since it was read or
        last saved, as it holds no earlier session).
        """
        held = self._session_trackers.get(tracker)
        if new_events is None and held is not None:  # of the latest session only
            new_events = [event.as_dict() for event in tracker.events[held:]]
        elif new_events is None:
            stored = await self._events_held_for(tracker)
            if stored > len(tracker.events):
                raise TrackerStoreError(
                    f"the store holds {stored} events for {tracker.sender_id!r} but the "
                    f"tracker only {len(tracker.events)}; use replace() to shorten it")
            new_events = [event.as_dict() for event in tracker.events[stored:]]
        if not new_events and await self.exists(tracker.sender_id):
            return
        written = await self.append_events(tracker.sender_id, list(new_events))
        self._remember_append(tracker.sender_id, written, list(new_events))
        self._saved(tracker)

    def _saved(self, tracker: DialogueStateTracker) -> None:
        """Note that the store holds every event of ``tracker`` now (a backend whose
        :meth:`save` writes on its own calls it after the write)."""
        if tracker in self._session_trackers:
            self._session_trackers[tracker] = len(tracker.events)

    async def _events_held_for(self, tracker: DialogueStateTracker) -> int:
        """How many of the tracker's first events the store holds already.

        That is the number of stored events, less the ones reading left out as
        unreadable: they stay in the store but are not in the tracker. Counting
        those means reading the conversation, so it is done only for one known
        to hold some, or when the count alone cannot be right.
        """
        sender_id = tracker.sender_id
        stored = await self.count_events(sender_id)
        if stored <= len(tracker.events) and self._with_unreadable.get(sender_id) is None:
            return stored
        events = await self.load_events(sender_id) or []
        return len(events) - len(readable_events(events)[1])

    async def replace(self, tracker: DialogueStateTracker) -> None:
        """Store the tracker's events in place of everything stored for its sender."""
        self._recent.pop(tracker.sender_id, None)
        self._with_unreadable.pop(tracker.sender_id)
        await self.replace_events(tracker.sender_id, [e.as_dict() for e in tracker.events])


class LockStore(abc.ABC):
    """One lock per conversation: ``async with lock_store.lock(sender_id): ...``."""

    @abc.abstractmethod
    def lock(self, sender_id: str, wait_timeout: float | None = None) -> Any:
        """An async context manager holding the conversation's lock.

        Waiters get the lock in the order they asked for it. With
        ``wait_timeout`` (seconds), waiting longer raises :class:`TrackerStoreError`.
        """

    async def first_delivery(self, key: str, ttl_seconds: float) -> bool | None:
        """Whether ``key`` (a channel's delivery id) is seen for the first time within
        ``ttl_seconds``, remembering it for that long; False for a re-delivery.

        Stores that several server processes share (SQLite, Redis) answer for all of
        them, so a platform's re-delivery that reaches another ``--workers`` process
        is still recognised. None: the store keeps no such memory (the in-memory
        store, and this default for lock stores of plugins), and each channel
        remembers on its own, per process. A store that cannot answer raises.
        """
        return None

    async def close(self) -> None:  # noqa: B027 - optional for backends
        """Release connections (nothing to do for stores that hold none)."""

    @classmethod
    def from_endpoint_config(cls, config: dict[str, Any]) -> LockStore:
        """Build the store from its endpoints.yml section (``type`` already removed),
        checked as :meth:`TrackerStore.from_endpoint_config` checks it."""
        from dialogflowlite.stores.factory import build_store

        return build_store(cls, config, "lock_store")


class ConnectionLost(TrackerStoreError):
    """A pooled database connection the server had closed (it restarted, failed over, or
    a proxy dropped idle connections): the pool was emptied of its other idle ones, which
    went the same way; ``reused`` says the connection was one of them rather than new,
    so that a read is worth one more try on a fresh connection."""

    def __init__(self, message: str, *, reused: bool) -> None:
        super().__init__(message)
        self.reused = reused


async def read_once_more_if_lost(read: Callable[[], Awaitable[T]]) -> T:
    """``read()``, and again once when it failed on a reused connection the server had
    closed: the first message after a database restart is answered instead of a 503.
    (Only reads: a write whose connection broke may or may not have been committed.)"""
    try:
        return await read()
    except ConnectionLost as lost:
        if not lost.reused:
            raise
        logger.info("%s: reconnecting", lost.message)
        return await read()


def lasting(error: TrackerStoreError) -> TrackerStoreError:
    """Mark ``error`` as one that the same read or write meets again, however often it is
    tried: the conversation or its events are the cause (too large for the store, not
    JSON, not replayable), not a store that cannot be reached for a while. Channels
    then do not ask a platform to deliver the message again (see
    :func:`~dialogflowlite.server.channels.deliveries.redelivery_may_succeed`)."""
    error.lasting = True  # type: ignore[attr-defined]
    return error


def next_write_time(previous: float | None) -> float:
    """The time to record for a write that versions a conversation: now, but always
    later than the previous write's, so a version never repeats even when the
    clock stands still or steps back."""
    now = time.time()
    if previous is not None and now <= previous:
        return math.nextafter(previous, math.inf)
    return now


def dump_event(event: dict[str, Any]) -> str:
    """Event JSON as stored text (compact, UTF-8 kept readable).

    ujson (installed with Sanic on CPython) writes the same JSON as the standard
    library about 3.5 times faster for events with parse data; encoding runs on
    the server's event loop for every message, so it is used when present.
    """
    if _ujson is not None:
        return _ujson.dumps(event, ensure_ascii=False, escape_forward_slashes=False)
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def dump_events(sender_id: str, events: list[dict[str, Any]]) -> list[str]:
    """Every event as stored text; one :class:`TrackerStoreError` if any is not JSON."""
    try:
        return [dump_event(event) for event in events]
    except (TypeError, ValueError, OverflowError) as e:
        raise lasting(TrackerStoreError(f"an event of {sender_id!r} is not JSON: {e}",
                                        hint="events may hold only JSON values")) from e


def registered_types(hook: str) -> dict[str, type]:
    """Classes by endpoints.yml ``type`` from a ``dfl_register_*`` hook (stores, brokers)."""
    from dialogflowlite.plugins.claims import NameClaims, same_name_ignoring_case
    from dialogflowlite.plugins.manager import get_plugin_manager

    found: dict[str, type] = {}
    # types are matched ignoring case (class_for_type), so `Files` and `files` clash
    claims = NameClaims("type", hook, "give the class another type name, or disable one "
                        "plugin", clash=same_name_ignoring_case)
    for plugin, classes in get_plugin_manager().call_each_expecting(
            hook, dict, "a mapping of type name to class"):
        for name, cls in classes.items():
            if not isinstance(name, str) or not isinstance(cls, type):
                raise PluginError(f"returned {name!r}: {cls!r}; each entry must map a type "
                                  "name to a class", plugin=plugin, hook=hook)
            claims.claim(name, plugin, cls)
            found[name] = cls
    return found


def class_for_type(classes: dict[str, type], kind: str) -> type | None:
    """The class registered as ``kind``, by exact name or else ignoring case."""
    return classes.get(kind) or next(
        (cls for name, cls in classes.items() if name.lower() == kind.lower()), None)


def _typed_section(config: dict[str, Any] | None, section: str,
                   hook: str) -> tuple[str | None, dict[str, Any]]:
    """The section's ``type`` and its other settings.

    Settings without a type are a :class:`ConfigError`: they would otherwise be
    dropped for the in-memory store, and conversations lost at the next restart.
    """
    if not config:
        return None, {}
    params = dict(config)
    kind = params.pop("type", None)
    if kind is None and params:
        raise ConfigError(
            f"endpoints.yml {section} has settings ({', '.join(map(str, params))}) but no "
            "`type:` saying which store they are for",
            hint=f"add `type:` with one of: {_known_types(registered_types(hook))}")
    return (None if kind is None else str(kind)), params


def _warn_ignored(params: dict[str, Any], section: str) -> None:
    # A warning, not an error: `type: ${STORE_TYPE}` switched to memory (for development)
    # leaves the other store's settings in place, and Rasa takes that too.
    if params:
        logger.warning("endpoints.yml %s: the in-memory store takes no settings; %s ignored",
                       section, ", ".join(map(str, params)))


def _known_types(stores: dict[str, type]) -> str:
    return ", ".join(sorted({"memory", *stores}))


def _unknown_type_hint(section: str, kind: str, stores: dict[str, type], hook: str) -> str:
    from dialogflowlite.io.formats import did_you_mean

    close = did_you_mean(kind, {"memory", *stores})
    return (f"{close + ' ' if close else ''}endpoints.yml {section} type must be one of: "
            f"{_known_types(stores)}{plugin_note(kind, hook)}")


def plugin_note(kind: str, hook: str) -> str:
    """A hint's ending for a ``type`` written as a module path (Rasa's custom classes)."""
    if "." not in kind.strip("."):
        return ""
    return (f"; a custom class is registered by a plugin here ({hook}, see docs/plugins.md), "
            "not named by its module path")


def create_tracker_store(config: dict[str, Any] | None,
                         domain: Domain | None = None) -> TrackerStore:
    """The tracker store an endpoints.yml ``tracker_store`` section asks for.

    No section (or ``type: memory``) gives the in-memory store; other types come
    from the ``dfl_register_tracker_stores`` hook.
    """
    from dialogflowlite.stores.memory import MemoryTrackerStore

    kind, params = _typed_section(config, "tracker_store", "dfl_register_tracker_stores")
    if kind is None or kind in MEMORY_TYPES:
        _warn_ignored(params, "tracker_store")
        return MemoryTrackerStore(domain=domain)
    stores = registered_types("dfl_register_tracker_stores")
    cls = class_for_type(stores, kind)
    if cls is None:
        raise ConfigError(f"unknown tracker store type {kind!r}",
                          hint=_unknown_type_hint("tracker_store", kind, stores,
                                                  "dfl_register_tracker_stores"))
    return cls.from_endpoint_config(params, domain=domain)


def create_lock_store(config: dict[str, Any] | None) -> LockStore:
    """The lock store an endpoints.yml ``lock_store`` section asks for (in-memory by default)."""
    from dialogflowlite.stores.memory import MemoryLockStore

    kind, params = _typed_section(config, "lock_store", "dfl_register_lock_stores")
    if kind is None or kind in MEMORY_TYPES:
        _warn_ignored(params, "lock_store")
        return MemoryLockStore()
    stores = registered_types("dfl_register_lock_stores")
    cls = class_for_type(stores, kind)
    if cls is None:
        raise ConfigError(f"unknown lock store type {kind!r}",
                          hint=_unknown_type_hint("lock_store", kind, stores,
                                                  "dfl_register_lock_stores"))
    return cls.from_endpoint_config(params)
