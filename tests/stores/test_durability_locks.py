"""A lock that cannot be given back after the message was stored does not fail the
message: an error then would make the client send the stored message again."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from dialogflowlite.stores.sqlite import SQLiteLockStore


def test_a_give_back_that_fails_is_logged_and_the_ticket_expires(tmp_path: Path,
                                                                 caplog) -> None:
    db = tmp_path / "locks.db"
    store = SQLiteLockStore(db=db, timeout=0.1, lifetime=0.5)

    async def run() -> float:
        blocker = None
        async with store.lock("ann"):
            # another worker keeps the file locked past the store's timeout just as
            # this message, stored by now, gives its ticket back
            blocker = sqlite3.connect(db, isolation_level=None)
            blocker.execute("BEGIN IMMEDIATE")
        blocker.execute("ROLLBACK")
        blocker.close()
        started = asyncio.get_running_loop().time()
        async with store.lock("ann", wait_timeout=5):  # the ticket left behind expires
            pass
        waited = asyncio.get_running_loop().time() - started
        await store.close()
        return waited

    with caplog.at_level(logging.WARNING, logger="dialogflowlite.stores.tickets"):
        waited = asyncio.run(run())
    assert "could not give back the lock of 'ann'" in caplog.text
    assert "database is locked" in caplog.text
    assert waited < 5


def test_the_messages_own_error_is_kept_when_the_give_back_fails(tmp_path: Path) -> None:
    db = tmp_path / "locks.db"
    store = SQLiteLockStore(db=db, timeout=0.1, lifetime=0.5)

    async def run() -> None:
        blocker = sqlite3.connect(db, isolation_level=None)
        try:
            async with store.lock("bo"):
                blocker.execute("BEGIN IMMEDIATE")
                raise ValueError("the turn failed")
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
            await store.close()

    with pytest.raises(ValueError, match="the turn failed"):
        asyncio.run(run())
