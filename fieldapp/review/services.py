"""Open findings, edit them and move them through their rectification statuses, keeping every change.

Every change writes one ``FindingEvent`` (who, when, from, to, comment) and one audit record.
Changes that rewrite the finding's row bump its version. A change based on an older version
then raises ``Conflict`` instead of overwriting the other one. Comments only add an event.
"""

import logging
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.exc import StaleDataError

from fieldapp.audit.services import record
from fieldapp.db_types import utcnow
from fieldapp.errors import Conflict, FieldError
from fieldapp.extensions import db
from fieldapp.review.labels import status_label
from fieldapp.review.models import (
    FINDING_SOURCES,
    FINDING_STATUSES,
    TRANSITIONS,
    Finding,
    FindingEvent,
)
from fieldapp.scope import scoped_select

logger = logging.getLogger(__name__)

MAX_COMMENT_LENGTH = 2000
MAX_CATEGORY_LENGTH = 60
MAX_DESCRIPTION_LENGTH = 4000
MAX_UNIT_LENGTH = 100
MAX_PERSON_LENGTH = 100
MAX_MEASURES_LENGTH = 4000
MAX_BULK_FINDINGS = 500

# Fields a supervisor edits on a finding, with their labels for history and error messages.
EDITABLE_FIELDS = {
    "category": _l("Category"),
    "description": _l("Description"),
    "responsible_unit": _l("Responsible unit"),
    "responsible_person": _l("Responsible person"),
    "deadline": _l("Deadline"),
    "measures": _l("Measures taken"),
}
_TEXT_LIMITS = {
    "category": MAX_CATEGORY_LENGTH,
    "description": MAX_DESCRIPTION_LENGTH,
    "responsible_unit": MAX_UNIT_LENGTH,
    "responsible_person": MAX_PERSON_LENGTH,
    "measures": MAX_MEASURES_LENGTH,
}


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
    category = _checked_text("category", category)
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
    finding.events.append(
        FindingEvent(user_id=_user_id(user), kind="status", from_status=None, to_status="pending", version=1)
    )
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

    Closing needs evidence and a re-check. When no re-inspection has confirmed the correction,
    the closing user's comment is their own check and is required.

    Raises ``FieldError`` for a transition that is not allowed or a missing requirement, and
    ``Conflict`` when ``expected_version`` differs from the stored version or another request
    changed the finding before this flush. After a ``Conflict`` from the flush the caller must
    roll back.
    """
    _check_version(finding, expected_version)
    _check_transition(finding, to_status)
    comment = _checked_comment(comment)
    if to_status == "closed":
        _check_closable(finding, comment)

    from_status = finding.status
    now = utcnow()
    finding.status = to_status
    finding.updated_at = now
    if to_status == "corrected":
        finding.corrected_at = now
    elif to_status == "closed":
        finding.closed_at = now
        if finding.rechecked_at is None:
            _set_recheck(finding, user=user, method="supervisor", note=comment, at=now)
    else:
        _clear_correction(finding)
    add_event(finding, user, kind="status", at=now, from_status=from_status, to_status=to_status,
               comment=comment)
    flush_changes(finding, expected_version)
    record("finding.status", finding, user=user, from_status=from_status, to_status=to_status)
    logger.info("finding %s: %s -> %s by user %s", finding.id, from_status, to_status, _user_id(user))
    return finding


def record_recheck(finding: Finding, *, user, method: str, note: str, visit=None) -> None:
    """Record that a re-check confirmed the correction of a corrected finding. Flushes, no commit."""
    if finding.status != "corrected":
        raise FieldError("status", _(
            "Only a corrected finding can be re-checked; finding %(id)d is %(status)s.",
            id=finding.id, status=status_label(finding.status),
        ))
    now = utcnow()
    _set_recheck(finding, user=user, method=method, note=_checked_comment(note), at=now, visit=visit)
    finding.updated_at = now
    add_event(finding, user, kind="recheck", at=now, changes={"recheck": [None, method]}, comment=note)
    flush_changes(finding, None)
    record("finding.recheck", finding, user=user, method=method)


def edit_finding(
    finding: Finding,
    values: dict,
    *,
    user,
    comment: str = "",
    expected_version: int | None = None,
) -> dict[str, list]:
    """Change the editable fields named in ``values`` and record old and new values. Flushes, no commit.

    Returns the changes as ``{field: [old, new]}``; an empty dict when nothing changed, in which
    case nothing is written. Raises ``FieldError`` for an invalid value or a closed finding, and
    ``Conflict`` as ``change_status`` does.
    """
    _check_version(finding, expected_version)
    if finding.status == "closed":
        raise FieldError("status", _(
            "Finding %(id)d is closed, so its details can no longer change.", id=finding.id
        ))
    cleaned = {name: _checked_value(name, value) for name, value in values.items()}
    comment = _checked_comment(comment)
    changes = {}
    for name, value in cleaned.items():
        old = getattr(finding, name)
        if old != value:
            changes[name] = [_plain(old), _plain(value)]
            setattr(finding, name, value)
    if not changes:
        return {}
    now = utcnow()
    finding.updated_at = now
    add_event(finding, user, kind="edit", at=now, changes=changes, comment=comment)
    flush_changes(finding, expected_version)
    record("finding.edit", finding, user=user, fields=sorted(changes))
    return changes


def add_comment(finding: Finding, text: str, *, user) -> FindingEvent:
    """Add a comment to the finding's history. Flushes, no commit.

    A comment changes no field, so it does not bump the finding's version and never conflicts.
    """
    text = _checked_comment(text)
    if not text:
        raise FieldError("text", _("Write a comment before saving it."))
    event = FindingEvent(
        finding_id=finding.id, user_id=_user_id(user), kind="comment", comment=text, version=finding.version
    )
    db.session.add(event)
    db.session.flush()
    record("finding.comment", finding, user=user)
    return event


@dataclass
class BulkChange:
    """Values a bulk action sets; ``None`` leaves a field as it is."""

    responsible_unit: str | None = None
    responsible_person: str | None = None
    deadline: date | None = None
    comment: str = ""

    def values(self) -> dict:
        fields = ("responsible_unit", "responsible_person", "deadline")
        return {name: getattr(self, name) for name in fields if getattr(self, name) is not None}


def bulk_update(expected_versions: dict[int, int | None], change: BulkChange, *, user) -> list[Finding]:
    """Apply ``change`` to every finding in ``expected_versions`` (id -> version seen), or to none.

    Raises ``FieldError("ids", ...)`` when an id is unknown or outside the user's scope, or a
    finding is closed, and ``Conflict`` when a finding changed after the user saw it. Nothing is
    changed in any of these cases; after a ``Conflict`` the caller must roll back.
    """
    ids = sorted(set(expected_versions))
    if not ids:
        raise FieldError("ids", _("Select at least one finding."))
    if len(ids) > MAX_BULK_FINDINGS:
        raise FieldError("ids", _("Select at most %(max)d findings at a time; %(count)d were selected.",
                                  max=MAX_BULK_FINDINGS, count=len(ids)))
    values = change.values()
    if not values:
        raise FieldError("responsible_unit",
                         _("Enter a responsible unit, a responsible person or a deadline."))

    findings = db.session.scalars(scoped_select(Finding, user).where(Finding.id.in_(ids))).all()
    found = {finding.id: finding for finding in findings}
    missing = [finding_id for finding_id in ids if finding_id not in found]
    if missing:
        logger.warning("bulk update by user %s rejected: findings %s not in scope", _user_id(user), missing)
        raise FieldError("ids", _(
            "Findings %(ids)s do not exist or are outside your area. Nothing was changed.",
            ids=_id_list(missing),
        ))
    closed = [finding_id for finding_id in ids if found[finding_id].status == "closed"]
    if closed:
        raise FieldError("ids", _(
            "Findings %(ids)s are closed and can no longer change. Nothing was changed.", ids=_id_list(closed)
        ))
    stale = [
        finding_id for finding_id in ids
        if expected_versions[finding_id] not in (None, found[finding_id].version)
    ]
    if stale:
        raise Conflict(
            _("Findings %(ids)s changed after you opened the list. Nothing was changed: reload the list "
              "and apply the action again.", ids=_id_list(stale)),
            expected=None, current=None,
        )

    changed = []
    for finding_id in ids:
        finding = found[finding_id]
        if edit_finding(finding, values, user=user, comment=change.comment,
                        expected_version=expected_versions[finding_id]):
            changed.append(finding)
    record("finding.bulk_update", object_type="Finding", user=user, finding_ids=[f.id for f in changed],
           fields=sorted(values))
    return changed


def events_since(finding: Finding, version: int | None) -> list[FindingEvent]:
    """Return the finding's events written after it had ``version``, oldest first."""
    if version is None:
        return []
    return [event for event in finding.events if event.version is not None and event.version > version]


