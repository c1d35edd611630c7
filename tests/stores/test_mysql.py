"""What only the MySQL/MariaDB tracker store does: Rasa's table, utf8mb4, its errors."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest

from dialogflowlite.errors import ConfigError, TrackerStoreError
from dialogflowlite.shared.events import ActionExecuted, SlotSet, UserUttered
from dialogflowlite.shared.tracker import DialogueStateTracker
from dialogflowlite.stores.factory import create_tracker_store
from dialogflowlite.stores.mysql import RASA_COLUMNS, MySQLTrackerStore, connect_settings

#: Rasa's SQLTrackerStore table as SQLAlchemy creates it on MySQL (MariaDB's default latin1)
RASA_DDL = """CREATE TABLE events (
    id INTEGER NOT NULL AUTO_INCREMENT,
    sender_id VARCHAR(255) NOT NULL,
    type_name VARCHAR(255) NOT NULL,
    timestamp FLOAT,
    intent_name VARCHAR(255),
    action_name VARCHAR(255),
    data TEXT,
    PRIMARY KEY (id)
) DEFAULT CHARSET=latin1"""


def _query(url: str, statement: str, args: tuple = ()) -> list[tuple]:
    """Run one statement in the database of ``url`` outside the store (as Rasa or a user)."""
    import pymysql

    with pymysql.connect(**connect_settings(url), autocommit=True) as connection, \
            connection.cursor() as cursor:
        cursor.execute(statement, args)
        return list(cursor.fetchall())


def _turn(sender: str, text: str) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender)
    tracker.update_with_events([
        ActionExecuted(name="action_listen"),
        UserUttered(text=text, parse_data={"intent": {"name": "greet", "confidence": 1.0},
                                           "entities": []}),
        SlotSet(name="city", value="Köln"),
        ActionExecuted(name="utter_greet"),
    ])
    return tracker


@pytest.mark.mysql
def test_events_are_rows_of_rasas_events_table(mysql_db: str) -> None:
    async def main() -> None:
        store = MySQLTrackerStore(url=mysql_db)
        await store.save(_turn("ann", "hello"))
        await store.close()

    asyncio.run(main())
    columns = [row[0] for row in _query(
        mysql_db, "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                  "DATABASE() AND table_name = 'events' ORDER BY ordinal_position")]
    assert tuple(columns) == RASA_COLUMNS
    rows = _query(mysql_db, "SELECT sender_id, type_name, intent_name, action_name, timestamp, "
                            "data FROM events ORDER BY id")
    # Rasa's columns: the intent of user messages, an event's `name` as action_name
    assert [row[:4] for row in rows] == [
        ("ann", "action", None, "action_listen"), ("ann", "user", "greet", None),
        ("ann", "slot", None, "city"), ("ann", "action", None, "utter_greet")]
    stored = [json.loads(row[5]) for row in rows]
    assert [e["event"] for e in stored] == ["action", "user", "slot", "action"]
    assert all(row[4] == e["timestamp"] for row, e in zip(rows, stored, strict=True))
    # Rasa's query for a conversation still works
    assert len(_query(mysql_db, "SELECT data FROM events WHERE sender_id = %s "
                                "ORDER BY timestamp", ("ann",))) == 4


@pytest.mark.mysql
def test_emoji_and_other_four_byte_text_is_stored_as_text(mysql_db: str) -> None:
    sender = "用户-🚆"

    async def main() -> None:
        store = MySQLTrackerStore(url=mysql_db)
        await store.save(_turn(sender, "nach Köln 🚆 𝄞"))
        assert await store.keys() == [sender]
        other = MySQLTrackerStore(url=mysql_db)
        loaded = await other.retrieve(sender)
        assert loaded.latest_message.text == "nach Köln 🚆 𝄞"
        # sender ids are exact: another case is another conversation
        assert await other.retrieve(sender.upper() + "X") is None
        await store.close()
        await other.close()

    asyncio.run(main())
    (data,) = _query(mysql_db, "SELECT data FROM events WHERE type_name = 'user'")[0]
    assert "nach Köln 🚆 𝄞" in data  # real text, not \\u escapes
    charsets = {row[0] for row in _query(
        mysql_db, "SELECT character_set_name FROM information_schema.columns WHERE "
                  "table_schema = DATABASE() AND character_set_name IS NOT NULL")}
    assert charsets == {"utf8mb4"}


@pytest.mark.mysql
def test_sender_ids_differing_in_case_are_two_conversations(mysql_db: str) -> None:
    async def main() -> None:
        store = MySQLTrackerStore(url=mysql_db)
        await store.save(_turn("Alice", "hi"))
        await store.save(DialogueStateTracker("alice", events=[SlotSet(name="x", value=1)]))
        assert await store.keys() == ["Alice", "alice"]
        assert await store.count_events("Alice") == 4
        assert await store.count_events("alice") == 1
        await store.close()

    asyncio.run(main())


@pytest.mark.mysql
def test_a_table_rasa_filled_is_read_and_continued(mysql_db: str) -> None:
    _query(mysql_db, RASA_DDL)
    rasa_events = [e.as_dict() for e in _turn("bob", "grüß dich").events]
    for event in rasa_events:  # as Rasa writes them: json.dumps with ASCII escapes
        _query(mysql_db, "INSERT INTO events (sender_id, type_name, timestamp, intent_name, "
                         "action_name, data) VALUES (%s, %s, %s, %s, %s, %s)",
               ("bob", event["event"], event["timestamp"],
                (event.get("parse_data") or {}).get("intent", {}).get("name"),
                event.get("name"), json.dumps(event)))

    async def main() -> None:
        store = MySQLTrackerStore(url=mysql_db)
        assert await store.keys() == ["bob"]
        assert await store.exists("bob")
        assert await store.count_events("bob") == 4
        tracker = await store.retrieve("bob")
        assert tracker.latest_message.text == "grüß dich"
        tracker.update(UserUttered(text="weiter 🚆"))
        await store.save(tracker)
        other = MySQLTrackerStore(url=mysql_db)
        loaded = await other.retrieve("bob")
        assert [e.as_dict() for e in loaded.events] == [e.as_dict() for e in tracker.events]
        assert await other.count_events("bob") == 5
        # from now on the conversation is versioned: the next retrieve reads nothing
        assert await other.stored_version("bob") is not None
        await store.close()
        await other.close()

    asyncio.run(main())
    # a latin1 column cannot hold the emoji: the JSON escapes it, as Rasa's does
    (data,) = _query(mysql_db, "SELECT data FROM events ORDER BY id DESC LIMIT 1")[0]
    assert "\\ud83d\\ude86" in data and json.loads(data)["text"] == "weiter 🚆"


@pytest.mark.mysql
def test_workers_creating_the_tables_at_once_take_turns(mysql_db: str) -> None:
    async def main() -> None:
        stores = [MySQLTrackerStore(url=mysql_db, pool_size=1) for _ in range(6)]
        # warnings are errors in the tests: a second CREATE TABLE IF NOT EXISTS would fail
        assert await asyncio.gather(*(s.exists("x") for s in stores)) == [False] * 6
        await asyncio.gather(*(s.save(_turn(f"u{n}", "hi")) for n, s in enumerate(stores)))
        assert await stores[0].keys() == [f"u{n}" for n in range(6)]
        for store in stores:
            await store.close()

    asyncio.run(main())
    tables = sorted(row[0] for row in _query(
        mysql_db, "SELECT table_name FROM information_schema.tables "
                  "WHERE table_schema = DATABASE()"))
    assert tables == ["dfl_conversations", "events"]


@pytest.mark.mysql
def test_bad_credentials_and_a_missing_database_are_clear_errors(mysql_db: str) -> None:
    settings = connect_settings(mysql_db)
    common = {"url": settings["host"], "port": settings["port"], "connect_timeout": 5}

    async def attempt(**settings: object) -> TrackerStoreError:
        store = MySQLTrackerStore(**common, **settings)
        with pytest.raises(TrackerStoreError) as error:
            await store.retrieve("x")
        return error.value

    wrong = asyncio.run(attempt(db=settings["db"], username=settings["user"], password="wrong"))
    assert f"cannot connect to MySQL at {settings['host']}:{settings['port']}" in str(wrong)
    assert "Access denied" in wrong.message and "password" in wrong.hint
    assert "wrong" not in wrong.message  # the password is not repeated
    missing = asyncio.run(attempt(db="no_such_db", username=settings["user"],
                                  password=settings["password"]))
    assert "Unknown database 'no_such_db'" in missing.message
    assert "CREATE DATABASE `no_such_db` CHARACTER SET utf8mb4" in missing.hint


@pytest.mark.mysql
def test_an_event_brokers_table_is_not_taken_for_rasas(mysql_db: str) -> None:
    _query(mysql_db, "CREATE TABLE events (id INTEGER AUTO_INCREMENT PRIMARY KEY, "
                     "sender_id VARCHAR(255), data TEXT)")
    store = MySQLTrackerStore(url=mysql_db)
    with pytest.raises(TrackerStoreError, match="is not a tracker store's") as error:
        asyncio.run(store.retrieve("x"))
    assert "type_name" in error.value.message and "database each" in error.value.hint


@pytest.mark.mysql
def test_a_value_too_long_for_its_column_is_an_error_not_cut(mysql_db: str) -> None:
    async def main() -> None:
        store = MySQLTrackerStore(url=mysql_db)
        with pytest.raises(TrackerStoreError, match="too long"):
            await store.save(_turn("x" * 256, "hi"))
        assert await store.keys() == []
        await store.save(_turn("y" * 255, "hi"))  # Rasa's limit still fits
        assert await store.keys() == ["y" * 255]
        await store.close()

    asyncio.run(main())


@pytest.mark.mysql
def test_a_connection_the_server_dropped_is_replaced(mysql_db: str, monkeypatch) -> None:
    from dialogflowlite.stores import mysql

    monkeypatch.setattr(mysql, "PING_AFTER_IDLE", 0.0)

    async def main() -> None:
        store = MySQLTrackerStore(url=mysql_db, pool_size=1)
        await store.save(_turn("cy", "hi"))
        # what the server's wait_timeout does to a connection idle overnight
        name = connect_settings(mysql_db)["db"]
        ids = _query(mysql_db, "SELECT id FROM information_schema.processlist WHERE db = %s "
                               "AND id <> CONNECTION_ID()", (name,))
        assert len(ids) == 1
        _query(mysql_db, f"KILL {int(ids[0][0])}")
        assert await store.count_events("cy") == 4
        await store.close()

    asyncio.run(main())


def _kill_connections(url: str) -> int:
    """End the store's connections to the database of ``url``, as a server restart does."""
    name = connect_settings(url)["db"]
    ids = _query(url, "SELECT id FROM information_schema.processlist WHERE db = %s "
                      "AND id <> CONNECTION_ID()", (name,))
    for (number,) in ids:
        _query(url, f"KILL {int(number)}")
    return len(ids)


