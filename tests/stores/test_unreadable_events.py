"""A stored event that fails the HTTP API's checks is skipped when its conversation is read,
with a warning naming it, and stays in the store as it is."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from dialogflowlite.brokers.base import EventBroker
from dialogflowlite.brokers.export import export_events
from dialogflowlite.dialogue.messages import IncomingMessage
from dialogflowlite.dialogue.processor import MessageProcessor
from dialogflowlite.shared.domain import Domain
from dialogflowlite.shared.events import SlotSet, UserUttered
from dialogflowlite.shared.tracker import DialogueStateTracker
from dialogflowlite.stores.memory import MemoryTrackerStore
from dialogflowlite.stores.sqlite import SQLiteTrackerStore
from dialogflowlite.stores.stored_events import read_stored_event

GOOD = [{"event": "action", "name": "action_listen", "timestamp": 1.0},
        {"event": "user", "text": "hi", "timestamp": 2.0,
         "parse_data": {"intent": {"name": "greet", "confidence": 1.0}, "entities": []}}]
LOOP_NAMED_5 = {"event": "active_loop", "name": 5, "timestamp": 3.0}
TEXT_123 = {"event": "user", "text": 123, "timestamp": 4.0}


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelname == "WARNING" and "stored event" in r.getMessage()]


def test_memory_store_skips_them_warns_once_and_keeps_them(caplog) -> None:
    async def main() -> None:
        store = MemoryTrackerStore()
        await store.append_events("ann", [*GOOD, LOOP_NAMED_5, TEXT_123])
        before = list(store._conversations["ann"])
        with caplog.at_level("WARNING"):
            first = await store.retrieve("ann")
            second = await store.retrieve("ann")
        for tracker in (first, second):
            assert [e.as_dict() for e in tracker.events] == [
                read_stored_event(e).as_dict() for e in GOOD]
            assert tracker.active_loop_name is None and tracker.latest_message.text == "hi"
        assert _warnings(caplog) == [
            "conversation 'ann': stored event 2 is skipped: event 'active_loop' is malformed: "
            "its 'name' must be a string or null, not a number 5. The store keeps it "
            "unchanged; fix or remove it there to use it again",
            "conversation 'ann': stored event 3 is skipped: event 'user' is malformed: its "
            "'text' must be a string or null, not a number 123. The store keeps it "
            "unchanged; fix or remove it there to use it again"]
        assert store._conversations["ann"] == before

    asyncio.run(main())


def test_stored_text_that_is_not_json_is_skipped_too(caplog) -> None:
    async def main() -> None:
        store = MemoryTrackerStore()
        await store.append_events("bea", GOOD)
        store._conversations["bea"].insert(1, '{"event": "bot", "text": "cut sh')
        with caplog.at_level("WARNING"):
            tracker = await store.retrieve("bea")
        assert len(tracker.events) == 2 and tracker.latest_message.text == "hi"
        [warning] = _warnings(caplog)
        assert "'bea': stored event 1 is skipped: it is not JSON" in warning
        assert await store.count_events("bea") == 3

    asyncio.run(main())


def test_a_sqlite_row_written_by_hand_is_skipped_and_left_in_place(tmp_path: Path,
                                                                   caplog) -> None:
    db = tmp_path / "trackers.db"

    async def write() -> None:
        store = SQLiteTrackerStore(db=db)
        await store.append_events("cy", GOOD)
        await store.close()

    async def read() -> tuple[Any, Any]:
        store = SQLiteTrackerStore(db=db)
        with caplog.at_level("WARNING"):
            tracker = await store.retrieve("cy")
        stored = await store.load_events("cy")
        await store.close()
        return tracker, stored

    asyncio.run(write())
    with sqlite3.connect(db) as connection:
        connection.executemany("INSERT INTO dfl_events (sender_id, seq, data) VALUES (?, ?, ?)",
                               [("cy", 2, '{"event": "active_loop", "name": 5}'),
                                ("cy", 3, "not json at all")])
        connection.execute("UPDATE dfl_conversations SET n_events = 4, updated = updated + 1 "
                           "WHERE sender_id = 'cy'")
    tracker, stored = asyncio.run(read())
    assert len(tracker.events) == 2 and tracker.active_loop_name is None
    warnings = _warnings(caplog)
    assert len(warnings) == 2
    assert "'cy': stored event 2 is skipped" in warnings[0] and "'name'" in warnings[0]
    assert "'cy': stored event 3 is skipped: it is not JSON" in warnings[1]
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT seq, data FROM dfl_events WHERE sender_id = 'cy' "
                                  "ORDER BY seq").fetchall()
    assert rows[2:] == [(2, '{"event": "active_loop", "name": 5}'), (3, "not json at all")]
    assert len(stored) == 4


def test_a_message_to_such_a_conversation_is_answered() -> None:
    class LoopPolicy:
        """Runs the active loop after a user message, else listens (as the rule policy)."""

        def predict_next_action(self, tracker: DialogueStateTracker, domain: Domain) -> Any:
            last = tracker.events[-1]
            loop = tracker.active_loop_name
            name = loop if loop and isinstance(last, UserUttered) else "action_listen"
            return SimpleNamespace(action_name=name, confidence=1.0)

    async def main() -> list[dict[str, Any]]:
        processor = MessageProcessor(Domain(intents=["greet"]), policies=LoopPolicy())
        await processor.handle_message(IncomingMessage("/greet", "dan"))
        # (stamped now: older events would start a new session, which ends the loop)
        now = time.time()
        await processor.tracker_store.append_events("dan", [{**LOOP_NAMED_5, "timestamp": now},
                                                            {**TEXT_123, "timestamp": now}])
        # the loop's name was a number: every message failed on it
        result = await processor.handle_message(IncomingMessage("/greet", "dan"))
        assert result.tracker.latest_message.text == "/greet"
        return await processor.tracker_store.load_events("dan")

    stored = asyncio.run(main())
    assert [e.get("name") for e in stored if e["event"] == "active_loop"] == [5]
    assert [e["text"] for e in stored if e["event"] == "user"] == ["/greet", 123, "/greet"]
    assert stored[-1]["event"] == "action" and stored[-1]["name"] == "action_listen"


def test_save_without_ready_made_json_appends_after_the_skipped_events() -> None:
    async def main() -> None:
        store = MemoryTrackerStore()
        await store.append_events("eve", [*GOOD, LOOP_NAMED_5])
        tracker = await store.retrieve("eve")
        tracker.update(SlotSet(name="city", value="Oslo"))
        await store.save(tracker)  # the store holds 3 events, the tracker 3 as well
        stored = await store.load_events("eve")
        assert len(stored) == 4 and stored[2] == LOOP_NAMED_5 and stored[3]["name"] == "city"
        assert (await store.retrieve("eve")).slots["city"] == "Oslo"

    asyncio.run(main())


def test_save_from_another_store_that_never_read_the_conversation(tmp_path: Path) -> None:
    async def main() -> None:
        writer, reader = (SQLiteTrackerStore(db=tmp_path / "t.db") for _ in range(2))
        await writer.append_events("fay", [*GOOD, LOOP_NAMED_5, TEXT_123])
        tracker = await writer.retrieve("fay")
        tracker.update(SlotSet(name="city", value="Oslo"))
        await reader.save(tracker)  # 4 stored events, 3 in the tracker
        stored = await reader.load_events("fay")
        assert len(stored) == 5 and stored[4]["name"] == "city"
        await writer.close()

    asyncio.run(main())


def test_a_parse_result_of_an_older_shape_is_still_read_not_skipped(caplog) -> None:
    async def main() -> None:
        store = MemoryTrackerStore()
        await store.append_events("gil", [{"event": "user", "text": "hi",
                                           "parse_data": {"intent": "greet"}}])
        with caplog.at_level("WARNING"):
            tracker = await store.retrieve("gil")
        assert tracker.latest_message.intent_name == "greet"
        assert _warnings(caplog) == []

    asyncio.run(main())


class ListBroker(EventBroker):
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    async def publish_many(self, events: list[dict[str, Any]]) -> None:
        self.published.extend(events)


def test_export_leaves_them_out_as_reading_does(caplog) -> None:
    store, broker = MemoryTrackerStore(), ListBroker()
    asyncio.run(store.append_events("hal", [*GOOD, LOOP_NAMED_5, 7, TEXT_123]))
    with caplog.at_level("WARNING"):
        result = asyncio.run(export_events(store, broker))
    assert result.events == 2
    assert broker.published == [{"sender_id": "hal", **event} for event in GOOD]
    warnings = _warnings(caplog)
    assert [w.split(" is skipped")[0] for w in warnings] == [
        "conversation 'hal': stored event 2", "conversation 'hal': stored event 3",
        "conversation 'hal': stored event 4"]
    assert "an event must be a JSON object" in warnings[1]


def test_a_masked_event_that_fails_the_checks_is_not_kept_in_memory(tmp_path: Path,
                                                                     caplog) -> None:
    async def main() -> None:
        store = SQLiteTrackerStore(db=tmp_path / "t.db")  # keeps conversations it wrote
        tracker = DialogueStateTracker("ivy", events=[UserUttered(text="my pin is 1234")])
        # as a masking plugin could leave it: the text replaced by a number
        await store.save(tracker, [dict(tracker.events[0].as_dict(), text=0)])
        with caplog.at_level("WARNING"):
            kept = await store.retrieve("ivy")
        # the same as any reader of the store gets
        assert kept.events == [] and "'ivy': stored event 0 is skipped" in caplog.text
        await store.close()

    asyncio.run(main())
