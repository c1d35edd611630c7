"""MySQL and MariaDB tracker store on aiomysql (``pip install 'dialogflowlite[mysql]'``).

Events are rows of Rasa's own ``events`` table (``id, sender_id, type_name,
timestamp, intent_name, action_name, data``), so a table a Rasa server filled
is read as it is and queries written against Rasa's table keep working. Next
to it, ``dfl_conversations`` keeps each conversation's number of events and
the time of its last write: an append locks that row (``SELECT ... FOR
UPDATE``) and inserts after the stored events in one transaction, so workers
on any number of hosts never overwrite or interleave each other's events.
Connections come from a small pool per worker, opened on first use. Pair it
with the Redis lock store when several workers serve one database.

Tables it creates are ``utf8mb4`` (any text, emoji included) with sender ids
compared exactly (``utf8mb4_bin``). In a Rasa table whose ``data`` column has
an older character set, event JSON is written with ASCII escapes, as Rasa
writes it.

endpoints.yml (Rasa's keys work as they are)::

    tracker_store:
      type: SQL
      dialect: mysql          # or mariadb; a driver after "+" is accepted and ignored
      url: localhost          # host name, or a full mysql:// URL
      port: 3306
      db: rasa
      username: bot
      password: ${MYSQL_PASSWORD}
      query: {charset: utf8mb4}
      pool_size: 8            # optional
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from dialogflowlite.errors import ConfigError, DialogflowLiteError, TrackerStoreError
from dialogflowlite.stores.base import (
    ConnectionLost,
    StoredVersion,
    TrackerStore,
    dump_events,
    read_once_more_if_lost,
)
from dialogflowlite.stores.stored_events import decode_events

if TYPE_CHECKING:
    from dialogflowlite.shared.domain import Domain

T = TypeVar("T")

DEFAULT_PORT = 3306

#: Rasa's ``events`` table (its SQLTrackerStore), with room for long JSON in ``data``
#: and a DOUBLE timestamp (SQLAlchemy's Float is a 4-byte FLOAT on MySQL)
_EVENTS_TABLE = """CREATE TABLE IF NOT EXISTS events (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    sender_id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    type_name VARCHAR(255) NOT NULL,
    `timestamp` DOUBLE,
    intent_name VARCHAR(255),
    action_name VARCHAR(255),
    data LONGTEXT,
    INDEX ix_events_sender_id (sender_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"""
_CONVERSATIONS_TABLE = """CREATE TABLE IF NOT EXISTS dfl_conversations (
    sender_id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
    n_events INT NOT NULL DEFAULT 0,
    updated BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"""
_TABLES = {"events": _EVENTS_TABLE, "dfl_conversations": _CONVERSATIONS_TABLE}
#: the columns of Rasa's tracker store table this store writes
RASA_COLUMNS = ("id", "sender_id", "type_name", "timestamp", "intent_name", "action_name", "data")

_INSERT_EVENT = ("INSERT INTO events (sender_id, type_name, `timestamp`, intent_name, "
                 "action_name, data) VALUES (%s, %s, %s, %s, %s, %s)")

#: how long a worker waits for another one that is creating the tables (seconds)
SCHEMA_LOCK_WAIT = 60
#: a pooled connection idle for longer is pinged before use: servers drop idle
#: connections (``wait_timeout``), and a bot may be quiet overnight
PING_AFTER_IDLE = 30.0
#: a transaction the server chose as a deadlock victim is run again (at most this often)
_DEADLOCK_ATTEMPTS = 3
_ER_LOCK_DEADLOCK = 1213
#: the client's errors for a connection the server no longer holds: "server has gone
#: away", "lost connection during query", "lost connection at handshake"
_CONNECTION_LOST = frozenset({2006, 2013, 2055})
#: settings Rasa's ``query`` may pass on to the driver (besides ``charset``)
QUERY_OPTIONS = ("charset", "unix_socket", "init_command", "read_default_file",
                 "read_default_group", "ssl_ca", "ssl_cert", "ssl_key", "ssl_check_hostname")
# A value cut to fit a column would be silent data loss: make it an error instead.
_STRICT = ("SET SESSION sql_mode = TRIM(BOTH ',' FROM "
           "CONCAT(@@SESSION.sql_mode, ',STRICT_TRANS_TABLES'))")


def connect_settings(url: str = "localhost", port: int | None = DEFAULT_PORT,
                     db: str | None = None, username: str | None = None,
                     password: str | None = None, query: dict[str, Any] | None = None, *,
                     section: str = "tracker_store") -> dict[str, Any]:
    """aiomysql's connection arguments from Rasa-style settings.

    ``url`` is a host name, ``host:port``, or a full ``mysql://`` (or
    ``mariadb://``, ``mysql+pymysql://``...) URL whose parts win over the other
    settings. ``query`` takes the driver options of Rasa's ``query`` mapping.
    """
    url = str(url or "localhost")
    options: dict[str, Any] = {}
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme.split("+", 1)[0].lower() not in ("mysql", "mariadb"):
            raise ConfigError(f"endpoints.yml {section}: {parts.scheme}:// is not a MySQL URL",
                              hint="write mysql://user:password@host:3306/database")
        try:
            port = parts.port or port
        except ValueError as e:
            raise ConfigError(f"endpoints.yml {section}: the port in the URL is not a number",
                              hint="write mysql://user:password@host:3306/database") from e
        host = parts.hostname or "localhost"
        db = unquote(parts.path.lstrip("/")) or db
        username = unquote(parts.username) if parts.username else username
        password = unquote(parts.password) if parts.password is not None else password
        options.update(parse_qsl(parts.query))
    else:
        # Rasa accepts the port in the host name too: db.internal:3306
        host, _, in_host = url.partition(":")
        if in_host:
            if not in_host.isdigit():
                raise ConfigError(f"endpoints.yml {section}: url {url!r} is neither a host name "
                                  "nor a URL", hint="write the host name, or mysql://host:3306/db")
            port = int(in_host)
    options.update(query or {})
    unknown = sorted(set(options) - set(QUERY_OPTIONS))
    if unknown:
        raise ConfigError(f"endpoints.yml {section}: the MySQL store has no query option "
                          f"{unknown[0]!r}", hint=f"its options are: {', '.join(QUERY_OPTIONS)}")
    charset = str(options.pop("charset", "utf8mb4")).lower()
    # utf8 (three bytes a character) cannot hold emoji; utf8mb4 holds everything it does
    if charset not in ("utf8mb4", "utf8", "utf8mb3"):
        raise ConfigError(f"endpoints.yml {section}: charset {charset!r} cannot hold every "
                          "message", hint="leave charset out, or write charset: utf8mb4")
    settings: dict[str, Any] = {"host": host, "port": int(port or DEFAULT_PORT),
                                "charset": "utf8mb4"}
    if db:
        settings["db"] = str(db)
    if username:
        settings["user"] = str(username)
    if password is not None:
        settings["password"] = str(password)
    ssl_options = {key: options.pop(key) for key in list(options) if key.startswith("ssl_")}
    if ssl_options:
        settings["ssl"] = _ssl_context(ssl_options, section)
    settings.update({key: str(value) for key, value in options.items()})
    return settings


def _ssl_context(options: dict[str, Any], section: str) -> Any:
    import ssl

    try:
        context = ssl.create_default_context(cafile=options.get("ssl_ca"))
        if options.get("ssl_cert"):
            context.load_cert_chain(options["ssl_cert"], options.get("ssl_key"))
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"endpoints.yml {section}: the TLS files in `query` cannot be loaded: "
                          f"{e}", hint="check the ssl_ca, ssl_cert and ssl_key paths") from e
    if str(options.get("ssl_check_hostname", "true")).lower() in ("0", "false", "no"):
        context.check_hostname = False
    return context


def _where(settings: dict[str, Any]) -> str:
    if settings.get("unix_socket"):
        return str(settings["unix_socket"])
    return f"{settings.get('host')}:{settings.get('port')}"


def reason(error: BaseException) -> str:
    """The server's or driver's message of a MySQL error, on one line."""
    args = getattr(error, "args", ())
    text = str(args[1]) if len(args) > 1 and isinstance(args[0], int) else str(error)
    cause = error.__cause__
    if cause is not None and "Can't connect" in text:
        # aiomysql keeps the reason (refused, timed out, unknown host) only as the cause
        text += f" ({str(cause) or type(cause).__name__})"
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__


def _connect_hint(error: BaseException, settings: dict[str, Any], section: str) -> str:
    code = getattr(error, "args", (None,))[0] if getattr(error, "args", ()) else None
    if code == 1045:
        return f"check username and password in the {section} section of endpoints.yml"
    if code == 1049:
        db = settings.get("db", "")
        return (f"create the database first (CREATE DATABASE `{db}` CHARACTER SET utf8mb4), "
                f"or correct `db` in the {section} section of endpoints.yml")
    if code in (1044, 1142):
        return f"grant the user access to the database named in the {section} section"
    return f"check url and port in the {section} section of endpoints.yml and that the server runs"


async def connect(settings: dict[str, Any], *, timeout: float, section: str = "tracker_store",
                  error: type[DialogflowLiteError] = TrackerStoreError) -> Any:
    """An autocommitting aiomysql connection in strict mode; ``error`` when that fails."""
    import aiomysql
    import pymysql

    try:
        connection = await aiomysql.connect(**settings, autocommit=True,
                                            connect_timeout=float(timeout))
    except (pymysql.err.MySQLError, OSError) as e:
        raise error(f"cannot connect to MySQL at {_where(settings)}: {reason(e)}",
                    hint=_connect_hint(e, settings, section)) from e
    try:
        async with connection.cursor() as cursor:
            await cursor.execute(_STRICT)
    except BaseException:
        connection.close()
        raise
    return connection


async def create_tables(connection: Any, tables: dict[str, str], *,
                        error: type[DialogflowLiteError] = TrackerStoreError) -> None:
    """Create the ``tables`` (name: CREATE statement) that the database lacks.

    Workers starting at once take turns (``GET_LOCK``, named after the
    database), and only missing tables are created: ``CREATE TABLE IF NOT
    EXISTS`` on an existing table leaves a warning behind.
    """
    lock = "LEFT(CONCAT('dialogflowlite.schema.', DATABASE()), 64)"
    async with connection.cursor() as cursor:
        await cursor.execute(f"SELECT GET_LOCK({lock}, %s)", (SCHEMA_LOCK_WAIT,))
        (taken,) = await cursor.fetchone()
        if taken != 1:
            raise error(
                f"waited {SCHEMA_LOCK_WAIT}s for another worker to create the MySQL tables",
                hint="check for a stuck process holding the lock (SELECT IS_USED_LOCK(...))")
        try:
            marks = ", ".join(["%s"] * len(tables))
            await cursor.execute(
                "SELECT table_name FROM information_schema.tables "
                f"WHERE table_schema = DATABASE() AND table_name IN ({marks})", tuple(tables))
            existing = {str(row[0]).lower() for row in await cursor.fetchall()}
            for name, statement in tables.items():
                if name.lower() not in existing:
                    await cursor.execute(statement)
        finally:
            await cursor.execute(f"SELECT RELEASE_LOCK({lock})")
            await cursor.fetchall()


async def column_charsets(connection: Any, table: str) -> dict[str, str | None]:
    """The character set of each column of ``table`` (None for numbers), by lower-case name."""
    async with connection.cursor() as cursor:
        await cursor.execute(
            "SELECT column_name, character_set_name FROM information_schema.columns "
            "WHERE table_schema = DATABASE() AND table_name = %s", (table,))
        return {str(name).lower(): charset for name, charset in await cursor.fetchall()}


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def ascii_json(text: str) -> str:
    """JSON text with every non-ASCII character escaped (``\\u00f6``): the same value."""
    return _NON_ASCII.sub(lambda match: json.dumps(match.group())[1:-1], text)


def _column(value: Any) -> str | None:
    # Rasa's name columns are VARCHAR(255); they serve queries, the JSON keeps it all
    return None if value is None else str(value)[:255]


def _event_row(sender_id: str, event: dict[str, Any], text: str) -> tuple[Any, ...]:
    """Rasa's columns for one event: the intent of user messages, ``name`` as action_name."""
    parse_data = event.get("parse_data")
    intent = parse_data.get("intent") if isinstance(parse_data, dict) else None
    timestamp = event.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)) \
            or not math.isfinite(timestamp):
        timestamp = None
    return (sender_id, _column(event.get("event")) or "", timestamp,
            _column(intent.get("name") if isinstance(intent, dict) else None),
            _column(event.get("name")), text)


def _next_write_time(previous: int | None) -> int:
    """Microseconds since the epoch, always after ``previous``: a version never repeats.

    Whole numbers survive the round trip through the server exactly, which a
    float in a DOUBLE column written as text need not.
    """
    now = time.time_ns() // 1000
    return now if not previous or now > previous else previous + 1


class MySQLTrackerStore(TrackerStore):
    """Conversations in MySQL or MariaDB: Rasa's ``events`` table and ``dfl_conversations``."""

    def __init__(self, domain: Domain | None = None, *, url: str = "localhost",
                 port: int | None = DEFAULT_PORT, db: str | None = "dialogflowlite",
                 username: str | None = None, password: str | None = None,
                 query: dict[str, Any] | None = None, pool_size: int = 8,
                 connect_timeout: float = 10.0, login_db: str | None = None) -> None:
        super().__init__(domain)
        try:
            import aiomysql  # noqa: F401
        except ImportError as e:
            raise ConfigError("the MySQL tracker store needs aiomysql",
                              hint="pip install 'dialogflowlite[mysql]'") from e
        # ``login_db`` is accepted for Rasa compatibility; the database must exist.
        self.settings = connect_settings(url, port, db, username, password, query)
        self.pool_size = max(1, int(pool_size))
        self.connect_timeout = float(connect_timeout)
        #: open connections nobody uses, with when they were handed back (taken with
        #: get_nowait: callers wait on _pool_slots)
        self._idle: asyncio.LifoQueue | None = None
        #: one for each connection that may be open and in use: a caller waits here
        #: until one is handed back or let go, and then takes an idle one or opens one
        self._pool_slots: asyncio.Semaphore | None = None
        self._schema_ready = False
        #: a Rasa table whose ``data`` column cannot hold every character gets ASCII JSON
        self._ascii_json = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._all: list[Any] = []

    # ------------------------------------------------------------ connections

    async def _connect(self) -> Any:
        import pymysql

        connection = await connect(self.settings, timeout=self.connect_timeout)
        if not self._schema_ready:
            try:
                await create_tables(connection, _TABLES)
                charsets = await column_charsets(connection, "events")
            except BaseException as e:
                connection.close()
                if isinstance(e, pymysql.err.MySQLError):
                    raise TrackerStoreError(
                        f"cannot create the MySQL tracker store's tables: {reason(e)}",
                        hint="grant the user CREATE on the database, or create the tables") from e
                raise
            missing = [name for name in RASA_COLUMNS if name not in charsets]
            if missing:
                connection.close()
                raise TrackerStoreError(
                    f"the table `events` in MySQL database {self.settings.get('db')!r} is not "
                    f"a tracker store's: it has no {', '.join(missing)}",
                    hint="an event broker's table is also called `events`; give the tracker "
                         "store and the event broker a database each")
            self._ascii_json = charsets.get("data") != "utf8mb4"
            self._schema_ready = True
        self._all.append(connection)
        return connection

    async def _checkout(self, loop: asyncio.AbstractEventLoop) -> tuple[Any, bool]:
        """A connection, and whether it was used before (taken from the pool); the caller
        holds a slot."""
        assert self._idle is not None
        while not self._idle.empty():
            connection, since = self._idle.get_nowait()
            if loop.time() - since <= PING_AFTER_IDLE:
                return connection, True
            try:
                await connection.ping(reconnect=False)
                return connection, True
            except Exception:  # the server let it go; try the next, or open another
                self._discard(connection)
        return await self._connect(), False

    def _drop_idle(self) -> None:
        """Close the pool's idle connections; new ones are opened as they are needed."""
        while self._idle is not None and not self._idle.empty():
            connection, _ = self._idle.get_nowait()
            self._discard(connection)

    def _discard(self, connection: Any) -> None:
        with contextlib.suppress(ValueError):
            self._all.remove(connection)
        with contextlib.suppress(Exception):
            connection.close()

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        import pymysql

        loop = asyncio.get_running_loop()
        if self._idle is None or self._pool_slots is None or self._loop is not loop:
            self._idle, self._loop, self._all = asyncio.LifoQueue(), loop, []
            self._pool_slots = asyncio.Semaphore(self.pool_size)
        idle, slots = self._idle, self._pool_slots
        # a slot, not a connection, is waited for: one let go (lost, cancelled, or
        # never opened) frees its slot too, where a waiter for a connection that
        # would never come back waited until the next caller brought one
        await slots.acquire()
        try:
            connection, reused = await self._checkout(loop)
        except BaseException:
            slots.release()
            raise
        reusable = False
        try:
            yield connection
            reusable = True
        except Exception as e:
            if isinstance(e, (pymysql.err.MySQLError, TrackerStoreError)):
                # an error the server reported leaves the connection usable once rolled back
                reusable = await _rolled_back(connection)
            if isinstance(e, pymysql.err.MySQLError):
                message = f"MySQL tracker store: {reason(e)}"
                if e.args and e.args[0] in _CONNECTION_LOST:
                    # the server closed it (a restart, a failover): the idle ones went
                    # the same way, and each would fail a message of its own
                    self._drop_idle()
                    raise ConnectionLost(message, reused=reused) from e
                raise TrackerStoreError(message) from e
            raise
        finally:
            # (a cancelled query leaves the protocol mid-way: such a connection is closed)
            if reusable and not connection.closed:
                idle.put_nowait((connection, loop.time()))
            else:
                self._discard(connection)
            slots.release()

    async def _rows(self, statement: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """The rows of a read (tried once more on a fresh connection when the server had
        closed the pooled one)."""

        async def read() -> list[tuple[Any, ...]]:
            async with self._connection() as connection, connection.cursor() as cursor:
                await cursor.execute(statement, args)
                return list(await cursor.fetchall())

        return await read_once_more_if_lost(read)

    async def _transaction(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``work(cursor)`` in one transaction; again when the server broke a deadlock."""
        import pymysql

        attempt = 0
        while True:
            attempt += 1
            async with self._connection() as connection:
                try:
                    await connection.begin()
                    async with connection.cursor() as cursor:
                        result = await work(cursor)
                    await connection.commit()
                    return result
                except pymysql.err.OperationalError as e:
                    if e.args[0] != _ER_LOCK_DEADLOCK or attempt >= _DEADLOCK_ATTEMPTS:
                        raise
                    await connection.rollback()
            await asyncio.sleep(0.01 * attempt)

    async def _lock_conversation(self, cursor: Any, sender_id: str) -> tuple[int, int | None]:
        """Create the conversation's row if needed and lock it; its events and last write.

        Inserting first takes the row's exclusive lock even when it exists (a
        plain ``SELECT ... FOR UPDATE`` of a missing row would let two creators
        deadlock). A new row's ``updated`` is 0 until this write sets it.
        """
        await cursor.execute(
            "INSERT INTO dfl_conversations (sender_id, n_events, updated) VALUES (%s, 0, 0) "
            "ON DUPLICATE KEY UPDATE sender_id = sender_id", (sender_id,))
        await cursor.execute(
            "SELECT n_events, updated FROM dfl_conversations WHERE sender_id = %s FOR UPDATE",
            (sender_id,))
        count, updated = await cursor.fetchone()
        if updated:
            return int(count), int(updated)
        # new here, but a Rasa server may have stored events of it before
        await cursor.execute("SELECT COUNT(*) FROM events WHERE sender_id = %s", (sender_id,))
        (existing,) = await cursor.fetchone()
        return int(existing), None

    def _event_rows(self, sender_id: str, events: list[dict[str, Any]],
                    texts: list[str]) -> list[tuple[Any, ...]]:
        if self._ascii_json:  # known once connected: the table may be Rasa's
            texts = [ascii_json(text) for text in texts]
        return [_event_row(sender_id, event, text)
                for event, text in zip(events, texts, strict=True)]

    # ------------------------------------------------------------ TrackerStore

    # A conversation's version is (number of events, time of the last write in
    # microseconds): every write moves the time forward. A conversation only a Rasa
    # server wrote has no version until this store writes to it.

    async def load_events(self, sender_id: str) -> list[dict[str, Any]] | None:
        events, _ = await self.load_versioned_events(sender_id)
        return events

    async def load_versioned_events(
            self, sender_id: str) -> tuple[list[dict[str, Any]] | None, Hashable | None]:
        # one statement: the version and the events come from the same snapshot
        rows = await self._rows(
            "SELECT 0 AS part, 0 AS id, n_events, updated, NULL AS data "
            "FROM dfl_conversations WHERE sender_id = %s "
            "UNION ALL SELECT 1, id, NULL, NULL, data FROM events WHERE sender_id = %s "
            "ORDER BY part, id", (sender_id, sender_id))
        if not rows:
            return None, None
        events = decode_events([row[4] for row in rows if row[0] == 1 and row[4] is not None])
        head = rows[0]
        if head[0] != 0 or head[3] == 0 or head[2] != len(events):
            return events, None  # written by Rasa (or being created): not kept in memory
        return events, (int(head[2]), int(head[3]))

    async def stored_version(self, sender_id: str) -> Hashable | None:
        rows = await self._rows(
            "SELECT n_events, updated FROM dfl_conversations WHERE sender_id = %s", (sender_id,))
        if not rows or not rows[0][1]:
            return None
        return int(rows[0][0]), int(rows[0][1])

    async def append_events(self, sender_id: str,
                            events: list[dict[str, Any]]) -> StoredVersion:
        texts = dump_events(sender_id, events)  # what is not JSON is refused before connecting

        async def append(cursor: Any) -> StoredVersion:
            count, previous = await self._lock_conversation(cursor, sender_id)
            rows = self._event_rows(sender_id, events, texts)
            if rows:
                await cursor.executemany(_INSERT_EVENT, rows)
            updated = _next_write_time(previous)
            await cursor.execute(
                "UPDATE dfl_conversations SET n_events = %s, updated = %s WHERE sender_id = %s",
                (count + len(rows), updated, sender_id))
            # new to this store: None when the conversation starts here, else a version
            # nobody holds (Rasa's earlier events are read on the next retrieve)
            before = (count, previous) if previous is not None else (count, 0) if count else None
            return StoredVersion(before, (count + len(rows), updated))

        return await self._transaction(append)

    async def replace_events(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        texts = dump_events(sender_id, events)

        async def replace(cursor: Any) -> None:
            _, previous = await self._lock_conversation(cursor, sender_id)
            await cursor.execute("DELETE FROM events WHERE sender_id = %s", (sender_id,))
            rows = self._event_rows(sender_id, events, texts)
            if rows:
                await cursor.executemany(_INSERT_EVENT, rows)
            await cursor.execute(
                "UPDATE dfl_conversations SET n_events = %s, updated = %s WHERE sender_id = %s",
                (len(rows), _next_write_time(previous), sender_id))

        await self._transaction(replace)

    async def count_events(self, sender_id: str) -> int:
        rows = await self._rows(
            "SELECT n_events, updated FROM dfl_conversations WHERE sender_id = %s", (sender_id,))
        if rows and rows[0][1]:
            return int(rows[0][0])
        rows = await self._rows("SELECT COUNT(*) FROM events WHERE sender_id = %s", (sender_id,))
        return int(rows[0][0])

    async def exists(self, sender_id: str) -> bool:
        rows = await self._rows(
            "SELECT 1 FROM dfl_conversations WHERE sender_id = %s "
            "UNION ALL SELECT 1 FROM events WHERE sender_id = %s LIMIT 1",
            (sender_id, sender_id))
        return bool(rows)

    async def delete(self, sender_id: str) -> None:
        async def delete(cursor: Any) -> None:
            # the conversation's row first, in the order appends lock: no deadlock with them
            await cursor.execute(
                "SELECT 1 FROM dfl_conversations WHERE sender_id = %s FOR UPDATE", (sender_id,))
            await cursor.fetchall()
            await cursor.execute("DELETE FROM events WHERE sender_id = %s", (sender_id,))
            await cursor.execute("DELETE FROM dfl_conversations WHERE sender_id = %s",
                                 (sender_id,))

        await self._transaction(delete)

    async def keys(self) -> list[str]:
        # two statements: a Rasa table's collation need not mix with ours in one UNION
        ours = await self._rows("SELECT sender_id FROM dfl_conversations", ())
        rasas = await self._rows("SELECT DISTINCT sender_id FROM events", ())
        return sorted({row[0] for row in ours} | {row[0] for row in rasas})

    async def close(self) -> None:
        connections, self._all = self._all, []
        same_loop = self._loop is not None and _running_loop() is self._loop
        for connection in connections:
            with contextlib.suppress(Exception):
                if same_loop:
                    await asyncio.wait_for(connection.ensure_closed(), self.connect_timeout)
                else:
                    connection.close()
        self._idle = self._pool_slots = None


async def _rolled_back(connection: Any) -> bool:
    """Roll back what the connection was doing; False when it is no longer usable."""
    if connection.closed:
        return False
    try:
        await connection.rollback()
    except Exception:
        return False
    return True


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
