"""Event brokers: every stored event, once, in order, as the tracker store holds it."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from ci_services import service_url
from serving_helpers import request

from dialogflowlite import hookimpl
from dialogflowlite.brokers.base import EventBroker, create_event_broker
from dialogflowlite.brokers.file import FileEventBroker
from dialogflowlite.brokers.sql import SQLEventBroker
from dialogflowlite.errors import ConfigError, EventBrokerError
from dialogflowlite.plugins.builtin import masking


def load_agent(model: Path, broker: EventBroker | None) -> Any:
    from dialogflowlite.agent import Agent
    from dialogflowlite.stores.memory import MemoryLockStore, MemoryTrackerStore

    return Agent.load(model, tracker_store=MemoryTrackerStore(), lock_store=MemoryLockStore(),
                      event_broker=broker)


def converse(agent: Any, turns: list[tuple[str, str]]) -> dict[str, list[dict]]:
    """Send the turns, close the agent; the tracker store's events per sender."""

    async def run() -> dict[str, list[dict]]:
        for sender, text in turns:
            await agent.handle_text(text, sender)
        stored = {sender: await agent.tracker_store.load_events(sender)
                  for sender in dict.fromkeys(s for s, _ in turns)}
        await agent.close_async()
        return stored

    return asyncio.run(run())


def by_sender(published: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for event in published:
        event = dict(event)
        found.setdefault(event.pop("sender_id"), []).append(event)
    return found


TURNS = [("ann", "/greet"), ("bob", "/ask_choice"), ("ann", '/choose{"colour": "red"}'),
         ("bob", "/goodbye")]


def test_file_broker_writes_every_stored_event_once_in_order(tiny_model: Path,
                                                              tmp_path: Path) -> None:
    broker = create_event_broker({"type": "file", "path": "logs/events.log"}, project=tmp_path)
    assert isinstance(broker, FileEventBroker)
    stored = converse(load_agent(tiny_model, broker), TURNS)
    lines = (tmp_path / "logs" / "events.log").read_text(encoding="utf-8").splitlines()
    published = [json.loads(line) for line in lines]
    assert all(next(iter(event)) == "sender_id" for event in published)
    assert by_sender(published) == stored
    ann = [e["event"] for e in by_sender(published)["ann"]]
    assert ann.count("user") == 2 and "bot" in ann
    bot = next(e for e in published if e["event"] == "bot" and e["sender_id"] == "ann")
    assert bot["text"] == "Hello! How can I help?"
    # a second agent on the same file appends (a restart loses nothing written before)
    again = create_event_broker({"type": "file", "path": "logs/events.log"}, project=tmp_path)
    converse(load_agent(tiny_model, again), [("cy", "/greet")])
    after = (tmp_path / "logs" / "events.log").read_text(encoding="utf-8").splitlines()
    assert after[: len(lines)] == lines and len(after) > len(lines)


def test_sql_broker_on_sqlite_fills_rasas_events_table(tiny_model: Path, tmp_path: Path) -> None:
    broker = create_event_broker({"type": "SQL", "dialect": "sqlite", "db": "events.db"},
                                 project=tmp_path)
    assert isinstance(broker, SQLEventBroker)
    stored = converse(load_agent(tiny_model, broker), TURNS)
    with sqlite3.connect(tmp_path / "events.db") as connection:
        rows = connection.execute("SELECT id, sender_id, data FROM events ORDER BY id").fetchall()
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    published = [json.loads(data) for _, _, data in rows]
    assert [r[1] for r in rows] == [e["sender_id"] for e in published]
    assert by_sender(published) == stored


def test_sql_broker_on_postgres(tiny_model: Path) -> None:
    url = service_url("DFL_TEST_POSTGRES_URL", "PostgreSQL")
    import psycopg

    sender = f"pg-{uuid.uuid4().hex[:8]}"
    broker = create_event_broker({"type": "sql", "dialect": "postgresql", "url": url})
    stored = converse(load_agent(tiny_model, broker), [(sender, "/greet"),
                                                       (sender, "/goodbye")])
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT data FROM events WHERE sender_id = %s ORDER BY id",
                                  (sender,)).fetchall()
        connection.execute("DELETE FROM events WHERE sender_id = %s", (sender,))
    assert by_sender([json.loads(r[0]) for r in rows]) == stored


