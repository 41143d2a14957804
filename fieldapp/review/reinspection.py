"""Re-inspection (回头看) of corrected findings: tasks for inspectors, and what their visits found.

A supervisor picks corrected findings and an inspector, and each household gets one task. The
inspector's visit under the task records, for every finding, whether it has been corrected:

- confirmed: the re-check is recorded, the visit's photos become evidence, and the finding is
  closed when it has evidence;
- not corrected: the finding goes back to pending with the inspector's note.

The visit is recorded under a sampled household of the finding's household, because every
visit belongs to one.

NOTE: the sync API sends a visit's photos after the visit, so they arrive after the results
are applied and do not become evidence. A confirmed finding without other evidence then stays
corrected and re-checked until a supervisor adds evidence and closes it.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from flask import abort
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from fieldapp.audit.services import record
from fieldapp.auth.models import User, UserDivision
from fieldapp.db_types import utcnow
from fieldapp.divisions.models import Division, code_prefix
from fieldapp.errors import Conflict, FieldError
from fieldapp.extensions import db
from fieldapp.register.models import Household
from fieldapp.review import evidence
from fieldapp.review.models import Finding, ReinspectionItem, ReinspectionTask
from fieldapp.review.queries import paginate
from fieldapp.review.services import MAX_COMMENT_LENGTH, change_status, record_recheck
from fieldapp.sampling.models import SampledHousehold
from fieldapp.scope import division_prefixes, household_clause

logger = logging.getLogger(__name__)

MAX_TASK_FINDINGS = 200
# Form fields of a re-inspection visit: the task, and per finding "yes"/"no" and a note.
TASK_FIELD = "reinspection_task"
RESULT_FIELD = "reinspection-%d"
NOTE_FIELD = "reinspection-note-%d"
FIELD_PREFIX = "reinspection"


@dataclass
class ReinspectionResult:
    """The inspector's result for one finding: ``is_corrected`` and a note."""

    finding_id: int
    is_corrected: bool
    note: str = ""


def scoped_tasks(user):
    """Return ``select(ReinspectionTask)`` limited to tasks whose household is in the user's scope."""
    return (
        select(ReinspectionTask)
        .join(Household, ReinspectionTask.household_id == Household.id)
        .where(household_clause(user))
    )


def get_scoped_task_or_404(task_id: int, user) -> ReinspectionTask:
    task = db.session.scalars(scoped_tasks(user).where(ReinspectionTask.id == task_id)).first()
    if task is None:
        abort(404)
    return task


def inspector_choices(households: list[Household], user) -> list[User]:
    """Return the active inspectors whose divisions cover every one of ``households``, by name."""
    if not households:
        return []
    rows = db.session.execute(
        select(User, Division.code, Division.level)
        .join(UserDivision, UserDivision.user_id == User.id)
        .join(Division, Division.code == UserDivision.division_code)
        .where(User.role == "inspector", User.is_active_account.is_(True), User.is_demo == user.is_demo)
    ).all()
    prefixes: dict[int, list[str]] = {}
    inspectors: dict[int, User] = {}
    for inspector, code, level in rows:
        inspectors[inspector.id] = inspector
        prefixes.setdefault(inspector.id, []).append(code_prefix(code, level))
    chosen = [
        inspectors[inspector_id] for inspector_id, own in prefixes.items()
        if all(any(h.division_code.startswith(prefix) for prefix in own) for h in households)
    ]
    return sorted(chosen, key=lambda inspector: (inspector.display_name, inspector.id))


def inspectors_in_scope(user) -> list[User]:
    """Return the active inspectors who work somewhere inside the user's divisions, by name."""
    own = division_prefixes(user)
    if not own:
        return []
    rows = db.session.execute(
        select(User, Division.code, Division.level)
        .join(UserDivision, UserDivision.user_id == User.id)
        .join(Division, Division.code == UserDivision.division_code)
        .where(User.role == "inspector", User.is_active_account.is_(True), User.is_demo == user.is_demo)
    ).all()
    chosen = {
        inspector.id: inspector for inspector, code, level in rows
        if any(code_prefix(code, level).startswith(prefix) for prefix in own)
    }
    return sorted(chosen.values(), key=lambda inspector: (inspector.display_name, inspector.id))


def inspector_by_id(user_id: int | None) -> User | None:
    if user_id is None or user_id < 1:
        return None
    return db.session.get(User, user_id)


