"""A registry row's other columns as its stored details, summary and fingerprint.

An import handles every cell of every row, so the rows are encoded column by column
with the interpreter's built-in functions, not by a Python loop per cell. The details
text is what ``json.dumps(details, ensure_ascii=False, separators=(",", ":"))`` writes.
``summarize`` and ``fingerprint`` define the summary and the fingerprint from a details
dict, and ``encode_rows`` gives the same results.
"""

import functools
import hashlib
import itertools
import json
import math
import operator
import re

from fieldapp import idnumbers
from fieldapp.checks.models import BUSINESS, DECEASED, DIBAO, HOUSING, PAYROLL, VEHICLE
from fieldapp.register.columns import normalize_header
from fieldapp.register.parsing import to_json_value

# Normalised headers of the columns that identify a registry row of a kind beside its ID number, in
# groups of names for the same column. The first name of a group stands for the others in the
# fingerprint, so a newer file that names the column differently keeps its problems. An empty tuple
# means that the ID number alone identifies the row.
IDENTITY_HEADERS = {
    DIBAO: (), PAYROLL: (), DECEASED: (),
    HOUSING: (("不动产权证号", "不动产权证书号", "房产证号", "房屋所有权证号"), ("不动产单元号",),
              ("坐落", "坐落地址", "房屋坐落", "房屋地址")),
    VEHICLE: (("号牌号码", "车牌号码", "号牌", "车牌号"), ("车辆识别代号", "车架号")),
    BUSINESS: (("统一社会信用代码",), ("注册号",), ("市场主体名称", "企业名称", "名称")),
}
# A column kept in the details but left out of the summary and fingerprint: the running row number.
ROW_NUMBER_HEADERS = ("序号",)
SUMMARY_LENGTH = 300
# An ID number of 15 or 18 characters, or a disability certificate number (the holder's ID and two digits).
ID_LIKE = re.compile(r"^\d{15}$|^\d{17}[\dX]$|^\d{17}[\dX]\d{2}$")

# Digits of a mobile phone number, the shortest number masked inside a text.
PHONE_LENGTH = 11
# Joins a column's values for one search; no value contains it.
_CELL_SEPARATOR = "\x1f"
# Writes a text as a JSON string, non-ASCII characters kept (the C version of the standard library's).
_encode_text = json.encoder.encode_basestring
_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# The fingerprint's hash of the UTF-8 bytes of its text: 8 bytes, written as 16 hexadecimal digits.
_digest = functools.partial(hashlib.blake2b, digest_size=8)


def summarize(details: dict) -> str:
    """Join the detail values for display, masking any that looks like an ID number."""
    return join_summary([str(value) for header, value in details.items() if header not in ROW_NUMBER_HEADERS])


def join_summary(texts: list[str]) -> str:
    return _shortened(" ".join(map(shown_text, texts)))


def shown_text(text: str) -> str:
    """Return a detail value as pages and exports show it: ID numbers and mobile numbers masked.

    A value that is an ID number is masked whole, however it is written (full-width digits,
    spaces). One written inside a longer text, such as a remark, is masked in place.
    """
    if looks_like_id(text):
        return idnumbers.mask(text)
    return idnumbers.mask_numbers_in_text(text)


def _shortened(summary: str) -> str:
    """Return ``summary`` cut to ``SUMMARY_LENGTH`` characters, ending in "…" when cut."""
    return summary if len(summary) <= SUMMARY_LENGTH else summary[:SUMMARY_LENGTH - 1] + "…"


def looks_like_id(text: str) -> bool:
    """Return whether a value looks like an ID number (15 or 18 characters) or a disability certificate."""
    # The length test comes first because most values are far shorter or longer, and normalising costs more.
    return 15 <= len(text) <= 40 and bool(ID_LIKE.match(idnumbers.normalize(text)))


