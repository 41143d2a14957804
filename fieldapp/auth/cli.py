"""``flask create-user``."""

import click
from babel.lists import format_list
from flask.cli import with_appcontext
from flask_babel import get_locale
from flask_babel import gettext as _

from fieldapp.auth import services
from fieldapp.auth.forms import ROLE_LABELS
from fieldapp.divisions.models import Division
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.terminal import CommandError


def _division_codes(_ctx, _param, codes: tuple[str, ...]) -> tuple[str, ...]:
    """Check each --division value before the password prompt: 12 digits, and in the division list."""
    for code in (code.strip() for code in codes):
        if len(code) != 12 or not (code.isascii() and code.isdigit()):
            raise CommandError(_("--division %(code)s is not a division code: give all 12 digits, such as "
                                 "371600000000 for a city or 371621000000 for a county.", code=code))
        if db.session.get(Division, code) is None:
            raise CommandError(_("--division %(code)s is not in the division list. Check the code; if it is "
                                 "right, load a division list that contains it first with \"flask --app "
                                 "fieldapp import-divisions FILE\".", code=code))
    return codes


@click.command("create-user")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["admin", "supervisor", "inspector"]),
              help="What the user may do.")
@click.option("--division", "divisions", required=True, multiple=True, callback=_division_codes,
              help="12-digit code of a division the user may see; repeat for several.")
@click.option("--name", "display_name", default="", help="Name shown in the pages.")
@click.option("--demo", is_flag=True, help="Make a training account that sees only demo data.")
@click.password_option(help="Prompted for when not given.")
@with_appcontext
def create_user(username, role, divisions, display_name, demo, password):
    """Create a user with a role and the divisions they may see."""
    try:
        user = services.create_user(
            username, password, role, list(divisions), display_name=display_name, is_demo=demo
        )
    except FieldError as error:
        db.session.rollback()
        raise CommandError(error.message) from None
    db.session.commit()
    click.echo(_("Created the account %(username)s (%(role)s) for divisions %(divisions)s.",
                 username=user.username, role=ROLE_LABELS[user.role],
                 divisions=format_list(user.division_codes, locale=get_locale())))