@pytest.mark.mysql
def test_sql_broker_on_mysql(tiny_model: Path) -> None:
    url = service_url("DFL_TEST_MYSQL_URL", "MySQL/MariaDB")
    pymysql = pytest.importorskip("pymysql")
    from dialogflowlite.stores.mysql import connect_settings

    sender = f"my-{uuid.uuid4().hex[:8]}-🚆"
    broker = create_event_broker({"type": "SQL", "dialect": "mysql+pymysql", "url": url})
    assert isinstance(broker, SQLEventBroker)
    stored = converse(load_agent(tiny_model, broker), [(sender, "/greet"),
                                                       (sender, "/goodbye")])
    with pymysql.connect(**connect_settings(url), autocommit=True) as connection, \
            connection.cursor() as cursor:
        cursor.execute("SELECT id, data FROM events WHERE sender_id = %s ORDER BY id", (sender,))
        rows = cursor.fetchall()
        cursor.execute("DELETE FROM events WHERE sender_id = %s", (sender,))
    assert by_sender([json.loads(r[1]) for r in rows]) == stored
    assert sender in rows[0][1]  # utf8mb4: the sender id is text, not escapes


@pytest.mark.mysql
def test_sql_broker_on_mysql_replaces_a_connection_the_server_dropped(monkeypatch) -> None:
    url = service_url("DFL_TEST_MYSQL_URL", "MySQL/MariaDB")
    pymysql = pytest.importorskip("pymysql")
    from dialogflowlite.stores import mysql

    monkeypatch.setattr(mysql, "PING_AFTER_IDLE", 0.0)
    sender = f"my-{uuid.uuid4().hex[:8]}"
    broker = create_event_broker({"type": "SQL", "dialect": "mysql", "url": url})

    async def main() -> None:
        await broker.publish_many([{"sender_id": sender, "event": "restart"}])
        # what the server's wait_timeout does to a connection idle overnight
        with pymysql.connect(**mysql.connect_settings(url)) as admin, admin.cursor() as cursor:
            cursor.execute(f"KILL {int(broker._mysql.thread_id())}")
        await broker.publish_many([{"sender_id": sender, "event": "action_listen"}])
        await broker.close()

    asyncio.run(main())
    with pymysql.connect(**mysql.connect_settings(url), autocommit=True) as connection, \
            connection.cursor() as cursor:
        cursor.execute("SELECT data FROM events WHERE sender_id = %s ORDER BY id", (sender,))
        rows = cursor.fetchall()
        cursor.execute("DELETE FROM events WHERE sender_id = %s", (sender,))
    assert [json.loads(r[0])["event"] for r in rows] == ["restart", "action_listen"]


def test_sql_broker_on_an_unreachable_mysql_server_is_a_clear_error() -> None:
    pytest.importorskip("aiomysql")
    broker = create_event_broker({"type": "SQL", "dialect": "mariadb", "url": "127.0.0.1",
                                  "port": 1, "db": "events", "timeout": 2})
    with pytest.raises(EventBrokerError, match=r"cannot connect to MySQL at 127\.0\.0\.1:1:"):
        asyncio.run(broker.publish_many([{"sender_id": "x", "event": "restart"}]))
    asyncio.run(broker.close())


def test_sql_broker_on_an_unreachable_postgres_server_is_a_clear_error() -> None:
    pytest.importorskip("psycopg")
    broker = create_event_broker({"type": "SQL", "dialect": "postgresql", "url": "127.0.0.1",
                                  "port": 1, "db": "events", "timeout": 2})
    with pytest.raises(EventBrokerError, match="PostgreSQL event broker: ") as error:
        asyncio.run(broker.publish_many([{"sender_id": "x", "event": "restart"}]))
    assert "endpoints.yml" in str(error.value.hint)
    assert broker._postgres is None  # nothing half-open is kept for the next turn
    asyncio.run(broker.close())


def test_brokers_see_masked_events_like_the_store(make_app, tiny_model: Path,
                                                  tmp_path: Path) -> None:
    broker = FileEventBroker(tmp_path / "events.log")
    agent = load_agent(tiny_model, broker)
    app = make_app(agent=agent, endpoints={"masking": {"enabled": True}})
    async def main() -> None:
        await request(app, "post", "/webhooks/rest/webhook",
                      json={"sender": "mia",
                            "message": '/inform_email{"email": "jo@example.com"}'})
        assert await broker.flush(10)

    try:
        asyncio.run(main())
    finally:
        masking.configure(None)
    text = (tmp_path / "events.log").read_text(encoding="utf-8")
    assert "jo@example.com" not in text and "[EMAIL]" in text
    stored = asyncio.run(agent.tracker_store.load_events("mia"))
    assert by_sender([json.loads(line) for line in text.splitlines()]) == {"mia": stored}