def identity_headers(kind: str, headers: list[str]) -> dict[str, str] | None:
    """Return the headers whose values identify a row of ``kind`` beside its ID number; None for all of them.

    Each header maps to the name that stands for it in the fingerprint. A 低保, payroll or death
    entry is the person, so next month's amount or employer keeps its problem. A car is its
    plate, a property its certificate or address, a business its credit code or name. A custom
    kind, or a file without such a column, is identified by every column, under its own header.
    """
    groups = IDENTITY_HEADERS.get(kind)
    if groups is None:
        return None
    names = {synonym: group[0] for group in groups for synonym in group}
    normalized = {header: normalize_header(header) for header in headers}
    found = {header: names[name] for header, name in normalized.items() if name in names}
    return found if found or not groups else None


def fingerprint(kind: str, id_number: str, details: dict, headers: list[str] | None = None) -> str:
    """Return a hash of what identifies a registry row, so that the same row in a newer batch matches.

    It hashes the kind, the ID number and the identifying details (``identity_headers``) as JSON
    with the headers sorted, so a newer file with its columns reordered gives the same hash. The
    identifying columns are chosen from the file's ``headers`` (default: the details' own). The
    separator U+001E is a control character that neither an ID number nor a kind contains.
    """
    identity = identity_headers(kind, list(details) if headers is None else headers)
    content = sorted(((header if identity is None else identity[header]), header, value)
                     for header, value in details.items()
                     if header not in ROW_NUMBER_HEADERS and (identity is None or header in identity))
    pairs = [_encode_text(name) + ":" + _encoded(value) for name, _header, value in content]
    text = "{" + ",".join(pairs) + "}"
    return _hash([kind, id_number, text])


def _hash(parts: list[str]) -> str:
    return _digest("\x1e".join(parts).encode("utf-8")).hexdigest()



