"""Check pages: summary and run button, problem list and export, problem evidence, settings, registries."""

from datetime import date

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from fieldapp import scope
from fieldapp.auth.login import roles_required
from fieldapp.checks import batch_use, jobs, queries, registries, registry_rows
from fieldapp.checks import settings as check_settings
from fieldapp.checks.forms import (
    CUSTOM_KIND,
    SEVERITY_LABELS,
    STATUS_FILTER_LABELS,
    STATUS_LABELS,
    BatchDeleteForm,
    ColumnForm,
    ProblemFilterForm,
    RegistryUploadForm,
    RunForm,
    settings_form,
)
from fieldapp.checks.models import CHECK_RUN_FINISHED, REGISTRY_FINISHED, CheckRun, RegistryBatch
from fieldapp.checks.rules import FAMILIES, RULES, ordered_rules
from fieldapp.checks.rules.base import field_labels
from fieldapp.checks.services import SAVING_STEP, problem_detail, rule_name
from fieldapp.divisions.models import Division
from fieldapp.errors import FieldError, ImportRejected
from fieldapp.extensions import db
from fieldapp.pagination import requested_page
from fieldapp.reports import jobs as export_jobs
from fieldapp.web import local_datetime

bp = Blueprint("checks", __name__, url_prefix="/checks")

RUN_ROLES = ("admin", "supervisor")

RUN_STATUS_LABELS = {
    "queued": _l("Waiting to start"),
    "running": _l("Running"),
    "done": _l("Finished"),
    "failed": _l("Failed"),
}
BATCH_STATUS_LABELS = {
    "needs_column": _l("Waiting for the ID number column"),
    "queued": _l("Waiting to start"),
    "reading": _l("Reading and checking rows"),
    "writing": _l("Writing to the database"),
    "done": _l("Imported"),
    "rejected": _l("Rejected, nothing imported"),
    "failed": _l("Failed, nothing imported"),
}


@bp.context_processor
def inject_helpers():
    return {
        "rule_label": rule_name,
        "problem_detail": problem_detail,
        "severity_label": lambda severity: str(SEVERITY_LABELS.get(severity, severity)),
        "problem_status_label": lambda status: str(STATUS_LABELS.get(status, status)),
        "run_status_label": lambda status: str(RUN_STATUS_LABELS.get(status, status)),
        "batch_status_label": lambda status: str(BATCH_STATUS_LABELS.get(status, status)),
        "rules": RULES,
        "families": FAMILIES,
        "field_labels": field_labels,
        "area_names": batch_use.area_names,
    }


# -- summary and runs --------------------------------------------------------


@bp.route("/")
@roles_required(*RUN_ROLES)
def summary():
    households, affected = queries.households_with_problems(current_user)
    return render_template(
        "checks/summary.html",
        form=RunForm(),
        by_rule=queries.counts_by_rule(current_user),
        by_township=queries.density_by_township(current_user),
        households=households,
        affected=affected,
        runs=queries.recent_runs(current_user),
        settings=check_settings.load(current_user.is_demo),
        batches=batch_use.batches_in_use(current_user.is_demo),
    )


@bp.route("/run", methods=["POST"])
@roles_required(*RUN_ROLES)
def run():
    form = RunForm()
    if not form.validate_on_submit():
        abort(400)
    queued = jobs.queue_run(current_user, locale=str(get_locale()))
    db.session.commit()
    if not queued.is_new:
        flash(_("A check run is already in progress; its progress is shown here."), "info")
        return redirect(url_for("checks.run_status", run_id=queued.run.id))
    if queued.stopped is not None:
        flash(_("The previous check run had made no progress since %(time)s, probably because the server "
                "restarted. It was marked as failed, and a new run was started.",
                time=local_datetime(jobs.last_progress(queued.stopped))), "info")
    jobs.start_run(queued.run.id)
    return redirect(url_for("checks.run_status", run_id=queued.run.id))