@pytest.mark.mysql
def test_reads_after_a_server_restart_are_answered_on_fresh_connections(mysql_db: str) -> None:
    async def main() -> None:
        store = MySQLTrackerStore(url=mysql_db, pool_size=3)
        await asyncio.gather(*(store.save(_turn(f"c{n}", "hi")) for n in range(3)))
        assert _kill_connections(mysql_db) == 3
        # each pooled connection, used within the last 30 s and so not pinged, failed
        # one message with a 503 before it was let go
        counts = await asyncio.gather(*(store.count_events(f"c{n}") for n in range(3)))
        assert counts == [4, 4, 4]
        _kill_connections(mysql_db)
        assert await store.keys() == ["c0", "c1", "c2"]
        await store.close()

    asyncio.run(main())


@pytest.mark.mysql
def test_a_deadlock_victim_is_run_again(mysql_db: str) -> None:
    import pymysql

    attempts: list[int] = []

    async def work(cursor) -> str:
        attempts.append(1)
        await cursor.execute("SELECT 1")
        if len(attempts) == 1:
            raise pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock")
        return "done"

    async def main() -> None:
        store = MySQLTrackerStore(url=mysql_db, pool_size=1)
        assert await store._transaction(work) == "done"
        await store.close()

    asyncio.run(main())
    assert len(attempts) == 2


