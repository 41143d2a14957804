"""``flask sample``."""

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from fieldapp.auth.models import User
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.sampling import services


@click.command("sample")
@click.option("--division", "divisions", multiple=True, required=True,
              help="12-digit code of a county or township to sample from; repeat for several.")
@click.option("--size", type=int, required=True, help="Number of households to draw.")
@click.option("--seed", type=int, required=True,
              help=f"Random seed from 0 to {services.SEED_MAX}; the same seed and data draw the same "
                   "households.")
@click.option("--name", required=True, help="Name of the round.")
@click.option("--demo", is_flag=True, help="Sample the demo households instead of the real ones.")
@click.option("--assign-to", "inspector_names", multiple=True,
              help="User name of an inspector to share the households among, village by village; "
                   "repeat for several.")
@with_appcontext
def sample(divisions, size, seed, name, demo, inspector_names):
    """Draw a sampling round stratified by township and print its allocation."""
    inspectors = _inspectors(inspector_names)
    try:
        sampling_round = services.create_round(name, list(divisions), size, seed, user=None, is_demo=demo)
        assigned = services.auto_assign(sampling_round, inspectors, user=None) if inspectors else None
    except FieldError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()

    click.echo(f"Round {sampling_round.id} \"{sampling_round.name}\": {size} of "
               f"{sampling_round.population_size} households, seed {seed}.")
    click.echo(f"{'township':<12}  {'population':>10}  {'drawn':>6}  name")
    for stratum in sampling_round.parameters["allocation"]:
        code, population, drawn = stratum["code"], stratum["population"], stratum["allocated"]
        click.echo(f"{code:<12}  {population:>10}  {drawn:>6}  {stratum['name']}")
    if assigned is not None:
        click.echo(f"Assigned {assigned.assigned} households.")
        if assigned.villages_without_inspector:
            click.echo("No given inspector covers these villages, so their households are unassigned: "
                       + ", ".join(assigned.villages_without_inspector))


def _inspectors(usernames) -> list[User]:
    users = []
    for username in usernames:
        user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            raise click.ClickException(f"User {username} was not found; give an inspector's user name.")
        users.append(user)
    return users
