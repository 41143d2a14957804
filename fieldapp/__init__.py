"""FieldApp: household verification visits, from the register to closed findings."""

import os
import secrets

from flask import Flask
from sqlalchemy.orm import configure_mappers

from fieldapp import compression, database, web
from fieldapp.extensions import babel, csrf, db, login_manager, migrate


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
    )
    app.config.from_object("fieldapp.config")
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("FIELDAPP")
    if test_config:
        app.config.from_mapping(test_config)

    os.makedirs(app.instance_path, exist_ok=True)
    app.config["SQLALCHEMY_DATABASE_URI"] = database.default_database_uri(app)
    app.config.setdefault("UPLOAD_FOLDER", None)
    app.config["UPLOAD_FOLDER"] = app.config["UPLOAD_FOLDER"] or os.path.join(app.instance_path, "uploads")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret_key(app.instance_path)

    _init_extensions(app)
    web.init_app(app)
    compression.init_app(app)
    _register_blueprints(app)
    _register_commands(app)
    return app


def _instance_secret_key(instance_path: str) -> str:
    """Read the secret key kept in the instance folder, creating it on first use."""
    path = os.path.join(instance_path, "secret_key")
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key)
        return key


def _init_extensions(app: Flask) -> None:
    from fieldapp import i18n, models  # noqa: F401  (models registers every table)
    from fieldapp.auth import login

    # SQLAlchemy sets up the mapped classes' relationships when the first object is made, which
    # took 0.1 s. Done here, it delays no request or import, and a mistake in a model fails at start.
    configure_mappers()
    db.init_app(app)
    with app.app_context():
        database.configure_sqlite(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
        database.configure_postgresql(db.engine)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "..", "migrations"),
                     render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    login.init_app(app, login_manager)
    i18n.init_app(app, babel)


def _register_blueprints(app: Flask) -> None:
    from fieldapp.api.views import bp as api_bp
    from fieldapp.auth.views import bp as auth_bp
    from fieldapp.checks.views import bp as checks_bp
    from fieldapp.main import bp as main_bp
    from fieldapp.register.views import bp as register_bp
    from fieldapp.reports.views import bp as reports_bp
    from fieldapp.review.views import bp as review_bp
    from fieldapp.sampling.views import bp as sampling_bp
    from fieldapp.visits.offline import bp as offline_bp
    from fieldapp.visits.views import bp as visits_bp

    for blueprint in (main_bp, auth_bp, register_bp, checks_bp, sampling_bp, visits_bp, review_bp,
                      reports_bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(offline_bp)
    app.register_blueprint(api_bp)


def _register_commands(app: Flask) -> None:
    from fieldapp.auth.cli import create_user
    from fieldapp.checks.cli import import_registry, run_checks
    from fieldapp.divisions.cli import import_divisions
    from fieldapp.register.cli import import_register
    from fieldapp.sampling.cli import sample
    from fieldapp.server import serve_command
    from fieldapp.training.cli import deactivate_demo, reset_demo, seed_demo
    from fieldapp.visits.cli import load_questionnaires

    for command in (create_user, import_divisions, import_register, import_registry, run_checks, sample,
                    seed_demo, reset_demo, deactivate_demo, load_questionnaires, serve_command):
        app.cli.add_command(command)