def _run_or_404(run_id: int) -> CheckRun:
    """Load a run of the user's world started by them; administrators see every run of their world.

    A run found stopped (``jobs.mark_if_stopped``) is marked failed first, so its page does not
    show it running.
    """
    check_run = db.session.get(CheckRun, run_id)
    if check_run is None or not jobs.can_see(current_user, check_run):
        abort(404)
    if jobs.mark_if_stopped(check_run, user=current_user):
        db.session.commit()
    return check_run


@bp.route("/runs/<int:run_id>")
@roles_required(*RUN_ROLES)
def run_status(run_id: int):
    check_run = _run_or_404(run_id)
    by_rule = sorted(check_run.by_rule.items(), key=lambda item: -item[1]) if check_run.by_rule else []
    return render_template("checks/run.html", run=check_run, finished=check_run.status in CHECK_RUN_FINISHED,
                           by_rule=by_rule, step_label=_step_label)


def _step_label(step: str) -> str:
    if step == SAVING_STEP:
        return _("Saving the suspected problems")
    return rule_name(step) if step else ""


@bp.route("/runs/<int:run_id>/status.json")
@roles_required(*RUN_ROLES)
def run_status_json(run_id: int):
    check_run = _run_or_404(run_id)
    # The keys rows_read and rows_total are those the shared import status script reads.
    return jsonify({
        "status": check_run.status,
        "finished": check_run.status in CHECK_RUN_FINISHED,
        "rows_read": check_run.steps_done,
        "rows_total": check_run.steps_total,
        "current_rule": check_run.current_rule,
    })


# -- problem list, export and evidence ---------------------------------------


def _filter_form() -> tuple[ProblemFilterForm, queries.ProblemFilters]:
    form = ProblemFilterForm(request.args)
    townships = queries.townships(current_user)
    township = form.township.data if form.township.data in dict(townships) else ""
    villages = queries.villages(current_user, township)
    form.rule.choices = [SelectChoice("", _("All rules"))] + [SelectChoice(rule.id, str(rule.name))
                                                               for rule in ordered_rules()]
    form.severity.choices = [SelectChoice("", _("All severities"))] + [
        SelectChoice(str(level), str(label)) for level, label in SEVERITY_LABELS.items()]
    form.township.choices = [SelectChoice("", _("All townships"))] + [SelectChoice(*row) for row in townships]
    form.village.choices = [SelectChoice("", _("All villages"))] + [SelectChoice(*row) for row in villages]
    form.status.choices = [SelectChoice(value, str(label)) for value, label in STATUS_FILTER_LABELS.items()]
    severity = form.severity.data if form.severity.data in {str(level) for level in SEVERITY_LABELS} else ""
    filters = queries.ProblemFilters(
        rule_id=form.rule.data if form.rule.data in RULES else "",
        severity=int(severity) if severity else None,
        township_code=township,
        village_code=form.village.data if form.village.data in dict(villages) else "",
        status=form.status.data if form.status.data in queries.STATUS_FILTERS else "open",
    )
    # A value typed into the address, or a village of another township, would otherwise be dropped
    # without a word, and the list would look filtered when it is not.
    applied = {form.rule: filters.rule_id, form.severity: severity, form.township: township,
               form.village: filters.village_code, form.status: filters.status}
    divisions = (form.township, form.village)
    for select_field, value in applied.items():
        typed = (select_field.data or "").strip()
        if typed and typed != value:
            # A division's code is shown by its name, as in the choices.
            division = db.session.get(Division, typed) if select_field in divisions else None
            select_field.errors = [_("%(value)s is not one of the choices, so this filter is not applied.",
                                     value=division.name if division is not None else typed[:100])]
    return form, filters


@bp.route("/problems")
@roles_required(*RUN_ROLES)
def problems():
    form, filters = _filter_form()
    page = queries.problems_page(current_user, filters, page=requested_page())
    return render_template("checks/problems.html", form=form, page=page, filters=filters)


