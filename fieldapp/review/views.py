"""Supervisor pages: sampling rounds, sampled households, visits, findings and their status changes."""

import logging
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from fieldapp.auth.login import roles_required
from fieldapp.checks.services import problem_detail, rule_name
from fieldapp.errors import Conflict, FieldError
from fieldapp.extensions import db
from fieldapp.review import labels, queries
from fieldapp.review.forms import FindingFilterForm, FindingStatusForm
from fieldapp.review.models import Finding
from fieldapp.review.services import allowed_statuses, change_status
from fieldapp.sampling.models import SampledHousehold, SamplingRound
from fieldapp.scope import get_scoped_or_404
from fieldapp.visits import questionnaires
from fieldapp.visits.location import flag_label
from fieldapp.visits.models import Visit

logger = logging.getLogger(__name__)

bp = Blueprint("review", __name__, url_prefix="/review")

REVIEW_ROLES = ("admin", "supervisor")


@bp.context_processor
def inject_labels():
    return {
        "status_label": labels.status_label,
        "source_label": labels.source_label,
        "outcome_label": labels.outcome_label,
        "location_flag_label": flag_label,
        "rule_label": rule_name,
        "problem_detail": problem_detail,
        "format_distance": format_distance,
    }


def format_distance(metres: float | None) -> str:
    if metres is None:
        return ""
    if metres < 1000:
        return _("%(metres)d m", metres=round(metres))
    return _("%(km).1f km", km=metres / 1000)


def _page_arg() -> int:
    return request.args.get("page", 1, type=int) or 1


@bp.route("/rounds")
@roles_required(*REVIEW_ROLES)
def rounds():
    return render_template("review/rounds.html", rounds=queries.rounds_with_counts(current_user))


@bp.route("/rounds/<int:round_id>", endpoint="round")
@roles_required(*REVIEW_ROLES)
def round_detail(round_id: int):
    sampling_round = get_scoped_or_404(SamplingRound, round_id, current_user)
    visited = {"yes": True, "no": False}.get(request.args.get("visited", ""))
    page = queries.round_households(sampling_round, current_user, visited=visited, page=_page_arg())
    return render_template(
        "review/round.html",
        sampling_round=sampling_round,
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


@bp.route("/findings")
@roles_required(*REVIEW_ROLES)
def findings():
    form = FindingFilterForm(
        request.args,
        townships=queries.township_choices(current_user),
        rounds=queries.round_choices(current_user),
    )
    if form.validate():
        page = queries.findings_page(
            current_user,
            status=form.status.data or None,
            township_code=form.township.data or None,
            round_id=int(form.round.data) if form.round.data else None,
            page=_page_arg(),
        )
    else:
        page = queries.Page(items=[], page=1, pages=1, total=0)
    filters = {name: value for name, value in request.args.items() if name in form and value}
    return render_template("review/findings.html", form=form, page=page, filters=filters)


@bp.route("/findings/<int:finding_id>", methods=["GET", "POST"])
@roles_required(*REVIEW_ROLES)
def finding(finding_id: int):
    finding = get_scoped_or_404(Finding, finding_id, current_user)
    form = _status_form(finding)
    if not form.validate_on_submit():
        return render_template("review/finding.html", finding=finding, form=form)

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
        return render_template("review/finding.html", finding=finding, form=form)
    except Conflict:
        return _conflict_page(finding_id, form)

    db.session.commit()
    flash(
        _("Finding %(id)d is now %(status)s.", id=finding.id, status=labels.status_label(finding.status)),
        "success",
    )
    return redirect(_safe_next(form.next.data) or url_for("review.finding", finding_id=finding.id))


def _status_form(finding: Finding, next_url: str = "") -> FindingStatusForm:
    """Build the status form for ``finding``. On a GET request the form starts from the current version."""
    form = FindingStatusForm()
    form.set_statuses(allowed_statuses(finding))
    if request.method == "GET":
        form.set_version(finding.version)
        form.next.data = next_url
    return form


def _conflict_page(finding_id: int, form: FindingStatusForm):
    """Show the finding as it is now, keeping the user's comment and chosen status for a resubmission."""
    db.session.rollback()
    finding = get_scoped_or_404(Finding, finding_id, current_user)
    db.session.refresh(finding)
    form.set_statuses(allowed_statuses(finding))
    form.set_version(finding.version)
    return render_template("review/finding.html", finding=finding, form=form, conflict=True), 409


def _form_field(form: FindingStatusForm, name: str):
    return getattr(form, name, None) or form.status


def _safe_next(target: str | None) -> str | None:
    """Accept only a path on this site as the page to return to."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
