"""Receive a visit: validate it, store it once per client UUID, and open findings from it.

A phone may send the same visit many times on a bad link. The visit's ``client_uuid`` makes
the submission idempotent: a repeat with the same content returns the stored visit and writes
nothing, and a repeat with different content is a ``Conflict`` that changes nothing.
"""

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import abort, current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import make_transient_to_detached, selectinload

from fieldapp.audit.services import record
from fieldapp.checks.models import SuspectedProblem
from fieldapp.checks.services import problem_detail, rule_name
from fieldapp.db_types import utcnow
from fieldapp.errors import Conflict, FieldError
from fieldapp.extensions import db
from fieldapp.register.models import Household
from fieldapp.review import reinspection
from fieldapp.review.services import open_finding
from fieldapp.sampling.models import SampledHousehold
from fieldapp.scope import scoped_select
from fieldapp.visits import location, photos, questionnaires
from fieldapp.visits.models import OUTCOMES, Questionnaire, VerificationOutcome, Visit

logger = logging.getLogger(__name__)

OUTCOME_LABELS = {
    "confirmed": _l("Confirmed"),
    "not_confirmed": _l("Not confirmed"),
    "explained": _l("Explained"),
}

# Categories an inspector picks for a problem found on site. The values are the Chinese terms
# stored in findings (data, like the register's values); the labels are for the form.
ONSITE_CATEGORIES = {
    "义务教育": _l("Compulsory education"),
    "基本医疗": _l("Basic medical care"),
    "住房安全": _l("Housing safety"),
    "饮水安全": _l("Drinking water"),
    "不愁吃不愁穿": _l("Food and clothing"),
    "收入": _l("Income"),
    "帮扶措施": _l("Help measures"),
    "台账信息": _l("Register data"),
    "其他": _l("Other"),
}
NOTE_MAX_LENGTH = 2000
MAX_ONSITE_PROBLEMS = 20
MAX_PHOTOS = 40
GENERAL_PHOTO_FIELD = "photos"
# Rule ids of cross-checks against other departments' registries start with this.
# NOTE: the check rules carry no kind of their own; this prefix is the convention to keep.
CROSS_CHECK_RULE_PREFIX = "cross_"


@dataclass
class PhotoUpload:
    """One photo of a visit: the form field it came in, its position there, and its bytes.

    A photo sent with the form has ``data``. A photo the sync API declares in the visit's
    manifest has no ``data`` yet: it carries the ``client_uuid`` and ``sha256`` its upload must
    match, and the EXIF capture time and position the phone read before downscaling it.
    """

    field: str
    index: int
    filename: str
    data: bytes | None
    question_key: str | None = None
    client_uuid: str | None = None
    sha256: str | None = None
    taken_at: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None

    def __post_init__(self):
        if self.sha256 is None and self.data is not None:
            self.sha256 = hashlib.sha256(self.data).hexdigest()


@dataclass
class Outcome:
    problem_id: int
    outcome: str
    note: str = ""


@dataclass
class OnSiteProblem:
    category: str
    description: str
    # Row of the form it was typed in, so that an error shows next to it.
    row: int = 0


@dataclass
class VisitSubmission:
    """Everything a phone sent for one visit, parsed but not yet validated."""

    client_uuid: str
    questionnaire: Questionnaire
    answers: dict
    latitude: float | None = None
    longitude: float | None = None
    accuracy_m: float | None = None
    fixed_at: datetime | None = None
    started_at: datetime | None = None
    submitted_at: datetime | None = None
    # Ids of the suspected problems the form showed; each needs an outcome.
    shown_problem_ids: list[int] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    onsite_problems: list[OnSiteProblem] = field(default_factory=list)
    photos: list[PhotoUpload] = field(default_factory=list)
    # The re-inspection task and per-finding results of a re-inspection visit, as posted.
    reinspection_fields: dict[str, str] = field(default_factory=dict)
    # Errors found while parsing the request, by field key.
    errors: dict[str, str] = field(default_factory=dict)


