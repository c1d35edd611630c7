"""The persistent tracker stores (SQLite, PostgreSQL, MySQL, Redis, MongoDB, DynamoDB) keep
the TrackerStore contract."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from dialogflowlite.errors import TrackerStoreError
from dialogflowlite.shared.domain import Domain, SlotDef
from dialogflowlite.shared.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from dialogflowlite.shared.tracker import DialogueStateTracker
from dialogflowlite.stores.base import TrackerStore
from dialogflowlite.stores.sqlite import SQLiteTrackerStore


def _domain() -> Domain:
    return Domain(slots={"city": SlotDef("city", "text"),
                         "count": SlotDef("count", "float", initial_value=1.0)})


def _conversation(sender: str = "alice") -> DialogueStateTracker:
    tracker = DialogueStateTracker.for_domain(sender, _domain())
    tracker.update_with_events([
        ActionExecuted(name="action_listen"),
        UserUttered(text="nach Köln 🚆", parse_data={
            "intent": {"name": "inform", "confidence": 0.9},
            "entities": [{"entity": "city", "value": "Köln", "start": 5, "end": 9}]}),
        SlotSet(name="city", value="Köln"),
        ActionExecuted(name="form", policy="RulePolicy", confidence=1.0),
        ActiveLoop(name="form"),
        BotUttered(text="How many?", data={"buttons": [{"title": "2", "payload": "/inform"}]}),
        ActionExecuted(name="action_listen"),
    ])
    return tracker


def _sqlite(tmp_path: Path) -> TrackerStore:
    from dialogflowlite.stores.sqlite import SQLiteTrackerStore

    return SQLiteTrackerStore(_domain(), db=tmp_path / "trackers.db")


def mongo_store_factory(monkeypatch) -> Any:
    """MongoTrackerStore(...) against one in-memory mongomock server (there is no MongoDB
    server to test against): the returned callable takes the store's settings."""
    pytest.importorskip("pymongo")
    mongomock_store = pytest.importorskip("mongomock.store")
    from functools import partial

    from mongo_double import AsyncMongomockClient

    from dialogflowlite.stores import mongo

    server = mongomock_store.ServerStore()
    monkeypatch.setattr(mongo, "_async_client_class",
                        lambda: partial(AsyncMongomockClient, server=server))
    return lambda **settings: mongo.MongoTrackerStore(_domain(), **settings)


def _one_request_at_a_time(monkeypatch) -> None:
    """Let moto apply each item request whole, as DynamoDB does.

    The store calls boto3 from worker threads, and moto changes an item in
    several steps without a lock, so two threads' updates could interleave
    there and lose events. DynamoDB applies every request atomically; a lock
    around each of moto's item operations plays that. A store that read and
    then wrote back in two requests would still lose events under it.
    """
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.Lock()

    def atomic(operation: Any) -> Any:
        def locked(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return operation(*args, **kwargs)

        return locked

    for name in ("get_item", "put_item", "update_item", "delete_item", "scan"):
        monkeypatch.setattr(DynamoDBBackend, name, atomic(getattr(DynamoDBBackend, name)))


def dynamo_store_factory(request, monkeypatch) -> Any:
    """DynamoTrackerStore(...) against moto's in-process DynamoDB, for the rest of the test
    (there is no AWS to test against): the returned callable takes the store's settings."""
    pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    # dummy credentials, and no endpoint from the environment that would lead past moto
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    _one_request_at_a_time(monkeypatch)
    mock = moto.mock_aws()
    mock.start()
    request.addfinalizer(mock.stop)

    from dialogflowlite.stores.dynamo import DynamoTrackerStore

    return lambda **settings: DynamoTrackerStore(_domain(), **settings)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("mysql", marks=pytest.mark.mysql),
                        pytest.param("redis", marks=pytest.mark.redis), "mongo", "dynamo"])
