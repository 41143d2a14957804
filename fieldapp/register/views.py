"""Register pages: upload and import status (administrators), household list and household page."""

import os

from flask import Blueprint, abort, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from fieldapp import idnumbers
from fieldapp.audit import services as audit
from fieldapp.auth.login import roles_required
from fieldapp.checks import jobs as check_jobs
from fieldapp.checks.services import problem_detail, rule_name
from fieldapp.errors import ImportRejected, shown_value
from fieldapp.extensions import db
from fieldapp.pagination import requested_page
from fieldapp.register import browsing, columns, jobs, services
from fieldapp.register.forms import HouseholdSearchForm, UploadForm
from fieldapp.register.models import FINISHED_STATUSES, RegisterImport

bp = Blueprint("register", __name__, url_prefix="/register")

BROWSE_ROLES = ("admin", "supervisor")
RECENT_IMPORTS = 10

IMPORT_STATUS_LABELS = {
    "queued": _l("Waiting to start"),
    "reading": _l("Reading and checking rows"),
    "writing": _l("Writing to the database"),
    "checking": _l("Running the data checks"),
    "done": _l("Imported"),
    "rejected": _l("Rejected, nothing imported"),
    "failed": _l("Failed, nothing imported"),
}


def import_status_label(status: str) -> str:
    return str(IMPORT_STATUS_LABELS.get(status, status))


@bp.context_processor
def inject_helpers():
    return {
        "rule_label": rule_name,
        "problem_detail": problem_detail,
        "import_status_label": import_status_label,
    }


@bp.route("/upload", methods=["GET", "POST"])
@roles_required("admin")
def upload():
    form = UploadForm()
    if form.validate_on_submit():
        try:
            record = jobs.queue_upload(form.file.data, user=current_user,
                                       skip_rejected=form.skip_rejected.data, locale=str(get_locale()))
        except ImportRejected as error:
            db.session.rollback()
            form.file.errors.append(error.message)
        else:
            db.session.commit()
            jobs.start(record.id)
            return redirect(url_for("register.import_status", import_id=record.id))
    recent = services.recent_imports(current_user, RECENT_IMPORTS)
    return render_template("register/upload.html", form=form, recent=recent)


def _own_import_or_404(import_id: int) -> RegisterImport:
    """Load an import started by the current user; for other users' imports, abort with 404."""
    record = db.session.get(RegisterImport, import_id)
    if record is None or record.imported_by_id != current_user.id or record.is_demo != current_user.is_demo:
        abort(404)
    return record


@bp.route("/imports/<int:import_id>")
@roles_required("admin")
def import_status(import_id: int):
    record = _own_import_or_404(import_id)
    # The checks after an import run over every division, so their counts are shown only to a user
    # whose divisions include them all.
    check_run = record.check_run
    if check_run is not None and not check_jobs.can_see(current_user, check_run):
        check_run = None
    return render_template(
        "register/import_status.html",
        record=record,
        check_run=check_run,
        finished=record.status in FINISHED_STATUSES,
        summary=services.summary_lines(record) if record.status == "done" else [],
        rejections=[_display_rejection(item) for item in record.rejections or []],
    )


@bp.route("/imports/<int:import_id>/status.json")
@roles_required("admin")
def import_status_json(import_id: int):
    record = _own_import_or_404(import_id)
    return jsonify({
        "status": record.status,
        "finished": record.status in FINISHED_STATUSES,
        "rows_total": record.rows_total,
        "rows_read": record.rows_read,
        "rows_written": record.rows_written,
        "rows_rejected": record.rows_rejected,
        "households_added": record.households_added,
        "households_updated": record.households_updated,
        "members_added": record.members_added,
        "members_updated": record.members_updated,
        "members_removed": record.members_removed,
    })


@bp.route("/imports/<int:import_id>/rejected.xlsx")
@roles_required("admin")
def import_report(import_id: int):
    record = _own_import_or_404(import_id)
    if not record.report_name:
        abort(404)
    path = os.path.join(jobs.imports_folder(), record.report_name)
    if not os.path.isfile(path):
        abort(404)
    audit.record("register.rejections_download", record)
    db.session.commit()
    stem = os.path.splitext(record.filename)[0] or "register"
    return send_file(path, as_attachment=True, download_name=f"{stem}.rejected.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _display_rejection(item: dict) -> dict:
    """Mask the value when the rejected cell is an ID number with most of its digits, and cut a long one."""
    column = services.header_aliases().get(columns.normalize_header(item.get("column", "")))
    value = item.get("value", "")
    if column is not None and column.field == "id_number":
        value = idnumbers.mask_rejected_value(value)
    return {**item, "value": shown_value(value)}


@bp.route("/households")
@roles_required(*BROWSE_ROLES)
def households():
    form = HouseholdSearchForm(request.args)
    townships = browsing.townships(current_user)
    form.township.choices = [("", "—")] + townships
    form.validate()
    query = (form.q.data or "")[:100]
    township = form.township.data if form.township.data in dict(townships) else ""
    page = browsing.households_page(current_user, query=query, township_code=township,
                                    page=requested_page())
    return render_template("register/households.html", form=form, page=page, query=query, township=township)


@bp.route("/households/<int:household_id>")
@roles_required(*BROWSE_ROLES)
def household(household_id: int):
    detail = browsing.household_detail(current_user, household_id)
    return render_template("register/household.html", detail=detail, household=detail.household)
