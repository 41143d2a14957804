import click


@click.command("run-checks")
def run_checks():
    raise click.ClickException("not built yet")
