"""``flask seed-demo``, ``flask reset-demo`` and ``flask deactivate-demo``: the training data and accounts."""

import click
from babel.lists import format_list
from flask.cli import with_appcontext
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.terminal import CommandError
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
        click.echo(_("Demo data exists already; nothing to do."))
        return
    _seed(households, seed)


@click.command("reset-demo")
@households_option
@seed_option
@with_appcontext
def reset_demo(households, seed):
    """Delete all demo data and the work done on it, then seed it again. The audit log is kept."""
    deleted = demo.delete_demo_data()
    click.echo(_(
        "Deleted demo data: households %(households)d, sampling rounds %(rounds)d, visits %(visits)d, "
        "photos %(photos)d, findings %(findings)d; extra demo accounts deactivated: %(accounts)d.",
        households=deleted.households, rounds=deleted.rounds, visits=deleted.visits, photos=deleted.photos,
        findings=deleted.findings, accounts=deleted.accounts_deactivated,
    ))
    _seed(households, seed)
    demo.remove_deleted_files(deleted)


@click.command("deactivate-demo")
@with_appcontext
def deactivate_demo():
    """Deactivate every demo account, for a server with real data. reset-demo restores them."""
    count = demo.deactivate_demo_accounts()
    db.session.commit()
    click.echo(ngettext("%(num)d demo account deactivated. The command reset-demo restores them.",
                        "%(num)d demo accounts deactivated. The command reset-demo restores them.", count))


def _seed(households: int, seed: int) -> None:
    """Seed, then commit; on an error nothing is written, including the deletion of ``reset-demo``."""
    try:
        summary = demo.seed_demo(households, seed)
    except FieldError as error:
        db.session.rollback()
        raise CommandError(error.message) from None
    db.session.commit()
    click.echo(_(
        "Seeded %(households)d demo households with %(members)d members in %(villages)d villages "
        "(seed %(seed)d); %(planted)d problems planted, %(opened)d suspected problems found by the checks.",
        households=summary.households, members=summary.members, villages=summary.villages, seed=seed,
        planted=len(summary.planted), opened=summary.problems_opened,
    ))
    click.echo(ngettext("Sampling round %(name)s drew %(num)d household, assigned to the demo inspectors.",
                        "Sampling round %(name)s drew %(num)d households, assigned to the demo inspectors.",
                        summary.sampled, name=summary.sampling_round.name))
    accounts = format_list([account.username for account in demo.DEMO_ACCOUNTS], locale=get_locale())
    click.echo(_("Demo accounts (%(created)d created, %(restored)d restored): %(accounts)s; password "
                 "%(password)s",
                 created=summary.accounts_created, restored=summary.accounts_restored, accounts=accounts,
                 password=demo.DEMO_PASSWORD))