class VisitRejected(ValueError):
    """The submission is invalid; ``errors`` maps each field key to its message. Nothing was stored."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(f"{len(errors)} invalid fields")
        self.errors = errors


@dataclass
class SubmitResult:
    visit: Visit
    # False when the visit had already been received under the same client UUID.
    created: bool
    # Photo files written for this visit, to delete if the transaction is rolled back.
    written_files: list[str] = field(default_factory=list)
    findings: list = field(default_factory=list)


def normalize_uuid(value: str | None) -> str | None:
    """Return the canonical lower-case form of a UUID string, or None when it is not one."""
    try:
        return str(uuid.UUID((value or "").strip()))
    except ValueError:
        return None


def photo_client_uuid(visit_uuid: str, field_name: str, index: int) -> str:
    """Derive a photo's UUID from its visit's, so that a retried form names its photos the same."""
    return str(uuid.uuid5(uuid.UUID(visit_uuid), f"{field_name}:{index}"))


def open_problems(household_id: int, user) -> list[SuspectedProblem]:
    """Return the household's open suspected problems, most severe first."""
    return list(db.session.scalars(
        scoped_select(SuspectedProblem, user)
        .where(SuspectedProblem.household_id == household_id, SuspectedProblem.status == "open")
        .order_by(SuspectedProblem.severity.desc(), SuspectedProblem.id)
    ))


def assigned_households(user) -> list[SampledHousehold]:
    """Return the sampled households assigned to ``user``, by village and draw order, with their visits."""
    stmt = (
        scoped_select(SampledHousehold, user)
        .where(SampledHousehold.inspector_id == user.id, SampledHousehold.status == "active")
        .options(
            selectinload(SampledHousehold.household).selectinload(Household.members),
            selectinload(SampledHousehold.visits),
            selectinload(SampledHousehold.sampling_round),
        )
        .order_by(Household.village, SampledHousehold.draw_order)
    )
    return list(db.session.scalars(stmt))


def submit_visit(sampled: SampledHousehold, submission: VisitSubmission, *, user) -> SubmitResult:
    """Store a visit for ``sampled`` once per client UUID. Flushes, no commit.

    Aborts with 404 unless ``user`` is the inspector assigned to ``sampled``, or the inspector of
    the re-inspection task the submission names. Raises
    ``VisitRejected`` with every field error, or ``Conflict`` when the client UUID was already
    used for different content. The caller commits, and on a failed commit deletes
    ``SubmitResult.written_files``.
    """
    task = reinspection.submission_task(sampled, submission.reinspection_fields, user)
    if task is None and (sampled.inspector_id is None or sampled.inspector_id != user.id):
        abort(404)
    client_uuid = normalize_uuid(submission.client_uuid)
    if client_uuid is None:
        raise VisitRejected({"client_uuid": _(
            "This form has no valid visit ID (%(value)s). Reload the page with JavaScript turned on "
            "and fill the visit in again.", value=submission.client_uuid or "-",
        )})
    submission.client_uuid = client_uuid
    for upload in submission.photos:
        upload.client_uuid = upload.client_uuid or photo_client_uuid(client_uuid, upload.field, upload.index)
    content_sha256 = content_hash(sampled, submission, user)

    # A repeat is found by the INSERT below, which skips a used client UUID, so a valid visit
    # costs no query here. Photos sent with the form are looked up first all the same, because
    # decoding them again for a repeat takes far longer than the query.
    if any(upload.data is not None for upload in submission.photos):
        stored = _stored_visit(client_uuid, user)
        if stored is not None:
            return _repeat_result(stored, content_sha256)

    household = sampled.household
    today = _visit_day(submission)
    definition = submission.questionnaire.definition
    answers, answer_errors = questionnaires.checked_answers(definition, submission.answers, household, today)
    errors = dict(submission.errors)
    errors.update({k: v for k, v in answer_errors.items() if k not in errors})
    problems_by_id = _check_outcomes(submission, household.id, errors, user)
    _check_onsite_problems(submission.onsite_problems, errors)
    declared, processed = _process_photos(submission, answers, errors)
    results = []
    if task is not None:
        results, task_errors = reinspection.parse_results(submission.reinspection_fields, task)
        errors.update(task_errors)
    if errors:
        # A repeat answers with the stored visit even when the form no longer validates, e.g.
        # because the household's members changed since the first submission.
        stored = _stored_visit(client_uuid, user)
        if stored is not None:
            return _repeat_result(stored, content_sha256)
        raise VisitRejected(errors)

    values = _visit_values(sampled, submission, answers, content_sha256, user)
    values["photo_manifest"] = [manifest_entry(upload) for upload in declared]
    values["photos_expected"] = len(declared)
    visit = _insert_visit(values, user)
    if visit is None:
        return _repeat_result(_stored_visit_or_conflict(client_uuid, user), content_sha256)

    result = SubmitResult(visit=visit, created=True)
    _add_outcomes(result, submission, problems_by_id, user)
    _add_onsite_findings(result, submission, user)
    _add_photos(result, processed)
    db.session.flush()
    if task is not None:
        reinspection.apply_reinspection(visit, task, results, user)
    record("visit.receive", visit, user=user, sampled_household_id=sampled.id,
           questionnaire=f"{submission.questionnaire.code}.v{submission.questionnaire.version}",
           photos=len(processed), photos_expected=visit.photos_expected, outcomes=len(visit.outcomes),
           findings=len(result.findings), location_flags=visit.location_flags)
    return result


