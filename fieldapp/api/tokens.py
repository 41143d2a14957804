"""Issue, check and revoke sync tokens.

A phone that was offline for a day may have lost its login session (the browser was closed,
the phone restarted), but its outbox must still go out. So the sync API authenticates with a
bearer token instead of the session cookie. The page requests a token while the inspector is
logged in, with the session cookie and a CSRF token, and keeps it in IndexedDB next to the
outbox. Because a browser never attaches the token to a request by itself, requests that it
authenticates need no CSRF token; the API ignores the session cookie on those requests, so the
CSRF exemption covers only requests that carry the token.

The token string is signed with the application's secret key and names its ``ApiToken`` row,
so a forged or mangled token is rejected before any database work, and the row makes a token
revocable. A token expires after ``API_TOKEN_LIFETIME``; a deactivated user's tokens stop
working at once, and a password reset revokes them.
"""

import logging
from datetime import datetime
from functools import cache

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import joinedload

from fieldapp.api.models import ApiToken
from fieldapp.audit.services import record
from fieldapp.auth.models import User
from fieldapp.db_types import utcnow
from fieldapp.extensions import db

logger = logging.getLogger(__name__)

_SALT = "fieldapp.api-token"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=_SALT)


def issue(user, *, user_agent: str = "") -> tuple[str, ApiToken]:
    """Create a token for ``user``; return the token string and its row. Flushes, no commit.

    The user's expired tokens are deleted on the way.
    """
    now = utcnow()
    db.session.execute(delete(ApiToken).where(ApiToken.user_id == user.id, ApiToken.expires_at < now))
    row = ApiToken(
        user_id=user.id,
        created_at=now,
        expires_at=now + current_app.config["API_TOKEN_LIFETIME"],
        user_agent=(user_agent or "")[:200],
    )
    db.session.add(row)
    db.session.flush()
    record("api_token.issue", row, user=user, expires_at=row.expires_at.isoformat())
    return _serializer().dumps({"id": row.id}), row


def token_id(token: str) -> int | None:
    """Return the row id a token names when its signature is valid and it is not too old, else None.

    Needs no database, so a request with a forged token costs nothing more.
    """
    max_age = current_app.config["API_TOKEN_LIFETIME"].total_seconds()
    try:
        claims = _serializer().loads(token, max_age=max_age)
    except BadSignature:
        return None
    value = claims.get("id") if isinstance(claims, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@cache
def _active_token_statement():
    """Return the token query, built on first use because the mappers must be configured first.

    A reused statement keeps its cache key, which SQLAlchemy otherwise computes for each request.
    """
    return select(ApiToken).where(ApiToken.id == bindparam("row_id")).options(
        joinedload(ApiToken.user).joinedload(User.divisions))


def active_token(row_id: int) -> ApiToken | None:
    """Return the token row when it is neither revoked nor expired and its user is active."""
    row = db.session.execute(_active_token_statement(), {"row_id": row_id}).unique().scalar_one_or_none()
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if row.user is None or not row.user.is_active:
        return None
    return row


def touch(row: ApiToken) -> None:
    """Record when the token was last used, writing at most once a minute per token."""
    now = utcnow()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now


def revoke(row: ApiToken, *, user) -> None:
    """Revoke a token so that it no longer authenticates. Flushes, no commit."""
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.session.flush()
        record("api_token.revoke", row, user=user)


def revoke_all(user, *, by=None) -> int:
    """Revoke every valid token of ``user``, e.g. after a password reset; return how many. No commit.

    A phone with unsent visits keeps them: its sync pauses until the inspector logs in on it again.
    """
    now = utcnow()
    result = db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:
        record("api_token.revoke_all", user, user=by, tokens=result.rowcount)
    return result.rowcount


def renew_after(row: ApiToken) -> datetime:
    """Return when the page should ask for a new token."""
    return row.expires_at - current_app.config["API_TOKEN_RENEW_BEFORE"]
