"""Scanning the XML of an xlsx sheet: its size, which python-calamine must fit in memory, and its error cells.

python-calamine 0.9.1 (calamine 0.37) loads a sheet as a dense grid from its first to its last
cell with a value, at about 32 bytes a cell. One value in cell XFD1048576 requests 550 GB, and
the failed allocation aborts the whole process. The scan finds the last row and column with a
value, so that ``sheet_size`` can reject a sheet before calamine loads it.

calamine also reads an error cell (#N/A, #REF!, ...) as an empty string, so a VLOOKUP that
failed would look like a missing value. The sheet XML marks such a cell with ``t="e"`` and keeps
the error text in its ``<v>`` element: ``<c r="C12" t="e"><f>VLOOKUP(...)</f><v>#N/A</v></c>``.

The decompressed XML is read in blocks (``xml_blocks``) and searched as bytes, without parsing
it: a regular expression finds only the cells beyond the last row and column found so far, and
``t="e"`` is searched for with ``bytes.find``. A cell this search cannot place (a cell without
its ``r`` reference first, or a tag with a namespace prefix) makes the scan parse the whole sheet
with expat instead, which places every cell as calamine does.
"""

import functools
import html
import re
import zipfile
from dataclasses import dataclass, field
from xml.parsers import expat

from flask_babel import gettext as _

from fieldapp.errors import ImportRejected
from fieldapp.register import xml_blocks
from fieldapp.register.sheet_size import column_letters

# Workbooks stored as Office Open XML, the only ones scanned here.
XLSX_EXTENSIONS = (".xlsx", ".xlsm")
# Decompressed bytes read at a time; tests make it small to cut rows between blocks.
CHUNK_BYTES = xml_blocks.CHUNK_BYTES
# A row or column number beyond any sheet, given to a reference that names one too large to compute.
BEYOND_ANY_SHEET = 1 << 32
# Shared strings that calamine may reserve room for without the part being counted: 24 MB of room.
FREE_SHARED_STRINGS = 1_000_000

# The error type's value in either quoting. bytes.find searched 400 MB of sheet XML in 0.3 s, where a
# regex for the whole attribute took 2.9 s (Python 3.11, one core of a 2-core build machine).
_ERROR_VALUES = (b'"e"', b"'e'")
_TYPE_BEFORE_VALUE = re.compile(rb"\st\s*=\s*$")
_CELL_START = re.compile(rb"<(?:[\w.-]+:)?c[\s>/]")
_CELL_END = re.compile(rb"</(?:[\w.-]+:)?c\s*>")
_REFERENCE = re.compile(rb"""\sr\s*=\s*["']([A-Za-z]{1,3})([0-9]{1,7})["']""")
_VALUE = re.compile(rb"<(?:[\w.-]+:)?v(?:\s[^>]*)?>([^<]*)</(?:[\w.-]+:)?v\s*>")
_TEXT_REFERENCE = re.compile(r"([A-Za-z]+)([0-9]+)")
# A start tag up to its end, a ">" inside a quoted attribute value included.
_TAG = re.compile(rb"""<[^>"']*+(?:(?:"[^"]*+"|'[^']*+')[^>"']*+)*+>""")
# A NUL character in a text, raw or in the escape that Office Open XML uses for a control character.
_NUL_MARKS = (b"\x00", b"_x0000_", b"_X0000_")
# A cell tag as Excel and most writers write it, with its reference first: <c r="AW12" ...>.
_PLAIN_CELL = b'<c r="'
_PLAIN_REFERENCE = re.compile(rb'<c r="([A-Z]+)([0-9]+)"')
# A cell tag with a namespace prefix, such as <x:c r="A1">, which only the parser places.
_PREFIXED_CELL = re.compile(rb"<[\w.-]+:c[\s>/]")
# The end of a row, "</row>" or "</x:row>". A block is cut after it when it can be, so that no cell is split.
_ROW_END = b"row>"
# The range a sheet declares, by its last cell: <dimension ref="A1:AW240002"/> gives AW and 240002.
_DIMENSION = re.compile(rb'<dimension ref="(?:[A-Z]+[0-9]+:)?([A-Z]{1,7})([0-9]{1,10})"')
# Bytes at the start of a sheet's XML that hold its <dimension> element, after the sheet's properties.
DIMENSION_SEARCH_BYTES = 64 << 10
_SHARED_STRINGS_TAG = re.compile(rb"<(?:[\w.-]+:)?sst(?:\s[^>]*)?>")
_UNIQUE_COUNT = re.compile(rb"""\suniqueCount\s*=\s*["']\s*([0-9]+)""")

