"""Supervisor pages: sampling rounds, sampled households, visits, findings and their rectification."""

import logging
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from fieldapp.auth.login import roles_required
from fieldapp.checks.services import problem_detail, rule_name
from fieldapp.errors import Conflict, FieldError
from fieldapp.extensions import db
from fieldapp.pagination import requested_page
from fieldapp.review import evidence, labels, queries, reinspection
from fieldapp.review.forms import (
    OVERDUE,
    BulkForm,
    CommentForm,
    EvidenceForm,
    FindingEditForm,
    FindingFilterForm,
    FindingStatusForm,
    ReinspectionRequestForm,
)
from fieldapp.review.models import TASK_STATUSES, Finding, FindingEvidence
from fieldapp.review.services import (
    EDITABLE_FIELDS,
    BulkChange,
    add_comment,
    allowed_statuses,
    bulk_update,
    change_status,
    edit_finding,
    events_since,
)
from fieldapp.sampling.models import SampledHousehold, SamplingRound
from fieldapp.scope import get_scoped_or_404, scoped_select
from fieldapp.visits import questionnaires
from fieldapp.visits.location import flag_label
from fieldapp.visits.models import Visit

logger = logging.getLogger(__name__)

bp = Blueprint("review", __name__, url_prefix="/review")

REVIEW_ROLES = ("admin", "supervisor")
# Evidence files never change, but they are personal data: browsers may keep them, proxies may not.
EVIDENCE_CACHE_SECONDS = 7 * 24 * 3600


@bp.context_processor
def inject_labels():
    return {
        "status_label": labels.status_label,
        "source_label": labels.source_label,
        "outcome_label": labels.outcome_label,
        "recheck_method_label": labels.recheck_method_label,
        "task_status_label": labels.task_status_label,
        "reinspection_result_label": labels.reinspection_result_label,
        "field_label": lambda name: str(EDITABLE_FIELDS.get(name, name)),
        "location_flag_label": flag_label,
        "rule_label": rule_name,
        "problem_detail": problem_detail,
        "format_distance": format_distance,
        "is_overdue": queries.is_overdue,
        "today": questionnaires.local_today(),
    }


def format_distance(metres: float | None) -> str:
    if metres is None:
        return ""
    if metres < 1000:
        return _("%(metres)d m", metres=round(metres))
    return _("%(km).1f km", km=metres / 1000)


# Rounds, sampled households and visits.


@bp.route("/rounds")
@roles_required(*REVIEW_ROLES)
def rounds():
    return render_template("review/rounds.html", rounds=queries.rounds_with_counts(current_user))


@bp.route("/rounds/<int:round_id>", endpoint="round")
@roles_required(*REVIEW_ROLES)
def round_detail(round_id: int):
    sampling_round = get_scoped_or_404(SamplingRound, round_id, current_user)
    visited = {"yes": True, "no": False}.get(request.args.get("visited", ""))
    page = queries.round_households(sampling_round, current_user, visited=visited, page=requested_page())
    return render_template(
        "review/round.html",
        sampling_round=sampling_round,
        summary=queries.round_summary(sampling_round, current_user),
        page=page,
        visited=request.args.get("visited", "") if visited is not None else "",
    )


@bp.route("/sampled/<int:sampled_id>")
@roles_required(*REVIEW_ROLES)
def sampled_household(sampled_id: int):
    sampled = get_scoped_or_404(SampledHousehold, sampled_id, current_user)
    household = sampled.household
    return render_template(
        "review/sampled_household.html",
        sampled=sampled,
        household=household,
        visits=queries.household_visits(sampled, current_user),
        findings=queries.household_findings(household, current_user),
        problems=queries.open_suspected_problems(household, current_user),
    )


@bp.route("/visits/<int:visit_id>")
@roles_required(*REVIEW_ROLES)
def visit(visit_id: int):
    visit = get_scoped_or_404(Visit, visit_id, current_user)
    findings = queries.visit_findings(visit, current_user)
    return render_template(
        "review/visit.html",
        visit=visit,
        answer_sections=group_by_section(questionnaires.answer_rows(visit)),
        findings=findings,
        status_forms={finding.id: _status_form(finding, next_url=request.path) for finding in findings},
        reinspection_task=reinspection.visit_task(visit, current_user),
    )


