"""Export jobs run in a background thread, so a large export never keeps a request open.

The request adds an ``ExportJob`` in status "queued" and returns at once; the page then polls
the job's progress and offers the file when it is done. The thread has its own application
context and session, reads rows in chunks and commits the progress after each chunk. With
``EXPORT_SYNC`` set the job runs inside the request instead, which tests use.

Files are written under generated names to ``EXPORT_FOLDER`` and deleted, with their job, after
``EXPORT_KEEP_HOURS``; only the user who asked for an export may download it.

NOTE: a job whose process stops (a server restart) stays "running"; the user can start a new one.
"""

import logging
import os
import threading
import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from fieldapp.audit.services import record
from fieldapp.auth.models import User
from fieldapp.background import start_job
from fieldapp.checks import queries as problem_queries
from fieldapp.checks.export import write_problems
from fieldapp.checks.queries import ProblemFilters
from fieldapp.db_types import utcnow
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.reports import exports
from fieldapp.reports.models import EXPORT_FORMATS, EXPORT_KINDS, ExportJob
from fieldapp.reports.sheets import CsvSheet, XlsxBook
from fieldapp.visits.questionnaires import local_today
from fieldapp.web import can_unmask

logger = logging.getLogger(__name__)

CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def export_folder() -> str:
    folder = current_app.config.get("EXPORT_FOLDER") or os.path.join(current_app.instance_path, "exports")
    os.makedirs(folder, exist_ok=True)
    return folder


def create_job(kind: str, file_format: str, filters: dict, *, unmasked: bool, user, locale: str) -> ExportJob:
    """Add a queued export job for ``user`` and audit it. Flushes, no commit.

    Raises ``FieldError`` for an unknown kind or format, and when a role outside
    ``UNMASK_ROLES`` requests full ID numbers.
    """
    if kind not in EXPORT_KINDS:
        raise FieldError("kind", _("Unknown export %(value)s.", value=kind))
    if file_format not in EXPORT_FORMATS:
        raise FieldError("format", _("Unknown file format %(value)s: choose XLSX or CSV.", value=file_format))
    if unmasked and not can_unmask(user):
        raise FieldError("unmasked", _("Your role may not export full ID numbers. Export them masked."))
    if kind == "problems" and (file_format != "xlsx" or unmasked):
        raise FieldError("format", _("The suspected problem list is exported as XLSX, with ID numbers "
                                     "masked."))
    purge_expired()
    job = ExportJob(user_id=user.id, kind=kind, format=file_format, filters=filters, is_unmasked=unmasked,
                    locale=locale)
    db.session.add(job)
    db.session.flush()
    record("export.create", job, user=user, kind=kind, format=file_format, unmasked=unmasked, filters=filters)
    return job


def start(job_id: int) -> threading.Thread | None:
    """Run the job in a background thread, or in this request when ``EXPORT_SYNC`` is set."""
    return start_job(run_job, job_id, name="export", inline_setting="EXPORT_SYNC")


