"""Finding the size of each sheet of an .ods workbook from its content.xml, before python-calamine reads it.

python-calamine 0.9.1 reads every sheet of an .ods file when it opens the file. ODS may write
that a cell or a row repeats (``table:number-columns-repeated``, ``table:number-rows-repeated``)
and that a text contains N spaces (``<text:s text:c="N"/>``). calamine makes a copy of the cell
and its text for each repetition. A cell repeated 1,000 times in a row repeated 10,000 times took
1.2 GB from a file of 1 KB, and ``text:c="2000000000"`` aborted the process.

The sheet is placed as calamine 0.37 places it. A row ends at its last cell with a value or a
formula, and empty cells before such a cell take their place. Repeated empty rows count only
when a row with a value follows them. The XML is read in bounded blocks and split into tokens by
one regular expression that skips comments, CDATA and quoted attribute values as an XML parser
does, so that no tag hides inside another.
"""

import html
import re
import zipfile
from dataclasses import dataclass

from flask_babel import gettext as _

from fieldapp.errors import ImportRejected
from fieldapp.register import xml_blocks
from fieldapp.register.sheet_size import SheetSize

# Decompressed bytes read at a time; tests make it small to exercise blocks of plain rows.
CHUNK_BYTES = xml_blocks.CHUNK_BYTES
# Bytes of text that repeated cells and <text:s> spaces may add per cell of the cell limit: repetition
# in a real register (LibreOffice writes adjacent equal cells as one repeated cell) adds far less.
REPEATED_BYTES_PER_CELL = 16

