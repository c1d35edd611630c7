"""An event broker whose server is away: the bot answers, and the events wait for it.

The RabbitMQ broker keeps the events it could not publish and tries again
while the server runs, as Rasa's keeps unpublished messages until its
connection is back; so does the SQL broker while its database is away or
locked. What is refused, or still waiting at shutdown, is counted in the log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from serving_helpers import until

from dialogflowlite.brokers.base import EventBroker
from dialogflowlite.brokers.rabbitmq import PikaEventBroker
from dialogflowlite.brokers.sql import SQLEventBroker
from dialogflowlite.errors import EventBrokerError

pytest.importorskip("aio_pika")


class FlakyRabbit:
    """Stands in for RabbitMQ: unreachable for the first ``down`` connections."""

    def __init__(self, down: int, error: BaseException | None = None) -> None:
        self.down = down
        self.error = error or ConnectionRefusedError("connection refused")
        self.connects = 0
        self.bodies: list[bytes] = []

    async def connect(self) -> Any:
        self.connects += 1
        if self.connects <= self.down:
            raise self.error
        return self

    async def publish(self, message: Any, routing_key: str = "", timeout: float = 0) -> None:
        self.bodies.append(message.body)


def _broker(monkeypatch, rabbit: FlakyRabbit, **settings: Any) -> PikaEventBroker:
    settings.setdefault("connection_attempts", 2)
    broker = PikaEventBroker("127.0.0.1", retry_delay_in_seconds=0, **settings)
    broker.retry_failed_after = 0.01
    monkeypatch.setattr(broker, "_connect", rabbit.connect)
    return broker


def _turn(n: int) -> list[dict[str, Any]]:
    return [{"event": "user", "text": f"message {n}"}, {"event": "bot", "text": f"reply {n}"}]


def _texts(rabbit: FlakyRabbit) -> list[str]:
    return [json.loads(body)["text"] for body in rabbit.bodies]


def _publish(broker: EventBroker, sender: str, *turns: list[dict[str, Any]]) -> bool:
    """Submits the turns of ``sender``, then waits up to 10 s for the broker to publish
    (or drop) them; whether it finished."""

    async def run() -> bool:
        for events in turns:
            broker.submit(sender, events)
        return await broker.flush(10)

    return asyncio.run(run())


def _shut_down_after(broker: EventBroker, sender: str,
                     *turns: list[dict[str, Any]]) -> None:
    """Submits the turns of ``sender``, then shuts the broker down."""

    async def run() -> None:
        for events in turns:
            broker.submit(sender, events)
        await broker.shutdown()

    asyncio.run(asyncio.wait_for(run(), 10))


def _broker_log(caplog: pytest.LogCaptureFixture, level: int = logging.ERROR):
    """Captures what the brokers' common part logs at ``level`` and above."""
    return caplog.at_level(level, logger="dialogflowlite.brokers.base")


def test_rabbitmq_away_longer_than_its_attempts_loses_no_event(monkeypatch, caplog) -> None:
    # two attempts per round: the first two rounds (4 connections) find no server
    rabbit = FlakyRabbit(down=4)
    broker = _broker(monkeypatch, rabbit)
    with _broker_log(caplog, logging.INFO):
        assert _publish(broker, "ann", _turn(1), _turn(2))
    assert _texts(rabbit) == ["message 1", "reply 1", "message 2", "reply 2"]
    kept = [r for r in caplog.records if "they are kept" in r.getMessage()]
    assert len(kept) == 2 and "4 event(s) wait in all" in kept[0].getMessage()
    assert "published the 2 kept event(s) of conversation 'ann'" in caplog.text


def test_without_keeping_unpublished_messages_a_failed_turn_is_dropped_and_counted(
        monkeypatch, caplog) -> None:
    rabbit = FlakyRabbit(down=1)
    broker = _broker(monkeypatch, rabbit, should_keep_unpublished_messages=False)
    with _broker_log(caplog):
        assert _publish(broker, "bea", _turn(1), _turn(2))
    assert _texts(rabbit) == ["message 2", "reply 2"]
    assert "could not publish 2 event(s) of conversation 'bea'" in caplog.text


