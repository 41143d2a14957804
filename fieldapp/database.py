"""Database engine set-up: SQLite pragmas and the database URI default."""

import os
import sqlite3
import threading
from collections import deque

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

# The most of a SQLite file read through a memory map: 1 GiB, larger than a city's database.
MMAP_BYTES = 1 << 30
# The page cache of each SQLite connection, in KiB.
CACHE_KIB = 64 * 1024

def default_database_uri(app) -> str:
    """Return the configured URI, or a SQLite file in the instance folder.

    ``postgresql://`` and ``postgres://`` URIs are pointed at psycopg 3, the
    driver FieldApp installs.
    """
    uri = app.config.get("SQLALCHEMY_DATABASE_URI")
    if not uri:
        return "sqlite:///" + os.path.join(app.instance_path, "fieldapp.sqlite3")
    for prefix in ("postgresql://", "postgres://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg://" + uri[len(prefix):]
    return uri


class FifoLock:
    """A lock that waiting threads get in the order they requested it.

    ``threading.Lock`` promises no order: a thread that releases it and requests it again at once
    often gets it back before threads that have waited longer.
    """

    def __init__(self):
        self._guard = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()
        self._owned = False

    def acquire(self, timeout: float) -> bool:
        with self._guard:
            if not self._owned:
                self._owned = True
                return True
            waiter = threading.Lock()
            waiter.acquire()
            self._waiters.append(waiter)
        if waiter.acquire(timeout=timeout):
            return True
        with self._guard:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                return False
        # release() handed the lock over between the timeout and the guard.
        return True

    def release(self) -> None:
        with self._guard:
            if self._waiters:
                # Handed over directly: the lock stays held, by the longest waiting thread.
                self._waiters.popleft().release()
            else:
                self._owned = False


def configure_postgresql(engine: Engine) -> None:
    """Turn off PostgreSQL's JIT compilation on every connection.

    The server compiles a query when its estimated cost passes ``jit_above_cost``. The
    cross-check query passes it at city scale and then spent 0.1 to 0.25 s compiling, where the
    whole query took 0.2 s without (bench/checks.py). FieldApp's queries take under a second
    or so, too short to win that time back.
    """
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, connection_record):
        # The SET runs outside a transaction, so the first rollback does not undo it.
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET jit = off")
        dbapi_connection.autocommit = autocommit


def configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """Turn on WAL, foreign keys and a busy timeout, and begin every transaction immediately.

    ``BEGIN IMMEDIATE`` takes the write lock when a transaction starts, so two
    writers queue on the busy timeout instead of one failing with "database is
    locked" when it upgrades a read lock. The driver's own transaction handling
    is turned off so that SQLAlchemy's ``begin`` event issues the BEGIN.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        # Pages are read through a memory map of the file instead of a read call each: the cross-checks
        # of bench/checks.py took 0.59 s instead of 0.67 s. The map is address space shared by every
        # connection of the process, not memory set aside.
        cursor.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        # A page cache of 64 MiB (default 2 MiB) keeps a large import's changed index pages in memory
        # until its commit: the import of 240,000 register rows took 17.4 s instead of 20.2 s.
        cursor.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        cursor.close()

    # Transactions of this process take a lock first, so they queue in arrival order. Without
    # it, a thread that finds the database locked sleeps in SQLite's busy handler (1 ms at first,
    # up to 100 ms a try) and may lose to newer threads again and again. In bench/submit.py
    # (16 clients, 2 cores) the slowest 1 % of uploads took over 1 s without the lock and about
    # 0.3 s with it. The busy timeout still orders this process against other processes. The lock
    # is released when SQLAlchemy issues the COMMIT or ROLLBACK.
    writer_lock = FifoLock()

    def release_writer_lock(info: dict) -> None:
        if info.pop("holds_writer_lock", False):
            writer_lock.release()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        if not writer_lock.acquire(timeout=busy_timeout_ms / 1000):
            raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError(
                f"database is locked: another transaction of this process kept it for {busy_timeout_ms} ms"))
        connection.info["holds_writer_lock"] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            release_writer_lock(connection.info)
            raise

    @event.listens_for(engine, "commit")
    def on_commit(connection):
        release_writer_lock(connection.info)

    @event.listens_for(engine, "rollback")
    def on_rollback(connection):
        release_writer_lock(connection.info)

    @event.listens_for(engine, "checkin")
    def on_checkin(dbapi_connection, connection_record):
        # A connection returned without COMMIT or ROLLBACK through SQLAlchemy, e.g. after an error.
        release_writer_lock(connection_record.info)
