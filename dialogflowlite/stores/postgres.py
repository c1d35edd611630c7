"""PostgreSQL tracker store on psycopg 3's async API (``pip install 'dialogflowlite[postgres]'``).

Each event is a row ``(sender_id, seq, data)``; an append locks the
conversation's row (``SELECT ... FOR UPDATE``) and writes after the stored
events in one transaction, so workers on any number of hosts never overwrite
each other. Connections come from a small pool per worker, opened on first use.
Pair it with the Redis lock store when several workers serve one database.

endpoints.yml (Rasa's keys work as they are)::

    tracker_store:
      type: SQL               # or: type: postgres
      dialect: postgresql
      url: localhost          # host name, or a full postgresql:// URL
      port: 5432
      db: dialogflowlite
      username: bot
      password: ${POSTGRES_PASSWORD}
      login_db: postgres      # optional: creates `db` through it when missing (as Rasa)
      pool_size: 8            # optional
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Hashable
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import ConfigError, TrackerStoreError
from dialogflowlite.stores.base import (
    ConnectionLost,
    StoredVersion,
    TrackerStore,
    dump_events,
    next_write_time,
    read_once_more_if_lost,
)
from dialogflowlite.stores.stored_events import decode_events, decode_latest_session

if TYPE_CHECKING:
    from dialogflowlite.shared.domain import Domain

logger = logging.getLogger(__name__)

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS dfl_conversations (
        sender_id TEXT PRIMARY KEY,
        n_events INTEGER NOT NULL DEFAULT 0,
        updated DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS dfl_events (
        sender_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (sender_id, seq)
    )""",
)
#: the database of settings that name none (a URL without one takes libpq's default)
DEFAULT_DATABASE = "dialogflowlite"
#: the advisory lock key that serialises schema creation across workers and hosts
_SCHEMA_LOCK_KEY = 0x0DF1_5C4E


def conninfo(url: str = "localhost", port: int | None = 5432, db: str | None = None,
             username: str | None = None, password: str | None = None,
             query: dict[str, Any] | None = None, *, section: str = "tracker_store") -> str:
    """A libpq connection string from Rasa-style settings (or ``url`` when it is a URL).

    Checked now: a URL libpq cannot read, or a ``query`` option it does not know,
    is a :class:`ConfigError` at start rather than a failed first message.
    """
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        if "://" in url:
            named = conninfo_to_dict(url).get("dbname")
            if db and not named:
                return make_conninfo(url, dbname=db)
            if db and named != db:
                # the URL's database wins, as in libpq; `db` was dropped without a word
                logger.warning("endpoints.yml %s: db %r is not used: the url names the "
                               "database %r", section, db, named)
            return url
        params: dict[str, Any] = {"host": url}
        if port:
            params["port"] = int(port)
        if db:
            params["dbname"] = db
        if username:
            params["user"] = username
        if password:
            params["password"] = password
        params.update(query or {})
        return make_conninfo("", **params)
    except psycopg.ProgrammingError as e:
        raise ConfigError(f"endpoints.yml {section}: the PostgreSQL settings are not usable: "
                          f"{_first_line(e)}",
                          hint="check url (a host name, or postgresql://user@host:5432/db) "
                               "and the options under query") from e