def _visit_day(submission: VisitSubmission):
    """Return the visit's date in the display time zone, which decides members' ages and "today"."""
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    return (submission.submitted_at or utcnow()).astimezone(zone).date()


def content_hash(sampled: SampledHousehold, submission: VisitSubmission, user) -> str:
    """Return the SHA-256 of the submission's content, leaving out the phone's send time.

    A retry of the same form sends everything again with a new send time, so the send time must
    not count. Photos count by their client UUID and the SHA-256 of their bytes.
    """
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    payload = {
        "sampled_household_id": sampled.id,
        "inspector_id": user.id,
        "questionnaire": [submission.questionnaire.code, submission.questionnaire.version],
        "answers": submission.answers,
        "location": [
            submission.latitude, submission.longitude, submission.accuracy_m, iso(submission.fixed_at)
        ],
        "started_at": iso(submission.started_at),
        "problems_shown": sorted(submission.shown_problem_ids),
        "outcomes": sorted([o.problem_id, o.outcome, o.note] for o in submission.outcomes),
        "onsite_problems": [[p.category, p.description] for p in submission.onsite_problems],
        "photos": [[p.field, p.index, p.client_uuid, p.sha256] for p in submission.photos],
    }
    if submission.reinspection_fields:
        payload["reinspection"] = submission.reinspection_fields
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _stored_visit(client_uuid: str, user) -> Visit | None:
    return db.session.execute(
        scoped_select(Visit, user).where(Visit.client_uuid == client_uuid)
    ).scalar_one_or_none()


def _repeat_result(stored: Visit, content_sha256: str) -> SubmitResult:
    if stored.content_sha256 != content_sha256:
        logger.info("visit %s: client UUID %s sent again with different content",
                    stored.id, stored.client_uuid)
        raise Conflict(_(
            "A different visit was already saved with this form's visit ID (%(uuid)s), so nothing was "
            "changed. Start a new visit form to record another visit.", uuid=stored.client_uuid,
        ))
    logger.info("visit %s: repeat submission of client UUID %s, nothing stored",
                stored.id, stored.client_uuid)
    return SubmitResult(visit=stored, created=False)


def _insert_visit(values: dict, user) -> Visit | None:
    """Insert a visit from its column values and return it; None when the client UUID is used.

    ``INSERT ... ON CONFLICT (client_uuid) DO NOTHING`` skips a used UUID and leaves the
    transaction usable, so no savepoint is needed. On PostgreSQL a concurrent request with the
    same UUID waits until the first one's transaction ends and then skips it.

    One Core INSERT replaces the unit of work's flush; the returned ``Visit`` is attached as if
    loaded, so the outcomes, findings and photos added to it afterwards are flushed as usual.
    """
    connection = db.session.connection()
    stmt = _VISIT_INSERTS[connection.dialect.name]
    visit_id = connection.execute(stmt, values).scalar_one_or_none()
    if visit_id is None:
        return None
    # Empty collections from the start, so that reading them before the next flush needs no query.
    visit = Visit(id=visit_id, photos=[], outcomes=[], **values)
    make_transient_to_detached(visit)
    db.session.add(visit)
    return visit


