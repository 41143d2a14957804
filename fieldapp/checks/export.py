"""The suspected-problem list (疑似问题清单) as an XLSX workbook.

Headers are in the reader's locale. ID numbers are masked, and every text cell is
written with ``write_string``: an ID number stays text, and a value starting with
``= + - @`` is never a formula.
"""

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import xlsxwriter
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from fieldapp import idnumbers
from fieldapp.checks.forms import SEVERITY_LABELS, STATUS_FILTER_LABELS, STATUS_LABELS
from fieldapp.checks.queries import ProblemFilters
from fieldapp.checks.services import problem_detail, rule_name
from fieldapp.divisions.models import Division
from fieldapp.extensions import db

logger = logging.getLogger(__name__)

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def headers() -> list[str]:
    return [
        _("County"), _("Township"), _("Village"), _("Household number"), _("Household type"), _("Member"),
        _("ID number"), _("Rule"), _("Severity"), _("Detail"), _("Registry"), _("Status"), _("First found"),
        _("Last found"),
    ]


COLUMN_WIDTHS = (10, 12, 18, 20, 10, 10, 20, 28, 8, 60, 20, 14, 17, 17)


def write_problems(path: str, rows) -> int:
    """Write the rows of ``export_rows`` to a workbook at ``path``; return how many were written."""
    workbook = xlsxwriter.Workbook(path, {
        "constant_memory": True,
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
    })
    count = 0
    try:
        sheet = workbook.add_worksheet(_("Suspected problem list")[:31])
        bold = workbook.add_format({"bold": True})
        for column, (header, width) in enumerate(zip(headers(), COLUMN_WIDTHS, strict=True)):
            sheet.write_string(0, column, header, bold)
            sheet.set_column(column, column, width)
        sheet.freeze_panes(1, 0)
        zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
        for line, row in enumerate(rows, start=1):
            for column, value in enumerate(_cells(row, zone)):
                if value:
                    sheet.write_string(line, column, value)
            count = line
    finally:
        workbook.close()
    return count


def _cells(row, zone: ZoneInfo) -> list[str]:
    county, township, village, household_no, household_type, member_name, id_number, problem = row
    evidence = problem.registry_record
    registry = f"{evidence.batch.kind} {evidence.batch.data_date.isoformat()}" if evidence is not None else ""
    return [
        county, township, village, household_no, household_type, member_name or "",
        idnumbers.mask(id_number), rule_name(problem.rule_id), str(SEVERITY_LABELS.get(problem.severity, "")),
        problem_detail(problem), registry, str(STATUS_LABELS.get(problem.status, problem.status)),
        _local(problem.first_seen_at, zone), _local(problem.last_seen_at, zone),
    ]


def _local(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value is not None else ""


def filter_lines(filters: ProblemFilters) -> list[tuple[str, str]]:
    """Return the filters of a problem export as (label, value) pairs in the current locale.

    A filter left at "all" (or at open problems, for the status) gives no pair.
    """
    lines = []
    if filters.rule_id:
        lines.append((_("Rule"), rule_name(filters.rule_id)))
    if filters.severity:
        lines.append((_("Severity"), str(SEVERITY_LABELS.get(filters.severity, filters.severity))))
    codes = [filters.township_code, filters.village_code]
    names = dict(db.session.execute(
        select(Division.code, Division.name).where(Division.code.in_(codes))
    ).all())
    for label, code in ((_("Township"), filters.township_code), (_("Village"), filters.village_code)):
        if code:
            lines.append((label, f"{names.get(code, '')} {code}".strip()))
    if filters.status != "open":
        lines.append((_("Status"), str(STATUS_FILTER_LABELS.get(filters.status, filters.status))))
    return lines