def _encoded(value) -> str:
    """Return a details value (text, number or truth value) as JSON text, as the JSON encoder writes it."""
    kind = value.__class__
    if kind is str:
        return _encode_text(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    return _JSON_ENCODER.encode(value)


def encode_rows(kind: str, headers: list[str], skipped: set[int], rows: list[list],
                id_numbers: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Return the details as JSON text, the summary and the fingerprint of each of ``rows``.

    ``skipped`` are the indexes of the ID number and name columns; ``id_numbers`` are the
    rows' normalised ID numbers. The rows are handled column by column, so that most of
    the work is done by the interpreter's built-in functions, not by a Python loop per cell.
    A missing cell (beyond the row's end, empty or blank) is left out of all three.
    """
    count = len(rows)
    # Cells beyond the header row are left out, and a column with no value in any row is dropped once built.
    # A stray cell in column XFD pads each row to 16,384 cells. Keeping them took 4 GB for 2,000 rows.
    built = ((headers[index], _Column(values))
             for index, values in enumerate(itertools.islice(itertools.zip_longest(*rows), len(headers)))
             if index not in skipped)
    columns = [(header, column) for header, column in built if len(column.missing) < count]
    # The columns of the summary and the fingerprint: every detail column but the row number.
    content = [(header, column) for header, column in columns if header not in ROW_NUMBER_HEADERS]
    summaries = list(map(_shortened, _joined(" ", [column.texts() for _header, column in content], count)))
    # The fingerprint's text: kind, ID number and the JSON of the identifying columns in header order.
    identity = identity_headers(kind, [header for header, _column in columns])
    if identity is None:
        identifying = sorted(content, key=_header_of)
    else:
        # Under the names that stand for the headers, in the order of those names, then of the headers.
        named = sorted((identity[header], header, column) for header, column in content if header in identity)
        identifying = [(name, column) for name, _header, column in named]
    prefix = _percent_escaped(kind) + "\x1e%s\x1e"
    marked = _json_objects(identifying, [id_numbers], count, prefix)
    digests = map(_digest, map(str.encode, marked))
    return (_json_objects(columns, [], count), summaries,
            list(map(operator.methodcaller("hexdigest"), digests)))


def _json_objects(columns: list[tuple[str, "_Column"]], leading: list[list[str]], count: int,
                  prefix: str = "") -> list[str]:
    """Return each row's values of ``columns`` as a JSON object, after ``prefix``.

    ``prefix`` is a %-format string that takes the values of ``leading``, one list per ``%s``.
    """
    if all(not column.missing for _header, column in columns):
        # Every row has every column: one format string gives each row's text.
        keys = [_percent_escaped(_encode_text(header)) for header, _column in columns]
        template = prefix + "{" + ",".join(key + ":%s" for key in keys) + "}"
        values = [*leading, *[column.encoded for _header, column in columns]]
        return list(map(template.__mod__, zip(*values, strict=True))) if values else [template] * count
    pieces = [column.blanked(list(map((_encode_text(header) + ":").__add__, column.encoded)))
              for header, column in columns]
    objects = ["{" + text + "}" for text in _joined(",", pieces, count)]
    if not leading:
        return objects
    return list(map((prefix + "%s").__mod__, zip(*leading, objects, strict=True)))


def _header_of(column: tuple[str, "_Column"]) -> str:
    return column[0]


def _percent_escaped(text: str) -> str:
    """Return text for a %-format string, where it stands for itself."""
    return text.replace("%", "%%")


def _joined(separator: str, columns: list[list[str]], count: int) -> list[str]:
    """Join the rows of ``columns`` with ``separator``, leaving out empty texts."""
    if not columns:
        return [""] * count
    if any("" in column for column in columns):
        return [separator.join(filter(None, row)) for row in zip(*columns, strict=True)]
    return list(map(separator.join, zip(*columns, strict=True)))


class _Column:
    """The cells of one detail column, as the values kept in the details."""

    def __init__(self, cells: tuple):
        types = set(map(type, cells))
        self.is_text = types == {str}
        # A column of numbers only, whose values are all written the same way by repr, str and JSON.
        self.is_number = not self.is_text and types <= {int, float} and all(map(math.isfinite, cells))
        if self.is_text:
            self.values = list(map(str.strip, cells))
        elif self.is_number:
            # to_json_value's rule for whole floats, written inline because it runs for every cell.
            self.values = [int(cell) if cell.__class__ is float and cell.is_integer() and -1e15 < cell < 1e15
                           else cell for cell in cells]
        else:
            self.values = ["" if cell is None else to_json_value(cell) for cell in cells]
        # Positions of the missing cells: None, empty or blank text.
        self.missing = [position for position, value in enumerate(self.values) if value == ""] \
            if "" in self.values else []

    @functools.cached_property
    def encoded(self) -> list[str]:
        """Return each value as JSON text."""
        if self.is_number:
            return list(map(repr, self.values))
        return list(map(_encode_text if self.is_text else _encoded, self.values))

    def blanked(self, texts: list[str]) -> list[str]:
        """Return ``texts``, one per cell, with the texts of the missing cells emptied."""
        for position in self.missing:
            texts[position] = ""
        return texts

    def texts(self) -> list[str]:
        """Return each value as the summary shows it: as text, an ID number masked."""
        if self.is_text:
            texts = self.values
        elif self.is_number:
            texts = list(map(str, self.values))
        else:
            texts = [value if value.__class__ is str else str(value) for value in self.values]
        longest = max(map(len, texts), default=0)
        if longest >= 15:
            texts = [idnumbers.mask(text) if looks_like_id(text) else text for text in texts]
        # One search over the whole column finds whether any value contains a number to mask. A column
        # of shorter values, such as dates and plates, cannot contain an 11-digit phone number.
        if longest >= PHONE_LENGTH and idnumbers.has_number_in_text(_CELL_SEPARATOR.join(texts)):
            texts = list(map(idnumbers.mask_numbers_in_text, texts))
        return self.blanked(list(texts)) if self.missing else texts
