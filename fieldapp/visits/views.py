"""The inspector's phone pages: assignments, a household, the visit form and its receipt; photo files."""

import logging

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from fieldapp.auth.login import roles_required
from fieldapp.checks.services import problem_detail, rule_name
from fieldapp.errors import Conflict
from fieldapp.extensions import db
from fieldapp.review import reinspection
from fieldapp.sampling.models import SampledHousehold
from fieldapp.scope import get_scoped_or_404
from fieldapp.visits import forms, location, photos, questionnaires, services
from fieldapp.visits.models import Photo, Questionnaire, Visit

logger = logging.getLogger(__name__)

bp = Blueprint("visits", __name__, url_prefix="/visits")

# Stored photos never change, but they are personal data: browsers may keep them, proxies may not.
PHOTO_CACHE_SECONDS = 7 * 24 * 3600


@bp.route("/")
@roles_required("inspector")
def assignments():
    sampled_households = services.assigned_households(current_user)
    rows = sorted(
        (_assignment_row(sampled) for sampled in sampled_households),
        key=lambda row: row["is_visited"],
    )
    visited = sum(row["is_visited"] for row in rows)
    return render_template(
        "visits/assignments.html", rows=rows, visited=visited,
        reinspection_tasks=reinspection.open_tasks_for_inspector(current_user),
        reinspection_url=lambda task: url_for("visits.new", sampled_id=task.sampled_household_id,
                                              reinspection_task=task.id),
    )


def _assignment_row(sampled: SampledHousehold) -> dict:
    household = sampled.household
    head = household.head or (household.members[0] if household.members else None)
    return {
        "sampled": sampled,
        "household": household,
        "head": head,
        "is_visited": bool(sampled.visits),
        "last_visit": sampled.visits[-1] if sampled.visits else None,
    }


@bp.route("/households/<int:sampled_id>")
@roles_required("inspector")
def household(sampled_id: int):
    sampled = _assigned_or_404(sampled_id)
    problems = services.open_problems(sampled.household_id, current_user)
    today = questionnaires.local_today()
    return render_template(
        "visits/household.html",
        sampled=sampled,
        household=sampled.household,
        ages={member.id: questionnaires.member_age(member, today) for member in sampled.household.members},
        problems=[_problem_view(problem) for problem in problems],
    )


@bp.route("/households/<int:sampled_id>/new", methods=["GET", "POST"])
@roles_required("inspector")
def new(sampled_id: int):
    # A re-inspection task lets its inspector visit a household assigned to someone else.
    sampled = get_scoped_or_404(SampledHousehold, sampled_id, current_user)
    task = reinspection.submission_task(sampled, request.values, current_user, require_open=True)
    if task is None:
        sampled = _assigned_or_404(sampled_id)
    form = forms.VisitForm()
    if request.method == "GET":
        questionnaire = questionnaires.current()
        form.questionnaire_id.data = str(questionnaire.id)
        return _render_form(sampled, form, questionnaire, values=None, errors={}, task=task)

    questionnaire = _posted_questionnaire(form.questionnaire_id.data)
    if not form.validate():
        flash(_("The form had expired. Check your answers and submit again."), "error")
        return _render_form(sampled, form, questionnaire, values=request.form, errors={}, status=400,
                            task=task)

    submission = forms.submission_from_request(request.form, request.files, questionnaire, sampled.household)
    try:
        result = services.submit_visit(sampled, submission, user=current_user)
    except services.VisitRejected as rejected:
        db.session.rollback()
        flash(ngettext("The visit was not saved: correct the %(num)d marked answer and submit again. "
                       "Choose the photos again too, because a page cannot keep chosen files.",
                       "The visit was not saved: correct the %(num)d marked answers and submit again. "
                       "Choose the photos again too, because a page cannot keep chosen files.",
                       len(rejected.errors)), "error")
        return _render_form(sampled, form, questionnaire, values=request.form, errors=rejected.errors,
                            status=422, task=task)
    except Conflict as conflict:
        db.session.rollback()
        return render_template("visits/conflict.html", sampled=sampled, message=conflict.message), 409

    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        photos.remove_photo_files(result.written_files)
        raise
    if result.created:
        flash(_("The visit was saved."), "success")
    else:
        flash(_("This visit had already been received; nothing was saved twice."), "info")
    return redirect(url_for("visits.visit", visit_id=result.visit.id))


