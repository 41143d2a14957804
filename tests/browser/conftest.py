"""A live FieldApp server in a thread and a headless Chromium driven by Playwright.

The server is waitress on 127.0.0.1 with a free port, serving ``create_app()`` on its own
SQLite file, so tests here commit for real and are marked ``committing``. Chromium is the
system package (``/usr/bin/chromium``); Playwright's own browser downloads are never used.
Without Chromium or the ``playwright`` package the tests are skipped, or fail when the
environment variable ``CI`` is set.
"""

import importlib.util
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask_migrate import upgrade

from fieldapp import create_app
from fieldapp.extensions import db
from tests.conftest import TEST_SECRET, load_reference_data

CHROMIUM = os.environ.get("FIELDAPP_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Playwright's default of 30 s hides a hung page for too long; pages here load in well under 1 s.
TIMEOUT_MS = 10_000


def missing_requirement() -> str | None:
    """Return what is missing to run the browser tests, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "the Python package playwright is not installed (make install-test installs it)"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)) and not shutil.which(CHROMIUM):
        return f"Chromium is not installed at {CHROMIUM} (Debian package chromium)"
    return None


@pytest.fixture(scope="session")
def playwright():
    """Yield the started Playwright driver."""
    missing = missing_requirement()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and browser tests cannot run: {missing}")
        pytest.skip(missing)

    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def chromium(playwright):
    """Yield a headless Chromium launched from the system package."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@dataclass
class LiveServer:
    url: str
    app: object

    def app_context(self):
        return self.app.app_context()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """Serve a fresh, migrated FieldApp on 127.0.0.1 from a thread for the whole session."""
    from waitress import create_server

    folder = tmp_path_factory.mktemp("live")
    app = create_app({
        "SECRET_KEY": TEST_SECRET,
        "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(folder / "live.sqlite3"),
        "UPLOAD_FOLDER": str(folder / "uploads"),
    })
    with app.app_context():
        upgrade()
        load_reference_data()
        db.session.remove()

    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.effective_port}", app=app)
    finally:
        server.close()
        thread.join(timeout=5)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
