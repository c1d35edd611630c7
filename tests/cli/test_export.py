"""``dialogflowlite export``: stored conversations published to the event broker."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from dialogflowlite.brokers.base import EventBroker
from dialogflowlite.brokers.export import export_events
from dialogflowlite.cli.main import main
from dialogflowlite.errors import ConfigError, ExportError
from dialogflowlite.stores.memory import MemoryTrackerStore
from dialogflowlite.stores.sqlite import SQLiteTrackerStore

# (conversation, timestamps of its events, in stored order)
CONVERSATIONS = {"ann": [10.0, 12.0, 30.0], "bob": [11.0, 11.0, 40.0], "cy": [50.0]}


def _events(sender: str, timestamps: list[float]) -> list[dict[str, Any]]:
    return [{"event": "user" if i % 2 == 0 else "bot", "text": f"{sender}-{i}",
             "timestamp": t} for i, t in enumerate(timestamps)]


async def _fill(store: Any) -> None:
    for sender, timestamps in CONVERSATIONS.items():
        await store.append_events(sender, _events(sender, timestamps))


class ListBroker(EventBroker):
    """Keeps what it is given; fails on the call number ``fail_on`` (1-based)."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.published: list[dict[str, Any]] = []
        self.calls = 0
        self.fail_on = fail_on

    async def publish_many(self, events: list[dict[str, Any]]) -> None:
        self.calls += 1
        if self.calls == self.fail_on:
            raise ConnectionError("the queue is down")
        self.published.extend(events)


def _export(store: Any, broker: EventBroker, **options: Any) -> Any:
    return asyncio.run(export_events(store, broker, **options))


def test_every_event_oldest_first_with_its_sender() -> None:
    store, broker = MemoryTrackerStore(), ListBroker()
    asyncio.run(_fill(store))
    result = _export(store, broker)
    assert (result.conversations, result.events) == (3, 7)
    assert [e["text"] for e in broker.published] == [
        "ann-0", "bob-0", "bob-1", "ann-1", "ann-2", "bob-2", "cy-0"]  # ties keep stored order
    assert broker.published[0] == {"sender_id": "ann", "event": "user", "text": "ann-0",
                                   "timestamp": 10.0}


def test_a_time_window_and_chosen_conversations(caplog) -> None:
    store, broker = MemoryTrackerStore(), ListBroker()
    asyncio.run(_fill(store))
    with caplog.at_level("WARNING"):
        result = _export(store, broker, conversation_ids=["bob", "zed", "ann", "bob"],
                         minimum_timestamp=11.0, maximum_timestamp=40.0)
    # the minimum is included, the maximum is not
    assert [e["text"] for e in broker.published] == ["bob-0", "bob-1", "ann-1", "ann-2"]
    assert result.missing == ["zed"] and result.conversations == 2
    assert "no conversation 'zed'" in caplog.text


def test_nothing_to_export_is_an_error() -> None:
    with pytest.raises(ExportError, match="holds no conversations"):
        _export(MemoryTrackerStore(), ListBroker())
    store = MemoryTrackerStore()
    asyncio.run(_fill(store))
    with pytest.raises(ExportError, match="no stored events match"):
        _export(store, ListBroker(), minimum_timestamp=100.0)
    with pytest.raises(ExportError, match="must be below"):
        _export(store, ListBroker(), minimum_timestamp=20.0, maximum_timestamp=20.0)


def test_a_failing_broker_stops_the_export_and_names_where_to_resume(monkeypatch) -> None:
    from dialogflowlite.brokers import export

    monkeypatch.setattr(export, "BATCH_SIZE", 2)
    store, broker = MemoryTrackerStore(), ListBroker(fail_on=2)
    asyncio.run(_fill(store))
    with pytest.raises(ExportError) as error:
        _export(store, broker)
    assert "failed after 2 of 7 events" in error.value.message
    assert "the queue is down" in error.value.message
    assert "--minimum-timestamp 11.0" in error.value.hint  # the first event not published
    resumed = ListBroker()
    _export(store, resumed, minimum_timestamp=11.0)
    assert {e["text"] for e in broker.published + resumed.published} == {
        e["text"] for s, t in CONVERSATIONS.items() for e in _events(s, t)}


def _project(tmp_path: Path, endpoints: str) -> Path:
    (tmp_path / "endpoints.yml").write_text(endpoints)
    store = SQLiteTrackerStore(db=tmp_path / "trackers.db")
    asyncio.run(_fill(store))
    asyncio.run(store.close())
    return tmp_path


