"""Turns that fail: a tracker store that is down for a while, a bot that breaks."""

from __future__ import annotations

import asyncio
from typing import Any

from dialogflowlite.errors import DialogueError, TrackerStoreError
from dialogflowlite.stores.memory import MemoryTrackerStore


def store_down_for(agent: Any, saves: int = 1) -> None:
    """Make the next ``saves`` writes of ``agent``'s tracker store fail as an unreachable
    store's do (nothing of those turns is stored)."""
    store = agent.tracker_store
    append = store.append_events
    left = [saves]

    async def failing(*args: Any, **kwargs: Any) -> Any:
        if left[0] > 0:
            left[0] -= 1
            raise TrackerStoreError("Redis save failed: ConnectionError: connection refused")
        return await append(*args, **kwargs)

    store.append_events = failing


def store_refuses_for(agent: Any, saves: int = 1) -> None:
    """Make the next ``saves`` writes of ``agent``'s tracker store fail as a store's do
    when the events themselves cannot be kept (not JSON): each try fails the same way."""
    from dialogflowlite.stores.base import dump_events

    store = agent.tracker_store
    append = store.append_events
    left = [saves]

    async def failing(sender_id: str, events: list[dict[str, Any]], *args: Any,
                      **kwargs: Any) -> Any:
        if left[0] > 0:
            left[0] -= 1
            dump_events(sender_id, [*events, {"event": "slot", "value": object()}])
        return await append(sender_id, events, *args, **kwargs)

    store.append_events = failing


def bot_broken_for(agent: Any, turns: int = 1) -> None:
    """Make the next ``turns`` turns of ``agent`` fail for good (a bug, not an outage)."""
    processor = agent.processor
    handle = processor.handle_message
    left = [turns]

    async def failing(*args: Any, **kwargs: Any) -> Any:
        if left[0] > 0:
            left[0] -= 1
            raise DialogueError("the policies predicted nothing")
        return await handle(*args, **kwargs)

    processor.handle_message = failing


def user_texts(events: list[dict[str, Any]] | None) -> list[str]:
    """The texts of the user messages stored in ``events``."""
    return [e["text"] for e in events or [] if e["event"] == "user"]


class GatedStore(MemoryTrackerStore):
    """A tracker store whose writes wait until the test opens the gate (a slow custom
    action, a slow database); written after it was closed is an error."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.writing = asyncio.Event()
        self.closed = False

    async def append_events(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        self.writing.set()
        await self.gate.wait()
        if self.closed:
            raise RuntimeError("written after the store was closed")
        await super().append_events(sender_id, events)

    async def close(self) -> None:
        self.closed = True
