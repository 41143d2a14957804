"""Fixtures for the register tests: an imports folder per test and English messages."""

import pytest
from flask_babel import force_locale


@pytest.fixture
def imports_dir(app, tmp_path, monkeypatch):
    folder = tmp_path / "imports"
    monkeypatch.setitem(app.config, "REGISTER_IMPORT_FOLDER", str(folder))
    return folder


@pytest.fixture
def english(app):
    """Run the test body with English messages, whatever the catalogue holds."""
    with force_locale("en"):
        yield


@pytest.fixture
def sync_jobs(app, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTER_IMPORT_SYNC", True)