def _stored_visit_or_conflict(client_uuid: str, user) -> Visit:
    """Return the visit stored under a used client UUID; raise ``Conflict`` when it is out of scope."""
    stored = _stored_visit(client_uuid, user)
    if stored is None:
        logger.info("client UUID %s is already used outside the user's scope", client_uuid)
        raise Conflict(_(
            "This form's visit ID (%(uuid)s) is already used, so nothing was saved. Start a new "
            "visit form.", uuid=client_uuid,
        ))
    logger.info("visit with client UUID %s was stored before, by this or a concurrent request", client_uuid)
    return stored


# Built once: a statement object keeps its cache key, which SQLAlchemy otherwise recomputes per request.
_VISIT_INSERTS = {
    name: insert(Visit.__table__).on_conflict_do_nothing(index_elements=[Visit.__table__.c.client_uuid])
    .returning(Visit.__table__.c.id)
    for name, insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
}


def _visit_values(sampled, submission: VisitSubmission, answers: dict, content_sha256: str,
                  user) -> dict:
    """Return the column values of a new visit, with its location checked against the household."""
    config = current_app.config
    received_at = utcnow()
    fix = location.check_fix(
        submission.latitude, submission.longitude, submission.accuracy_m, submission.fixed_at,
        submission.submitted_at or received_at, sampled.household,
        max_accuracy_m=float(config["LOCATION_MAX_ACCURACY_M"]),
        max_distance_m=float(config["LOCATION_MAX_DISTANCE_M"]),
        max_fix_age_s=float(config["LOCATION_MAX_FIX_AGE_S"]),
    )
    return {
        "client_uuid": submission.client_uuid,
        "content_sha256": content_sha256,
        "sampled_household_id": sampled.id,
        "household_id": sampled.household_id,
        "inspector_id": user.id,
        "questionnaire_id": submission.questionnaire.id,
        "answers": answers,
        "started_at": submission.started_at,
        "submitted_at": submission.submitted_at or received_at,
        "received_at": received_at,
        "latitude": fix.latitude,
        "longitude": fix.longitude,
        "accuracy_m": fix.accuracy_m,
        "fixed_at": submission.fixed_at,
        "distance_m": fix.distance_m,
        "location_flags": fix.flags,
        "photos_expected": 0,
        "photo_manifest": [],
    }


# Outcomes of suspected problems and problems found on site.


def _check_outcomes(submission: VisitSubmission, household_id: int, errors: dict,
                    user) -> dict[int, SuspectedProblem]:
    """Check that every shown problem has a valid outcome; return the problems by id."""
    shown = list(dict.fromkeys(submission.shown_problem_ids))
    requested = set(shown) | {outcome.problem_id for outcome in submission.outcomes}
    problems = {}
    if requested:
        problems = {problem.id: problem for problem in db.session.scalars(
            scoped_select(SuspectedProblem, user).where(SuspectedProblem.id.in_(requested),
                                                        SuspectedProblem.household_id == household_id)
        )}
    by_problem = {outcome.problem_id: outcome for outcome in submission.outcomes}
    for problem_id in set(by_problem) | set(shown):
        key = f"outcome_{problem_id}"
        outcome = by_problem.get(problem_id)
        if problem_id not in problems:
            errors[key] = _("Suspected problem %(id)s does not belong to this household.", id=problem_id)
        elif outcome is None or not outcome.outcome:
            errors[key] = _("Choose confirmed, not confirmed or explained for this problem.")
        elif outcome.outcome not in OUTCOMES:
            errors[key] = _(
                "%(value)s is not a verification outcome; use confirmed, not_confirmed or explained.",
                value=outcome.outcome,
            )
        elif outcome.outcome == "explained" and not outcome.note.strip():
            errors[f"note_{problem_id}"] = _("Write down the explanation the household gave.")
        elif len(outcome.note) > NOTE_MAX_LENGTH:
            errors[f"note_{problem_id}"] = _(
                "The note is %(length)d characters long; shorten it to at most %(max)d.",
                length=len(outcome.note), max=NOTE_MAX_LENGTH,
            )
    return problems


