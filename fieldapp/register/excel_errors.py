"""Finding the cells of an xlsx sheet whose value is an Excel error such as #N/A or #REF!.

python-calamine 0.9 reads an error cell as an empty string, so a VLOOKUP that failed looks
like a missing value. The sheet XML marks such a cell with ``t="e"`` and keeps the error text
in its ``<v>`` element: ``<c r="C12" t="e"><f>VLOOKUP(...)</f><v>#N/A</v></c>``.

Most sheets have no error cell, so the decompressed sheet XML is searched for ``t="e"`` as
bytes, without parsing it, and each hit is read from the bytes around it. Only when a hit
cannot be read that way, for a cell without its ``r`` reference, is the whole sheet parsed.
"""

import html
import posixpath
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from xml.parsers import expat

from flask_babel import gettext as _

from fieldapp.errors import ImportRejected

# Workbooks stored as Office Open XML, the only ones searched.
XLSX_EXTENSIONS = (".xlsx", ".xlsm")
# Decompressed bytes read at a time.
CHUNK_BYTES = 4 << 20

# The error type's value in either quoting. bytes.find searched 400 MB of sheet XML in 0.3 s, where a
# regex for the whole attribute took 2.9 s (Python 3.11, one core of a 2-core build machine).
_ERROR_VALUES = (b'"e"', b"'e'")
_TYPE_BEFORE_VALUE = re.compile(rb"\st\s*=\s*$")
_CELL_START = re.compile(rb"<(?:[\w.-]+:)?c[\s>/]")
_CELL_END = re.compile(rb"</(?:[\w.-]+:)?c\s*>")
_REFERENCE = re.compile(rb"""\sr\s*=\s*["']([A-Za-z]{1,3})([0-9]{1,7})["']""")
_VALUE = re.compile(rb"<(?:[\w.-]+:)?v(?:\s[^>]*)?>([^<]*)</(?:[\w.-]+:)?v\s*>")
_TEXT_REFERENCE = re.compile(r"([A-Za-z]{1,3})([0-9]{1,7})")
# The end of a row, "</row>" or "</x:row>". A chunk is cut after it, so that no cell is split.
_ROW_END = b"row>"

ErrorCells = dict[tuple[int, int], str]  # (0-based row, 0-based column) -> error text, e.g. "#N/A"


class _UnreadableHit(Exception):
    """An error cell that the byte search cannot place; the sheet is parsed instead."""


def load_sheet(workbook, path: str, sheet_name: str):
    """Return the calamine sheet ``sheet_name`` of ``workbook`` (read from ``path``) and its error cells.

    The file is searched in a second thread while calamine reads the sheet, and calamine
    does most of that reading without holding the interpreter lock. On a register of 240,000
    rows the search took 2.9 s alone, and 0.6 s more than calamine's 15 s in the thread.
    Raises ``ImportRejected`` when the workbook's XML cannot be searched.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        search = pool.submit(_find_error_cells, path, sheet_name)
        sheet = workbook.get_sheet_by_name(sheet_name)
        errors = search.result()
    return sheet, _checked(errors)


def find_error_cells(path: str, sheet_name: str) -> ErrorCells:
    """Return the error cells of the sheet ``sheet_name`` in the workbook at ``path``.

    Files other than .xlsx and .xlsm give no error cells. Raises ``ImportRejected`` when the
    workbook's XML cannot be read, although calamine read it.
    """
    return _checked(_find_error_cells(path, sheet_name))


def _checked(errors: ErrorCells | Exception) -> ErrorCells:
    if isinstance(errors, Exception):
        raise ImportRejected(
            _("The workbook could not be checked for Excel error values (%(error)s); open it in Excel, "
              "save it again as .xlsx and import that copy.", error=str(errors)[:200])
        )
    return errors


def _find_error_cells(path: str, sheet_name: str) -> ErrorCells | Exception:
    """Return the error cells of the sheet, or the error that stopped the search.

    It runs outside the application context, where no message can be translated.
    """
    # NOTE: .xls and .ods files are not searched, so an error cell there is still read as empty.
    if not path.lower().endswith(XLSX_EXTENSIONS):
        return {}
    try:
        with zipfile.ZipFile(path) as archive:
            member = _sheet_member(archive, sheet_name)
            if member is None:
                return {}
            try:
                with archive.open(member) as stream:
                    return _search(stream)
            except _UnreadableHit:
                with archive.open(member) as stream:
                    return _SheetParser().parse(stream)
    except (zipfile.BadZipFile, KeyError, OSError, expat.ExpatError, ValueError) as error:
        return error


def _sheet_member(archive: zipfile.ZipFile, sheet_name: str) -> str | None:
    """Return the archive path of a sheet's XML, found through the workbook part and its relationships."""
    workbook = next((target for _id, kind, target in _relationships(archive, "_rels/.rels", "")
                     if kind.endswith("/officeDocument")), "xl/workbook.xml")
    folder = posixpath.dirname(workbook)
    targets = {rel_id: target for rel_id, _kind, target
               in _relationships(archive, f"{folder}/_rels/{posixpath.basename(workbook)}.rels", folder)}
    rel_ids = []

    def start(name, attributes):
        if _local(name) == "sheet" and attributes.get("name") == sheet_name:
            rel_ids.extend(value for key, value in attributes.items() if _local(key) == "id")

    _parse_part(archive.read(workbook), start)
    return targets.get(rel_ids[0]) if rel_ids else None


