"""``flask seed-demo`` and ``flask reset-demo``: the training data."""

import click
from flask.cli import with_appcontext

from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.training import demo

households_option = click.option(
    "--households", type=click.IntRange(min=demo.generator.MIN_HOUSEHOLDS), default=demo.DEFAULT_HOUSEHOLDS,
    show_default=True, help="Number of demo households to generate.",
)
seed_option = click.option(
    "--seed", type=int, default=demo.DEFAULT_SEED, show_default=True,
    help="Random seed; the same seed gives the same households, people and ID numbers.",
)


@click.command("seed-demo")
@click.option("--if-missing", is_flag=True, help="Do nothing when demo households exist already.")
@households_option
@seed_option
@with_appcontext
def seed_demo(if_missing, households, seed):
    """Create the demo accounts and demo households, run the checks and draw a sampling round."""
    if if_missing and demo.demo_data_exists():
        click.echo("Demo data exists already; nothing to do.")
        return
    _seed(households, seed)


@click.command("reset-demo")
@households_option
@seed_option
@with_appcontext
def reset_demo(households, seed):
    """Delete all demo data and the work done on it, then seed it again. The audit log is kept."""
    deleted = demo.delete_demo_data()
    click.echo(
        f"Deleted demo data: households {deleted.households}, sampling rounds {deleted.rounds}, "
        f"visits {deleted.visits}, photos {deleted.photos}, findings {deleted.findings}; "
        f"extra demo accounts deactivated: {deleted.accounts_deactivated}."
    )
    _seed(households, seed)
    demo.remove_deleted_files(deleted)


def _seed(households: int, seed: int) -> None:
    """Seed, then commit; on an error nothing is written, including the deletion of ``reset-demo``."""
    try:
        summary = demo.seed_demo(households, seed)
    except FieldError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(
        f"Seeded {summary.households} demo households with {summary.members} members in "
        f"{summary.villages} villages (seed {seed}); {len(summary.planted)} problems planted, "
        f"{summary.problems_opened} suspected problems found by the checks."
    )
    click.echo(
        f"Sampling round {summary.sampling_round.name} drew {summary.sampled} households, assigned to "
        f"the demo inspectors."
    )
    accounts = ", ".join(account.username for account in demo.DEMO_ACCOUNTS)
    click.echo(f"Demo accounts ({summary.accounts_created} created, {summary.accounts_restored} restored): "
               f"{accounts}; password {demo.DEMO_PASSWORD}")
