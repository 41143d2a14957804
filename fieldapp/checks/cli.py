"""``flask run-checks``."""

import click
from flask.cli import with_appcontext

from fieldapp.checks import services
from fieldapp.errors import FieldError
from fieldapp.extensions import db


@click.command("run-checks")
@click.option("--division", "divisions", multiple=True,
              help="12-digit code of a division to check; repeat for several. Default: every division.")
@click.option("--demo", is_flag=True, help="Check the demo households instead of the real ones.")
@with_appcontext
def run_checks(divisions, demo):
    """Run the data-check rules and update the suspected-problem list."""
    try:
        prefixes = services.division_prefixes_for(list(divisions)) if divisions else None
    except FieldError as error:
        raise click.ClickException(error.message) from None
    summary = services.run_checks(is_demo=demo, division_prefixes=prefixes)
    db.session.commit()

    width = max(len(rule_id) for rule_id in summary.by_rule)
    for rule_id, count in summary.by_rule.items():
        click.echo(f"{rule_id:<{width}}  {count:>6}  {services.rule_name(rule_id)}")
    click.echo(f"Problems: {summary.opened} opened ({summary.reopened} of them reopened), "
               f"{summary.kept} kept, {summary.resolved} resolved by the data.")