def test_a_refused_password_is_not_retried_for_ever(monkeypatch, caplog) -> None:
    from aiormq.exceptions import ProbableAuthenticationError

    rabbit = FlakyRabbit(down=1, error=ProbableAuthenticationError("ACCESS_REFUSED"))
    broker = _broker(monkeypatch, rabbit)
    with _broker_log(caplog):
        assert _publish(broker, "cy", _turn(1), _turn(2))
    assert _texts(rabbit) == ["message 2", "reply 2"]
    assert "refused the user name or password" in caplog.text
    assert "they are kept" not in caplog.text


def test_events_still_kept_at_shutdown_are_counted(monkeypatch, caplog) -> None:
    rabbit = FlakyRabbit(down=10**6)
    broker = _broker(monkeypatch, rabbit)
    broker.shutdown_timeout = 0.2
    with _broker_log(caplog):
        _shut_down_after(broker, "dan", _turn(1), _turn(2))
    assert rabbit.bodies == []
    assert "4 event(s) were not published" in caplog.text


class CountingBroker(EventBroker):
    """A plugin's broker that keeps nothing: the default."""

    def __init__(self) -> None:
        self.calls = 0

    async def publish_many(self, events: list[dict[str, Any]]) -> None:
        self.calls += 1
        raise EventBrokerError("the broker is away")


def test_brokers_drop_failed_events_unless_they_keep_them(caplog) -> None:
    broker = CountingBroker()
    with _broker_log(caplog):
        assert _publish(broker, "eve", _turn(1))
    assert broker.calls == 1
    assert "could not publish 2 event(s) of conversation 'eve'" in caplog.text


def _event_texts(db: Path) -> list[str]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT data FROM events ORDER BY id").fetchall()
    return [json.loads(row[0])["text"] for row in rows]


def test_a_sql_broker_whose_database_stays_locked_keeps_the_events(tmp_path: Path,
                                                                    caplog) -> None:
    db = tmp_path / "events.db"
    broker = SQLEventBroker("sqlite", db=str(db), timeout=0.1)
    broker.retry_failed_after = 0.05

    async def run() -> bool:
        await broker.publish_many([{"sender_id": "fay", **_turn(0)[0]}])  # creates the table
        # another process keeps the write lock longer than the broker waits
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        broker.submit("fay", _turn(1))
        broker.submit("fay", _turn(2))
        await until(lambda: "database is locked; they are kept" in caplog.text,
                    "the broker to find the database locked")
        blocker.execute("ROLLBACK")
        blocker.close()
        published = await broker.flush(10)
        await broker.close()
        return published

    with _broker_log(caplog):
        assert asyncio.run(run())
    assert _event_texts(db) == ["message 0", "message 1", "reply 1", "message 2", "reply 2"]
    assert "database is locked; they are kept" in caplog.text


def test_a_sql_broker_drops_what_the_database_refuses(tmp_path: Path, caplog) -> None:
    class Unencodable:
        pass

    db = tmp_path / "events.db"
    broker = SQLEventBroker("sqlite", db=str(db))

    async def run() -> None:
        broker.submit("gil", [{"event": "bot", "text": Unencodable()}])
        broker.submit("gil", _turn(1))
        assert await broker.flush(10)
        await broker.close()

    with _broker_log(caplog):
        asyncio.run(run())
    assert _event_texts(db) == ["message 1", "reply 1"]
    assert "could not publish 1 event(s) of conversation 'gil'" in caplog.text


def _wrapped(cause: BaseException) -> EventBrokerError:
    try:
        raise EventBrokerError("SQL event broker failed") from cause
    except EventBrokerError as e:
        return e


