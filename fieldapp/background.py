"""Running a long job (imports, check runs, exports) outside the request that started it."""

import threading
from collections.abc import Callable

from flask import Flask, current_app

from fieldapp.extensions import db


def start_job(target: Callable[[int], None], job_id: int, *, name: str, inline_setting: str):
    """Run ``target(job_id)`` in a daemon thread with its own application context and session.

    When the configuration value ``inline_setting`` is true, the job runs in the current
    request instead and None is returned. Tests set it to see the outcome at once.
    """
    app = current_app._get_current_object()
    if app.config.get(inline_setting):
        target(job_id)
        return None
    thread = threading.Thread(
        target=_run_in_thread, args=(app, target, job_id), name=f"{name}-{job_id}", daemon=True
    )
    thread.start()
    return thread


def _run_in_thread(app: Flask, target: Callable[[int], None], job_id: int) -> None:
    with app.app_context():
        try:
            target(job_id)
        finally:
            db.session.remove()
