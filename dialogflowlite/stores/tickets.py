"""A first-come-first-served conversation lock that several processes share.

Like the ticket machine at a counter: each message of a conversation draws the
next ticket number, and the conversation serves one ticket at a time, in
order. A backend (SQLite, Redis) keeps per conversation the next ticket, the
ticket being served, and which tickets are still alive. Every ticket carries
a lifetime its owner keeps renewing; a ticket whose owner crashed or gave up
expires and is skipped, so one dead worker cannot block a conversation forever.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dialogflowlite.errors import ConfigError, TrackerStoreError
from dialogflowlite.stores.base import LockStore

logger = logging.getLogger(__name__)


class TicketLockStore(LockStore):
    """A :class:`LockStore` built from four backend operations on ticket numbers.

    ``lifetime`` (seconds) is how long a ticket lives without being renewed;
    owners renew it every third of that while they wait or hold the lock.
    ``poll_interval`` is the first pause between checks while waiting; it
    doubles up to ``max_poll_interval``.
    """

    max_poll_interval = 0.05

    def __init__(self, *, lifetime: float = 60.0, poll_interval: float = 0.002) -> None:
        # (not 0: a lifetime of 0 expires every ticket at once, so nothing is locked; a
        # poll interval of 0 never doubles and asks the backend in a tight loop)
        for name, value in (("lifetime", lifetime), ("poll_interval", poll_interval)):
            if not value > 0:
                raise ConfigError(f"endpoints.yml lock_store: {name} must be more than 0 "
                                  f"seconds, not {value!r}",
                                  hint=f"leave {name} out for its default")
        self.lifetime = float(lifetime)
        self.poll_interval = float(poll_interval)
        #: give-backs of tickets drawn for cancelled messages (a task only the loop
        #: refers to may be collected before it is done)
        self._giving_back: set[asyncio.Task] = set()

    @abc.abstractmethod
    async def take_ticket(self, sender_id: str) -> tuple[int, int]:
        """Draw the next ticket; returns it and the ticket served now (skipping dead ones)."""

    @abc.abstractmethod
    async def poll(self, sender_id: str, ticket: int) -> int:
        """Renew ``ticket`` and return the ticket served now (skipping dead ones)."""

    @abc.abstractmethod
    async def refresh(self, sender_id: str, ticket: int) -> None:
        """Renew ``ticket``'s lifetime while holding the lock."""

    @abc.abstractmethod
    async def give_back(self, sender_id: str, ticket: int) -> None:
        """Drop ``ticket``; if it is being served, serve the next one."""

    async def _keep_alive(self, sender_id: str, ticket: int) -> None:
        while True:
            await asyncio.sleep(self.lifetime / 3)
            try:
                await self.refresh(sender_id, ticket)
            except Exception as e:  # the next renewal may work; the lock is still ours
                logger.warning("could not renew the lock of %r: %s", sender_id, e)

    async def _draw_ticket(self, sender_id: str) -> tuple[int, int]:
        """:meth:`take_ticket`, safe against the caller being cancelled meanwhile (a
        request that timed out): the backend may hand the ticket out all the same, and
        a ticket nobody gives back blocks the conversation for ``lifetime`` seconds."""
        drawing = asyncio.ensure_future(self.take_ticket(sender_id))
        try:
            return await asyncio.shield(drawing)
        except asyncio.CancelledError:
            drawing.add_done_callback(lambda done: self._give_back_drawn(sender_id, done))
            raise

    def _give_back_drawn(self, sender_id: str, drawing: asyncio.Future) -> None:
        if drawing.cancelled() or drawing.exception() is not None:
            return
        ticket, _ = drawing.result()
        giving_back = asyncio.ensure_future(self.give_back(sender_id, ticket))
        self._giving_back.add(giving_back)
        giving_back.add_done_callback(self._given_back)

    def _given_back(self, giving_back: asyncio.Task) -> None:
        self._giving_back.discard(giving_back)
        if not giving_back.cancelled() and giving_back.exception() is not None:
            # the ticket then expires after `lifetime` seconds, as a crashed worker's does
            logger.warning("could not give back the lock ticket of a cancelled message: %s",
                           giving_back.exception())

    @asynccontextmanager
    async def lock(self, sender_id: str, wait_timeout: float | None = None) -> AsyncIterator[None]:
        ticket, serving = await self._draw_ticket(sender_id)
        try:
            deadline = None if wait_timeout is None else time.monotonic() + wait_timeout
            delay = self.poll_interval
            while serving != ticket:
                if deadline is not None and time.monotonic() > deadline:
                    raise TrackerStoreError(
                        f"conversation {sender_id!r} stayed locked for more than {wait_timeout}s",
                        hint="another message of this sender is still being processed")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_poll_interval)
                serving = await self.poll(sender_id, ticket)
            keeper = asyncio.get_running_loop().create_task(self._keep_alive(sender_id, ticket))
            try:
                yield
            finally:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
        finally:
            # Also runs when the waiting task is cancelled: the ticket must not block others.
            await self._give_back_held(sender_id, ticket)

    async def _give_back_held(self, sender_id: str, ticket: int) -> None:
        """Give ``ticket`` back; a failure is logged, not raised. By now the message was
        processed and stored (or failed on its own): failing it for the lock would
        answer an error for a stored message, and a client sending it again would
        store it twice. The ticket expires after ``lifetime`` seconds, as a crashed
        worker's does."""
        try:
            await asyncio.shield(self.give_back(sender_id, ticket))
        except asyncio.CancelledError:
            raise
        except Exception as e:
            logger.warning("could not give back the lock of %r (%s); it expires within %g s",
                           sender_id, e, self.lifetime)
