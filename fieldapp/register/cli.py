"""``flask import-register FILE``."""

import time

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _
from flask_babel import ngettext

from fieldapp.checks.services import RegistryChanged
from fieldapp.errors import ImportRejected, RowsRejected
from fieldapp.extensions import db
from fieldapp.register import services
from fieldapp.terminal import CommandError, done_line

# Seconds between two progress lines.
PROGRESS_INTERVAL_S = 1.0


class _ProgressPrinter:
    """Print progress lines such as "reading 1200/4985 rows".

    At most one line a second is printed, and always the line that ends a stage.
    """

    def __init__(self):
        self.last_printed = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last_printed < PROGRESS_INTERVAL_S:
            return
        self.last_printed = now
        click.echo(progress_line(stage, done, total), err=True)


def progress_line(stage: str, done: int, total: int) -> str:
    """Describe a stage of the import: rows read ("read" when all are checked), then households written."""
    if stage == "reading":
        return _("reading %(done)d/%(total)d rows", done=done, total=total)
    if stage == "read":
        return _("read %(done)d/%(total)d rows", done=done, total=total)
    if stage == "writing":
        return _("writing %(done)d/%(total)d households", done=done, total=total)
    return f"{stage} {done}/{total}"


@click.command("import-register")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--skip-rejected", is_flag=True,
              help="Import the valid households and write the rejected rows to FILE.rejected.xlsx "
                   "instead of importing nothing.")
@click.option("--demo", is_flag=True, help="Import the households as demo (training) data.")
@with_appcontext
def import_register(file, skip_rejected, demo):
    """Import a register export FILE (.xlsx, .xlsm, .xls, .ods or .csv): one row per member."""
    started = time.monotonic()
    try:
        record = services.import_register(file, is_demo=demo, skip_rejected=skip_rejected,
                                          progress=_ProgressPrinter())
    except RowsRejected as error:
        db.session.rollback()
        raise CommandError(_rows_rejected_message(error.rejections)) from None
    except ImportRejected as error:
        db.session.rollback()
        raise CommandError(error.message) from None
    db.session.commit()

    for line in services.summary_lines(record):
        click.echo(line)
    if record.message:
        click.echo(record.message)
    if record.report_name:
        click.echo(_("Rejected rows and their reasons: %(path)s", path=services.default_report_path(file)))
    click.echo(_("Running the data checks"), err=True)
    try:
        summary = services.run_checks_after_import(record)
    except RegistryChanged as error:
        db.session.rollback()
        raise CommandError(_("The households were imported, but the data checks did not finish: %(reason)s",
                             reason=error.message)) from None
    db.session.commit()
    click.echo(_("Data checks: %(opened)d opened, %(kept)d kept, %(resolved)d resolved.",
                 opened=summary.opened, kept=summary.kept, resolved=summary.resolved))
    click.echo(done_line(started))


def _rows_rejected_message(rejections) -> str:
    """Return the message of an import stopped by rejected rows, naming --skip-rejected."""
    first = ngettext("%(num)d row of the register file cannot be imported; nothing was imported. Fix the "
                     "row below and import again, or add --skip-rejected to import the other households.",
                     "%(num)d rows of the register file cannot be imported; nothing was imported. Fix the "
                     "rows below and import again, or add --skip-rejected to import the other households.",
                     len({rejection.row for rejection in rejections}))
    return "\n".join([first, *services.rejection_lines(rejections)])