# Checks and helpers.


def _check_version(finding: Finding, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != finding.version:
        raise _conflict(finding, expected_version, finding.version)


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


def _check_closable(finding: Finding, comment: str) -> None:
    if finding.evidence_count < 1:
        raise FieldError("status", _(
            "Finding %(id)d has no evidence yet. Add a photo or document that shows the correction, "
            "then close it.", id=finding.id,
        ))
    if finding.rechecked_at is None and not comment:
        raise FieldError("comment", _(
            "No re-inspection has confirmed this correction. Describe the check you made yourself, "
            "or request a re-inspection first.",
        ))


def _checked_comment(comment: str | None) -> str:
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_LENGTH:
        raise FieldError(
            "comment",
            _("The comment is %(length)d characters long: shorten it to at most %(max)d.",
              length=len(comment), max=MAX_COMMENT_LENGTH),
        )
    return comment


def _checked_text(name: str, value) -> str:
    text = (value or "").strip()
    limit = _TEXT_LIMITS[name]
    if len(text) > limit:
        raise FieldError(name, _(
            "%(field)s is %(length)d characters long: shorten it to at most %(max)d.",
            field=EDITABLE_FIELDS[name], length=len(text), max=limit,
        ))
    return text


def _checked_value(name: str, value):
    if name not in EDITABLE_FIELDS:
        raise FieldError(name, _("%(field)s cannot be edited.", field=name))
    if name == "deadline":
        if value is not None and not isinstance(value, date):
            raise FieldError("deadline", _("%(value)s is not a date: use the form YYYY-MM-DD.", value=value))
        return value
    return _checked_text(name, value)


def _set_recheck(finding: Finding, *, user, method: str, note: str, at, visit=None) -> None:
    finding.rechecked_at = at
    finding.rechecked_by_id = _user_id(user)
    finding.recheck_method = method
    finding.recheck_note = note
    finding.recheck_visit_id = getattr(visit, "id", None)


def _clear_correction(finding: Finding) -> None:
    """Forget the correction and its re-check when a finding goes back to pending or in progress."""
    finding.corrected_at = None
    finding.rechecked_at = None
    finding.rechecked_by_id = None
    finding.recheck_method = None
    finding.recheck_note = ""
    finding.recheck_visit_id = None


def add_event(finding: Finding, user, *, kind: str, at, comment: str = "", changes: dict | None = None,
               from_status: str | None = None, to_status: str | None = None) -> FindingEvent:
    # The version the row has after this change; the mapper adds 1 on the coming flush.
    event = FindingEvent(
        user_id=_user_id(user), kind=kind, at=at, from_status=from_status, to_status=to_status,
        changes=changes or {}, comment=comment, version=finding.version + 1,
    )
    finding.events.append(event)
    return event


def flush_changes(finding: Finding, expected_version: int | None) -> None:
    loaded_version = finding.version
    try:
        db.session.flush()
    except StaleDataError as error:
        raise _conflict(finding, expected_version or loaded_version, None) from error


def _conflict(finding: Finding, expected: int | None, current: int | None) -> Conflict:
    logger.info("finding %s changed concurrently: form version %s, stored %s", finding.id, expected, current)
    return Conflict(
        _("Someone else changed this finding after you opened it. Your change was not saved: "
          "check the current status and submit again."),
        expected=expected,
        current=current,
    )


def _plain(value):
    """Return a value as JSON for the history: dates as ISO text."""
    if isinstance(value, date):
        return value.isoformat()
    return value


def _id_list(ids: list[int]) -> str:
    return ", ".join(str(finding_id) for finding_id in ids)


def _user_id(user) -> int | None:
    return getattr(user, "id", None)
