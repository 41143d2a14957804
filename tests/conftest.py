"""Shared fixtures: one migrated database per test session, a rolled-back transaction per test.

The database is a SQLite file in a temporary folder, or the PostgreSQL database
named by ``FIELDAPP_TEST_DATABASE_URI`` (the CI runs the suite on both).
"""

import os

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text
from sqlalchemy.orm import scoped_session, sessionmaker

from fieldapp import create_app
from fieldapp.extensions import db
from tests import factories

TEST_SECRET = "test-secret-key-not-for-production"


def database_uri(tmp_path_factory) -> str:
    uri = os.environ.get("FIELDAPP_TEST_DATABASE_URI")
    if uri:
        return uri
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")


def reset_postgresql(engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))


def load_reference_data() -> None:
    """Load the divisions and questionnaires every test may rely on, and commit them."""
    from fieldapp.divisions import services as division_services
    from fieldapp.visits import questionnaires

    division_services.import_divisions(division_services.bundled_divisions_text())
    questionnaires.load_bundled()
    db.session.commit()


class FreshContextClient(FlaskClient):
    """A test client that runs each request in a new application context.

    Tests hold one application context open for their whole run, and Flask
    reuses an open context for requests, so ``g`` (where Flask-Login caches the
    user and Flask-Babel the locale) would leak from one request to the next.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


class TestScopedSession(scoped_session):
    """A scoped session that survives application-context teardown.

    Flask-SQLAlchemy removes the session when an application context ends; in a
    test that would detach every object the test holds after each request.
    """

    def remove(self):
        pass

    def remove_for_real(self):
        super().remove()


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    config = {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET,
        "SQLALCHEMY_DATABASE_URI": database_uri(tmp_path_factory),
        "UPLOAD_FOLDER": str(tmp_path_factory.mktemp("uploads")),
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": "localhost.localdomain",
        # Messages are asserted in English; tests of the Chinese default set it back.
        "BABEL_DEFAULT_LOCALE": "en",
    }
    app = create_app(config)
    app.test_client_class = FreshContextClient
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            reset_postgresql(db.engine)
        upgrade()
        load_reference_data()
        db.session.remove()
    return app


@pytest.fixture(autouse=True)
def db_session(request, app):
    """Run each test inside a transaction that is rolled back at the end.

    Services and views call ``commit``; with ``join_transaction_mode`` set to
    ``create_savepoint`` those commits release savepoints inside the outer
    transaction, so nothing a test writes outlives it. Tests marked
    ``committing`` (servers in other threads, concurrency) run without it and
    clean up after themselves.
    """
    if request.node.get_closest_marker("committing"):
        yield None
        return
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        session = TestScopedSession(sessionmaker(bind=connection, join_transaction_mode="create_savepoint"))
        db.session = session
        try:
            yield session
        finally:
            session.remove_for_real()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield


@pytest.fixture
def make():
    return factories


def login(client, user, password=factories.PASSWORD):
    response = client.post("/login", data={"username": user.username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response