def run_job(job_id: int) -> None:
    """Write the job's file, committing progress after every chunk; record the outcome in the job."""
    job = db.session.get(ExportJob, job_id)
    if job is None or job.status != "queued":
        return
    user = db.session.get(User, job.user_id)
    job.status = "running"
    job.started_at = utcnow()
    db.session.commit()

    token = uuid.uuid4().hex
    stored_name = f"{token}.{job.format}"
    path = os.path.join(export_folder(), stored_name)
    try:
        with force_locale(job.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
            _write(job, user, path)
    except Exception as error:
        db.session.rollback()
        _remove(path)
        logger.exception("export job %s failed", job_id)
        job = db.session.get(ExportJob, job_id)
        job.status = "failed"
        job.message = f"{type(error).__name__}: {error}"[:2000]
        job.finished_at = utcnow()
        db.session.commit()
        return

    job.status = "done"
    job.stored_name = stored_name
    job.size_bytes = os.path.getsize(path)
    job.finished_at = utcnow()
    db.session.commit()
    logger.info("export job %s done: %s rows, %s bytes", job.id, job.rows_done, job.size_bytes)


def _write(job: ExportJob, user, path: str) -> None:
    if job.kind == "problems":
        _write_problems(job, user, path)
        return
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    filters = exports.Filters.from_dict(job.filters or {})
    today = local_today()
    if job.kind == "ledger":
        job.rows_total = exports.count(exports.ledger_statement(user, filters, today))
        columns = exports.ledger_columns()
        ledger = exports.ledger_rows(user, filters, unmasked=job.is_unmasked, today=today)
        chunks = ((rows, []) for rows in ledger)
        layout = None
    else:
        job.rows_total = exports.count(exports.visit_statement(user, filters))
        layout = exports.VisitLayout.current()
        columns = layout.visit_columns()
        chunks = exports.visit_rows(user, filters, layout, unmasked=job.is_unmasked)
    db.session.commit()

    if job.format == "csv":
        sheet = CsvSheet(path, columns, zone)
        try:
            for rows, _members in chunks:
                for row in rows:
                    sheet.write_row(row)
                _progress(job, len(rows))
        finally:
            sheet.close()
        return

    book = XlsxBook(path, zone, tmpdir=export_folder())
    try:
        main = book.add_sheet(_("Rectification ledger") if job.kind == "ledger" else _("Visits"), columns)
        members = book.add_sheet(_("Member answers"), layout.member_columns()) if layout else None
        for rows, member_rows in chunks:
            for row in rows:
                main.write_row(row)
            for row in member_rows:
                members.write_row(row)
            _progress(job, len(rows))
    finally:
        book.close()


def _write_problems(job: ExportJob, user, path: str) -> None:
    """Write the suspected problem list. Its rows are read in one transaction, so the count of rows
    written is committed at the end only."""
    filters = ProblemFilters.from_args(job.filters or {})
    job.rows_total = problem_queries.count_problems(user, filters)
    db.session.commit()
    job.rows_done = write_problems(path, problem_queries.export_rows(user, filters))


def _progress(job: ExportJob, rows: int) -> None:
    """Count the rows written and commit, which also ends the chunk's read transaction."""
    job.rows_done += rows
    db.session.commit()


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as error:
        logger.warning("could not remove export file %s: %s", path, error)


def job_path(job: ExportJob) -> str:
    return os.path.join(export_folder(), job.stored_name)


def kind_title(kind: str) -> str:
    """Return the name of an export kind in the current locale, e.g. "整改台账"."""
    titles = {"ledger": _("Rectification ledger"), "visits": _("Visits with answers"),
              "problems": _("Suspected problem list")}
    return titles.get(kind, kind)


def download_name(job: ExportJob, *, ascii_only: bool = False) -> str:
    """Return the file name offered to the browser, e.g. "整改台账-20240506-0940.xlsx" in Chinese.

    ``ascii_only`` names the kind by its code instead ("ledger-20240506-0940.xlsx"), for clients
    that read only the plain ``filename`` of the download header.
    """
    title = job.kind if ascii_only else kind_title(job.kind)
    created = job.created_at.astimezone(ZoneInfo(current_app.config["DISPLAY_TIMEZONE"]))
    return f"{title}-{created:%Y%m%d-%H%M}.{job.format}"


def user_jobs(user, limit: int = 10) -> list[ExportJob]:
    stmt = (
        select(ExportJob).where(ExportJob.user_id == user.id)
        .order_by(ExportJob.created_at.desc(), ExportJob.id.desc()).limit(limit)
    )
    return list(db.session.scalars(stmt))


def purge_expired() -> int:
    """Delete export jobs older than ``EXPORT_KEEP_HOURS`` and their files; return how many."""
    cutoff = utcnow() - timedelta(hours=float(current_app.config["EXPORT_KEEP_HOURS"]))
    expired = list(db.session.scalars(select(ExportJob).where(ExportJob.created_at < cutoff)))
    for job in expired:
        if job.stored_name:
            _remove(job_path(job))
        db.session.delete(job)
    if expired:
        db.session.flush()
        logger.info("deleted %d expired export jobs", len(expired))
    return len(expired)