@pytest.mark.parametrize(("module", "make", "kept"), [
    ("psycopg", lambda m: m.OperationalError("connection refused"), True),
    ("psycopg", lambda m: m.errors.StringDataRightTruncation("value too long"), False),
    ("pymysql", lambda m: m.err.OperationalError(2003, "Can't connect to MySQL server"), True),
    ("pymysql", lambda m: m.err.OperationalError(2013, "Lost connection"), True),
    ("pymysql", lambda m: m.err.OperationalError(1045, "Access denied"), False),
    ("pymysql", lambda m: m.err.DataError(1406, "Data too long"), False),
])
def test_sql_brokers_keep_events_only_while_the_server_is_away(module: str, make: Any,
                                                               kept: bool) -> None:
    driver = pytest.importorskip(module)
    broker = SQLEventBroker("sqlite", db=":memory:")
    assert broker.keeps_failed_events(_wrapped(make(driver))) is kept


class HalfwayRabbit(FlakyRabbit):
    """Takes ``takes`` messages, then loses the connection for ``down`` connections."""

    def __init__(self, takes: int, down: int) -> None:
        super().__init__(down=0)
        self.takes, self.later_down = takes, down
        self.message_ids: list[str] = []

    async def connect(self) -> Any:
        self.connects += 1
        if 1 < self.connects <= 1 + self.later_down:
            raise self.error
        return self

    async def publish(self, message: Any, routing_key: str = "", timeout: float = 0) -> None:
        if len(self.bodies) == self.takes and self.connects == 1:
            raise ConnectionResetError("connection lost")
        self.bodies.append(message.body)
        self.message_ids.append(message.message_id)


def test_a_kept_turn_is_not_published_twice(monkeypatch) -> None:
    # RabbitMQ confirms one event of the turn, then is away for two rounds of attempts
    rabbit = HalfwayRabbit(takes=1, down=4)
    broker = _broker(monkeypatch, rabbit)
    assert _publish(broker, "hal", _turn(1) + _turn(2))  # one turn of four events
    assert _texts(rabbit) == ["message 1", "reply 1", "message 2", "reply 2"]
    assert len(set(rabbit.message_ids)) == 4


def test_closing_the_file_broker_waits_for_a_write_under_way(tmp_path: Path,
                                                             monkeypatch) -> None:
    """Shutting down cancels a publish whose write is slow (a busy disk); the write's
    thread goes on, and the file is closed only after it."""
    import threading
    import time

    from dialogflowlite.brokers.file import FileEventBroker

    broker = FileEventBroker(tmp_path / "events.log")
    started = threading.Event()
    open_file = broker._open

    def slow_open() -> int:
        descriptor = open_file()
        started.set()
        time.sleep(0.3)  # the write is under way: the file is open, nothing written yet
        return descriptor

    monkeypatch.setattr(broker, "_open", slow_open)

    async def run() -> None:
        publishing = asyncio.create_task(broker.publish_many(_turn(1)))
        await asyncio.get_running_loop().run_in_executor(None, started.wait)
        publishing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await publishing
        await broker.close()

    asyncio.run(run())
    lines = (tmp_path / "events.log").read_text().splitlines()
    assert [json.loads(line)["text"] for line in lines] == ["message 1", "reply 1"]


def test_a_short_shutdown_timeout_is_logged_as_it_is_and_counted_once(monkeypatch,
                                                                      caplog) -> None:
    rabbit = FlakyRabbit(down=10**6)
    broker = _broker(monkeypatch, rabbit)
    broker.shutdown_timeout = 0.2
    with _broker_log(caplog):
        _shut_down_after(broker, "dan", _turn(1), _turn(2))
        # the broker serves again on a new event loop (a server started anew)
        rabbit.down = 0
        assert _publish(broker, "dan", _turn(3))
    assert "4 event(s) were not published within 0.2 s of shutting down" in caplog.text
    # the 4 were counted once, at shutdown; not again when the broker started anew
    assert "queued in a finished event loop" not in caplog.text
    assert _texts(rabbit) == ["message 3", "reply 3"]