def test_an_unreachable_mysql_server_is_a_clear_error() -> None:
    pytest.importorskip("aiomysql")
    store = MySQLTrackerStore(url="127.0.0.1", port=1, db="none", connect_timeout=2)
    with pytest.raises(TrackerStoreError, match=r"cannot connect to MySQL at 127\.0\.0\.1:1:"):
        asyncio.run(store.retrieve("x"))
    with pytest.raises(TrackerStoreError) as error:
        asyncio.run(store.retrieve("x"))
    assert "Connect call failed" in error.value.message  # the reason, not only "can't connect"
    assert "the server runs" in error.value.hint


def test_rasa_settings_become_connection_arguments() -> None:
    settings = connect_settings("db.internal", 3307, "rasa", "bot", "p@ss", {"charset": "utf8mb4"})
    assert settings == {"host": "db.internal", "port": 3307, "db": "rasa", "user": "bot",
                        "password": "p@ss", "charset": "utf8mb4"}
    assert connect_settings("db.internal:3310")["port"] == 3310
    url = connect_settings("mysql+pymysql://bot:p%40ss@db.internal:3308/rasa?charset=utf8",
                           db="ignored", username="ignored")
    assert url == {"host": "db.internal", "port": 3308, "db": "rasa", "user": "bot",
                   "password": "p@ss", "charset": "utf8mb4"}
    assert connect_settings("mariadb://db.internal/rasa", query={
        "unix_socket": "/run/mysqld/mysqld.sock"})["unix_socket"] == "/run/mysqld/mysqld.sock"
    with pytest.raises(ConfigError, match="charset 'latin1' cannot hold every message"):
        connect_settings(query={"charset": "latin1"})
    with pytest.raises(ConfigError, match="no query option 'sslmode'") as error:
        connect_settings(query={"sslmode": "require"})
    assert "ssl_ca" in error.value.hint
    with pytest.raises(ConfigError, match="is not a MySQL URL"):
        connect_settings("postgresql://db.internal/rasa")


