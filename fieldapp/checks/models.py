"""Suspected problems, the registries they are cross-checked against, check runs and rule settings."""

from datetime import date

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldapp.db_types import created_timestamp, int_pk, timestamp
from fieldapp.extensions import db

# "rule_disabled": the rule was switched off while the problem was open.
PROBLEM_STATUSES = ("open", "resolved_by_data", "rule_disabled")

# Life of a registry import: the ID column is not known yet (needs_column), waiting for its
# thread (queued), rows read and checked (reading), records written (writing), then done,
# rejected (nothing written) or failed (an unexpected error, nothing written).
REGISTRY_STATUSES = ("needs_column", "queued", "reading", "writing", "done", "rejected", "failed")
REGISTRY_FINISHED = ("done", "rejected", "failed")

# Registry kinds with a cross-check rule of their own; any other kind name is a custom kind.
HOUSING, VEHICLE, DIBAO = "房产", "车辆", "低保"
BUSINESS, PAYROLL, DECEASED = "工商登记", "财政供养", "死亡人员"
STANDARD_KINDS = (HOUSING, VEHICLE, DIBAO, BUSINESS, PAYROLL, DECEASED)

CHECK_RUN_STATUSES = ("queued", "running", "done", "failed")
CHECK_RUN_FINISHED = ("done", "failed")


class SuspectedProblem(db.Model):
    __tablename__ = "suspected_problems"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'resolved_by_data', 'rule_disabled')", name="status"),
        CheckConstraint("status = 'open' OR resolved_at IS NOT NULL", name="resolved_has_time"),
    )

    id: Mapped[int_pk]
    # Identity across check runs: rule id, household, member and, for a cross-check, the
    # fingerprint of the registry row, so that re-running the checks keeps an unchanged
    # problem's row and history.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    rule_id: Mapped[str] = mapped_column(String(40), index=True)
    severity: Mapped[int] = mapped_column(Integer, default=1)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    # The problems of a member who leaves the household stay, because verdicts and findings name them.
    # The next check run resolves them by the data.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    # The member's name, kept when the register import removes the member, so the problem still names
    # the person it concerned.
    former_member_name: Mapped[str | None] = mapped_column(String(100))
    # The registry row a cross-check matched, from the newest batch of its kind.
    registry_record_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_records.id", ondelete="SET NULL"), index=True
    )
    # Readable evidence, e.g. "证件号码校验位应为 X，实为 3"; no full ID numbers.
    detail: Mapped[str] = mapped_column(Text, default="")
    # The values filled into the rule's detail text, so a page can show it in the reader's language.
    detail_values: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    first_seen_at: Mapped[created_timestamp]
    # When a run last found the problem, to the day: a run refreshes it once a day at most.
    last_seen_at: Mapped[created_timestamp]
    resolved_at: Mapped[timestamp | None]

    household = relationship("Household")
    member = relationship("Member")
    registry_record: Mapped["RegistryRecord | None"] = relationship()

    @property
    def member_name(self) -> str:
        """Return the member's name, or the one kept when the member left; "" for a household's problem."""
        if self.member is not None:
            return self.member.name
        return self.former_member_name or ""


