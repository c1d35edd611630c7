"""One place where the server runs user messages through the bot.

Every channel hands its messages to :meth:`MessageHandler.handle`, which looks
up the *current* agent (so a model swap takes effect for the next message),
parses the text through the shared :class:`~dialogflowlite.server.batching.MicroBatcher`
(messages arriving together share one NLU pass), runs the dialogue with that
parse result, and keeps the active-conversation count and the timing metrics.

A message, once handed over, is answered and stored even when its caller is
cancelled: Sanic cancels a request's handler when the client hangs up, when
``response_timeout`` passes and when a stopping server's
``graceful_shutdown_timeout`` is over. Cancelled half-way, the turn stored
nothing (the user's message was lost, and a platform's re-delivery of it was
then skipped as already taken); so the turn runs in a task of its own that the
caller only waits for, and :meth:`MessageHandler.close` waits for the turns
still running before the stores close.

A channel that pushes its replies through its platform's API (rather than
answering them to the request) must go on after a cancelled request too, or
the stored turn's replies never reach the user: it runs "handle, then send"
through :meth:`MessageHandler.see_through` (by way of
:func:`~dialogflowlite.server.channels.base.handle_and_send`), which keeps
that work going the same way.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from dialogflowlite.errors import ApiError
from dialogflowlite.server.batching import MicroBatcher
from dialogflowlite.server.channels.output import connect_reminders
from dialogflowlite.server.instrumentation import instrument_agent

if TYPE_CHECKING:
    from sanic import Sanic

    from dialogflowlite.dialogue.messages import IncomingMessage

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: seconds a thread that wants the interpreter lock waits before asking for it
NLU_SWITCH_INTERVAL = 0.0002


def no_agent() -> ApiError:
    return ApiError(409, "Conflict", "no model is loaded; load one with PUT /model")


class MessageHandler:
    """Runs messages through ``app.ctx.agent`` and records what happened."""

    #: seconds :meth:`close` waits for the turns still running when the server stops
    #: (after Sanic's own ``graceful_shutdown_timeout`` for the requests)
    finish_timeout = 15.0

    def __init__(self, app: Sanic) -> None:
        self.app = app
        self.batcher: MicroBatcher | None = None
        self._nlu_thread: ThreadPoolExecutor | None = None
        self._thread_state = threading.local()
        #: the turns running now, whether or not their callers still wait for them
        self._turns: set[asyncio.Task] = set()
        #: the channels' handle-then-send work running now (see :meth:`see_through`)
        self._deliveries: set[asyncio.Task] = set()

    def start(self) -> None:
        """Called once the server (and its event loop) runs."""
        if self.batcher is not None:
            return
        metrics = self.app.ctx.metrics

        def observe(size: int, seconds: float) -> None:
            metrics.nlu_batch_size.observe(size)
            metrics.nlu_seconds.observe(seconds)

        self.batcher = MicroBatcher(self._parse_batch, max_batch=self.app.ctx.config.max_batch,
                                    on_batch=observe)
        # One thread runs the NLU model, so the event loop keeps reading requests (and
        # running policies) meanwhile: that is what lets the next batch fill up.
        self._nlu_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dfl-nlu")
        # Between its many short PyTorch calls the NLU thread needs the interpreter lock
        # back; by default it waits up to 5 ms for a busy event loop to hand it over.
        # A shorter interval keeps the model busy: 1 ms gave 4-9% more messages per
        # second than 5 ms, and 0.2 ms another 8% over 1 ms (0.05 ms was no better).
        sys.setswitchinterval(min(sys.getswitchinterval(), NLU_SWITCH_INTERVAL))

    @property
    def turns_in_flight(self) -> int:
        """How many messages are being processed now."""
        return sum(not turn.done() for turn in self._turns)

    async def finish_turns(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for the turns in flight (including those whose
        callers were cancelled) to be stored, and for the replies that channels still
        send (:meth:`see_through`); returns how many are still running."""
        running = [task for task in (*self._turns, *self._deliveries) if not task.done()]
        if running:
            logger.info("waiting up to %.0f s for %d message(s) being processed", timeout,
                        len(running))
            await asyncio.wait(running, timeout=timeout)
        left = sum(not task.done() for task in running)
        if left:
            logger.error("%d message(s) were still being processed after %.0f s of waiting "
                         "for them; the stores close now, so they may not be stored", left,
                         timeout)
        return left

    async def close(self, timeout: float | None = None) -> None:
        """Called after the server stopped accepting requests: lets the turns in flight
        and the channels' sending of their replies finish (up to ``timeout`` seconds,
        by default :attr:`finish_timeout`), then stops the NLU batching."""
        await self.finish_turns(self.finish_timeout if timeout is None else timeout)
        if self.batcher is not None:
            await self.batcher.close()
            self.batcher = None
        if self._nlu_thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._nlu_thread,
                                                             self._close_thread_loop)
            self._nlu_thread.shutdown(wait=True)
            self._nlu_thread = None

    @property
    def agent(self) -> Any:
        agent = self.app.ctx.agent
        if agent is None:
            raise no_agent()
        instrument_agent(agent, self.app.ctx.metrics)
        # every agent the server runs (a swapped-in one too) passes here before it
        # handles anything, so its reminders can reach the users through the channels
        connect_reminders(self.app, agent)
        return agent

    async def _parse_batch(self, texts: list[str], agent: Any = None) -> list[dict[str, Any]]:
        agent = agent if agent is not None else self.agent
        if self._nlu_thread is None:
            return list(await agent.parse_messages(texts))
        return await asyncio.get_running_loop().run_in_executor(
            self._nlu_thread, self._parse_in_thread, agent, texts)

    async def parse_many(self, texts: list[str], agent: Any = None, *,
                         chunk: int = 64) -> list[dict[str, Any]]:
        """Parse results of many texts by ``agent`` (by default the one current when
        called), ``chunk`` at a time on the NLU thread (live messages are parsed between
        the chunks).

        Every chunk goes to that one agent: a model swapped in (or unloaded) between
        two chunks parses none of them, as it parses no part of a turn begun before.
        """
        agent = agent if agent is not None else self.agent
        results: list[dict[str, Any]] = []
        for start in range(0, len(texts), chunk):
            results += await self._parse_batch(texts[start : start + chunk], agent)
        return results

    async def run_nlu(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` on the thread that runs the NLU model, between live batches."""
        if self._nlu_thread is None:
            return function(*args)
        return await asyncio.get_running_loop().run_in_executor(self._nlu_thread, function,
                                                                *args)

    def _close_thread_loop(self) -> None:
        loop = getattr(self._thread_state, "loop", None)
        if loop is not None:
            loop.close()
            self._thread_state.loop = None

    def _parse_in_thread(self, agent: Any, texts: list[str]) -> list[dict[str, Any]]:
        loop = getattr(self._thread_state, "loop", None)
        if loop is None:
            loop = self._thread_state.loop = asyncio.new_event_loop()
        return list(loop.run_until_complete(agent.parse_messages(texts)))

    async def parse(self, text: str, agent: Any = None) -> dict[str, Any]:
        """The NLU result for ``text`` by ``agent`` (by default the current one), batched
        with concurrent requests to the same agent.

        A turn passes the agent it runs on: a model swapped in (or unloaded) meanwhile
        neither parses its message nor fails it.
        """
        agent = agent if agent is not None else self.agent
        if self.batcher is None:
            return await agent.parse_message(text)
        return await self.batcher.submit(text, key=agent)

    async def handle(self, message: IncomingMessage) -> list[dict[str, Any]]:
        """Run one user message through the bot; returns its replies as channels get them.

        Rasa's REST shape, except that quick replies stay ``quick_replies`` and the
        cards of ``elements`` stay in one reply (see
        :func:`~dialogflowlite.server.channels.base.replies_for`).
        """
        agent = self.agent
        return await _outlive_caller(
            self._turns, self._turn(agent, message),
            f"conversation {message.sender_id!r}: the caller stopped waiting for the answer "
            "(the client went away, or a timeout); the message is processed and stored all "
            "the same")

    async def see_through(self, work: Coroutine[Any, Any, T]) -> T:
        """Await ``work``, a channel's handing of messages to :meth:`handle` followed by
        the sending of their replies through its platform's API, so that it finishes
        even when the caller (the platform's webhook request) is cancelled; the
        server's stop waits for it as for the turns (see :meth:`close`).

        A channel whose replies are the HTTP response needs none of this: with the
        request gone, nobody would read them.
        """
        return await _outlive_caller(
            self._deliveries, work,
            "a channel's request was cancelled (the platform hung up, or a timeout) while "
            "its message was handled; the replies are sent all the same")

    async def _turn(self, agent: Any, message: IncomingMessage) -> list[dict[str, Any]]:
        metrics = self.app.ctx.metrics
        metrics.active.touch(message.sender_id)
        started = time.perf_counter()
        if message.parse_data is None and message.text is not None:
            message.parse_data = await self.parse(message.text, agent)
        replies = (await agent.handle_turn(message)).replies
        metrics.message_seconds.observe(time.perf_counter() - started,
                                        channel=message.channel or "unknown")
        return replies


async def _outlive_caller(tasks: set[asyncio.Task], work: Coroutine[Any, Any, T],
                          note: str) -> T:
    """Run ``work`` in a task kept in ``tasks`` while it runs, and wait for it; a cancelled
    caller stops waiting, but the task goes on (``note`` is logged then)."""
    task = asyncio.get_running_loop().create_task(work)
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            logger.info("%s", note)
            task.add_done_callback(_report_unwatched)
        raise


def _report_unwatched(turn: asyncio.Task) -> None:
    """Log the failure of a turn nobody waits for any more (else it went unseen): raised,
    or returned as a channel's handling returns the error of a turn that failed (unless
    it says it was ``logged`` where it was made, as a channel's settled delivery does:
    see :meth:`~dialogflowlite.server.channels.deliveries.RecentDeliveries.settled`)."""
    if turn.cancelled():
        return
    error = turn.exception()
    if error is None and isinstance(turn.result(), Exception) \
            and not getattr(turn.result(), "logged", False):
        error = turn.result()
    if error is not None:
        logger.error("a message whose caller had stopped waiting failed: %s", error,
                     exc_info=error)
