"""Reading register files (xlsx, xls, ods, csv) as numbered rows of cells.

Excel files are read with python-calamine, which gives numbers as floats and
date cells as ``date``/``datetime``. It gives an error cell (#N/A, #REF!, ...) as an
empty string, so ``excel_errors`` finds those cells in the file and ``sheet_rows`` puts
an ``ExcelError`` in their place. CSV files are decoded as UTF-8 (with or
without a byte order mark), UTF-16 with a byte order mark, or GB18030. GB18030
is a superset of GBK, the encoding Excel writes on Chinese Windows. Every CSV
cell is text.
"""

import codecs
import csv
import io
import itertools
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

from flask_babel import gettext as _
from python_calamine import CalamineError, CalamineWorkbook

from fieldapp.errors import ImportRejected
from fieldapp.register.columns import HEADER_SEARCH_ROWS, Column, HeaderMap, find_header
from fieldapp.register.excel_errors import ErrorCells, load_sheet

EXCEL_EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".ods")
CSV_EXTENSIONS = (".csv", ".txt")
EXTENSIONS = EXCEL_EXTENSIONS + CSV_EXTENSIONS

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExcelError:
    """A cell whose value is an Excel error, such as a formula that gave #N/A."""

    value: str  # the error as Excel shows it: "#N/A", "#VALUE!", "#REF!", "#DIV/0!", ...

    def __str__(self) -> str:
        return self.value


@dataclass
class Table:
    """One sheet of a register file, positioned at its header row."""

    header: HeaderMap
    title_rows: list[list]  # rows above the header, for the export date
    rows: Iterator[tuple[int, list]]  # (1-based row number in the file, cells) after the header
    total_rows: int  # rows in the sheet, header and title rows included, for progress
    sheet_name: str
    error_rows: frozenset[int] = frozenset()  # 1-based numbers of the rows with an ExcelError cell


def open_table(path: str, aliases: dict[str, Column]) -> Table:
    """Open ``path`` and find its header row; raise ``ImportRejected`` when it has none."""
    extension = os.path.splitext(path)[1].lower()
    if extension in EXCEL_EXTENSIONS:
        return _open_workbook(path, aliases)
    if extension in CSV_EXTENSIONS:
        return _open_csv(path, aliases)
    raise ImportRejected(
        _("The file type %(extension)s is not supported; save the register as .xlsx, .xls or .csv.",
          extension=extension or "(none)")
    )


def _open_workbook(path: str, aliases: dict[str, Column]) -> Table:
    try:
        workbook = CalamineWorkbook.from_path(path)
    except (CalamineError, OSError, ValueError) as error:
        raise unreadable_workbook(path, error) from None
    for sheet_name in workbook.sheet_names:
        sheet, errors = load_sheet(workbook, path, sheet_name)
        # iter_rows starts at the sheet's first row even when the used range starts lower,
        # so the n-th row given is row n of the sheet.
        rows = sheet_rows(sheet, errors)
        top = list(itertools.islice(rows, HEADER_SEARCH_ROWS))
        total_rows = sheet.end[0] + 1 if sheet.end else 0
        table = _table_from(top, rows, aliases, total_rows=total_rows, sheet_name=sheet_name)
        if table is not None:
            table.error_rows = error_row_numbers(errors)
            return table
    raise _no_header()


def unreadable_workbook(path: str, error: Exception) -> ImportRejected:
    """Return the rejection of a file that is not an Excel workbook, and log the library's English error."""
    extension = os.path.splitext(path)[1].lower()
    logger.info("%s could not be opened as a workbook: %s", os.path.basename(path), error)
    return ImportRejected(
        _("The file could not be read: it is not a valid Excel workbook. It may be empty, damaged, or a file "
          "of another type renamed to %(extension)s. Open it in Excel or WPS and save it as an .xlsx "
          "workbook, or give a CSV file the ending .csv, and import it again.", extension=extension)
    )


