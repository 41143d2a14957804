"""Authentication of API requests: the bearer token, and only the token.

Views decorated with ``token_required`` are exempt from CSRF checks because they ignore the
session cookie: a request without a valid ``Authorization: Bearer`` header gets 401 even when
the browser sends a logged-in session cookie along.
"""

import logging
from functools import wraps

from flask import g, request
from flask_babel import gettext as _

from fieldapp.api import tokens
from fieldapp.api.responses import ApiError
from fieldapp.extensions import csrf

logger = logging.getLogger(__name__)


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="fieldapp"'})


def bearer_token_id() -> int:
    """Return the token row id named by the request's bearer token, checking only its signature.

    Raises ``ApiError`` 401 when the header is missing or the token is forged or too old.
    """
    header = request.headers.get("Authorization", "")
    scheme, _space, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized(_("This request needs a sync token. Log in again on this phone."))
    row_id = tokens.token_id(token.strip())
    if row_id is None:
        logger.info("sync token rejected: bad signature or older than its lifetime (%s %s)",
                    request.method, request.path)
        raise _unauthorized(_("The sync token is invalid or has expired. Log in again on this phone."))
    return row_id


def token_user(row_id: int):
    """Load the user of an active token and make them the request's user; raise 401 otherwise."""
    row = tokens.active_token(row_id)
    if row is None:
        logger.info("sync token %s rejected: unknown, expired, revoked or of an inactive user", row_id)
        raise _unauthorized(_("The sync token has expired or was revoked. Log in again on this phone."))
    tokens.touch(row)
    g.api_token = row
    # Flask-Login's current_user reads g._login_user first, so code that falls back to
    # current_user (the audit log) gets the token's user, never the session cookie's.
    g._login_user = row.user
    return row.user


def token_required(view):
    """Authenticate the request by its bearer token and pass the user to the view as ``user``."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        user = token_user(bearer_token_id())
        return view(*args, user=user, **kwargs)

    return csrf.exempt(wrapped)


def token_signature_required(view):
    """Check the bearer token's signature only and pass its row id as ``token_row_id``.

    For views that do expensive work on the request body before their first database query;
    they must call ``token_user(token_row_id)`` before touching any record.
    """

    @wraps(view)
    def wrapped(*args, **kwargs):
        return view(*args, token_row_id=bearer_token_id(), **kwargs)

    return csrf.exempt(wrapped)
