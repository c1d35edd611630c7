"""The connection pools of the PostgreSQL and MySQL stores, with stand-in connections
(no server needed): a caller waiting for a connection gets one when another is let go."""

from __future__ import annotations

import asyncio

import pytest

from dialogflowlite.errors import TrackerStoreError


class _PostgresStandIn:
    """An open psycopg connection as far as the pool looks at it."""

    def __init__(self) -> None:
        self.closed = self.broken = False

    async def close(self) -> None:
        self.closed = True

    async def execute(self, statement: str, args: tuple | None = None):
        outer = self

        class Cursor:
            async def fetchall(self) -> list:
                assert not outer.broken
                return [(3,)]

        return Cursor()


def _postgres_store(monkeypatch, opened: list) -> object:
    pytest.importorskip("psycopg")
    from dialogflowlite.stores.postgres import PostgresTrackerStore

    store = PostgresTrackerStore(url="127.0.0.1", pool_size=1)

    async def connect():  # (as the store's own: it keeps every connection it opens)
        opened.append(_PostgresStandIn())
        store._all.append(opened[-1])
        return opened[-1]

    monkeypatch.setattr(store, "_connect", connect)
    return store


def test_postgres_a_caller_waiting_for_a_connection_gets_one_after_a_broken_write(
        monkeypatch) -> None:
    import psycopg

    opened: list = []
    store = _postgres_store(monkeypatch, opened)

    async def main() -> None:
        writing = asyncio.Event()

        async def write() -> None:
            async with store._connection() as connection:
                writing.set()
                await asyncio.sleep(0.05)
                connection.broken = True  # the server restarted mid-write
                raise psycopg.OperationalError("server closed the connection unexpectedly")

        writer = asyncio.create_task(write())
        await writing.wait()
        # the pool's one connection is busy: this read waits for it
        reader = asyncio.create_task(store.count_events("c"))
        with pytest.raises(TrackerStoreError, match="server closed the connection"):
            await writer
        # it waited for a connection that never came back
        assert await asyncio.wait_for(reader, 5) == 3
        assert len(opened) == 2 and len(store._all) == 1
        await store.close()

    asyncio.run(main())


def test_postgres_a_caller_waiting_for_a_connection_gets_one_after_a_failed_connect(
        monkeypatch) -> None:
    pytest.importorskip("psycopg")
    from dialogflowlite.stores.postgres import PostgresTrackerStore

    store = PostgresTrackerStore(url="127.0.0.1", pool_size=1)
    attempts: list = []

    async def connect():
        attempts.append(None)
        if len(attempts) == 1:
            await asyncio.sleep(0.05)
            raise TrackerStoreError("cannot connect to PostgreSQL: the server starts")
        return _PostgresStandIn()

    monkeypatch.setattr(store, "_connect", connect)

    async def main() -> None:
        first = asyncio.create_task(store.count_events("a"))
        await asyncio.sleep(0)
        second = asyncio.create_task(store.count_events("b"))
        with pytest.raises(TrackerStoreError, match="the server starts"):
            await first
        assert await asyncio.wait_for(second, 5) == 3
        await store.close()

    asyncio.run(main())


class _MySQLStandIn:
    """An open aiomysql connection as far as the pool looks at it."""

    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True

    async def rollback(self) -> None:
        if self.closed:
            raise ConnectionError("closed")

    def cursor(self):
        outer = self

        class Cursor:
            async def __aenter__(self):
                return self

            async def __aexit__(self, *exc) -> None:
                return None

            async def execute(self, statement: str, args: tuple) -> None:
                assert not outer.closed

            async def fetchall(self) -> list:
                return [(3,)]

        return Cursor()


def test_mysql_a_caller_waiting_for_a_connection_gets_one_after_a_lost_one(
        monkeypatch) -> None:
    pytest.importorskip("aiomysql")
    import pymysql

    from dialogflowlite.stores.mysql import MySQLTrackerStore

    store = MySQLTrackerStore(url="127.0.0.1", pool_size=1)
    opened: list = []

    async def connect():  # (as the store's own: it keeps every connection it opens)
        opened.append(_MySQLStandIn())
        store._all.append(opened[-1])
        return opened[-1]

    monkeypatch.setattr(store, "_connect", connect)

    async def main() -> None:
        writing = asyncio.Event()

        async def write() -> None:
            async with store._connection() as connection:
                writing.set()
                await asyncio.sleep(0.05)
                connection.closed = True  # the server restarted mid-write
                raise pymysql.err.OperationalError(2013, "Lost connection during query")

        writer = asyncio.create_task(write())
        await writing.wait()
        reader = asyncio.create_task(store._rows("SELECT 3", ()))
        with pytest.raises(TrackerStoreError, match="Lost connection"):
            await writer
        # it waited for a connection that never came back
        assert await asyncio.wait_for(reader, 5) == [(3,)]
        assert len(opened) == 2 and len(store._all) == 1
        await store.close()

    asyncio.run(main())
