"""Inserting many rows given column by column, below SQLAlchemy's per-row statement handling.

An ``insert()`` executemany makes SQLAlchemy build and process a parameter dict
for every row. Here each column's values are converted by its type's bind
processor in one pass over the column, and the rows go to the driver as
tuples: ``executemany`` on SQLite, COPY on PostgreSQL (where the driver adapts
each value, so the processors' output must be a value psycopg can send). Every column without a
value is given its Python-side default (``default=`` in the model), as the ORM
would, because neither path applies SQLAlchemy's defaults.
"""

import itertools
import json
from collections.abc import Collection, Iterator, Sequence

from sqlalchemy import JSON, Table, func, select, text

from fieldapp.extensions import db

# Statements to the driver: one per this many rows, so that a long import's memory stays bounded.
EXECUTEMANY_CHUNK = 50_000
# The JSON text of an empty object, the ``extra`` of most members.
_EMPTY_OBJECT = "{}"
# One encoder for every value: ``json.dumps`` with arguments builds a new encoder per call, and
# Chinese text written as UTF-8 instead of ``\uXXXX`` escapes is shorter and quicker to write.
# Values read back are the same either way.
_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def insert_columns(table: Table, columns: dict[str, Sequence], constants: dict | None = None, *,
                   json_text: Collection[str] = ()) -> None:
    """Insert rows into ``table`` within the session's transaction.

    ``columns`` maps a column name to its values, one per row, all of the same length.
    ``constants`` maps a column name to the one value every row has. Values are what the ORM
    accepts (``Decimal``, ``date``, ``bool``, dicts and lists for JSON columns), except in the
    JSON columns named in ``json_text``, whose values are JSON text already and are sent as they are.
    """
    constants = dict(constants or {})
    row_count = len(next(iter(columns.values())))
    if row_count == 0:
        return
    constants.update(_defaults(table, set(columns) | set(constants)))
    connection = db.session.connection()
    dialect = connection.dialect
    names = [*columns, *constants]
    values = [column_values if name in json_text else _processed(table, dialect, name, column_values)
              for name, column_values in columns.items()]
    values += [itertools.repeat(_processed(table, dialect, name, [value])[0], row_count)
               for name, value in constants.items()]
    rows = zip(*values, strict=False)
    if dialect.name == "postgresql":
        _copy(connection, table, names, rows)
    else:
        _executemany(connection, table, names, rows)


def reserve_ids(table: Table, count: int) -> list[int]:
    """Return ``count`` unused values of the integer primary key ``id`` for rows this transaction inserts.

    PostgreSQL takes them from the column's sequence. SQLite numbers on from the largest id, which
    is safe because every SQLite transaction begins with BEGIN IMMEDIATE (``fieldapp.database``),
    so no other connection inserts until this transaction ends.
    """
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        return list(connection.execute(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"),
            {"table": table.name, "count": count},
        ).scalars())
    largest = connection.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(largest + 1, largest + 1 + count))


def _defaults(table: Table, supplied: set[str]) -> dict:
    """Return the Python-side default of each column of ``table`` outside ``supplied`` that has one."""
    defaults = {}
    for column in table.columns:
        if column.name in supplied or column.default is None:
            continue
        default = column.default
        if default.is_scalar:
            defaults[column.name] = default.arg
        elif default.is_callable:
            # SQLAlchemy wraps a default callable to take the execution context; these ignore it.
            defaults[column.name] = default.arg(None)
    return defaults


def _executemany(connection, table: Table, names: list[str], rows: Iterator[tuple]) -> None:
    dialect = connection.dialect
    marker = {"qmark": "?", "format": "%s", "pyformat": "%s"}[dialect.paramstyle]
    quote = dialect.identifier_preparer.quote
    # Table and column names come from the model, never from input.
    statement = (
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "  # noqa: S608
        f"({', '.join(quote(name) for name in names)}) VALUES ({', '.join(marker for _ in names)})"
    )
    while chunk := list(itertools.islice(rows, EXECUTEMANY_CHUNK)):
        connection.exec_driver_sql(statement, chunk)


def _copy(connection, table: Table, names: list[str], rows: Iterator[tuple]) -> None:
    """Send the rows with COPY; JSON values are already JSON text, the others psycopg adapts."""
    preparer = connection.dialect.identifier_preparer
    statement = (f"COPY {preparer.format_table(table)} ({', '.join(preparer.quote(name) for name in names)}) "
                 "FROM STDIN")
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(statement) as copy:
        write_row = copy.write_row
        for row in rows:
            write_row(row)


def _processed(table: Table, dialect, name: str, values: Sequence) -> Sequence:
    """Return ``values`` converted by the bind processor of the column's type, as a statement would."""
    column_type = table.c[name].type
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return values
    if isinstance(column_type, JSON):
        encode = _JSON_ENCODER.encode
        return [_EMPTY_OBJECT if value.__class__ is dict and not value else encode(value) for value in values]
    return list(map(process, values))
