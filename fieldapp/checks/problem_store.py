"""Writing a check run's hits into the suspected problems with a few set-based statements.

The hits go into a temporary table, one row per problem key. Each change to the stored
problems is then one statement that joins them by key. Open problems no longer found
are resolved by the data, found ones that had been resolved are reopened, found ones
whose values changed are updated, and new keys are inserted. An unchanged problem
keeps its row, so its id and history stay.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    cast,
    exists,
    insert,
    literal,
    select,
    text,
    update,
)

from fieldapp.checks.models import SuspectedProblem
from fieldapp.extensions import db
from fieldapp.register.models import Household

PROBLEMS = SuspectedProblem.__table__
# PostgreSQL advisory lock key of the saving step: "FAchecks" read as a 64-bit number.
SAVE_LOCK_KEY = int.from_bytes(b"FAchecks", "big", signed=True)

# A hit as a row of the temporary table, in the order of its columns.
HIT_COLUMNS = ("key", "rule_id", "severity", "household_id", "member_id", "registry_record_id", "detail",
               "detail_values")

# The hits of the run in progress. It lives in the run's transaction, on the session's connection.
FOUND = Table(
    "check_found",
    MetaData(),
    Column("key", String(200)),
    Column("rule_id", String(40)),
    Column("severity", Integer),
    Column("household_id", Integer),
    Column("member_id", Integer),
    Column("registry_record_id", Integer),
    Column("detail", Text),
    # The values as JSON text, compared as text with the stored values.
    Column("detail_values", Text),
    prefixes=["TEMPORARY"],
)


@dataclass
class StoreCounts:
    inserted: int = 0  # new keys
    reopened: int = 0  # found again after resolved_by_data or rule_disabled
    updated: int = 0  # open, found again with other values
    resolved: int = 0  # open, not found, now resolved_by_data
    disabled: int = 0  # open, rule switched off, now rule_disabled


def store_hits(hits: list[tuple], *, rule_ids: list[str], switched_off: list[str],
               scope: ColumnElement[bool], now: datetime, start_of_day: datetime) -> StoreCounts:
    """Bring the stored problems of ``rule_ids`` and ``switched_off`` in scope in step with ``hits``.

    ``hits`` are rows in the order of ``HIT_COLUMNS``, one per key. The statements run on
    the session's connection, which is neither flushed nor committed.
    """
    # Two runs that save at once (the run button and the run after a register import) would both
    # insert a new key, and one would fail on the unique key. The lock makes the second run wait and
    # then see the first one's rows.
    lock_saving()
    connection = db.session.connection()
    _create_found(connection, hits)
    counts = _apply(connection, rule_ids=rule_ids, switched_off=switched_off, scope=scope, now=now,
                    start_of_day=start_of_day)
    # After an error the rollback removes the table, and the next run drops any table left over.
    connection.execute(text("DROP TABLE check_found"))
    return counts


def lock_saving() -> None:
    """Serialise with the saving step of check runs until the transaction ends.

    On PostgreSQL this takes an advisory lock, which a session may take more than once. On SQLite
    every transaction begins with BEGIN IMMEDIATE, so starting one already holds the write lock.
    """
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SAVE_LOCK_KEY})


def _create_found(connection: Connection, hits: list[tuple]) -> None:
    connection.execute(text("DROP TABLE IF EXISTS check_found"))
    FOUND.create(connection)
    if connection.dialect.name == "postgresql":
        # COPY sends the rows as one stream, where psycopg adapts each row of an executemany in Python.
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy(f"COPY check_found ({', '.join(HIT_COLUMNS)}) FROM STDIN") as copy:
            for hit in hits:
                copy.write_row(hit)
    elif hits:
        # The column names are the constants above, not input.
        names, markers = ", ".join(HIT_COLUMNS), ", ".join("?" * len(HIT_COLUMNS))
        statement = f"INSERT INTO check_found ({names}) VALUES ({markers})"  # noqa: S608
        connection.exec_driver_sql(statement, hits)
    # Built after the rows, which is cheaper than keeping it up to date row by row.
    connection.execute(text("CREATE INDEX ix_check_found_key ON check_found (key)"))
    if connection.dialect.name == "postgresql":
        # Autovacuum never analyses a temporary table. Without statistics the statement that resolves
        # problems no longer found took three times as long on a re-run of bench/checks.py.
        connection.execute(text("ANALYZE check_found"))


def _apply(connection: Connection, *, rule_ids: list[str], switched_off: list[str],
           scope: ColumnElement[bool], now: datetime, start_of_day: datetime) -> StoreCounts:
    counts = StoreCounts()
    in_scope = PROBLEMS.c.household_id.in_(select(Household.id).where(scope))
    found = exists().where(FOUND.c.key == PROBLEMS.c.key)

    def run(statement) -> int:
        return connection.execute(statement).rowcount

    if switched_off:
        counts.disabled = run(
            update(PROBLEMS)
            .where(PROBLEMS.c.status == "open", PROBLEMS.c.rule_id.in_(switched_off), in_scope)
            .values(status="rule_disabled", resolved_at=now)
        )
    if not rule_ids:
        return counts
    of_rules = PROBLEMS.c.rule_id.in_(rule_ids)
    counts.resolved = run(
        update(PROBLEMS)
        .where(PROBLEMS.c.status == "open", of_rules, in_scope, ~found)
        .values(status="resolved_by_data", resolved_at=now)
    )
    # Problems of a rule switched back on that no longer hold are settled as resolved by the data,
    # keeping the time the rule was switched off, and not counted as resolved by this run.
    run(
        update(PROBLEMS)
        .where(PROBLEMS.c.status == "rule_disabled", of_rules, in_scope, ~found)
        .values(status="resolved_by_data")
    )
    stored_values = cast(PROBLEMS.c.detail_values, Text)
    counts.updated = run(
        update(PROBLEMS)
        .where(PROBLEMS.c.key == FOUND.c.key, PROBLEMS.c.status == "open",
               (PROBLEMS.c.severity != FOUND.c.severity)
               | PROBLEMS.c.registry_record_id.is_distinct_from(FOUND.c.registry_record_id)
               | (stored_values != FOUND.c.detail_values))
        .values(**_found_values(connection), last_seen_at=now)
    )
    counts.reopened = run(
        update(PROBLEMS)
        .where(PROBLEMS.c.key == FOUND.c.key, PROBLEMS.c.status != "open")
        .values(**_found_values(connection), status="open", resolved_at=None, last_seen_at=now)
    )
    # Every other open problem in scope was found again. Those already touched today are skipped, so
    # that a re-run the same day rewrites no rows: rewriting every row took seconds on PostgreSQL for
    # 80,000 problems.
    run(
        update(PROBLEMS)
        .where(PROBLEMS.c.status == "open", of_rules, PROBLEMS.c.last_seen_at < start_of_day, in_scope)
        .values(last_seen_at=now)
    )
    new = select(
        FOUND.c.key, FOUND.c.rule_id, FOUND.c.severity, FOUND.c.household_id, FOUND.c.member_id,
        FOUND.c.registry_record_id, FOUND.c.detail, _as_json(connection, FOUND.c.detail_values),
        literal("open", String), literal(now, PROBLEMS.c.first_seen_at.type),
        literal(now, PROBLEMS.c.last_seen_at.type),
    ).where(~exists().where(PROBLEMS.c.key == FOUND.c.key))
    # In household order the index entries and foreign key checks of neighbouring rows fall on the same
    # pages. On SQLite that saved about a fifth of the insert, measured on the data of bench/checks.py.
    new = new.order_by(FOUND.c.household_id, FOUND.c.member_id)
    # SQLAlchemy keeps the row count of an INSERT only when asked to.
    counts.inserted = run(
        insert(PROBLEMS)
        .from_select([*HIT_COLUMNS, "status", "first_seen_at", "last_seen_at"], new)
        .execution_options(preserve_rowcount=True)
    )
    return counts


def _found_values(connection: Connection) -> dict:
    return {
        "severity": FOUND.c.severity,
        "registry_record_id": FOUND.c.registry_record_id,
        "detail": FOUND.c.detail,
        "detail_values": _as_json(connection, FOUND.c.detail_values),
    }


def _as_json(connection: Connection, column) -> ColumnElement:
    """Return the JSON text as a value for the JSON column.

    PostgreSQL needs the cast from text. SQLite stores JSON as text, and a cast to JSON
    there would apply numeric affinity and turn the text into 0.
    """
    if connection.dialect.name == "postgresql":
        return cast(column, JSON)
    return column
