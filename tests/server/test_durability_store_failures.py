"""A tracker store that fails mid-turn: the user is told (a 503, never a silent
success), the conversation's lock is given back, and sending the message again
stores it once."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

from serving_helpers import request


def _stored(db: Path, sender_id: str) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT data FROM dfl_events WHERE sender_id = ? ORDER BY seq",
                                  (sender_id,)).fetchall()
    return [json.loads(row[0]) for row in rows]


def test_a_locked_sqlite_database_is_a_503_and_a_retry_stores_the_message_once(
        make_app, tiny_model: Path, tmp_path: Path) -> None:
    from dialogflowlite.agent import Agent
    from dialogflowlite.stores.sqlite import SQLiteLockStore, SQLiteTrackerStore

    db = tmp_path / "trackers.db"
    agent = Agent.load(tiny_model, tracker_store=SQLiteTrackerStore(db=db, timeout=0.2),
                       lock_store=SQLiteLockStore(db=tmp_path / "locks.db"))
    app = make_app(agent=agent, credentials={"rest": None})
    body = {"sender": "alice", "message": "/greet"}

    async def scenario() -> tuple[Any, Any, Any]:
        first = await request(app, "post", "/webhooks/rest/webhook", json=body)
        # another worker holds SQLite's write lock for longer than the store waits
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            failed = await request(app, "post", "/webhooks/rest/webhook", json=body)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        # the conversation's lock was given back: the retry does not wait for it
        retried = await asyncio.wait_for(
            request(app, "post", "/webhooks/rest/webhook", json=body), 10)
        return first, failed, retried

    first, failed, retried = asyncio.run(scenario())
    assert (first.status, failed.status, retried.status) == (200, 503, 200)
    assert "locked" in failed.json["message"]
    assert retried.json == first.json
    users = [e["text"] for e in _stored(db, "alice") if e["event"] == "user"]
    assert users == ["/greet", "/greet"]
