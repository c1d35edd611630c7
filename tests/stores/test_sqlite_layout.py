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
