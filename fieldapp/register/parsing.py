"""Turning register cells into column values, and rows into households.

Values are stored as the file has them, wrong ones included, because a wrong
check character or a duplicate ID number is data for the checks. A row is
rejected only when a value cannot be stored faithfully. That is the case when a
required value is missing, when Excel turned an ID number into a float, when a
number or date cell contains something else, when a cell is an Excel error
value such as #N/A, or when a text is longer than its column.
"""

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import NamedTuple

from flask_babel import gettext as _

from fieldapp import idnumbers
from fieldapp.errors import ImportRejected
from fieldapp.register import columns as cols
from fieldapp.register.columns import HeaderMap
from fieldapp.register.models import Household, Member
from fieldapp.register.reader import ExcelError, Table, removed_nul_message

logger = logging.getLogger(__name__)


class Rejection(NamedTuple):
    """One reason a row was rejected; ``row`` is the 1-based row number in the file."""

    row: int
    column: str
    value: str
    reason: str


class CellError(ValueError):
    """A cell value that cannot be stored. The message gives the reason and the fix."""


@dataclass(slots=True)
class ParsedRow:
    row: int
    household: dict
    member: dict
    extra: dict
    cells: list  # the row as read, for the rejected-rows workbook


@dataclass
class ParsedRegister:
    header: HeaderMap
    export_date: date | None
    households: dict[str, list[ParsedRow]]  # household number -> its rows, in file order
    rejections: list[Rejection] = field(default_factory=list)
    rejected_cells: dict[int, list] = field(default_factory=dict)  # row number -> cells
    warnings: list[str] = field(default_factory=list)
    rows_read: int = 0


_SCIENTIFIC = re.compile(r"^[+-]?\d+(\.\d*)?[eE][+-]?\d+$")
_DECIMAL_TEXT = re.compile(r"^[+-]?\d+\.\d*$")
_TEXT_FORMULA = re.compile(r'^="(.*)"$')
_LIST_SEPARATORS = re.compile(r"[、,，;；/|]+")
_NUMBER_NOISE = re.compile(r"[\s,\u3000]")
_DATE_TEXT = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$"
)
_DATE_IN_TITLE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
# The earliest "data as of" date a title row may give; registers and registries are newer.
EARLIEST_DATA_DATE = date(2000, 1, 1)
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９．－＋", "0123456789.-+")
# Floats hold integers exactly up to 2**53; Excel keeps 15 significant digits.
_EXCEL_EXACT_DIGITS = 15

TRUE_WORDS = frozenset({"是", "有", "Y", "YES", "TRUE", "1", "√"})
FALSE_WORDS = frozenset({"否", "无", "N", "NO", "FALSE", "0", "×"})

# Maximum text length of each String column, from the models.
_MAX_LENGTH = {
    ("household", column.name): column.type.length
    for column in Household.__table__.columns
    if getattr(column.type, "length", None)
} | {
    ("member", column.name): column.type.length
    for column in Member.__table__.columns
    if getattr(column.type, "length", None)
}


def cell_text(value) -> str:
    """Return a cell as text the way a person reads it: ``2017.0`` as ``2017``, dates as ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def to_text(value) -> str:
    return cell_text(value)


def _unquote(text: str) -> str:
    """Remove the marks that keep Excel from turning digits into a number: ``'123`` and ``="123"``."""
    match = _TEXT_FORMULA.match(text)
    if match:
        return match[1]
    return text[1:] if text.startswith(("'", "‘")) else text


