"""Flask-Login wiring and the role check used by every view."""

from functools import wraps

from flask import abort
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user

from fieldapp.extensions import db


def init_app(app, login_manager: LoginManager) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to open this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id: str):
        from fieldapp.auth.models import User

        if not user_id.isdigit():
            return None
        user = db.session.get(User, int(user_id))
        return user if user is not None and user.is_active else None


def roles_required(*roles: str):
    """Let in only logged-in users with one of ``roles``; others get the login page or 404.

    A logged-in user without the role gets 404 rather than 403, the same answer as
    for a record outside their scope.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            from flask import current_app

            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if roles and current_user.role not in roles:
                abort(404)
            return view(*args, **kwargs)

        return wrapped

    return decorator
