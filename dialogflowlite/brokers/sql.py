"""Events as rows of a SQL table (Rasa's ``type: SQL`` broker): SQLite, PostgreSQL or MySQL.

The table is Rasa's: ``events (id, sender_id, data)``, ``id`` counting up in
the order events were published and ``data`` the event's JSON, so queries
written against Rasa's event table keep working.

endpoints.yml::

    event_broker:
      type: SQL
      dialect: sqlite         # or postgresql (pip install 'dialogflowlite[postgres]')
      db: events.db           # SQLite: a file, relative to the project folder

    event_broker:
      type: SQL
      dialect: postgresql
      url: localhost          # host name, or a full postgresql:// URL
      port: 5432
      db: events
      username: bot
      password: ${POSTGRES_PASSWORD}

    event_broker:
      type: SQL
      dialect: mysql          # or mariadb (pip install 'dialogflowlite[mysql]')
      url: localhost          # host name, or a full mysql:// URL
      port: 3306
      db: events
      username: bot
      password: ${MYSQL_PASSWORD}
      query: {charset: utf8mb4}

A turn's events are inserted in one transaction. On MySQL the table is
utf8mb4; in an existing table whose ``data`` column has an older character
set, the JSON is written with ASCII escapes, as Rasa writes it.

Events the database did not take because it was away or busy (a server that
cannot be reached or dropped the connection, a SQLite file another process
kept locked past ``timeout``) are kept and tried again while the server runs,
newer ones waiting behind them (see :mod:`dialogflowlite.brokers.base`);
events it refused (a value too long, say) are dropped and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import socket
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from dialogflowlite.brokers.base import EventBroker, in_project
from dialogflowlite.errors import ConfigError, EventBrokerError

TABLE = "events"
DIALECTS = ("sqlite", "postgresql", "mysql")

_SQLITE_SCHEMA = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sender_id VARCHAR(255) NOT NULL,
    data TEXT
)"""
_POSTGRES_SCHEMA = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    id SERIAL PRIMARY KEY,
    sender_id VARCHAR(255) NOT NULL,
    data TEXT
)"""
_MYSQL_SCHEMA = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    sender_id VARCHAR(255) NOT NULL,
    data LONGTEXT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"""
#: serialises schema creation across workers (CREATE TABLE IF NOT EXISTS races itself)
_SCHEMA_LOCK_KEY = 0x0DF1_E7E5


def _dialect(name: str) -> str:
    dialect = str(name or "sqlite").lower().split("+", 1)[0]
    dialect = {"postgres": "postgresql", "mariadb": "mysql"}.get(dialect, dialect)
    if dialect not in DIALECTS:
        raise ConfigError(f"endpoints.yml event_broker: SQL dialect {name!r} is not supported",
                          hint="use dialect: sqlite, postgresql or mysql")
    return dialect


#: MySQL errors that pass: cannot connect, server gone away, connection lost, lock wait
#: timeout, deadlock, connection lost while reading
_MYSQL_PASSING = {2003, 2006, 2013, 1205, 1213, 2055}