def test_the_command_reads_run_s_store_and_the_configured_broker(tmp_path: Path,
                                                                 capsys) -> None:
    project = _project(tmp_path, "event_broker:\n  type: file\n  path: events.jsonl\n")
    code = main(["export", "--project", str(project), "--conversation-ids", "cy, ann",
                 "--maximum-timestamp", "35"])
    assert code == 0
    lines = [json.loads(line) for line in (project / "events.jsonl").read_text().splitlines()]
    assert [(e["sender_id"], e["text"]) for e in lines] == [
        ("ann", "ann-0"), ("ann", "ann-1"), ("ann", "ann-2")]
    assert "Published 3 events of 1 conversations" in capsys.readouterr().out


def test_the_command_without_a_broker_says_what_to_add(tmp_path: Path, capsys) -> None:
    project = _project(tmp_path, "action_endpoint:\n  url: http://localhost:5055/webhook\n")
    assert main(["export", "--project", str(project)]) == 1
    assert "no event_broker section" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="no event_broker"):
        from dialogflowlite.cli.export import run_export

        asyncio.run(run_export(project))


def test_a_project_folder_that_does_not_exist_is_named(tmp_path: Path, capsys) -> None:
    # before: "endpoints.yml has no event_broker section to export to"
    assert main(["export", "--project", str(tmp_path / "nosuch")]) == 1
    assert (f"error: the project folder {tmp_path / 'nosuch'} does not exist"
            in capsys.readouterr().err)
    (tmp_path / "domain.yml").write_text("intents: []\n", encoding="utf-8")
    assert main(["export", "--project", str(tmp_path / "domain.yml")]) == 1
    assert "is a file, not a folder" in capsys.readouterr().err


def test_a_sqlite_store_that_does_not_exist_is_an_error_and_not_created(
        tmp_path: Path, capsys) -> None:
    project = _project(tmp_path, "event_broker:\n  type: file\n  path: events.jsonl\n"
                                 "tracker_store:\n  type: SQL\n  dialect: sqlite\n"
                                 "  db: nosuch.db\n")
    assert main(["export", "--project", str(project)]) == 1
    err = capsys.readouterr().err
    assert f"the tracker store's SQLite database {project / 'nosuch.db'} does not exist" in err
    # before: an empty nosuch.db was made and nothing was exported, without a word
    assert not (project / "nosuch.db").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "soon"])
def test_a_time_window_bound_must_be_a_finite_number(tmp_path: Path, capsys, value) -> None:
    with pytest.raises(SystemExit):
        main(["export", "--project", str(tmp_path), "--minimum-timestamp", value])
    assert "--minimum-timestamp" in capsys.readouterr().err


def test_offset_timestamps_move_what_is_published_not_what_is_stored(monkeypatch) -> None:
    from dialogflowlite.brokers import export

    store, broker = MemoryTrackerStore(), ListBroker()
    asyncio.run(_fill(store))
    # the window applies to the stored timestamps, the offset to the published ones
    _export(store, broker, conversation_ids=["ann"], minimum_timestamp=11.0,
            offset_seconds=-5)
    assert [(e["text"], e["timestamp"]) for e in broker.published] == [
        ("ann-1", 7.0), ("ann-2", 25.0)]
    stored = asyncio.run(store.load_events("ann"))
    assert [e["timestamp"] for e in stored] == [10.0, 12.0, 30.0]
    # a failed export's resuming command keeps every option given
    monkeypatch.setattr(export, "BATCH_SIZE", 1)
    with pytest.raises(ExportError) as error:
        _export(store, ListBroker(fail_on=2), conversation_ids=["ann", "bob"],
                maximum_timestamp=45.0, offset_seconds=3600)
    assert error.value.hint.startswith(
        "fix the broker, then run the export again with --minimum-timestamp 11.0 "
        "--maximum-timestamp 45.0 --conversation-ids ann,bob "
        "--offset-timestamps-by-seconds 3600 ")


def test_the_command_offsets_timestamps(tmp_path: Path, capsys) -> None:
    project = _project(tmp_path, "event_broker:\n  type: file\n  path: events.jsonl\n")
    assert main(["export", "--project", str(project), "--conversation-ids", "cy",
                 "--offset-timestamps-by-seconds", "86400"]) == 0
    [line] = (project / "events.jsonl").read_text().splitlines()
    assert json.loads(line)["timestamp"] == 50.0 + 86400
    assert "Every published timestamp is moved by +1 day, 0:00:00" in capsys.readouterr().out
