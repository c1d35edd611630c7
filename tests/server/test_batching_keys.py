"""Keyed micro-batching: items that must be processed by different models never share
a batch, and each batch is processed with its own key."""

from __future__ import annotations

import asyncio

from dialogflowlite.server.batching import MicroBatcher


class Model:
    """Stands for an agent: compares equal to any other, so only identity tells them apart."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model)

    __hash__ = object.__hash__


def test_items_of_different_keys_never_share_a_batch() -> None:
    old, new = Model("old"), Model("new")
    calls: list[tuple[str, list[int]]] = []

    async def label(items: list[int], model: Model) -> list[str]:
        calls.append((model.name, list(items)))
        await asyncio.sleep(0.01)
        return [f"{model.name}:{item}" for item in items]

    async def main() -> list[str]:
        batcher = MicroBatcher(label, max_batch=3)
        keys = [old, new, old, old, new, old, new]
        results = await asyncio.gather(*(batcher.submit(n, key=key)
                                         for n, key in enumerate(keys)))
        await batcher.close()
        return results

    results = asyncio.run(main())
    keys = ["old", "new", "old", "old", "new", "old", "new"]
    assert results == [f"{key}:{n}" for n, key in enumerate(keys)]
    # the oldest waiting item's key goes first; each batch is of one key, in arrival order
    assert calls == [("old", [0, 2, 3]), ("new", [1, 4, 6]), ("old", [5])]


def test_items_without_a_key_are_batched_as_before() -> None:
    calls: list[list[int]] = []

    async def double(items: list[int]) -> list[int]:
        calls.append(list(items))
        return [item * 2 for item in items]

    async def main() -> list[int]:
        batcher = MicroBatcher(double)
        results = await asyncio.gather(*(batcher.submit(n) for n in range(5)))
        await batcher.close()
        return results

    assert asyncio.run(main()) == [0, 2, 4, 6, 8]
    assert calls == [[0, 1, 2, 3, 4]]
