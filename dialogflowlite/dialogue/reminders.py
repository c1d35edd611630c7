"""Reminders: ``reminder`` events trigger their intent later, unless cancelled.

Scheduling lives in the running event loop (the server's, or the shell's); a
reminder does not survive a restart of the process, as in Rasa's in-memory
scheduler.

As with Rasa's scheduler (APScheduler with its default ``misfire_grace_time``
of one second), a reminder fires only up to :data:`MISFIRE_GRACE_SECONDS`
after its time: one whose time had passed by more when it was scheduled, or
whose timer ran that late, is skipped with a warning instead of firing.

Closing the scheduler cancels the reminders not yet due and waits (up to
:data:`CLOSE_TIMEOUT_SECONDS`) for those already firing, so that their turns
are stored before the stores close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from dialogflowlite.shared.events import (
    Event,
    ReminderCancelled,
    ReminderScheduled,
    reminder_time,
)

logger = logging.getLogger(__name__)

#: fires a due reminder: ``(reminder, sender_id, channel)``, where ``channel`` is the
#: one it was scheduled with
ReminderHandler = Callable[[ReminderScheduled, str, str | None], Awaitable[None]]

#: sends replies to a user who did not ask for them (a fired reminder's):
#: ``(sender_id, channel, replies)``, where ``channel`` names the channel of the
#: turn that scheduled the reminder (None when that turn had no channel to send
#: through, as an API request without ``output_channel``); answers whether they
#: were sent
UnaskedSender = Callable[[str, str | None, list[dict[str, Any]]], Awaitable[bool]]

#: seconds after its time that a reminder still fires (APScheduler's default
#: ``misfire_grace_time``, which Rasa's scheduler keeps)
MISFIRE_GRACE_SECONDS = 1.0

#: seconds :meth:`ReminderScheduler.close` waits for the reminders already firing
#: before it cancels them
CLOSE_TIMEOUT_SECONDS = 15.0


def name_unnamed(events: Iterable[Event]) -> None:
    """Give each reminder among ``events`` that has no name a unique one.

    Rasa names such a reminder when it creates the event, so two unnamed
    reminders never replace one another and a ``cancel_reminder`` can name
    either. Called before the events are stored, so that the stored event keeps
    its name (loading a stored event never invents one). A random uuid: Rasa's
    time-based one would put the host's hardware address into the tracker.
    """
    for event in events:
        if isinstance(event, ReminderScheduled) and event.name is None:
            event.name = str(uuid.uuid4())


def seconds_until(date_time: str, now: datetime | None = None) -> float:
    """Seconds from now until the ISO 8601 ``date_time`` (negative once it has passed)."""
    when = reminder_time(date_time)
    if when.tzinfo is None:
        when = when.astimezone()
    now = now or datetime.now(timezone.utc)
    return (when - now).total_seconds()


def entity_values(entities: Any) -> list[tuple[Any, ...]]:
    """Entities as ``(entity, value, role, group)``, from a list of entity objects or
    the ``{entity: value}`` shorthand (both are allowed in reminder events)."""
    if isinstance(entities, dict):
        return [(name, value, None, None) for name, value in entities.items()]
    return [(e.get("entity"), e.get("value"), e.get("role"), e.get("group"))
            for e in entities or [] if isinstance(e, dict)]


def cancels(cancel: ReminderCancelled, reminder: ReminderScheduled) -> bool:
    """Whether ``cancel`` matches ``reminder``: every criterion it gives (name, intent,
    entities) must match, as in Rasa; one that gives none cancels every reminder."""
    if cancel.name is not None and cancel.name != reminder.name:
        return False
    if cancel.intent is not None and cancel.intent != reminder.intent:
        return False
    return not cancel.entities or (entity_values(cancel.entities)
                                   == entity_values(reminder.entities))


class ReminderScheduler:
    """Timers for scheduled reminders, per conversation."""

    def __init__(self, handler: ReminderHandler) -> None:
        self.handler = handler
        self._tasks: dict[tuple[str, str], tuple[ReminderScheduled, asyncio.Task]] = {}
        #: the reminders whose turn runs now (no longer pending: they left ``_tasks``)
        self._firing: dict[asyncio.Task, tuple[ReminderScheduled, str]] = {}

    def schedule(self, reminder: ReminderScheduled, sender_id: str,
                 channel: str | None = None) -> bool:
        """Fire ``reminder`` at its time; whether it was scheduled.

        The handler gets ``channel`` with it: the channel of the turn that
        scheduled it, as Rasa's scheduled job keeps that request's output channel.

        A pending reminder of the conversation with the same name is replaced
        (an unnamed reminder is named first, see :func:`name_unnamed`). One whose
        time passed more than :data:`MISFIRE_GRACE_SECONDS` ago is not scheduled,
        and still replaces the pending one of its name, as in Rasa.
        """
        try:
            delay = seconds_until(reminder.date_time)
        except ValueError:
            logger.error("reminder %r has an unreadable date_time %r; it is ignored",
                         reminder.name, reminder.date_time)
            return False
        name_unnamed([reminder])
        key = (sender_id, str(reminder.name))
        self._cancel_key(key)
        if delay < -MISFIRE_GRACE_SECONDS:
            _warn_missed(reminder, sender_id, -delay)
            return False
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        self._tasks[key] = (reminder, loop.create_task(self._fire_at(due, reminder, sender_id,
                                                                     channel, key)))
        return True

    async def _fire_at(self, due: float, reminder: ReminderScheduled, sender_id: str,
                       channel: str | None, key: tuple[str, str]) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, due - loop.time()))
        self._tasks.pop(key, None)
        late = loop.time() - due
        if late > MISFIRE_GRACE_SECONDS:  # the event loop was busy for that long
            _warn_missed(reminder, sender_id, late)
            return
        # a firing reminder is pending no more (a new one of its name is scheduled
        # alongside), but close() still has to wait for its turn
        task = asyncio.current_task()
        if task is not None:
            self._firing[task] = (reminder, sender_id)
        try:
            await self.handler(reminder, sender_id, channel)
        except Exception:
            logger.exception("reminder %r of conversation %r failed", reminder.name, sender_id)
        finally:
            self._firing.pop(task, None)

    def cancel(self, cancel: ReminderCancelled, sender_id: str) -> int:
        """Cancel the matching reminders of ``sender_id``; returns how many."""
        matching = [key for key, (reminder, _) in self._tasks.items()
                    if key[0] == sender_id and cancels(cancel, reminder)]
        for key in matching:
            self._cancel_key(key)
        return len(matching)

    def _cancel_key(self, key: tuple[str, str]) -> None:
        entry = self._tasks.pop(key, None)
        if entry is not None:
            entry[1].cancel()

    def _cancel_pending(self) -> list[asyncio.Task]:
        tasks = [task for _, task in self._tasks.values()]
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        return tasks

    def pending(self, sender_id: str | None = None) -> list[ReminderScheduled]:
        """The reminders waiting to fire (of ``sender_id``, or of every conversation)."""
        return [reminder for (sender, _), (reminder, _) in self._tasks.items()
                if sender_id is None or sender == sender_id]

    async def close(self, timeout: float = CLOSE_TIMEOUT_SECONDS) -> None:
        """Cancel every pending reminder and wait up to ``timeout`` seconds for those
        firing now (then cancel them too), and for the reminders their turns schedule."""
        waiting = len(self._tasks)
        if waiting:
            # they stay stored, but nothing fires them after a restart (as in Rasa): the
            # stop said nothing of them
            logger.warning("%d reminder(s) not yet due are dropped: reminders do not "
                           "survive a stop", waiting)
        tasks = self._cancel_pending()
        firing = [task for task in self._firing if not task.done()]
        if firing:
            logger.info("waiting up to %.0f s for %d reminder(s) firing now", timeout,
                        len(firing))
            _, late = await asyncio.wait(firing, timeout=timeout)
            for task in late:
                reminder, sender_id = self._firing.get(task, (None, "?"))
                logger.error("reminder %r of conversation %r was still firing after %.0f s; "
                             "it is cancelled", getattr(reminder, "name", None), sender_id,
                             timeout)
                task.cancel()
            # what their turns scheduled meanwhile would otherwise outlive the stores
            tasks += firing + self._cancel_pending()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await task


def _warn_missed(reminder: ReminderScheduled, sender_id: str, late: float) -> None:
    logger.warning("reminder %r (intent %r) of conversation %r is skipped: its time %s "
                   "passed %.1f s ago, and a reminder fires at most %g s late",
                   reminder.name, reminder.intent, sender_id, reminder.date_time, late,
                   MISFIRE_GRACE_SECONDS)
