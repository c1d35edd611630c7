"""A message once taken is answered and stored, whatever happens to its caller.

Sanic cancels a request's handler when the client hangs up, when
``response_timeout`` passes, and when a stopping server has waited
``graceful_shutdown_timeout`` for it. The turn goes on all the same, and the
server's stop waits for it before the stores close.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from failing_turns import GatedStore

from dialogflowlite.dialogue.messages import IncomingMessage
from dialogflowlite.stores.memory import MemoryLockStore, MemoryTrackerStore


@pytest.fixture
def gated_agent(tiny_model: Path) -> Any:
    from dialogflowlite.agent import Agent

    return Agent.load(tiny_model, tracker_store=GatedStore(), lock_store=MemoryLockStore())


def _user_texts(store: MemoryTrackerStore, sender_id: str) -> list[str]:
    """The texts of the stored user messages of ``sender_id``."""
    stored = [json.loads(text) for text in store._conversations.get(sender_id) or []]
    return [event.get("text") for event in stored if event.get("event") == "user"]


def test_a_turn_whose_caller_is_cancelled_is_still_stored(make_app, gated_agent) -> None:
    app = make_app(agent=gated_agent)
    store = gated_agent.tracker_store

    async def scenario() -> None:
        caller = asyncio.create_task(app.ctx.handler.handle(
            IncomingMessage("/greet", "hung-up", channel="rest")))
        await store.writing.wait()
        caller.cancel()  # the client went away while the turn was being stored
        with pytest.raises(asyncio.CancelledError):
            await caller
        store.gate.set()
        await app.ctx.handler.finish_turns(5)

    asyncio.run(scenario())
    assert _user_texts(store, "hung-up") == ["/greet"]
    texts = [event for event in store._conversations["hung-up"] if '"bot"' in event]
    assert len(texts) == 1 and "Hello! How can I help?" in texts[0]


def test_closing_the_handler_waits_for_turns_in_flight(make_app, gated_agent) -> None:
    app = make_app(agent=gated_agent)
    store = gated_agent.tracker_store
    order: list[str] = []

    async def scenario() -> None:
        caller = asyncio.create_task(app.ctx.handler.handle(
            IncomingMessage("/greet", "stopping", channel="rest")))
        await store.writing.wait()
        caller.cancel()  # graceful_shutdown_timeout is over: Sanic cancels the request
        asyncio.get_running_loop().call_later(0.2, store.gate.set)
        await app.ctx.handler.close(timeout=5)
        order.append("handler closed")
        await store.close()

    asyncio.run(scenario())
    assert _user_texts(store, "stopping") == ["/greet"]
    assert order == ["handler closed"]


def test_a_turn_that_outlasts_the_stop_is_logged_with_its_count(make_app, gated_agent,
                                                                 caplog) -> None:
    app = make_app(agent=gated_agent)
    store = gated_agent.tracker_store

    async def scenario() -> int:
        caller = asyncio.create_task(app.ctx.handler.handle(
            IncomingMessage("/greet", "stuck", channel="rest")))
        await store.writing.wait()
        caller.cancel()
        left = await app.ctx.handler.finish_turns(0.05)
        store.gate.set()
        await app.ctx.handler.finish_turns(5)
        return left

    with caplog.at_level(logging.ERROR, logger="dialogflowlite.server.handling"):
        assert asyncio.run(scenario()) == 1
    assert "1 message(s) were still being processed after 0 s" in caplog.text


def test_a_failure_after_the_caller_left_is_logged(make_app, tiny_model: Path, caplog) -> None:
    from dialogflowlite.agent import Agent
    from dialogflowlite.errors import TrackerStoreError

    class FailingStore(GatedStore):
        async def append_events(self, sender_id: str, events: list[dict[str, Any]]) -> None:
            self.writing.set()
            await self.gate.wait()
            raise TrackerStoreError("the database went away")

    store = FailingStore()
    agent = Agent.load(tiny_model, tracker_store=store, lock_store=MemoryLockStore())
    app = make_app(agent=agent)

    async def scenario() -> None:
        caller = asyncio.create_task(app.ctx.handler.handle(
            IncomingMessage("/greet", "failing", channel="rest")))
        await store.writing.wait()
        caller.cancel()
        store.gate.set()
        await app.ctx.handler.finish_turns(5)

    with caplog.at_level(logging.ERROR, logger="dialogflowlite.server.handling"):
        asyncio.run(scenario())
    assert "the database went away" in caplog.text


def test_a_client_that_hangs_up_mid_turn_loses_no_message(make_app, gated_agent) -> None:
    """Over a real connection: the client gives up while the turn is being stored (as a
    platform does before re-delivering); the message is stored once all the same."""
    import aiohttp
    from serving_helpers import hang_ups_counted, serving, until

    app = make_app(agent=gated_agent, credentials={"rest": None})
    store = gated_agent.tracker_store

    async def scenario() -> None:
        async with serving(app) as url:
            async with aiohttp.ClientSession() as session:
                posting = asyncio.create_task(session.post(
                    f"{url}/webhooks/rest/webhook",
                    json={"sender": "gone", "message": "/greet"}))
                await store.writing.wait()
                posting.cancel()  # the client closes the connection
                with pytest.raises(asyncio.CancelledError):
                    await posting
            # Sanic notices the lost connection, cancels the handler
            await until(lambda: hang_ups_counted(app) == 1, "the hang-up to be noticed")
            store.gate.set()
        # leaving `serving` stopped the server, which waited for the turn

    asyncio.run(scenario())
    assert _user_texts(store, "gone") == ["/greet"]



def test_a_stopping_server_closes_each_connection_after_its_answer(make_app,
                                                                   gated_agent) -> None:
    """A client that keeps its connection open (a proxy, an SDK) gets the answer to its
    message in flight with ``Connection: close``, so it sends no more to a stopping
    server: the connection took new messages until ``graceful_shutdown_timeout`` was
    over, and then the ones in flight were cut off (stored, but answered with a
    dropped connection, which a client sends again)."""
    import aiohttp
    from serving_helpers import serving

    app = make_app(agent=gated_agent, credentials={"rest": None})
    store = gated_agent.tracker_store
    post = {"sender": "kept", "message": "/greet"}

    async def scenario() -> tuple[str, int, str]:
        server = serving(app)
        url = await server.__aenter__()
        try:
            async with aiohttp.ClientSession() as session:
                store.gate.set()
                async with session.post(f"{url}/webhooks/rest/webhook", json=post) as first:
                    before = first.headers.get("Connection", "")
                store.gate.clear()
                store.writing.clear()
                posting = asyncio.create_task(
                    session.post(f"{url}/webhooks/rest/webhook", json=post))
                await store.writing.wait()
                await server.server.before_stop()  # SIGTERM: the server starts stopping
                store.gate.set()
                async with await posting as last:
                    return before, last.status, last.headers.get("Connection", "")
        finally:
            await server.server.close()
            await server.server.after_stop()

    before, status, after = asyncio.run(scenario())
    assert (before, status, after) == ("keep-alive", 200, "close")
    assert _user_texts(store, "kept") == ["/greet", "/greet"]


SLOW_SERVER = '''
import asyncio, sys
from dialogflowlite.agent import Agent
from dialogflowlite.server.app import ServerConfig, create_app
from dialogflowlite.stores.memory import MemoryLockStore
from dialogflowlite.stores.sqlite import SQLiteTrackerStore


class SlowStore(SQLiteTrackerStore):
    async def append_events(self, sender_id, events):
        print("storing", flush=True)
        await asyncio.sleep(1.5)
        return await super().append_events(sender_id, events)


model, db, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
agent = Agent.load(model, tracker_store=SlowStore(db=db), lock_store=MemoryLockStore())
config = ServerConfig(project=".", credentials={"rest": None}, endpoints={},
                      graceful_shutdown_timeout=0.3)
app = create_app(config, agent=agent)
app.run(host="127.0.0.1", port=port, single_process=True, access_log=False, motd=False)
'''


def test_sigterm_while_a_turn_is_stored_keeps_the_turn(tiny_model: Path, tmp_path: Path) -> None:
    """A real server stopped by SIGTERM while it stores a message, with a graceful
    timeout shorter than the write: the message is stored before the process ends."""
    import signal
    import sqlite3
    import subprocess
    import sys

    from serving_helpers import free_port

    script = tmp_path / "slow_server.py"
    script.write_text(SLOW_SERVER)
    db, port = tmp_path / "trackers.db", free_port()
    server = subprocess.Popen([sys.executable, str(script), str(tiny_model), str(db), str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              cwd=tmp_path)
    try:
        url = f"http://127.0.0.1:{port}"
        asyncio.run(_wait_until_up(url))
        body = json.dumps({"sender": "sig", "message": "/greet"}).encode()
        posting = asyncio.run(_post_then_stop(url, body, server, signal.SIGTERM))
        output, _ = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, output
    assert posting is not None
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT data FROM dfl_events WHERE sender_id = 'sig'").fetchall()
    users = [json.loads(row[0])["text"] for row in rows if '"user"' in row[0]]
    assert users == ["/greet"], output


async def _wait_until_up(url: str) -> None:
    from serving_helpers import wait_until_healthy

    deadline = asyncio.get_running_loop().time() + 60
    while True:
        try:
            await wait_until_healthy(url, timeout=60)
            return
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)


async def _post_then_stop(url: str, body: bytes, server: Any, signum: int) -> Any:
    import os

    import aiohttp

    async with aiohttp.ClientSession() as session:
        posting = asyncio.create_task(session.post(
            f"{url}/webhooks/rest/webhook", data=body,
            headers={"Content-Type": "application/json"}))
        line = await asyncio.get_running_loop().run_in_executor(None, server.stdout.readline)
        while "storing" not in line:
            line = await asyncio.get_running_loop().run_in_executor(None,
                                                                    server.stdout.readline)
        os.kill(server.pid, signum)
        try:
            return await posting
        except aiohttp.ClientError as e:
            return e


def test_reminders_not_yet_due_are_stopped_before_the_stores_close(make_app,
                                                                   tiny_model: Path) -> None:
    """A server that owns its agent stops the reminder timers before closing the stores:
    a reminder firing meanwhile would run its turn on closed stores."""
    from datetime import datetime, timedelta, timezone

    from serving_helpers import serving

    from dialogflowlite.agent import Agent
    from dialogflowlite.shared.events import ReminderScheduled

    store = GatedStore()
    agent = Agent.load(tiny_model, tracker_store=store, lock_store=MemoryLockStore())
    app = make_app(agent=agent)
    app.ctx.owns_agent = True  # as when the server loaded the model itself
    due = (datetime.now(timezone.utc) + timedelta(seconds=30)).isoformat()

    async def scenario() -> tuple[int, int]:
        async with serving(app):
            agent.processor.reminders.schedule(ReminderScheduled(intent="greet", date_time=due,
                                                                 name="later"), "rem")
            before = len(agent.processor.reminders.pending())
        return before, len(agent.processor.reminders.pending())

    assert asyncio.run(scenario()) == (1, 0)
    assert store.closed


def test_a_channels_work_goes_on_and_its_failure_is_logged_after_its_request_left(
        make_app, agent, caplog) -> None:
    """A channel's handle-then-send (see ``see_through``) outlives its cancelled request;
    the error of a failed turn it returns, which nobody reads any more, is logged, and
    closing the handler waits for it."""
    app = make_app(agent=agent)
    gate = asyncio.Event()
    done: list[str] = []

    async def handle_then_send() -> Exception | None:
        await gate.wait()
        done.append("sent")
        return RuntimeError("the action server went away")

    async def scenario() -> None:
        caller = asyncio.create_task(app.ctx.handler.see_through(handle_then_send()))
        await asyncio.sleep(0.05)
        caller.cancel()  # the platform hung up
        with pytest.raises(asyncio.CancelledError):
            await caller
        asyncio.get_running_loop().call_later(0.1, gate.set)
        await app.ctx.handler.close(timeout=5)
        done.append("closed")

    with caplog.at_level(logging.INFO, logger="dialogflowlite.server.handling"):
        asyncio.run(scenario())
    assert done == ["sent", "closed"]
    assert "the action server went away" in caplog.text


def test_a_worker_whose_manager_is_gone_stops_itself(monkeypatch, caplog) -> None:
    import signal

    from dialogflowlite.server import lifecycle

    # a worker whose manager was killed kept serving the port on its own, unseen
    parents = iter([100, 100, 1])
    stops: list[tuple[int, int]] = []
    monkeypatch.setattr(lifecycle, "ORPHAN_CHECK_SECONDS", 0)
    monkeypatch.setattr(lifecycle.os, "getppid", lambda: next(parents))
    monkeypatch.setattr(lifecycle.os, "kill", lambda pid, sig: stops.append((pid, sig)))
    asyncio.run(lifecycle._stop_when_orphaned(object(), 100))
    assert stops == [(lifecycle.os.getpid(), signal.SIGTERM)]
    assert "manager process 100 is gone: this worker stops too" in caplog.text
