"""The sync API under ``/api/v1``: assignments and questionnaires down, visits and photos up.

``openapi.json`` describes every route. Two routes authenticate with the login session and keep
the CSRF check: ``session`` and ``POST tokens``. Every other route authenticates with a bearer
sync token only (see ``fieldapp.api.tokens``).
"""

import logging

from flask import Blueprint, current_app, g, jsonify, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import bindparam, select
from sqlalchemy.orm import contains_eager
from werkzeug.exceptions import HTTPException

from fieldapp.api import openapi, payloads, tokens
from fieldapp.api.auth import token_required, token_signature_required, token_user
from fieldapp.api.responses import ERROR_CODES, ApiError, api_error_response, http_error_response
from fieldapp.errors import Conflict
from fieldapp.extensions import db
from fieldapp.idnumbers import mask
from fieldapp.register.models import Household, Member
from fieldapp.review import reinspection
from fieldapp.sampling.models import SampledHousehold
from fieldapp.scope import cached_scoped_statement, scoped_select
from fieldapp.visits import forms, photo_uploads, photos, questionnaires, services
from fieldapp.visits.models import Questionnaire

logger = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

bp.register_error_handler(ApiError, api_error_response)
# By status code as well as by class: Flask prefers the application's handler for a status code
# (the HTML error page) over a blueprint's handler for a class.
bp.register_error_handler(HTTPException, http_error_response)
for _status in (*ERROR_CODES, 500):
    bp.register_error_handler(_status, http_error_response)


@bp.after_request
def no_store(response):
    """Keep API responses out of every cache, because they contain personal data and sync state."""
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.get("/openapi.json")
def openapi_document():
    response = jsonify(openapi.document())
    response.headers["Cache-Control"] = "no-cache"
    return response


# Routes authenticated by the login session.


def _session_inspector():
    """Return the logged-in inspector, or raise 401 (not logged in) or 404 (another role)."""
    if not current_user.is_authenticated:
        raise ApiError(401, "unauthorized", _("You are not logged in. Log in again on this phone."))
    if not current_user.is_inspector:
        raise ApiError(404, "not_found", _("Only inspectors sync visits."))
    return current_user


def _user_json(user) -> dict:
    return {"id": user.id, "username": user.username, "display_name": user.display_name}


@bp.get("/session")
def session():
    """Tell the page who is logged in and give it a CSRF token for ``POST /tokens``."""
    user = _session_inspector()
    return jsonify({"user": _user_json(user), "csrf_token": generate_csrf()})


@bp.post("/tokens")
def issue_token():
    user = _session_inspector()
    token, row = tokens.issue(user, user_agent=request.headers.get("User-Agent", ""))
    db.session.commit()
    body = {
        "token": token,
        "expires_at": row.expires_at.isoformat(),
        "renew_after": tokens.renew_after(row).isoformat(),
        "user": _user_json(user),
    }
    return jsonify(body), 201


# Routes authenticated by a sync token.


@bp.delete("/tokens/current")
@token_required
def revoke_token(user):
    tokens.revoke(g.api_token, user=user)
    db.session.commit()
    return "", 204


@bp.get("/assignments")
@token_required
def assignments(user):
    rows = []
    for sampled in services.assigned_households(user):
        household = sampled.household
        head = household.head or (household.members[0] if household.members else None)
        rows.append({
            "sampled_household_id": sampled.id,
            "round": sampled.sampling_round.name,
            "household_no": household.household_no,
            "head_name": head.name if head else "",
            "head_id_number": mask(head.id_number) if head else "",
            "township": household.township or "",
            "village": household.village or "",
            "visits_received": len(sampled.visits),
            "pages": {
                "household": url_for("visits.household", sampled_id=sampled.id),
                "visit_form": url_for("visits.new", sampled_id=sampled.id),
            },
        })
    pages = [url_for("visits.assignments")]
    # Open re-inspection tasks have their own visit form, which the phone keeps as well.
    for task in reinspection.open_tasks_for_inspector(user):
        pages.append(url_for("visits.new", sampled_id=task.sampled_household_id, reinspection_task=task.id))
    db.session.commit()
    return jsonify({"assignments": rows, "pages": pages})


