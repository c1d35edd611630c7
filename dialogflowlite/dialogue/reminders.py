"""Reminders: ``reminder`` events trigger their intent later, unless cancelled.

Scheduling lives in the running event loop (the server's, or the shell's); a
reminder does not survive a restart of the process, as in Rasa's in-memory
scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from dialogflowlite.shared.events import ReminderCancelled, ReminderScheduled, reminder_time

logger = logging.getLogger(__name__)

ReminderHandler = Callable[[ReminderScheduled, str], Awaitable[None]]


def reminder_key(reminder: ReminderScheduled) -> str:
    """The identity of a reminder: its name, or its intent, entities and time."""
    return reminder.name or f"{reminder.intent}|{reminder.entities}|{reminder.date_time}"


def seconds_until(date_time: str, now: datetime | None = None) -> float:
    """Seconds from now until the ISO 8601 ``date_time`` (0 when it has passed)."""
    when = reminder_time(date_time)
    if when.tzinfo is None:
        when = when.astimezone()
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


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

    def schedule(self, reminder: ReminderScheduled, sender_id: str) -> None:
        """Fire ``reminder`` at its time (a reminder with the same name is replaced)."""
        try:
            delay = seconds_until(reminder.date_time)
        except ValueError:
            logger.error("reminder %r has an unreadable date_time %r; it is ignored",
                         reminder.name, reminder.date_time)
            return
        key = (sender_id, reminder_key(reminder))
        self._cancel_key(key)
        task = asyncio.get_running_loop().create_task(self._fire_later(delay, reminder,
                                                                       sender_id, key))
        self._tasks[key] = (reminder, task)

    async def _fire_later(self, delay: float, reminder: ReminderScheduled, sender_id: str,
                          key: tuple[str, str]) -> None:
        await asyncio.sleep(delay)
        self._tasks.pop(key, None)
        try:
            await self.handler(reminder, sender_id)
        except Exception:
            logger.exception("reminder %r of conversation %r failed", reminder.name, sender_id)

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

    def pending(self, sender_id: str | None = None) -> list[ReminderScheduled]:
        return [reminder for (sender, _), (reminder, _) in self._tasks.items()
                if sender_id is None or sender == sender_id]

    async def close(self) -> None:
        """Cancel every pending reminder."""
        tasks = [task for _, task in self._tasks.values()]
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await task
