"""SQLite's ``db: ":memory:"``: a database in memory, as SQLAlchemy's SQLite gives Rasa."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from dialogflowlite.errors import ConfigError, TrackerStoreError
from dialogflowlite.shared.events import SlotSet
from dialogflowlite.shared.tracker import DialogueStateTracker
from dialogflowlite.stores.factory import create_lock_store, create_tracker_store
from dialogflowlite.stores.memory import MemoryLockStore
from dialogflowlite.stores.sqlite import SQLiteLockStore, SQLiteTrackerStore

SECTIONS = [{"type": "SQL", "dialect": "sqlite", "db": ":memory:"},
            {"type": "sqlite", "db": ":memory:"}]


@pytest.mark.parametrize("section", SECTIONS, ids=["rasa", "own"])
def test_memory_is_no_file(section: dict, tmp_path: Path, plugin_manager,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = create_tracker_store(section, project=tmp_path)
    assert isinstance(store, SQLiteTrackerStore)

    async def main() -> None:
        await store.save(DialogueStateTracker("alice", events=[SlotSet(name="a", value=1)]))
        tracker = await store.retrieve("alice")
        assert [e.type_name for e in tracker.events] == ["slot"]
        assert await store.keys() == ["alice"]
        await store.close()

    asyncio.run(main())
    assert os.listdir(tmp_path) == []


def test_each_memory_store_has_its_own_database_and_locks_work(plugin_manager) -> None:
    first = create_tracker_store({"type": "sqlite", "db": ":memory:"})
    second = create_tracker_store({"type": "sqlite", "db": ":memory:"})
    locks = create_lock_store({"type": "sqlite", "db": ":memory:"})
    assert isinstance(locks, SQLiteLockStore)

    async def main() -> None:
        # many calls at once all reach the one connection, so all see the same database
        await asyncio.gather(*(first.append_events(f"user{i}", [{"event": "restart"}])
                               for i in range(20)))
        assert len(await first.keys()) == 20
        assert await second.keys() == []
        async with locks.lock("user1"):
            pass
        for store in (first, second, locks):
            await store.close()

    asyncio.run(main())


def test_a_closed_memory_store_says_its_conversations_are_gone(plugin_manager) -> None:
    store = create_tracker_store({"type": "sqlite", "db": ":memory:"})

    async def main() -> None:
        await store.append_events("alice", [{"event": "restart"}])
        await store.close()
        with pytest.raises(TrackerStoreError, match="closed"):
            await store.load_events("alice")

    asyncio.run(main())


def test_several_workers_cannot_share_memory(plugin_manager, tmp_path: Path) -> None:
    store = create_tracker_store({"type": "sqlite", "db": ":memory:"}, project=tmp_path)
    with pytest.raises(ConfigError, match=r"tracker_store.*:memory:.*2 workers"):
        create_lock_store(None, project=tmp_path, tracker_store=store, workers=2)
    files = create_tracker_store({"type": "sqlite", "db": "t.db"}, project=tmp_path)
    with pytest.raises(ConfigError, match=r"lock_store.*:memory:.*3 workers"):
        create_lock_store({"type": "sqlite", "db": ":memory:"}, project=tmp_path,
                          tracker_store=files, workers=3)
    # one worker: its locks stay in the process, as with any store
    assert isinstance(create_lock_store(None, tracker_store=store, workers=1), MemoryLockStore)
    asyncio.run(store.close())
    asyncio.run(files.close())


def test_several_workers_cannot_share_the_memory_stores_either(plugin_manager,
                                                              tmp_path: Path) -> None:
    from dialogflowlite.stores.memory import MemoryTrackerStore

    # each worker held half of every conversation, and answered from its half
    memory = create_tracker_store({"type": "memory"}, project=tmp_path)
    assert isinstance(memory, MemoryTrackerStore)
    with pytest.raises(ConfigError, match=r"tracker_store: type memory .* 2 workers"):
        create_lock_store(None, project=tmp_path, tracker_store=memory, workers=2)
    files = create_tracker_store({"type": "sqlite", "db": "t.db"}, project=tmp_path)
    with pytest.raises(ConfigError, match=r"lock_store: type memory .* 2 workers"):
        create_lock_store({"type": "in_memory"}, project=tmp_path, tracker_store=files,
                          workers=2)
    asyncio.run(files.close())


@pytest.mark.parametrize("db", ["", None])
@pytest.mark.parametrize("section", [{"type": "SQL", "dialect": "sqlite"}, {"type": "sqlite"}],
                         ids=["rasa", "own"])
def test_an_empty_db_is_a_database_in_memory_as_in_rasa(
        section: dict, db: str | None, tmp_path: Path, plugin_manager, caplog,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Rasa builds the SQLAlchemy URL sqlite:// for it: SQLite's in-memory database
    monkeypatch.chdir(tmp_path)
    store = create_tracker_store({**section, "db": db}, project=tmp_path)
    assert isinstance(store, SQLiteTrackerStore) and store.database.in_memory
    assert "db is empty" in caplog.text
    locks = create_lock_store({"type": "sqlite", "db": db}, project=tmp_path)
    assert isinstance(locks, SQLiteLockStore) and locks.database.in_memory

    async def main() -> None:
        await store.append_events("alice", [{"event": "restart"}])
        assert await store.keys() == ["alice"]
        async with locks.lock("alice"):
            pass
        await store.close()
        await locks.close()

    asyncio.run(main())
    assert os.listdir(tmp_path) == []
    with pytest.raises(ConfigError, match=r":memory:.*2 workers"):
        create_lock_store({"type": "sqlite", "db": db}, project=tmp_path, workers=2,
                          tracker_store=None)
    # built directly, the stores read an empty db the same way
    for direct in (SQLiteTrackerStore(db=""), SQLiteLockStore(db="")):
        assert direct.database.in_memory
        asyncio.run(direct.close())


def test_without_db_the_database_is_the_file_trackers_db(tmp_path: Path,
                                                         plugin_manager) -> None:
    store = create_tracker_store({"type": "sqlite"}, project=tmp_path)
    locks = create_lock_store({"type": "sqlite"}, project=tmp_path, tracker_store=store,
                              workers=2)
    assert store.db_path == locks.db_path == tmp_path / "trackers.db"
    asyncio.run(store.close())
    asyncio.run(locks.close())


def test_a_database_rasa_filled_is_named_with_its_conversations(tmp_path: Path,
                                                                caplog) -> None:
    import sqlite3

    path = tmp_path / "rasa.db"
    with sqlite3.connect(path) as connection:  # Rasa's SQLTrackerStore table
        connection.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, "
                           "type_name TEXT, timestamp REAL, intent_name TEXT, "
                           "action_name TEXT, data TEXT)")
        connection.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)",
            [("ann", "user", 1.0, "{}"), ("ann", "bot", 2.0, "{}"), ("bob", "user", 3.0, "{}")])
    connection.close()
    with caplog.at_level("WARNING"):
        store = create_tracker_store({"type": "SQL", "dialect": "sqlite", "db": str(path)})
    # the conversations looked empty, and `evaluate markers` and `export` found none
    assert "has Rasa's `events` table (2 conversations), which this store does not read" \
        in caplog.text
    store.database.close()
    caplog.clear()
    with caplog.at_level("WARNING"):
        create_tracker_store({"type": "SQL", "dialect": "sqlite",
                              "db": str(tmp_path / "own.db")}).database.close()
    assert "Rasa" not in caplog.text
