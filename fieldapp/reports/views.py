"""Reports for supervisors and administrators: the dashboard, the map and the exports."""

import logging
from urllib.parse import quote

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from fieldapp.auth.login import roles_required
from fieldapp.checks import export as problem_export
from fieldapp.checks.queries import ProblemFilters
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.reports import dashboard, jobs, mapdata
from fieldapp.reports.forms import DashboardFilterForm, ExportForm, MapFilterForm
from fieldapp.reports.models import ExportJob
from fieldapp.review import labels, queries
from fieldapp.review.models import FINDING_STATUSES
from fieldapp.visits.questionnaires import local_today

logger = logging.getLogger(__name__)

bp = Blueprint("reports", __name__, url_prefix="/reports")

REPORT_ROLES = ("admin", "supervisor")

EXPORT_STATUS_LABELS = {
    "queued": _l("Waiting to start"),
    "running": _l("Writing the file"),
    "done": _l("Ready to download"),
    "failed": _l("Failed"),
}


@bp.context_processor
def inject_labels():
    return {"export_status_label": lambda status: labels.label(EXPORT_STATUS_LABELS, status),
            "export_title": jobs.kind_title}


@bp.route("/")
@roles_required(*REPORT_ROLES)
def dashboard_page():
    counties = dashboard.county_choices(current_user)
    form = DashboardFilterForm(request.args, counties=counties, rounds=queries.round_choices(current_user))
    if not form.validate():
        abort(404)
    figures = dashboard.build(
        current_user,
        county_code=form.county.data or None,
        round_id=int(form.round.data) if form.round.data else None,
        today=local_today(),
    )
    return render_template("reports/dashboard.html", form=form, figures=figures,
                           chart_data=_chart_data(figures), show_county_filter=len(counties) > 1)


def _chart_data(figures: dashboard.Dashboard) -> dict:
    """Return the numbers the charts draw, with their labels in the user's language."""
    rows = figures.rows
    return {
        "divisions": [row.name for row in rows],
        "visits": {
            "labels": [_("Visited"), _("Not visited")],
            "visited": [row.visited for row in rows],
            "not_visited": [row.not_visited for row in rows],
        },
        "findings": {
            "statuses": [labels.status_label(status) for status in FINDING_STATUSES],
            "counts": [[row.findings[status] for row in rows] for status in FINDING_STATUSES],
        },
        "trend": {
            "weeks": [week.start.isoformat() for week in figures.trend],
            "labels": [_("Visits"), _("Findings opened"), _("Findings corrected")],
            "visits": [week.visits for week in figures.trend],
            "opened": [week.opened for week in figures.trend],
            "corrected": [week.corrected for week in figures.trend],
        },
    }


@bp.route("/map")
@roles_required(*REPORT_ROLES)
def map_page():
    form = MapFilterForm(request.args, townships=queries.township_choices(current_user),
                         rounds=queries.round_choices(current_user))
    if not form.validate():
        abort(404)
    tiles = mapdata.TileSettings.from_config(current_app.config)
    filters = {name: value for name, value in request.args.items() if name in form and value}
    settings = {
        "points_url": url_for("reports.map_points", **filters),
        "tile_url": tiles.url,
        "tile_attribution": tiles.attribution,
        "tile_subdomains": tiles.subdomains,
        "max_zoom": tiles.max_zoom,
        "labels": {
            "states": {
                "overdue": _("Overdue"), "open": _("Not corrected"), "corrected": _("Corrected"),
                "closed": _("Closed"), "none": _("No findings"),
            },
            "household": _("Registered household position"),
            "visit": _("Visit location"),
            "far": _("Far from the household"),
            "distance": _("Distance to the household: %(metres)s m"),
            "accuracy": _("Accuracy: %(metres)s m"),
            "open_visit": _("Open the visit"),
            "open_household": _("Open the household"),
            "findings": _("Findings: %(count)s"),
            "truncated": _("Only part of the points are shown; choose a township to see all of them."),
            "empty": _("No registered household positions or visit locations match these filters."),
            "failed": _("The points could not be loaded. Reload the page to try again."),
        },
    }
    return render_template("reports/map.html", form=form, settings=settings)