@bp.get("/questionnaires/<code>")
@token_required
def questionnaire(code: str, user):
    try:
        current = questionnaires.current(code)
    except LookupError as error:
        raise ApiError(404, "not_found", _("There is no questionnaire %(code)s.", code=code)) from error
    db.session.commit()
    return jsonify({
        "id": current.id,
        "code": current.code,
        "version": current.version,
        "title": current.title,
        "definition": current.definition,
    })


@bp.post("/visits")
@token_required
def upload_visit(user):
    _check_length(current_app.config["API_VISIT_MAX_BYTES"])
    body = request.get_json(silent=True)
    payload = payloads.visit_payload(body)
    sampled = _sampled_or_404(payload.sampled_household_id, user)
    questionnaire = _questionnaire(payload.questionnaire_id)
    uploads = payloads.photo_uploads(payload.photos, questionnaire.definition)
    payload.fields.setlist("client_uuid", [payload.client_uuid])
    submission = forms.submission_from_form(payload.fields, uploads, questionnaire, sampled.household)
    try:
        result = services.submit_visit(sampled, submission, user=user)
    except services.VisitRejected as rejected:
        db.session.rollback()
        logger.info("visit %s of user %s rejected: invalid %s", payload.client_uuid, user.id,
                    ", ".join(sorted(rejected.errors)))
        message = ngettext("The visit was not saved: %(num)d answer is missing or invalid.",
                           "The visit was not saved: %(num)d answers are missing or invalid.",
                           len(rejected.errors))
        raise ApiError(422, "invalid", message, errors=rejected.errors) from rejected
    except Conflict as conflict:
        db.session.rollback()
        raise ApiError(409, "conflict", conflict.message) from conflict
    # Built before the commit, which expires every loaded record.
    body = photo_uploads.visit_status(result.visit)
    body.update(created=result.created, url=url_for("visits.visit", visit_id=result.visit.id))
    _commit(result.written_files)
    return jsonify(body), 201 if result.created else 200


@bp.get("/visits/<visit_uuid>")
@token_required
def visit_status(visit_uuid: str, user):
    visit = photo_uploads.own_visit_or_404(payloads.canonical_uuid(visit_uuid, "visit_uuid"), user)
    body = photo_uploads.visit_status(visit)
    db.session.commit()
    return jsonify(body)


@bp.put("/visits/<visit_uuid>/photos/<photo_uuid>")
@token_signature_required
def upload_photo(visit_uuid: str, photo_uuid: str, token_row_id: int):
    """Store one photo of a visit. The body is the image; ``X-Content-SHA256`` is its SHA-256."""
    visit_uuid = payloads.canonical_uuid(visit_uuid, "visit_uuid")
    photo_uuid = payloads.canonical_uuid(photo_uuid, "photo_uuid")
    sha256 = request.headers.get("X-Content-SHA256", "").strip().lower()
    if not payloads.SHA256_PATTERN.fullmatch(sha256):
        raise ApiError(400, "bad_request", _("Send the photo's SHA-256 as 64 hexadecimal digits in the "
                                             "X-Content-SHA256 header."))
    data = request.get_data(cache=False)
    if not data:
        raise ApiError(400, "bad_request", _("The request has no photo in its body."))
    try:
        photo_uploads.check_sha256(data, sha256)
    except photo_uploads.PhotoRejected as rejected:
        raise ApiError(422, "damaged", rejected.message) from rejected

    user = token_user(token_row_id)
    visit = photo_uploads.own_visit_or_404(visit_uuid, user)
    entry = photo_uploads.declared_photo(visit, photo_uuid)
    try:
        photo_uploads.check_declared(entry, sha256)
        stored = photo_uploads.stored_photo(photo_uuid)
        if stored is not None:
            result = photo_uploads.repeat_or_conflict(stored, visit, sha256)
            body = _photo_body(result)
            db.session.commit()
            return jsonify(body), 200
    except Conflict as conflict:
        db.session.rollback()
        raise ApiError(409, "conflict", conflict.message) from conflict
    # End the transaction before decoding: on SQLite a transaction holds the database's write
    # lock from its first statement, and decoding and re-encoding a photo takes far longer than
    # the queries, so other requests would wait for it.
    db.session.commit()

    try:
        image = photo_uploads.decode(data)
    except photo_uploads.PhotoRejected as rejected:
        raise ApiError(422, "invalid", rejected.message) from rejected
    visit = photo_uploads.own_visit_or_404(visit_uuid, user, lock=True)
    entry = photo_uploads.declared_photo(visit, photo_uuid)
    try:
        result = photo_uploads.store_photo(visit, entry, image, user)
    except Conflict as conflict:
        db.session.rollback()
        raise ApiError(409, "conflict", conflict.message) from conflict
    body = _photo_body(result)
    _commit(result.written_files)
    return jsonify(body), 201 if result.created else 200


