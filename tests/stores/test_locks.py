"""Shared lock stores (SQLite, Redis): one conversation at a time, first come first served."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from dialogflowlite.errors import TrackerStoreError


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def make_locks(request, tmp_path):
    """A factory of lock stores of one backend that share their locks (like two workers)."""
    if request.param == "sqlite":
        from dialogflowlite.stores.sqlite import SQLiteLockStore

        return lambda **kw: SQLiteLockStore(db=tmp_path / "locks.db", **kw)
    from dialogflowlite.stores.redis import RedisLockStore

    url = request.getfixturevalue("redis_url")
    prefix = f"dfltest-{uuid.uuid4().hex[:8]}:"
    return lambda **kw: RedisLockStore(url=url, key_prefix=prefix, **kw)


def test_one_sender_is_served_in_arrival_order_others_do_not_wait(make_locks) -> None:
    order: list[str] = []
    b_over = asyncio.Event()

    async def handle(locks, name: str, sender: str, delay: float,
                     hold_until: asyncio.Event | None = None) -> None:
        async with locks.lock(sender):
            order.append(f"start {name}")
            await asyncio.sleep(delay)
            if hold_until is not None:
                # keeps the lock until the other sender is through, however slow the
                # machine; bounded: were that sender held up by this lock, the order
                # below says so
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(hold_until.wait(), 30)
            order.append(f"end {name}")

    async def b_then_tell(locks) -> None:
        await handle(locks, "b0", "b", 0.0)
        b_over.set()

    async def main() -> None:
        first, second = make_locks(), make_locks()
        ticket_taken = asyncio.Event()
        for locks in (first, second):
            async with locks.lock("warm-up"):  # connect first
                pass
            take_ticket = locks.take_ticket

            async def announced(sender_id: str, take_ticket=take_ticket) -> tuple[int, int]:
                ticket = await take_ticket(sender_id)
                ticket_taken.set()
                return ticket

            locks.take_ticket = announced
        tasks = []
        for number in range(6):
            # Alternate between the two stores, as requests alternate between workers.
            locks = first if number % 2 == 0 else second
            ticket_taken.clear()
            tasks.append(asyncio.create_task(handle(locks, f"a{number}", "a", 0.05,
                                                    b_over if number == 1 else None)))
            # arrival is when the store hands out the ticket: the next message
            # arrives after it (a fixed pause was not enough on a busy machine)
            await ticket_taken.wait()
        tasks.append(asyncio.create_task(b_then_tell(second)))
        await asyncio.gather(*tasks)
        await first.close()
        await second.close()

    asyncio.run(main())
    a_events = [e for e in order if e.endswith(tuple(f"a{n}" for n in range(6)))]
    assert a_events == [f"{what} a{n}" for n in range(6) for what in ("start", "end")]
    assert order.index("end b0") < order.index("end a1")  # another sender is not held up


def test_waiting_too_long_is_a_clear_error_and_leaves_no_ticket_behind(make_locks) -> None:
    async def main() -> None:
        locks = make_locks()
        async with locks.lock("a"):
            with pytest.raises(TrackerStoreError, match="stayed locked"):
                async with locks.lock("a", wait_timeout=0.05):
                    pass
        # The abandoned ticket does not block the next message.
        async with asyncio.timeout(2):
            async with locks.lock("a"):
                pass
        await locks.close()

    asyncio.run(main())


def test_a_cancelled_waiter_does_not_block_the_conversation(make_locks) -> None:
    async def main() -> None:
        locks = make_locks()
        async with locks.lock("a"):
            waiter = asyncio.create_task(_enter(locks, "a"))
            await asyncio.sleep(0.05)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
        async with asyncio.timeout(2):
            async with locks.lock("a"):
                pass
        await locks.close()

    asyncio.run(main())


async def _enter(locks, sender: str) -> None:
    async with locks.lock(sender):
        pass


def test_a_crashed_holder_expires_after_its_lifetime(make_locks) -> None:
    async def main() -> None:
        crashed = make_locks(lifetime=0.3)
        ticket, serving = await crashed.take_ticket("a")
        assert ticket == serving  # it holds the lock ... and never gives it back
        locks = make_locks(lifetime=0.3)
        started = asyncio.get_running_loop().time()
        async with asyncio.timeout(5):
            async with locks.lock("a"):
                waited = asyncio.get_running_loop().time() - started
        assert 0.2 < waited < 3
        await crashed.close()
        await locks.close()

    asyncio.run(main())


_WORKER = """
import asyncio, sys
from dialogflowlite.stores.sqlite import SQLiteLockStore, SQLiteTrackerStore

async def main(name):
    db = sys.argv[1]
    locks, store = SQLiteLockStore(db=db), SQLiteTrackerStore(db=db)
    for number in range(15):
        async with locks.lock("shared"):
            await store.append_events("shared", [{"event": "slot", "name": "start",
                                                  "value": name, "timestamp": 1.0}])
            await asyncio.sleep(0.002)
            await store.append_events("shared", [{"event": "slot", "name": "end",
                                                  "value": name, "timestamp": 1.0}])
    await locks.close()

asyncio.run(main(sys.argv[2]))
"""


def test_sqlite_locks_exclude_each_other_across_processes(tmp_path: Path) -> None:
    from dialogflowlite.stores.sqlite import SQLiteTrackerStore

    db = str(tmp_path / "shared.db")
    workers = [subprocess.Popen([sys.executable, "-c", _WORKER, db, name])
               for name in ("w1", "w2", "w3")]
    for worker in workers:
        assert worker.wait(timeout=120) == 0
    events = asyncio.run(SQLiteTrackerStore(db=db).load_events("shared"))
    assert len(events) == 90
    # Every start is directly followed by the end of the same process: no interleaving.
    for start, end in zip(events[0::2], events[1::2], strict=True):
        assert (start["name"], end["name"]) == ("start", "end")
        assert start["value"] == end["value"]
    assert {e["value"] for e in events} == {"w1", "w2", "w3"}


def test_a_message_cancelled_while_drawing_its_ticket_blocks_no_one(make_locks) -> None:
    async def main() -> None:
        locks = make_locks(lifetime=30)
        async with locks.lock("warm-up"):  # connect first
            pass
        drawn = asyncio.Event()
        take_ticket = locks.take_ticket

        async def slow(sender_id: str) -> tuple[int, int]:
            # the backend has handed the ticket out; its answer is still on the way
            ticket = await take_ticket(sender_id)
            drawn.set()
            await asyncio.sleep(0.1)
            return ticket

        locks.take_ticket = slow
        waiting = asyncio.create_task(locks.lock("bo").__aenter__())
        await drawn.wait()
        waiting.cancel()  # e.g. the request timed out
        with pytest.raises(asyncio.CancelledError):
            await waiting
        locks.take_ticket = take_ticket
        # the drawn ticket used to stay alive (and served first) for `lifetime` seconds
        async with locks.lock("bo", wait_timeout=5):
            pass
        await locks.close()

    asyncio.run(main())