ErrorCells = dict[tuple[int, int], str]  # (0-based row, 0-based column) -> error text, e.g. "#N/A"


@dataclass
class SheetScan:
    """The result of scanning a sheet: its error cells and the last row and column with a value."""

    errors: ErrorCells = field(default_factory=dict)
    rows: int = 0  # 1-based number of the last row with a value; 0 for an empty sheet
    columns: int = 0  # 1-based number of the last column with a value
    may_hold_nul: bool = False  # whether a text may contain a NUL character, raw or escaped as _x0000_


class _Irregular(Exception):
    """A cell that the byte search cannot place; the sheet is parsed instead."""


def scan_sheet(path: str, sheet_name: str) -> SheetScan:
    """Return the size and the error cells of the sheet ``sheet_name`` of the xlsx workbook at ``path``.

    Raises ``ImportRejected`` when the sheet's XML is damaged or ambiguous.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            member = _sheet_member(archive, sheet_name)
            if member is None:
                return SheetScan()
            try:
                with archive.open(member) as stream:
                    return _search(stream)
            except _Irregular:
                with archive.open(member) as stream:
                    return _SheetParser().parse(stream)
    except (zipfile.BadZipFile, KeyError, OSError, expat.ExpatError, ValueError, _Ambiguous) as error:
        raise damaged_sheet(sheet_name, error) from None


def declared_size(path: str, sheet_name: str) -> tuple[int, tuple[int, int] | None]:
    """Return the bytes of the sheet's XML and its ``<dimension>`` as (last row, last column), if any.

    Excel, WPS, LibreOffice and xlsxwriter write the range of cells in use as ``<dimension
    ref="A1:AW240002"/>`` near the start of the sheet. Raises ``ImportRejected`` for a damaged file.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            member = _sheet_member(archive, sheet_name)
            if member is None:
                return 0, None
            size = archive.getinfo(member).file_size
            with archive.open(member) as stream:
                head = stream.read(DIMENSION_SEARCH_BYTES)
    except (zipfile.BadZipFile, KeyError, OSError, expat.ExpatError, ValueError, _Ambiguous) as error:
        raise damaged_sheet(sheet_name, error) from None
    found = _DIMENSION.search(head)
    if found is None:
        return size, None
    return size, (_row_number(found[2]), _column_number(found[1]))


def find_error_cells(path: str, sheet_name: str) -> ErrorCells:
    """Return the error cells of the sheet ``sheet_name`` of the workbook at ``path``.

    Files other than .xlsx and .xlsm give no error cells.
    """
    # NOTE: .xls and .ods files are not searched, so an error cell there is still read as empty.
    if not path.lower().endswith(XLSX_EXTENSIONS):
        return {}
    return scan_sheet(path, sheet_name).errors


def damaged_sheet(sheet_name: str, error: Exception) -> ImportRejected:
    return ImportRejected(
        _("The sheet %(sheet)s could not be read (%(error)s); the file is damaged or was not written by a "
          "spreadsheet program. Open it in Excel or WPS, save it again as .xlsx and import that copy.",
          sheet=sheet_name, error=str(error)[:200])
    )


