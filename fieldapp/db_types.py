"""Column types shared by the models."""

from datetime import UTC, datetime
from typing import Annotated

from sqlalchemy import DateTime, String, TypeDecorator
from sqlalchemy.orm import mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every backend.

    SQLite has no time zone type, so values are stored as naive UTC and given
    back with ``tzinfo=UTC``. A naive value on the way in is rejected because
    its zone is unknown.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware value")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


int_pk = Annotated[int, mapped_column(primary_key=True)]
timestamp = Annotated[datetime, mapped_column(UTCDateTime())]
created_timestamp = Annotated[datetime, mapped_column(UTCDateTime(), default=utcnow)]
division_code = Annotated[str, mapped_column(String(12))]
id_number_column = Annotated[str, mapped_column(String(32))]
