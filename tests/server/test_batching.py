"""Micro-batching: concurrent requests share NLU passes, each still gets its own answer."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from serving_helpers import serving

from dialogflowlite.server.batching import MicroBatcher


def test_items_waiting_together_form_one_batch() -> None:
    calls: list[list[int]] = []

    async def square(items: list[int]) -> list[int]:
        calls.append(list(items))
        await asyncio.sleep(0.01)
        return [item * item for item in items]

    async def main() -> list[int]:
        batcher = MicroBatcher(square, max_batch=8)
        results = await asyncio.gather(*(batcher.submit(n) for n in range(20)))
        await batcher.close()
        return results

    results = asyncio.run(main())
    assert results == [n * n for n in range(20)]
    assert [len(call) for call in calls] == [8, 8, 4]
    assert [n for call in calls for n in call] == list(range(20))


def test_requests_arriving_during_a_batch_make_the_next_batch() -> None:
    calls: list[list[str]] = []

    async def upper(items: list[str]) -> list[str]:
        calls.append(list(items))
        await asyncio.sleep(0.05)
        return [item.upper() for item in items]

    async def main() -> None:
        batcher = MicroBatcher(upper)
        first = asyncio.create_task(batcher.submit("a"))
        await asyncio.sleep(0.01)  # "a" is being processed now
        rest = [asyncio.create_task(batcher.submit(x)) for x in "bcd"]
        assert await first == "A"
        assert [await task for task in rest] == ["B", "C", "D"]
        await batcher.close()

    asyncio.run(main())
    assert calls == [["a"], ["b", "c", "d"]]


def test_a_failing_batch_fails_its_callers_and_the_next_batch_works() -> None:
    async def picky(items: list[str]) -> list[str]:
        if "bad" in items:
            raise ValueError("cannot parse")
        return items

    async def main() -> None:
        batcher = MicroBatcher(picky)
        results = await asyncio.gather(batcher.submit("bad"), batcher.submit("x"),
                                       return_exceptions=True)
        assert all(isinstance(r, ValueError) for r in results)
        assert await batcher.submit("fine") == "fine"
        await batcher.close()

    asyncio.run(main())


def test_a_wrong_number_of_results_is_an_error() -> None:
    async def lossy(items: list[str]) -> list[str]:
        return items[:1]

    async def main() -> None:
        batcher = MicroBatcher(lossy)
        with pytest.raises(RuntimeError, match="2 items"):
            await asyncio.gather(batcher.submit("a"), batcher.submit("b"))
        await batcher.close()

    asyncio.run(main())


def test_concurrent_server_requests_are_parsed_in_shared_batches(make_app, agent) -> None:
    app = make_app()
    batches: list[list[str]] = []
    original = agent.parse_messages

    async def recording(texts: list[str]) -> list[dict]:
        batches.append(list(texts))
        # A slow model: whatever arrives meanwhile must wait for the next pass.
        await asyncio.sleep(0.2)
        return await original(texts)

    agent.parse_messages = recording
    senders = [f"user{n}" for n in range(16)]

    async def main() -> list:
        async with serving(app) as url, aiohttp.ClientSession() as session:

            async def send(sender: str):
                message = "/choose" + json.dumps({"colour": sender})
                async with session.post(f"{url}/webhooks/rest/webhook",
                                        json={"sender": sender, "message": message}) as reply:
                    return await reply.json()

            return await asyncio.gather(*(send(sender) for sender in senders))

    responses = asyncio.run(main())
    for sender, response in zip(senders, responses, strict=True):
        assert response == [{"recipient_id": sender, "text": f"You chose {sender}."}]
    assert sum(len(batch) for batch in batches) == 16
    assert len(batches) < 16  # at least some requests shared a pass
    assert max(len(batch) for batch in batches) > 1


def test_a_serving_process_hands_the_interpreter_lock_over_quickly(make_app) -> None:
    import sys

    from dialogflowlite.server.handling import NLU_SWITCH_INTERVAL

    app = make_app()
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    try:

        async def main() -> float:
            async with serving(app):
                return sys.getswitchinterval()

        assert asyncio.run(main()) == pytest.approx(NLU_SWITCH_INTERVAL)
    finally:
        sys.setswitchinterval(before)