def _database_away(error: BaseException | None) -> bool:
    """Whether ``error`` (or what caused it) says the database was away or busy, which
    passes, rather than that it refused the events."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, sqlite3.OperationalError):
            text = str(error).lower()
            return "locked" in text or "busy" in text
        if isinstance(error, (ConnectionError, TimeoutError, socket.gaierror)):
            return True
        module = type(error).__module__ or ""
        if module.startswith("psycopg"):
            import psycopg

            return isinstance(error, psycopg.OperationalError)
        if module.startswith("pymysql"):
            args = getattr(error, "args", ())
            return bool(args) and args[0] in _MYSQL_PASSING
        if isinstance(error, OSError):
            return error.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN)
        error = error.__cause__ or error.__context__
        seen += 1
    return False


def _rows(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(str(e.get("sender_id", "")), json.dumps(e, ensure_ascii=False)) for e in events]


class SQLEventBroker(EventBroker):
    """Inserts every event as a row of the ``events`` table."""

    @classmethod
    def from_endpoint_config(cls, config: dict[str, Any],
                             project: str | Path | None = None) -> EventBroker:
        params = dict(config)
        if _dialect(params.get("dialect", "sqlite")) == "sqlite":
            params["db"] = str(in_project(params.get("db") or "events.db", project))
        return super().from_endpoint_config(params, project)

    def __init__(self, dialect: str = "sqlite", *, db: str = "events.db",
                 url: str = "localhost", host: str | None = None, port: int | None = None,
                 username: str | None = None, password: str | None = None,
                 query: dict[str, Any] | None = None, timeout: float = 30.0) -> None:
        self.dialect = _dialect(dialect)
        self.db = db
        self.timeout = float(timeout)
        self._sqlite: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._postgres: Any = None
        self._mysql: Any = None
        self._mysql_ascii = False
        self._mysql_used = 0.0
        self._lock = asyncio.Lock()
        if self.dialect == "postgresql":
            try:
                from dialogflowlite.stores.postgres import conninfo
            except ImportError as e:  # pragma: no cover - depends on the installation
                raise ConfigError("the PostgreSQL event broker needs psycopg 3",
                                  hint="pip install 'dialogflowlite[postgres]'") from e
            self.conninfo = conninfo(host or url, port or 5432, db, username, password, query,
                                     section="event_broker")
        elif self.dialect == "mysql":
            try:
                import aiomysql  # noqa: F401
            except ImportError as e:
                raise ConfigError("the MySQL event broker needs aiomysql",
                                  hint="pip install 'dialogflowlite[mysql]'") from e
            from dialogflowlite.stores.mysql import DEFAULT_PORT, connect_settings

            self.mysql_settings = connect_settings(host or url, port or DEFAULT_PORT, db,
                                                   username, password, query,
                                                   section="event_broker")

    # ------------------------------------------------------------ SQLite

    def _sqlite_open(self) -> sqlite3.Connection:
        if self._sqlite is None:
            try:
                Path(self.db).parent.mkdir(parents=True, exist_ok=True)
                connection = sqlite3.connect(self.db, timeout=self.timeout,
                                             isolation_level=None, check_same_thread=False)
                try:
                    connection.execute("PRAGMA journal_mode=WAL")
                    connection.execute(_SQLITE_SCHEMA)
                except sqlite3.Error:
                    connection.close()
                    raise
            except (OSError, sqlite3.Error) as e:
                raise ConfigError(f"the SQLite event table in {self.db} cannot be opened: {e}",
                                  hint="check db: of the event_broker section in endpoints.yml "
                                       "(a file, in a folder that can be written)") from e
            self._sqlite = connection
        return self._sqlite

    def _sqlite_insert(self, rows: list[tuple[str, str]]) -> None:
        self._sqlite_open()
        with self._sqlite:  # one transaction
            self._sqlite.execute("BEGIN IMMEDIATE")
            self._sqlite.executemany(
                f"INSERT INTO {TABLE} (sender_id, data) VALUES (?, ?)", rows)

    # ------------------------------------------------------------ PostgreSQL

    async def _postgres_connection(self) -> Any:
        import psycopg

        if self._postgres is None or self._postgres.closed:
            connection = await psycopg.AsyncConnection.connect(
                self.conninfo, autocommit=True, connect_timeout=int(self.timeout))
            async with connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
                await connection.execute(_POSTGRES_SCHEMA)
            self._postgres = connection
        return self._postgres

    async def _postgres_insert(self, rows: list[tuple[str, str]]) -> None:
        import psycopg

        try:
            connection = await self._postgres_connection()
            async with connection.transaction(), connection.cursor() as cursor:
                await cursor.executemany(
                    f"INSERT INTO {TABLE} (sender_id, data) VALUES (%s, %s)", rows)
        except BaseException as e:
            # a connection in an unknown state (an error, a cancelled insert) is not used
            # again: the next turn opens another
            if self._postgres is not None:
                await self._postgres.close()
                self._postgres = None
            if isinstance(e, psycopg.Error):
                raise EventBrokerError(f"PostgreSQL event broker: {e}".strip(),
                                       hint="check the event_broker section of endpoints.yml "
                                            "and that the database is up") from e
            raise

    # ------------------------------------------------------------ MySQL

    async def _mysql_connection(self) -> Any:
        from dialogflowlite.stores import mysql

        now = asyncio.get_running_loop().time()
        if self._mysql is not None and not self._mysql.closed \
                and now - self._mysql_used > mysql.PING_AFTER_IDLE:
            # the server drops idle connections (wait_timeout): find out before a turn's
            # events are lost on it
            try:
                await self._mysql.ping(reconnect=False)
            except Exception:
                self._mysql.close()
        self._mysql_used = now
        if self._mysql is None or self._mysql.closed:
            connection = await mysql.connect(self.mysql_settings, timeout=self.timeout,
                                             section="event_broker", error=EventBrokerError)
            try:
                await mysql.create_tables(connection, {TABLE: _MYSQL_SCHEMA},
                                          error=EventBrokerError)
                charsets = await mysql.column_charsets(connection, TABLE)
            except BaseException:
                connection.close()
                raise
            self._mysql_ascii = charsets.get("data") != "utf8mb4"
            self._mysql = connection
        return self._mysql

    async def _mysql_insert(self, rows: list[tuple[str, str]]) -> None:
        import pymysql

        from dialogflowlite.stores import mysql

        try:
            connection = await self._mysql_connection()
            if self._mysql_ascii:
                rows = [(sender_id, mysql.ascii_json(data)) for sender_id, data in rows]
            await connection.begin()
            async with connection.cursor() as cursor:
                await cursor.executemany(
                    f"INSERT INTO {TABLE} (sender_id, data) VALUES (%s, %s)", rows)
            await connection.commit()
        except BaseException as e:
            # a connection in an unknown state is not used again: the next turn opens another
            if self._mysql is not None:
                self._mysql.close()
                self._mysql = None
            if isinstance(e, pymysql.err.MySQLError):
                raise EventBrokerError(f"MySQL event broker: {mysql.reason(e)}") from e
            raise

    # ------------------------------------------------------------ EventBroker

    def keeps_failed_events(self, error: Exception) -> bool:
        """Events are kept while the database is away or busy (they are tried again),
        not when it refused them."""
        return _database_away(error)

    async def check_connection(self) -> None:
        """Open a SQLite file before the server starts, so that a path that cannot be a
        database is one error then rather than one per turn. A database server is
        connected to on first use (it may come up after the bot)."""
        if self.dialect != "sqlite":
            return
        try:
            async with self._lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(1, thread_name_prefix="dfl-events")
                await asyncio.get_running_loop().run_in_executor(self._executor,
                                                                 self._sqlite_open)
        finally:
            await self.close()  # opened again on first use, in the process that publishes

    async def publish_many(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        rows = _rows(events)
        async with self._lock:
            if self.dialect == "sqlite":
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(1, thread_name_prefix="dfl-events")
                await asyncio.get_running_loop().run_in_executor(
                    self._executor, self._sqlite_insert, rows)
            elif self.dialect == "mysql":
                await self._mysql_insert(rows)
            else:
                await self._postgres_insert(rows)

    async def close(self) -> None:
        async with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None
            if self._sqlite is not None:
                self._sqlite.close()
                self._sqlite = None
            if self._postgres is not None:
                await self._postgres.close()
                self._postgres = None
            if self._mysql is not None:
                with contextlib.suppress(Exception):
                    await self._mysql.ensure_closed()
                self._mysql = None