def make_store(request, tmp_path, monkeypatch):
    """A factory of stores of one backend that all see the same data (like two workers)."""
    kind = request.param
    if kind == "sqlite":
        return lambda: _sqlite(tmp_path)
    if kind == "mongo":
        return mongo_store_factory(monkeypatch)
    if kind == "dynamo":
        return dynamo_store_factory(request, monkeypatch)
    if kind == "postgres":
        from dialogflowlite.stores.postgres import PostgresTrackerStore

        url = request.getfixturevalue("postgres_db")
        return lambda: PostgresTrackerStore(_domain(), url=url, pool_size=4)
    if kind == "mysql":
        from dialogflowlite.stores.mysql import MySQLTrackerStore

        url = request.getfixturevalue("mysql_db")
        return lambda: MySQLTrackerStore(_domain(), url=url, pool_size=4)
    from dialogflowlite.stores.redis import RedisTrackerStore

    url = request.getfixturevalue("redis_url")
    prefix = f"dfltest-{uuid.uuid4().hex[:8]}:"
    return lambda: RedisTrackerStore(_domain(), url=url, key_prefix=prefix)


def test_round_trip_rebuilds_an_identical_tracker(make_store) -> None:
    async def main() -> None:
        store = make_store()
        tracker = _conversation()
        await store.save(tracker)
        other = make_store()
        loaded = await other.retrieve("alice")
        assert loaded is not None
        assert loaded.current_state() == tracker.current_state()
        assert loaded.slots == {"city": "Köln", "count": 1.0}
        assert loaded.latest_message.text == "nach Köln 🚆"
        await store.close()
        await other.close()

    asyncio.run(main())


def test_unknown_senders_empty_conversations_and_keys(make_store) -> None:
    async def main() -> None:
        store = make_store()
        assert await store.retrieve("nobody") is None
        await store.save(DialogueStateTracker("bob"))
        await store.save(_conversation("carol"))
        assert sorted(await store.keys()) == ["bob", "carol"]
        assert (await store.retrieve("bob")).events == []
        assert await store.count_events("carol") == 7
        await store.close()

    asyncio.run(main())


def test_saves_append_only_new_events_in_order(make_store) -> None:
    async def main() -> None:
        store = make_store()
        tracker = _conversation()
        await store.save(tracker)
        for number in range(5):
            tracker.update(UserUttered(text=f"message {number}"))
            tracker.update(ActionExecuted(name="action_listen"))
            await store.save(tracker)
        await store.save(tracker)  # nothing new
        loaded = await store.retrieve("alice")
        assert [e.as_dict() for e in loaded.events] == [e.as_dict() for e in tracker.events]
        assert await store.count_events("alice") == 17
        await store.close()

    asyncio.run(main())


def test_ready_made_json_is_stored_as_given(make_store) -> None:
    async def main() -> None:
        store = make_store()
        tracker = DialogueStateTracker("carol")
        tracker.update(UserUttered(text="my mail is a@b.c"))
        masked = [dict(tracker.events[0].as_dict(), text="my mail is [EMAIL]")]
        await store.save(tracker, masked)
        assert (await store.retrieve("carol")).latest_message.text == "my mail is [EMAIL]"
        await store.close()

    asyncio.run(main())


def test_replace_and_delete(make_store) -> None:
    async def main() -> None:
        store = make_store()
        await store.save(_conversation())
        await store.replace(DialogueStateTracker("alice", events=[SlotSet(name="city",
                                                                          value="Rome")]))
        loaded = await store.retrieve("alice")
        assert loaded.slots["city"] == "Rome" and len(loaded.events) == 1
        loaded.update(Restarted())
        await store.save(loaded)
        assert await store.count_events("alice") == 2
        await store.delete("alice")
        assert await store.retrieve("alice") is None
        assert await store.keys() == []
        await store.close()

    asyncio.run(main())


