"""Open findings and move them through their rectification statuses, keeping every change."""

import logging

from flask_babel import gettext as _
from sqlalchemy.orm.exc import StaleDataError

from fieldapp.audit.services import record
from fieldapp.db_types import utcnow
from fieldapp.errors import Conflict, FieldError
from fieldapp.extensions import db
from fieldapp.review.labels import status_label
from fieldapp.review.models import FINDING_SOURCES, FINDING_STATUSES, Finding, FindingEvent

logger = logging.getLogger(__name__)

# Status changes a supervisor may make: from status -> the statuses it may go to.
# NOTE: "closed" (re-checked after correction) has no transition yet, so no finding can reach it.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "pending": ("in_progress", "corrected"),
    "in_progress": ("corrected", "pending"),
    "corrected": ("pending",),
    "closed": (),
}

MAX_COMMENT_LENGTH = 2000
MAX_CATEGORY_LENGTH = 60


def open_finding(
    household,
    *,
    source: str,
    category: str,
    description: str,
    user,
    visit=None,
    sampled_household=None,
    suspected_problem=None,
) -> Finding:
    """Create a pending finding for ``household`` with its first history event. Flushes, no commit."""
    if source not in FINDING_SOURCES:
        raise FieldError(
            "source",
            _("Unknown finding source %(value)s: use one of %(allowed)s.",
              value=source, allowed=", ".join(FINDING_SOURCES)),
        )
    category = (category or "").strip()
    if len(category) > MAX_CATEGORY_LENGTH:
        raise FieldError(
            "category",
            _("The category is %(length)d characters long: shorten it to at most %(max)d.",
              length=len(category), max=MAX_CATEGORY_LENGTH),
        )
    finding = Finding(
        household=household,
        source=source,
        category=category,
        description=(description or "").strip(),
        status="pending",
        visit=visit,
        sampled_household=sampled_household,
        suspected_problem=suspected_problem,
    )
    finding.events.append(FindingEvent(user_id=_user_id(user), from_status=None, to_status="pending"))
    db.session.add(finding)
    db.session.flush()
    record("finding.open", finding, user=user, source=source, household_id=household.id)
    return finding


def allowed_statuses(finding: Finding) -> tuple[str, ...]:
    """Return the statuses ``finding`` may move to from its current status."""
    return TRANSITIONS.get(finding.status, ())


def change_status(
    finding: Finding,
    to_status: str,
    *,
    comment: str,
    user,
    expected_version: int | None = None,
) -> Finding:
    """Move ``finding`` to ``to_status`` and record who did it, when and why. Flushes, no commit.

    Raises ``FieldError("status", ...)`` for a transition that is not allowed, and ``Conflict``
    when ``expected_version`` differs from the stored version or another request changed the
    finding before this flush. After a ``Conflict`` from the flush the caller must roll back.
    """
    if expected_version is not None and expected_version != finding.version:
        raise _conflict(finding, expected_version, finding.version)
    _check_transition(finding, to_status)
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_LENGTH:
        raise FieldError(
            "comment",
            _("The comment is %(length)d characters long: shorten it to at most %(max)d.",
              length=len(comment), max=MAX_COMMENT_LENGTH),
        )

    from_status = finding.status
    now = utcnow()
    finding.status = to_status
    finding.updated_at = now
    if to_status == "corrected":
        finding.corrected_at = now
    elif to_status in ("pending", "in_progress"):
        finding.corrected_at = None
    event = FindingEvent(
        user_id=_user_id(user), at=now, from_status=from_status, to_status=to_status, comment=comment
    )
    finding.events.append(event)
    loaded_version = finding.version
    try:
        db.session.flush()
    except StaleDataError as error:
        raise _conflict(finding, expected_version or loaded_version, None) from error
    record("finding.status", finding, user=user, from_status=from_status, to_status=to_status)
    return finding


def _check_transition(finding: Finding, to_status: str) -> None:
    if to_status not in FINDING_STATUSES:
        raise FieldError(
            "status",
            _("Unknown status %(value)s: use one of %(allowed)s.",
              value=to_status, allowed=", ".join(FINDING_STATUSES)),
        )
    allowed = allowed_statuses(finding)
    if to_status not in allowed:
        raise FieldError(
            "status",
            _("A finding with status %(from_status)s cannot change to %(to_status)s. "
              "Choose one of: %(allowed)s.",
              from_status=status_label(finding.status), to_status=status_label(to_status),
              allowed=", ".join(status_label(status) for status in allowed) or "-"),
        )


def _conflict(finding: Finding, expected: int | None, current: int | None) -> Conflict:
    logger.info("finding %s changed concurrently: form version %s, stored %s", finding.id, expected, current)
    return Conflict(
        _("Someone else changed this finding after you opened it. Your change was not saved: "
          "check the current status and submit again."),
        expected=expected,
        current=current,
    )


def _user_id(user) -> int | None:
    return getattr(user, "id", None)