def check_shared_strings(path: str) -> bool:
    """Reject a workbook whose shared strings part claims far more strings than it contains.

    calamine 0.37 reserves room for the count that the part's ``<sst>`` tag gives when it opens
    the workbook: a count of 4,000,000,000 in a file of 2 KB requested 96 GB and aborted the
    process. A count up to ``FREE_SHARED_STRINGS`` is accepted as it is; a larger one must not
    exceed the ``<si>`` elements counted in the part. Returns whether a shared string may contain a
    NUL character.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            member = _archive_member(archive, "xl/sharedStrings.xml")
            if member is None:
                return False
            with archive.open(member) as stream:
                claimed, counted, may_hold_nul = _shared_string_counts(stream)
    except (zipfile.BadZipFile, OSError, ValueError, _Ambiguous) as error:
        raise damaged_sheet("sharedStrings.xml", error) from None
    if claimed > max(FREE_SHARED_STRINGS, counted):
        error = ValueError(f"it claims {claimed} strings and contains {counted}")
        raise damaged_sheet("sharedStrings.xml", error)
    return may_hold_nul


def _shared_string_counts(stream) -> tuple[int, int, bool]:
    """Return the string count the ``<sst>`` tag claims (``uniqueCount``), the ``<si>`` elements, and NUL."""
    claimed = None
    counted = 0
    may_hold_nul = False
    for block in xml_blocks.tag_blocks(stream, prefer=b"si>"):
        if claimed is None:
            tag = _SHARED_STRINGS_TAG.search(block)
            if tag is None:
                raise ValueError("no <sst> tag at the start of the shared strings")
            claimed = max((int(value) for value in _UNIQUE_COUNT.findall(tag[0])), default=0)
        # An element split between two blocks is missed, which only makes the count smaller.
        counted += block.count(b"<si>") + block.count(b"<si ") + block.count(b":si>") + block.count(b":si ")
        may_hold_nul = may_hold_nul or _has_nul_mark(block)
    return claimed or 0, counted, may_hold_nul


def _has_nul_mark(block: bytes) -> bool:
    return b"\x00" in block or (b"0000_" in block and any(mark in block for mark in _NUL_MARKS))


class _Ambiguous(ValueError):
    """Two parts of the archive have names that calamine does not tell apart."""


def _sheet_member(archive: zipfile.ZipFile, sheet_name: str) -> str | None:
    """Return the archive name of a sheet's XML, found the way calamine 0.37 finds it.

    calamine reads ``xl/workbook.xml`` and ``xl/_rels/workbook.xml.rels`` wherever the package
    relationships point, takes a sheet's relationship from its ``r:id`` attribute, puts ``xl/``
    before a target that lacks it, and looks parts up ignoring the case of ASCII letters. Finding
    a part any other way could scan one sheet while calamine loads another.
    """
    workbook = _archive_member(archive, "xl/workbook.xml")
    relationships = _archive_member(archive, "xl/_rels/workbook.xml.rels")
    if workbook is None or relationships is None:
        return None
    targets = _relationship_targets(archive.read(relationships))
    rel_ids = []

    def start(name, attributes):
        if _local(name) == "sheet" and attributes.get("name") == sheet_name:
            ids = [value for key, value in attributes.items() if key in ("r:id", "relationships:id")]
            rel_ids.append(ids[-1] if ids else None)

    _parse_part(archive.read(workbook), start)
    target = targets.get(rel_ids[0]) if rel_ids else None
    if target is None:
        return None
    if target.startswith("/xl/"):
        target = target[1:]
    elif not target.startswith("xl/"):
        target = "xl/" + target
    return _archive_member(archive, target)


def _archive_member(archive: zipfile.ZipFile, name: str) -> str | None:
    """Return the name of the one part called ``name``, ignoring the case of ASCII letters, or None.

    Raises ``_Ambiguous`` when two parts have that name.
    """
    expected = name.encode("utf-8").lower()
    found = [info.filename for info in archive.infolist()
             if info.filename.encode("utf-8").lower() == expected]
    if len(found) > 1:
        raise _Ambiguous(f"the file contains {len(found)} parts named {name}")
    return found[0] if found else None


def _relationship_targets(data: bytes) -> dict[str, str]:
    """Return a relationships part's targets by relationship id, as written."""
    targets = {}

    def start(name, attributes):
        if _local(name) == "Relationship" and "Target" in attributes:
            targets[attributes.get("Id", "")] = attributes["Target"]

    _parse_part(data, start)
    return targets


def _parse_part(data: bytes, start) -> None:
    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    parser.Parse(data, True)


def _local(name: str) -> str:
    """Return an XML name without its namespace prefix."""
    return name.rpartition(":")[2]


# -- the byte search --------------------------------------------------------


