"""Sync tokens: bearer tokens that let a phone sync after its login session has ended."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldapp.db_types import UTCDateTime, created_timestamp, int_pk, timestamp
from fieldapp.extensions import db


class ApiToken(db.Model):
    """A sync token issued to a logged-in user's browser.

    The token string itself is signed and names this row; the row makes it revocable and
    records when it was last used. A token is valid while ``revoked_at`` is empty,
    ``expires_at`` lies ahead and the user is active.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int_pk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[created_timestamp]
    expires_at: Mapped[timestamp]
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The browser's User-Agent header when the token was issued, to tell devices apart.
    user_agent: Mapped[str] = mapped_column(String(200), default="")

    user = relationship("User")
