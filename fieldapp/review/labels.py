"""Display labels for finding statuses, finding sources and verification outcomes.

Values are lazy strings, so the maps can be imported anywhere and render in the request's locale.
"""

from flask_babel import lazy_gettext as _l

STATUS_LABELS = {
    "pending": _l("Pending"),
    "in_progress": _l("In progress"),
    "corrected": _l("Corrected"),
    "closed": _l("Closed"),
}

SOURCE_LABELS = {
    "check_rule": _l("Check rule"),
    "cross_check": _l("Cross-check"),
    "on_site": _l("On site"),
}

# Overdue is derived from the deadline, not stored: an open finding whose deadline has passed.
OVERDUE_LABEL = _l("Overdue")

RECHECK_METHOD_LABELS = {
    "reinspection": _l("Re-inspection visit"),
    "supervisor": _l("Supervisor's check"),
}

TASK_STATUS_LABELS = {
    "open": _l("Open"),
    "done": _l("Done"),
    "cancelled": _l("Cancelled"),
}

REINSPECTION_RESULT_LABELS = {
    "confirmed": _l("Correction confirmed"),
    "reopened": _l("Not corrected, reopened"),
}

OUTCOME_LABELS = {
    "confirmed": _l("Confirmed"),
    "not_confirmed": _l("Not confirmed"),
    "explained": _l("Explained"),
}


def label(labels: dict, value: str | None) -> str:
    """Return the translated label for ``value``, or the value itself when it has none."""
    if value is None:
        return ""
    text = labels.get(value)
    return str(text) if text is not None else value


def status_label(value: str | None) -> str:
    return label(STATUS_LABELS, value)


def source_label(value: str | None) -> str:
    return label(SOURCE_LABELS, value)


def outcome_label(value: str | None) -> str:
    return label(OUTCOME_LABELS, value)


def recheck_method_label(value: str | None) -> str:
    return label(RECHECK_METHOD_LABELS, value)


def task_status_label(value: str | None) -> str:
    return label(TASK_STATUS_LABELS, value)


def reinspection_result_label(value: str | None) -> str:
    return label(REINSPECTION_RESULT_LABELS, value)
