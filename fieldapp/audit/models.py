"""Audit records: who did what, when, to which record. Never the personal data itself."""

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from fieldapp.db_types import created_timestamp, int_pk
from fieldapp.extensions import db


class AuditRecord(db.Model):
    __tablename__ = "audit_records"

    id: Mapped[int_pk]
    at: Mapped[created_timestamp]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Dotted action name, e.g. "register.import", "finding.status", "auth.login_failed".
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str] = mapped_column(String(40), default="")
    object_id: Mapped[str] = mapped_column(String(40), default="")
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
