"""Reading register files (xlsx, xls, ods, csv) as numbered rows of cells.

Excel files are read with python-calamine, which gives numbers as floats and
date cells as ``date``/``datetime``; ``workbook`` chooses the sheet and checks its
size first. calamine gives an error cell (#N/A, #REF!, ...) as an empty string, so
``excel_errors`` finds those cells in the file and ``sheet_rows`` puts an
``ExcelError`` in their place. CSV files are decoded as UTF-8 (with or without a
byte order mark), UTF-16 (with a byte order mark, or recognised by its zero bytes),
or GB18030. GB18030 is a superset of GBK, the encoding Excel writes on Chinese
Windows. Every CSV cell is text, and NUL characters are removed from it.
"""

import codecs
import csv
import io
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import ngettext
from python_calamine import CalamineError

from fieldapp.errors import ImportRejected
from fieldapp.register import file_types, workbook
from fieldapp.register.columns import HEADER_SEARCH_ROWS, Column, HeaderMap, find_header
from fieldapp.register.excel_errors import ErrorCells

EXCEL_EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".ods")
CSV_EXTENSIONS = (".csv", ".txt")
EXTENSIONS = EXCEL_EXTENSIONS + CSV_EXTENSIONS


@dataclass(frozen=True, slots=True)
class ExcelError:
    """A cell whose value is an Excel error, such as a formula that gave #N/A."""

    value: str  # the error as Excel shows it: "#N/A", "#VALUE!", "#REF!", "#DIV/0!", ...

    def __str__(self) -> str:
        return self.value


@dataclass
class RemovedCharacters:
    """The NUL characters removed from the cells read so far; PostgreSQL cannot store them in a text."""

    count: int = 0


@dataclass
class Table:
    """One sheet of a register file, positioned at its header row."""

    header: HeaderMap
    title_rows: list[list]  # rows above the header, for the export date
    rows: Iterator[tuple[int, list]]  # (1-based row number in the file, cells) after the header
    total_rows: int  # rows in the sheet, header and title rows included, for progress
    sheet_name: str
    error_rows: frozenset[int] = frozenset()  # 1-based numbers of the rows with an ExcelError cell
    is_text: bool = False  # read from a CSV file, whose rows may have more cells than the header
    removed_nul: RemovedCharacters = field(default_factory=RemovedCharacters)


def open_table(path: str, aliases: dict[str, Column], *, cell_limit: int) -> Table:
    """Open ``path`` and find its header row; raise ``ImportRejected`` when it has none.

    ``cell_limit`` is the most cells a sheet may span (``sheet_size.max_cells``).
    """
    extension = os.path.splitext(path)[1].lower()
    if extension in EXCEL_EXTENSIONS:
        return _open_workbook(path, aliases, cell_limit)
    if extension in CSV_EXTENSIONS:
        return _open_csv(path, aliases)
    raise ImportRejected(
        _("The file type %(extension)s is not supported; save the register as .xlsx, .xls or .csv.",
          extension=extension or "(none)")
    )


@dataclass
class SheetStart:
    """The rows of a loaded sheet: the first ``HEADER_SEARCH_ROWS`` read, the others still to come."""

    top: list[list]
    rest: Iterator[list]
    total_rows: int
    removed_nul: RemovedCharacters


def read_sheet_start(found: workbook.ImportSheet) -> SheetStart:
    """Read the rows of ``found`` up to the end of the header search, error cells and NUL handled."""
    # iter_rows starts at the sheet's first row even when the used range starts lower,
    # so the n-th row given is row n of the sheet.
    rows = sheet_rows(found.sheet, found.errors)
    removed = RemovedCharacters()
    if found.may_hold_nul:
        rows = without_nul_cells(rows, removed)
    top = list(itertools.islice(rows, HEADER_SEARCH_ROWS))
    total_rows = found.sheet.end[0] + 1 if found.sheet.end else 0
    return SheetStart(top, rows, total_rows, removed)


