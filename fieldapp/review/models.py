"""Findings (confirmed problems), their evidence, re-inspection tasks and the history of every change.

The schema enforces the rules a finding's row must obey, so a wrong write fails in the
database even when it bypasses the services:

- a corrected or closed finding has its correction time, an open one has none;
- a closed finding has its closing time, at least one piece of evidence and a re-check;
- every status change is a history event whose (from, to) pair is an allowed transition.
"""

from datetime import date

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldapp.db_types import created_timestamp, int_pk, timestamp
from fieldapp.extensions import db

FINDING_STATUSES = ("pending", "in_progress", "corrected", "closed")
FINDING_SOURCES = ("check_rule", "cross_check", "on_site")
# Findings in these statuses still need work; corrected and closed findings do not.
OPEN_STATUSES = ("pending", "in_progress")

# Status changes: from status -> the statuses it may go to. A new finding starts as "pending".
# A correction that a re-check did not confirm goes back to "pending"; "closed" is final.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "pending": ("in_progress", "corrected"),
    "in_progress": ("corrected", "pending"),
    "corrected": ("pending", "closed"),
    "closed": (),
}

# Kinds of history event: a status change, an edit of the finding's fields, evidence added,
# a comment, and the result of a re-check (a re-inspection visit or a supervisor's own check).
EVENT_KINDS = ("status", "edit", "evidence", "comment", "recheck")
EVIDENCE_KINDS = ("photo", "document", "visit_photo")
RECHECK_METHODS = ("reinspection", "supervisor")
TASK_STATUSES = ("open", "done", "cancelled")
REINSPECTION_RESULTS = ("confirmed", "reopened")


def _sql_list(values) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _transition_clause() -> str:
    """Return SQL that is true only for an allowed (from, to) pair; NULLs compare as empty text.

    COALESCE keeps the check from passing on NULL, which a CHECK constraint would accept.
    """
    pairs = [">pending"]
    pairs += [f"{source}>{target}" for source, targets in TRANSITIONS.items() for target in targets]
    return f"COALESCE(from_status, '') || '>' || COALESCE(to_status, '') IN ({_sql_list(pairs)})"


class Finding(db.Model):
    __tablename__ = "findings"
    __table_args__ = (
        CheckConstraint(f"status IN ({_sql_list(FINDING_STATUSES)})", name="status"),
        CheckConstraint(f"source IN ({_sql_list(FINDING_SOURCES)})", name="source"),
        CheckConstraint(
            "status NOT IN ('corrected', 'closed') OR corrected_at IS NOT NULL", name="corrected_time"
        ),
        CheckConstraint(
            "status IN ('corrected', 'closed') OR corrected_at IS NULL", name="open_not_corrected"
        ),
        CheckConstraint("status <> 'closed' OR closed_at IS NOT NULL", name="closed_time"),
        CheckConstraint("status = 'closed' OR closed_at IS NULL", name="open_not_closed"),
        CheckConstraint("evidence_count >= 0", name="evidence_count"),
        CheckConstraint("status <> 'closed' OR evidence_count > 0", name="closed_evidence"),
        CheckConstraint(
            "status <> 'closed' OR (rechecked_at IS NOT NULL AND rechecked_by_id IS NOT NULL)",
            name="closed_recheck",
        ),
        CheckConstraint(
            "rechecked_at IS NULL OR status IN ('corrected', 'closed')", name="recheck_after_correction"
        ),
        CheckConstraint(
            f"recheck_method IS NULL OR recheck_method IN ({_sql_list(RECHECK_METHODS)})",
            name="recheck_method",
        ),
        # The findings list sorts newest first and pages through these indexes, with and
        # without a status filter, so that no page sorts the whole table.
        Index("ix_findings_created_at_id", "created_at", "id"),
        Index("ix_findings_status_created_at_id", "status", "created_at", "id"),
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
    responsible_person: Mapped[str] = mapped_column(String(100), default="")
    deadline: Mapped[date | None] = mapped_column(Date, index=True)
    # What the responsible unit did about the problem.
    measures: Mapped[str] = mapped_column(Text, default="")
    # Number of evidence files; kept with the row so that the schema can require evidence to close.
    evidence_count: Mapped[int] = mapped_column(Integer, default=0)
    corrected_at: Mapped[timestamp | None]
    closed_at: Mapped[timestamp | None]
    # The re-check of a correction: a re-inspection visit that confirmed it, or a supervisor's check.
    rechecked_at: Mapped[timestamp | None]
    rechecked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recheck_method: Mapped[str | None] = mapped_column(String(20))
    recheck_note: Mapped[str] = mapped_column(Text, default="")
    recheck_visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    created_at: Mapped[created_timestamp]
    updated_at: Mapped[created_timestamp]
    # Incremented on every change of the row (comments leave it alone), so two supervisors' edits
    # cannot silently overwrite each other.
    version: Mapped[int] = mapped_column(Integer, default=1)

    household = relationship("Household")
    visit = relationship("Visit", foreign_keys=[visit_id])
    sampled_household = relationship("SampledHousehold")
    suspected_problem = relationship("SuspectedProblem")
    rechecked_by = relationship("User", foreign_keys=[rechecked_by_id])
    recheck_visit = relationship("Visit", foreign_keys=[recheck_visit_id])
    events: Mapped[list["FindingEvent"]] = relationship(
        back_populates="finding", cascade="all, delete-orphan", order_by="FindingEvent.id"
    )
    evidence: Mapped[list["FindingEvidence"]] = relationship(
        back_populates="finding", cascade="all, delete-orphan", order_by="FindingEvidence.id"
    )

    __mapper_args__ = {"version_id_col": version}


class FindingEvent(db.Model):
    """One change of a finding: who, when, what changed from what to what, and why.

    ``changes`` maps each edited field to ``[old, new]``; a status change also fills
    ``from_status`` and ``to_status``. ``version`` is the finding's version after the change.
    """

    __tablename__ = "finding_events"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_sql_list(EVENT_KINDS)})", name="kind"),
        CheckConstraint(
            f"(kind = 'status' AND ({_transition_clause()})) "
            "OR (kind <> 'status' AND from_status IS NULL AND to_status IS NULL)",
            name="transition",
        ),
    )

    id: Mapped[int_pk]
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[created_timestamp]
    kind: Mapped[str] = mapped_column(String(20), default="status")
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    comment: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int | None] = mapped_column(Integer)

    finding: Mapped[Finding] = relationship(back_populates="events")
    user = relationship("User")