def test_concurrent_appends_from_two_stores_lose_nothing(make_store) -> None:
    async def writer(store: TrackerStore, name: str) -> None:
        for number in range(30):
            await store.append_events("shared", [{"event": "slot", "name": name,
                                                  "value": number, "timestamp": 1.0}])

    async def main() -> None:
        first, second = make_store(), make_store()
        await asyncio.gather(writer(first, "a"), writer(second, "b"))
        events = await first.load_events("shared")
        assert len(events) == 60
        for name in ("a", "b"):
            values = [e["value"] for e in events if e["name"] == name]
            assert values == list(range(30))
        await first.close()
        await second.close()

    asyncio.run(main())


def test_events_that_are_not_json_are_refused(make_store) -> None:
    async def main() -> None:
        store = make_store()
        tracker = DialogueStateTracker("dave", events=[SlotSet(name="x", value={1, 2})])
        with pytest.raises(TrackerStoreError, match="not JSON"):
            await store.save(tracker)
        await store.close()

    asyncio.run(main())


def test_sqlite_conversations_survive_a_new_process(tmp_path: Path) -> None:
    import subprocess
    import sys

    asyncio.run(_sqlite(tmp_path).save(_conversation()))
    script = (
        "import asyncio, sys\n"
        "from dialogflowlite.stores.sqlite import SQLiteTrackerStore\n"
        "store = SQLiteTrackerStore(db=sys.argv[1])\n"
        "tracker = asyncio.run(store.retrieve('alice'))\n"
        "print(len(tracker.events), tracker.latest_message.text)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "trackers.db")],
                            capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "7 nach Köln 🚆"


def test_an_unreachable_postgres_server_is_a_clear_error() -> None:
    pytest.importorskip("psycopg")
    from dialogflowlite.stores.postgres import PostgresTrackerStore

    store = PostgresTrackerStore(url="127.0.0.1", port=1, db="none", connect_timeout=2)
    with pytest.raises(TrackerStoreError, match="cannot connect to PostgreSQL"):
        asyncio.run(store.retrieve("x"))


@pytest.mark.postgres
def test_a_postgres_connection_cancelled_mid_query_is_not_reused(postgres_db: str) -> None:
    from dialogflowlite.stores.postgres import PostgresTrackerStore

    store = PostgresTrackerStore(_domain(), url=postgres_db, pool_size=2)

    async def scenario() -> None:
        await store.save(_conversation())
        async with store._connection() as connection:
            first = connection

        async def slow() -> None:
            async with store._connection() as connection:
                assert connection is first  # the idle one is taken again
                await connection.execute("SELECT pg_sleep(10)")

        task = asyncio.create_task(slow())
        await _until_postgres_runs(postgres_db, "SELECT pg_sleep(10)")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert first.closed and store._idle.empty()
        tracker = await store.retrieve("alice")  # a fresh connection serves the next call
        assert len(tracker.events) == 7
        await store.close()

    asyncio.run(scenario())


async def _until_postgres_runs(url: str, query: str, seconds: float = 30) -> None:
    """Return once the server runs ``query`` (seen in ``pg_stat_activity`` from another
    connection); fail after ``seconds``."""
    import psycopg

    deadline = time.monotonic() + seconds
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            cursor = await watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = %s",
                (query,))
            if (await cursor.fetchone())[0]:
                return
            await asyncio.sleep(0.02)
    pytest.fail(f"PostgreSQL did not start running {query!r} within {seconds} s")


def test_an_unreachable_redis_server_is_a_clear_error() -> None:
    pytest.importorskip("redis")
    from dialogflowlite.stores.redis import RedisTrackerStore

    store = RedisTrackerStore(url="127.0.0.1", port=1, socket_timeout=2)
    with pytest.raises(TrackerStoreError, match="Redis read failed"):
        asyncio.run(store.retrieve("x"))


