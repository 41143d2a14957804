"""Command line: load the bundled questionnaire definitions."""

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from fieldapp.extensions import db
from fieldapp.terminal import CommandError
from fieldapp.visits import questionnaires


@click.command("load-questionnaires")
@with_appcontext
def load_questionnaires():
    """Insert each bundled questionnaire version that the database does not have yet."""
    try:
        inserted = questionnaires.load_bundled()
    except questionnaires.DefinitionError as error:
        db.session.rollback()
        raise CommandError(str(error)) from error
    db.session.commit()
    for questionnaire in inserted:
        click.echo(_("Loaded questionnaire \"%(title)s\", version %(version)d.",
                     title=questionnaire.title, version=questionnaire.version))
    if not inserted:
        click.echo(_("Every bundled questionnaire version is already loaded."))
