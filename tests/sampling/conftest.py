"""Fixtures for the sampling tests: suspected problems made directly, as the checks would store them."""

import itertools

import pytest
from flask_babel import force_locale

from fieldapp.checks.models import SuspectedProblem
from fieldapp.db_types import utcnow
from fieldapp.extensions import db

_keys = itertools.count(1)


def add_problem(household, severity: int = 1, *, rule_id: str = "head_missing", status: str = "open"):
    now = utcnow()
    problem = SuspectedProblem(
        key=f"test:{next(_keys)}:{household.id}", rule_id=rule_id, severity=severity,
        household_id=household.id, detail="", detail_values={}, status=status,
        first_seen_at=now, last_seen_at=now, resolved_at=None if status == "open" else now,
    )
    db.session.add(problem)
    db.session.flush()
    return problem


@pytest.fixture
def problem():
    return add_problem


@pytest.fixture
def ctx(app):
    """A request context with English messages, whatever the catalogue contains, so tests can match text."""
    with app.test_request_context(), force_locale("en"):
        yield


@pytest.fixture
def english(client, app):
    """The test client with its language cookie set to English."""
    client.set_cookie("lang", "en", domain=app.config["SERVER_NAME"])
    return client
