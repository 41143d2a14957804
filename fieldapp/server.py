"""The production server: waitress, with the garbage collector prepared for a long-running process."""

import gc
import logging

import click
from flask.cli import ScriptInfo, pass_script_info
from flask_babel import gettext as _
from flask_babel import ngettext

from fieldapp.terminal import CommandError

DEFAULT_THREADS = 8


def create_server(app, *, host: str, port: int, threads: int = DEFAULT_THREADS):
    """Return a waitress server for ``app`` that listens on ``host:port``; raise OSError when it cannot."""
    from waitress import create_server as waitress_create_server

    # The objects made at start-up (models, mappers, catalogues, questionnaires) live as long as
    # the process. Frozen, they are left out of later full collections: in bench/submit.py a full
    # collection paused every request for about 70 ms before, and 7 ms after.
    gc.collect()
    gc.freeze()
    # Waitress warns "Task queue depth is N" for each request that waits for a free thread. Under a
    # burst of phone uploads that is a line per request, written by the thread that does all the
    # network input and output. Errors are still logged.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    return waitress_create_server(app, host=host, port=port, threads=threads)


def serve(app, *, host: str, port: int, threads: int = DEFAULT_THREADS) -> None:
    """Serve ``app`` with waitress until the process is stopped."""
    create_server(app, host=host, port=port, threads=threads).run()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.option("--threads", default=DEFAULT_THREADS, show_default=True, type=click.IntRange(1, 64),
              help="Worker threads.")
@pass_script_info
def serve_command(info: ScriptInfo, host: str, port: int, threads: int) -> None:
    """Serve FieldApp with its production server, waitress."""
    # Loaded outside an application context, as each request pushes its own.
    app = info.load_app()
    try:
        server = create_server(app, host=host, port=port, threads=threads)
    except OSError as error:
        with app.app_context():
            raise CommandError(_(
                "FieldApp cannot listen on %(host)s:%(port)d (%(error)s). Another program, perhaps "
                "FieldApp itself, may be using the port: stop it, or choose another port, e.g. "
                "make run PORT=5001.", host=host, port=port, error=error.strerror or error)) from error
    with app.app_context():
        # After the port is taken, so that a second ``serve`` of the same installation, which fails
        # above, does not mark the first one's jobs.
        # NOTE: another server process on another port with the same database would lose its running jobs.
        from fieldapp.job_recovery import fail_abandoned_jobs

        fail_abandoned_jobs(app.config["BABEL_DEFAULT_LOCALE"])
        click.echo(ngettext("FieldApp is running on http://%(host)s:%(port)d with %(num)d thread. Press "
                            "Ctrl+C to stop it.",
                            "FieldApp is running on http://%(host)s:%(port)d with %(num)d threads. Press "
                            "Ctrl+C to stop it.", threads, host=host, port=port))
    server.run()
