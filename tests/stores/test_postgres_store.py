"""What only the PostgreSQL tracker store does: creating its database through ``login_db``."""

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