class FindingEvidence(db.Model):
    """A photo or document that shows a finding was corrected.

    Photos and documents uploaded by supervisors are files under generated names in the upload
    folder. A ``visit_photo`` has no file of its own: it refers to a photo of a re-inspection visit.
    """

    __tablename__ = "finding_evidence"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_sql_list(EVIDENCE_KINDS)})", name="kind"),
        CheckConstraint(
            "(kind = 'visit_photo' AND photo_id IS NOT NULL AND stored_name IS NULL) "
            "OR (kind <> 'visit_photo' AND photo_id IS NULL AND stored_name IS NOT NULL)",
            name="file_or_photo",
        ),
        CheckConstraint("kind <> 'photo' OR thumbnail_name IS NOT NULL", name="photo_thumbnail"),
        CheckConstraint("size_bytes >= 0", name="size"),
        UniqueConstraint("finding_id", "photo_id"),
    )

    id: Mapped[int_pk]
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    stored_name: Mapped[str | None] = mapped_column(String(80), unique=True)
    thumbnail_name: Mapped[str | None] = mapped_column(String(80), unique=True)
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"))
    # The uploaded file's own name, shown and used as the download name; never a path on disk.
    original_name: Mapped[str] = mapped_column(String(255), default="")
    content_type: Mapped[str] = mapped_column(String(100), default="")
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(500), default="")
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[created_timestamp]

    finding: Mapped[Finding] = relationship(back_populates="evidence")
    photo = relationship("Photo")
    uploaded_by = relationship("User")


class ReinspectionTask(db.Model):
    """A re-inspection (回头看) of corrected findings of one household, assigned to an inspector.

    The inspector's visit records for each finding whether the correction holds; that visit
    completes the task.
    """

    __tablename__ = "reinspection_tasks"
    __table_args__ = (
        CheckConstraint(f"status IN ({_sql_list(TASK_STATUSES)})", name="status"),
        CheckConstraint(
            "status <> 'done' OR (visit_id IS NOT NULL AND completed_at IS NOT NULL)", name="done_visit"
        ),
    )

    id: Mapped[int_pk]
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    # The sampled household the re-inspection visit is recorded under.
    sampled_household_id: Mapped[int] = mapped_column(
        ForeignKey("sampled_households.id", ondelete="CASCADE"), index=True
    )
    inspector_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[created_timestamp]
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    # The supervisor's instructions: what the inspector should look at during the visit.
    instructions: Mapped[str] = mapped_column(Text, default="")
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"))
    completed_at: Mapped[timestamp | None]

    household = relationship("Household")
    sampled_household = relationship("SampledHousehold")
    inspector = relationship("User", foreign_keys=[inspector_id])
    created_by = relationship("User", foreign_keys=[created_by_id])
    visit = relationship("Visit")
    items: Mapped[list["ReinspectionItem"]] = relationship(
        back_populates="task", cascade="all, delete-orphan", order_by="ReinspectionItem.id"
    )


class ReinspectionItem(db.Model):
    """One finding to re-check within a task, and what the re-inspection found."""

    __tablename__ = "reinspection_items"
    __table_args__ = (
        UniqueConstraint("task_id", "finding_id"),
        CheckConstraint(
            f"result IS NULL OR result IN ({_sql_list(REINSPECTION_RESULTS)})", name="result"
        ),
    )

    id: Mapped[int_pk]
    task_id: Mapped[int] = mapped_column(ForeignKey("reinspection_tasks.id", ondelete="CASCADE"), index=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    result: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")

    task: Mapped[ReinspectionTask] = relationship(back_populates="items")
    finding: Mapped[Finding] = relationship()