def to_code(value, field_name: str) -> str:
    """Text that must keep every digit: a household number, a division code, a phone number."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        if float(value).is_integer() and len(str(int(value))) <= _EXCEL_EXACT_DIGITS:
            return str(int(value))
        raise CellError(
            _("Excel stored the %(what)s as a number and may have dropped digits; format the column as "
              "text in the export and import again.", what=_code_description(field_name))
        )
    text = idnumbers.normalize(_unquote(cell_text(value)))
    if _SCIENTIFIC.match(text):
        raise CellError(
            _("Excel turned the %(what)s into a number in scientific notation, so digits are lost; format "
              "the column as text in the export and import again.", what=_code_description(field_name))
        )
    return text


# Invisible characters that copying from web pages and chat messages leaves in a cell: zero-width
# space, non-joiner and joiner, word joiner, and the byte order mark.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def to_id_number(value) -> str:
    """Normalise an ID number; reject one that Excel turned into a number.

    Invisible characters are removed anywhere in the value, before the quote marks are looked for.
    """
    if isinstance(value, float | int) and not isinstance(value, bool):
        raise CellError(
            _("Excel stored the ID number as a number, so its last digits are lost; format the column "
              "as text in the export (or type the number after an apostrophe) and import again.")
        )
    text = idnumbers.normalize(_unquote(cell_text(value).translate(_INVISIBLE).strip()))
    if _SCIENTIFIC.match(text) or _DECIMAL_TEXT.match(text):
        raise CellError(
            _("The ID number was turned into a number (scientific notation or decimals), so digits are "
              "lost; format the column as text in the export and import again.")
        )
    return text


def _number_text(value) -> str:
    return _NUMBER_NOISE.sub("", cell_text(value).translate(_FULL_WIDTH_DIGITS))


# The values each integer field accepts. A household of 1,000 people or a year of 20,170 is a typing
# error, and a larger number does not fit PostgreSQL's integer column (at most 2,147,483,647).
INTEGER_RANGES = {
    "size": (0, 999),
    "exit_year": (1900, 2100),
    "months_worked": (0, 12),
}
_STORABLE_INTEGERS = (-(2**31), 2**31 - 1)


def to_integer(value, field_name: str = "") -> int | None:
    """Return a whole number within the field's range (``INTEGER_RANGES``).

    The range is checked before the number is converted to ``int``, which takes minutes for a text
    such as "1e10000000".
    """
    if _is_blank(value):
        return None
    minimum, maximum = INTEGER_RANGES.get(field_name, _STORABLE_INTEGERS)
    if isinstance(value, bool):
        raise CellError(_("Not a number; enter digits only and import again."))
    if isinstance(value, int | float):
        number = Decimal(value) if math.isfinite(value) else None
    else:
        try:
            number = Decimal(_number_text(value))
        except InvalidOperation:
            raise CellError(_("Not a number; enter digits only and import again.")) from None
    if number is None or not number.is_finite() or not minimum <= number <= maximum:
        raise CellError(_("Out of range: enter a whole number from %(min)d to %(max)d and import again.",
                          min=minimum, max=maximum))
    if number != number.to_integral_value():
        raise CellError(_("Not a whole number; enter a whole number and import again."))
    return int(number)


_MONEY_LIMIT = Decimal("1e12")
_CENT = Decimal("0.01")


def to_money(value) -> Decimal | None:
    if _is_blank(value):
        return None
    if isinstance(value, bool):
        raise CellError(_("Not a number; enter digits only (for example 12345.67) and import again."))
    if isinstance(value, float | int):
        number = Decimal(repr(value) if isinstance(value, float) else value)
    else:
        try:
            number = Decimal(_number_text(value))
        except InvalidOperation:
            raise CellError(
                _("Not a number; enter digits only (for example 12345.67) and import again.")
            ) from None
    # Compared without abs(), which raises decimal.Overflow for an exponent such as 1e1000000.
    if not number.is_finite() or not -_MONEY_LIMIT < number < _MONEY_LIMIT:
        raise CellError(_("The amount is out of range; check the value and import again."))
    return number.quantize(_CENT)


def to_decimal(value) -> float | None:
    if _is_blank(value):
        return None
    if isinstance(value, float | int) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise CellError(_("Not a number; enter digits only (for example 117.61) and import again."))
        return float(value)
    try:
        number = float(_number_text(value))
    except ValueError:
        raise CellError(_("Not a number; enter digits only (for example 117.61) and import again.")) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise CellError(_("Not a number; enter digits only (for example 117.61) and import again."))
    return number


def to_boolean(value) -> bool | None:
    if _is_blank(value):
        return None
    if isinstance(value, bool):
        return value
    text = cell_text(value).upper()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise CellError(_("Expected 是 or 否; correct the value and import again."))


def to_date(value) -> date | None:
    if _is_blank(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, timedelta | time | bool):
        raise CellError(_("Not a date; write it as YYYY-MM-DD or YYYYMMDD and import again."))
    text = cell_text(value).translate(_FULL_WIDTH_DIGITS)
    try:
        if len(text) == 8 and text.isdigit():
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        match = _DATE_TEXT.match(text)
        if match:
            return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        pass
    raise CellError(_("Not a date; write it as YYYY-MM-DD or YYYYMMDD and import again."))


def to_list(value) -> list[str]:
    return [part.strip() for part in _LIST_SEPARATORS.split(cell_text(value)) if part.strip()]


def to_json_value(value):
    """Keep a cell in JSON: text stripped, numbers as numbers (whole floats as int), dates as ISO text.

    A date and time at midnight is kept as the date alone, which is how a spreadsheet
    shows a date cell.
    """
    if value.__class__ is str:
        return value.strip()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    if isinstance(value, float) and not math.isfinite(value):
        return cell_text(value)  # JSON has no NaN or infinity, and PostgreSQL rejects them
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    return cell_text(value)


def excel_error_message(error: ExcelError) -> str:
    return _("The cell contains the Excel error value %(error)s; correct the formula in Excel or replace it "
             "with a value, and import again.", error=error.value)


def _convert(column: cols.Column, value):
    if value.__class__ is ExcelError:
        raise CellError(excel_error_message(value))
    if column.kind == cols.TEXT:
        return to_text(value)
    if column.kind == cols.CODE:
        return to_code(value, column.field)
    if column.kind == cols.ID_NUMBER:
        return to_id_number(value)
    if column.kind == cols.INTEGER:
        return to_integer(value, column.field)
    if column.kind == cols.MONEY:
        return to_money(value)
    if column.kind == cols.DECIMAL:
        return to_decimal(value)
    if column.kind == cols.BOOLEAN:
        return to_boolean(value)
    if column.kind == cols.DATE:
        return to_date(value)
    if column.kind in (cols.LIST, cols.RISK):
        return to_list(value)
    raise AssertionError(f"unknown column kind {column.kind}")


def _code_description(field_name: str) -> str:
    return {
        "household_no": _("household number"),
        "division_code": _("division code"),
        "phone": _("phone number"),
    }.get(field_name, field_name)


# Rows between two "reading" progress calls.
PROGRESS_ROWS = 500


class _RowParser:
    """Convert rows with one converter function per column, chosen once from the header.

    Most rows are valid, so the first attempt converts a row in one pass and stops at the first
    problem. A row with a problem is converted again by ``parse_row``, which lists every rejection
    of the row. Consecutive rows with the very same household cells share one household dict,
    converted once.
    """

    def __init__(self, header: HeaderMap):
        self.header = header
        self.width = len(header.headers)
        self.household_fields: list[tuple[str, int, Callable]] = []
        self.risk_fields: list[tuple[str, list[int], Callable]] = []
        self.member_fields: list[tuple[str, int, Callable]] = []
        household_indexes: list[int] = []
        for name, indexes in header.fields.items():
            column = cols.BY_FIELD[name]
            converter = column_converter(column)
            if column.level == "household":
                household_indexes.extend(indexes)
                if column.kind == cols.RISK:
                    self.risk_fields.append((name, indexes, converter))
                else:
                    self.household_fields.append((name, indexes[0], converter))
            else:
                # Only risk columns may repeat, so a member field has one cell.
                self.member_fields.append((name, indexes[0], converter))
        self.household_key = itemgetter(*household_indexes) if len(household_indexes) > 1 \
            else lambda cells: (cells[household_indexes[0]],)
        self.unknown = list(header.unknown.items())
        self.last_key: tuple | None = None
        self.last_types: tuple | None = None
        self.last_household: dict | None = None

    def parse(self, row_no: int, cells: list) -> tuple[ParsedRow | None, list[Rejection]]:
        padded = cells if len(cells) >= self.width else [*cells, *[None] * (self.width - len(cells))]
        key = self.household_key(padded)
        # The cell types are compared too, since 1, 1.0 and True are equal but convert differently.
        types = tuple(map(type, key))
        if key == self.last_key and types == self.last_types:
            household = self.last_household
        else:
            household = self._household(padded)
            self.last_key, self.last_types, self.last_household = key, types, household
        if household is not None:
            try:
                member = {name: convert(padded[index]) for name, index, convert in self.member_fields}
            except CellError:
                member = None
            if member is not None and member["name"] and member["id_number"]:
                extra = {label: to_json_value(padded[index]) for index, label in self.unknown
                         if not _is_blank(padded[index])} if self.unknown else {}
                return ParsedRow(row_no, household, member, extra, cells), []
        return parse_row(row_no, cells, self.header)

    def _household(self, cells: list) -> dict | None:
        """Return the converted household cells, or None when any of them is rejected."""
        try:
            values = {name: convert(cells[index]) for name, index, convert in self.household_fields}
            for name, indexes, convert in self.risk_fields:
                values[name] = [risk for index in indexes for risk in convert(cells[index])]
        except CellError:
            return None
        code = values.get("division_code")
        if not values["household_no"] or (code is not None and not _is_division_code(code)):
            return None
        return values


def _is_division_code(code: str) -> bool:
    return len(code) == 12 and code.isdigit()


def column_converter(column: cols.Column) -> Callable:
    """Return the function that converts and checks one cell of ``column``; it raises CellError.

    Columns whose values repeat (most text, yes/no and code lists) keep the outcome of each text
    cell and reuse it. Columns whose values hardly repeat take a shortcut for the usual form of
    their cells instead, and convert any other cell in full.
    """
    def convert(raw):
        value = _convert(column, raw)
        _check_length(column, value)
        return value

    limit = _MAX_LENGTH.get((column.level, column.field))
    if column.kind == cols.ID_NUMBER:
        return _id_number_converter(convert)
    if column.kind == cols.DATE:
        return _date_converter(convert)
    if column.kind == cols.CODE:
        return _code_converter(convert, limit)
    if column.kind == cols.MONEY:
        return _money_converter(convert)
    if column.kind == cols.INTEGER:
        return _integer_converter(convert, *INTEGER_RANGES.get(column.field, _STORABLE_INTEGERS))
    if column.kind == cols.DECIMAL:
        return _decimal_converter(convert)
    if column.kind == cols.TEXT and column.field in _UNCACHED_FIELDS:
        return _text_converter(convert, limit)
    cache = _ConversionCache(convert)
    if column.kind in (cols.LIST, cols.RISK):
        # A list (risks, help measures) is copied, so that no two households share one.
        return lambda raw: list(cache[raw])
    return cache.__getitem__


# Text fields whose values hardly repeat, so that keeping their conversions would only hold memory.
_UNCACHED_FIELDS = frozenset({"name"})
# An ID number as exports write it: nothing for to_id_number to change or reject.
_PLAIN_ID_NUMBER = re.compile(r"[0-9]{17}[0-9X]")
class _ConversionCache(dict):
    """Converted cells by cell text: looking up a text not seen before converts it and keeps the outcome.

    Only text cells and empty cells are kept. A number or a bool is converted each time, because
    ``True``, ``1`` and ``1.0`` are one key in a dict but not one value (``to_text`` gives "TRUE"
    and "1"). A rejected cell is not kept, so its error is raised again each time.
    """

    def __init__(self, convert: Callable):
        super().__init__()
        self.convert = convert

    def __missing__(self, raw):
        value = self.convert(raw)
        if raw.__class__ is str or raw is None:
            self[raw] = value
        return value


def _id_number_converter(convert: Callable) -> Callable:
    match = _PLAIN_ID_NUMBER.fullmatch

    def convert_id_number(raw):
        if raw.__class__ is str and match(raw):
            return raw
        return convert(raw)
    return convert_id_number


def _date_converter(convert: Callable) -> Callable:
    def convert_date(raw):
        # YYYYMMDD in ASCII digits, the form of the national export; anything else takes the full path.
        if raw.__class__ is str and len(raw) == 8 and raw.isascii() and raw.isdigit():
            try:
                return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
            except ValueError:
                pass
        return convert(raw)
    return convert_date


def _code_converter(convert: Callable, limit: int | None) -> Callable:
    def convert_code(raw):
        # ASCII digits only: to_code would return the cell unchanged.
        if raw.__class__ is str and raw.isascii() and raw.isdigit() and (limit is None or len(raw) <= limit):
            return raw
        return convert(raw)
    return convert_code


def _money_converter(convert: Callable) -> Callable:
    def convert_money(raw):
        # A number cell within range: to_money's own steps for a float, without its checks.
        if raw.__class__ is float and -1e12 < raw < 1e12:
            return Decimal(repr(raw)).quantize(_CENT)
        return convert(raw)
    return convert_money


def _integer_converter(convert: Callable, minimum: int, maximum: int) -> Callable:
    def convert_integer(raw):
        # A whole number cell within range: to_integer's own steps for it, without its checks.
        if raw.__class__ is float and minimum <= raw <= maximum and raw.is_integer():
            return int(raw)
        return convert(raw)
    return convert_integer


def _decimal_converter(convert: Callable) -> Callable:
    def convert_decimal(raw):
        # A finite number cell: to_decimal's own step for it.
        if raw.__class__ is float and -math.inf < raw < math.inf:
            return raw
        return convert(raw)
    return convert_decimal


def _text_converter(convert: Callable, limit: int | None) -> Callable:
    def convert_text(raw):
        if raw.__class__ is str:
            value = raw.strip()
            if limit is None or len(value) <= limit:
                return value
        return convert(raw)
    return convert_text


def parse_row(row_no: int, cells: list, header: HeaderMap) -> tuple[ParsedRow | None, list[Rejection]]:
    """Convert one row cell by cell; return it, or None with every reason it cannot be stored."""
    width = len(header.headers)
    padded = list(cells) + [None] * (width - len(cells)) if len(cells) < width else cells

    household, rejections = _convert_fields(row_no, padded, header, _level_fields(header, "household"))
    member, member_rejections = _convert_fields(row_no, padded, header, _level_fields(header, "member"))
    values = {"household": household, "member": member}
    rejections.extend(member_rejections)

    rejections.extend(_required_rejections(row_no, values, header))
    division_code = values["household"].get("division_code")
    if division_code is not None and not _is_division_code(division_code):
        index = header.fields["division_code"][0]
        rejections.append(Rejection(row_no, header.headers[index], division_code,
                                    _("The division code must have 12 digits; correct it and import again.")))
    rejections.extend(Rejection(row_no, header.headers[index], padded[index].value,
                                excel_error_message(padded[index]))
                      for index in header.unknown if padded[index].__class__ is ExcelError)
    if rejections:
        return None, rejections

    extra = {label: to_json_value(padded[index]) for index, label in header.unknown.items()
             if not _is_blank(padded[index])}
    return ParsedRow(row_no, values["household"], values["member"], extra, cells), []


def _level_fields(header: HeaderMap, level: str) -> list[tuple[str, cols.Column, list[int]]]:
    """Return the fields of a level ("household" or "member") with their columns and cell indexes."""
    return [(name, cols.BY_FIELD[name], indexes) for name, indexes in header.fields.items()
            if cols.BY_FIELD[name].level == level]


def _convert_fields(row_no: int, cells: list, header: HeaderMap,
                    fields: list) -> tuple[dict, list[Rejection]]:
    """Convert the cells of ``fields``; a field with a rejected cell is left out of the values."""
    values: dict = {}
    rejections: list[Rejection] = []
    for field_name, column, indexes in fields:
        converted = [] if column.kind == cols.RISK else None
        is_valid = True
        for index in indexes:
            raw = cells[index]
            try:
                value = _convert(column, raw)
                _check_length(column, value)
            except CellError as error:
                rejections.append(Rejection(row_no, header.headers[index], cell_text(raw), str(error)))
                is_valid = False
                continue
            if column.kind == cols.RISK:
                converted.extend(value)
            else:
                converted = value
        if is_valid:
            values[field_name] = converted
    return values, rejections


def _check_length(column: cols.Column, value) -> None:
    limit = _MAX_LENGTH.get((column.level, column.field))
    if limit and isinstance(value, str) and len(value) > limit:
        raise CellError(_("Longer than %(max)d characters; shorten it and import again.", max=limit))


def _required_rejections(row_no: int, values: dict, header: HeaderMap) -> list[Rejection]:
    found = []
    for field_name in cols.REQUIRED_FIELDS:
        column = cols.BY_FIELD[field_name]
        if field_name not in values[column.level]:
            continue  # its cell was rejected already
        if not values[column.level][field_name]:
            index = header.fields[field_name][0]
            found.append(Rejection(row_no, header.headers[index], "", _missing_reason(field_name)))
    return found


def _missing_reason(field_name: str) -> str:
    if field_name == "household_no":
        return _("This value is required; fill it in and import again. If the household's rows share one "
                 "merged cell, unmerge it and fill the household number into every row of the household.")
    return _("This value is required; fill it in and import again.")


def is_footer(cells: list, header: HeaderMap) -> bool:
    """Return whether the row is a footer such as "合计" or "制表人：…".

    A footer has no key values and at most one filled cell.
    """
    keys = [index for field_name in cols.REQUIRED_FIELDS for index in header.fields[field_name]]
    if any(index < len(cells) and not _is_blank(cells[index]) for index in keys):
        return False
    return sum(1 for value in cells if not _is_blank(value)) <= 1


def export_date(title_rows: list[list]) -> date | None:
    """Find the "data as of" date in the title rows, e.g. "（数据截至 2026年11月30日）".

    A date before 2000 or after tomorrow is a typing error, not the date of the data, and is
    skipped: the checks would compute every age on it. Tomorrow is allowed because the
    server's date may be a day behind China's.
    """
    latest = date.today() + timedelta(days=1)
    for cells in title_rows:
        for value in cells:
            found = _date_in_title(value)
            if found is None:
                continue
            if EARLIEST_DATA_DATE <= found <= latest:
                return found
            logger.info("title row date %s is out of range and is not taken as the export date", found)
    return None


def _date_in_title(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    match = _DATE_IN_TITLE.search(cell_text(value).translate(_FULL_WIDTH_DIGITS))
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def parse_table(
    table: Table,
    *,
    max_rows: int,
    allowed_prefixes: list[str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> ParsedRegister:
    """Read every row, convert it and group the rows by household number.

    ``allowed_prefixes`` (division code prefixes) rejects rows outside an uploader's divisions.
    """
    header = table.header
    _check_division_column(header)
    parsed = ParsedRegister(header=header, export_date=export_date(table.title_rows), households={})
    parser = _RowParser(header)
    key_indexes = [header.fields[field_name][0] for field_name in cols.REQUIRED_FIELDS]
    used_indexes = {index for indexes in header.fields.values() for index in indexes} | set(header.unknown)
    width = len(header.headers)
    households = parsed.households
    rejected_households = _RejectedHouseholds(header)
    for row_no, cells in table.rows:
        is_error_row = row_no in table.error_rows
        if is_error_row:
            cells = _without_ignored_errors(cells, used_indexes)
        # A row with a key value is neither blank nor a footer, so the whole row is tested only without one.
        if _keys_blank(cells, key_indexes) and (all(_is_blank(value) for value in cells)
                                                or is_footer(cells, header)):
            continue
        parsed.rows_read += 1
        if parsed.rows_read > max_rows:
            raise _too_many_rows(max_rows)
        # The row parser's fast path keeps an unknown column's cell unchecked, so a row with an error
        # cell goes through parse_row, which rejects an error in every column the import keeps.
        row, rejections = parse_row(row_no, cells, header) if is_error_row else parser.parse(row_no, cells)
        if row is not None and allowed_prefixes is not None:
            rejections = _scope_rejections(row, header, allowed_prefixes)
        if table.is_text and len(cells) > width:
            extra = _extra_cells_rejection(row_no, cells, width)
            if extra is not None:
                row, rejections = None, [*rejections, extra]
        if rejections:
            parsed.rejections.extend(rejections)
            parsed.rejected_cells[row_no] = list(cells)
            rejected_households.add_rejected_row(row_no, cells)
        else:
            household_no = rejected_households.previous = row.household["household_no"]
            rows = households.get(household_no)
            if rows is None:
                households[household_no] = [row]
            else:
                rows.append(row)
        if progress is not None and parsed.rows_read % PROGRESS_ROWS == 0:
            progress("reading", row_no, table.total_rows)
    if table.removed_nul.count:
        parsed.warnings.append(removed_nul_message(table.removed_nul.count))
    _reject_mixed_divisions(parsed)
    reject_households(parsed, rejected_households.reasons())
    return parsed


def _check_division_column(header: HeaderMap) -> None:
    """Reject a register without the division code column, without which no household can be placed."""
    if "division_code" not in header.fields:
        raise ImportRejected(
            _("The header row (row %(row)d) has no column 行政区划代码, the 12-digit division code of each "
              "household's village. Export the register with that column, or add it, and import again.",
              row=header.row_index + 1)
        )


class _RejectedHouseholds:
    """The households rejected with a rejected row, so that a household is written whole or not at all.

    A rejected row rejects its own household. A row whose 户编号 is blank or cannot be read
    rejects the household of the row above it, which it most likely continues: exports with
    merged cells give the number on a household's first row only. Its members would otherwise
    be removed from the stored household.
    """

    def __init__(self, header: HeaderMap):
        self.header = header
        self.previous: str | None = None  # household number of the last row read that had one
        self.rejected_rows: dict[str, list[int]] = {}
        self.continuing_rows: dict[str, list[int]] = {}

    def add_rejected_row(self, row_no: int, cells: list) -> None:
        household_no = _household_no_or_none(cells, self.header)
        if household_no:
            self.rejected_rows.setdefault(household_no, []).append(row_no)
            self.previous = household_no
        elif self.previous:
            self.continuing_rows.setdefault(self.previous, []).append(row_no)

    def reasons(self) -> dict[str, str]:
        """Return the reason each household is rejected, by household number."""
        reasons = {
            household_no: _("Not imported because row %(rows)s of the same household was rejected; fix that "
                            "row and import the household again.", rows=", ".join(map(str, row_numbers)))
            for household_no, row_numbers in self.rejected_rows.items()
        }
        for household_no, row_numbers in self.continuing_rows.items():
            reason = _("Not imported because row %(rows)s below has no readable 户编号 and probably belongs "
                       "to this household, as rows under a merged cell do; fill in the 户编号 of every row "
                       "and import the household again.", rows=", ".join(map(str, row_numbers)))
            reasons[household_no] = " ".join(filter(None, [reasons.get(household_no), reason]))
        return reasons


def _extra_cells_rejection(row_no: int, cells: list, width: int) -> Rejection | None:
    """Reject a CSV row with a value after the header's last column: its values are in the wrong columns."""
    extra = [cell_text(value) for value in cells[width:] if not _is_blank(value)]
    if not extra:
        return None
    return Rejection(row_no, _("after the last column"), extra[0], _(
        "The row has %(cells)d cells, more than the %(columns)d columns of the header row, so its values are "
        "in the wrong columns. A value probably contains the separator (a comma) without quote marks around "
        "it; correct the row and import again.", cells=len(cells), columns=width))


