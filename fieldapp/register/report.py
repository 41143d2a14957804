"""The rejected-rows workbook: each rejected row as read, with its row number and reasons.

The workbook has the file's own header after two added columns, so a user can
correct the rows and import the workbook itself. The importer ignores the two
added columns. Every text cell is written with ``write_string``, so ID numbers
stay text and a value starting with ``= + - @`` is never a formula.
"""

from datetime import date, datetime

import xlsxwriter

from fieldapp.register.columns import REASONS_HEADER, REJECTED_SHEET_NAME, SOURCE_ROW_HEADER
from fieldapp.register.parsing import Rejection, cell_text


def write_rejections(
    path: str, headers: list[str], rejections: list[Rejection], cells_by_row: dict[int, list]
) -> None:
    reasons_by_row: dict[int, list[str]] = {}
    for rejection in rejections:
        reason = rejection.reason
        if rejection.column:
            reason = f"{rejection.column}「{rejection.value}」: {reason}"
        reasons_by_row.setdefault(rejection.row, []).append(reason)

    workbook = xlsxwriter.Workbook(path, {
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
    })
    try:
        sheet = workbook.add_worksheet(REJECTED_SHEET_NAME)
        bold = workbook.add_format({"bold": True})
        wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
        sheet.write_string(0, 0, SOURCE_ROW_HEADER, bold)
        sheet.write_string(0, 1, REASONS_HEADER, bold)
        for index, header in enumerate(headers):
            sheet.write_string(0, index + 2, header, bold)
        sheet.set_column(1, 1, 60)
        sheet.freeze_panes(1, 0)
        for line, row_no in enumerate(sorted(reasons_by_row), start=1):
            sheet.write_number(line, 0, row_no)
            sheet.write_string(line, 1, "\n".join(reasons_by_row[row_no]), wrap)
            for index, value in enumerate(cells_by_row.get(row_no, [])):
                _write_cell(sheet, line, index + 2, value)
    finally:
        workbook.close()


def _write_cell(sheet, row: int, column: int, value) -> None:
    if value is None or value == "":
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, column, value)
    elif isinstance(value, int | float):
        # A number stays a number, so a float ID number shows the very digits Excel lost.
        sheet.write_number(row, column, value)
    elif isinstance(value, datetime | date):
        sheet.write_string(row, column, value.isoformat())
    else:
        sheet.write_string(row, column, cell_text(value) if not isinstance(value, str) else value)