def _search(stream) -> SheetScan:
    """Scan the bytes block by block; raise ``_Irregular`` for a cell the search cannot place.

    The last row with a value in a block is usually its last cell, so the search starts each
    block with that row as the last one found. A regular expression then finds only the cells
    beyond the last row or column found, and each of them is checked for a value.
    """
    scan = SheetScan()
    for block in xml_blocks.tag_blocks(stream, prefer=_ROW_END, chunk_bytes=CHUNK_BYTES):
        if _PREFIXED_CELL.search(block) if b":c" in block else False:
            raise _Irregular
        end = len(block)
        scan.may_hold_nul = scan.may_hold_nul or _has_nul_mark(block)
        scan.rows = max(scan.rows, _last_row_with_value(block, end))
        position = 0
        pattern = _beyond_pattern(scan.columns, scan.rows)
        while match := pattern.search(block, position):
            reference = _PLAIN_REFERENCE.match(block, match.start())
            if reference is None:
                raise _Irregular
            position = reference.end()
            if not _has_value(block, match.start(), end):
                continue
            column, row = _column_number(reference[1]), _row_number(reference[2])
            if column > scan.columns or row > scan.rows:
                scan.columns, scan.rows = max(scan.columns, column), max(scan.rows, row)
                pattern = _beyond_pattern(scan.columns, scan.rows)
        _read_hits(block, end, scan.errors)
    return scan


@functools.lru_cache(maxsize=64)
def _beyond_pattern(columns: int, rows: int) -> re.Pattern:
    """Return a pattern for a cell tag beyond column ``columns`` or row ``rows``, or an irregular one.

    The last alternative matches a cell tag that does not start with its reference in capitals,
    ``<c r="A``: a reference in small letters is placed by the parser too.
    """
    beyond_column = _letters_above(columns) + rb"[0-9]"
    beyond_row = rb"[A-Z]+" + _digits_above(rows) + rb'"'
    return re.compile(rb'<c(?: r="(?:' + beyond_column + rb"|" + beyond_row + rb')|(?! r="[A-Z])[\s/>])')


def _digits_above(number: int) -> bytes:
    """Return a regular expression for the decimal numbers above ``number``, and any of more digits."""
    return _above(str(number).encode("ascii"), ord("9"), rb"[0-9]")


def _letters_above(column: int) -> bytes:
    """Return a regular expression for the column letters after column ``column`` (1 is A), in capitals."""
    if column == 0:
        return rb"[A-Z]+"
    return _above(column_letters(column).encode("ascii"), ord("Z"), rb"[A-Z]")


def _above(text: bytes, last: int, any_character: bytes) -> bytes:
    """Return a regular expression for the strings after ``text`` in the order of its characters' set.

    The set runs up to the character ``last`` and is matched by ``any_character``: a longer string,
    or one of the same length that first differs from ``text`` with a later character.
    """
    parts = [any_character + rb"{%d,}" % (len(text) + 1)]
    for index, character in enumerate(text):
        if character != last:
            parts.append(text[:index] + rb"[%c-%c]" % (character + 1, last)
                         + any_character + rb"{%d}" % (len(text) - index - 1))
    return rb"(?:" + rb"|".join(parts) + rb")"


def _last_row_with_value(data: bytes, end: int, max_tags: int = 64) -> int:
    """Return the row of the last cell with a value among the block's last ``max_tags`` cell tags, or 0."""
    position = end
    for _attempt in range(max_tags):
        position = data.rfind(_PLAIN_CELL, 0, position)
        if position < 0:
            return 0
        reference = _PLAIN_REFERENCE.match(data, position)
        if reference is not None and _has_value(data, position, end):
            return _row_number(reference[2])
    return 0


def _has_value(data: bytes, start: int, end: int) -> bool:
    """Return whether the cell whose tag starts at ``start`` may have a value, as calamine reads it.

    calamine keeps no cell written as ``<c .../>`` or ``<c ...></c>``, which Excel writes for a cell
    that has only a format. Any other cell counts as having a value, and so does one whose tag does
    not end within ``data[:end]``.
    """
    tag = _TAG.match(data, start, end)
    if tag is None:
        return True
    if tag[0].endswith(b"/>"):
        return False
    return _CELL_END.match(data, tag.end(), end) is None


def _row_number(digits: bytes) -> int:
    # calamine computes a longer number in 32 bits, and it ends somewhere no sheet reaches.
    return int(digits) if len(digits) <= 9 else BEYOND_ANY_SHEET


def _column_number(letters: bytes) -> int:
    return _column_index(letters.decode("ascii")) + 1 if len(letters) <= 6 else BEYOND_ANY_SHEET


