"""Database engine set-up: SQLite pragmas and the database URI default."""

import os

from sqlalchemy import event
from sqlalchemy.engine import Engine


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
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
