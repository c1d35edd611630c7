"""The DynamoDB tracker store beyond the shared contract (tests/stores/test_backends.py):
Rasa's items and settings, the table, numbers, versions, paging, the item size limit,
and what a failing service gives.

There is no AWS here: moto's in-process DynamoDB plays it, so these tests check
the store's items, updates and queries as DynamoDB's API defines them, not the
network, permissions or throughput.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest
from test_backends import _conversation, _domain, dynamo_store_factory

from dialogflowlite.errors import ConfigError, TrackerStoreError
from dialogflowlite.server.channels.deliveries import redelivery_may_succeed
from dialogflowlite.shared.events import UserUttered
from dialogflowlite.stores.base import StoredVersion
from dialogflowlite.stores.sqlite import SQLiteTrackerStore

RASA_ITEM = {
    "sender_id": {"S": "from-rasa"},
    "name": {"S": "from-rasa"},
    "events": {"L": [
        {"M": {"event": {"S": "action"}, "name": {"S": "action_listen"},
               "timestamp": {"N": "1700000000.5"}}},
        {"M": {"event": {"S": "user"}, "text": {"S": "to Oslo"},
               "timestamp": {"N": "1700000001.25"},
               "parse_data": {"M": {"intent": {"M": {"name": {"S": "inform"},
                                                     "confidence": {"N": "0.9"}}},
                                    "entities": {"L": []}}}}},
        {"M": {"event": {"S": "slot"}, "name": {"S": "city"}, "value": {"S": "Oslo"},
               "timestamp": {"N": "1700000001.25"}}},
    ]},
}


@pytest.fixture
def make_store(request, monkeypatch):
    return dynamo_store_factory(request, monkeypatch)


def _table(store, name: str = "states") -> dict:
    return store.client.describe_table(TableName=name)["Table"]


def _raw_item(store, sender_id: str) -> dict:
    return store.client.get_item(TableName=store.table_name,
                                 Key={"sender_id": {"S": sender_id}})["Item"]


def _create_rasa_table(store, name: str = "states", *, sort_key: bool = False) -> None:
    """A table as Rasa creates it (provisioned throughput); old Rasa versions added a sort key."""
    keys = [{"AttributeName": "sender_id", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "sender_id", "AttributeType": "S"}]
    if sort_key:
        keys.append({"AttributeName": "session_date", "KeyType": "RANGE"})
        attributes.append({"AttributeName": "session_date", "AttributeType": "N"})
    store.client.create_table(TableName=name, KeySchema=keys, AttributeDefinitions=attributes,
                              ProvisionedThroughput={"ReadCapacityUnits": 5,
                                                     "WriteCapacityUnits": 5})


def test_rasa_settings_in_endpoints_build_the_store(make_store, plugin_manager) -> None:
    from dialogflowlite.stores.dynamo import DynamoTrackerStore
    from dialogflowlite.stores.factory import create_tracker_store

    store = create_tracker_store({"type": "dynamo", "table_name": "talks",
                                  "region": "eu-central-1", "timeout": 3,
                                  "endpoint_url": "http://localhost:8000"})
    assert isinstance(store, DynamoTrackerStore)
    assert store.table_name == "talks"
    assert store.client.meta.region_name == "eu-central-1"
    assert store.client.meta.endpoint_url == "http://localhost:8000"
    assert store.client.meta.config.read_timeout == 3
    default = create_tracker_store({"type": "dynamodb"})
    assert isinstance(default, DynamoTrackerStore)
    assert (default.table_name, default.client.meta.region_name) == ("states", "us-east-1")
    with pytest.raises(ConfigError, match="no setting 'tabel_name'") as error:
        create_tracker_store({"type": "dynamo", "tabel_name": "talks"})
    assert "table_name" in str(error.value)
    # credentials come from the AWS environment, never from endpoints.yml
    with pytest.raises(ConfigError, match="no setting 'aws_secret_access_key'"):
        create_tracker_store({"type": "dynamo", "aws_secret_access_key": "secret"})
    with pytest.raises(ConfigError, match="endpoint_url 'localhost:8000' is not usable"):
        create_tracker_store({"type": "dynamo", "endpoint_url": "localhost:8000"})


def test_a_missing_table_is_created_on_first_use(make_store) -> None:
    async def main() -> None:
        store = make_store(table_name="bots")
        names = store.client.list_tables()["TableNames"]
        assert "bots" not in names
        await store.save(_conversation())
        table = _table(store, "bots")
        assert table["KeySchema"] == [{"AttributeName": "sender_id", "KeyType": "HASH"}]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert table["TableStatus"] == "ACTIVE"
        assert await make_store(table_name="bots").count_events("alice") == 7
        await store.close()

    asyncio.run(main())


def test_an_existing_table_is_used_as_it_is(make_store) -> None:
    async def main() -> None:
        store = make_store()
        _create_rasa_table(store)
        await store.save(_conversation())
        table = _table(store)
        # Rasa's provisioned table, not replaced by one billed per request
        assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 5
        assert "BillingModeSummary" not in table or \
            table["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
        assert store.client.list_tables()["TableNames"] == ["states"]
        assert await store.keys() == ["alice"]

    asyncio.run(main())


def test_a_table_with_another_key_is_refused(make_store) -> None:
    store = make_store(table_name="old")
    _create_rasa_table(store, "old", sort_key=True)
    with pytest.raises(TrackerStoreError, match="needs 'sender_id' as its only") as error:
        asyncio.run(store.retrieve("alice"))
    assert "session_date" in str(error.value) and "table_name" in error.value.hint


def test_numbers_come_back_as_the_other_stores_give_them(make_store, tmp_path: Path) -> None:
    events = [
        {"event": "slot", "name": "count", "value": 1.5, "timestamp": 1700000000.25},
        {"event": "slot", "name": "count", "value": 3, "timestamp": 1700000001.0},
        {"event": "user", "text": "hi", "timestamp": 1e20, "parse_data": {
            "intent": {"name": "greet", "confidence": 0.30000000000000004},
            "entities": [{"entity": "n", "value": -2, "start": 0, "end": 2}]}},
    ]

    async def main() -> None:
        store = make_store()
        await store.append_events("numbers", events)
        sqlite = SQLiteTrackerStore(_domain(), db=tmp_path / "trackers.db")
        await sqlite.append_events("numbers", events)
        loaded = await store.load_events("numbers")
        # equal, and of the same types: 1.0 stays a float, 3 an int
        assert json.dumps(loaded) == json.dumps(await sqlite.load_events("numbers"))
        assert loaded == events
        assert type(loaded[1]["timestamp"]) is float and type(loaded[1]["value"]) is int
        # DynamoDB itself holds numbers, not text
        stored = _raw_item(store, "numbers")["events"]["L"][0]["M"]
        assert stored["value"] == {"N": "1.5"}
        tracker = await store.retrieve("numbers")
        assert tracker.slots["count"] == 3 and tracker.events[0].timestamp == 1700000000.25
        await sqlite.close()

    asyncio.run(main())


def test_a_value_dynamodb_cannot_hold_is_refused_and_nothing_is_written(make_store) -> None:
    async def main() -> None:
        store = make_store()
        for value in (float("nan"), 10 ** 40 + 1):
            with pytest.raises(TrackerStoreError, match="DynamoDB cannot store"):
                await store.append_events("odd", [{"event": "slot", "name": "x",
                                                   "value": value, "timestamp": 1.0}])
        assert await store.load_events("odd") is None

    asyncio.run(main())


def test_each_write_returns_the_versions_before_and_after_it(make_store) -> None:
    async def main() -> None:
        store = make_store()
        event = {"event": "action", "name": "action_listen", "timestamp": 1.0}
        assert await store.stored_version("bob") is None
        written = [await store.append_events("bob", [event]) for _ in range(3)]
        assert written == [StoredVersion(None, 1), StoredVersion(1, 2), StoredVersion(2, 3)]
        assert await store.stored_version("bob") == 3
        assert await store.load_versioned_events("bob") == ([event] * 3, 3)
        await store.replace_events("bob", [event])
        assert await store.load_versioned_events("bob") == ([event], 4)
        assert await store.append_events("bob", [event]) == StoredVersion(4, 5)
        assert _raw_item(store, "bob")["dfl_version"] == {"N": "5"}
        await store.delete("bob")
        assert await store.stored_version("bob") is None
        assert await store.append_events("bob", [event]) == StoredVersion(None, 1)

    asyncio.run(main())


def test_an_append_after_a_read_asks_for_nothing_back(make_store, monkeypatch) -> None:
    async def main() -> None:
        store, other = make_store(), make_store()
        await store.save(_conversation())
        returned: list[str] = []
        update = store.client.update_item

        def recording(**arguments):
            returned.append(arguments["ReturnValues"])
            return update(**arguments)

        monkeypatch.setattr(store.client, "update_item", recording)
        tracker = await store.retrieve("alice")
        tracker.update(UserUttered(text="first"))
        await store.save(tracker)
        # the store held version 1: the append was conditional on it and returned nothing
        assert returned == ["NONE"]
        assert await store.stored_version("alice") == 2
        assert store.remembered_version("alice") == 2

        # another process appends: the held version is stale, the condition fails,
        # and the write reads back the version it replaced
        theirs = await other.retrieve("alice")
        theirs.update(UserUttered(text="from elsewhere"))
        await other.save(theirs)
        returned.clear()
        assert await store.append_events("alice", [UserUttered(text="mine").as_dict()]) == \
            StoredVersion(3, 4)
        assert returned == ["NONE", "UPDATED_OLD"]
        texts = [e.text for e in (await store.retrieve("alice")).events
                 if isinstance(e, UserUttered)]
        assert texts[-3:] == ["first", "from elsewhere", "mine"]

    asyncio.run(main())


def test_keys_follow_the_scan_across_pages(make_store, monkeypatch) -> None:
    async def main() -> None:
        store = make_store()
        senders = [f"user-{number:02}" for number in range(7)]
        for sender in reversed(senders):
            await store.append_events(sender, [{"event": "restart", "timestamp": 1.0}])
        pages: list[int] = []
        scan = store.client.scan

        def small_pages(**arguments):
            answer = scan(Limit=2, **arguments)
            pages.append(len(answer["Items"]))
            return answer

        monkeypatch.setattr(store.client, "scan", small_pages)
        assert await store.keys() == senders
        assert len(pages) >= 4 and sum(pages) == 7

    asyncio.run(main())


def test_a_conversation_too_large_for_one_item_keeps_what_was_stored(make_store) -> None:
    async def main() -> None:
        store = make_store()
        tracker = _conversation()
        await store.save(tracker)
        before = await store.load_versioned_events("alice")
        tracker.update(UserUttered(text="x" * 420_000))
        with pytest.raises(TrackerStoreError, match="too large for one DynamoDB item") as error:
            await store.save(tracker)
        assert "other tracker store" in error.value.hint
        # every re-delivery of the message would fail the same way
        assert redelivery_may_succeed(error.value) is False
        assert await store.load_versioned_events("alice") == before
        with pytest.raises(TrackerStoreError, match="too large for one DynamoDB item"):
            await store.replace(tracker)
        assert await make_store().load_versioned_events("alice") == before

    asyncio.run(main())


def test_a_conversation_rasa_stored_is_read_and_added_to_in_place(make_store) -> None:
    async def main() -> None:
        store = make_store()
        _create_rasa_table(store)
        store.client.put_item(TableName="states", Item=RASA_ITEM)
        tracker = await store.retrieve("from-rasa")
        assert tracker.slots["city"] == "Oslo" and tracker.latest_message.text == "to Oslo"
        assert tracker.latest_message.parse_data["intent"]["confidence"] == 0.9
        assert tracker.events[0].timestamp == 1700000000.5
        assert await store.stored_version("from-rasa") == 0
        tracker.update(UserUttered(text="thanks"))
        await store.save(tracker)
        item = _raw_item(store, "from-rasa")
        # one item per conversation, Rasa's attributes kept, the new event appended
        assert item["name"] == {"S": "from-rasa"}
        assert item["events"]["L"][:3] == RASA_ITEM["events"]["L"]
        assert item["events"]["L"][3]["M"]["text"] == {"S": "thanks"}
        assert item["dfl_version"] == {"N": "1"}
        assert await store.keys() == ["from-rasa"]
        assert (await make_store().retrieve("from-rasa")).latest_message.text == "thanks"

    asyncio.run(main())


def _client_error(code: str, operation: str):
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": f"{code} for the test"}}, operation)


def test_a_failing_service_is_a_tracker_store_error(make_store, monkeypatch) -> None:
    from botocore.exceptions import EndpointConnectionError

    async def main() -> None:
        store = make_store()

        def denied(**arguments):
            raise _client_error("AccessDeniedException", "CreateTable")

        create_table = store.client.create_table
        monkeypatch.setattr(store.client, "create_table", denied)
        with pytest.raises(TrackerStoreError, match="DynamoDB table creation failed: "
                                                    "ClientError") as creation:
            await store.retrieve("alice")
        assert "dynamodb:CreateTable" in creation.value.hint
        # the table is checked again on the next use
        monkeypatch.setattr(store.client, "create_table", create_table)
        assert await store.retrieve("alice") is None

        def unreachable(**arguments):
            raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")

        for operation in ("get_item", "update_item", "delete_item", "scan"):
            monkeypatch.setattr(store.client, operation, unreachable)
        with pytest.raises(TrackerStoreError, match="DynamoDB read failed: "
                                                    "EndpointConnectionError") as read:
            await store.retrieve("alice")
        assert "credentials" in read.value.hint and "endpoint_url" in read.value.hint
        with pytest.raises(TrackerStoreError, match="DynamoDB write failed"):
            await store.append_events("alice", [{"event": "restart", "timestamp": 1.0}])
        with pytest.raises(TrackerStoreError, match="DynamoDB delete failed"):
            await store.delete("alice")
        with pytest.raises(TrackerStoreError, match="DynamoDB read failed"):
            await store.keys()

    asyncio.run(main())


def test_an_unreadable_table_is_a_tracker_store_error(make_store, monkeypatch) -> None:
    store = make_store()

    def throttled(**arguments):
        raise _client_error("ThrottlingException", "DescribeTable")

    monkeypatch.setattr(store.client, "describe_table", throttled)
    with pytest.raises(TrackerStoreError, match="DynamoDB table check failed: ClientError"):
        asyncio.run(store.load_events("alice"))


def test_numbers_read_back_by_their_notation() -> None:
    from dialogflowlite.stores.dynamo import _as_json

    read = _as_json({"a": [Decimal("2"), Decimal("2.0"), Decimal("1E+2"), Decimal("-0.5")]})
    assert read == {"a": [2, 2.0, 100.0, -0.5]}
    assert [type(number) for number in read["a"]] == [int, float, float, float]
