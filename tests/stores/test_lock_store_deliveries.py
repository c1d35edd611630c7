"""The lock stores' memory of platform deliveries, shared by the workers (SQLite, Redis)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from dialogflowlite.errors import TrackerStoreError


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def make_locks(request, tmp_path):
    """A factory of lock stores of one backend that share what they hold (like two workers)."""
    if request.param == "sqlite":
        from dialogflowlite.stores.sqlite import SQLiteLockStore

        return lambda: SQLiteLockStore(db=tmp_path / "locks.db")
    from dialogflowlite.stores.redis import RedisLockStore

    url = request.getfixturevalue("redis_url")
    prefix = f"dfltest-{uuid.uuid4().hex[:8]}:"
    return lambda: RedisLockStore(url=url, key_prefix=prefix)


def test_a_delivery_is_new_once_to_all_workers(make_locks) -> None:
    async def main() -> None:
        one, two = make_locks(), make_locks()
        assert await one.first_delivery("telegram:1001", 60) is True
        assert await two.first_delivery("telegram:1001", 60) is False
        assert await one.first_delivery("telegram:1001", 60) is False
        # another id, or the same id of another channel, is new
        assert await two.first_delivery("telegram:1002", 60) is True
        assert await two.first_delivery("facebook:1001", 60) is True
        await one.close()
        await two.close()

    asyncio.run(main())


def test_concurrent_deliveries_of_one_event_are_new_exactly_once(make_locks) -> None:
    async def main() -> None:
        stores = [make_locks() for _ in range(4)]
        answers = await asyncio.gather(*(store.first_delivery("slack:Ev1", 60)
                                         for store in stores for _ in range(3)))
        assert sorted(answers) == [False] * 11 + [True]
        for store in stores:
            await store.close()

    asyncio.run(main())


def test_a_delivery_is_forgotten_after_its_time(make_locks) -> None:
    ttl = 2.0  # the second ask comes well within it, even on a loaded machine

    async def main() -> float:
        store = make_locks()
        started = time.monotonic()
        assert await store.first_delivery("twilio:SM1", ttl) is True
        assert await store.first_delivery("twilio:SM1", ttl) is False
        # asked until it is new again (asking does not make it remembered longer)
        while not await store.first_delivery("twilio:SM1", ttl):
            assert time.monotonic() - started < 30, "the delivery was never forgotten"
            await asyncio.sleep(0.05)
        forgotten_after = time.monotonic() - started
        await store.close()
        return forgotten_after

    assert asyncio.run(main()) >= ttl


def test_sqlite_purges_expired_deliveries(tmp_path) -> None:
    from dialogflowlite.stores.sqlite import SQLiteLockStore

    async def main() -> int:
        store = SQLiteLockStore(db=tmp_path / "locks.db")
        for n in range(5):
            await store.first_delivery(f"old:{n}", 0.01)
        await asyncio.sleep(0.05)
        store._next_purge = time.monotonic()  # the purge interval has passed
        await store.first_delivery("new:1", 60)
        rows = await store.database.run(
            lambda c: c.execute("SELECT delivery_key FROM dfl_deliveries").fetchall())
        await store.close()
        return rows

    assert asyncio.run(main()) == [("new:1",)]


def test_redis_keys_live_under_the_lock_prefix() -> None:
    pytest.importorskip("redis")
    from dialogflowlite.stores.redis import RedisLockStore

    assert RedisLockStore(key_prefix="myapp").delivery_key("telegram:7") == \
        "myapp:lock:delivery:telegram:7:seen"
    assert RedisLockStore().delivery_key("telegram:7") == "dfl:lock:delivery:telegram:7:seen"


@pytest.mark.redis
def test_redis_sets_the_key_with_its_expiry(redis_url: str) -> None:
    import redis

    from dialogflowlite.stores.redis import RedisLockStore

    prefix = f"dfltest-{uuid.uuid4().hex[:8]}:"
    admin = redis.Redis.from_url(redis_url, decode_responses=True)

    async def main() -> None:
        store = RedisLockStore(url=redis_url, key_prefix=prefix)
        assert await store.first_delivery("telegram:7", 90)
        await store.close()

    try:
        asyncio.run(main())
        assert 0 < admin.pttl(f"{prefix}delivery:telegram:7:seen") <= 90_000
    finally:
        admin.close()


def test_an_unreachable_redis_is_a_clear_error() -> None:
    pytest.importorskip("redis")
    from dialogflowlite.stores.redis import RedisLockStore

    async def main() -> None:
        # port 9 (discard): nothing listens there on a test machine
        store = RedisLockStore(url="127.0.0.1", port=9, socket_timeout=2)
        try:
            with pytest.raises(TrackerStoreError, match="Redis delivery check failed"):
                await store.first_delivery("telegram:7", 60)
        finally:
            await store.close()

    asyncio.run(main())


def test_the_in_memory_store_keeps_no_shared_memory() -> None:
    from dialogflowlite.stores.memory import MemoryLockStore

    assert asyncio.run(MemoryLockStore().first_delivery("telegram:7", 60)) is None