@bp.route("/map/points.json")
@roles_required(*REPORT_ROLES)
def map_points():
    form = MapFilterForm(request.args, townships=queries.township_choices(current_user),
                         rounds=queries.round_choices(current_user))
    if not form.validate():
        abort(404)
    data = mapdata.points(current_user, township_code=form.township.data or None,
                          round_id=int(form.round.data) if form.round.data else None, today=local_today())
    response = jsonify(data)
    response.headers["Cache-Control"] = "no-store"
    return response


# Exports.


def _export_form(**kwargs) -> ExportForm:
    return ExportForm(townships=queries.township_choices(current_user),
                      rounds=queries.round_choices(current_user), **kwargs)


@bp.route("/exports", methods=["GET", "POST"])
@roles_required(*REPORT_ROLES)
def exports():
    form = _export_form()
    if request.method == "GET":
        form.process(request.args)
    if not form.validate_on_submit():
        return render_template("reports/exports.html", form=form, jobs=jobs.user_jobs(current_user))
    try:
        job = jobs.create_job(form.kind.data, form.format.data, form.filters(), unmasked=form.unmasked.data,
                              user=current_user, locale=str(get_locale() or ""))
    except FieldError as error:
        db.session.rollback()
        getattr(form, error.field, form.kind).errors.append(error.message)
        return render_template("reports/exports.html", form=form, jobs=jobs.user_jobs(current_user)), 422
    db.session.commit()
    jobs.start(job.id)
    return redirect(url_for("reports.export_job", job_id=job.id))


def _own_job_or_404(job_id: int) -> ExportJob:
    job = db.session.get(ExportJob, job_id)
    if job is None or job.user_id != current_user.id:
        abort(404)
    return job


@bp.route("/exports/<int:job_id>")
@roles_required(*REPORT_ROLES)
def export_job(job_id: int):
    job = _own_job_or_404(job_id)
    filters = []
    if job.kind == "problems":
        filters = problem_export.filter_lines(ProblemFilters.from_args(job.filters or {}))
    return render_template("reports/export_job.html", job=job, filters=filters)


@bp.route("/exports/<int:job_id>/status.json")
@roles_required(*REPORT_ROLES)
def export_job_status(job_id: int):
    job = _own_job_or_404(job_id)
    response = jsonify({
        "status": job.status,
        "rows_done": job.rows_done,
        "rows_total": job.rows_total,
        "download_url": url_for("reports.export_download", job_id=job.id) if job.status == "done" else None,
        "message": job.message if job.status == "failed" else "",
    })
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/exports/<int:job_id>/download")
@roles_required(*REPORT_ROLES)
def export_download(job_id: int):
    job = _own_job_or_404(job_id)
    if job.status != "done":
        abort(404)
    try:
        response = send_file(jobs.job_path(job), mimetype=jobs.CONTENT_TYPES[job.format], as_attachment=True,
                             download_name=jobs.download_name(job), max_age=0)
    except FileNotFoundError:
        logger.error("export job %s: file %s is missing", job.id, job.stored_name)
        abort(404)
    response.headers["Cache-Control"] = "no-store"
    # Werkzeug's plain filename drops the Chinese title and leaves "-20240506-0940.xlsx". Browsers read
    # the UTF-8 name of filename*, and clients such as curl -OJ read the ASCII one.
    utf8_name = "UTF-8''" + quote(jobs.download_name(job), safe="!#$&+-.^_`|~")
    response.headers.set("Content-Disposition", "attachment",
                         filename=jobs.download_name(job, ascii_only=True), **{"filename*": utf8_name})
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