def _read_hits(data: bytes, end: int, errors: ErrorCells) -> None:
    """Add the error cells in ``data[:end]``, which ends after a tag, to ``errors``."""
    for position in _error_type_positions(data, end):
        start = data.rfind(b"<", 0, position)
        close = data.find(b">", position, end)
        if start < 0 or close < 0:
            raise _Irregular
        tag = data[start:close + 1]
        if not _CELL_START.match(tag) or tag.endswith(b"/>"):
            continue  # a hit in a text or formula, or an error cell without a value
        reference = _REFERENCE.search(tag)
        cell_end = _CELL_END.search(data, close, end)
        if reference is None or cell_end is None:
            raise _Irregular
        value = _VALUE.search(data, close, cell_end.start())
        text = html.unescape(value[1].decode("utf-8")).strip() if value else ""
        if text:
            errors[(int(reference[2]) - 1, _column_index(reference[1].decode("ascii")))] = text


def _error_type_positions(data: bytes, end: int):
    """Yield the position of each ``t="e"`` attribute value in ``data[:end]``."""
    # Excel and most writers quote with ", so the search for 'e' is skipped when there is no '.
    for value in _ERROR_VALUES if b"'" in data else _ERROR_VALUES[:1]:
        position = data.find(value, 0, end)
        while position >= 0:
            if _TYPE_BEFORE_VALUE.search(data, max(0, position - 16), position):
                yield position
            position = data.find(value, position + len(value), end)


def _column_index(letters: str) -> int:
    """Return the 0-based index of a column named by letters: A is 0, Z is 25, AA is 26."""
    index = 0
    for letter in letters.upper():
        index = index * 26 + ord(letter) - ord("A") + 1
    return index - 1


# -- the parser ---------------------------------------------------------------


class _SheetParser:
    """Parse a sheet's XML for its size and error cells, placing each cell as calamine 0.37 does.

    A row's ``r`` sets the row, and the end of a row moves to the next. A cell's ``r`` gives its
    row and column, and a cell without one takes the current row and the column after the last cell.
    """

    def __init__(self):
        self.scan = SheetScan()
        self.row = 0  # 0-based
        self.column = 0  # 0-based column of the next cell
        self.cell: tuple[int, int] | None = None  # the open cell's position
        self.has_value = False
        self.is_error = False
        self.in_value = False
        self.text: list[str] = []

    def parse(self, stream) -> SheetScan:
        parser = expat.ParserCreate()
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.characters
        for block in xml_blocks.tag_blocks(stream, prefer=_ROW_END, chunk_bytes=CHUNK_BYTES):
            self.scan.may_hold_nul = self.scan.may_hold_nul or _has_nul_mark(block)
            parser.Parse(block, False)
        parser.Parse(b"", True)
        return self.scan

    def start(self, name: str, attributes: dict) -> None:
        name = _local(name)
        if self.cell is not None:
            self.has_value = True
            if name == "v" and self.is_error:
                self.in_value = True
        elif name == "row":
            number = attributes.get("r")
            if number:
                self.row = _row_number(number.encode("ascii", "replace")) - 1
        elif name == "c":
            reference = _TEXT_REFERENCE.fullmatch(attributes.get("r", ""))
            if reference:
                self.column = _column_number(reference[1].encode("ascii")) - 1
                self.cell = (_row_number(reference[2].encode("ascii")) - 1, self.column)
            else:
                self.cell = (self.row, self.column)
            self.has_value = False
            self.is_error = attributes.get("t") == "e"
            self.text = []

    def end(self, name: str) -> None:
        name = _local(name)
        if name == "v":
            self.in_value = False
        elif name == "c" and self.cell is not None:
            self._close_cell()
        elif name == "row":
            self.row += 1
            self.column = 0

    def _close_cell(self) -> None:
        row, column = self.cell
        if self.has_value:
            self.scan.rows = max(self.scan.rows, row + 1)
            self.scan.columns = max(self.scan.columns, column + 1)
        text = "".join(self.text).strip()
        if self.is_error and text:
            self.scan.errors[(row, column)] = text
        self.cell = None
        self.is_error = False
        self.column += 1

    def characters(self, text: str) -> None:
        if self.in_value:
            self.text.append(text)
