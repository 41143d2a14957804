"""Register imports uploaded in the browser, run in a background thread.

The upload request saves the file under the imports folder, adds a
``RegisterImport`` in status "queued" and returns at once. A thread with its
own application context and database session then runs the import and keeps
the job's status and progress in that row, so every request thread (waitress
runs several) can report it. With ``REGISTER_IMPORT_SYNC`` set, the job runs in
the request instead, which tests use.

Progress is committed while rows are read. The writing itself is one
transaction, so nothing of a failed import stays. On SQLite that transaction
takes the write lock, and other requests wait for it: under a second for
5,000 members on a 2-core virtual machine.

A job whose process stops, as in a server restart, keeps its last status until
the next ``serve`` marks it failed (``fieldapp.job_recovery``).
"""

import logging
import os
import threading
import time
import uuid

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage

from fieldapp import scope
from fieldapp.audit import services as audit
from fieldapp.auth.models import User
from fieldapp.background import start_job
from fieldapp.db_types import utcnow
from fieldapp.errors import ImportRejected
from fieldapp.extensions import db
from fieldapp.register import reader, services
from fieldapp.register.models import RegisterImport
from fieldapp.stored_files import remove_stored_file

logger = logging.getLogger(__name__)

# Seconds between two progress commits while rows are read.
PROGRESS_INTERVAL_S = 0.5


def imports_folder() -> str:
    folder = current_app.config.get("REGISTER_IMPORT_FOLDER")
    folder = folder or os.path.join(current_app.instance_path, "imports")
    os.makedirs(folder, exist_ok=True)
    return folder


def queue_upload(upload: FileStorage, *, user, skip_rejected: bool, locale: str) -> RegisterImport:
    """Save the uploaded file under a generated name and add its job record; flushes, does not commit."""
    original = os.path.basename(upload.filename or "")
    extension = os.path.splitext(original)[1].lower()
    if extension not in reader.EXTENSIONS:
        raise ImportRejected(_("The file type %(extension)s is not supported; save the register as .xlsx, "
                               ".xls or .csv.", extension=extension or "(none)"))
    stored_name = uuid.uuid4().hex + extension
    path = os.path.join(imports_folder(), stored_name)
    try:
        upload.save(path)
        record = RegisterImport(
            status="queued",
            filename=original[:255],
            sha256=services.file_sha256(path),
            stored_name=stored_name,
            imported_by_id=user.id,
            is_demo=user.is_demo,
            is_skip_rejected=skip_rejected,
            locale=locale,
        )
        db.session.add(record)
        db.session.flush()
    except BaseException:
        # No import record refers to the file, so nothing would ever delete it.
        remove_stored_file(path, "register file")
        raise
    audit.record("register.upload", record, user=user, skip_rejected=skip_rejected)
    return record


def start(import_id: int) -> threading.Thread | None:
    """Run the job in a background thread, or in this request when ``REGISTER_IMPORT_SYNC`` is set."""
    return start_job(run_job, import_id, name="register-import", inline_setting="REGISTER_IMPORT_SYNC")


class _JobProgress:
    """Commit the rows read at most every ``PROGRESS_INTERVAL_S``, and the "writing" status once."""

    def __init__(self, record: RegisterImport):
        self.record = record
        self.last_commit = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "reading":
            now = time.monotonic()
            if now - self.last_commit < PROGRESS_INTERVAL_S:
                return
            self.last_commit = now
            self.record.rows_read = done
            self.record.rows_total = total
            db.session.commit()
        elif stage == "read":
            # Nothing is written yet, so this commit holds only the job's own row.
            self.record.status = "writing"
            self.record.rows_read = done
            self.record.rows_total = total
            db.session.commit()


def run_job(import_id: int) -> None:
    """Run a queued import and record its outcome on the job row; commits."""
    record = db.session.get(RegisterImport, import_id)
    if record is None or record.status != "queued":
        logger.warning("register import %s is not queued; not started", import_id)
        return
    user = db.session.get(User, record.imported_by_id) if record.imported_by_id else None
    record.status = "reading"
    db.session.commit()
    logger.info("register import %s started by user %s", import_id, record.imported_by_id)

    with force_locale(record.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        try:
            if user is None or not user.is_active:
                raise ImportRejected(_("The account that uploaded the file no longer exists or is "
                                       "deactivated; log in again and upload the file again."))
            path = os.path.join(imports_folder(), record.stored_name)
            services.import_register(
                path, filename=record.filename, is_demo=record.is_demo, skip_rejected=record.is_skip_rejected,
                user=user, allowed_prefixes=scope.division_prefixes(user),
                report_path=services.default_report_path(path), progress=_JobProgress(record),
                register_import=record,
            )
        except ImportRejected as error:
            db.session.rollback()
            _finish_rejected(import_id, error, user)
            return
        except Exception:
            logger.exception("register import %s failed", import_id)
            db.session.rollback()
            _finish_failed(import_id, user)
            return
        record.status = "checking"
        db.session.commit()
        _run_checks(record, user)


def _finish_rejected(import_id: int, error: ImportRejected, user) -> None:
    record = db.session.get(RegisterImport, import_id)
    record.status = "rejected"
    # Only the first line of the message is kept, because the status page lists the rows from
    # ``rejections`` with ID numbers masked.
    record.message = error.message.split("\n", 1)[0]
    record.rejections = [rejection._asdict() for rejection in error.rejections[:services.STORED_REJECTIONS]]
    record.rows_rejected = len({rejection.row for rejection in error.rejections})
    record.finished_at = utcnow()
    audit.record("register.import_rejected", record, user=user, rows_rejected=record.rows_rejected)
    db.session.commit()
    logger.info("register import %s rejected: %d rows", import_id, record.rows_rejected)


def _finish_failed(import_id: int, user) -> None:
    record = db.session.get(RegisterImport, import_id)
    record.status = "failed"
    record.message = _("The import failed because of an error on the server, and nothing was imported. "
                       "Try again; if it fails again, give your administrator the time of the upload.")
    record.finished_at = utcnow()
    audit.record("register.import_failed", record, user=user)
    db.session.commit()


def _run_checks(record: RegisterImport, user) -> None:
    """Run the data checks over the uploader's divisions after the import is committed.

    The import wrote households in those divisions only. A failure of the checks keeps the import.
    """
    import_id = record.id
    try:
        services.run_checks_after_import(record, scope.division_prefixes(user))
    except Exception:
        logger.exception("data checks after register import %s failed", import_id)
        db.session.rollback()
        record = db.session.get(RegisterImport, import_id)
        record.message = "\n".join(filter(None, [
            record.message,
            _("The data checks failed after the import; the households were imported. Run them again with "
              "the button on the data checks page."),
        ]))
    record.status = "done"
    db.session.commit()
    logger.info("register import %s done", import_id)
