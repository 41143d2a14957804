"""``flask run-checks`` and ``flask import-registry KIND FILE``."""

import time

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _
from flask_babel import ngettext

from fieldapp.checks import registries, services
from fieldapp.checks.models import STANDARD_KINDS
from fieldapp.errors import FieldError, ImportRejected, RowsRejected
from fieldapp.extensions import db
from fieldapp.terminal import CommandError, done_line, table_lines

# Seconds between two progress lines of a registry import.
PROGRESS_INTERVAL_S = 1.0


class _RulePrinter:
    """Print "rule 3/40 ID check character wrong" before each rule and a line before saving, to stderr."""

    def __call__(self, rule_id: str, done: int, total: int) -> None:
        if rule_id == services.SAVING_STEP:
            line = _("saving the suspected problems %(number)d/%(total)d", number=done + 1, total=total)
        else:
            line = _("rule %(number)d/%(total)d %(rule)s", number=done + 1, total=total,
                     rule=services.rule_name(rule_id))
        click.echo(line, err=True)


class _RowPrinter:
    """Print "reading 1200/50000 rows" at most once a second, and the last line of each stage."""

    def __init__(self):
        self.last_printed = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last_printed < PROGRESS_INTERVAL_S:
            return
        self.last_printed = now
        if stage == "reading":
            line = _("reading %(done)d/%(total)d rows", done=done, total=total)
        elif stage == "writing":
            line = _("writing %(done)d/%(total)d records", done=done, total=total)
        else:
            line = f"{stage} {done}/{total}"
        click.echo(line, err=True)


@click.command("run-checks")
@click.option("--division", "divisions", multiple=True,
              help="12-digit code of a division to check; repeat for several. Default: every division.")
@click.option("--demo", is_flag=True, help="Check the demo households instead of the real ones.")
@with_appcontext
def run_checks(divisions, demo):
    """Run the data-check rules and cross-checks, and update the suspected-problem list."""
    started = time.monotonic()
    try:
        prefixes = services.division_prefixes_for(list(divisions)) if divisions else None
    except FieldError as error:
        raise CommandError(error.message) from None
    try:
        summary = services.run_checks(is_demo=demo, division_prefixes=prefixes, progress=_RulePrinter())
    except services.RegistryChanged as error:
        db.session.rollback()
        raise CommandError(error.message) from None
    db.session.commit()

    if summary.by_rule:
        # The rule id is the value that the problem list's filter takes in its address (?rule=).
        rows = [[_("Rule"), _("Problems found"), _("Rule id")]]
        for rule_id, count in summary.by_rule.items():
            rows.append([services.rule_name(rule_id), str(count), rule_id])
        for line in table_lines(rows, right_aligned={1}):
            click.echo(line)
    else:
        click.echo(_("Every rule is switched off, so no rule was run. Switch rules on in the rule settings "
                     "of the data checks page."))
    click.echo(_("Reference date for ages: %(date)s.", date=summary.reference_date.isoformat()))
    click.echo(_("Problems: %(opened)d opened (%(reopened)d of them reopened), %(kept)d kept, %(resolved)d "
                 "resolved by the data, %(disabled)d set aside because their rule is switched off.",
                 opened=summary.opened, reopened=summary.reopened, kept=summary.kept,
                 resolved=summary.resolved, disabled=summary.disabled))
    click.echo(done_line(started))


@click.command("import-registry")
@click.argument("kind")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--custom", is_flag=True,
              help="KIND is a custom kind, not one of 房产 车辆 低保 工商登记 财政供养 死亡人员.")
@click.option("--id-column", help="Header of the column holding the ID numbers, when it is not recognised.")
@click.option("--name-column", help="Header of the column holding the names, when it is not recognised.")
@click.option("--date", "data_date", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Date the registry's data is as of (YYYY-MM-DD), from 2000-01-01 to today. Default: the "
                   "date in the file's title row, else today.")
@click.option("--skip-rejected", is_flag=True,
              help="Import the rows that can be read in full and list the rejected ones, instead of "
                   "importing nothing. A row is rejected when its ID number is missing or not valid, or when "
                   "any of its cells cannot be read (an Excel error such as #DIV/0!); no row is imported in "
                   "part.")