def _photo_body(result: photo_uploads.PhotoResult) -> dict:
    return {
        "client_uuid": result.photo.client_uuid,
        "photo_id": result.photo.id,
        "created": result.created,
        "visit": photo_uploads.visit_status(result.visit),
    }


def _sampled_or_404(sampled_id: int, user) -> SampledHousehold:
    """Load a sampled household in the user's scope with its household and members, or abort with 404."""
    stmt = cached_scoped_statement("api.sampled_household", user, _sampled_household_statement)
    sampled = db.session.execute(stmt, {"sampled_id": sampled_id}).unique().scalar_one_or_none()
    if sampled is None:
        raise ApiError(404, "not_found", _("Not found: the record does not exist, or it is not yours."))
    return sampled


def _sampled_household_statement(user):
    # scoped_select joins the household to check the scope, so it loads with the same row. Only
    # the columns a visit upload reads are loaded, and any other attribute loads when first read.
    return (
        scoped_select(SampledHousehold, user)
        .where(SampledHousehold.id == bindparam("sampled_id"))
        .options(
            contains_eager(SampledHousehold.household)
            .load_only(Household.id, Household.latitude, Household.longitude)
            .joinedload(Household.members)
            .load_only(Member.id, Member.household_id, Member.birth_date, Member.id_number)
        )
    )


# Built once: a statement object keeps its cache key, which SQLAlchemy otherwise recomputes per request.
_CURRENT_QUESTIONNAIRE_ID = (select(Questionnaire.id).where(Questionnaire.code == questionnaires.DEFAULT_CODE)
                             .order_by(Questionnaire.version.desc()).limit(1))


def _questionnaire(questionnaire_id: int | None) -> questionnaires.StoredVersion:
    """Return the questionnaire version the form showed, or the current one when it names none."""
    if questionnaire_id is None:
        # Only the id: the definition comes from the per-process cache of stored versions.
        questionnaire_id = db.session.scalar(_CURRENT_QUESTIONNAIRE_ID)
        if questionnaire_id is None:
            questionnaire_id = questionnaires.current().id  # raises LookupError naming the command
    questionnaire = questionnaires.stored_version(questionnaire_id)
    if questionnaire is None:
        raise ApiError(422, "invalid", _("Questionnaire %(id)d does not exist; reload the visit form.",
                                         id=questionnaire_id),
                       errors={"questionnaire_id": _("Unknown questionnaire.")})
    return questionnaire


def _check_length(limit: int) -> None:
    request.max_content_length = limit
    length = request.content_length
    if length is not None and length > limit:
        raise ApiError(413, "too_large", _("The request has %(size)d bytes; at most %(max)d are accepted.",
                                           size=length, max=limit))


def _commit(written_files: list[str]) -> None:
    """Commit the request's changes; on failure delete the photo files they referred to."""
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        photos.remove_photo_files(written_files)
        raise
