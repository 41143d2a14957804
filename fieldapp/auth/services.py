"""Creating and managing users, and checking passwords."""

import logging

from flask import abort
from flask_babel import gettext as _
from sqlalchemy import Select, exists, false, or_, select
from sqlalchemy.orm import selectinload
from werkzeug.security import check_password_hash, generate_password_hash

from fieldapp.api import tokens
from fieldapp.audit.services import record
from fieldapp.auth.models import ROLES, User, UserDivision
from fieldapp.db_types import utcnow
from fieldapp.divisions.models import Division
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.scope import division_prefixes

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8
PASSWORD_METHOD = "scrypt"


def check_role(role: str) -> None:
    if role not in ROLES:
        raise FieldError(
            "role", _("Unknown role %(role)s; use one of admin, supervisor, inspector.", role=role)
        )


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
    check_role(role)
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
                _("Division code %(code)s is not in the division list; import the divisions first.",
                  code=code),
            )
        divisions.append(division)
    return divisions


def set_password(user: User, password: str) -> None:
    """Set a new password and revoke the user's sync tokens, so that every phone logs in again."""
    validate_password(password)
    user.password_hash = generate_password_hash(password, method=PASSWORD_METHOD)
    record("user.password", user)
    tokens.revoke_all(user)


def authenticate(username: str, password: str) -> User | None:
    """Return the active user with this name and password, or None; failures are audited."""
    user = db.session.execute(select(User).where(User.username == username.strip())).scalar_one_or_none()
    if user is None or not user.is_active or not check_password_hash(user.password_hash, password):
        record("auth.login_failed", object_type="User", object_id=user.id if user else "", user=None)
        return None
    user.last_login_at = utcnow()
    record("auth.login", user, user=user)
    return user


# User administration. An administrator manages the users of their own world (demo or
# real) whose divisions all lie inside the administrator's divisions.


def _prefix_clause(column, prefixes: list[str]):
    if not prefixes:
        return false()
    return or_(*(column.startswith(prefix, autoescape=True) for prefix in prefixes))


def managed_users_select(admin: User) -> Select:
    """Return ``select(User)`` limited to the users ``admin`` may manage, ordered by user name."""
    in_scope = _prefix_clause(UserDivision.division_code, division_prefixes(admin))
    has_division = exists().where(UserDivision.user_id == User.id)
    has_division_outside = exists().where(UserDivision.user_id == User.id, ~in_scope)
    return (
        select(User)
        .where(User.is_demo == admin.is_demo, has_division, ~has_division_outside)
        .options(selectinload(User.divisions).selectinload(UserDivision.division))
        .order_by(User.username)
    )


def get_managed_user_or_404(user_id: int, admin: User) -> User:
    """Load a user ``admin`` may manage, or abort with 404 like any record outside the scope."""
    user = db.session.execute(managed_users_select(admin).where(User.id == user_id)).scalars().first()
    if user is None:
        abort(404)
    return user


def assignable_divisions(admin: User) -> list[Division]:
    """Return the divisions ``admin`` may give a user: their own and every county and township inside them."""
    prefixes = division_prefixes(admin)
    own = set(admin.division_codes)
    stmt = (
        select(Division)
        .where(
            _prefix_clause(Division.code, prefixes),
            or_(Division.level.in_(("county", "township")), Division.code.in_(own)),
        )
        .order_by(Division.code)
    )
    return list(db.session.execute(stmt).scalars())


def check_assignable(division_codes: list[str], admin: User) -> None:
    """Raise ``FieldError`` on ``divisions`` unless every code is one ``admin`` may give."""
    allowed = {division.code for division in assignable_divisions(admin)}
    outside = [code for code in division_codes if code not in allowed]
    if outside:
        raise FieldError(
            "divisions",
            _("Division %(codes)s is outside your divisions; choose counties or townships from the list.",
              codes=", ".join(outside)),
        )


def create_managed_user(
    admin: User,
    username: str,
    password: str,
    role: str,
    division_codes: list[str],
    *,
    display_name: str = "",
) -> User:
    """Create a user in ``admin``'s world and divisions; flushes, does not commit."""
    check_assignable(division_codes, admin)
    return create_user(
        username, password, role, division_codes, display_name=display_name, is_demo=admin.is_demo
    )


def update_user(
    admin: User,
    user: User,
    *,
    display_name: str,
    role: str,
    division_codes: list[str],
    is_active: bool,
) -> list[str]:
    """Change a managed user's display name, role, divisions and active flag; flushes, does not commit.

    Returns the names of the changed fields; nothing is audited when nothing changed. Every
    value is checked before the user is touched, so a ``FieldError`` leaves the user as it was.
    """
    check_role(role)
    divisions = resolve_divisions(division_codes)
    check_assignable([division.code for division in divisions], admin)
    if user.id == admin.id and role != "admin":
        raise FieldError(
            "role", _("You cannot take away your own administrator role; ask another administrator.")
        )
    if user.id == admin.id and not is_active:
        raise FieldError("is_active", _("You cannot deactivate your own account; ask another administrator."))

    display_name = display_name.strip() or user.username
    new_codes = sorted(division.code for division in divisions)
    changed = []
    if display_name != user.display_name:
        user.display_name = display_name
        changed.append("display_name")
    if role != user.role:
        user.role = role
        changed.append("role")
    if new_codes != sorted(user.division_codes):
        user.divisions = [UserDivision(division_code=code) for code in new_codes]
        changed.append("divisions")
    if is_active != user.is_active_account:
        user.is_active_account = is_active
        changed.append("is_active")
    if changed:
        db.session.flush()
        record("user.update", user, changed=changed, role=user.role, divisions=new_codes, is_active=is_active)
    return changed
