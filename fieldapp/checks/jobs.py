"""Check runs and registry imports started in the browser, run in a background thread.

The request adds the job's row (a ``CheckRun`` or a ``RegistryBatch``) in status
"queued", commits and returns at once. A thread with its own application context
and database session then runs the job and keeps its status and progress in that
row, so every request thread can report it. With ``CHECK_JOBS_SYNC`` set, the job
runs in the request instead, which tests use.

A check run commits its progress after each rule, while it only reads; the
problems are then written in one transaction. On SQLite that transaction holds
the write lock, and other requests wait for it.
"""

import logging
import os
import threading
import time
import uuid
from datetime import date, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from fieldapp import scope
from fieldapp.audit import services as audit
from fieldapp.auth.models import User
from fieldapp.background import start_job
from fieldapp.checks import registries, services
from fieldapp.checks.models import CHECK_RUN_FINISHED, CheckRun, RegistryBatch
from fieldapp.db_types import utcnow
from fieldapp.errors import FieldError, ImportRejected
from fieldapp.extensions import db

logger = logging.getLogger(__name__)

# Seconds between two progress commits while registry rows are read.
PROGRESS_INTERVAL_S = 0.5
# A run unfinished for longer than this is taken as stopped (the server restarted under it).
STALE_RUN = timedelta(minutes=30)


def _start(target, job_id: int, name: str) -> threading.Thread | None:
    return start_job(target, job_id, name=name, inline_setting="CHECK_JOBS_SYNC")


# -- check runs --------------------------------------------------------------


def unfinished_run(user) -> CheckRun | None:
    """Return the check run of the user's world that is still queued or running, if any.

    A run older than ``STALE_RUN`` is marked failed instead, so that a restart does not block new runs.
    """
    run = db.session.execute(
        select(CheckRun).where(CheckRun.is_demo == user.is_demo, CheckRun.status.not_in(CHECK_RUN_FINISHED))
        .order_by(CheckRun.id.desc()).limit(1)
    ).scalar()
    if run is None:
        return None
    if utcnow() - run.created_at > STALE_RUN:
        run.status = "failed"
        run.finished_at = utcnow()
        run.message = _("The run stopped without finishing, probably because the server restarted.")
        audit.record("checks.run_stale", run, user=user)
        logger.warning("check run %s marked failed: unfinished since %s", run.id, run.created_at)
        return None
    return run


def queue_run(user, *, locale: str) -> tuple[CheckRun, bool]:
    """Add a check run over the user's divisions; flushes, does not commit.

    Returns the run and whether it is new: while another run of the same world is
    unfinished, that run is returned instead of starting a second one.
    """
    running = unfinished_run(user)
    if running is not None:
        return running, False
    run = CheckRun(
        is_demo=user.is_demo,
        division_prefixes=scope.division_prefixes(user),
        source="page",
        status="queued",
        started_by_id=user.id,
        locale=locale,
    )
    db.session.add(run)
    db.session.flush()
    audit.record("checks.run_start", run, user=user, divisions=run.division_prefixes)
    return run, True


def start_run(run_id: int) -> threading.Thread | None:
    return _start(run_job, run_id, "check-run")


class _RunProgress:
    """Commit the rule being run and the steps done, once per rule."""

    def __init__(self, run: CheckRun):
        self.run = run

    def __call__(self, rule_id: str, done: int, total: int) -> None:
        self.run.current_rule = rule_id
        self.run.steps_done = done
        self.run.steps_total = total
        db.session.commit()


