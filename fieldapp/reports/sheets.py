"""Write rows to XLSX or CSV files that open cleanly in Excel and WPS on a Chinese Windows PC.

- Text is always a text cell, so an ID number keeps all 18 digits and text that starts with
  ``=``, ``+``, ``-`` or ``@`` is never a formula. In CSV such text gets a leading apostrophe,
  the usual guard against formula injection, because CSV has no cell types.
- Numbers stay numbers, dates and times are date cells, times in the display time zone.
- CSV files are UTF-8 with a byte order mark, which Excel needs to read them as UTF-8.
- XLSX files are written with XlsxWriter's constant memory mode: one row in memory at a time.
"""

import csv
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import xlsxwriter

# Cell kinds of a column.
TEXT, NUMBER, DATE, DATETIME = "text", "number", "date", "datetime"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = TEXT
    width: int = 14


def csv_safe(text: str) -> str:
    """Return ``text`` with a leading apostrophe when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def local_naive(value: datetime, zone: ZoneInfo) -> datetime:
    """Return an aware time as a naive time in ``zone``: spreadsheets have no time zones."""
    return value.astimezone(zone).replace(tzinfo=None)


class XlsxBook:
    """An XLSX file with one or more sheets, each written top to bottom."""

    def __init__(self, path: str, zone: ZoneInfo, tmpdir: str | None = None):
        self.zone = zone
        self.workbook = xlsxwriter.Workbook(path, {
            "constant_memory": True,
            "tmpdir": tmpdir,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        })
        self.header_format = self.workbook.add_format({"bold": True, "bg_color": "#EEF1F4", "border": 1})
        self.date_format = self.workbook.add_format({"num_format": "yyyy-mm-dd"})
        self.datetime_format = self.workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        self.text_format = self.workbook.add_format({"num_format": "@"})

    def add_sheet(self, name: str, columns: list[Column]) -> "XlsxSheet":
        return XlsxSheet(self, self.workbook.add_worksheet(name[:31]), columns)

    def close(self) -> None:
        self.workbook.close()


class XlsxSheet:
    def __init__(self, book: XlsxBook, worksheet, columns: list[Column]):
        self.book = book
        self.worksheet = worksheet
        self.columns = columns
        self.row = 0
        for index, column in enumerate(columns):
            cell_format = book.text_format if column.kind == TEXT else None
            worksheet.set_column(index, index, column.width, cell_format)
        worksheet.freeze_panes(1, 0)
        self.write_row([str(column.header) for column in columns], header=True)

    def write_row(self, values: list, *, header: bool = False) -> None:
        book = self.book
        for index, (column, value) in enumerate(zip(self.columns, values, strict=True)):
            if value is None or value == "":
                continue
            if header:
                self.worksheet.write_string(self.row, index, str(value), book.header_format)
            elif column.kind == NUMBER and isinstance(value, int | float) and not isinstance(value, bool):
                self.worksheet.write_number(self.row, index, value)
            elif column.kind == DATETIME and isinstance(value, datetime):
                local = local_naive(value, book.zone)
                self.worksheet.write_datetime(self.row, index, local, book.datetime_format)
            elif column.kind == DATE and isinstance(value, date):
                self.worksheet.write_datetime(self.row, index, datetime.combine(value, datetime.min.time()),
                                              book.date_format)
            else:
                self.worksheet.write_string(self.row, index, str(value))
        self.row += 1


class CsvSheet:
    """A CSV file with a UTF-8 byte order mark and Windows line ends."""

    def __init__(self, path: str, columns: list[Column], zone: ZoneInfo):
        self.handle = open(path, "w", encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed in close()
        self.writer = csv.writer(self.handle, lineterminator="\r\n")
        self.columns = columns
        self.zone = zone
        self.writer.writerow([csv_safe(str(column.header)) for column in columns])

    def write_row(self, values: list) -> None:
        cells = zip(self.columns, values, strict=True)
        self.writer.writerow([self._cell(column, value) for column, value in cells])

    def _cell(self, column: Column, value) -> str:
        if value is None:
            return ""
        if column.kind == NUMBER and isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        if column.kind == DATETIME and isinstance(value, datetime):
            return local_naive(value, self.zone).strftime("%Y-%m-%d %H:%M")
        if column.kind == DATE and isinstance(value, date):
            return value.isoformat()
        return csv_safe(str(value))

    def close(self) -> None:
        self.handle.close()
