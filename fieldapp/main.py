"""The start page, which sends each role to its own work, and the language switch."""

from flask import Blueprint, current_app, redirect, request, url_for
from flask_login import current_user, login_required

from fieldapp.i18n import LANGUAGE_COOKIE

bp = Blueprint("main", __name__)


@bp.route("/")
@login_required
def index():
    if current_user.role == "inspector":
        return redirect(url_for("visits.assignments"))
    if current_user.role == "supervisor":
        return redirect(url_for("review.rounds"))
    return redirect(url_for("register.households"))


@bp.route("/language/<code>", methods=["POST"])
def set_language(code: str):
    """Remember the chosen language in a cookie and go back to the page the user was on."""
    target = request.form.get("next") or url_for("main.index")
    # Browsers drop tabs and newlines from a Location and read a backslash as a slash, so
    # "/\t/evil.example" would lead to another site.
    if not target.startswith("/") or target.startswith("//") or any(c in target for c in "\\\t\r\n"):
        target = url_for("main.index")
    response = redirect(target)
    if code in current_app.config["LANGUAGES"]:
        response.set_cookie(LANGUAGE_COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response