def create_tasks(findings: list[Finding], inspector: User | None, *, instructions: str,
                 user) -> list[ReinspectionTask]:
    """Create one open task per household of ``findings`` for ``inspector``. Flushes, no commit.

    Every finding must be corrected, not yet re-checked and not in another open task. Raises
    ``FieldError`` naming the findings or the inspector at fault; nothing is created then.
    """
    if not findings:
        raise FieldError("ids", _("Select at least one corrected finding to re-inspect."))
    if len(findings) > MAX_TASK_FINDINGS:
        raise FieldError("ids", _("Select at most %(max)d findings at a time; %(count)d were selected.",
                                  max=MAX_TASK_FINDINGS, count=len(findings)))
    instructions = (instructions or "").strip()
    if len(instructions) > MAX_COMMENT_LENGTH:
        raise FieldError("instructions", _(
            "The instructions are %(length)d characters long: shorten them to at most %(max)d.",
            length=len(instructions), max=MAX_COMMENT_LENGTH))
    _check_findings(findings)
    households = {finding.household_id: finding.household for finding in findings}
    if inspector is None or inspector.id not in {i.id for i in inspector_choices(list(households.values()),
                                                                                  user)}:
        raise FieldError("inspector", _(
            "Choose an inspector who works in the village of every selected household."))

    tasks = []
    for household_id, household in households.items():
        own = [finding for finding in findings if finding.household_id == household_id]
        task = ReinspectionTask(
            household_id=household_id,
            sampled_household=_sampled_household(household, own),
            inspector_id=inspector.id,
            created_by_id=getattr(user, "id", None),
            instructions=instructions,
            items=[ReinspectionItem(finding_id=finding.id) for finding in own],
        )
        db.session.add(task)
        tasks.append(task)
    db.session.flush()
    for task in tasks:
        record("reinspection.create", task, user=user, inspector_id=inspector.id,
               finding_ids=[item.finding_id for item in task.items])
    return tasks


def _check_findings(findings: list[Finding]) -> None:
    not_corrected = [f.id for f in findings if f.status != "corrected"]
    if not_corrected:
        raise FieldError("ids", _(
            "Only corrected findings can be re-inspected; findings %(ids)s are not corrected. "
            "Nothing was created.", ids=_id_list(not_corrected)))
    rechecked = [f.id for f in findings if f.rechecked_at is not None]
    if rechecked:
        raise FieldError("ids", _(
            "Findings %(ids)s were already re-checked and can be closed. Nothing was created.",
            ids=_id_list(rechecked)))
    busy = db.session.scalars(
        select(ReinspectionItem.finding_id)
        .join(ReinspectionTask, ReinspectionItem.task_id == ReinspectionTask.id)
        .where(ReinspectionTask.status == "open", ReinspectionItem.finding_id.in_([f.id for f in findings]))
    ).all()
    if busy:
        raise FieldError("ids", _(
            "Findings %(ids)s already have an open re-inspection task. Nothing was created.",
            ids=_id_list(sorted(set(busy)))))


def _sampled_household(household: Household, findings: list[Finding]) -> SampledHousehold:
    """Return the sampled household to record a re-inspection visit under.

    That is the one a finding was opened for, or else the household's latest.
    """
    for finding in findings:
        if finding.sampled_household is not None:
            return finding.sampled_household
    latest = db.session.scalars(
        select(SampledHousehold)
        .where(SampledHousehold.household_id == household.id)
        .order_by(SampledHousehold.id.desc())
        .limit(1)
    ).first()
    if latest is None:
        raise FieldError("ids", _(
            "Household %(household)s was never sampled, so no visit can be recorded for it. Close its "
            "findings with your own check instead.", household=household.household_no))
    return latest


def cancel_task(task: ReinspectionTask, *, user) -> None:
    if task.status != "open":
        raise FieldError("status", _("Re-inspection task %(id)d is not open.", id=task.id))
    task.status = "cancelled"
    task.completed_at = utcnow()
    db.session.flush()
    record("reinspection.cancel", task, user=user)


def open_tasks_for_inspector(user) -> list[ReinspectionTask]:
    """Return the open tasks assigned to ``user`` in their scope, by village and age."""
    stmt = (
        scoped_tasks(user)
        .where(ReinspectionTask.inspector_id == user.id, ReinspectionTask.status == "open")
        .options(
            selectinload(ReinspectionTask.household).selectinload(Household.members),
            selectinload(ReinspectionTask.items).selectinload(ReinspectionItem.finding),
        )
        .order_by(Household.village, ReinspectionTask.created_at, ReinspectionTask.id)
    )
    return list(db.session.scalars(stmt))


def open_task_for_inspector_or_404(task_id: int, user) -> ReinspectionTask:
    """Load an open task assigned to ``user`` in their scope, or abort with 404."""
    task = get_scoped_task_or_404(task_id, user)
    if task.inspector_id != user.id or task.status != "open":
        abort(404)
    return task


def tasks_page(user, *, status: str | None, page: int):
    """Return a page of tasks in scope, newest first, optionally of one status."""
    stmt = scoped_tasks(user).options(
        selectinload(ReinspectionTask.household).selectinload(Household.members),
        selectinload(ReinspectionTask.inspector),
        selectinload(ReinspectionTask.items),
    )
    if status:
        stmt = stmt.where(ReinspectionTask.status == status)
    return paginate(stmt.order_by(ReinspectionTask.created_at.desc(), ReinspectionTask.id.desc()), page)