def _check_onsite_problems(problems: list[OnSiteProblem], errors: dict) -> None:
    if len(problems) > MAX_ONSITE_PROBLEMS:
        errors["onsite"] = _("Record at most %(max)d problems found on site in one visit.",
                             max=MAX_ONSITE_PROBLEMS)
        return
    for problem in problems:
        if problem.category not in ONSITE_CATEGORIES:
            errors[f"onsite_category_{problem.row}"] = _("Choose the kind of problem.")
        if not problem.description.strip():
            errors[f"onsite_description_{problem.row}"] = _("Describe the problem.")
        elif len(problem.description) > NOTE_MAX_LENGTH:
            errors[f"onsite_description_{problem.row}"] = _(
                "The description is %(length)d characters long; shorten it to at most %(max)d.",
                length=len(problem.description), max=NOTE_MAX_LENGTH)


def _finding_source(problem: SuspectedProblem) -> str:
    return "cross_check" if problem.rule_id.startswith(CROSS_CHECK_RULE_PREFIX) else "check_rule"


def _add_outcomes(result: SubmitResult, submission: VisitSubmission, problems: dict, user) -> None:
    visit = result.visit
    for outcome in submission.outcomes:
        problem = problems[outcome.problem_id]
        note = outcome.note.strip()
        visit.outcomes.append(
            VerificationOutcome(suspected_problem_id=problem.id, outcome=outcome.outcome, note=note)
        )
        if outcome.outcome != "confirmed":
            continue
        # Stored in the default locale, as the checks store their details, so it reads the same for everyone.
        with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
            category = rule_name(problem.rule_id)[:60]
            detail = problem_detail(problem)
        description = f"{detail}\n{note}" if note else detail
        result.findings.append(open_finding(
            visit.household, source=_finding_source(problem), category=category, description=description,
            user=user, visit=visit, sampled_household=visit.sampled_household, suspected_problem=problem,
        ))


def _add_onsite_findings(result: SubmitResult, submission: VisitSubmission, user) -> None:
    visit = result.visit
    for problem in submission.onsite_problems:
        result.findings.append(open_finding(
            visit.household, source="on_site", category=problem.category,
            description=problem.description.strip(), user=user, visit=visit,
            sampled_household=visit.sampled_household,
        ))


# Photos.


def _process_photos(submission: VisitSubmission, answers: dict, errors: dict) -> tuple[list, list]:
    """Decode every photo sent with the visit and add an error per rejected file.

    Returns the photos the visit keeps, sent or only declared, and (upload, processed) pairs for
    those sent. Photos for a question that the answers hide are dropped, like the answer.
    """
    if len(submission.photos) > MAX_PHOTOS:
        errors[GENERAL_PHOTO_FIELD] = _("Send at most %(max)d photos with one visit; %(count)d were chosen.",
                                        max=MAX_PHOTOS, count=len(submission.photos))
        return [], []
    limits = photos.PhotoLimits.from_config(current_app.config)
    declared = []
    processed = []
    for upload in submission.photos:
        if upload.question_key is not None and upload.question_key not in answers:
            continue
        declared.append(upload)
        if upload.data is None:
            continue
        try:
            image = photos.process_photo(upload.data, upload.filename, upload.field, limits)
            processed.append((upload, image))
        except FieldError as error:
            errors.setdefault(error.field, error.message)
    return declared, processed


def manifest_entry(upload: PhotoUpload) -> dict:
    """Return the JSON the visit keeps for a declared photo."""
    return {
        "client_uuid": upload.client_uuid,
        "sha256": upload.sha256,
        "field": upload.field,
        "index": upload.index,
        "question_key": upload.question_key,
        "taken_at": upload.taken_at.isoformat() if upload.taken_at else None,
        "latitude": upload.latitude,
        "longitude": upload.longitude,
    }


def _add_photos(result: SubmitResult, processed: list) -> None:
    visit = result.visit
    try:
        for upload, image in processed:
            stored_name, thumbnail_name = photos.write_photo_files(image)
            result.written_files += [stored_name, thumbnail_name]
            row = photos.new_photo_row(
                image,
                client_uuid=upload.client_uuid,
                question_key=upload.question_key,
                stored_name=stored_name,
                thumbnail_name=thumbnail_name,
            )
            visit.photos.append(row)
        db.session.flush()
    except Exception:
        photos.remove_photo_files(result.written_files)
        raise
