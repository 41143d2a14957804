"""Database connection settings, and the lock that queues this process's SQLite transactions."""

import threading
import time

import pytest
from sqlalchemy import create_engine

from fieldapp.database import CACHE_KIB, MMAP_BYTES, FifoLock, configure_sqlite
from fieldapp.extensions import db


def test_sqlite_connection_settings(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'settings.sqlite3'}")
    configure_sqlite(engine, busy_timeout_ms=1234)
    with engine.connect() as connection:
        def pragma(name):
            return connection.exec_driver_sql(f"PRAGMA {name}").scalar()

        assert pragma("journal_mode") == "wal"
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") == 1234
        assert pragma("cache_size") == -CACHE_KIB
        assert pragma("mmap_size") == MMAP_BYTES
    engine.dispose()


def test_postgresql_jit_off(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("a PostgreSQL setting")
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW jit").scalar() == "off"
            connection.rollback()
            # The setting was made outside a transaction, so a rollback keeps it.
            assert connection.exec_driver_sql("SHOW jit").scalar() == "off"


def test_fifo_lock_arrival_order():
    lock = FifoLock()
    assert lock.acquire(timeout=1)
    order: list[int] = []
    threads = []

    def take(number: int) -> None:
        lock.acquire(timeout=5)
        order.append(number)
        lock.release()

    for number in range(5):
        thread = threading.Thread(target=take, args=(number,))
        thread.start()
        threads.append(thread)
        # Each thread must be waiting before the next one requests the lock.
        deadline = time.monotonic() + 5
        while len(lock._waiters) < number + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
    lock.release()
    for thread in threads:
        thread.join(timeout=5)
    assert order == [0, 1, 2, 3, 4]


def test_fifo_lock_no_overtaking_on_release():
    lock = FifoLock()
    assert lock.acquire(timeout=1)
    got: list[str] = []
    waiter = threading.Thread(target=lambda: (lock.acquire(timeout=5), got.append("waiter"), lock.release()))
    waiter.start()
    deadline = time.monotonic() + 5
    while not lock._waiters and time.monotonic() < deadline:
        time.sleep(0.001)
    lock.release()
    assert lock.acquire(timeout=5)  # granted only after the waiter has had its turn
    got.append("releaser")
    lock.release()
    waiter.join(timeout=5)
    assert got == ["waiter", "releaser"]


def test_fifo_lock_timeout_leaves_queue():
    lock = FifoLock()
    assert lock.acquire(timeout=1)
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(lock.acquire(timeout=0.05)))
    thread.start()
    thread.join(timeout=5)
    assert result == [False]
    assert not lock._waiters
    lock.release()
    assert lock.acquire(timeout=0.05)  # free again: the timed-out thread does not own it
    lock.release()
