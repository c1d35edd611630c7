"""SQLite tracker store and lock store: conversations in one file, shared by local workers.

The default store of ``dialogflowlite run``. Each event is a row
``(sender_id, seq, data)``; appending takes SQLite's write lock
(``BEGIN IMMEDIATE``), reads the conversation's length and writes after it, so
two processes appending to one file never overwrite or interleave each other's
rows. The database runs in WAL mode: readers never wait for the writer, and a
committed conversation survives the process being killed.

All calls run on one thread per store (sqlite3 connections belong to the
thread that opened them), so the event loop never waits on the disk.

``db: ":memory:"`` keeps the database in memory, as SQLAlchemy's SQLite does
for Rasa: private to the store (one connection), gone when the store closes,
so it serves one process only. So does an empty ``db`` (``db: ""``, or
``db:`` with no value), as in Rasa, where it makes the URL ``sqlite://``;
without a ``db`` setting the file is ``trackers.db``.

endpoints.yml::

    tracker_store:
      type: sqlite          # or Rasa's: type: SQL, dialect: sqlite
      db: trackers.db       # relative to the project folder; or ":memory:"
      timeout: 30           # seconds to wait for another process's write lock
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from dialogflowlite.errors import TrackerStoreError
from dialogflowlite.stores.base import (
    StoredVersion,
    TrackerStore,
    dump_events,
    next_write_time,
)
from dialogflowlite.stores.stored_events import decode_events, decode_latest_session
from dialogflowlite.stores.tickets import TicketLockStore

if TYPE_CHECKING:
    from dialogflowlite.shared.domain import Domain

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_DB = "trackers.db"

#: the ``db`` that names a database in memory (SQLite's name, which Rasa's SQLAlchemy keeps)
IN_MEMORY = ":memory:"


#: the columns of Rasa's SQL tracker store table ``events``
RASA_EVENT_COLUMNS = frozenset({"sender_id", "type_name", "timestamp", "data"})


def is_in_memory(db: str | Path | None) -> bool:
    """Whether the ``db`` setting names a database in memory rather than a file:
    ``":memory:"``, or an empty (or null) ``db``, which Rasa's SQLAlchemy reads as
    SQLite's in-memory database too (the URL ``sqlite://``)."""
    return db is None or db == "" or str(db) == IN_MEMORY


def _database_path(db: str | Path | None) -> Path:
    """The path of the ``db`` setting: :data:`IN_MEMORY` for a database in memory."""
    return Path(IN_MEMORY if db is None or is_in_memory(db) else db)


