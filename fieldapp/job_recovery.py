"""Background jobs that a stopped server left unfinished, marked failed when the next server starts.

Register imports, registry imports, check runs and exports run in threads of the server
process (``fieldapp.background``). When that process stops, as in a restart, their
rows keep their last status ("reading", "running", ...) and nothing would finish
them. ``serve`` calls ``fail_abandoned_jobs`` before it accepts requests, when no job
of the new process has started yet, so every unfinished job found is one that
stopped. A registry import left "needs_column" waits for the administrator, not for
a thread, and stays. An uploaded registry file that no batch names, saved by a request
that the stop cut off, is deleted.
"""

import logging
import os
from datetime import datetime

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from fieldapp.checks import registries
from fieldapp.checks.models import CheckRun, RegistryBatch
from fieldapp.db_types import utcnow
from fieldapp.extensions import db
from fieldapp.register.models import RegisterImport
from fieldapp.reports.models import ExportJob
from fieldapp.stored_files import remove_stored_file

logger = logging.getLogger(__name__)

UNFINISHED_REGISTER_IMPORT = ("queued", "reading", "writing", "checking")
UNFINISHED_REGISTRY_IMPORT = ("queued", "reading", "writing")
UNFINISHED_CHECK_RUN = ("queued", "running")
UNFINISHED_EXPORT = ("queued", "running")


def fail_abandoned_jobs(locale: str) -> int:
    """Mark every unfinished job failed, with a message in ``locale``; commit and return how many."""
    now = utcnow()
    with force_locale(locale):
        count = _register_imports(now) + _registry_imports(now)
        count += _fail_all(CheckRun, UNFINISHED_CHECK_RUN, now) + _fail_all(ExportJob, UNFINISHED_EXPORT, now)
    db.session.commit()
    _unreferenced_registry_files()
    if count:
        logger.warning("marked %d jobs failed that a stopped server left unfinished", count)
    return count


def _stopped_message() -> str:
    return _("The server stopped before this job finished, so nothing of it was saved. Upload the file or "
             "start the run again.")


def _register_imports(now: datetime) -> int:
    unfinished = RegisterImport.status.in_(UNFINISHED_REGISTER_IMPORT)
    records = db.session.scalars(select(RegisterImport).where(unfinished))
    count = 0
    for record in records:
        # A register import commits its households before "checking", so only the checks are lost.
        if record.status == "checking":
            record.status = "done"
            record.message = _("The server stopped before the data checks of this import finished. The "
                               "households were imported; run the checks again.")
        else:
            record.status, record.message = "failed", _stopped_message()
        record.finished_at = now
        count += 1
    return count


def _registry_imports(now: datetime) -> int:
    unfinished = RegistryBatch.status.in_(UNFINISHED_REGISTRY_IMPORT)
    batches = db.session.scalars(select(RegistryBatch).where(unfinished))
    count = 0
    for batch in batches:
        batch.status, batch.message, batch.finished_at = "failed", _stopped_message(), now
        if batch.stored_name:
            remove_stored_file(registries.stored_path(batch), "registry file")
        count += 1
    return count


def _unreferenced_registry_files() -> int:
    """Delete uploaded registry files that no batch names: a server stopped while it stored an upload."""
    folder = registries.registry_folder()
    if not os.path.isdir(folder):
        return 0
    stored = select(RegistryBatch.stored_name).where(RegistryBatch.stored_name.is_not(None))
    named = set(db.session.scalars(stored))
    count = 0
    for name in os.listdir(folder):
        if name not in named and os.path.isfile(os.path.join(folder, name)):
            remove_stored_file(os.path.join(folder, name), "registry file")
            count += 1
    if count:
        logger.warning("deleted %d uploaded registry files that no batch names", count)
    return count


def _fail_all(model, statuses: tuple[str, ...], now: datetime) -> int:
    """Mark the rows of ``model`` (check runs, exports) in ``statuses`` failed; return how many."""
    rows = db.session.scalars(select(model).where(model.status.in_(statuses)))
    count = 0
    for row in rows:
        row.status, row.message, row.finished_at = "failed", _stopped_message(), now
        count += 1
    return count