class RegistryBatch(db.Model):
    """One registry file of another department (房产, 车辆, 低保, ...) imported as a dated batch.

    A batch covers the divisions of the administrator who uploaded it, or every division when
    imported from the command line. For each household, the cross-checks use the newest batch
    of a kind (by ``data_date``, then id) that covers it.
    """

    __tablename__ = "registry_batches"
    __table_args__ = (
        CheckConstraint(
            "status IN ('needs_column', 'queued', 'reading', 'writing', 'done', 'rejected', 'failed')",
            name="status",
        ),
        Index("ix_registry_batches_kind_current", "is_demo", "kind", "status", "data_date"),
        # Without it SQLite gives the next batch the id of a deleted newest batch, and the audit log's
        # entries for the deleted one would name the new one.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int_pk]
    # One of the standard kinds (房产, 车辆, 低保, 工商登记, 财政供养, 死亡人员) or a custom name.
    kind: Mapped[str] = mapped_column(String(40))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    # The date the registry's data is as of: given by the importer, else today.
    data_date: Mapped[date] = mapped_column(Date)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    # Generated file name under the registry folder; None for a file imported from the command line.
    stored_name: Mapped[str | None] = mapped_column(String(255))
    imported_at: Mapped[created_timestamp]
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Code prefixes of the divisions the batch covers ("371621" for a county); None: every division.
    division_prefixes: Mapped[list | None] = mapped_column(JSON)
    locale: Mapped[str] = mapped_column(String(10), default="")
    is_skip_rejected: Mapped[bool] = mapped_column(Boolean, default=False)

    # The header row as written in the file, and the columns chosen for the ID number and name.
    headers: Mapped[list] = mapped_column(JSON, default=list)
    header_row: Mapped[int] = mapped_column(Integer, default=1)  # 1-based row number in the file
    id_column: Mapped[str | None] = mapped_column(String(100))
    name_column: Mapped[str | None] = mapped_column(String(100))

    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    records_count: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    # The first rejected rows as {"row", "column", "value", "reason"}, ID numbers masked.
    rejections: Mapped[list] = mapped_column(JSON, default=list)
    message: Mapped[str] = mapped_column(Text, default="")
    finished_at: Mapped[timestamp | None]

    imported_by = relationship("User")


class RegistryRecord(db.Model):
    """One row of a registry batch: the person's normalised ID number and the row's other columns."""

    __tablename__ = "registry_records"
    __table_args__ = (Index("ix_registry_records_batch_id_number", "batch_id", "id_number"),)

    id: Mapped[int_pk]
    # No foreign key constraint: PostgreSQL checks one with a trigger for each inserted row, which
    # took 0.18 s of a 0.85 s import of 50,000 rows. The two places that delete batches
    # (registries.delete_batch and the removal of demo data) delete their records first.
    batch_id: Mapped[int] = mapped_column(Integer)
    # Normalised: ASCII digits, upper-case X, no spaces, and a 15-digit number widened to 18.
    # Every lookup also names the batch, so the index on both columns serves it. An index on the
    # number alone cost about a quarter of a registry import's time.
    id_number: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100), default="")
    # 1-based row number in the file.
    row_no: Mapped[int] = mapped_column(Integer)
    # Every other column by its header, in file order.
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    # The detail values joined for display, ID-like values masked: "鲁M12345 小型轿车 2023-05-11".
    summary: Mapped[str] = mapped_column(String(300), default="")
    # Hash of kind, ID number and details: the same row in a newer batch keeps its problem.
    fingerprint: Mapped[str] = mapped_column(String(16))

    batch: Mapped[RegistryBatch] = relationship(primaryjoin="RegistryRecord.batch_id == RegistryBatch.id",
                                                foreign_keys="RegistryRecord.batch_id")


class CheckRun(db.Model):
    """One run of the data checks and cross-checks, with its progress and result."""

    __tablename__ = "check_runs"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
    )

    id: Mapped[int_pk]
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    # Division code prefixes the run was limited to; None means every division.
    division_prefixes: Mapped[list | None] = mapped_column(JSON)
    # "page" (the run button), "command" (flask run-checks) or "import" (after a register import).
    source: Mapped[str] = mapped_column(String(20), default="command")
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    locale: Mapped[str] = mapped_column(String(10), default="")
    created_at: Mapped[created_timestamp]
    started_at: Mapped[timestamp | None]
    finished_at: Mapped[timestamp | None]
    # When the run last showed it was alive: queued, started, and before each rule and before saving.
    # An unfinished run without progress for ``jobs.STALE_RUN`` is taken as stopped.
    progress_at: Mapped[timestamp | None]
    # Progress: rules run so far out of the enabled ones, plus one step for saving the problems.
    steps_total: Mapped[int] = mapped_column(Integer, default=0)
    steps_done: Mapped[int] = mapped_column(Integer, default=0)
    current_rule: Mapped[str] = mapped_column(String(40), default="")
    reference_date: Mapped[date | None] = mapped_column(Date)
    opened: Mapped[int] = mapped_column(Integer, default=0)
    kept: Mapped[int] = mapped_column(Integer, default=0)
    resolved: Mapped[int] = mapped_column(Integer, default=0)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    # Open problems of rules switched off, set aside as rule_disabled by this run.
    disabled: Mapped[int] = mapped_column(Integer, default=0)
    by_rule: Mapped[dict] = mapped_column(JSON, default=dict)
    message: Mapped[str] = mapped_column(Text, default="")

    started_by = relationship("User")


class CheckRuleSetting(db.Model):
    """Whether a rule runs; a rule without a row runs."""

    __tablename__ = "check_rule_settings"

    is_demo: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[created_timestamp]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CheckThreshold(db.Model):
    """A threshold an administrator set; a threshold without a row has its default."""

    __tablename__ = "check_thresholds"

    is_demo: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    # The value as text: an integer, a decimal amount or an ISO date.
    value: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[created_timestamp]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
