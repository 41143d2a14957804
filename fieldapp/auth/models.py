"""Users, their roles and the divisions they may see."""

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldapp.db_types import created_timestamp, int_pk, timestamp
from fieldapp.extensions import db

ROLES = ("admin", "supervisor", "inspector")


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'supervisor', 'inspector')", name="role"),)

    id: Mapped[int_pk]
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    is_active_account: Mapped[bool] = mapped_column(Boolean, default=True)
    # Demo users see only demo data, and real users never see it.
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[created_timestamp]
    last_login_at: Mapped[timestamp | None]

    divisions: Mapped[list["UserDivision"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="UserDivision.division_code"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login reads this
        return self.is_active_account

    @property
    def division_codes(self) -> list[str]:
        return [d.division_code for d in self.divisions]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"

    @property
    def is_inspector(self) -> bool:
        return self.role == "inspector"


class UserDivision(db.Model):
    """One division (county or township, or a wider one for administrators) a user may see."""

    __tablename__ = "user_divisions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    division_code: Mapped[str] = mapped_column(ForeignKey("divisions.code"), primary_key=True)

    user: Mapped[User] = relationship(back_populates="divisions")
    division = relationship("Division")