@bp.route("/problems/export", methods=["POST"])
@roles_required(*RUN_ROLES)
def problems_export():
    """Start the XLSX export of the problems matching the list's filters, as a background job."""
    _, filters = _filter_form()
    job = export_jobs.create_job("problems", "xlsx", filters.as_args(), unmasked=False, user=current_user,
                                 locale=str(get_locale()))
    db.session.commit()
    export_jobs.start(job.id)
    return redirect(url_for("reports.export_job", job_id=job.id))


@bp.route("/problems/<int:problem_id>")
@roles_required(*RUN_ROLES)
def problem(problem_id: int):
    found = queries.problem_or_404(current_user, problem_id)
    record = found.registry_record
    return render_template(
        "checks/problem.html",
        problem=found,
        rule=RULES.get(found.rule_id),
        record=record,
        record_details=registries_details(record.details) if record is not None else [],
        outcomes=queries.outcomes(found),
    )


def registries_details(details: dict) -> list[tuple[str, str]]:
    """Return the record's other columns for display, with ID numbers and mobile numbers masked."""
    return [(header, registry_rows.shown_text(str(value))) for header, value in details.items()]


# -- settings ----------------------------------------------------------------


@bp.route("/settings", methods=["GET", "POST"])
@roles_required("admin")
def settings():
    thresholds = list(check_settings.THRESHOLDS.values())
    rules = ordered_rules()
    current = check_settings.load(current_user.is_demo)
    values = {threshold.name: _setting_text(current[threshold.name]) for threshold in thresholds}
    enabled = {rule.id for rule in rules if current.is_enabled(rule.id)}
    formdata = request.form if request.method == "POST" else None
    form = settings_form(thresholds, rules, formdata, values=values, enabled=enabled)
    # The settings apply to every division of the world, so only an administrator of all of them changes them.
    can_change = scope.covers_every_household(current_user)
    if request.method == "POST" and not can_change:
        flash(_("These settings apply to every division, so only an administrator whose divisions include "
                "every household can change them."), "error")
        return redirect(url_for("checks.settings"))
    if request.method == "POST" and form.validate_on_submit():
        typed = {threshold.name: form[f"threshold_{threshold.name}"].data or "" for threshold in thresholds}
        chosen = {rule.id for rule in rules if form[f"rule_{rule.id}"].data}
        try:
            changed = check_settings.save(typed, chosen, [rule.id for rule in rules],
                                          is_demo=current_user.is_demo, user=current_user)
        except FieldError as error:
            db.session.rollback()
            form[f"threshold_{error.field}"].errors.append(error.message)
        else:
            db.session.commit()
            if changed:
                flash(_("Settings saved. They apply from the next check run."), "success")
            else:
                flash(_("Nothing was changed."), "info")
            return redirect(url_for("checks.settings"))
    return render_template("checks/settings.html", form=form, thresholds=thresholds, rules=rules,
                           settings=current, can_change=can_change)


def _setting_text(value) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, date) else str(value)


# -- registries --------------------------------------------------------------


@bp.route("/registries", methods=["GET", "POST"])
@roles_required("admin")
def registry_list():
    form = RegistryUploadForm()
    if form.validate_on_submit():
        try:
            is_custom = form.kind.data == CUSTOM_KIND
            typed_kind = form.custom_kind.data if is_custom else form.kind.data
            kind = registries.check_kind(typed_kind, custom=is_custom)
            batch = jobs.save_upload(form.file.data, kind=kind, data_date=form.data_date.data,
                                     user=current_user, skip_rejected=form.skip_rejected.data,
                                     locale=str(get_locale()))
        except FieldError as error:
            db.session.rollback()
            target = {"kind": form.custom_kind, "data_date": form.data_date}.get(error.field, form.file)
            target.errors.append(error.message)
        except ImportRejected as error:
            db.session.rollback()
            form.file.errors.append(error.message)
        else:
            db.session.commit()
            if batch.status == "needs_column":
                return redirect(url_for("checks.registry_columns", batch_id=batch.id))
            jobs.start_registry_import(batch.id)
            return redirect(url_for("checks.registry_batch", batch_id=batch.id))
    return render_template("checks/registries.html", form=form,
                           batches=batch_use.visible(registries.batches(current_user.is_demo), current_user),
                           current=batch_use.ids_in_use(current_user.is_demo))


