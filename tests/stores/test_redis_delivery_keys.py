"""The Redis lock store keeps its remembered deliveries apart from its lock keys, and
forgets a delivery when asked."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from dialogflowlite.errors import TrackerStoreError

pytest.importorskip("redis")


def test_a_delivery_key_is_never_a_lock_key() -> None:
    from dialogflowlite.stores.redis import RedisLockStore

    store = RedisLockStore()
    # the sender `delivery:telegram` and the delivery `telegram:next` would share a key
    # `<prefix>delivery:telegram:next` without the `:seen` ending
    lock_keys = set(store._keys("delivery:telegram"))
    assert store.delivery_key("telegram:next") not in lock_keys
    assert store.delivery_key("telegram:alive:1") != f"{store._keys('delivery:telegram')[2]}1"


@pytest.mark.redis
def test_a_lock_and_a_delivery_with_clashing_names_leave_each_other_alone(
        redis_url: str) -> None:
    import redis

    from dialogflowlite.stores.redis import RedisLockStore

    prefix = f"dfltest-{uuid.uuid4().hex[:8]}:"
    admin = redis.Redis.from_url(redis_url, decode_responses=True)

    async def main() -> None:
        store = RedisLockStore(url=redis_url, key_prefix=prefix, lifetime=5)
        other = RedisLockStore(url=redis_url, key_prefix=prefix, lifetime=5)
        try:
            async with store.lock("delivery:telegram"):
                assert await store.first_delivery("telegram:next", 60) is True
                assert await store.first_delivery("telegram:serving", 60) is True
                assert await store.first_delivery("telegram:alive:1", 60) is True
                # the held lock is still held: another worker waits for it
                with pytest.raises(TrackerStoreError):
                    async with other.lock("delivery:telegram", wait_timeout=0.3):
                        pass
            # given back, it can be taken at once, and the deliveries are still remembered
            async with other.lock("delivery:telegram", wait_timeout=2):
                assert await other.first_delivery("telegram:next", 60) is False
                assert await other.first_delivery("telegram:alive:1", 60) is False
            assert await store.first_delivery("telegram:serving", 60) is False
        finally:
            await store.close()
            await other.close()

    try:
        asyncio.run(main())
        assert 0 < admin.pttl(f"{prefix}delivery:telegram:next:seen") <= 60_000
    finally:
        for key in admin.scan_iter(match=f"{prefix}*"):
            admin.delete(key)
        admin.close()


@pytest.mark.redis
def test_a_forgotten_delivery_is_new_again(redis_url: str) -> None:
    from dialogflowlite.stores.redis import RedisLockStore

    prefix = f"dfltest-{uuid.uuid4().hex[:8]}:"

    async def main() -> list[bool]:
        store = RedisLockStore(url=redis_url, key_prefix=prefix)
        try:
            first = await store.first_delivery("telegram:7", 60)
            again = await store.first_delivery("telegram:7", 60)
            await store.forget_delivery("telegram:7")
            after = await store.first_delivery("telegram:7", 60)
            await store.forget_delivery("telegram:7")
            return [first, again, after]
        finally:
            await store.close()

    assert asyncio.run(main()) == [True, False, True]