_ATTRIBUTES = rb"""[^>"']*+(?:(?:"[^"]*+"|'[^']*+')[^>"']*+)*+"""
_STARTS = rb"(?:table:(?:table-row|table-cell|covered-table-cell|table)|text:s)(?=[\s/>])"
_ENDS = rb"table:(?:table-row|table)\s*>"
# A tag that is neither read nor special (a comment, CDATA, a declaration or an instruction).
_OTHER_TAG = rb"<(?![!?]|" + _STARTS + rb"|/" + _ENDS + rb")" + _ATTRIBUTES + rb">"
# Everything up to the next tag this scan reads, consumed without backtracking, then that tag, if whole:
# the start of a sheet, row or cell or a <text:s>, or the end of a row or sheet.
_TOKEN = re.compile(
    rb"(?:[^<]++|" + _OTHER_TAG + rb"|<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<!(?!--|\[CDATA\[)[^>]*+>)*+"
    rb"(?:<(" + _STARTS + rb")(" + _ATTRIBUTES + rb")>|</(" + _ENDS + rb"))?",
    re.DOTALL,
)
_NAME = re.compile(rb"""\stable:name\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_COLUMN_REPEATS = re.compile(rb"""\stable:number-columns-repeated\s*=\s*["']\s*([0-9]+)""")
_ROW_REPEATS = re.compile(rb"""\stable:number-rows-repeated\s*=\s*["']\s*([0-9]+)""")
_SPACES = re.compile(rb"""\stext:c\s*=\s*["']\s*([0-9]+)""")
_CELL_TAGS = (b"table:table-cell", b"table:covered-table-cell")
_ROW_END = b"</table:table-row>"
# Markers of a block that is not plain rows: repetitions, spaces, the start or end of a sheet, and the
# constructs in which a tag can hide (comments, CDATA, declarations, instructions).
_NOT_PLAIN = (b"-repeated", b"<text:s", b"<table:table ", b"<table:table>", b"<table:table/",
              b"</table:table>", b"<!", b"<?")
_LESS_THAN_IN_VALUE = re.compile(rb"""=\s*(?:"[^"]*|'[^']*)<""")
# The attributes that give a cell a value or a formula in calamine's reading.
_VALUE = re.compile(rb"\s(?:office:(?:value|string-value|date-value|time-value|boolean-value|value-type)"
                    rb"|table:formula)\s*=")


class RepeatedTooOften(ValueError):
    """A sheet repeats cells or spaces so often that calamine would copy more text than allowed."""

    def __init__(self, sheet: str, megabytes: int):
        super().__init__(sheet)
        self.sheet = sheet
        self.megabytes = megabytes


def sheet_sizes(path: str, cell_limit: int) -> list[SheetSize]:
    """Return the size of every sheet of the .ods file at ``path``.

    Raises ``ImportRejected`` when repetitions would make calamine copy more than
    ``REPEATED_BYTES_PER_CELL`` bytes per cell of ``cell_limit``, or when ``content.xml`` is
    missing, damaged or given twice.
    """
    byte_limit = cell_limit * REPEATED_BYTES_PER_CELL
    try:
        with zipfile.ZipFile(path) as archive:
            names = [info.filename for info in archive.infolist() if info.filename == "content.xml"]
            if len(names) != 1:
                raise ValueError(f"{len(names)} parts named content.xml")
            with archive.open("content.xml") as stream:
                return _Scanner(byte_limit).scan(stream)
    except RepeatedTooOften as error:
        raise ImportRejected(
            _("The sheet %(sheet)s repeats cells or spaces so often that reading it would take about "
              "%(size)d MB of memory, more than the %(max)d MB the import allows. Open the file in "
              "LibreOffice or WPS, delete what is not needed, save it as .xlsx and import that file.",
              sheet=error.sheet, size=error.megabytes, max=_megabytes(byte_limit))
        ) from None
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ImportRejected(
            _("The OpenDocument file could not be read (%(error)s); it is damaged or was not written by a "
              "spreadsheet program. Open it in LibreOffice or WPS, save it as .xlsx and import that file.",
              error=str(error)[:200])
        ) from None


@dataclass
class _Table:
    name: str
    rows: int = 0  # rows up to the last row with a value, the repeated ones counted
    last_row: int = 0  # 1-based number of the last row with a value
    columns: int = 0
    repeated_bytes: int = 0


class _Scanner:
    """Walk the tokens of content.xml, keeping the open sheet, row and cell."""

    def __init__(self, byte_limit: int):
        self.byte_limit = byte_limit
        self.sizes: list[SheetSize] = []
        self.table: _Table | None = None
        self.row_repeats = 1
        self.in_row = False
        self.column = 0  # cells of the open row up to its last cell with a value
        self.empty_cells = 0  # empty cells since then
        self.cell_copies = 0  # copies calamine makes of the open cell with a value; 0 when none is open
        self.content_start = 0  # where the open cell's content starts in the data scanned

    def scan(self, stream) -> list[SheetSize]:
        carried = b""
        for block in xml_blocks.tag_blocks(stream, prefer=_ROW_END, chunk_bytes=CHUNK_BYTES):
            data = carried + block
            if not carried and self._scan_plain_rows(data):
                continue
            position = self._scan_data(data)
            carried = data[position:]
            if len(carried) > xml_blocks.MAX_GAP_BYTES:
                raise ValueError("a tag or comment is not closed")
        if carried.strip() or self.table is not None:
            raise ValueError("the XML ends inside a tag or a sheet")
        return self.sizes

    def _scan_plain_rows(self, data: bytes) -> bool:
        """Count the rows of a block of whole rows that repeat nothing; return False for any other block.

        Such a block is most of a sheet. Without repetitions each row has as many cells as it has
        cell tags up to its last cell with a value. Without comments, CDATA, instructions and a
        ``<`` in an attribute value, every tag in the bytes is a tag to an XML reader too, so counting
        the tags counts the cells. The text before each row end contains that row's start and cells,
        after any empty rows written as ``<table:table-row/>``.
        """
        if (self.table is None or self.in_row or self.cell_copies or not data.endswith(_ROW_END)
                or any(marker in data for marker in _NOT_PLAIN) or _LESS_THAN_IN_VALUE.search(data)):
            return False
        table = self.table
        for row in data.split(_ROW_END)[:-1]:
            table.rows += max(1, row.count(b"<table:table-row"))
            last_value = max(row.rfind(b"office:"), row.rfind(b"table:formula"))
            if last_value >= 0:
                columns = row.count(b"<table:table-cell", 0, last_value) \
                    + row.count(b"<table:covered-table-cell", 0, last_value)
                table.last_row = table.rows
                table.columns = max(table.columns, columns)
        return True

    def _scan_data(self, data: bytes) -> int:
        """Handle the whole tokens of ``data``; return where the first incomplete one starts.

        A cell, the most frequent token, is handled here rather than in a method of its own.
        """
        position = 0
        end = len(data)
        while position < end:
            match = _TOKEN.match(data, position)
            name, attributes = match[1], match[2]
            if name is None and match[3] is None:
                position = match.end()
                break
            if self.cell_copies and name != b"text:s":
                self._close_cell(match.start(1 if name else 3) - 1 - self.content_start)
            position = self.content_start = match.end()
            if name in _CELL_TAGS and self.table is not None:
                has_value = (b"office:" in attributes or b"table:formula" in attributes) \
                    and _VALUE.search(attributes) is not None
                repeats = _number(_COLUMN_REPEATS, attributes) if b"-repeated" in attributes else 1
                if has_value:
                    self._cell_with_value(repeats, attributes)
                else:
                    self.empty_cells += repeats
            elif name is not None:
                self._start(name, attributes)
            else:
                self._end(match[3])
        if self.cell_copies:
            # The open cell's content goes on in the next block: count what this one contains.
            self._add_repeated((position - self.content_start) * (self.cell_copies - 1))
            self.content_start = 0
        return position

    def _start(self, name: bytes, attributes: bytes) -> None:
        is_empty_element = attributes.endswith(b"/")
        if name == b"table:table":
            self._end_table()
            self._start_table(attributes)
            if is_empty_element:
                self._end_table()
        elif self.table is None:
            return
        elif name == b"table:table-row":
            self._start_row(attributes)
            if is_empty_element:
                self._end_row()
        elif name == b"text:s":
            self._add_repeated(_number(_SPACES, attributes) * self.cell_copies)

    def _end(self, name: bytes) -> None:
        if name.startswith(b"table:table-row"):
            if self.table is not None:
                self._end_row()
        else:
            self._end_table()

    def _start_table(self, attributes: bytes) -> None:
        name = _NAME.search(attributes)
        text = b""
        if name is not None:
            text = name[1] if name[1] is not None else name[2]
        self.table = _Table(html.unescape(text.decode("utf-8", "replace")))

    def _end_table(self) -> None:
        if self.table is not None:
            table = self.table
            self.sizes.append(SheetSize(table.name, table.last_row, table.columns))
        self.table = None

    def _start_row(self, attributes: bytes) -> None:
        self.in_row = True
        self.row_repeats = _number(_ROW_REPEATS, attributes)
        self.column = 0
        self.empty_cells = 0

    def _end_row(self) -> None:
        table = self.table
        self.in_row = False
        table.rows += self.row_repeats
        if self.column:
            table.last_row = table.rows
            table.columns = max(table.columns, self.column)
        self.row_repeats = 1

    def _cell_with_value(self, repeats: int, attributes: bytes) -> None:
        self.column += self.empty_cells + repeats
        self.empty_cells = 0
        copies = repeats * self.row_repeats
        # A value or formula written in the attributes is copied with the cell.
        if copies > 1:
            self._add_repeated(len(attributes) * (copies - 1))
        self.cell_copies = 0 if attributes.endswith(b"/") else copies

    def _close_cell(self, content_length: int) -> None:
        """Count the content of the cell just closed once for each copy beyond the one in the file."""
        if self.cell_copies > 1:
            self._add_repeated(content_length * (self.cell_copies - 1))
        self.cell_copies = 0

    def _add_repeated(self, count: int) -> None:
        table = self.table
        table.repeated_bytes += count
        if table.repeated_bytes > self.byte_limit:
            raise RepeatedTooOften(table.name, _megabytes(table.repeated_bytes))


def _megabytes(count: int) -> int:
    """Return a count of bytes in megabytes, rounded up."""
    return -(-count >> 20)


def _number(pattern: re.Pattern, attributes: bytes) -> int:
    """Return the attribute's count, 1 when it is absent; a count too long is capped far beyond any sheet."""
    match = pattern.search(attributes)
    if match is None:
        return 1
    digits = match[1]
    return int(digits) if len(digits) <= 12 else 10**12
