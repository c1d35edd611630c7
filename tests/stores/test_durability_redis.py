"""A Redis conversation that expires (``record_exp``) while its turn runs is stored
again whole, not as the turn's events alone."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from dialogflowlite.shared.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from dialogflowlite.shared.tracker import DialogueStateTracker

pytestmark = pytest.mark.redis


def test_a_conversation_that_expires_mid_turn_is_stored_whole(redis_url: str) -> None:
    import redis

    from dialogflowlite.stores.redis import RedisTrackerStore

    prefix = f"dfltest-{uuid.uuid4().hex[:8]}:"
    admin = redis.Redis.from_url(redis_url, decode_responses=True)

    async def main() -> list[str]:
        store = RedisTrackerStore(url=redis_url, key_prefix=prefix, record_exp=3600)
        await store.save(DialogueStateTracker("ann", events=[
            ActionExecuted(name="action_session_start"), SessionStarted(),
            SlotSet(name="name", value="Ann"), ActionExecuted(name="action_listen")]))
        tracker = await store.retrieve("ann")
        start = len(tracker.events)
        tracker.update(UserUttered(text="hi", parse_data={"intent": {"name": "greet"}}))
        tracker.update(ActionExecuted(name="action_listen"))
        admin.delete(f"{prefix}ann")  # record_exp passes while the turn runs
        await store.save(tracker, [event.as_dict() for event in tracker.events[start:]])
        stored = await store.load_events("ann")
        assert 0 < admin.ttl(f"{prefix}ann") <= 3600
        await store.close()
        return [event["event"] for event in stored]

    try:
        kinds = asyncio.run(main())
    finally:
        admin.close()
    assert kinds == ["action", "session_started", "slot", "action", "user", "action"]


def test_without_expiry_a_turn_is_appended_as_before(redis_url: str) -> None:
    from dialogflowlite.stores.redis import RedisTrackerStore

    prefix = f"dfltest-{uuid.uuid4().hex[:8]}:"

    async def main() -> int:
        store = RedisTrackerStore(url=redis_url, key_prefix=prefix, record_exp=3600)
        await store.save(DialogueStateTracker("bo", events=[SlotSet(name="a", value=1)]))
        tracker = await store.retrieve("bo")
        tracker.update(SlotSet(name="a", value=2))
        await store.save(tracker, [tracker.events[-1].as_dict()])
        count = await store.count_events("bo")
        await store.close()
        return count

    assert asyncio.run(main()) == 2
