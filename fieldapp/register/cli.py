import click


@click.command("import-register")
def import_register():
    raise click.ClickException("not built yet")
