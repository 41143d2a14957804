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
from datetime import date, datetime, timedelta
from typing import NamedTuple

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
from fieldapp.errors import ImportRejected
from fieldapp.extensions import db
from fieldapp.stored_files import remove_stored_file

logger = logging.getLogger(__name__)

# Seconds between two progress commits while registry rows are read.
PROGRESS_INTERVAL_S = 0.5
# An unfinished run whose last sign of life (``CheckRun.progress_at``) is older than this is taken as
# stopped, for instance by a server restart. A run commits its progress before each rule and before
# saving, so the gap between two progress times is one step. The slowest step at city scale was
# measured at about 2 s. On SQLite a step may first wait up to SQLITE_BUSY_TIMEOUT_MS (10 s) for the
# write lock held by an import or another run's saving step. Three minutes is more than ten times that
# worst case, for a server slowed by other work, while a restart blocks nobody for long.
STALE_RUN = timedelta(minutes=3)


class RunInProgress(RuntimeError):
    """A change that a running check run would trip over was rejected; ``message`` explains it to the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class QueuedRun(NamedTuple):
    run: CheckRun
    is_new: bool  # False: the user was attached to a run of the same scope already in progress
    stopped: CheckRun | None  # a run of the same scope found stopped and marked failed, if any


def _start(target, job_id: int, name: str) -> threading.Thread | None:
    return start_job(target, job_id, name=name, inline_setting="CHECK_JOBS_SYNC")


# -- check runs --------------------------------------------------------------


def last_progress(run: CheckRun) -> datetime:
    """Return the last time the run showed it was alive."""
    return run.progress_at or run.started_at or run.created_at


def can_see(user, run: CheckRun) -> bool:
    """Return whether the user may open the run's page and see its counts.

    The run must be of the user's world, and every division it checked must lie in the user's
    divisions, because its counts cover all of them. Administrators see every such run, and
    supervisors only those they started.
    """
    if run.is_demo != user.is_demo:
        return False
    if user.role != "admin" and run.started_by_id != user.id:
        return False
    return scope.covers_divisions(user, run.division_prefixes)


def mark_if_stopped(run: CheckRun, *, user) -> bool:
    """Mark an unfinished run without progress for ``STALE_RUN`` failed; return whether it was. Flushes."""
    if run.status in CHECK_RUN_FINISHED or utcnow() - last_progress(run) <= STALE_RUN:
        return False
    run.status = "failed"
    run.finished_at = utcnow()
    run.current_rule = ""
    run.message = _("The run stopped without finishing, probably because the server restarted.")
    db.session.flush()
    audit.record("checks.run_stale", run, user=user)
    logger.warning("check run %s marked failed: no progress since %s", run.id, last_progress(run))
    return True


def _sweep(is_demo: bool, *, user) -> tuple[list[CheckRun], list[CheckRun]]:
    """Return the unfinished runs of the world that are alive and those just found stopped, newest first.

    The stopped ones (see ``mark_if_stopped``) are marked failed, so that a restart blocks
    neither new runs nor registry deletes.
    """
    alive, stopped = [], []
    for run in db.session.scalars(
        select(CheckRun).where(CheckRun.is_demo == is_demo, CheckRun.status.not_in(CHECK_RUN_FINISHED))
        .order_by(CheckRun.id.desc())
    ):
        (stopped if mark_if_stopped(run, user=user) else alive).append(run)
    return alive, stopped


def unfinished_runs(is_demo: bool, *, user=None) -> list[CheckRun]:
    """Return the runs of the world still queued or running, newest first, after marking stopped ones."""
    return _sweep(is_demo, user=user)[0]


def _same_scope(user, runs: list[CheckRun]) -> CheckRun | None:
    """Return the newest of the runs that the user can see and that covers exactly the user's divisions."""
    prefixes = scope.division_prefixes(user)
    return next((run for run in runs if run.division_prefixes == prefixes and can_see(user, run)), None)


def unfinished_run(user) -> CheckRun | None:
    """Return the user's unfinished run of the same scope (see ``_same_scope``), if any."""
    return _same_scope(user, unfinished_runs(user.is_demo, user=user))


def queue_run(user, *, locale: str) -> QueuedRun:
    """Add a check run over the user's divisions; flushes, does not commit.

    While a run the user can see over exactly the user's divisions is unfinished, that run
    is returned instead of starting a second one. A run of another scope, or one the user
    cannot open, does not stop the user's own run: two runs that save at once are
    serialised (``problem_store.store_hits``).
    """
    alive, stopped = _sweep(user.is_demo, user=user)
    running = _same_scope(user, alive)
    if running is not None:
        return QueuedRun(running, False, _same_scope(user, stopped))
    now = utcnow()
    run = CheckRun(
        is_demo=user.is_demo,
        division_prefixes=scope.division_prefixes(user),
        source="page",
        status="queued",
        started_by_id=user.id,
        locale=locale,
        created_at=now,
        progress_at=now,
    )
    db.session.add(run)
    db.session.flush()
    audit.record("checks.run_start", run, user=user, divisions=run.division_prefixes)
    return QueuedRun(run, True, _same_scope(user, stopped))