class PostgresTrackerStore(TrackerStore):
    """Conversations in PostgreSQL tables ``dfl_conversations`` and ``dfl_events``."""

    def __init__(self, domain: Domain | None = None, *, url: str = "localhost",
                 port: int | None = 5432, db: str | None = None,
                 username: str | None = None, password: str | None = None,
                 query: dict[str, Any] | None = None, pool_size: int = 8,
                 connect_timeout: float = 10.0, login_db: str | None = None) -> None:
        super().__init__(domain)
        try:
            import psycopg  # noqa: F401
        except ImportError as e:  # pragma: no cover - depends on the installation
            raise ConfigError("the PostgreSQL tracker store needs psycopg 3",
                              hint="pip install 'dialogflowlite[postgres]'") from e
        if db is None and "://" not in url:
            db = DEFAULT_DATABASE  # (a URL without one keeps libpq's: the user's name)
        self.conninfo = conninfo(url, port, db, username, password, query)
        #: as in Rasa: the database to log in to when ``db`` does not exist yet, to create it
        self.login_db = login_db
        self.pool_size = max(1, int(pool_size))
        self.connect_timeout = float(connect_timeout)
        #: open connections nobody uses (taken with get_nowait: callers wait on _pool_slots)
        self._idle: asyncio.LifoQueue | None = None
        #: one for each connection that may be open and in use: a caller waits here
        #: until one is handed back or let go, and then takes an idle one or opens one
        self._pool_slots: asyncio.Semaphore | None = None
        self._schema_ready = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._all: list[Any] = []

    async def _open(self, info: str) -> Any:
        import psycopg

        return await psycopg.AsyncConnection.connect(
            info, autocommit=True, connect_timeout=int(self.connect_timeout))

    async def _connect(self) -> Any:
        import psycopg

        try:
            try:
                connection = await self._open(self.conninfo)
            except psycopg.OperationalError:
                if not (self.login_db and await self._ensure_database()):
                    raise
                connection = await self._open(self.conninfo)
        except psycopg.Error as e:
            reason = _first_line(e)
            hint = ("create the database (CREATE DATABASE), or set `login_db:` (a database "
                    "that exists, such as postgres) and it is created through it, as in Rasa"
                    if "does not exist" in reason and "database" in reason and not self.login_db
                    else "check the tracker_store section of endpoints.yml and that the "
                         "server runs")
            raise TrackerStoreError(f"cannot connect to PostgreSQL: {reason}", hint=hint) from e
        if not self._schema_ready:
            try:
                await self._create_tables(connection)
            except BaseException as e:
                with contextlib.suppress(Exception):
                    await connection.close()
                if isinstance(e, psycopg.Error):
                    raise TrackerStoreError(
                        f"cannot create the PostgreSQL tracker store's tables: {_first_line(e)}",
                        hint="grant the user CREATE on the schema (`GRANT CREATE ON SCHEMA "
                             "public TO <user>`: PostgreSQL 15 and later no longer grant it "
                             "to every user), or create dfl_conversations and dfl_events "
                             "as another user") from e
                raise
            self._schema_ready = True
        self._all.append(connection)
        return connection

    @staticmethod
    async def _create_tables(connection: Any) -> None:
        # CREATE TABLE IF NOT EXISTS is not safe against itself: two workers creating
        # the same table at once collide on its row type. A transaction-scoped
        # advisory lock makes them take turns.
        async with connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
            for statement in _SCHEMA:
                await connection.execute(statement)

    async def _ensure_database(self) -> bool:
        """Create the database of ``db`` through ``login_db`` unless it exists, as Rasa's
        SQL store does; whether connecting is worth another try (the database is there
        now, perhaps made by another worker a moment ago)."""
        import psycopg
        from psycopg import sql
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        name = conninfo_to_dict(self.conninfo).get("dbname")
        if not name or name == self.login_db:
            return False
        async with await self._open(make_conninfo(self.conninfo, dbname=self.login_db)) as admin:
            cursor = await admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                         (name,))
            if await cursor.fetchone() is not None:
                return True
            try:
                await admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                # another worker created it meanwhile (the second error: at the same time)
                return True
        logger.info("PostgreSQL: created the database %r (through login_db %r)", name,
                    self.login_db)
        return True

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        loop = asyncio.get_running_loop()
        if self._idle is None or self._pool_slots is None or self._loop is not loop:
            self._idle, self._loop, self._all = asyncio.LifoQueue(), loop, []
            self._pool_slots = asyncio.Semaphore(self.pool_size)
        idle, slots = self._idle, self._pool_slots
        # a slot, not a connection, is waited for: one let go (broken, cancelled, or
        # never opened) frees its slot too, where a waiter for a connection that
        # would never come back waited until the next caller brought one
        await slots.acquire()
        try:
            reused = not idle.empty()
            connection = idle.get_nowait() if reused else await self._connect()
        except BaseException:
            slots.release()
            raise
        broken = False
        try:
            yield connection
        except Exception as e:
            broken = connection.closed or connection.broken
            if isinstance(e, TrackerStoreError):
                raise
            import psycopg

            if isinstance(e, psycopg.Error):
                message = f"PostgreSQL tracker store: {_first_line(e)}"
                if broken:
                    # the server closed it (a restart, a failover): the idle ones went
                    # the same way, and each would fail a message of its own
                    await self._drop_idle()
                    raise ConnectionLost(message, reused=reused) from e
                raise TrackerStoreError(message) from e
            raise
        except BaseException:
            # cancelled mid-query: the connection may still be inside a statement or a
            # transaction, so it is closed rather than handed to the next caller
            broken = True
            with contextlib.suppress(Exception):
                await asyncio.shield(connection.close())
            raise
        finally:
            if broken or connection.closed:
                with contextlib.suppress(ValueError):
                    self._all.remove(connection)
            else:
                idle.put_nowait(connection)
            slots.release()

    async def _drop_idle(self) -> None:
        """Close the pool's idle connections; new ones are opened as they are needed."""
        dropped = []
        while self._idle is not None and not self._idle.empty():
            dropped.append(self._idle.get_nowait())
        for connection in dropped:
            with contextlib.suppress(ValueError):
                self._all.remove(connection)
            with contextlib.suppress(Exception):
                await connection.close()

    # A conversation's version is (number of events, time of the last write), as in
    # the SQLite store: every write moves the time forward.

    async def load_events(self, sender_id: str) -> list[dict[str, Any]] | None:
        events, _ = await self.load_versioned_events(sender_id)
        return events

    async def _fetch(self, statement: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """The rows of a read (tried once more on a fresh connection when the server had
        closed the pooled one)."""

        async def read() -> list[tuple[Any, ...]]:
            async with self._connection() as connection:
                cursor = await connection.execute(statement, args or None)
                return list(await cursor.fetchall())

        return await read_once_more_if_lost(read)

    async def load_versioned_events(
            self, sender_id: str) -> tuple[list[dict[str, Any]] | None, Hashable | None]:
        texts, version = await self._load_versioned_texts(sender_id)
        return (None, None) if texts is None else (decode_events(texts), version)

    async def load_versioned_session_events(
            self, sender_id: str) -> tuple[list[Any] | None, Hashable | None]:
        texts, version = await self._load_versioned_texts(sender_id)
        return (None, None) if texts is None else (decode_latest_session(texts), version)

    async def _load_versioned_texts(
            self, sender_id: str) -> tuple[list[Any] | None, Hashable | None]:
        # one statement: the version and the events come from the same snapshot
        rows = await self._fetch(
            "SELECT c.n_events, c.updated, e.data FROM dfl_conversations c "
            "LEFT JOIN dfl_events e ON e.sender_id = c.sender_id "
            "WHERE c.sender_id = %s ORDER BY e.seq", (sender_id,))
        if not rows:
            return None, None
        return [row[2] for row in rows if row[2] is not None], (rows[0][0], rows[0][1])

    async def stored_version(self, sender_id: str) -> Hashable | None:
        rows = await self._fetch(
            "SELECT n_events, updated FROM dfl_conversations WHERE sender_id = %s", (sender_id,))
        return (rows[0][0], rows[0][1]) if rows else None

    async def append_events(self, sender_id: str,
                            events: list[dict[str, Any]]) -> StoredVersion:
        texts = dump_events(sender_id, events)
        async with self._connection() as connection, connection.transaction():
            cursor = await connection.execute(
                "INSERT INTO dfl_conversations (sender_id, n_events, updated) "
                "VALUES (%s, 0, %s) ON CONFLICT (sender_id) DO NOTHING RETURNING 1",
                (sender_id, time.time()))
            created = await cursor.fetchone() is not None
            cursor = await connection.execute(
                "SELECT n_events, updated FROM dfl_conversations WHERE sender_id = %s "
                "FOR UPDATE", (sender_id,))
            count, previous = await cursor.fetchone()
            if texts:
                async with connection.cursor() as many:
                    await many.executemany(
                        "INSERT INTO dfl_events (sender_id, seq, data) VALUES (%s, %s, %s)",
                        [(sender_id, count + offset, text) for offset, text in enumerate(texts)])
            updated = next_write_time(previous)
            await connection.execute(
                "UPDATE dfl_conversations SET n_events = %s, updated = %s WHERE sender_id = %s",
                (count + len(texts), updated, sender_id))
        return StoredVersion(None if created else (count, previous),
                             (count + len(texts), updated))

    async def replace_events(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        texts = dump_events(sender_id, events)
        async with self._connection() as connection, connection.transaction():
            await connection.execute(
                "INSERT INTO dfl_conversations (sender_id, n_events, updated) "
                "VALUES (%s, 0, %s) ON CONFLICT (sender_id) DO NOTHING",
                (sender_id, time.time()))
            cursor = await connection.execute(
                "SELECT updated FROM dfl_conversations WHERE sender_id = %s FOR UPDATE",
                (sender_id,))
            (previous,) = await cursor.fetchone()
            await connection.execute("DELETE FROM dfl_events WHERE sender_id = %s", (sender_id,))
            if texts:
                async with connection.cursor() as many:
                    await many.executemany(
                        "INSERT INTO dfl_events (sender_id, seq, data) VALUES (%s, %s, %s)",
                        [(sender_id, seq, text) for seq, text in enumerate(texts)])
            await connection.execute(
                "UPDATE dfl_conversations SET n_events = %s, updated = %s WHERE sender_id = %s",
                (len(texts), next_write_time(previous), sender_id))

    async def count_events(self, sender_id: str) -> int:
        rows = await self._fetch(
            "SELECT n_events FROM dfl_conversations WHERE sender_id = %s", (sender_id,))
        return int(rows[0][0]) if rows else 0

    async def exists(self, sender_id: str) -> bool:
        return bool(await self._fetch(
            "SELECT 1 FROM dfl_conversations WHERE sender_id = %s", (sender_id,)))

    async def delete(self, sender_id: str) -> None:
        async with self._connection() as connection, connection.transaction():
            await connection.execute("DELETE FROM dfl_events WHERE sender_id = %s", (sender_id,))
            await connection.execute("DELETE FROM dfl_conversations WHERE sender_id = %s",
                                     (sender_id,))

    async def keys(self) -> list[str]:
        rows = await self._fetch("SELECT sender_id FROM dfl_conversations ORDER BY sender_id", ())
        return [row[0] for row in rows]

    async def close(self) -> None:
        connections, self._all = self._all, []
        for connection in connections:
            with contextlib.suppress(Exception):
                await connection.close()
        self._idle = self._pool_slots = None


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