def _open_workbook(path: str, aliases: dict[str, Column], cell_limit: int) -> Table:
    found = workbook.open_import_sheet(path, cell_limit)
    if found is None:
        raise _no_header()
    start = read_sheet_start(found)
    table = _table_from(start.top, start.rest, aliases, total_rows=start.total_rows, sheet_name=found.name)
    if table is None:
        raise _no_header()
    table.error_rows = error_row_numbers(found.errors)
    table.removed_nul = start.removed_nul
    return table


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
    file_types.check_csv(path)
    with open(path, "rb") as handle:
        raw = handle.read()
    text, removed = without_nul_characters(decode_csv(raw))
    sample = text[:20_000]
    reader = csv_rows(csv.reader(io.StringIO(text), delimiter=_guess_delimiter(sample)))
    top = list(itertools.islice(reader, HEADER_SEARCH_ROWS))
    table = _table_from(top, reader, aliases, total_rows=text.count("\n") + 1, sheet_name="")
    if table is None:
        raise _no_header()
    table.is_text = True
    table.removed_nul.count = removed
    return table


def csv_rows(reader) -> Iterator[list]:
    """Yield the rows of a ``csv.reader``, turning its error on a malformed line into ``ImportRejected``."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise ImportRejected(
                _("Line %(line)d of the CSV file could not be read (%(error)s). Usually a quote mark opened "
                  "in a cell is never closed, so the rest of the file reads as one cell: check the quote "
                  "marks on and before that line, save the file and import it again.",
                  line=reader.line_num, error=str(error)[:200])
            ) from None
        yield row


def without_nul_cells(rows: Iterator[list], removed: RemovedCharacters) -> Iterator[list]:
    """Yield the rows with NUL characters removed from their text cells, counting them in ``removed``."""
    for row in rows:
        for index, value in enumerate(row):
            if value.__class__ is str and "\x00" in value:
                removed.count += value.count("\x00")
                row[index] = value.replace("\x00", "")
        yield row


def without_nul_characters(text: str) -> tuple[str, int]:
    """Return the text without NUL characters, which PostgreSQL cannot store, and how many there were."""
    count = text.count("\x00")
    return (text.replace("\x00", ""), count) if count else (text, 0)


def removed_nul_message(count: int) -> str:
    return ngettext("%(num)d NUL character (byte 0) was removed from the cells of the file, because no "
                    "cell can contain one. If a text looks wrong, save the file again as \"CSV UTF-8\" and "
                    "import that copy.",
                    "%(num)d NUL characters (byte 0) were removed from the cells of the file, because no "
                    "cell can contain one. If a text looks wrong, save the file again as \"CSV UTF-8\" and "
                    "import that copy.",
                    count)


def decode_csv(raw: bytes) -> str:
    """Decode CSV bytes as UTF-8 (BOM optional), UTF-16 (with a BOM, or recognised), or GB18030."""
    utf16 = _utf16_without_bom(raw)
    if raw.startswith(codecs.BOM_UTF8):
        candidates = [("utf-8", raw[len(codecs.BOM_UTF8):])]
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = [("utf-16", raw)]
    elif utf16:
        candidates = [(utf16, raw)]
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


def _utf16_without_bom(raw: bytes) -> str | None:
    """Return "utf-16-le" or "utf-16-be" for text saved as UTF-16 without a byte order mark, else None.

    Digits, separators and line ends, which every register has, are ASCII, and UTF-16 writes each
    of them with a zero byte, after it (little-endian) or before it (big-endian).
    """
    sample = raw[:4096]
    if len(sample) < 16:
        return None
    even_zeros, odd_zeros = sample[0::2].count(0), sample[1::2].count(0)
    half = len(sample) // 2
    if odd_zeros > half // 4 and even_zeros < half // 50:
        return "utf-16-le"
    if even_zeros > half // 4 and odd_zeros < half // 50:
        return "utf-16-be"
    return None


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
