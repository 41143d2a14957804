"""``flask import-divisions``."""

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from fieldapp.divisions import services
from fieldapp.errors import ImportRejected
from fieldapp.extensions import db
from fieldapp.terminal import CommandError


@click.command("import-divisions")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_divisions(file):
    """Load divisions from FILE (CSV: code,name,level,parent_code), or Binzhou's when FILE is omitted."""
    if file:
        with open(file, "rb") as handle:
            raw = handle.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("gb18030")
    else:
        text = services.bundled_divisions_text()
    try:
        result = services.import_divisions(text)
    except ImportRejected as error:
        db.session.rollback()
        raise CommandError(error.message) from None
    db.session.commit()
    click.echo(_("Divisions: %(added)d added, %(updated)d updated, %(unchanged)d unchanged.",
                 added=result.added, updated=result.updated, unchanged=result.unchanged))