def _counting_loads(store: TrackerStore) -> list[str]:
    """Record every read of a conversation's events the store makes (of all its sessions,
    or of the latest one)."""
    loads: list[str] = []
    for method in ("load_versioned_events", "load_versioned_session_events"):
        original = getattr(store, method)
        if method == "load_versioned_session_events" and \
                type(store).load_versioned_session_events is \
                TrackerStore.load_versioned_session_events:
            continue  # the base reads through load_versioned_events, counted already

        async def counted(sender_id: str, original=original):
            loads.append(sender_id)
            return await original(sender_id)

        setattr(store, method, counted)
    return loads


def test_recent_conversations_are_not_read_again_until_someone_else_writes(make_store) -> None:
    async def main() -> None:
        store, other = make_store(), make_store()
        loads = _counting_loads(store)
        tracker = _conversation()
        await store.save(tracker)
        versioned = await store.stored_version("alice") is not None
        first = await store.retrieve("alice")
        assert [e.as_dict() for e in first.events] == [e.as_dict() for e in tracker.events]
        assert first.slots == tracker.slots and first.active_loop_name == "form"
        assert loads == ([] if versioned else ["alice"])
        # what a caller does to its tracker without saving stays out of the store
        first.update(SlotSet(name="city", value="Paris"))
        assert (await store.retrieve("alice")).slots["city"] == "Köln"
        # another worker's write is seen at once
        theirs = await other.retrieve("alice")
        theirs.update(SlotSet(name="city", value="Bonn"))
        await other.save(theirs)
        assert (await store.retrieve("alice")).slots["city"] == "Bonn"
        await other.replace(DialogueStateTracker("alice", events=[UserUttered(text="hi")]))
        replaced = await store.retrieve("alice")
        assert [e.as_dict() for e in replaced.events] == [UserUttered(
            text="hi", timestamp=replaced.events[0].timestamp).as_dict()]
        await other.delete("alice")
        assert await store.retrieve("alice") is None
        await store.close()
        await other.close()

    asyncio.run(main())


def _second_session(tracker: DialogueStateTracker) -> list:
    """The events of a new session that keeps the city, as action_session_start writes."""
    return [ActionExecuted(name="action_session_start"), SessionStarted(),
            SlotSet(name="city", value=tracker.slots["city"]),
            ActionExecuted(name="action_listen"), UserUttered(text="again")]


def test_a_turn_reads_only_the_latest_session(make_store) -> None:
    # as Rasa's stores hand a turn: what came before the latest session start no longer
    # counts, and reading it made every message of a long-lived user slower
    async def main() -> None:
        store, other = make_store(), make_store()
        tracker = _conversation()
        earlier = len(tracker.events)
        tracker.update_with_events(_second_session(tracker))
        await other.save(tracker)
        loads = _counting_loads(store)
        session = await store.retrieve_latest_session("alice")
        assert [e.as_dict() for e in session.events] == [
            e.as_dict() for e in tracker.events[earlier + 1:]]
        assert session.slots["city"] == "Köln" and session.active_loop_name is None
        assert session.latest_message.text == "again"
        assert loads == ["alice"]
        # a whole read still has every session
        assert len(await store.retrieve("alice")) == len(tracker) and len(loads) == 2
        # the turn's events are stored after every earlier one
        start = len(session.events)
        session.update(ActionExecuted(name="utter_hi"))
        await store.save(session, [e.as_dict() for e in session.events[start:]])
        whole = await other.retrieve("alice")
        assert [e.as_dict() for e in whole.events] == [
            e.as_dict() for e in [*tracker.events, session.events[-1]]]
        again = await store.retrieve_latest_session("alice")
        assert [e.as_dict() for e in again.events] == [e.as_dict() for e in session.events]
        # a conversation without a session start is read whole
        await store.save(_conversation("bob"))
        assert len(await store.retrieve_latest_session("bob")) == len(_conversation("bob"))
        assert await store.retrieve_latest_session("nobody") is None
        await store.close()
        await other.close()

    asyncio.run(main())


