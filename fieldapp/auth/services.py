"""Creating users and checking passwords."""

import logging

from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from fieldapp.audit.services import record
from fieldapp.auth.models import ROLES, User, UserDivision
from fieldapp.db_types import utcnow
from fieldapp.divisions.models import Division
from fieldapp.errors import FieldError
from fieldapp.extensions import db

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8
PASSWORD_METHOD = "scrypt"


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise FieldError(
            "password",
            _("The password must have at least %(count)d characters.", count=MIN_PASSWORD_LENGTH),
        )


def create_user(
    username: str,
    password: str,
    role: str,
    division_codes: list[str],
    *,
    display_name: str = "",
    is_demo: bool = False,
) -> User:
    """Add a user after checking the name, role, password and divisions; flushes, does not commit."""
    username = username.strip()
    if not username:
        raise FieldError("username", _("The user name is missing."))
    if db.session.execute(select(User.id).where(User.username == username)).first():
        raise FieldError("username", _("The user name %(name)s is taken; choose another.", name=username))
    if role not in ROLES:
        raise FieldError("role", _("Unknown role %(role)s; use one of admin, supervisor, inspector.", role=role))
    validate_password(password)
    divisions = resolve_divisions(division_codes)

    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=generate_password_hash(password, method=PASSWORD_METHOD),
        role=role,
        is_demo=is_demo,
        divisions=[UserDivision(division_code=d.code) for d in divisions],
    )
    db.session.add(user)
    db.session.flush()
    record("user.create", user, role=role, divisions=[d.code for d in divisions])
    return user


def resolve_divisions(division_codes: list[str]) -> list[Division]:
    codes = [code.strip() for code in division_codes if code.strip()]
    if not codes:
        raise FieldError("divisions", _("Choose at least one division (a county or township code)."))
    divisions = []
    for code in codes:
        division = db.session.get(Division, code)
        if division is None:
            raise FieldError(
                "divisions",
                _("Division code %(code)s is not in the division list; import the divisions first.", code=code),
            )
        divisions.append(division)
    return divisions


def set_password(user: User, password: str) -> None:
    validate_password(password)
    user.password_hash = generate_password_hash(password, method=PASSWORD_METHOD)
    record("user.password", user)


def authenticate(username: str, password: str) -> User | None:
    """Return the active user with this name and password, or None; failures are audited."""
    user = db.session.execute(select(User).where(User.username == username.strip())).scalar_one_or_none()
    if user is None or not user.is_active or not check_password_hash(user.password_hash, password):
        record("auth.login_failed", object_type="User", object_id=user.id if user else "", user=None)
        return None
    user.last_login_at = utcnow()
    record("auth.login", user, user=user)
    return user
