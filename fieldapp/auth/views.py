"""Log in, log out, and the administrators' user pages."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from wtforms.fields.choices import SelectChoice

from fieldapp.auth import services
from fieldapp.auth.forms import ROLE_LABELS, LoginForm, PasswordResetForm, UserCreateForm, UserEditForm
from fieldapp.auth.login import roles_required
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.pagination import requested_page

USERS_PER_PAGE = 50

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    """Accept only a path on this site as the page to return to after login."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.username.data, form.password.data)
        db.session.commit()
        if user is None:
            flash(_("Wrong user name or password."), "error")
            return render_template("auth/login.html", form=form), 200
        login_user(user, remember=form.remember.data)
        return redirect(_safe_next(request.args.get("next")) or url_for("main.index"))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


def _division_choices(admin) -> list[SelectChoice]:
    """List the divisions the administrator may give, in one option group per county."""
    choices = []
    county_names = {}
    for division in services.assignable_divisions(admin):
        if division.level == "county":
            county_names[division.code] = division.name
        group = county_names.get(division.parent_code) if division.level == "township" else None
        choices.append(SelectChoice(division.code, division.name, optgroup=group or division.name))
    return choices


def _show_field_error(form, error: FieldError) -> None:
    target = getattr(form, error.field, None)
    if target is None:
        flash(error.message, "error")
    else:
        target.errors = [*target.errors, error.message]


@bp.route("/users")
@roles_required("admin")
def users():
    users_select = services.managed_users_select(current_user)
    pagination = db.paginate(users_select, page=requested_page(), per_page=USERS_PER_PAGE, error_out=False)
    last_page = max(pagination.pages, 1)
    if pagination.page > last_page:
        # A page number past the end shows the last page, as the other lists do, instead of a 404.
        pagination = db.paginate(users_select, page=last_page, per_page=USERS_PER_PAGE, error_out=False)
    return render_template("auth/users.html", pagination=pagination, role_labels=ROLE_LABELS)


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required("admin")
def user_new():
    form = UserCreateForm()
    form.divisions.choices = _division_choices(current_user)
    if form.validate_on_submit():
        try:
            user = services.create_managed_user(
                current_user,
                form.username.data,
                form.password.data,
                form.role.data,
                form.divisions.data,
                display_name=form.display_name.data or "",
            )
        except FieldError as error:
            _show_field_error(form, error)
        else:
            db.session.commit()
            flash(_("User %(name)s created.", name=user.username), "success")
            return redirect(url_for("auth.users"))
    return render_template("auth/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required("admin")
def user_edit(user_id: int):
    user = services.get_managed_user_or_404(user_id, current_user)
    # Submitted values take precedence over these stored ones.
    form = UserEditForm(data={
        "display_name": user.display_name,
        "role": user.role,
        "divisions": user.division_codes,
        "is_active": user.is_active_account,
    })
    form.divisions.choices = _division_choices(current_user)
    if form.validate_on_submit():
        try:
            changed = services.update_user(
                current_user,
                user,
                display_name=form.display_name.data or "",
                role=form.role.data,
                division_codes=form.divisions.data,
                is_active=form.is_active.data,
            )
        except FieldError as error:
            _show_field_error(form, error)
        else:
            db.session.commit()
            if changed:
                flash(_("User %(name)s saved.", name=user.username), "success")
            else:
                flash(_("Nothing changed for user %(name)s.", name=user.username), "info")
            return redirect(url_for("auth.users"))
    return render_template("auth/user_form.html", form=form, user=user)


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
@roles_required("admin")
def user_password(user_id: int):
    user = services.get_managed_user_or_404(user_id, current_user)
    form = PasswordResetForm()
    if form.validate_on_submit():
        try:
            services.set_password(user, form.password.data)
        except FieldError as error:
            _show_field_error(form, error)
        else:
            db.session.commit()
            flash(_("New password set for user %(name)s. Give it to them in person. Their phones must log "
                    "in again before they sync; unsent visits stay on the phones until then.",
                    name=user.username), "success")
            return redirect(url_for("auth.users"))
    return render_template("auth/user_password.html", form=form, user=user)