# dfl_events is a table with rowids (its key an index beside it): rows are then
# appended in the order written, and a row of up to 4 KB fits its page. In a table
# WITHOUT ROWID a row over 1 KB (a user message with its parse data) overflowed, taking
# a page of its own for its last bytes, and the turns of many conversations went into
# the middle of the table, splitting its pages: the file was 2.6 times the events it
# kept (2.1 times the size of this layout) and writes were 2.4 times slower. A database
# made before keeps its table, which these statements read as well.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS dfl_conversations (
    sender_id TEXT PRIMARY KEY,
    n_events INTEGER NOT NULL DEFAULT 0,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dfl_events (
    sender_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (sender_id, seq)
);
CREATE TABLE IF NOT EXISTS dfl_lock_tickets (
    sender_id TEXT PRIMARY KEY,
    next_ticket INTEGER NOT NULL,
    serving INTEGER NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dfl_lock_alive (
    sender_id TEXT NOT NULL,
    ticket INTEGER NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (sender_id, ticket)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dfl_deliveries (
    delivery_key TEXT PRIMARY KEY,
    expires REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dfl_deliveries_expires ON dfl_deliveries (expires);
"""


class SQLiteDatabase:
    """One SQLite file used from a private thread; shared by a tracker and a lock store.

    With ``path`` :data:`IN_MEMORY` the database lives in its one connection: the
    store's calls all go through it, and closing it ends the database.
    """

    def __init__(self, path: str | Path, timeout: float = 30.0) -> None:
        self.in_memory = is_in_memory(path)
        self.path = Path(path)
        self.timeout = float(timeout)
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None
        #: the file the connection has open (device, inode), to notice it was removed
        self._file_identity: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None and self.in_memory and self._closed:
            # a new connection would be a new, empty database: the conversations are gone
            raise TrackerStoreError("the in-memory SQLite tracker store was closed, and its "
                                    "conversations with it",
                                    hint='give `db:` a file to keep conversations')
        if self._connection is not None and not self.in_memory and not self._same_file():
            # writes went on into the unlinked file and were lost with it, answered 200
            logger.error("the SQLite tracker store %s was removed or replaced while the "
                         "server ran; the conversations stored in it are gone from here, "
                         "and a new database is started there", self.path)
            self._drop_connection()
        if self._connection is None:
            deadline = time.monotonic() + self.timeout
            while True:
                try:
                    self._connection = self._open()
                    break
                except sqlite3.OperationalError as e:
                    # Workers starting together race to switch a new file to WAL and
                    # create the tables; SQLite may refuse one of them at once ("database
                    # is locked") rather than wait, so it waits here and tries again.
                    if "locked" not in str(e) or time.monotonic() > deadline:
                        raise self._open_error(e) from e
                    time.sleep(0.05)
                except sqlite3.Error as e:
                    raise self._open_error(e) from e
        return self._connection

    def _same_file(self) -> bool:
        """Whether the database path still names the file the connection has open."""
        try:
            stat = os.stat(self.path)
        except OSError:
            return False
        return (stat.st_dev, stat.st_ino) == self._file_identity

    def _drop_connection(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self._connection.close()
        self._connection = None
        self._file_identity = None

    def _open(self) -> sqlite3.Connection:
        if not self.in_memory:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(IN_MEMORY if self.in_memory else str(self.path),
                                     timeout=self.timeout, isolation_level=None,
                                     check_same_thread=False)
        try:
            connection.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            if not self.in_memory:  # WAL and syncing are about the file on disk
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(_SCHEMA)
        except sqlite3.Error:
            connection.close()
            raise
        if not self.in_memory:
            stat = os.stat(self.path)
            self._file_identity = (stat.st_dev, stat.st_ino)
        return connection

    def _open_error(self, error: sqlite3.Error) -> TrackerStoreError:
        return TrackerStoreError(f"cannot open the SQLite tracker store {self.path.name}: "
                                 f"{error}", hint="check that the folder is writable")

    def run_sync(self, function: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``function(connection)`` on the calling thread (used inside the store's thread)."""
        with self._lock:
            connection = self._connect()
            try:
                return function(connection)
            except sqlite3.Error as e:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                hint = None
                if "locked" in str(e) or "busy" in str(e):
                    hint = (f"another process kept the database locked for more than "
                            f"{self.timeout:g} s (the write was undone): raise `timeout` of "
                            "the store in endpoints.yml, or use PostgreSQL for many workers")
                elif "readonly" in str(e) or "read-only" in str(e):
                    # opened again at the next call, so fixing the permissions is enough
                    self._drop_connection()
                    hint = (f"the server must be able to write {self.path.name} and the "
                            f"{self.path.name}-wal and {self.path.name}-shm files beside it, "
                            "and their folder")
                raise TrackerStoreError(f"SQLite tracker store {self.path.name}: {e}",
                                        hint=hint) from e
            except BaseException:
                # left inside its transaction, the shared connection would fail every
                # later write of this process ("cannot start a transaction within a
                # transaction") and keep the file locked for the other workers
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise

    async def run(self, function: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``function(connection)`` on the store's thread and wait for its result."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dfl-sqlite")
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, self.run_sync, function)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


#: open databases by file, so a tracker and a lock store on one file share a thread
_databases: dict[Path, SQLiteDatabase] = {}
_databases_lock = threading.Lock()


def database(path: str | Path, timeout: float = 30.0) -> SQLiteDatabase:
    """The database of the file ``path``, shared by every store on that file in this
    process; for :data:`IN_MEMORY` a new database of the caller's own, as each of
    Rasa's SQLAlchemy engines has its own in-memory database."""
    if is_in_memory(path):
        return SQLiteDatabase(IN_MEMORY, timeout)
    resolved = Path(path).expanduser().resolve()
    with _databases_lock:
        found = _databases.get(resolved)
        if found is None:
            found = _databases[resolved] = SQLiteDatabase(resolved, timeout)
        return found


class SQLiteTrackerStore(TrackerStore):
    """Conversations in a SQLite file; safe for several processes on one machine."""

    def __init__(self, domain: Domain | None = None, *, db: str | Path | None = DEFAULT_DB,
                 timeout: float = 30.0) -> None:
        super().__init__(domain)
        self.db_path = _database_path(db)
        self.database = database(self.db_path, timeout)
        if not is_in_memory(db) and self.db_path.is_file():
            self._warn_about_rasa_table()

    def _warn_about_rasa_table(self) -> None:
        """A warning for a database a Rasa server filled: its ``events`` table is not what
        this store reads, so its conversations would look empty, with no word of why."""

        def rasa_senders(connection: sqlite3.Connection) -> int | None:
            columns = {row[1] for row in connection.execute("PRAGMA table_info(events)")}
            if not columns >= RASA_EVENT_COLUMNS:
                return None
            return connection.execute(
                "SELECT COUNT(DISTINCT sender_id) FROM events").fetchone()[0]

        try:
            senders = self.database.run_sync(rasa_senders)
        except (sqlite3.Error, TrackerStoreError):
            return  # not readable now: the store's own use will say why
        if senders:
            logger.warning(
                "SQLite tracker store %s: the database has Rasa's `events` table (%d "
                "conversations), which this store does not read; those conversations start "
                "over here. Keep them in a MySQL/MariaDB store, which reads Rasa's table "
                "(docs/deployment.md)", self.db_path, senders)

    # A conversation's version is (number of events, time of the last write): every
    # write changes the time, and writes to one conversation are apart in time.

    async def load_events(self, sender_id: str) -> list[dict[str, Any]] | None:
        events, _ = await self.load_versioned_events(sender_id)
        return events

    async def load_versioned_events(
            self, sender_id: str) -> tuple[list[dict[str, Any]] | None, Hashable | None]:
        texts, version = await self._load_versioned_texts(sender_id)
        if texts is None:
            return None, None
        return decode_events(texts), version

    async def load_versioned_session_events(
            self, sender_id: str) -> tuple[list[Any] | None, Hashable | None]:
        texts, version = await self._load_versioned_texts(sender_id)
        if texts is None:
            return None, None
        return decode_latest_session(texts), version

    async def _load_versioned_texts(
            self, sender_id: str) -> tuple[list[str] | None, Hashable | None]:
        def load(connection: sqlite3.Connection) -> tuple[list[str] | None, Hashable | None]:
            # one statement: the version and the events come from the same snapshot
            rows = connection.execute(
                "SELECT c.n_events, c.updated, e.data FROM dfl_conversations c "
                "LEFT JOIN dfl_events e ON e.sender_id = c.sender_id "
                "WHERE c.sender_id = ? ORDER BY e.seq", (sender_id,)).fetchall()
            if not rows:
                return None, None
            return [row[2] for row in rows if row[2] is not None], (rows[0][0], rows[0][1])

        return await self.database.run(load)

    async def stored_version(self, sender_id: str) -> Hashable | None:
        def version(connection: sqlite3.Connection) -> Hashable | None:
            row = connection.execute(
                "SELECT n_events, updated FROM dfl_conversations WHERE sender_id = ?",
                (sender_id,)).fetchone()
            return None if row is None else (row[0], row[1])

        return await self.database.run(version)

    async def append_events(self, sender_id: str,
                            events: list[dict[str, Any]]) -> StoredVersion:
        texts = dump_events(sender_id, events)

        def append(connection: sqlite3.Connection) -> StoredVersion:
            connection.execute("BEGIN IMMEDIATE")
            row = connection.execute(
                "SELECT n_events, updated FROM dfl_conversations WHERE sender_id = ?",
                (sender_id,)).fetchone()
            count = 0 if row is None else row[0]
            connection.executemany(
                "INSERT INTO dfl_events (sender_id, seq, data) VALUES (?, ?, ?)",
                [(sender_id, count + offset, text) for offset, text in enumerate(texts)])
            updated = next_write_time(None if row is None else row[1])
            connection.execute(
                "INSERT INTO dfl_conversations (sender_id, n_events, updated) VALUES (?, ?, ?) "
                "ON CONFLICT (sender_id) DO UPDATE SET n_events = excluded.n_events, "
                "updated = excluded.updated", (sender_id, count + len(texts), updated))
            connection.execute("COMMIT")
            before = None if row is None else (row[0], row[1])
            return StoredVersion(before, (count + len(texts), updated))

        return await self.database.run(append)

    async def replace_events(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        texts = dump_events(sender_id, events)

        def replace(connection: sqlite3.Connection) -> None:
            connection.execute("BEGIN IMMEDIATE")
            row = connection.execute("SELECT updated FROM dfl_conversations WHERE sender_id = ?",
                                     (sender_id,)).fetchone()
            connection.execute("DELETE FROM dfl_events WHERE sender_id = ?", (sender_id,))
            connection.execute(
                "INSERT OR REPLACE INTO dfl_conversations (sender_id, n_events, updated) "
                "VALUES (?, ?, ?)", (sender_id, len(texts), next_write_time(row and row[0])))
            connection.executemany(
                "INSERT INTO dfl_events (sender_id, seq, data) VALUES (?, ?, ?)",
                [(sender_id, seq, text) for seq, text in enumerate(texts)])
            connection.execute("COMMIT")

        await self.database.run(replace)

    async def count_events(self, sender_id: str) -> int:
        def count(connection: sqlite3.Connection) -> int:
            row = connection.execute("SELECT n_events FROM dfl_conversations WHERE sender_id = ?",
                                     (sender_id,)).fetchone()
            return int(row[0]) if row else 0

        return await self.database.run(count)

    async def exists(self, sender_id: str) -> bool:
        def exists(connection: sqlite3.Connection) -> bool:
            return connection.execute("SELECT 1 FROM dfl_conversations WHERE sender_id = ?",
                                      (sender_id,)).fetchone() is not None

        return await self.database.run(exists)

    async def delete(self, sender_id: str) -> None:
        def delete(connection: sqlite3.Connection) -> None:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("DELETE FROM dfl_events WHERE sender_id = ?", (sender_id,))
            connection.execute("DELETE FROM dfl_conversations WHERE sender_id = ?", (sender_id,))
            connection.execute("COMMIT")

        await self.database.run(delete)

    async def keys(self) -> list[str]:
        def keys(connection: sqlite3.Connection) -> list[str]:
            rows = connection.execute("SELECT sender_id FROM dfl_conversations ORDER BY rowid")
            return [row[0] for row in rows]

        return await self.database.run(keys)

    async def close(self) -> None:
        self.database.close()


class SQLiteLockStore(TicketLockStore):
    """Conversation locks in a SQLite file: first come, first served across local processes.

    What ``run --workers N`` uses with a SQLite tracker store, so two workers
    never process messages of one conversation at the same time.

    endpoints.yml::

        lock_store:
          type: sqlite
          db: trackers.db

    It also remembers the platform deliveries the channels took (table
    ``dfl_deliveries``), so that a re-delivery reaching another worker is skipped.
    """

    #: seconds between purges of expired deliveries (:meth:`first_delivery`)
    purge_interval = 60.0

    def __init__(self, *, db: str | Path | None = DEFAULT_DB, timeout: float = 30.0,
                 lifetime: float = 60.0, poll_interval: float = 0.002) -> None:
        super().__init__(lifetime=lifetime, poll_interval=poll_interval)
        self.db_path = _database_path(db)
        self.database = database(self.db_path, timeout)
        #: when expired deliveries are next purged (:func:`time.monotonic` seconds)
        self._next_purge = 0.0

    async def take_ticket(self, sender_id: str) -> tuple[int, int]:
        lifetime = self.lifetime

        def take(connection: sqlite3.Connection) -> tuple[int, int]:
            now = time.time()
            connection.execute("BEGIN IMMEDIATE")
            row = connection.execute(
                "SELECT next_ticket, serving FROM dfl_lock_tickets WHERE sender_id = ?",
                (sender_id,)).fetchone()
            if row is None:
                ticket, serving = 1, 1
                connection.execute(
                    "INSERT INTO dfl_lock_tickets (sender_id, next_ticket, serving, updated) "
                    "VALUES (?, 2, 1, ?)", (sender_id, now))
            else:
                ticket, serving = row[0], row[1]
                connection.execute(
                    "UPDATE dfl_lock_tickets SET next_ticket = ?, updated = ? "
                    "WHERE sender_id = ?", (ticket + 1, now, sender_id))
            connection.execute(
                "INSERT OR REPLACE INTO dfl_lock_alive (sender_id, ticket, expires) "
                "VALUES (?, ?, ?)", (sender_id, ticket, now + lifetime))
            serving = _advance(connection, sender_id, serving, ticket, now)
            connection.execute("COMMIT")
            return ticket, serving

        return await self.database.run(take)

    async def poll(self, sender_id: str, ticket: int) -> int:
        lifetime = self.lifetime

        def poll(connection: sqlite3.Connection) -> int:
            now = time.time()
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(
                "UPDATE dfl_lock_alive SET expires = ? WHERE sender_id = ? AND ticket = ?",
                (now + lifetime, sender_id, ticket))
            row = connection.execute("SELECT serving FROM dfl_lock_tickets WHERE sender_id = ?",
                                     (sender_id,)).fetchone()
            serving = _advance(connection, sender_id, row[0] if row else ticket, ticket, now)
            connection.execute("COMMIT")
            return serving

        return await self.database.run(poll)

    async def refresh(self, sender_id: str, ticket: int) -> None:
        lifetime = self.lifetime

        def refresh(connection: sqlite3.Connection) -> None:
            connection.execute(
                "UPDATE dfl_lock_alive SET expires = ? WHERE sender_id = ? AND ticket = ?",
                (time.time() + lifetime, sender_id, ticket))

        await self.database.run(refresh)

    async def give_back(self, sender_id: str, ticket: int) -> None:
        def give_back(connection: sqlite3.Connection) -> None:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("DELETE FROM dfl_lock_alive WHERE sender_id = ? AND ticket = ?",
                               (sender_id, ticket))
            connection.execute(
                "UPDATE dfl_lock_tickets SET serving = ? WHERE sender_id = ? AND serving = ?",
                (ticket + 1, sender_id, ticket))
            # Forget conversations nobody holds or waits for, so the table stays small.
            connection.execute(
                "DELETE FROM dfl_lock_tickets WHERE sender_id = ? AND serving >= next_ticket",
                (sender_id,))
            connection.execute("COMMIT")

        await self.database.run(give_back)

    async def first_delivery(self, key: str, ttl_seconds: float) -> bool:
        """Whether ``key`` is new to every process on this file: a row in
        ``dfl_deliveries`` until ``ttl_seconds`` have passed; expired rows are
        purged at most every :attr:`purge_interval` seconds."""
        purge = time.monotonic() >= self._next_purge
        if purge:
            self._next_purge = time.monotonic() + self.purge_interval

        def remember(connection: sqlite3.Connection) -> bool:
            now = time.time()
            connection.execute("BEGIN IMMEDIATE")
            if purge:
                connection.execute("DELETE FROM dfl_deliveries WHERE expires <= ?", (now,))
            else:
                # an expired row of this key counts as gone, purged or not
                connection.execute("DELETE FROM dfl_deliveries WHERE delivery_key = ? AND "
                                   "expires <= ?", (key, now))
            created = connection.execute(
                "INSERT OR IGNORE INTO dfl_deliveries (delivery_key, expires) VALUES (?, ?)",
                (key, now + ttl_seconds)).rowcount == 1
            connection.execute("COMMIT")
            return created

        return await self.database.run(remember)

    async def forget_delivery(self, key: str) -> None:
        """Forget the delivery ``key`` for every process on this file, so that its next
        delivery counts as new (a turn that failed before storing anything asks the
        platform for it again)."""

        def forget(connection: sqlite3.Connection) -> None:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("DELETE FROM dfl_deliveries WHERE delivery_key = ?", (key,))
            connection.execute("COMMIT")

        await self.database.run(forget)

    async def close(self) -> None:
        self.database.close()


def _advance(connection: sqlite3.Connection, sender_id: str, serving: int, ticket: int,
             now: float) -> int:
    """Skip tickets whose owner is gone (expired or abandoned) up to ``ticket``."""
    start = serving
    while serving < ticket:
        row = connection.execute(
            "SELECT expires FROM dfl_lock_alive WHERE sender_id = ? AND ticket = ?",
            (sender_id, serving)).fetchone()
        if row is not None and row[0] > now:
            break
        if row is not None:
            connection.execute("DELETE FROM dfl_lock_alive WHERE sender_id = ? AND ticket = ?",
                               (sender_id, serving))
        serving += 1
    if serving != start:
        connection.execute("UPDATE dfl_lock_tickets SET serving = ? WHERE sender_id = ?",
                           (serving, sender_id))
    return serving
