"""The RabbitMQ event broker (Rasa's ``type: pika``): settings, delivery, loss of the server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
from ci_services import service_url
from test_event_brokers import TURNS, by_sender, converse, load_agent

from dialogflowlite.brokers.base import create_event_broker
from dialogflowlite.brokers.rabbitmq import DEFAULT_QUEUE, PikaEventBroker
from dialogflowlite.errors import ConfigError, EventBrokerError


def rabbitmq_url() -> str:
    return service_url("DFL_TEST_RABBITMQ_URL", "RabbitMQ")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique(prefix: str) -> str:
    return f"dfl-test-{prefix}-{uuid.uuid4().hex[:8]}"


async def drain(url: str, queue: str, *, delete: bool = True) -> list[Any]:
    """Every message waiting in ``queue`` (acknowledged), then the queue is deleted."""
    import aio_pika

    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, durable=True, passive=True)
        messages = []
        while (message := await declared.get(fail=False, timeout=5)) is not None:
            await message.ack()
            messages.append(message)
        if delete:
            await declared.delete(if_unused=False, if_empty=False)
        return messages
    finally:
        await connection.close()


async def delete_exchange(url: str, name: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        await channel.exchange_delete(name)
    finally:
        await connection.close()


# ---------------------------------------------------------------- settings (no server)


def test_rasa_settings_build_the_broker() -> None:
    broker = create_event_broker({"type": "pika", "url": "rabbit.internal", "port": 5673,
                                  "username": "bot user", "password": "p@ss/word",
                                  "queues": ["a", "b"], "exchange_name": "events"})
    assert isinstance(broker, PikaEventBroker)
    assert broker.queues == ["a", "b"]
    assert broker.exchange_name == "events"
    # credentials are escaped in the URL, and never shown
    assert broker.url == "amqp://bot%20user:p%40ss%2Fword@rabbit.internal:5673/%2F"
    assert broker.where == "amqp://rabbit.internal:5673/%2F"
    assert "p@ss" not in broker.where


def test_queue_defaults_and_rasa_2s_single_queue() -> None:
    assert create_event_broker({"type": "pika"}).queues == [DEFAULT_QUEUE]
    assert create_event_broker({"type": "Pika", "queue": "old"}).queues == ["old"]
    assert create_event_broker({"type": "pika", "queues": "one"}).queues == ["one"]
    both = create_event_broker({"type": "pika", "queues": ["a", "b"], "queue": "a"})
    assert both.queues == ["a", "b"]


def test_an_amqp_url_is_used_as_given() -> None:
    url = "amqps://u:p@host.example:5671/prod"
    assert create_event_broker({"type": "pika", "url": url}).url == url


@pytest.mark.parametrize(("settings", "message"), [
    ({"exchange": "x"}, "has no setting 'exchange'"),
    ({"queues": [1, 2]}, "`queues` must be a queue name or a list"),
    ({"queues": {"a": 1}}, "`queues` must be a queue name or a list"),
    ({"url": "http://localhost"}, "is not an AMQP URL"),
    ({"port": "five"}, "port must be a whole number, not 'five'"),
    ({"port": 0}, "`port` must be a whole number above 0"),
    ({"connection_attempts": 0}, "`connection_attempts` must be a whole number above 0"),
    ({"retry_delay_in_seconds": -1}, "`retry_delay_in_seconds` must be a number"),
    ({"exchange_name": ""}, "`exchange_name` must be a name"),
])
def test_bad_settings_are_one_clear_error(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        create_event_broker({"type": "pika", **settings})
    if "exchange" in settings:
        assert "exchange_name" in str(error.value.hint)


def test_client_certificates_come_from_rasas_variables(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RABBITMQ_SSL_CLIENT_CERTIFICATE", str(tmp_path / "cert.pem"))
    monkeypatch.delenv("RABBITMQ_SSL_CLIENT_KEY", raising=False)
    with pytest.raises(ConfigError, match="must be set together"):
        create_event_broker({"type": "pika"})
    monkeypatch.setenv("RABBITMQ_SSL_CLIENT_KEY", str(tmp_path / "key.pem"))
    with pytest.raises(ConfigError, match=r"client certificate .*cert.pem cannot be loaded"):
        create_event_broker({"type": "pika"})


# ---------------------------------------------------------------- no server there


def test_a_closed_channel_is_named_in_words_not_by_its_repr() -> None:
    from dialogflowlite.brokers.rabbitmq import _why

    # the retry warning read "failed (<aio_pika.channel.Channel object at 0x7fed95bf8dd0>
    # closed)"
    closed = RuntimeError("<aio_pika.channel.Channel object at 0x7fed95bf8dd0> closed")
    assert _why(closed) == "the channel closed"
    assert _why(ConnectionResetError()) == "ConnectionResetError"


def test_an_unreachable_server_is_retried_then_reported(caplog) -> None:
    broker = PikaEventBroker("127.0.0.1", port=closed_port(), connection_attempts=3,
                             retry_delay_in_seconds=0.01, timeout=2)
    with (caplog.at_level(logging.WARNING, "dialogflowlite.brokers.rabbitmq"),
          pytest.raises(EventBrokerError,
                        match=r"did not take 2 event\(s\) in 3 attempt") as error):
        asyncio.run(broker.publish_many([{"sender_id": "a", "event": "action"},
                                         {"sender_id": "a", "event": "user"}]))
    retries = [r for r in caplog.records if "attempt" in r.getMessage()]
    assert len(retries) == 2
    assert "dialogflowlite export" in str(error.value.hint)


def test_without_keeping_unpublished_messages_there_is_one_attempt(caplog) -> None:
    broker = PikaEventBroker("127.0.0.1", port=closed_port(), connection_attempts=5,
                             retry_delay_in_seconds=0.01, timeout=2,
                             should_keep_unpublished_messages=False)
    with (caplog.at_level(logging.WARNING, "dialogflowlite.brokers.rabbitmq"),
          pytest.raises(EventBrokerError, match="in 1 attempt")):
        asyncio.run(broker.publish_many([{"event": "action"}]))
    assert not [r for r in caplog.records if "attempt" in r.getMessage()]


def test_an_export_makes_one_attempt_and_connects_first(caplog) -> None:
    # an export stops and names where to resume: waiting connection_attempts x
    # retry_delay_in_seconds (100 s by default) for RabbitMQ helped no one
    broker = PikaEventBroker("127.0.0.1", port=closed_port(), connection_attempts=5,
                             retry_delay_in_seconds=0.01, timeout=2)
    broker.prepare_for_export()
    with pytest.raises(EventBrokerError, match="cannot be reached"):
        asyncio.run(broker.check_connection())
    with (caplog.at_level(logging.WARNING, "dialogflowlite.brokers.rabbitmq"),
          pytest.raises(EventBrokerError, match="in 1 attempt")):
        asyncio.run(broker.publish_many([{"event": "action"}]))
    assert not [r for r in caplog.records if "attempt" in r.getMessage()]


def test_raise_on_failure_stops_the_server_from_starting(tiny_project: Path) -> None:
    from dialogflowlite.server.app import ServerConfig
    from dialogflowlite.server.serve import check_config

    port = closed_port()
    endpoints = tiny_project / "endpoints.yml"
    endpoints.write_text(f"event_broker:\n  type: pika\n  url: 127.0.0.1\n  port: {port}\n"
                         "  timeout: 2\n", encoding="utf-8")
    check_config(ServerConfig(project=str(tiny_project)), workers=1)  # lazy: starts anyway
    endpoints.write_text(endpoints.read_text() + "  raise_on_failure: true\n", encoding="utf-8")
    with pytest.raises(EventBrokerError, match=f"RabbitMQ at amqp://127.0.0.1:{port}/"):
        check_config(ServerConfig(project=str(tiny_project)), workers=1)


# ---------------------------------------------------------------- against RabbitMQ


@pytest.mark.rabbitmq
def test_every_stored_event_reaches_every_queue_in_order(tiny_model: Path,
                                                         monkeypatch) -> None:
    url = rabbitmq_url()
    monkeypatch.setenv("RASA_ENVIRONMENT", "staging")
    queues = [unique("q1"), unique("q2")]
    exchange = unique("exchange")
    broker = create_event_broker({"type": "pika", "url": url, "queues": queues,
                                  "exchange_name": exchange})
    stored = converse(load_agent(tiny_model, broker), TURNS)

    async def read() -> list[list[Any]]:
        found = [await drain(url, name) for name in queues]
        await delete_exchange(url, exchange)
        return found

    first, second = asyncio.run(read())
    assert [m.body for m in first] == [m.body for m in second]
    published = [json.loads(m.body) for m in first]
    assert by_sender(published) == stored
    assert sum(len(events) for events in stored.values()) == len(first)
    message = first[0]
    assert message.content_type == "application/json"
    assert message.delivery_mode == 2  # persistent: kept across a RabbitMQ restart
    assert message.app_id == "staging"
    assert len({m.message_id for m in first}) == len(first)


@pytest.mark.rabbitmq
def test_a_lost_connection_loses_no_event_and_keeps_the_order() -> None:
    """The server goes away between turns and mid-turn; every event arrives, in order."""
    url = rabbitmq_url()
    from urllib.parse import urlsplit

    target = urlsplit(url)
    queue, exchange = unique("q"), unique("exchange")

    async def scenario() -> list[dict]:
        proxy = Proxy(target.hostname, target.port)
        await proxy.start()
        broker = PikaEventBroker("127.0.0.1", port=proxy.port, queues=[queue],
                                 exchange_name=exchange, retry_delay_in_seconds=0.05,
                                 connection_attempts=200, timeout=3)
        try:
            await broker.publish_many([{"sender_id": "a", "n": n} for n in range(3)])
            proxy.cut()  # the server is away: the next turn waits and retries
            proxy.refuse = True
            publishing = asyncio.create_task(
                broker.publish_many([{"sender_id": "a", "n": n} for n in range(3, 6)]))
            await asyncio.sleep(0.5)
            assert not publishing.done()
            proxy.refuse = False  # back again
            await asyncio.wait_for(publishing, 30)
            await broker.publish_many([{"sender_id": "a", "n": 6}])
        finally:
            await broker.close()
            await proxy.stop()
        messages = await drain(url, queue)
        await delete_exchange(url, exchange)
        return [json.loads(m.body) for m in messages]

    assert [e["n"] for e in asyncio.run(scenario())] == list(range(7))


@pytest.mark.rabbitmq
def test_a_wrong_password_is_reported_at_once_without_retries(caplog) -> None:
    url = rabbitmq_url()
    from urllib.parse import urlsplit

    target = urlsplit(url)
    broker = PikaEventBroker(target.hostname, port=target.port, username="guest",
                             password="not-the-password", connection_attempts=20,
                             retry_delay_in_seconds=5)
    with pytest.raises(EventBrokerError, match="refused the user name or password") as error:
        asyncio.run(asyncio.wait_for(broker.publish_many([{"event": "action"}]), 20))
    assert "endpoints.yml" in str(error.value.hint)
    assert "not-the-password" not in str(error.value)


@pytest.mark.rabbitmq
def test_a_virtual_host_the_server_lacks_is_reported_at_once_without_retries() -> None:
    from urllib.parse import urlsplit, urlunsplit

    target = urlsplit(rabbitmq_url())
    url = urlunsplit(target._replace(path="/no-such-vhost"))
    broker = PikaEventBroker(url, connection_attempts=20, retry_delay_in_seconds=5)
    # it said "Expected one of ['Connection.OpenOk'], got <Connection.Close ...>", with the
    # hint to start RabbitMQ, and was retried for ever
    with pytest.raises(EventBrokerError) as error:
        asyncio.run(asyncio.wait_for(broker.publish_many([{"event": "action"}]), 20))
    assert "refused the virtual host 'no-such-vhost'" in error.value.message
    assert "add_vhost" in str(error.value.hint)


@pytest.mark.rabbitmq
def test_a_queue_declared_otherwise_is_named_in_the_error() -> None:
    import aio_pika

    url = rabbitmq_url()
    queue = unique("transient")

    async def scenario() -> None:
        connection = await aio_pika.connect(url)
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, durable=False, auto_delete=True)
        try:
            broker = PikaEventBroker(url, queues=[queue], exchange_name=unique("exchange"))
            with pytest.raises(EventBrokerError, match=f"queue of {queue}") as error:
                await broker.publish_many([{"event": "action"}])
            assert "durable" in str(error.value.hint)
            await delete_exchange(url, broker.exchange_name)
        finally:
            await declared.delete()
            await connection.close()

    asyncio.run(scenario())


@pytest.mark.rabbitmq
def test_raise_on_failure_passes_when_the_server_is_there() -> None:
    url = rabbitmq_url()
    queue, exchange = unique("q"), unique("exchange")
    broker = PikaEventBroker(url, queues=[queue], exchange_name=exchange, raise_on_failure=True)
    asyncio.run(broker.check_connection())
    assert broker._connection is None  # the check does not keep its connection
    messages = asyncio.run(drain(url, queue))  # the check declared the queue
    asyncio.run(delete_exchange(url, exchange))
    assert messages == []


class Proxy:
    """A TCP relay to RabbitMQ that a test can cut, and make refuse connections."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.target_port = host, port
        self.refuse = False
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
        self._writers += [writer, up_writer]

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def stop(self) -> None:
        self.cut()
        self._server.close()
        await self._server.wait_closed()


