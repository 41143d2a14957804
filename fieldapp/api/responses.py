"""JSON error responses of the API: every error has a machine-readable ``error`` and a ``message``."""

from flask import jsonify, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

# The ``error`` value sent for each HTTP status that Flask or a service raises.
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
}


class ApiError(Exception):
    """An error sent as a JSON body; ``extra`` adds fields such as ``errors``."""

    def __init__(self, status: int, error: str, message: str, *, headers: dict | None = None, **extra):
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or {}
        self.extra = extra


def error_response(status: int, error: str, message: str, *, headers: dict | None = None, **extra):
    response = jsonify({"error": error, "message": message, **extra})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def api_error_response(error: ApiError):
    return error_response(error.status, error.error, error.message, headers=error.headers, **error.extra)


def http_error_response(error: HTTPException):
    """Return a JSON response for an HTTP error raised in an API view (``abort(404)``, a CSRF failure)."""
    status = error.code or 500
    messages = {
        404: _("Not found: the record does not exist, or it is not yours."),
        405: _("This address does not accept the %(method)s method.", method=request.method),
        413: _("The request is too large."),
        500: _("The server failed to handle the request. It was logged; try again later."),
    }
    return error_response(status, ERROR_CODES.get(status, "error"), messages.get(status) or error.description)