class ListBroker(EventBroker):
    """A broker a plugin adds: it keeps what it gets, or fails when told to."""

    published: list[dict] = []

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    async def publish_many(self, events: list[dict[str, Any]]) -> None:
        if self.fail:
            raise ConnectionError("the queue is down")
        type(self).published.extend(events)


class ListBrokerPlugin:
    @hookimpl
    def dfl_register_event_brokers(self) -> dict[str, type]:
        return {"list": ListBroker}


def test_plugins_add_broker_types(register_plugin, tiny_model: Path) -> None:
    register_plugin(ListBrokerPlugin(), "list-broker")
    ListBroker.published = []
    broker = create_event_broker({"type": "list"})
    stored = converse(load_agent(tiny_model, broker), [("dee", "/greet")])
    assert by_sender(ListBroker.published) == stored


def test_a_failing_broker_is_logged_and_loses_no_stored_event(register_plugin, tiny_model: Path,
                                                              caplog) -> None:
    register_plugin(ListBrokerPlugin(), "list-broker")
    agent = load_agent(tiny_model, create_event_broker({"type": "list", "fail": True}))

    async def run() -> tuple[list[dict], list[dict]]:
        replies = await agent.handle_text("/greet", "eve")
        assert await agent.event_broker.flush(10)
        return replies, await agent.tracker_store.load_events("eve")

    with caplog.at_level(logging.ERROR):
        replies, stored = asyncio.run(run())
    assert replies == [{"recipient_id": "eve", "text": "Hello! How can I help?"}]
    assert [e["event"] for e in stored].count("user") == 1
    assert f"could not publish {len(stored)} event(s) of conversation 'eve'" in caplog.text
    assert "the queue is down" in caplog.text


def test_configuration_errors_name_the_setting(tmp_path: Path) -> None:
    assert create_event_broker(None) is None
    with pytest.raises(ConfigError, match="unknown event broker type 'kafka'") as error:
        create_event_broker({"type": "kafka", "url": "localhost"})
    assert "a plugin can add it" in str(error.value.hint)
    assert "SQL" in str(error.value.hint) and "file" in str(error.value.hint)
    with pytest.raises(ConfigError, match="FileEventBroker has no setting 'paht'") as error:
        create_event_broker({"type": "file", "paht": "x.log"})
    assert "path" in str(error.value.hint)
    with pytest.raises(ConfigError, match="has no `type:`"):
        create_event_broker({"path": "x.log"})
    with pytest.raises(ConfigError, match="SQL dialect 'oracle' is not supported"):
        create_event_broker({"type": "SQL", "dialect": "oracle"})


