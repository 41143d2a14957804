"""Write one audit record and one log line per state change."""

import logging

from flask_login import current_user
from sqlalchemy import insert

from fieldapp.audit.models import AuditRecord
from fieldapp.db_types import utcnow
from fieldapp.extensions import db

logger = logging.getLogger(__name__)

# Built once: a statement object keeps its cache key, which SQLAlchemy otherwise computes per call.
_INSERT = insert(AuditRecord.__table__)


def record(action: str, obj=None, *, user=None, object_type: str = "", object_id="", **detail) -> None:
    """Write an audit record for ``action`` on ``obj`` by ``user`` (default: the logged-in user).

    The row is inserted at once, in the current transaction, so it is committed or rolled back
    with the change it describes. A Core insert instead of an ORM object: every visit upload
    writes one, and the unit of work took about a tenth of the upload's time.
    ``detail`` must not contain personal data such as ID numbers or names.
    """
    if user is None:
        try:
            user = current_user if current_user and current_user.is_authenticated else None
        except RuntimeError:  # outside a request, e.g. a CLI command
            user = None
    if obj is not None:
        object_type = object_type or type(obj).__name__
        if not object_id:
            if getattr(obj, "id", None) is None:
                db.session.flush()  # a new record gets its id
            object_id = getattr(obj, "id", "")
    values = {
        "at": utcnow(),
        "user_id": getattr(user, "id", None),
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id or ""),
        "detail": detail,
    }
    db.session.execute(_INSERT, values)
    logger.info("audit %s by user %s on %s %s %s",
                action, values["user_id"], object_type, values["object_id"], detail)