@pytest.mark.rabbitmq
def test_an_export_publishes_every_stored_event_oldest_first(tmp_path: Path) -> None:
    from dialogflowlite.cli.export import run_export
    from dialogflowlite.stores.sqlite import SQLiteTrackerStore

    url = rabbitmq_url()
    queue, exchange = unique("q"), unique("exchange")
    (tmp_path / "endpoints.yml").write_text(
        f"event_broker:\n  type: pika\n  url: {url}\n  queues: [{queue}]\n"
        f"  exchange_name: {exchange}\n", encoding="utf-8")

    async def scenario() -> list[Any]:
        store = SQLiteTrackerStore(db=tmp_path / "trackers.db")
        await store.append_events("ann", [{"event": "user", "text": "a", "timestamp": 3.0}])
        await store.append_events("bob", [{"event": "user", "text": "b", "timestamp": 1.0},
                                          {"event": "bot", "text": "c", "timestamp": 5.0}])
        await store.close()
        # the connection the check opens is closed again; publishing opens its own
        assert await run_export(tmp_path) == 3
        return await drain(url, queue)

    messages = asyncio.run(scenario())
    asyncio.run(delete_exchange(url, exchange))
    assert [json.loads(m.body) for m in messages] == [
        {"sender_id": "bob", "event": "user", "text": "b", "timestamp": 1.0},
        {"sender_id": "ann", "event": "user", "text": "a", "timestamp": 3.0},
        {"sender_id": "bob", "event": "bot", "text": "c", "timestamp": 5.0}]