@click.option("--demo", is_flag=True, help="Import the registry for the demo (training) households.")
@with_appcontext
def import_registry(kind, file, custom, id_column, name_column, data_date, skip_rejected, demo):
    """Import a registry FILE (.xlsx, .xlsm, .xls, .ods or .csv) of KIND as a new dated batch.

    KIND is 房产, 车辆, 低保, 工商登记, 财政供养 or 死亡人员 (or housing, vehicle, dibao,
    business, payroll, deceased), or any name with --custom. The cross-checks use the
    batch of each kind with the latest data date (--date), and of two batches with the
    same date the later import, so importing an older file does not replace the batch
    in use.
    """
    started = time.monotonic()
    if not custom and kind.strip() and registries.standard_kind(kind) is None:
        raise CommandError(_("Unknown registry kind %(kind)s; use one of %(kinds)s, or add --custom to "
                             "import it as a kind of its own.", kind=kind.strip(),
                             kinds="、".join(STANDARD_KINDS)))
    try:
        kind = registries.check_kind(kind, custom=custom)
        batch = registries.import_registry(
            file, kind, data_date=data_date.date() if data_date else None, is_demo=demo, id_column=id_column,
            name_column=name_column, skip_rejected=skip_rejected, progress=_RowPrinter(),
        )
    except FieldError as error:
        db.session.rollback()
        message = error.message
        if error.field == "id_column":
            message = _("%(message)s Give it with --id-column.", message=message)
        raise CommandError(message) from None
    except registries.WrongIdColumn as error:
        db.session.rollback()
        first, _newline, details = error.message.partition("\n")
        lines = [_("%(message)s Give it with --id-column.", message=first)]
        raise CommandError("\n".join(lines + ([details] if details else []))) from None
    except RowsRejected as error:
        db.session.rollback()
        raise CommandError(_rows_rejected_message(error.rejections)) from None
    except ImportRejected as error:
        db.session.rollback()
        raise CommandError(error.message) from None
    db.session.commit()

    # Two counts in one sentence: the rows are a translated phrase, the records choose the sentence's form.
    counts = {"kind": batch.kind, "rows": ngettext("%(num)d row", "%(num)d rows", batch.rows_read),
              "date": batch.data_date.isoformat(), "id_column": batch.id_column}
    if batch.name_column:
        click.echo(ngettext("%(kind)s: %(num)d record imported from %(rows)s, data as of %(date)s; ID "
                            "numbers from column %(id_column)s, names from %(name_column)s.",
                            "%(kind)s: %(num)d records imported from %(rows)s, data as of %(date)s; ID "
                            "numbers from column %(id_column)s, names from %(name_column)s.",
                            batch.records_count, name_column=batch.name_column, **counts))
    else:
        click.echo(ngettext("%(kind)s: %(num)d record imported from %(rows)s, data as of %(date)s; ID "
                            "numbers from column %(id_column)s, no name column.",
                            "%(kind)s: %(num)d records imported from %(rows)s, data as of %(date)s; ID "
                            "numbers from column %(id_column)s, no name column.",
                            batch.records_count, **counts))
    if batch.rows_rejected:
        for line in registries.rejection_lines(batch.rejections):
            click.echo(line)
        click.echo(ngettext("%(num)d row skipped.", "%(num)d rows skipped.", batch.rows_rejected))
    command = "flask --app fieldapp run-checks" + (" --demo" if demo else "")
    click.echo(_("Run \"%(command)s\" to cross-check the members against it.", command=command))
    click.echo(done_line(started))


def _rows_rejected_message(rejections: list[dict]) -> str:
    """Return the message of an import stopped by rejected rows, naming --skip-rejected."""
    first = ngettext("%(num)d row of the registry file cannot be imported; nothing was imported. Fix the "
                     "row below and import again, or add --skip-rejected to import the other rows.",
                     "%(num)d rows of the registry file cannot be imported; nothing was imported. Fix the "
                     "rows below and import again, or add --skip-rejected to import the other rows.",
                     registries.rejected_rows(rejections))
    return "\n".join([first, *registries.rejection_lines(rejections)])
