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
