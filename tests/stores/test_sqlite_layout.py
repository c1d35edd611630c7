"""How the SQLite tracker store lays conversations out on disk."""

from __future__ import annotations

import asyncio
from pathlib import Path

from dialogflowlite.stores.sqlite import SQLiteTrackerStore

RANKING = [{"name": f"intent_number_{n}", "confidence": 1 / (7 + n) / 1000} for n in range(10)]
SELECTOR = {"default": {"response": {"responses": None, "confidence": 0.0,
                                     "intent_response_key": None, "utter_action": "utter_None",
                                     "template_name": "utter_None"}, "ranking": []},
            "all_retrieval_intents": ["faq"]}


def _turn(sender: str, turn: int) -> list[dict]:
    """A turn's events as a server stores them: the user message (1.1 KB with its parse
    data, as the bot of `init` stores one) and a few small ones."""
    text = f"message {turn} of {sender}"
    parse = {"text": text, "intent": RANKING[0], "entities": [], "intent_ranking": RANKING,
             "response_selector": SELECTOR}
    return [{"event": "user", "timestamp": 1.0 + turn, "text": text, "parse_data": parse,
             "input_channel": "rest", "message_id": f"{sender}-{turn:032d}"},
            {"event": "action", "timestamp": 1.0, "name": "utter_greet"},
            {"event": "bot", "timestamp": 1.0, "text": "Hello! How can I help?"},
            {"event": "action", "timestamp": 1.0, "name": "action_listen"}]


def test_conversations_take_little_more_room_on_disk_than_their_events(
        tmp_path: Path) -> None:
    from dialogflowlite.stores.base import dump_events

    db = tmp_path / "trackers.db"
    store = SQLiteTrackerStore(db=db)
    senders = [f"user-{n}" for n in range(20)]
    stored = 0

    async def serve() -> None:
        nonlocal stored
        for turn in range(15):
            for sender in senders:  # turns of many conversations, one after the other
                events = _turn(sender, turn)
                stored += sum(map(len, dump_events(sender, events)))
                await store.append_events(sender, events)
        await store.close()

    asyncio.run(serve())  # closed: the write-ahead log is in the file now
    assert not Path(f"{db}-wal").exists()
    # every user message overflowed the rows of a table WITHOUT ROWID and took a page
    # of its own for its last bytes: the file was four times the events it kept
    assert db.stat().st_size < 1.5 * stored, (db.stat().st_size, stored)


def test_a_database_of_the_earlier_layout_is_read_and_written_as_before(tmp_path: Path) -> None:
    import sqlite3

    # the events table as databases made before had it
    db = tmp_path / "earlier.db"
    with sqlite3.connect(db) as connection:
        connection.executescript("""
            CREATE TABLE dfl_events (sender_id TEXT NOT NULL, seq INTEGER NOT NULL,
                                     data TEXT NOT NULL, PRIMARY KEY (sender_id, seq))
            WITHOUT ROWID;""")
    connection.close()

    async def use() -> tuple[list, list, list, list]:
        store = SQLiteTrackerStore(db=db)
        for turn in range(3):
            for sender in ("ann", "bob"):
                await store.append_events(sender, _turn(sender, turn))
        ann = await store.load_events("ann")
        await store.replace_events("bob", _turn("bob", 9))
        bob = await store.load_events("bob")
        await store.delete("ann")
        keys = await store.keys()
        await store.close()
        again = SQLiteTrackerStore(db=db)
        reopened = await again.load_events("bob")
        await again.close()
        return ann, bob, keys, reopened

    ann, bob, keys, reopened = asyncio.run(use())
    assert ann == [event for turn in range(3) for event in _turn("ann", turn)]
    assert bob == _turn("bob", 9) and reopened == bob and keys == ["bob"]
    with sqlite3.connect(db) as connection:
        (layout,) = connection.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'dfl_events'").fetchone()
    connection.close()
    assert "WITHOUT ROWID" in layout  # kept as it was