def _relationships(archive: zipfile.ZipFile, path: str, folder: str) -> list[tuple[str, str, str]]:
    """Return a relationships part's entries as (id, type, target), the target as an archive path."""
    if path not in archive.namelist():
        return []
    entries = []

    def start(name, attributes):
        if _local(name) == "Relationship" and "Target" in attributes:
            target = attributes["Target"]
            path = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
            entries.append((attributes.get("Id", ""), attributes.get("Type", ""), posixpath.normpath(path)))

    _parse_part(archive.read(path), start)
    return entries


def _parse_part(data: bytes, start) -> None:
    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    parser.Parse(data, True)


def _local(name: str) -> str:
    """Return an XML name without its namespace prefix."""
    return name.rpartition(":")[2]


def _search(stream) -> ErrorCells:
    """Find the error cells by searching the bytes; raise _UnreadableHit for a cell it cannot place."""
    errors: ErrorCells = {}
    data = b""
    while chunk := stream.read(CHUNK_BYTES):
        data += chunk
        cut = data.rfind(_ROW_END)
        if cut >= 0:
            cut += len(_ROW_END)
            _read_hits(data, cut, errors)
            data = data[cut:]
    _read_hits(data, len(data), errors)
    return errors


def _read_hits(data: bytes, end: int, errors: ErrorCells) -> None:
    """Add the error cells in ``data[:end]``, which ends between two rows, to ``errors``."""
    for position in _error_type_positions(data, end):
        start = data.rfind(b"<", 0, position)
        close = data.find(b">", position, end)
        if start < 0 or close < 0:
            raise _UnreadableHit
        tag = data[start:close + 1]
        if not _CELL_START.match(tag) or tag.endswith(b"/>"):
            continue  # a hit in a text or formula, or an error cell without a value
        reference = _REFERENCE.search(tag)
        cell_end = _CELL_END.search(data, close, end)
        if reference is None or cell_end is None:
            raise _UnreadableHit
        value = _VALUE.search(data, close, cell_end.start())
        text = html.unescape(value[1].decode("utf-8")).strip() if value else ""
        if text:
            errors[(int(reference[2]) - 1, _column_index(reference[1].decode("ascii")))] = text


def _error_type_positions(data: bytes, end: int):
    """Yield the position of each ``t="e"`` attribute value in ``data[:end]``."""
    for value in _ERROR_VALUES:
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


class _SheetParser:
    """Parse a sheet's XML for its error cells, counting the rows and cells written without a reference."""

    def __init__(self):
        self.errors: ErrorCells = {}
        self.row = -1
        self.column = -1
        self.is_error = False
        self.in_value = False
        self.text: list[str] = []

    def parse(self, stream) -> ErrorCells:
        parser = expat.ParserCreate()
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.characters
        parser.ParseFile(stream)
        return self.errors

    def start(self, name: str, attributes: dict) -> None:
        name = _local(name)
        if name == "row":
            number = attributes.get("r")
            self.row = int(number) - 1 if number else self.row + 1
            self.column = -1
        elif name == "c":
            reference = _TEXT_REFERENCE.fullmatch(attributes.get("r", ""))
            if reference:
                self.row, self.column = int(reference[2]) - 1, _column_index(reference[1])
            else:
                self.column += 1
            self.is_error = attributes.get("t") == "e"
            self.text = []
        elif name == "v" and self.is_error:
            self.in_value = True

    def end(self, name: str) -> None:
        name = _local(name)
        if name == "v":
            self.in_value = False
        elif name == "c" and self.is_error:
            text = "".join(self.text).strip()
            if text:
                self.errors[(self.row, self.column)] = text
            self.is_error = False

    def characters(self, text: str) -> None:
        if self.in_value:
            self.text.append(text)
