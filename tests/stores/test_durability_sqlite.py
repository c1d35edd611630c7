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


def test_a_database_removed_while_serving_is_started_anew_and_said(tmp_path: Path,
                                                                   caplog) -> None:
    import shutil

    folder = tmp_path / "store"
    store = SQLiteTrackerStore(db=folder / "trackers.db")

    async def run() -> tuple[list[str], list[str]]:
        await store.save(DialogueStateTracker("ann", events=[SlotSet(name="a", value=1)]))
        shutil.rmtree(folder)
        # the writes went on into the unlinked file: every later message lost, with 200s
        await store.save(DialogueStateTracker("bob", events=[SlotSet(name="b", value=2)]))
        kept = await store.keys()
        await store.close()
        again = SQLiteTrackerStore(db=folder / "trackers.db")
        on_disk = await again.keys()
        await again.close()
        return kept, on_disk

    kept, on_disk = asyncio.run(run())
    assert kept == on_disk == ["bob"]
    assert "was removed or replaced while the server ran" in caplog.text


def test_a_read_only_database_is_opened_again_at_the_next_call(tmp_path: Path) -> None:
    from dialogflowlite.errors import TrackerStoreError

    store = SQLiteTrackerStore(db=tmp_path / "trackers.db")

    def read_only(connection: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    async def run() -> int:
        await store.save(DialogueStateTracker("ann", events=[SlotSet(name="a", value=1)]))
        first = store.database._connection
        with pytest.raises(TrackerStoreError, match="readonly") as error:
            await store.database.run(read_only)
        # the files beside the database are named: SQLite made them read-only too
        assert "trackers.db-wal" in error.value.hint
        # once the permissions are fixed, no restart is needed: a new connection
        await store.save(DialogueStateTracker("bob", events=[SlotSet(name="b", value=2)]))
        assert store.database._connection is not first
        count = await store.count_events("bob")
        await store.close()
        return count

    assert asyncio.run(run()) == 1