def test_a_latest_session_saved_without_its_new_events_loses_none(make_store) -> None:
    # save() without new_events stores the events after the stored ones, which a tracker
    # of the latest session alone does not hold: it counted the earlier sessions' events
    # as its own, and a turn of more events than they were lost its first ones
    async def main() -> None:
        store = make_store()
        tracker = _conversation()
        tracker.update_with_events(_second_session(tracker))
        await store.save(tracker)
        session = await store.retrieve_latest_session("alice")
        said = [BotUttered(text=f"message {n}") for n in range(len(tracker.events))]
        session.update_with_events(said)
        await store.save(session)
        session.update(ActionExecuted(name="action_listen"))
        await store.save(session)  # and again, after more
        whole = await store.retrieve("alice")
        assert [e.as_dict() for e in whole.events] == [
            e.as_dict() for e in [*tracker.events, *said, session.events[-1]]]
        await store.close()

    asyncio.run(main())


def test_kept_conversations_hold_at_most_the_event_budget(make_store, monkeypatch) -> None:
    # room for one conversation of seven events, not two
    monkeypatch.setattr(TrackerStore, "recent_events", 10)

    async def main() -> None:
        store = make_store()
        if not await _versioned(store):
            await store.close()
            pytest.skip("this backend keeps no conversations between messages")
        loads = _counting_loads(store)
        await store.save(_conversation("alice"))
        await store.save(_conversation("bob"))  # alice, the older, makes room
        assert len(await store.retrieve("bob")) == 7 and loads == []
        assert len(await store.retrieve("alice")) == 7 and loads == ["alice"]
        assert len(await store.retrieve("alice")) == 7 and loads == ["alice"]  # kept again
        assert store._recent.weight <= 10
        await store.close()

    asyncio.run(main())


async def _versioned(store: TrackerStore) -> bool:
    await store.save(_conversation("probe"))
    versioned = await store.stored_version("probe") is not None
    await store.delete("probe")
    return versioned


def test_kept_events_are_what_the_store_holds_not_the_callers_objects(make_store) -> None:
    async def main() -> None:
        store = make_store()
        tracker = DialogueStateTracker("erin")
        tracker.update(UserUttered(text="call me at 555 0100"))
        await store.save(tracker, [dict(tracker.events[0].as_dict(), text="call me at [PHONE]")])
        tracker.update(ActionExecuted(name="utter_ok"))
        await store.save(tracker, [tracker.events[1].as_dict()])
        kept = await store.retrieve("erin")
        assert [e.as_dict() for e in kept.events] == [e.as_dict() for e in (
            await make_store().retrieve("erin")).events]
        assert kept.events[0].text == "call me at [PHONE]" and len(kept.events) == 2
        await store.close()

    asyncio.run(main())


def test_a_write_in_the_same_instant_still_changes_the_version(monkeypatch) -> None:
    from dialogflowlite.stores import base

    monkeypatch.setattr(base.time, "time", lambda: 1000.0)
    first = base.next_write_time(None)
    second = base.next_write_time(first)
    assert first == 1000.0 and second > first
    assert base.next_write_time(2000.0) > 2000.0  # the clock stepped back


def test_sqlite_open_waits_out_a_locked_new_file(tmp_path: Path, monkeypatch) -> None:
    import sqlite3

    from dialogflowlite.stores.sqlite import SQLiteDatabase

    real_open = SQLiteDatabase._open
    attempts: list[int] = []

    def racing_open(self: SQLiteDatabase) -> sqlite3.Connection:
        attempts.append(1)
        if len(attempts) < 3:  # another worker is switching the new file to WAL
            raise sqlite3.OperationalError("database is locked")
        return real_open(self)

    monkeypatch.setattr(SQLiteDatabase, "_open", racing_open)
    database = SQLiteDatabase(tmp_path / "trackers.db", timeout=5)
    try:
        assert database.run_sync(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0]) \
            == "wal"
    finally:
        database.close()
    assert len(attempts) == 3

    def broken_open(self: SQLiteDatabase) -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(SQLiteDatabase, "_open", broken_open)
    with pytest.raises(TrackerStoreError, match="cannot open the SQLite tracker store"):
        SQLiteDatabase(tmp_path / "other.db", timeout=5).run_sync(lambda c: None)