@bp.route("/<int:visit_id>")
@roles_required("inspector", "supervisor", "admin")
def visit(visit_id: int):
    record = get_scoped_or_404(Visit, visit_id, current_user)
    if current_user.is_inspector and record.inspector_id != current_user.id:
        abort(404)
    return render_template(
        "visits/visit.html",
        visit=record,
        rows=questionnaires.answer_rows(record),
        flags=[location.flag_label(flag) for flag in record.location_flags or []],
        outcomes=[(_problem_view(o.suspected_problem), services.OUTCOME_LABELS[o.outcome], o.note)
                  for o in record.outcomes],
    )


@bp.route("/photos/<int:photo_id>/<any(full, thumb):size>")
@roles_required("inspector", "supervisor", "admin")
def photo(photo_id: int, size: str):
    record = get_scoped_or_404(Photo, photo_id, current_user)
    if current_user.is_inspector and record.visit.inspector_id != current_user.id:
        abort(404)
    name = record.stored_name if size == "full" else record.thumbnail_name
    try:
        response = send_file(
            photos.photo_path(name), mimetype="image/jpeg", conditional=True, etag=True,
            download_name=f"photo-{record.id}-{size}.jpg", max_age=PHOTO_CACHE_SECONDS,
        )
    except FileNotFoundError:
        logger.error("photo %s: file %s is missing from %s",
                     record.id, name, current_app.config["UPLOAD_FOLDER"])
        abort(404)
    response.cache_control.public = False
    response.cache_control.private = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.vary.add("Cookie")
    return response


def _assigned_or_404(sampled_id: int) -> SampledHousehold:
    """Load a sampled household in the user's scope and assigned to them, or abort with 404."""
    sampled = get_scoped_or_404(SampledHousehold, sampled_id, current_user)
    if sampled.inspector_id != current_user.id:
        abort(404)
    return sampled


def _posted_questionnaire(raw_id: str | None) -> Questionnaire:
    """Return the questionnaire version the form was rendered with, or the current one."""
    if raw_id and raw_id.isdigit():
        questionnaire = db.session.get(Questionnaire, int(raw_id))
        if questionnaire is not None:
            return questionnaire
    return questionnaires.current()


def _problem_view(problem) -> dict:
    return {
        "id": problem.id,
        "rule": rule_name(problem.rule_id),
        "detail": problem_detail(problem),
        "member": problem.member_name,
        "severity": problem.severity,
    }


def _render_form(sampled, form, questionnaire, *, values, errors: dict, status: int = 200, task=None):
    household = sampled.household
    today = questionnaires.local_today()
    sections = forms.build_sections(questionnaire.definition, household, values, errors, today)
    problems = [_problem_view(problem) for problem in services.open_problems(household.id, current_user)]
    posted = values if values is not None else {}
    return render_template(
        "visits/new.html",
        sampled=sampled,
        household=household,
        form=form,
        questionnaire=questionnaire,
        title=questionnaires.localized(questionnaire.definition["title"]),
        sections=sections,
        problems=problems,
        outcome_labels=services.OUTCOME_LABELS,
        categories=services.ONSITE_CATEGORIES,
        onsite_rows=forms.onsite_row_count(posted),
        posted=posted,
        errors=errors,
        max_photos=questionnaires.MAX_PHOTOS_PER_QUESTION,
        today=today,
        max_accuracy_m=current_app.config["LOCATION_MAX_ACCURACY_M"],
        task=task,
    ), status
