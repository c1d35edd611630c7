"""``dialogflowlite export`` against brokers that are away or fail."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from dialogflowlite.brokers.base import EventBroker
from dialogflowlite.brokers.export import export_events
from dialogflowlite.errors import EventBrokerError, ExportError
from dialogflowlite.stores.memory import MemoryTrackerStore
from dialogflowlite.stores.sqlite import SQLiteTrackerStore


def _closed_port() -> int:
    """A port on loopback that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_rabbitmq_fails_the_export_at_once(tmp_path: Path, caplog) -> None:
    pytest.importorskip("aio_pika")
    from dialogflowlite.cli.export import run_export

    (tmp_path / "endpoints.yml").write_text(
        "event_broker:\n  type: pika\n  url: 127.0.0.1\n"
        f"  port: {_closed_port()}\n  connection_attempts: 3\n  retry_delay_in_seconds: 2\n")
    store = SQLiteTrackerStore(db=tmp_path / "trackers.db")
    asyncio.run(store.append_events("ann", [{"event": "user", "text": "hi", "timestamp": 1.0}]))
    asyncio.run(store.close())
    with caplog.at_level("WARNING"), pytest.raises(ExportError) as error:
        asyncio.run(run_export(tmp_path))
    # it used to try connection_attempts times, retry_delay_in_seconds apart (with the
    # defaults 20 x 5 s) before saying anything
    assert "attempt 2 of 3" not in caplog.text
    assert error.value.message.startswith("nothing was published: RabbitMQ at ")
    assert "cannot be reached" in error.value.message
    assert "raise_on_failure" not in error.value.render()  # that is the server's advice


class FailingBroker(EventBroker):
    """Fails as the pika broker does once its attempts are spent."""

    async def publish_many(self, events: list[dict[str, Any]]) -> None:
        raise EventBrokerError("RabbitMQ did not take 2 event(s) in 1 attempt(s)",
                               hint="they are in the tracker store: `dialogflowlite export` "
                                    "publishes them again")


def test_a_broker_failure_gives_only_the_export_s_next_step() -> None:
    store = MemoryTrackerStore()
    asyncio.run(store.append_events("bob", [{"event": "user", "text": "hi", "timestamp": 5.0},
                                            {"event": "bot", "text": "yo", "timestamp": 6.0}]))
    with pytest.raises(ExportError) as error:
        asyncio.run(export_events(store, FailingBroker()))
    # the broker's own hint (run the export) made no sense in the middle of an export
    assert error.value.message == ("the event broker failed after 0 of 2 events: RabbitMQ did "
                                   "not take 2 event(s) in 1 attempt(s)")
    assert error.value.hint.startswith("fix the broker, then run the export again with "
                                       "--minimum-timestamp 5.0")


def test_conversation_ids_that_name_none_are_refused_not_read_as_all(tmp_path: Path,
                                                                     capsys) -> None:
    from dialogflowlite.cli.main import main

    (tmp_path / "endpoints.yml").write_text("event_broker:\n  type: file\n  path: out.log\n")
    store = SQLiteTrackerStore(db=tmp_path / "trackers.db")
    asyncio.run(store.append_events("ann", [{"event": "user", "text": "hi", "timestamp": 1.0}]))
    asyncio.run(store.close())
    # ", " (an empty list joined by a script) exported every conversation
    with pytest.raises(SystemExit):
        main(["export", "--project", str(tmp_path), "--conversation-ids", ", "])
    assert "--conversation-ids: names no conversation: ', '" in capsys.readouterr().err
    assert not (tmp_path / "out.log").exists()
    # empty text means every conversation, as in Rasa
    assert main(["export", "--project", str(tmp_path), "--conversation-ids", ""]) == 0
    assert '"sender_id": "ann"' in (tmp_path / "out.log").read_text(encoding="utf-8")