def test_a_path_given_as_the_domain_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="pass a file or URL by keyword"):
        SQLiteTrackerStore(tmp_path / "bot.db")
    with pytest.raises(TypeError, match="the first argument is the domain"):
        SQLiteTrackerStore("bot.db")
    assert not (tmp_path / "bot.db").exists()


#: stored events the HTTP API would refuse, each with the field its warning names
UNREADABLE = [
    ({"event": "active_loop", "name": 5, "timestamp": 2.0}, "'name'"),
    ({"event": "user", "text": 123, "timestamp": 2.0}, "'text'"),
    ({"event": "teleport", "timestamp": 2.0}, "unknown event type 'teleport'"),
    ({"event": "slot", "name": ["city"], "value": "Rome", "timestamp": 2.0}, "'name'"),
]


def test_stored_events_that_fail_the_checks_are_skipped_and_kept(make_store, caplog) -> None:
    async def main() -> None:
        store, other = make_store(), make_store()
        tracker = _conversation("frank")
        await store.save(tracker)
        # written past the checks, as an older version or a hand edit would have
        await store.append_events("frank", [event for event, _ in UNREADABLE])
        stored = await store.load_events("frank")
        with caplog.at_level("WARNING", logger="dialogflowlite.stores"):
            loaded = await other.retrieve("frank")
        assert [e.as_dict() for e in loaded.events] == [e.as_dict() for e in tracker.events]
        assert loaded.active_loop_name == "form" and loaded.slots["city"] == "Köln"
        for index, (_, field) in enumerate(UNREADABLE, start=len(tracker.events)):
            [record] = [r for r in caplog.records if f"stored event {index} " in r.message]
            assert "'frank'" in record.message and field in record.message
        # nothing was rewritten or deleted
        assert await other.load_events("frank") == stored
        assert await other.count_events("frank") == len(tracker.events) + len(UNREADABLE)
        # a later turn is stored after them, and read back without them
        loaded.update(UserUttered(text="again"))
        await other.save(loaded)
        again = await make_store().retrieve("frank")
        assert [e.as_dict() for e in again.events] == [e.as_dict() for e in loaded.events]
        assert len(await store.load_events("frank")) == len(stored) + 1
        await store.close()
        await other.close()

    asyncio.run(main())


#: conversation ids the HTTP API lets through, and some the Python API does
ODD_IDS = [":senders", ":senders:x", "a b/ç?#%&'\"\\;--", "🚆 Köln", "tag:1:next", "x" * 255]


def test_conversation_ids_with_odd_characters_are_kept_apart(make_store) -> None:
    async def main() -> None:
        store = make_store()
        for number, sender in enumerate(ODD_IDS):
            tracker = DialogueStateTracker(sender)
            tracker.update(SlotSet(name="city", value=f"city {number}"))
            # (the Redis store's set of conversations was named like the id ':senders',
            # so that conversation could not be stored)
            await store.save(tracker)
        assert sorted(await store.keys()) == sorted(ODD_IDS)
        for number, sender in enumerate(ODD_IDS):
            loaded = await make_store().retrieve(sender)
            assert loaded.slots["city"] == f"city {number}" and len(loaded.events) == 1
        await store.delete(":senders")
        assert sorted(await store.keys()) == sorted(ODD_IDS[1:])
        assert (await store.retrieve(":senders:x")).slots["city"] == "city 1"
        await store.close()

    asyncio.run(main())