def _without_ignored_errors(cells: list, used_indexes: set[int]) -> list:
    """Return the cells with the Excel errors in ignored columns emptied, as calamine reads them."""
    return [("" if value.__class__ is ExcelError and index not in used_indexes else value)
            for index, value in enumerate(cells)]


def _keys_blank(cells: list, indexes: list[int]) -> bool:
    return all(index >= len(cells) or _is_blank(cells[index]) for index in indexes)


def _household_no_or_none(cells: list, header: HeaderMap) -> str | None:
    index = header.fields["household_no"][0]
    if index >= len(cells) or cells[index].__class__ is ExcelError:
        return None
    try:
        return to_code(cells[index], "household_no")
    except CellError:
        return None


def reject_households(parsed: ParsedRegister, reasons: dict[str, str],
                      field_name: str = "household_no") -> None:
    """Reject every remaining row of each household in ``reasons``, naming each row's ``field_name`` cell.

    A household is written whole or not at all, so one rejected row holds back the rest of its household.
    """
    column = parsed.header.headers[parsed.header.fields[field_name][0]]
    for household_no, reason in reasons.items():
        for row in parsed.households.pop(household_no, []):
            parsed.rejections.append(Rejection(row.row, column, row.household[field_name], reason))
            parsed.rejected_cells[row.row] = row.cells
    parsed.rejections.sort(key=lambda rejection: rejection.row)