def run_job(run_id: int) -> None:
    """Run a queued check run and record its outcome on its row; commits."""
    run = db.session.get(CheckRun, run_id)
    if run is None or run.status != "queued":
        logger.warning("check run %s is not queued; not started", run_id)
        return
    user = db.session.get(User, run.started_by_id) if run.started_by_id else None
    run.status = "running"
    run.started_at = utcnow()
    db.session.commit()
    logger.info("check run %s started by user %s", run_id, run.started_by_id)
    with force_locale(run.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        try:
            services.run_checks(is_demo=run.is_demo, division_prefixes=run.division_prefixes,
                                progress=_RunProgress(run), check_run=run, user=user)
            db.session.commit()
        except Exception:
            logger.exception("check run %s failed", run_id)
            db.session.rollback()
            run = db.session.get(CheckRun, run_id)
            run.status = "failed"
            run.finished_at = utcnow()
            run.message = _("The check run failed because of an error on the server, and the problem list "
                            "was not changed. Try again; if it fails again, give your administrator the time "
                            "of the run.")
            audit.record("checks.run_failed", run, user=user)
            db.session.commit()


# -- registry imports --------------------------------------------------------


def registry_folder() -> str:
    folder = current_app.config.get("REGISTRY_IMPORT_FOLDER")
    folder = folder or os.path.join(current_app.instance_path, "registries")
    os.makedirs(folder, exist_ok=True)
    return folder


def stored_path(batch: RegistryBatch) -> str:
    return os.path.join(registry_folder(), batch.stored_name)


def save_upload(upload: FileStorage, *, kind: str, data_date: date | None, user, skip_rejected: bool,
                locale: str) -> RegistryBatch:
    """Save an uploaded registry under a generated name and add its batch; flushes, does not commit.

    The batch is "queued" when its ID column was recognised, else "needs_column".
    """
    original = os.path.basename(upload.filename or "")
    extension = os.path.splitext(original)[1].lower()
    if extension not in registries.EXTENSIONS:
        raise ImportRejected(_("The file type %(extension)s is not supported; save the registry as .xlsx, "
                               ".xls or .csv.", extension=extension or "(none)"))
    stored_name = uuid.uuid4().hex + extension
    path = os.path.join(registry_folder(), stored_name)
    upload.save(path)
    try:
        return registries.prepare_batch(path, kind=kind, filename=original, data_date=data_date,
                                        is_demo=user.is_demo, user=user, skip_rejected=skip_rejected,
                                        stored_name=stored_name, locale=locale)
    except (ImportRejected, FieldError):
        os.remove(path)
        raise


def start_registry_import(batch_id: int) -> threading.Thread | None:
    return _start(registry_job, batch_id, "registry-import")


class _ImportProgress:
    """Commit the rows read at most every ``PROGRESS_INTERVAL_S``."""

    def __init__(self, batch: RegistryBatch):
        self.batch = batch
        self.last_commit = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != "reading":
            return
        now = time.monotonic()
        if now - self.last_commit < PROGRESS_INTERVAL_S:
            return
        self.last_commit = now
        self.batch.rows_read = done
        self.batch.rows_total = total
        db.session.commit()


def registry_job(batch_id: int) -> None:
    """Import a queued registry batch and record the outcome on it; commits."""
    batch = db.session.get(RegistryBatch, batch_id)
    if batch is None or batch.status != "queued":
        logger.warning("registry import %s is not queued; not started", batch_id)
        return
    user = db.session.get(User, batch.imported_by_id) if batch.imported_by_id else None
    batch.status = "reading"
    db.session.commit()
    logger.info("registry import %s (%s) started by user %s", batch_id, batch.kind, batch.imported_by_id)
    with force_locale(batch.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        try:
            registries.import_batch(batch, stored_path(batch), progress=_ImportProgress(batch), user=user)
            db.session.commit()
        except ImportRejected as error:
            db.session.rollback()
            _finish_registry(batch_id, "rejected", error.message.split("\n", 1)[0], error.rejections, user)
        except Exception:
            logger.exception("registry import %s failed", batch_id)
            db.session.rollback()
            message = _("The import failed because of an error on the server, and nothing was imported. Try "
                        "again; if it fails again, give your administrator the time of the upload.")
            _finish_registry(batch_id, "failed", message, [], user)


def _finish_registry(batch_id: int, status: str, message: str, rejections: list[dict], user) -> None:
    batch = db.session.get(RegistryBatch, batch_id)
    batch.status = status
    batch.message = message
    batch.rejections = rejections[:registries.STORED_REJECTIONS]
    batch.rows_rejected = len({rejection["row"] for rejection in rejections})
    batch.finished_at = utcnow()
    audit.record(f"registry.import_{status}", batch, user=user, rows_rejected=batch.rows_rejected)
    db.session.commit()
    logger.info("registry import %s %s: %d rows rejected", batch_id, status, batch.rows_rejected)