def delete_registry_batch(batch: RegistryBatch, *, user) -> None:
    """Delete a registry batch unless a check run of its world is unfinished; flushes.

    A run reads the registries rule by rule and commits in between, then saves the registry
    records its hits point to, so a batch deleted in the middle would make its saving fail.
    Raises ``RunInProgress`` instead.
    """
    services.lock_saving()
    running = unfinished_runs(batch.is_demo, user=user)
    if running:
        logger.info("registry batch %s not deleted: check runs %s unfinished", batch.id,
                    [run.id for run in running])
        raise RunInProgress(_("A data check run is in progress and reads the registries. Wait until it has "
                              "finished (see the Data checks page), then delete the batch."))
    registries.delete_batch(batch, user=user)


def start_run(run_id: int) -> threading.Thread | None:
    return _start(run_job, run_id, "check-run")


class _RunProgress:
    """Commit the rule being run and the steps done, once per rule."""

    def __init__(self, run: CheckRun):
        self.run = run

    def __call__(self, rule_id: str, done: int, total: int) -> None:
        self.run.progress_at = utcnow()
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
    run.started_at = run.progress_at = utcnow()
    db.session.commit()
    logger.info("check run %s started by user %s", run_id, run.started_by_id)
    with force_locale(run.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        try:
            services.run_checks(is_demo=run.is_demo, division_prefixes=run.division_prefixes,
                                progress=_RunProgress(run), check_run=run, user=user)
            db.session.commit()
        except services.RegistryChanged as error:
            logger.warning("check run %s not saved: %s", run_id, error)
            db.session.rollback()
            _finish_failed_run(run_id, error.message, user)
        except Exception:
            logger.exception("check run %s failed", run_id)
            db.session.rollback()
            _finish_failed_run(run_id, _("The check run failed because of an error on the server, and the "
                                         "problem list was not changed. Try again; if it fails again, give "
                                         "your administrator the time of the run."), user)


def _finish_failed_run(run_id: int, message: str, user) -> None:
    run = db.session.get(CheckRun, run_id)
    run.status = "failed"
    run.finished_at = utcnow()
    run.message = message
    audit.record("checks.run_failed", run, user=user)
    db.session.commit()


# -- registry imports --------------------------------------------------------


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
    path = os.path.join(registries.registry_folder(), stored_name)
    try:
        upload.save(path)
        return registries.prepare_batch(path, kind=kind, filename=original, data_date=data_date,
                                        is_demo=user.is_demo, user=user, skip_rejected=skip_rejected,
                                        stored_name=stored_name, locale=locale)
    except BaseException:
        # Whatever went wrong, no batch refers to the file, and it contains personal data.
        remove_stored_file(path, "registry file")
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
            registries.import_batch(batch, registries.stored_path(batch), progress=_ImportProgress(batch),
                                    user=user)
            db.session.commit()
        except registries.WrongIdColumn as error:
            db.session.rollback()
            _ask_for_column(batch_id, error, user)
        except ImportRejected as error:
            db.session.rollback()
            _finish_registry(batch_id, "rejected", error.message.split("\n", 1)[0], error.rejections, user)
        except Exception:
            logger.exception("registry import %s failed", batch_id)
            db.session.rollback()
            message = _("The import failed because of an error on the server, and nothing was imported. Try "
                        "again; if it fails again, give your administrator the time of the upload.")
            _finish_registry(batch_id, "failed", message, [], user)


def _ask_for_column(batch_id: int, error: registries.WrongIdColumn, user) -> None:
    """Set the batch back to "needs_column", keeping its file, the message and the rejected rows."""
    batch = db.session.get(RegistryBatch, batch_id)
    batch.status = "needs_column"
    batch.message = error.message.split("\n", 1)[0]
    batch.rejections = error.rejections[:registries.STORED_REJECTIONS]
    batch.rows_rejected = len({rejection["row"] for rejection in error.rejections})
    audit.record("registry.import_wrong_column", batch, user=user, id_column=batch.id_column,
                 rows_rejected=batch.rows_rejected)
    db.session.commit()
    logger.info("registry import %s stopped: most values of column %s are not ID numbers", batch_id,
                batch.id_column)


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
