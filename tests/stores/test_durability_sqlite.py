"""A SQLite write that fails half-way leaves no half turn and no open transaction."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from dialogflowlite.shared.events import SlotSet
from dialogflowlite.shared.tracker import DialogueStateTracker
from dialogflowlite.stores.sqlite import SQLiteTrackerStore


def test_a_write_that_fails_half_way_is_undone_and_the_next_one_works(tmp_path: Path) -> None:
    db = tmp_path / "trackers.db"
    store = SQLiteTrackerStore(db=db)

    def half_a_turn(connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO dfl_events (sender_id, seq, data) VALUES ('ann', 0, '{}')")
        raise RuntimeError("the process is being stopped")

    async def run() -> int:
        with pytest.raises(RuntimeError):
            await store.database.run(half_a_turn)
        tracker = DialogueStateTracker("ann", events=[SlotSet(name="a", value=1)])
        await store.save(tracker)
        other = sqlite3.connect(db, timeout=0.5)  # another worker can write meanwhile
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        other.close()
        count = await store.count_events("ann")
        await store.close()
        return count

    assert asyncio.run(run()) == 1
