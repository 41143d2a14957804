"""Administrative divisions with 12-digit statistical codes."""

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from fieldapp.extensions import db

LEVELS = ("province", "city", "county", "township", "village")

# Significant leading digits of a code at each level: province 2, city 4, county 6,
# township 9, village 12. The rest are zeros.
PREFIX_LENGTH = {"province": 2, "city": 4, "county": 6, "township": 9, "village": 12}


class Division(db.Model):
    __tablename__ = "divisions"
    __table_args__ = (
        CheckConstraint("level IN ('province', 'city', 'county', 'township', 'village')", name="level"),
        CheckConstraint("length(code) = 12", name="code_length"),
    )

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10), index=True)
    # No foreign key: a list may name a parent (the province) that it does not itself contain.
    parent_code: Mapped[str | None] = mapped_column(String(12), index=True)

    @property
    def prefix(self) -> str:
        return self.code[: PREFIX_LENGTH[self.level]]


def code_prefix(code: str, level: str) -> str:
    return code[: PREFIX_LENGTH[level]]