def group_by_section(rows: list[dict]) -> list[tuple[str, list[dict]]]:
    """Group answer rows by section, keeping the questionnaire's order of sections and rows."""
    sections: list[tuple[str, list[dict]]] = []
    for row in rows:
        section = row.get("section", "")
        if not sections or sections[-1][0] != section:
            sections.append((section, []))
        sections[-1][1].append(row)
    return sections


# Findings list and bulk actions.


@bp.route("/findings")
@roles_required(*REVIEW_ROLES)
def findings():
    form = FindingFilterForm(
        request.args,
        townships=queries.township_choices(current_user),
        rounds=queries.round_choices(current_user),
    )
    if form.validate():
        status = form.status.data or None
        page = queries.findings_page(
            current_user,
            status=status if status != OVERDUE else None,
            overdue_on=questionnaires.local_today() if status == OVERDUE else None,
            source=form.source.data or None,
            township_code=form.township.data or None,
            round_id=int(form.round.data) if form.round.data else None,
            page=requested_page(),
        )
    else:
        page = queries.Page(items=[], page=1, pages=1, total=0)
    filters = {name: value for name, value in request.args.items() if name in form and value}
    bulk = BulkForm(formdata=None)
    bulk.set_inspectors(reinspection.inspectors_in_scope(current_user))
    bulk.next.data = request.full_path if request.query_string else request.path
    return render_template("review/findings.html", form=form, page=page, filters=filters, bulk=bulk)


@bp.route("/findings/bulk", methods=["POST"])
@roles_required(*REVIEW_ROLES)
def findings_bulk():
    form = BulkForm()
    form.set_inspectors(reinspection.inspectors_in_scope(current_user))
    back = _safe_next(form.next.data) or url_for("review.findings")
    if not form.validate():
        for field_name, errors in form.errors.items():
            flash(f"{getattr(form, field_name).label.text}: {' '.join(errors)}", "error")
        return redirect(back)
    try:
        versions = _selected_versions()
        if form.action.data == "reinspect":
            message = _bulk_reinspect(form, list(versions))
        else:
            message = _bulk_edit(form, versions)
    except (FieldError, Conflict) as error:
        db.session.rollback()
        logger.info("bulk action by user %s rejected: %s", current_user.id, error.message)
        flash(error.message, "error")
        return redirect(back)
    db.session.commit()
    flash(message, "success")
    return redirect(back)


def _selected_versions() -> dict[int, int | None]:
    """Return the ticked finding ids with the version each row showed."""
    versions = {}
    for raw in request.form.getlist("ids"):
        if not raw.isdigit():
            raise FieldError("ids", _("%(value)s is not a finding number. Nothing was changed.", value=raw))
        seen = request.form.get(f"version-{raw}", "")
        versions[int(raw)] = int(seen) if seen.isdigit() else None
    return versions


def _bulk_edit(form: BulkForm, versions: dict[int, int | None]) -> str:
    change = BulkChange(
        responsible_unit=(form.responsible_unit.data or "").strip() or None,
        responsible_person=(form.responsible_person.data or "").strip() or None,
        deadline=form.deadline.data,
        comment=form.comment.data or "",
    )
    changed = bulk_update(versions, change, user=current_user)
    return ngettext("%(count)d of %(num)d finding changed.", "%(count)d of %(num)d findings changed.",
                    len(versions), count=len(changed))


def _bulk_reinspect(form: BulkForm, ids: list[int]) -> str:
    findings = db.session.scalars(scoped_select(Finding, current_user).where(Finding.id.in_(ids))).all()
    missing = sorted(set(ids) - {finding.id for finding in findings})
    if missing:
        raise FieldError("ids", _(
            "Findings %(ids)s do not exist or are outside your area. Nothing was changed.",
            ids=", ".join(map(str, missing))))
    inspector = reinspection.inspector_by_id(form.inspector.data)
    tasks = reinspection.create_tasks(list(findings), inspector, instructions=form.comment.data or "",
                                      user=current_user)
    return ngettext("%(num)d re-inspection task created.", "%(num)d re-inspection tasks created.", len(tasks))


# One finding.