def test_run_checks_the_broker_before_serving(tiny_project: Path) -> None:
    from dialogflowlite.server.app import ServerConfig
    from dialogflowlite.server.serve import check_config

    (tiny_project / "endpoints.yml").write_text("event_broker:\n  type: kafka\n",
                                                encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown event broker type 'kafka'"):
        check_config(ServerConfig(project=str(tiny_project)), workers=1)


def test_the_server_builds_the_broker_and_a_model_swap_keeps_it(tiny_project: Path) -> None:
    from dialogflowlite.server.app import ServerConfig
    from dialogflowlite.server.models import load_server_agent

    (tiny_project / "endpoints.yml").write_text(
        "event_broker:\n  type: file\n  path: events.log\n", encoding="utf-8")
    config = ServerConfig(project=str(tiny_project))
    agent, _ = load_server_agent(config)
    assert isinstance(agent.event_broker, FileEventBroker)
    assert agent.event_broker.path == tiny_project / "events.log"
    swapped, _ = load_server_agent(config, stores=(agent.tracker_store, agent.lock_store,
                                                   agent.event_broker))
    assert swapped.event_broker is agent.event_broker

    async def greet() -> None:
        await swapped.handle_text("/greet", "fay")
        await swapped.close_async()

    asyncio.run(greet())
    assert '"sender_id": "fay"' in (tiny_project / "events.log").read_text(encoding="utf-8")


class GatedBroker(EventBroker):
    """Publishes only once the test opens the gate."""

    max_pending = 8  # the first turn (8 events) fits, the second does not

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.published: list[dict] = []

    async def publish_many(self, events: list[dict[str, Any]]) -> None:
        await self.gate.wait()
        self.published.extend(events)


def test_answers_do_not_wait_for_the_broker_and_order_is_kept(tiny_model: Path,
                                                              caplog) -> None:
    broker = GatedBroker()
    agent = load_agent(tiny_model, broker)

    async def run() -> tuple[list[dict], list[dict]]:
        # the broker publishes nothing until the gate opens: an answer that waited
        # for it would never come
        first = await asyncio.wait_for(agent.handle_text("/greet", "gus"), 10)
        await asyncio.wait_for(agent.handle_text("/goodbye", "gus"), 10)
        assert broker.published == []
        broker.gate.set()
        assert await broker.flush(10)
        return first, await agent.tracker_store.load_events("gus")

    with caplog.at_level(logging.ERROR):
        first, stored = asyncio.run(run())
    assert first == [{"recipient_id": "gus", "text": "Hello! How can I help?"}]
    # more than max_pending events waited: the turn that did not fit was dropped, logged
    kept = by_sender(broker.published)["gus"]
    assert kept == stored[:8] and len(stored) > 8
    assert "8 events wait to be published" in caplog.text and "are dropped" in caplog.text


def test_shutdown_waits_a_bounded_time_for_a_stuck_broker(tiny_model: Path, caplog) -> None:
    broker = GatedBroker()
    broker.shutdown_timeout = 0.2
    agent = load_agent(tiny_model, broker)

    async def run() -> None:
        await agent.handle_text("/greet", "hal")
        await agent.close_async()  # the gate never opens

    with caplog.at_level(logging.ERROR):
        asyncio.run(asyncio.wait_for(run(), 10))
    assert "8 event(s) were not published within 0.2 s of shutting down" in caplog.text


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize(("file", "text", "error"), [
    # the file read, and the setting's line
    ("credentials.yml", "socketio:\n  bot_mesage_evt: bot_uttered\n",
     "credentials.yml:2: socketio: no setting 'bot_mesage_evt'"),
    ("endpoints.yml", "tracker_store:\n  type: redis\n  ulr: localhost\n",
     "RedisTrackerStore has no setting 'ulr'"),
    ("endpoints.yml", "lock_store:\n  type: redis\n  lifetim: 3\n", "no setting 'lifetim'"),
])
def test_a_wrong_channel_or_store_setting_stops_run_before_it_says_it_serves(
        tiny_project: Path, monkeypatch, caplog, workers: int, file: str, text: str,
        error: str) -> None:
    from sanic import Sanic

    from dialogflowlite.server.app import ServerConfig
    from dialogflowlite.server.serve import serve

    def no_server(*args, **kwargs):
        raise AssertionError("the server started")

    monkeypatch.setattr(Sanic, "run", no_server)
    monkeypatch.setattr(Sanic, "serve", no_server)
    (tiny_project / file).write_text(text, encoding="utf-8")
    with caplog.at_level("INFO"), pytest.raises(ConfigError, match=error):
        serve(ServerConfig(project=str(tiny_project)), port=0, workers=workers)
    assert "serving" not in caplog.text


@pytest.mark.parametrize("section", [{"type": "file", "path": "logs"},
                                     {"type": "SQL", "dialect": "sqlite", "db": "logs"}])
def test_a_broker_file_that_cannot_be_written_stops_run_before_serving(tiny_project: Path,
                                                                       section: dict) -> None:
    from dialogflowlite.server.app import ServerConfig
    from dialogflowlite.server.serve import check_config

    # a folder where the file should be: every turn's events failed, in the log only
    (tiny_project / "logs").mkdir()
    settings = "".join(f"  {key}: {value}\n" for key, value in section.items())
    (tiny_project / "endpoints.yml").write_text(f"event_broker:\n{settings}", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot be opened") as error:
        check_config(ServerConfig(project=str(tiny_project)), workers=1)
    assert str(tiny_project / "logs") in error.value.message
    assert "event_broker" in str(error.value.hint)


def test_checking_a_broker_file_leaves_nothing_open(tmp_path: Path) -> None:
    async def check_then_publish(broker: EventBroker) -> None:
        await broker.check_connection()
        assert getattr(broker, "_fd", None) is None and getattr(broker, "_sqlite", None) is None
        await broker.publish_many([{"sender_id": "ann", "event": "restart"}])
        await broker.close()

    asyncio.run(check_then_publish(FileEventBroker(tmp_path / "events.log")))
    asyncio.run(check_then_publish(SQLEventBroker(db=str(tmp_path / "events.db"))))
    assert "ann" in (tmp_path / "events.log").read_text(encoding="utf-8")
    with sqlite3.connect(tmp_path / "events.db") as connection:
        assert connection.execute("SELECT sender_id FROM events").fetchall() == [("ann",)]
