"""Export jobs: a file written in the background, its progress and where it is stored."""

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldapp.db_types import created_timestamp, int_pk, timestamp
from fieldapp.extensions import db

EXPORT_KINDS = ("ledger", "visits", "problems")
EXPORT_FORMATS = ("xlsx", "csv")
# queued (waiting for its thread), running, then done, or failed with a message.
EXPORT_STATUSES = ("queued", "running", "done", "failed")


class ExportJob(db.Model):
    __tablename__ = "export_jobs"
    __table_args__ = (
        CheckConstraint("kind IN ('ledger', 'visits', 'problems')", name="kind"),
        CheckConstraint("format IN ('xlsx', 'csv')", name="format"),
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
        CheckConstraint("status <> 'done' OR stored_name IS NOT NULL", name="done_file"),
    )

    id: Mapped[int_pk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    format: Mapped[str] = mapped_column(String(10))
    # Filters the user chose, e.g. {"township": "371622107000", "round": 3}.
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    # True when the file contains full ID numbers, which only roles in UNMASK_ROLES may request.
    is_unmasked: Mapped[bool] = mapped_column(Boolean, default=False)
    # Locale of the requesting user, so that headers and labels are in their language.
    locale: Mapped[str] = mapped_column(String(10), default="")
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    # Generated file name under the export folder; never a name the user chose.
    stored_name: Mapped[str | None] = mapped_column(String(80))
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[created_timestamp]
    started_at: Mapped[timestamp | None]
    finished_at: Mapped[timestamp | None]

    user = relationship("User")
