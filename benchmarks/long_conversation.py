"""Time a turn of a conversation with a long history, in a SQLite tracker store.

The history is one real exchange of the model's bot (``--text``, sent twice),
repeated until the conversation has ``--turns`` user turns, with a new session
started every ``--session-turns`` turns (0: one session). Then ``--messages``
more messages are timed: *kept* with the conversation held in memory between
messages (one worker), *read* with it read from the store every time (what a
worker sees after another worker's write).

    python benchmarks/long_conversation.py --model path/to/model.tar
    python benchmarks/long_conversation.py --model m.tar --turns 20000 --session-turns 100
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from dialogflowlite.agent import Agent
from dialogflowlite.stores.sqlite import SQLiteTrackerStore

SESSION_START = ({"event": "action", "name": "action_session_start"},
                 {"event": "session_started"},
                 {"event": "action", "name": "action_listen"})


async def _exchange(agent: Agent, text: str) -> list[dict[str, Any]]:
    """The events of one user turn after the session start, as the bot stores them."""
    await agent.handle_text(text, "seed")
    await agent.handle_text(text, "seed")
    tracker = await agent.get_tracker("seed")
    events = [event.as_dict() for event in tracker.events]
    last_user = max(i for i, e in enumerate(events) if e["event"] == "user")
    return events[last_user:]


def _history(turn: list[dict[str, Any]], turns: int, session_turns: int,
             start: float) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for number in range(turns):
        if number == 0 or (session_turns and number % session_turns == 0):
            events += [dict(e) for e in SESSION_START]
        events += [dict(e) for e in turn]
    for offset, event in enumerate(events):  # in order, and all in the past
        event["timestamp"] = start + offset * 1e-3
    return events


async def _timed(agent: Agent, store: SQLiteTrackerStore, text: str, messages: int,
                 kept: bool) -> list[float]:
    seconds = []
    for _ in range(messages):
        if not kept:
            store._recent.pop("long")  # as after another worker's write
        began = time.perf_counter()
        await agent.handle_text(text, "long")
        seconds.append(time.perf_counter() - began)
    return seconds


async def main(args: argparse.Namespace) -> None:
    agent = Agent.load(args.model)
    turn = await _exchange(agent, args.text)
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteTrackerStore(agent.processor.tracker_store.domain,
                                   db=Path(folder) / "trackers.db")
        agent.processor.tracker_store = store
        events = _history(turn, args.turns, args.session_turns, time.time() - 60)
        await store.append_events("long", events)
        sessions = sum(e["event"] == "session_started" for e in events)
        kept = await _timed(agent, store, args.text, args.messages, kept=True)
        read = await _timed(agent, store, args.text, args.messages, kept=False)
        await store.close()
    print("| events | sessions | first turn (ms) | kept p50 (ms) | read p50 (ms) |")
    print("|---|---|---|---|---|")
    print(f"| {len(events)} | {sessions} | {kept[0] * 1000:.0f} | "
          f"{statistics.median(kept[1:] or kept) * 1000:.1f} | "
          f"{statistics.median(read) * 1000:.1f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a trained model file")
    parser.add_argument("--text", default="/greet", help="the message of every turn")
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--session-turns", type=int, default=100,
                        help="user turns per session (0: one session)")
    parser.add_argument("--messages", type=int, default=11, help="turns timed")
    asyncio.run(main(parser.parse_args()))