def test_rasa_mysql_sections_build_the_mysql_store(plugin_manager) -> None:
    pytest.importorskip("aiomysql")
    for dialect in ("mysql", "mysql+pymysql", "mysql+aiomysql", "mariadb", "MySQL"):
        store = create_tracker_store({
            "type": "SQL", "dialect": dialect, "url": "db.internal", "port": 3306, "db": "rasa",
            "username": "bot", "password": "pw", "query": {"charset": "utf8mb4"},
            "login_db": "mysql"})
        assert isinstance(store, MySQLTrackerStore)
        assert store.settings == {"host": "db.internal", "port": 3306, "db": "rasa",
                                  "user": "bot", "password": "pw", "charset": "utf8mb4"}
    with pytest.raises(ConfigError, match="no setting 'pool_sise'") as error:
        create_tracker_store({"type": "SQL", "dialect": "mysql", "pool_sise": 3})
    assert "pool_size" in str(error.value.hint)


def test_a_missing_driver_names_the_extra(monkeypatch, plugin_manager) -> None:
    monkeypatch.setitem(sys.modules, "aiomysql", None)  # import aiomysql now fails
    with pytest.raises(ConfigError, match="needs aiomysql") as error:
        create_tracker_store({"type": "SQL", "dialect": "mysql", "url": "db.internal"})
    assert "pip install 'dialogflowlite[mysql]'" in error.value.hint