@bp.route("/findings/<int:finding_id>", methods=["GET", "POST"])
@roles_required(*REVIEW_ROLES)
def finding(finding_id: int):
    finding = get_scoped_or_404(Finding, finding_id, current_user)
    form = _status_form(finding)
    if not form.validate_on_submit():
        return _render_finding(finding, status_form=form)

    try:
        change_status(
            finding,
            form.status.data,
            comment=form.comment.data or "",
            user=current_user,
            expected_version=form.version.data,
        )
    except FieldError as error:
        db.session.rollback()
        logger.info("status change of finding %s rejected: %s", finding_id, error.message)
        _form_field(form, error.field).errors.append(error.message)
        return _render_finding(finding, status_form=form)
    except Conflict:
        return _status_conflict(finding_id, form)

    db.session.commit()
    flash(
        _("Finding %(id)d is now %(status)s.", id=finding.id, status=labels.status_label(finding.status)),
        "success",
    )
    return redirect(_safe_next(form.next.data) or url_for("review.finding", finding_id=finding.id))


@bp.route("/findings/<int:finding_id>/edit", methods=["GET", "POST"])
@roles_required(*REVIEW_ROLES)
def finding_edit(finding_id: int):
    finding = get_scoped_or_404(Finding, finding_id, current_user)
    form = FindingEditForm(obj=finding if request.method == "GET" else None)
    if request.method == "GET":
        form.set_version(finding.version)
        form.comment.data = ""
    if not form.validate_on_submit():
        return render_template("review/finding_edit.html", finding=finding, form=form)
    try:
        changes = edit_finding(finding, form.values(), comment=form.comment.data or "", user=current_user,
                               expected_version=form.version.data)
    except FieldError as error:
        db.session.rollback()
        getattr(form, error.field, form.category).errors.append(error.message)
        return render_template("review/finding_edit.html", finding=finding, form=form)
    except Conflict:
        db.session.rollback()
        finding = _reloaded(finding_id)
        others = events_since(finding, form.version.data)
        form.set_version(finding.version)
        return render_template("review/finding_edit.html", finding=finding, form=form, conflict=True,
                               other_events=others), 409
    db.session.commit()
    if changes:
        flash(_("Finding %(id)d saved.", id=finding.id), "success")
    else:
        flash(_("Nothing was changed."), "info")
    return redirect(url_for("review.finding", finding_id=finding.id))


@bp.route("/findings/<int:finding_id>/evidence", methods=["POST"])
@roles_required(*REVIEW_ROLES)
def evidence_upload(finding_id: int):
    finding = get_scoped_or_404(Finding, finding_id, current_user)
    form = EvidenceForm()
    if not form.validate_on_submit():
        return _render_finding(finding, evidence_form=form), 422
    upload = form.file.data
    limit = int(current_app.config["EVIDENCE_MAX_BYTES"])
    data = upload.stream.read(limit + 1)
    try:
        upload = evidence.EvidenceUpload(upload.filename or "", data, form.note.data or "")
        result = evidence.add_evidence(finding, upload, user=current_user)
    except FieldError as error:
        db.session.rollback()
        getattr(form, error.field, form.file).errors.append(error.message)
        return _render_finding(finding, evidence_form=form), 422
    except Conflict as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("review.finding", finding_id=finding_id))
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        evidence.remove_files(result.written_files)
        raise
    flash(_("The evidence was added."), "success")
    return redirect(url_for("review.finding", finding_id=finding.id) + "#evidence")


@bp.route("/findings/<int:finding_id>/evidence/<int:evidence_id>/<any(full, thumb):size>")
@roles_required(*REVIEW_ROLES)
def evidence_file(finding_id: int, evidence_id: int, size: str):
    finding = get_scoped_or_404(Finding, finding_id, current_user)
    item = db.session.get(FindingEvidence, evidence_id)
    if item is None or item.finding_id != finding.id or item.kind == "visit_photo":
        abort(404)
    if size == "thumb" and item.kind != "photo":
        abort(404)
    extension = ".jpg" if item.kind == "photo" else "." + item.stored_name.rsplit(".", 1)[-1]
    suffix = "-thumb" if size == "thumb" else ""
    try:
        response = send_file(
            evidence.file_path(item, size), mimetype=item.content_type, conditional=True, etag=True,
            as_attachment=item.kind == "document", max_age=EVIDENCE_CACHE_SECONDS,
            download_name=f"finding-{finding.id}-evidence-{item.id}{suffix}{extension}",
        )
    except FileNotFoundError:
        logger.error("evidence %s of finding %s: file is missing", item.id, finding.id)
        abort(404)
    response.cache_control.public = False
    response.cache_control.private = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.vary.add("Cookie")
    return response


