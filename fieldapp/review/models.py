"""Findings (confirmed problems) and the history of every change to them."""

from datetime import date

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldapp.db_types import created_timestamp, int_pk, timestamp
from fieldapp.extensions import db

FINDING_STATUSES = ("pending", "in_progress", "corrected", "closed")
FINDING_SOURCES = ("check_rule", "cross_check", "on_site")


class Finding(db.Model):
    __tablename__ = "findings"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'in_progress', 'corrected', 'closed')", name="status"),
        CheckConstraint("source IN ('check_rule', 'cross_check', 'on_site')", name="source"),
        CheckConstraint("status NOT IN ('corrected', 'closed') OR corrected_at IS NOT NULL", name="corrected_time"),
        CheckConstraint("status <> 'closed' OR closed_at IS NOT NULL", name="closed_time"),
    )

    id: Mapped[int_pk]
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"), index=True)
    sampled_household_id: Mapped[int | None] = mapped_column(ForeignKey("sampled_households.id"), index=True)
    suspected_problem_id: Mapped[int | None] = mapped_column(ForeignKey("suspected_problems.id"))
    source: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(60), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    responsible_unit: Mapped[str] = mapped_column(String(100), default="")
    deadline: Mapped[date | None] = mapped_column(Date)
    corrected_at: Mapped[timestamp | None]
    closed_at: Mapped[timestamp | None]
    created_at: Mapped[created_timestamp]
    updated_at: Mapped[created_timestamp]
    # Incremented on every change, so two supervisors' edits cannot silently overwrite each other.
    version: Mapped[int] = mapped_column(Integer, default=1)

    household = relationship("Household")
    visit = relationship("Visit")
    sampled_household = relationship("SampledHousehold")
    suspected_problem = relationship("SuspectedProblem")
    events: Mapped[list["FindingEvent"]] = relationship(
        back_populates="finding", cascade="all, delete-orphan", order_by="FindingEvent.id"
    )

    __mapper_args__ = {"version_id_col": version}


class FindingEvent(db.Model):
    """One change of a finding: who, when, from which status to which, and why."""

    __tablename__ = "finding_events"

    id: Mapped[int_pk]
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[created_timestamp]
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")

    finding: Mapped[Finding] = relationship(back_populates="events")
    user = relationship("User")
