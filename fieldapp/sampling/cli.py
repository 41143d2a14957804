"""``flask sample``: draw a sampling round from the command line and print its allocation."""

import click
from babel.lists import format_list
from flask.cli import with_appcontext
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import select

from fieldapp.auth.models import User
from fieldapp.divisions.models import Division
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.sampling import services
from fieldapp.sampling.forms import STRATUM_LEVEL_LABELS
from fieldapp.sampling.methods import ALLOCATIONS, METHOD_LABELS, METHODS
from fieldapp.sampling.population import Exclusions
from fieldapp.terminal import CommandError, table_lines

# The figures of a stratum in the printed table, between its code and its name.
STRATUM_FIGURES = ("population", "allocated", "reserves", "problems", "drawn_problems")


def _codes(values) -> list[str]:
    """Split repeated and comma-separated option values into a list."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@click.command("sample")
@click.option("--division", "--divisions", "divisions", multiple=True, required=True,
              help="12-digit code of a county or township to sample from; repeat the option or separate "
                   "codes with commas for several.")
@click.option("--size", type=int, required=True, help="Number of households to draw.")
@click.option("--seed", type=int, required=True,
              help=f"Random seed from 0 to {services.SEED_MAX}; the same seed and data draw the same "
                   "households.")
@click.option("--name", help="Name of the round; defaults to one made of the size and seed.")
@click.option("--method", type=click.Choice(list(METHODS)), default="stratified_srs", show_default=True,
              help="Draw within a stratum: simple random sample, or probability proportional to each "
                   "household's severity-weighted problem score.")
@click.option("--allocation", type=click.Choice(list(ALLOCATIONS)), default="households", show_default=True,
              help="How the size is shared out over strata: equally, or in proportion to households, "
                   "suspected problems or the severity-weighted problem score.")
@click.option("--stratum-level", type=click.Choice(services.STRATUM_LEVELS), default=services.STRATUM_LEVEL,
              show_default=True, help="Divisions that form the strata.")
@click.option("--minimum", type=click.IntRange(min=0), default=0, show_default=True,
              help="Minimum number of households per stratum (all of a smaller stratum).")
@click.option("--control-share", "control_percent", type=click.IntRange(0, 100), default=0, show_default=True,
              help="Percentage of each stratum's sample drawn from households without an open suspected "
                   "problem, as a control group.")
@click.option("--reserves", type=click.IntRange(0, services.RESERVES_MAX), default=services.DEFAULT_RESERVES,
              show_default=True, help="Reserve households drawn in order for each stratum.")
@click.option("--exclude-round", "exclude_rounds", type=int, multiple=True,
              help="Id of an earlier round whose sampled households are left out; repeat for several.")
@click.option("--exclude-visited-days", type=click.IntRange(1, services.VISITED_DAYS_MAX),
              help="Leave out households visited within this many days.")
@click.option("--exclude-type", "exclude_types", multiple=True,
              help="Household type (户类型) to leave out, e.g. 脱贫户; repeat for several.")
@click.option("--demo", is_flag=True, help="Sample the demo households instead of the real ones.")
@click.option("--assign-to", "inspector_names", multiple=True,
              help="User name of an inspector to share the households among, village by village; "
                   "repeat for several.")
@with_appcontext
def sample(divisions, size, seed, name, method, allocation, stratum_level, minimum, control_percent, reserves,
           exclude_rounds, exclude_visited_days, exclude_types, demo, inspector_names):
    """Draw a sampling round and print its allocation per stratum."""
    inspectors = _inspectors(inspector_names)
    options = services.RoundOptions(
        stratum_level=stratum_level, allocation=allocation, minimum=minimum, control_percent=control_percent,
        reserves=reserves,
        exclusions=Exclusions(round_ids=tuple(exclude_rounds), visited_days=exclude_visited_days,
                              household_types=tuple(exclude_types)),
    )
    try:
        # The default name is stored, so it is written once, in the default locale.
        name = name or _("Sample of %(size)d, seed %(seed)d", size=size, seed=seed)
        sampling_round = services.create_round(name, _codes(divisions), size, seed, user=None, is_demo=demo,
                                               method=method, options=options)
        assigned = services.auto_assign(sampling_round, inspectors, user=None) if inspectors else None
    except FieldError as error:
        db.session.rollback()
        raise CommandError(error.message) from None
    db.session.commit()
    _print_round(sampling_round, size, seed)
    if assigned is not None:
        click.echo(ngettext("Assigned %(num)d household.", "Assigned %(num)d households.", assigned.assigned))
        villages = assigned.villages_without_inspector
        if villages:
            click.echo(ngettext("None of the given inspectors covers %(num)d village, so its households "
                                "are unassigned: %(villages)s.",
                                "None of the given inspectors covers %(num)d villages, so their households "
                                "are unassigned: %(villages)s.",
                                len(villages), villages=_village_list(villages)))


def _village_list(codes: list[str]) -> str:
    """List the villages by name and code, or by code alone when the division list lacks one."""
    stmt = select(Division.code, Division.name).where(Division.code.in_(codes))
    names = dict(db.session.execute(stmt).all())
    labels = [f"{names[code]}（{code}）" if code in names else code for code in codes]
    return format_list(labels, locale=get_locale())


def _print_round(sampling_round, size: int, seed: int) -> None:
    parameters = sampling_round.parameters
    click.echo(ngettext("Round %(id)d \"%(name)s\": %(size)d of %(num)d household, seed %(seed)d.",
                        "Round %(id)d \"%(name)s\": %(size)d of %(num)d households, seed %(seed)d.",
                        sampling_round.population_size, id=sampling_round.id, name=sampling_round.name,
                        size=size, seed=seed))
    method, allocation, level = (sampling_round.method, parameters["allocation_rule"],
                                 parameters["stratum_level"])
    click.echo(ngettext("Method: %(method)s; allocation: %(allocation)s; strata: %(level)s; %(num)d eligible "
                        "household.",
                        "Method: %(method)s; allocation: %(allocation)s; strata: %(level)s; %(num)d eligible "
                        "households.", parameters["eligible"], method=METHOD_LABELS.get(method, method),
                        allocation=ALLOCATIONS.get(allocation, allocation),
                        level=STRATUM_LEVEL_LABELS.get(level, level)))
    header = [_("Stratum"), _("Households"), _("Drawn"), _("Reserves"), _("Suspected problems"),
              _("Problems covered"), _("Name")]
    rows = [[stratum["code"], *(str(stratum[key]) for key in STRATUM_FIGURES), stratum["name"]]
            for stratum in parameters["allocation"]]
    for line in table_lines([header, *rows], right_aligned={1, 2, 3, 4, 5}):
        click.echo(line)
    total = parameters["problems_total"]
    if total:
        click.echo(_("Suspected problems covered: %(drawn)d of %(total)d (%(share).1f %%); a uniform sample "
                     "of the same size covers %(uniform).1f %% on average.",
                     drawn=parameters["problems_drawn"], total=total,
                     share=100 * parameters["problems_drawn"] / total,
                     uniform=100 * parameters["problems_uniform"] / total))


def _inspectors(usernames) -> list[User]:
    users = []
    for username in usernames:
        user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            raise CommandError(_("User %(name)s was not found; give an inspector's user name.",
                                 name=username))
        users.append(user)
    return users