def _batch_or_404(batch_id: int, *, change: bool = False) -> RegistryBatch:
    """Return the batch if it covers one of the user's divisions, or for ``change`` only its divisions."""
    batch = db.session.get(RegistryBatch, batch_id)
    allowed = batch_use.can_change if change else batch_use.can_see
    if batch is None or not allowed(batch, current_user):
        abort(404)
    return batch


@bp.route("/registries/<int:batch_id>/columns", methods=["GET", "POST"])
@roles_required("admin")
def registry_columns(batch_id: int):
    batch = _batch_or_404(batch_id, change=True)
    if batch.status != "needs_column":
        return redirect(url_for("checks.registry_batch", batch_id=batch.id))
    form = ColumnForm()
    form.id_column.choices = [SelectChoice(header) for header in batch.headers]
    form.name_column.choices = [SelectChoice("", _("(no name column)"))] + [SelectChoice(header)
                                                                           for header in batch.headers]
    if form.validate_on_submit():
        try:
            registries.set_columns(batch, form.id_column.data, form.name_column.data or None)
        except FieldError as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            db.session.commit()
            jobs.start_registry_import(batch.id)
            return redirect(url_for("checks.registry_batch", batch_id=batch.id))
    elif request.method == "GET" and batch.name_column:
        form.name_column.data = batch.name_column
    # A batch sent back by an import with a wrong column keeps that import's message.
    message = batch.message or registries.missing_id_column_message(batch)
    return render_template("checks/registry_columns.html", form=form, batch=batch, message=message)


@bp.route("/registries/<int:batch_id>")
@roles_required("admin")
def registry_batch(batch_id: int):
    batch = _batch_or_404(batch_id)
    # The first records name people of every division, so only the administrator who imported them sees them.
    records = registries.record_sample(batch) if batch.imported_by_id == current_user.id else []
    return render_template(
        "checks/registry_batch.html", batch=batch, finished=batch.status in REGISTRY_FINISHED,
        is_current=batch.id in batch_use.ids_in_use(current_user.is_demo), records=records,
        delete_form=BatchDeleteForm() if batch_use.can_change(batch, current_user) else None,
    )


@bp.route("/registries/<int:batch_id>/status.json")
@roles_required("admin")
def registry_status_json(batch_id: int):
    batch = _batch_or_404(batch_id)
    return jsonify({
        "status": batch.status,
        "finished": batch.status in REGISTRY_FINISHED,
        "rows_read": batch.rows_read,
        "rows_total": batch.rows_total,
        "records_count": batch.records_count,
        "rows_rejected": batch.rows_rejected,
    })


@bp.route("/registries/<int:batch_id>/delete", methods=["POST"])
@roles_required("admin")
def registry_delete(batch_id: int):
    batch = _batch_or_404(batch_id, change=True)
    form = BatchDeleteForm()
    if not form.validate_on_submit():
        abort(400)
    if batch.status not in REGISTRY_FINISHED + ("needs_column",):
        flash(_("The import is still running; delete the batch when it has finished."), "error")
        return redirect(url_for("checks.registry_batch", batch_id=batch.id))
    kind = batch.kind
    try:
        jobs.delete_registry_batch(batch, user=current_user)
    except jobs.RunInProgress as error:
        # A run found stopped meanwhile was marked failed, which is kept.
        db.session.commit()
        flash(error.message, "error")
        return redirect(url_for("checks.registry_batch", batch_id=batch.id))
    db.session.commit()
    flash(_("The %(kind)s batch was deleted. Run the checks to update the suspected problems.", kind=kind),
          "success")
    return redirect(url_for("checks.registry_list"))
