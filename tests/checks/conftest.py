"""Fixtures for the check tests: jobs run in the request, files in temporary folders, English pages."""

import pytest


@pytest.fixture
def sync_jobs(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "CHECK_JOBS_SYNC", True)
    monkeypatch.setitem(app.config, "REGISTRY_IMPORT_FOLDER", str(tmp_path / "registries"))


@pytest.fixture
def en_client(client):
    client.set_cookie("lang", "en", domain="localhost.localdomain")
    return client
