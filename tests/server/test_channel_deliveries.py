"""A channel's memory of deliveries: the lock store's where it keeps one, else per process."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dialogflowlite.errors import ApiError, DialogueError, TrackerStoreError
from dialogflowlite.server.channels.deliveries import (
    RecentDeliveries,
    lock_store_of,
    redelivery_may_succeed,
)


class FlakyLockStore:
    """A lock store (of a plugin) whose memory of deliveries fails while ``down``."""

    def __init__(self) -> None:
        self.down = False
        self.seen: set[str] = set()

    async def first_delivery(self, key: str, ttl_seconds: float) -> bool:
        if self.down:
            raise TrackerStoreError("Redis delivery check failed: ConnectionError: refused")
        new = key not in self.seen
        self.seen.add(key)
        return new


def is_new(deliveries: RecentDeliveries, delivery_id: Any, store: Any = None) -> bool:
    return asyncio.run(deliveries.is_new(delivery_id, store))


def test_two_workers_share_the_sqlite_lock_stores_memory(tmp_path: Path) -> None:
    from dialogflowlite.stores.sqlite import SQLiteLockStore

    async def main() -> list[bool]:
        stores = [SQLiteLockStore(db=tmp_path / "locks.db") for _ in range(2)]
        workers = [RecentDeliveries("telegram") for _ in range(2)]
        answers = [await workers[0].is_new(1001, stores[0]),
                   await workers[1].is_new(1001, stores[1]),
                   await workers[1].is_new(1002, stores[1]),
                   # the ids of another channel are its own
                   await RecentDeliveries("facebook").is_new(1001, stores[0])]
        for store in stores:
            await store.close()
        return answers

    assert asyncio.run(main()) == [True, False, True, True]


@pytest.mark.parametrize("store", [None, object()], ids=["no-store", "store-without-memory"])
def test_without_the_lock_stores_memory_the_process_remembers(store: Any) -> None:
    deliveries = RecentDeliveries("telegram")
    assert is_new(deliveries, "7", store) and not is_new(deliveries, "7", store)
    # another worker, with a memory of its own, does not know it
    assert is_new(RecentDeliveries("telegram"), "7", store)
    assert is_new(deliveries, None, store) and is_new(deliveries, None, store)


def test_the_in_memory_lock_store_leaves_it_to_the_process() -> None:
    from dialogflowlite.stores.memory import MemoryLockStore

    store = MemoryLockStore()
    deliveries = RecentDeliveries("telegram")
    assert is_new(deliveries, "7", store) and not is_new(deliveries, "7", store)
    assert is_new(RecentDeliveries("telegram"), "7", store)


def test_a_failing_store_is_logged_once_and_the_message_still_handled(caplog) -> None:
    store = FlakyLockStore()
    deliveries = RecentDeliveries("telegram")
    store.down = True
    with caplog.at_level(logging.INFO, logger="dialogflowlite.server.channels.deliveries"):
        # handled rather than lost, and this process still tells its own re-deliveries
        assert is_new(deliveries, "1", store) and not is_new(deliveries, "1", store)
        assert is_new(deliveries, "2", store)
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "telegram: the lock store could not say whether delivery 1 is new" in \
            warnings[0].getMessage() and "ConnectionError" in warnings[0].getMessage()
        store.down = False
        assert is_new(deliveries, "3", store)
        assert "remembers deliveries again" in caplog.text
    # back up: the store answers for all workers again
    assert not is_new(RecentDeliveries("telegram"), "3", store)


def test_a_redis_that_is_down_does_not_drop_the_message(caplog) -> None:
    pytest.importorskip("redis")
    from dialogflowlite.stores.redis import RedisLockStore

    async def main() -> list[bool]:
        # port 9 (discard): nothing listens there on a test machine
        store = RedisLockStore(url="127.0.0.1", port=9, socket_timeout=2)
        deliveries = RecentDeliveries("facebook")
        try:
            return [await deliveries.is_new("m.1", store), await deliveries.is_new("m.1", store)]
        finally:
            await store.close()

    with caplog.at_level(logging.WARNING):
        assert asyncio.run(main()) == [True, False]
    assert "Redis delivery check failed" in caplog.text


def test_the_lock_store_of_a_request() -> None:
    ctx = SimpleNamespace()
    request = SimpleNamespace(app=SimpleNamespace(ctx=ctx))
    assert lock_store_of(request) is None  # no model loaded yet
    ctx.agent = SimpleNamespace(lock_store="the store")
    assert lock_store_of(request) == "the store"


def test_a_channel_asks_with_the_request_and_the_agents_lock_store_answers() -> None:
    store = FlakyLockStore()
    ctx = SimpleNamespace(agent=SimpleNamespace(lock_store=store))
    request = SimpleNamespace(app=SimpleNamespace(ctx=ctx))

    async def main() -> list[bool]:
        return [await RecentDeliveries("telegram").is_new_for(request, 7),
                # another worker: only the lock store found through the request knows it
                await RecentDeliveries("telegram").is_new_for(request, 7),
                await RecentDeliveries("telegram").is_new_for(request, 8)]

    assert asyncio.run(main()) == [True, False, True]
    assert store.seen == {"telegram:7", "telegram:8"}
    # before a model is loaded there is no lock store: this process's memory answers
    before = SimpleNamespace(app=SimpleNamespace(ctx=SimpleNamespace()))
    deliveries = RecentDeliveries("telegram")
    assert asyncio.run(deliveries.is_new_for(before, 9))
    assert not asyncio.run(deliveries.is_new_for(before, 9))


class ForgettingLockStore(FlakyLockStore):
    """A lock store whose memory of deliveries can forget one (as Redis's does)."""

    async def forget_delivery(self, key: str) -> None:
        if self.down:
            raise TrackerStoreError("Redis delivery forgetting failed: ConnectionError")
        self.seen.discard(key)


def request_for(store: Any) -> Any:
    ctx = SimpleNamespace(agent=SimpleNamespace(lock_store=store))
    return SimpleNamespace(app=SimpleNamespace(ctx=ctx))


@pytest.mark.parametrize(("error", "worth_it"), [
    (TrackerStoreError("Redis save failed: ConnectionError: refused"), True),
    (ConnectionResetError("the database went away"), True),
    (TimeoutError(), True),
    (ApiError(409, "Conflict", "no model is loaded"), True),
    (ApiError(503, "ServiceUnavailable", "busy"), True),
    (ApiError(400, "BadRequest", "the sender id is too long"), False),
    (DialogueError("the policies predicted nothing"), False),
    (RuntimeError("a bug"), False),
])
def test_which_failures_a_redelivery_may_get_past(error: Exception, worth_it: bool) -> None:
    assert redelivery_may_succeed(error) is worth_it


def _raised_by(call: Any) -> Exception:
    try:
        call()
    except Exception as e:
        return e
    raise AssertionError("nothing was raised")


def test_a_store_error_the_events_cause_is_not_worth_a_redelivery() -> None:
    from dialogflowlite.stores.base import dump_events

    not_json = _raised_by(lambda: dump_events("u1", [{"event": "slot", "value": object()}]))
    assert type(not_json) is TrackerStoreError
    assert redelivery_may_succeed(not_json) is False


def test_a_turn_the_store_could_not_keep_is_forgotten_by_every_worker(caplog) -> None:
    store = ForgettingLockStore()
    request = request_for(store)
    first, other = RecentDeliveries("telegram"), RecentDeliveries("telegram")

    async def main() -> list[Any]:
        taken = await first.is_new_for(request, 7)
        with caplog.at_level(logging.ERROR):
            answer = await first.after_failed_turn(
                request, 7, "42", TrackerStoreError("Redis save failed: refused"))
        # the re-delivery is new again, to this worker and to another one
        return [taken, answer, await other.is_new_for(request, 7),
                await first.is_new(7)]

    taken, answer, elsewhere, here = asyncio.run(main())
    assert taken and elsewhere and here
    assert isinstance(answer, ApiError) and answer.status == 503
    assert "conversation '42' (delivery 7)" in caplog.text and "deliver it again" in caplog.text


def test_a_turn_that_fails_for_good_is_remembered_and_logged_as_lost(caplog) -> None:
    store = ForgettingLockStore()
    request = request_for(store)
    deliveries = RecentDeliveries("facebook")

    async def main() -> list[Any]:
        await deliveries.is_new_for(request, "m.1")
        with caplog.at_level(logging.ERROR):
            answer = await deliveries.after_failed_turn(request, "m.1", "u1",
                                                        RuntimeError("a bug"))
        return [answer, await deliveries.is_new_for(request, "m.1")]

    assert asyncio.run(main()) == [None, False]
    assert "conversation 'u1' (delivery m.1) could not be handled and is lost: a bug" \
        in caplog.text


def test_a_platform_that_does_not_deliver_again_is_not_asked_to(caplog) -> None:
    request = request_for(ForgettingLockStore())
    with caplog.at_level(logging.ERROR):
        answer = asyncio.run(RecentDeliveries("webexteams").after_failed_turn(
            request, "m.1", "room", TrackerStoreError("down"), redelivered=False))
    assert answer is None and "is lost" in caplog.text


def test_a_lock_store_that_fails_to_forget_still_lets_this_process_handle_it(caplog) -> None:
    store = ForgettingLockStore()
    deliveries = RecentDeliveries("slack")

    async def main() -> list[bool]:
        await deliveries.is_new("Ev1", store)
        store.down = True
        with caplog.at_level(logging.WARNING):
            await deliveries.forget("Ev1", store)
        store.down = False
        remembered = "slack:Ev1" in store.seen
        return [remembered, await deliveries.is_new("Ev1", store),
                await RecentDeliveries("slack").is_new("Ev1", store)]

    # the store still remembers it: another worker skips the re-delivery, this one not
    assert asyncio.run(main()) == [True, True, False]
    assert "could not forget delivery Ev1" in caplog.text


def test_the_sqlite_lock_store_forgets_a_failed_delivery_for_every_worker(
        tmp_path: Path) -> None:
    from dialogflowlite.stores.sqlite import SQLiteLockStore

    async def main() -> list[bool]:
        stores = [SQLiteLockStore(db=tmp_path / "locks.db") for _ in range(2)]
        workers = [RecentDeliveries("telegram") for _ in range(2)]
        try:
            taken = await workers[0].is_new(1001, stores[0])
            await workers[0].forget(1001, stores[0])
            # the re-delivery reaches the other worker, which handles it; then it is taken
            return [taken, await workers[1].is_new(1001, stores[1]),
                    await workers[0].is_new(1001, stores[0])]
        finally:
            for store in stores:
                await store.close()

    assert asyncio.run(main()) == [True, True, False]


class SharedMemoryOnly:
    """A plugin's lock store that remembers deliveries for every worker but cannot
    forget one."""

    def __init__(self) -> None:
        self.keys: set[str] = set()

    async def first_delivery(self, key: str, ttl_seconds: float) -> bool:
        new = key not in self.keys
        self.keys.add(key)
        return new


def test_with_a_lock_store_that_cannot_forget_this_process_handles_the_redelivery() -> None:
    store = SharedMemoryOnly()

    async def main() -> list[bool]:
        workers = [RecentDeliveries("telegram") for _ in range(2)]
        taken = await workers[0].is_new(1001, store)
        await workers[0].forget(1001, store)
        # the store still says "taken": the other worker skips it, this one not
        return [taken, await workers[1].is_new(1001, store),
                await workers[0].is_new(1001, store), await workers[0].is_new(1001, store)]

    assert asyncio.run(main()) == [True, False, True, False]


def test_two_redeliveries_waiting_for_a_turn_that_fails_handle_the_message_once() -> None:
    request = request_for(ForgettingLockStore())
    deliveries = RecentDeliveries("facebook")
    handled: list[str] = []

    async def main() -> list[Any]:
        gate = asyncio.Event()

        async def failing() -> None:
            await gate.wait()
            raise TrackerStoreError("Redis save failed: ConnectionError: refused")

        async def storing() -> None:
            handled.append("m.1")

        first = asyncio.create_task(deliveries.handle_once(request, "m.1", "u1", failing))
        await asyncio.sleep(0.01)
        waiting = [asyncio.create_task(deliveries.handle_once(request, "m.1", "u1", storing))
                   for _ in range(2)]
        await asyncio.sleep(0.01)
        gate.set()
        return [await first, *[await task for task in waiting]]

    first, *again = asyncio.run(main())
    assert first.answer is not None and first.answer.status == 503
    # one waiting re-delivery handled it, the other waited for that turn and found it taken
    assert handled == ["m.1"]
    assert sorted((a.taken, a.answer) for a in again) == [(False, None), (True, None)]


def test_a_redelivery_is_not_kept_waiting_once_the_turn_is_stored() -> None:
    request = request_for(ForgettingLockStore())
    deliveries = RecentDeliveries("telegram", redelivery_wait=30)

    async def main() -> tuple[Any, float]:
        gate = asyncio.Event()
        first = asyncio.create_task(deliveries.handle_once(request, 7, "42", gate.wait))
        await asyncio.sleep(0.01)
        again = asyncio.create_task(deliveries.handle_once(request, 7, "42", gate.wait))
        await asyncio.sleep(0.01)
        started = asyncio.get_running_loop().time()
        gate.set()
        await first
        return await again, asyncio.get_running_loop().time() - started

    delivered, waited = asyncio.run(main())
    assert delivered.taken and delivered.answer is None and waited < 5


def test_the_log_of_a_redelivery_that_outwaited_the_turn_says_how_long_it_waited(
        caplog) -> None:
    # a wait under a second was logged as "after 0 s"
    request = request_for(ForgettingLockStore())
    deliveries = RecentDeliveries("telegram", redelivery_wait=0.1)

    async def main() -> Any:
        gate = asyncio.Event()
        first = asyncio.create_task(deliveries.handle_once(request, 7, "42", gate.wait))
        await asyncio.sleep(0)
        again = await deliveries.handle_once(request, 7, "42", gate.wait)
        gate.set()
        await first
        return again

    with caplog.at_level(logging.INFO):
        again = asyncio.run(main())
    assert again.still_running and again.answer is not None and again.answer.status == 503
    [line] = [r.getMessage() for r in caplog.records if "still running" in r.getMessage()]
    assert "after 0.1 s;" in line, line