def sheet_rows(sheet, errors: ErrorCells | None = None) -> Iterator[list]:
    """Yield the rows of a calamine sheet, with an ``ExcelError`` in each cell of ``errors``.

    Raises ``ImportRejected`` naming a row calamine cannot read: calamine raises while reading
    a row, for example OverflowError for a number of about 1e10 in a cell formatted as a
    duration, which Python's ``timedelta`` cannot hold.
    """
    rows = sheet.iter_rows()
    errors_by_row = _errors_by_row(errors or {}, first_column=sheet.start[1] if sheet.start else 0)
    row_number = 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except (CalamineError, OverflowError, ValueError) as error:
            raise ImportRejected(
                _("Row %(row)d of sheet %(sheet)s could not be read (%(error)s). A cell there is probably "
                  "a date or time out of range: format that cell as text or a plain number, save the file "
                  "and import it again.", row=row_number + 1, sheet=sheet.name, error=str(error)[:200])
            ) from None
        if row_number in errors_by_row:
            for index, value in errors_by_row[row_number]:
                if index < len(row):
                    row[index] = ExcelError(value)
        row_number += 1
        yield row


def _errors_by_row(errors: ErrorCells, first_column: int) -> dict[int, list[tuple[int, str]]]:
    """Group the error cells by 0-based row, each with its index in the rows calamine gives.

    calamine's rows start at the first column that has a value, not at column A.
    """
    by_row: dict[int, list[tuple[int, str]]] = {}
    for (row, column), value in errors.items():
        if column >= first_column:
            by_row.setdefault(row, []).append((column - first_column, value))
    return by_row


def error_row_numbers(errors: ErrorCells) -> frozenset[int]:
    """Return the 1-based numbers of the rows that have an error cell."""
    return frozenset(row + 1 for row, _column in errors)


def _open_csv(path: str, aliases: dict[str, Column]) -> Table:
    with open(path, "rb") as handle:
        raw = handle.read()
    text = decode_csv(raw)
    sample = text[:20_000]
    reader = csv.reader(io.StringIO(text), delimiter=_guess_delimiter(sample))
    top = list(itertools.islice(reader, HEADER_SEARCH_ROWS))
    table = _table_from(top, reader, aliases, total_rows=text.count("\n") + 1, sheet_name="")
    if table is None:
        raise _no_header()
    return table


def decode_csv(raw: bytes) -> str:
    """Decode CSV bytes as UTF-8 (BOM optional), UTF-16 with a BOM, or GB18030."""
    if raw.startswith(codecs.BOM_UTF8):
        candidates = [("utf-8", raw[len(codecs.BOM_UTF8):])]
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = [("utf-16", raw)]
    else:
        candidates = [("utf-8", raw), ("gb18030", raw)]
    for encoding, data in candidates:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportRejected(
        _("The CSV file is neither UTF-8 nor GBK text; save it again as \"CSV UTF-8\" and import that copy.")
    )


def _guess_delimiter(sample: str) -> str:
    """Pick the comma, tab or semicolon that occurs most in the first lines."""
    head = "\n".join(sample.splitlines()[:HEADER_SEARCH_ROWS])
    return max((",", "\t", ";"), key=head.count)


def _table_from(
    top: list[list], rest: Iterator[list], aliases, *, total_rows: int, sheet_name: str
) -> Table | None:
    header = find_header(top, aliases)
    if header is None:
        return None
    if header.duplicates:
        raise ImportRejected(
            _("The header row (row %(row)d) names these columns more than once: %(columns)s. Keep one of "
              "each and import again.", row=header.row_index + 1, columns=", ".join(header.duplicates))
        )
    after_header = top[header.row_index + 1:]
    numbered = zip(itertools.count(header.row_index + 2), itertools.chain(after_header, rest), strict=False)
    return Table(
        header=header,
        title_rows=top[: header.row_index],
        rows=numbered,
        total_rows=total_rows,
        sheet_name=sheet_name,
    )


def _no_header() -> ImportRejected:
    return ImportRejected(
        _("No header row found: the file needs the columns 户编号, 姓名 and 证件号码 (or 身份证号码) in one "
          "of its first %(rows)d rows. Check that this is the member export of the register.",
          rows=HEADER_SEARCH_ROWS)
    )
