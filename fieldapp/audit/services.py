"""Write one audit record and one log line per state change."""

import logging

from flask_login import current_user

from fieldapp.audit.models import AuditRecord
from fieldapp.extensions import db

logger = logging.getLogger(__name__)


def record(action: str, obj=None, *, user=None, object_type: str = "", object_id="", **detail) -> AuditRecord:
    """Add an audit record for ``action`` on ``obj`` by ``user`` (default: the logged-in user).

    ``detail`` must not contain personal data such as ID numbers or names.
    """
    if user is None:
        try:
            user = current_user if current_user and current_user.is_authenticated else None
        except RuntimeError:  # outside a request, e.g. a CLI command
            user = None
    if obj is not None:
        object_type = object_type or type(obj).__name__
        object_id = object_id or getattr(obj, "id", "")
    entry = AuditRecord(
        user_id=getattr(user, "id", None),
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        detail=detail,
    )
    db.session.add(entry)
    logger.info(
        "audit %s by user %s on %s %s %s",
        action, entry.user_id, entry.object_type, entry.object_id, detail,
    )
    return entry