@bp.route("/findings/<int:finding_id>/comments", methods=["POST"])
@roles_required(*REVIEW_ROLES)
def finding_comment(finding_id: int):
    finding = get_scoped_or_404(Finding, finding_id, current_user)
    form = CommentForm()
    if not form.validate_on_submit():
        return _render_finding(finding, comment_form=form), 422
    try:
        add_comment(finding, form.text.data, user=current_user)
    except FieldError as error:
        db.session.rollback()
        form.text.errors.append(error.message)
        return _render_finding(finding, comment_form=form), 422
    db.session.commit()
    flash(_("The comment was added."), "success")
    return redirect(url_for("review.finding", finding_id=finding.id) + "#history")


@bp.route("/findings/<int:finding_id>/reinspection", methods=["POST"])
@roles_required(*REVIEW_ROLES)
def reinspection_request(finding_id: int):
    finding = get_scoped_or_404(Finding, finding_id, current_user)
    form = _reinspection_form(finding)
    if not form.validate_on_submit():
        return _render_finding(finding, reinspection_form=form), 422
    try:
        reinspection.create_tasks([finding], reinspection.inspector_by_id(form.inspector.data),
                                  instructions=form.instructions.data or "", user=current_user)
    except FieldError as error:
        db.session.rollback()
        if error.field not in ("inspector", "instructions"):
            flash(error.message, "error")
            return redirect(url_for("review.finding", finding_id=finding_id) + "#reinspection")
        getattr(form, error.field).errors.append(error.message)
        return _render_finding(finding, reinspection_form=form), 422
    db.session.commit()
    flash(_("A re-inspection task was created for the inspector."), "success")
    return redirect(url_for("review.finding", finding_id=finding.id))


@bp.route("/reinspections")
@roles_required(*REVIEW_ROLES)
def reinspections():
    status = request.args.get("status", "open")
    if status not in TASK_STATUSES:
        status = ""
    page = reinspection.tasks_page(current_user, status=status or None, page=requested_page())
    return render_template("review/reinspections.html", page=page, status=status)


@bp.route("/reinspections/<int:task_id>/cancel", methods=["POST"])
@roles_required(*REVIEW_ROLES)
def reinspection_cancel(task_id: int):
    task = reinspection.get_scoped_task_or_404(task_id, current_user)
    try:
        reinspection.cancel_task(task, user=current_user)
    except FieldError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("review.reinspections"))
    db.session.commit()
    flash(_("Re-inspection task %(id)d was cancelled.", id=task.id), "success")
    return redirect(_safe_next(request.form.get("next")) or url_for("review.reinspections"))


# Helpers.


def _render_finding(finding: Finding, **forms):
    """Render the finding page; forms not given start empty."""
    status_form = forms.pop("status_form", None) or _status_form(finding)
    return render_template(
        "review/finding.html",
        finding=finding,
        form=status_form,
        evidence_form=forms.pop("evidence_form", None) or EvidenceForm(formdata=None),
        comment_form=forms.pop("comment_form", None) or CommentForm(formdata=None),
        reinspection_form=forms.pop("reinspection_form", None) or _reinspection_form(finding, formdata=None),
        tasks=reinspection.finding_tasks(finding, current_user),
        accepted=",".join(evidence.accepted_extensions()),
        **forms,
    )


def _status_form(finding: Finding, next_url: str = "") -> FindingStatusForm:
    """Build the status form for ``finding``. On a GET request the form starts from the current version."""
    form = FindingStatusForm()
    form.set_statuses(allowed_statuses(finding))
    if request.method == "GET":
        form.set_version(finding.version)
        form.next.data = next_url
    return form


def _reinspection_form(finding: Finding, **kwargs) -> ReinspectionRequestForm:
    form = ReinspectionRequestForm(**kwargs)
    form.set_inspectors(reinspection.inspector_choices([finding.household], current_user))
    return form


def _reloaded(finding_id: int) -> Finding:
    finding = get_scoped_or_404(Finding, finding_id, current_user)
    db.session.refresh(finding)
    return finding


def _status_conflict(finding_id: int, form: FindingStatusForm):
    """Show the finding as it is now and the change that came first, keeping the user's input."""
    db.session.rollback()
    finding = _reloaded(finding_id)
    others = events_since(finding, form.version.data)
    form.set_statuses(allowed_statuses(finding))
    form.set_version(finding.version)
    return _render_finding(finding, status_form=form, conflict=True, other_events=others), 409


def _form_field(form, name: str):
    return getattr(form, name, None) or form.status


def _safe_next(target: str | None) -> str | None:
    """Accept only a path on this site as the page to return to."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