def _too_many_rows(max_rows: int) -> ImportRejected:
    return ImportRejected(
        _("The file has more than %(max)d member rows; split it by county or township and import the parts.",
          max=max_rows)
    )


def _scope_rejections(row: ParsedRow, header: HeaderMap, prefixes: list[str]) -> list[Rejection]:
    code = row.household["division_code"]
    if any(code.startswith(prefix) for prefix in prefixes):
        return []
    index = header.fields["division_code"][0]
    return [Rejection(row.row, header.headers[index], code,
                      _("This division is outside your divisions; import only households of your own "
                        "divisions, or ask an administrator of that division."))]


def _reject_mixed_divisions(parsed: ParsedRegister) -> None:
    """Reject every row of a household whose rows give different division codes."""
    reasons = {}
    for household_no, rows in parsed.households.items():
        if _share_household(rows):
            continue
        codes = sorted({row.household["division_code"] for row in rows})
        if len(codes) > 1:
            reasons[household_no] = _(
                "The rows of household %(household_no)s disagree on the division code (%(codes)s); give "
                "every row of the household the same code and import again.",
                household_no=household_no, codes=", ".join(codes))
    reject_households(parsed, reasons, "division_code")


def household_values(rows: list[ParsedRow], header: HeaderMap) -> tuple[dict, list[str]]:
    """Return the household's columns from its first row, and the headers on which later rows differ."""
    first = rows[0].household
    if _share_household(rows):
        return first, []
    others = [row.household for row in rows[1:] if row.household != first]
    differing = []
    for field_name, value in first.items():
        if any(other.get(field_name) != value for other in others):
            differing.append(header.headers[header.fields[field_name][0]])
    return first, differing


def _share_household(rows: list[ParsedRow]) -> bool:
    """Return whether every row refers to the same household dict, converted once from equal cells."""
    first = rows[0].household
    return all(row.household is first for row in rows)
