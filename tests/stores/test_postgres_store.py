"""What only the PostgreSQL tracker store does: creating its database through ``login_db``,
its pool after the server restarts, the tables a user may not create."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from dialogflowlite.errors import TrackerStoreError
from dialogflowlite.shared.events import SlotSet
from dialogflowlite.shared.tracker import DialogueStateTracker

pytestmark = pytest.mark.postgres


def _settings(admin_url: str, db: str, **more: str) -> dict:
    from psycopg.conninfo import conninfo_to_dict

    server = conninfo_to_dict(admin_url)
    return {"type": "SQL", "dialect": "postgresql", "url": server["host"],
            "port": server["port"], "username": server.get("user"), "db": db, **more}


def test_a_missing_database_is_created_through_login_db(postgres_db: str) -> None:
    import psycopg

    from dialogflowlite.stores.factory import create_tracker_store

    admin_url = postgres_db  # (a database of the test server; this test makes its own)
    name = f"dfl_test_{uuid.uuid4().hex[:12]}"

    async def main() -> None:
        # Rasa's SQL store creates the database when login_db is set; here the first
        # message failed with 'database ... does not exist'
        stores = [create_tracker_store(_settings(admin_url, name, login_db="postgres"))
                  for _ in range(2)]
        await asyncio.gather(*(store.save(DialogueStateTracker(
            f"w{number}", events=[SlotSet(name="a", value=number)]))
            for number, store in enumerate(stores)))
        assert sorted(await stores[0].keys()) == ["w0", "w1"]
        for store in stores:
            await store.close()
        # without login_db the database must exist, as before
        missing = create_tracker_store(_settings(admin_url, name + "_x"))
        with pytest.raises(TrackerStoreError, match="does not exist"):
            await missing.retrieve("w0")
        await missing.close()

    try:
        asyncio.run(main())
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _kill_connections(url: str) -> int:
    """End every other connection to the database of ``url``, as a server restart does;
    how many were ended."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
    return len(rows)


def test_reads_after_a_server_restart_are_answered_on_fresh_connections(
        postgres_db: str) -> None:
    from dialogflowlite.stores.postgres import PostgresTrackerStore

    async def main() -> None:
        store = PostgresTrackerStore(url=postgres_db, pool_size=4)
        # four at once: the pool holds four connections
        await asyncio.gather(*(store.save(DialogueStateTracker(
            f"c{n}", events=[SlotSet(name="a", value=n)])) for n in range(4)))
        assert _kill_connections(postgres_db) == 4
        # each pooled connection failed one message with a 503 before it was let go
        trackers = await asyncio.gather(*(store.retrieve(f"c{n}") for n in range(4)))
        assert [t.get_slot("a") for t in trackers] == [0, 1, 2, 3]
        assert await store.stored_version("c0") is not None
        _kill_connections(postgres_db)
        assert sorted(await store.keys()) == ["c0", "c1", "c2", "c3"]
        await store.close()

    asyncio.run(main())


def test_a_message_after_a_server_restart_is_stored(postgres_db: str) -> None:
    from dialogflowlite.stores.postgres import PostgresTrackerStore

    async def main() -> None:
        store = PostgresTrackerStore(url=postgres_db, pool_size=2)
        tracker = DialogueStateTracker("w", events=[SlotSet(name="a", value=1)])
        await store.save(tracker)
        _kill_connections(postgres_db)
        # saving reads the stored version first: that read reconnects, and the write
        # (never tried twice: it may have been committed before a line broke) gets a
        # fresh connection
        tracker.update(SlotSet(name="a", value=2))
        await store.save(tracker)
        assert (await store.retrieve("w")).get_slot("a") == 2
        assert await store.count_events("w") == 2
        await store.close()

    asyncio.run(main())


def test_a_user_who_may_not_create_the_tables_is_told_what_to_grant(postgres_db: str) -> None:
    import psycopg

    from dialogflowlite.stores.postgres import PostgresTrackerStore

    role = f"dfl_bot_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_db, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        # (PostgreSQL 15 and later grant no user CREATE on public; older ones all users)
        admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    scheme, _, rest = postgres_db.partition("://")
    as_bot = f"{scheme}://{role}@{rest.partition('@')[2]}"

    async def main() -> None:
        store = PostgresTrackerStore(url=as_bot)
        # it was a 500 "An unexpected error occurred" on every message
        with pytest.raises(TrackerStoreError) as error:
            await store.retrieve("anyone")
        assert "cannot create the PostgreSQL tracker store's tables" in error.value.message
        assert "permission denied" in error.value.message
        assert "GRANT CREATE ON SCHEMA public" in error.value.hint
        await store.close()

    try:
        asyncio.run(main())
    finally:
        with psycopg.connect(postgres_db, autocommit=True) as admin:
            admin.execute(f'DROP OWNED BY "{role}"')
        url = postgres_db.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')



def test_db_beside_a_url_is_used_or_said_to_be_unused(caplog) -> None:
    import logging

    from psycopg.conninfo import conninfo_to_dict

    from dialogflowlite.stores.postgres import conninfo

    # it was dropped without a word
    assert conninfo_to_dict(conninfo("postgresql://bot@db.internal:5432", db="bots"))[
        "dbname"] == "bots"
    with caplog.at_level(logging.WARNING):
        given = conninfo("postgresql://bot@db.internal:5432/rasa", db="other")
    assert conninfo_to_dict(given)["dbname"] == "rasa"
    assert "db 'other' is not used: the url names the database 'rasa'" in caplog.text


def test_a_missing_database_names_login_db_in_the_hint(postgres_db: str) -> None:
    from dialogflowlite.stores.postgres import PostgresTrackerStore

    async def main() -> None:
        store = PostgresTrackerStore(url=postgres_db.rsplit("/", 1)[0] + "/dfl_nowhere")
        with pytest.raises(TrackerStoreError, match="does not exist") as error:
            await store.retrieve("anyone")
        assert "login_db" in error.value.hint
        await store.close()

    asyncio.run(main())
