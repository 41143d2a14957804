"""Suspected problems: rule hits over the register, not yet verified on site."""

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldapp.db_types import created_timestamp, int_pk, timestamp
from fieldapp.extensions import db

PROBLEM_STATUSES = ("open", "resolved_by_data")


class SuspectedProblem(db.Model):
    __tablename__ = "suspected_problems"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'resolved_by_data')", name="status"),
        CheckConstraint("status = 'open' OR resolved_at IS NOT NULL", name="resolved_has_time"),
    )

    id: Mapped[int_pk]
    # Identity across check runs: rule id, household, member and evidence record, so that
    # re-running the checks keeps an unchanged problem's row and history.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    rule_id: Mapped[str] = mapped_column(String(40), index=True)
    severity: Mapped[int] = mapped_column(Integer, default=1)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    # Readable evidence, e.g. "证件号码校验位应为 X，实为 3"; no full ID numbers.
    detail: Mapped[str] = mapped_column(Text, default="")
    # The values filled into the rule's detail text, so a page can show it in the reader's language.
    detail_values: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    first_seen_at: Mapped[created_timestamp]
    last_seen_at: Mapped[created_timestamp]
    resolved_at: Mapped[timestamp | None]

    household = relationship("Household")
    member = relationship("Member")
