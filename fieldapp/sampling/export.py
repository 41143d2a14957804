"""The sample list workbook (样本户清单): the round's active households and its strata.

Every text cell is written with ``write_string`` and the workbook converts no string to a
formula, number or link, so ID numbers stay text with all 18 characters and a value that
starts with ``= + - @`` stays text too. Headers are translatable English source strings,
written in the requesting user's language.
"""

import io

import xlsxwriter
from flask_babel import gettext as _

from fieldapp import idnumbers
from fieldapp.sampling.report import ListRow


def _household_headers() -> list[tuple[str, int]]:
    return [
        (_("No."), 6), (_("Stratum code"), 14), (_("County"), 10), (_("Township"), 12), (_("Village"), 18),
        (_("Household number"), 22), (_("Head of household"), 12), (_("ID number"), 21),
        (_("Household type"), 12), (_("Members"), 8), (_("Number of open suspected problems"), 10),
        (_("Problems to verify"), 50), (_("Control household"), 10), (_("Replaces No."), 10),
        (_("Team"), 12), (_("Inspector"), 14),
    ]


def _strata_headers() -> list[tuple[str, int]]:
    return [
        (_("Stratum code"), 14), (_("Stratum"), 18), (_("Households"), 10), (_("Eligible"), 10),
        (_("Suspected problems"), 12), (_("Allocated"), 10), (_("Control households"), 10),
        (_("Reserves"), 10), (_("Problems covered"), 12), (_("Expected for a uniform sample"), 14),
    ]


def write_sample_list(rows: list[ListRow], strata: list[dict], *, unmasked: bool) -> bytes:
    """Return the workbook as bytes; ``unmasked`` writes full ID numbers, otherwise masked ones.

    ``strata`` is the stored allocation of the strata to list (``report.RoundFigures.strata``).
    """
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {
        "in_memory": True,
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
    })
    try:
        bold = workbook.add_format({"bold": True, "text_wrap": True, "valign": "top"})
        wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
        _write_households(workbook.add_worksheet(_("Sample households")), rows, bold, wrap, unmasked=unmasked)
        _write_strata(workbook.add_worksheet(_("Strata")), strata, bold)
    finally:
        workbook.close()
    return buffer.getvalue()


def _write_header(sheet, headers: list[tuple[str, int]], bold) -> None:
    for column, (title, width) in enumerate(headers):
        sheet.write_string(0, column, title, bold)
        sheet.set_column(column, column, width)
    sheet.freeze_panes(1, 0)


def _write_households(sheet, rows: list[ListRow], bold, wrap, *, unmasked: bool) -> None:
    _write_header(sheet, _household_headers(), bold)
    for line, row in enumerate(rows, start=1):
        household, sampled, head = row.household, row.sampled, row.head
        head_name = head.name if head else ""
        if head is not None and household.head is None:
            head_name = _("%(name)s (no head of household; first member)", name=head.name)
        id_number = ""
        if head is not None:
            id_number = head.id_number if unmasked else idnumbers.mask(head.id_number)
        inspector = sampled.inspector
        texts = [
            sampled.stratum_code, household.county, household.township, household.village,
            household.household_no, head_name, id_number, household.household_type,
        ]
        sheet.write_number(line, 0, sampled.draw_order)
        for offset, text in enumerate(texts, start=1):
            sheet.write_string(line, offset, text or "")
        sheet.write_number(line, 9, len(household.members))
        sheet.write_number(line, 10, len(row.problems))
        sheet.write_string(line, 11, "\n".join(row.problems), wrap)
        sheet.write_string(line, 12, _("Yes") if sampled.is_control else "")
        if sampled.replaces is not None:
            sheet.write_number(line, 13, sampled.replaces.draw_order)
        sheet.write_string(line, 14, sampled.team.name if sampled.team else "")
        sheet.write_string(line, 15, (inspector.display_name or inspector.username) if inspector else "")


def _write_strata(sheet, strata: list[dict], bold) -> None:
    _write_header(sheet, _strata_headers(), bold)
    for line, stratum in enumerate(strata, start=1):
        sheet.write_string(line, 0, stratum["code"])
        sheet.write_string(line, 1, stratum["name"])
        numbers = [stratum.get("population", 0), stratum.get("eligible", stratum.get("population", 0)),
                   stratum.get("problems", 0), stratum.get("allocated", 0), stratum.get("control", 0),
                   stratum.get("reserves", 0), stratum.get("drawn_problems", 0),
                   stratum.get("uniform_problems", 0)]
        for offset, number in enumerate(numbers, start=2):
            sheet.write_number(line, offset, number)
