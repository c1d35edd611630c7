"""In-memory tracker store and lock store: the defaults for tests, the shell and one worker.

Conversations are kept as serialised JSON text, so a retrieved tracker never
shares objects with the one that was saved, and anything that would not survive
a real database (an event that is not JSON) fails here too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import TrackerStoreError
from dialogflowlite.stores.base import LockStore, TrackerStore, dump_events
from dialogflowlite.stores.stored_events import decode_events

if TYPE_CHECKING:
    from dialogflowlite.shared.domain import Domain


class MemoryTrackerStore(TrackerStore):
    """Keeps every conversation in this process; lost when the process ends."""

    def __init__(self, domain: Domain | None = None) -> None:
        super().__init__(domain)
        self._conversations: dict[str, list[str]] = {}

    async def load_events(self, sender_id: str) -> list[dict[str, Any]] | None:
        stored = self._conversations.get(sender_id)
        if stored is None:
            return None
        return decode_events(stored)

    async def append_events(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        texts = dump_events(sender_id, events)
        self._conversations.setdefault(sender_id, []).extend(texts)

    async def count_events(self, sender_id: str) -> int:
        return len(self._conversations.get(sender_id) or ())

    async def delete(self, sender_id: str) -> None:
        self._conversations.pop(sender_id, None)

    async def keys(self) -> list[str]:
        return list(self._conversations)


class MemoryLockStore(LockStore):
    """One ``asyncio.Lock`` per conversation, dropped again when nobody holds or waits for it.

    Locks only order messages within one process (and one event loop); several
    workers need a shared lock store.
    """

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def lock(self, sender_id: str, wait_timeout: float | None = None) -> AsyncIterator[None]:
        lock = self._locks.get(sender_id)
        if lock is None:
            lock = self._locks[sender_id] = asyncio.Lock()
        self._users[sender_id] = self._users.get(sender_id, 0) + 1
        try:
            try:
                if wait_timeout is None:
                    await lock.acquire()
                else:
                    await asyncio.wait_for(lock.acquire(), wait_timeout)
            except asyncio.TimeoutError as e:
                raise TrackerStoreError(
                    f"conversation {sender_id!r} stayed locked for more than {wait_timeout}s",
                    hint="another message of this sender is still being processed") from e
            try:
                yield
            finally:
                lock.release()
        finally:
            self._users[sender_id] -= 1
            if self._users[sender_id] == 0:
                del self._users[sender_id]
                del self._locks[sender_id]

    def is_locked(self, sender_id: str) -> bool:
        """Whether a message of ``sender_id`` is being processed right now."""
        lock = self._locks.get(sender_id)
        return lock is not None and lock.locked()
