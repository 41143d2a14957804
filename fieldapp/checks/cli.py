"""``flask run-checks`` and ``flask import-registry KIND FILE``."""

import time
from datetime import date

import click
from flask.cli import with_appcontext

from fieldapp.checks import registries, services
from fieldapp.errors import FieldError, ImportRejected
from fieldapp.extensions import db

# Seconds between two progress lines of a registry import.
PROGRESS_INTERVAL_S = 1.0


class _RulePrinter:
    """Print "rule 3/40 id_check_character" before each rule, to standard error."""

    def __call__(self, rule_id: str, done: int, total: int) -> None:
        click.echo(f"rule {done + 1}/{total} {rule_id}", err=True)


class _RowPrinter:
    """Print "reading 1200/50000 rows" at most once a second, and the last line of each stage."""

    def __init__(self):
        self.last_printed = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last_printed < PROGRESS_INTERVAL_S:
            return
        self.last_printed = now
        click.echo(f"{stage} {done}/{total} {'records' if stage == 'writing' else 'rows'}", err=True)


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
        raise click.ClickException(error.message) from None
    summary = services.run_checks(is_demo=demo, division_prefixes=prefixes, progress=_RulePrinter())
    db.session.commit()

    width = max(len(rule_id) for rule_id in summary.by_rule)
    for rule_id, count in summary.by_rule.items():
        click.echo(f"{rule_id:<{width}}  {count:>6}  {services.rule_name(rule_id)}")
    click.echo(f"Reference date for ages: {summary.reference_date.isoformat()}.")
    click.echo(f"Problems: {summary.opened} opened ({summary.reopened} of them reopened), "
               f"{summary.kept} kept, {summary.resolved} resolved by the data, "
               f"{summary.disabled} set aside because their rule is switched off.")
    click.echo(f"Done in {time.monotonic() - started:.1f} s.")


@click.command("import-registry")
@click.argument("kind")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--custom", is_flag=True,
              help="KIND is a custom kind, not one of 房产 车辆 低保 工商登记 财政供养 死亡人员.")
@click.option("--id-column", help="Header of the column holding the ID numbers, when it is not recognised.")
@click.option("--name-column", help="Header of the column holding the names, when it is not recognised.")
@click.option("--date", "data_date", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Date the registry's data is as of (YYYY-MM-DD). Default: the date in the file's title "
                   "row, else today.")
@click.option("--skip-rejected", is_flag=True,
              help="Import the rows with a usable ID number and list the others, instead of importing "
                   "nothing.")
@click.option("--demo", is_flag=True, help="Import the registry for the demo (training) households.")
@with_appcontext
def import_registry(kind, file, custom, id_column, name_column, data_date, skip_rejected, demo):
    """Import a registry FILE (.xlsx, .xls or .csv) of KIND as a new dated batch.

    KIND is 房产, 车辆, 低保, 工商登记, 财政供养 or 死亡人员 (or housing, vehicle, dibao,
    business, payroll, deceased), or any name with --custom. The newest batch of a
    kind replaces the older ones in the cross-checks.
    """
    started = time.monotonic()
    try:
        kind = registries.check_kind(kind, custom=custom)
        batch = registries.import_registry(
            file, kind, data_date=data_date.date() if data_date else None, is_demo=demo, id_column=id_column,
            name_column=name_column, skip_rejected=skip_rejected, progress=_RowPrinter(),
        )
    except FieldError as error:
        db.session.rollback()
        hint = " Give it with --id-column." if error.field == "id_column" else ""
        raise click.ClickException(error.message + hint) from None
    except ImportRejected as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()

    click.echo(f"{batch.kind}: {batch.records_count} records imported from {batch.rows_read} rows, "
               f"data as of {_iso(batch.data_date)}; ID numbers from column {batch.id_column}, names from "
               f"{batch.name_column or '(none)'}.")
    if batch.rows_rejected:
        click.echo(registries.rejection_message(batch.rejections).split("\n", 1)[1])
        click.echo(f"{batch.rows_rejected} rows skipped.")
    click.echo("Run \"flask run-checks\" to cross-check the members against it.")
    click.echo(f"Done in {time.monotonic() - started:.1f} s.")


def _iso(value: date) -> str:
    return value.isoformat()
