"""The MongoDB tracker store beyond the shared contract (tests/stores/test_backends.py):
Rasa's documents and settings, its index, and what a failing server gives.

There is no MongoDB server here: mongomock's in-memory server plays it (see
mongo_double.py), so these tests check the store's documents and queries, not
the network.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from test_backends import _conversation, mongo_store_factory

from dialogflowlite.errors import ConfigError, TrackerStoreError
from dialogflowlite.server.channels.deliveries import redelivery_may_succeed
from dialogflowlite.shared.events import UserUttered

RASA_DOCUMENT = {
    "sender_id": "from-rasa",
    "slots": {"city": "Oslo"},
    "latest_message": {"text": "to Oslo"},
    "events": [
        {"event": "action", "name": "action_listen", "timestamp": 1.0},
        {"event": "user", "text": "to Oslo", "timestamp": 2.0,
         "parse_data": {"intent": {"name": "inform", "confidence": 0.9}, "entities": []}},
        {"event": "slot", "name": "city", "value": "Oslo", "timestamp": 2.0},
    ],
}


@pytest.fixture
def make_store(monkeypatch):
    return mongo_store_factory(monkeypatch)


def test_a_conversation_rasa_stored_is_read_and_added_to_in_place(make_store) -> None:
    async def main() -> None:
        store = make_store(db="bots")
        await store._collection()
        store.conversations.blocking.insert_one(dict(RASA_DOCUMENT))
        tracker = await store.retrieve("from-rasa")
        assert tracker.slots["city"] == "Oslo" and tracker.latest_message.text == "to Oslo"
        assert await store.stored_version("from-rasa") == 0
        tracker.update(UserUttered(text="thanks"))
        await store.save(tracker)
        [document] = list(store.conversations.blocking.find({}, {"_id": 0}))
        # one document per conversation, Rasa's fields kept, the new event pushed
        assert document["slots"] == {"city": "Oslo"}
        assert [e["event"] for e in document["events"]] == ["action", "user", "slot", "user"]
        assert document["dfl_version"] == 1
        assert await store.keys() == ["from-rasa"]
        await store.close()
        assert store.client.closed

    asyncio.run(main())


def test_rasa_settings_in_endpoints_build_the_store(make_store, plugin_manager) -> None:
    from dialogflowlite.stores.factory import create_tracker_store
    from dialogflowlite.stores.mongo import MongoTrackerStore

    store = create_tracker_store({"type": "mongod", "url": "db.local:27017", "db": "rasa",
                                  "username": "bot", "password": "pw", "auth_source": "users",
                                  "collection": "talks"})
    assert isinstance(store, MongoTrackerStore)
    assert store.client.url == "mongodb://db.local:27017"
    assert store.client.options["username"] == "bot"
    assert store.client.options["authSource"] == "users"
    assert store.conversations.blocking.name == "talks"
    assert isinstance(create_tracker_store({"type": "mongo"}), MongoTrackerStore)
    with pytest.raises(ConfigError, match="no setting 'colection'") as error:
        create_tracker_store({"type": "mongod", "colection": "talks"})
    assert "collection" in str(error.value)


def test_rasa_s_own_index_is_kept_with_a_warning(make_store, caplog) -> None:
    async def main() -> None:
        store = make_store()
        store.conversations.blocking.create_index("sender_id")  # Rasa's, not unique
        with caplog.at_level(logging.WARNING):
            await store.save(_conversation("alice"))
        assert "no unique index on sender_id" in caplog.text
        assert await store.count_events("alice") == 7
        assert await store.count_events("nobody") == 0

    asyncio.run(main())


def test_a_failing_server_is_a_tracker_store_error(make_store) -> None:
    async def main() -> None:
        store = make_store()

        def unreachable(*args, **kwargs):
            from pymongo.errors import ServerSelectionTimeoutError

            # pymongo's own message: the reason, then the timeouts and the whole topology
            raise ServerSelectionTimeoutError(
                "db:27017: [Errno 111] Connection refused (configured timeouts: "
                "socketTimeoutMS: 20000.0ms), Timeout: 10.0s, Topology Description: "
                "<TopologyDescription id: 1, servers: [<ServerDescription ...>]>")

        index = store.conversations.blocking.create_index
        store.conversations.blocking.create_index = unreachable
        with pytest.raises(TrackerStoreError) as failed:
            await store.retrieve("alice")
        # said once, with the reason and without pymongo's description of the topology
        assert failed.value.message == ("MongoDB connection failed: ServerSelectionTimeoutError: "
                                        "db:27017: [Errno 111] Connection refused")
        assert failed.value.render().count("hint") == 1
        # the index is tried again once the server answers
        store.conversations.blocking.create_index = index
        assert await store.retrieve("alice") is None
        assert "sender_id_1" in store.conversations.blocking.index_information()

        def down(*args, **kwargs):
            raise ConnectionError("connection refused")

        store.conversations.blocking.find_one = down
        store.conversations.blocking.find_one_and_update = down
        with pytest.raises(TrackerStoreError, match="MongoDB read failed: ConnectionError") as read:
            await store.retrieve("alice")
        assert "reachable" in read.value.hint
        with pytest.raises(TrackerStoreError, match="MongoDB write failed"):
            await store.save(_conversation("alice"))

    asyncio.run(main())


def test_a_url_mongodb_cannot_use_is_a_config_error_naming_it(plugin_manager) -> None:
    pytest.importorskip("pymongo")
    from dialogflowlite.stores.factory import create_tracker_store

    # it was pymongo's ValueError or InvalidURI, a traceback at start; `not a url` was
    # taken for a host name, and every message logged a traceback
    for url in ("mongodb://localhost:notaport", "postgresql://db.internal/rasa", "not a url",
                "mongodb://db.internal, other:27017"):
        with pytest.raises(ConfigError, match=f"tracker_store: MongoDB url '{url}'"):
            create_tracker_store({"type": "mongod", "url": url})


@pytest.mark.parametrize("refusal", ["client", "server"])
def test_a_conversation_too_large_for_one_document_is_named(make_store, refusal: str) -> None:
    from pymongo.errors import DocumentTooLarge, OperationFailure

    async def main() -> None:
        store = make_store()
        await store.save(_conversation("alice"))

        def too_large(*args, **kwargs):
            if refusal == "client":  # pymongo: the request itself cannot be sent
                raise DocumentTooLarge("BSON document too large (17825792 bytes)")
            # the server: the update would make the document too large
            raise OperationFailure("Resulting document after update is larger than 16777216",
                                   code=17419)

        store.conversations.blocking.find_one_and_update = too_large
        tracker = await store.retrieve("alice")
        tracker.update(UserUttered(text="one more"))
        with pytest.raises(TrackerStoreError) as error:
            await store.save(tracker)
        assert "conversation 'alice'" in error.value.message
        assert "16 MB" in error.value.message
        assert "reachable" not in error.value.hint
        assert "one row per event" in error.value.hint
        # every re-delivery of the message would fail the same way
        assert redelivery_may_succeed(error.value) is False

    asyncio.run(main())


def test_other_refused_writes_stay_write_failures(make_store) -> None:
    from pymongo.errors import OperationFailure

    async def main() -> None:
        store = make_store()

        def unauthorized(*args, **kwargs):
            raise OperationFailure("not authorized on rasa to execute command", code=13)

        await store._collection()
        store.conversations.blocking.find_one_and_update = unauthorized
        with pytest.raises(TrackerStoreError, match="MongoDB write failed: OperationFailure") \
                as error:
            await store.save(_conversation("bob"))
        # a refusal the server's operator can lift: worth a re-delivery
        assert redelivery_may_succeed(error.value) is True

    asyncio.run(main())
