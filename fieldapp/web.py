"""Template filters, template globals and error pages shared by every blueprint."""

from flask import current_app, render_template
from flask_babel import format_date, format_datetime, get_locale
from flask_login import current_user

from fieldapp import idnumbers
from fieldapp.checks import registry_rows
from fieldapp.pagination import page_notice


def can_unmask(user) -> bool:
    return bool(user and user.is_authenticated and user.role in current_app.config["UNMASK_ROLES"])


def masked_id(value: str | None) -> str:
    """Masked ID number for display; unmasking is a separate, audited action."""
    return idnumbers.mask(value)


def local_datetime(value, format: str = "yyyy-MM-dd HH:mm") -> str:
    """A UTC timestamp shown in the display time zone."""
    if value is None:
        return ""
    return format_datetime(value, format)


def local_date(value, format: str = "yyyy-MM-dd") -> str:
    if value is None:
        return ""
    return format_date(value, format)


def init_app(app) -> None:
    app.add_template_filter(masked_id, "mask_id")
    app.add_template_filter(idnumbers.mask_phone, "mask_phone")
    app.add_template_filter(lambda value: registry_rows.shown_text(str(value)), "mask_numbers")
    app.add_template_filter(local_datetime, "datetime")
    app.add_template_filter(local_date, "date")
    app.add_template_global(page_notice, "pagination_notice")

    @app.context_processor
    def inject_globals():
        return {"current_user": current_user, "get_locale": get_locale, "can_unmask": can_unmask}

    for status in (400, 403, 404, 405, 409, 413, 500):
        app.register_error_handler(status, _error_page)

    app.after_request(_security_headers)


# Pages may not be framed by other sites (clickjacking), browsers may not guess content
# types, and links do not leak paths with record ids to other origins.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'; object-src 'none'; base-uri 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _error_page(error):
    code = getattr(error, "code", 500) or 500
    return render_template("error.html", error=error, code=code), code
