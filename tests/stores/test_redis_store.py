"""What only the Redis tracker store does: conversations that expire (``record_exp``)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from dialogflowlite.shared.events import SlotSet
from dialogflowlite.shared.tracker import DialogueStateTracker

pytestmark = pytest.mark.redis


def test_expired_conversations_leave_no_id_behind(redis_url: str) -> None:
    import redis

    from dialogflowlite.stores.redis import RedisTrackerStore

    prefix = f"dfltest-{uuid.uuid4().hex[:8]}:"
    admin = redis.Redis.from_url(redis_url, decode_responses=True)

    async def main() -> None:
        store = RedisTrackerStore(url=redis_url, key_prefix=prefix, record_exp=3600)
        for sender in ("+15550100", "+15550199"):
            await store.save(DialogueStateTracker(sender, events=[SlotSet(name="a", value=1)]))
        assert 0 < admin.ttl(f"{prefix}+15550100") <= 3600
        # as Redis does once record_exp has passed
        admin.delete(f"{prefix}+15550100")
        assert await store.keys() == ["+15550199"]
        # the ids (here phone numbers) were kept in the set of conversations for good
        assert admin.smembers(f"{prefix}:senders") == {"+15550199"}
        await store.close()

    try:
        asyncio.run(main())
    finally:
        admin.close()


def _rasa_tracker_text(sender: str) -> tuple[str, list[dict]]:
    """What Rasa 3's Redis tracker store writes: the whole tracker as one JSON string."""
    import json

    events = [{"event": "action", "name": "action_session_start",
               "timestamp": 1700000000.123456},
              {"event": "session_started", "timestamp": 1700000000.2},
              {"event": "user", "text": "hi", "timestamp": 1700000001.5,
               "parse_data": {"intent": {"name": "greet", "confidence": 1.0},
                              "entities": []}}]
    return json.dumps({"events": events, "name": sender}), events


def test_a_rasa_deployments_conversations_are_read_and_continued(redis_url: str) -> None:
    import json

    import redis

    from dialogflowlite.stores.redis import RedisTrackerStore

    name = f"dfltest{uuid.uuid4().hex[:8]}"  # letters and digits: Rasa's name space
    key = f"{name}:tracker:alice"
    text, events = _rasa_tracker_text("alice")
    admin = redis.Redis.from_url(redis_url, decode_responses=True)
    admin.set(key, text)

    async def main() -> None:
        store = RedisTrackerStore(url=redis_url, key_prefix=name)
        assert await store.keys() == ["alice"]
        assert await store.count_events("alice") == 3
        tracker = await store.retrieve("alice")
        assert [e.type_name for e in tracker.events] == ["action", "session_started", "user"]
        tracker.update(SlotSet(name="a", value=1))
        await store.save(tracker)
        # the conversation is now this store's list: Rasa's events as they were, then ours
        assert admin.type(key) == "list"
        stored = [json.loads(item) for item in admin.lrange(key, 0, -1)]
        assert stored[:3] == events
        assert stored[3]["event"] == "slot"
        again = await store.retrieve("alice")
        assert [e.type_name for e in again.events] == ["action", "session_started", "user",
                                                      "slot"]
        assert await store.keys() == ["alice"]
        await store.close()

    try:
        asyncio.run(main())
    finally:
        admin.delete(key, f"{name}:tracker::senders")
        admin.close()


def test_a_string_that_is_no_rasa_tracker_is_kept_and_refused_on_write(redis_url: str) -> None:
    import redis

    from dialogflowlite.errors import TrackerStoreError
    from dialogflowlite.server.channels.deliveries import redelivery_may_succeed
    from dialogflowlite.stores.redis import RedisTrackerStore

    prefix = f"dfltest-{uuid.uuid4().hex[:8]}:"
    admin = redis.Redis.from_url(redis_url, decode_responses=True)
    admin.set(f"{prefix}bob", "not json")

    async def main() -> None:
        store = RedisTrackerStore(url=redis_url, key_prefix=prefix)
        tracker = await store.retrieve("bob")
        assert tracker is not None and list(tracker.events) == []
        with pytest.raises(TrackerStoreError, match=r"'bob'.*not a Rasa tracker") as error:
            await store.append_events("bob", [{"event": "slot", "name": "a", "value": 1}])
        assert admin.get(f"{prefix}bob") == "not json"
        # every re-delivery of a message to this conversation would fail the same way
        assert redelivery_may_succeed(error.value) is False
        await store.close()

    try:
        asyncio.run(main())
    finally:
        admin.close()


def test_workers_writing_to_a_rasa_tracker_at_once_lose_nothing(redis_url: str) -> None:
    import json

    import redis

    from dialogflowlite.stores.redis import RedisTrackerStore

    name = f"dfltest{uuid.uuid4().hex[:8]}"
    key = f"{name}:tracker:carol"
    text, events = _rasa_tracker_text("carol")
    admin = redis.Redis.from_url(redis_url, decode_responses=True)

    async def main() -> None:
        for _ in range(10):
            admin.set(key, text)
            stores = [RedisTrackerStore(url=redis_url, key_prefix=name) for _ in range(4)]
            await asyncio.gather(*(store.append_events(
                "carol", [{"event": "slot", "name": "n", "value": i}])
                for i, store in enumerate(stores)))
            stored = [json.loads(item) for item in admin.lrange(key, 0, -1)]
            assert stored[:3] == events
            assert sorted(event["value"] for event in stored[3:]) == [0, 1, 2, 3]
            admin.delete(key)
            for store in stores:
                await store.close()

    try:
        asyncio.run(main())
    finally:
        admin.delete(key, f"{name}:tracker::senders")
        admin.close()


def test_a_wrong_password_or_db_is_said_as_such(redis_url: str) -> None:
    from urllib.parse import urlsplit

    from dialogflowlite.errors import TrackerStoreError
    from dialogflowlite.stores.redis import RedisTrackerStore

    server = urlsplit(redis_url)

    # every failure said "check that the Redis server in endpoints.yml is reachable"
    async def main() -> None:
        for settings, wanted in [({"username": "nobody", "password": "wrong"},
                                  "check `password`"),
                                 ({"db": 99999}, "check `db`")]:
            store = RedisTrackerStore(url=server.hostname, port=server.port, **settings)
            with pytest.raises(TrackerStoreError) as error:
                await store.retrieve("anyone")
            assert error.value.hint.startswith(wanted), error.value.hint
            await store.close()

    asyncio.run(main())
