import click


@click.command("load-questionnaires")
def load_questionnaires():
    raise click.ClickException("not built yet")
