"""Micro-batching: requests that arrive together share one pass through the model.

Under load, many conversations send a message at the same moment. Running the
NLU model once per message wastes most of the CPU on per-call overhead; running
it once for all waiting messages costs barely more than for one. A
:class:`MicroBatcher` queues submitted items and a single consumer task takes
*everything waiting* as one batch. No timer holds a lone request back: while a
batch is computed (in a worker thread, so the event loop keeps accepting
requests), the next requests pile up and become the next batch. Batches grow
with the load by themselves.

An item may be submitted with a ``key``, the thing it must be processed with
(the server passes the agent whose turn the message belongs to): a batch
holds items of one key only, and the function receives that key. While
``PUT /model`` swaps models, the turns begun on the old model are parsed by
it and those begun on the new one by the new one, never one batch for both.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

#: ``function(items)``, or ``function(items, key)`` for items submitted with a key
BatchFunction = Callable[..., Awaitable[Sequence[Any]]]

#: the key of items submitted without one
_NO_KEY: Any = object()


class MicroBatcher(Generic[Item, Result]):
    """Collects items from concurrent callers and processes them in batches.

    ``function`` receives a list of items and returns one result per item, in
    order; items submitted with a ``key`` are batched only with items of the
    same key (the same object), and ``function(items, key)`` receives it.
    ``max_batch`` caps a batch; ``max_wait`` (seconds, default 0) lets
    a batch of one wait that long for company, which only helps when requests
    arrive faster than one batch takes. ``on_batch(size, seconds)`` is called
    after every batch (for metrics).
    """

    def __init__(self, function: BatchFunction, *, max_batch: int = 64, max_wait: float = 0.0,
                 on_batch: Callable[[int, float], None] | None = None) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.function = function
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.on_batch = on_batch
        self._pending: list[tuple[Any, Item, asyncio.Future]] = []
        self._wakeup: asyncio.Event | None = None
        self._consumer: asyncio.Task | None = None
        self._closed = False
        self.batches = 0
        self.items = 0

    async def submit(self, item: Item, key: Any = _NO_KEY) -> Result:
        """Queue ``item`` and wait for its result (exceptions of the batch are re-raised).

        With a ``key``, ``item`` shares a batch only with items of that key.
        """
        if self._closed:
            raise RuntimeError("the batcher is closed")
        loop = asyncio.get_running_loop()
        if self._consumer is None or self._consumer.done():
            self._wakeup = asyncio.Event()
            self._consumer = loop.create_task(self._consume())
        future: asyncio.Future = loop.create_future()
        self._pending.append((key, item, future))
        assert self._wakeup is not None
        self._wakeup.set()
        return await future

    async def _consume(self) -> None:
        assert self._wakeup is not None
        while not self._closed:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                if self.max_wait and len(self._pending) == 1:
                    await asyncio.sleep(self.max_wait)
                key, batch = self._take_batch()
                await self._run(key, batch)

    def _take_batch(self) -> tuple[Any, list[tuple[Item, asyncio.Future]]]:
        """The oldest item's key, and up to ``max_batch`` waiting items of that key (in
        the order they came); the others keep waiting, in their order."""
        key = self._pending[0][0]
        batch: list[tuple[Item, asyncio.Future]] = []
        rest: list[tuple[Any, Item, asyncio.Future]] = []
        for entry in self._pending:
            # identity, not equality: two agents are two models even when they compare equal
            if entry[0] is key and len(batch) < self.max_batch:
                batch.append((entry[1], entry[2]))
            else:
                rest.append(entry)
        self._pending[:] = rest
        return key, batch

    async def _run(self, key: Any, batch: list[tuple[Item, asyncio.Future]]) -> None:
        live = [(item, future) for item, future in batch if not future.cancelled()]
        if not live:
            return
        started = time.perf_counter()
        items = [item for item, _ in live]
        try:
            results = await (self.function(items) if key is _NO_KEY
                             else self.function(items, key))
            if len(results) != len(live):
                raise RuntimeError(f"batch function returned {len(results)} results "
                                   f"for {len(live)} items")
        except Exception as e:  # every waiting caller gets the batch's error
            for _, future in live:
                if not future.done():
                    future.set_exception(e)
            return
        finally:
            self.batches += 1
            self.items += len(live)
            if self.on_batch is not None:
                self.on_batch(len(live), time.perf_counter() - started)
        for (_, future), result in zip(live, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def close(self) -> None:
        """Stop the consumer after the batches already queued have run."""
        while self._pending:
            await asyncio.sleep(0.001)
        self._closed = True
        if self._wakeup is not None:
            self._wakeup.set()
        if self._consumer is not None:
            try:
                await asyncio.wait_for(self._consumer, timeout=5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._consumer.cancel()