def submission_task(sampled, fields: Mapping, user, *, require_open: bool = False) -> ReinspectionTask | None:
    """Return the task a visit form names in ``reinspection_task``, or None for an ordinary visit.

    Aborts with 404 unless the task is in the user's scope, assigned to ``user``, recorded under
    ``sampled`` and not cancelled (with ``require_open``, also not done). A done task is
    accepted otherwise, so that a repeated submission of the same visit gets the stored result.
    """
    raw = (fields.get(TASK_FIELD) or "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        abort(404)
    task = get_scoped_task_or_404(int(raw), user)
    if task.inspector_id != user.id or task.sampled_household_id != sampled.id or task.status == "cancelled":
        abort(404)
    if require_open and task.status != "open":
        abort(404)
    return task


def submission_fields(form: Mapping) -> dict[str, str]:
    """Return the re-inspection fields of a posted visit form, to keep with the submission."""
    return {name: form.get(name) or "" for name in form if name.startswith(FIELD_PREFIX)}


def visit_task(visit, user) -> ReinspectionTask | None:
    """Return the task that ``visit`` completed, or None for an ordinary visit."""
    return db.session.scalars(scoped_tasks(user).where(ReinspectionTask.visit_id == visit.id)).first()


def finding_tasks(finding: Finding, user) -> list[ReinspectionTask]:
    stmt = (
        scoped_tasks(user)
        .join(ReinspectionItem, ReinspectionItem.task_id == ReinspectionTask.id)
        .where(ReinspectionItem.finding_id == finding.id)
        .options(selectinload(ReinspectionTask.inspector), selectinload(ReinspectionTask.items))
        .order_by(ReinspectionTask.id.desc())
    )
    return list(db.session.scalars(stmt))


# Results of a re-inspection visit.


def parse_results(form: Mapping, task: ReinspectionTask) -> tuple[list[ReinspectionResult], dict[str, str]]:
    """Read "corrected? yes/no" and a note per finding of ``task`` from a submitted form.

    Returns the results and the errors keyed by form field name. A "no" needs a note that
    describes what is still wrong.
    """
    results, errors = [], {}
    for item in task.items:
        choice_field = RESULT_FIELD % item.finding_id
        note_field = NOTE_FIELD % item.finding_id
        choice = (form.get(choice_field) or "").strip()
        note = (form.get(note_field) or "").strip()
        if choice not in ("yes", "no"):
            errors[choice_field] = _("Choose whether the problem has been corrected.")
            continue
        if len(note) > MAX_COMMENT_LENGTH:
            errors[note_field] = _("The note is %(length)d characters long: shorten it to at most %(max)d.",
                                   length=len(note), max=MAX_COMMENT_LENGTH)
            continue
        if choice == "no" and not note:
            errors[note_field] = _("Describe what is still not corrected.")
            continue
        results.append(ReinspectionResult(item.finding_id, choice == "yes", note))
    return results, errors


def apply_reinspection(visit, task: ReinspectionTask, results: list[ReinspectionResult], user) -> None:
    """Record what the re-inspection ``visit`` found for each finding of ``task``. Flushes, no commit.

    Calling it again for the same visit changes nothing, so a repeated submission is safe.
    Raises ``FieldError`` when the results do not cover the task's findings, and ``Conflict``
    when the task was completed by another visit or a finding changed concurrently.
    """
    if task.status == "done" and task.visit_id == visit.id:
        return
    if task.status != "open":
        raise Conflict(_("Re-inspection task %(id)d is no longer open; nothing was recorded for it.",
                         id=task.id))
    if task.inspector_id != getattr(user, "id", None) or visit.household_id != task.household_id:
        abort(404)
    by_finding = {result.finding_id: result for result in results}
    missing = [item.finding_id for item in task.items if item.finding_id not in by_finding]
    if missing:
        raise FieldError(RESULT_FIELD % missing[0], _("Choose whether the problem has been corrected."))

    for item in task.items:
        result = by_finding[item.finding_id]
        item.result = "confirmed" if result.is_corrected else "reopened"
        item.note = result.note
        _apply_to_finding(item.finding, result, visit, user)
    task.status = "done"
    task.visit_id = visit.id
    task.completed_at = utcnow()
    db.session.flush()
    record("reinspection.complete", task, user=user, visit_id=visit.id,
           confirmed=sum(item.result == "confirmed" for item in task.items),
           reopened=sum(item.result == "reopened" for item in task.items))


def _apply_to_finding(finding: Finding, result: ReinspectionResult, visit, user) -> None:
    if finding.status != "corrected":
        # A supervisor reopened or closed it after the task was made; the result stays on the task.
        logger.info("re-inspection of finding %s skipped: it is %s now", finding.id, finding.status)
        return
    if not result.is_corrected:
        change_status(finding, "pending", comment=result.note, user=user)
        return
    note = result.note or _("The re-inspection visit confirmed the correction.")
    record_recheck(finding, user=user, method="reinspection", note=note, visit=visit)
    evidence.link_visit_photos(finding, visit, user=user)
    if finding.evidence_count > 0:
        change_status(finding, "closed", comment=note, user=user)


def _id_list(ids: list[int]) -> str:
    return ", ".join(str(finding_id) for finding_id in ids)
