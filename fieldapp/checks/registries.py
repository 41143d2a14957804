"""Importing other departments' registries (房产, 车辆, 低保, ...) as dated batches.

Departments name their columns differently, so the ID number and name columns
are found by the usual synonyms. When no ID column is recognised, the importer
lists the headers and the administrator names the column. Every other column
is kept as the record's details. ID numbers are normalised like the register's
(full-width digits, lower-case x, spaces), and a 15-digit first-generation
number is widened to 18 characters, so that a cross-check is plain equality.
"""

import csv
import hashlib
import io
import itertools
import logging
import operator
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import delete, select

from fieldapp import idnumbers, scope
from fieldapp.audit import services as audit
from fieldapp.checks.models import STANDARD_KINDS, RegistryBatch, RegistryRecord
from fieldapp.checks.registry_rows import ID_LIKE, encode_rows
from fieldapp.checks.settings import today
from fieldapp.db_types import utcnow
from fieldapp.errors import FieldError, ImportRejected, RowsRejected, shown_value
from fieldapp.extensions import db
from fieldapp.gc_pause import paused_collector
from fieldapp.register import file_types, sheet_size, workbook
from fieldapp.register.bulk_insert import insert_columns
from fieldapp.register.columns import normalize_header
from fieldapp.register.parsing import (
    EARLIEST_DATA_DATE,
    CellError,
    cell_text,
    excel_error_message,
    export_date,
    to_id_number,
)
from fieldapp.register.reader import (
    EXCEL_EXTENSIONS,
    ExcelError,
    RemovedCharacters,
    csv_rows,
    decode_csv,
    error_row_numbers,
    read_sheet_start,
    removed_nul_message,
    without_nul_characters,
)
from fieldapp.stored_files import remove_stored_file

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]

# The formats the README lists for registries. A .txt file is rejected with the advice to save it as .csv.
CSV_EXTENSIONS = (".csv",)
EXTENSIONS = EXCEL_EXTENSIONS + CSV_EXTENSIONS

# Header names of the ID number and name columns, normalised (no spaces, ASCII brackets).
ID_HEADERS = (
    "证件号码", "身份证明号码", "身份证号码", "身份证号", "公民身份号码", "公民身份证号码", "居民身份证号码",
    "身份证件号码", "证件号", "身份证", "所有人身份证号码", "所有人证件号码", "所有人身份证明号码",
    "权利人证件号码", "权利人身份证号码", "产权人证件号码", "产权人身份证号码", "法定代表人证件号码",
    "法定代表人身份证号码", "投资人证件号码", "保障对象身份证号码", "死者身份证号码", "身份证号码(证件号码)",
)
NAME_HEADERS = (
    "姓名", "所有人姓名", "所有人", "机动车所有人", "权利人", "权利人姓名", "产权人", "产权人姓名",
    "法定代表人", "法定代表人姓名", "投资人姓名", "人员姓名", "保障对象姓名", "死者姓名", "户主姓名",
    "申请人姓名", "成员姓名",
)
# English names accepted for the standard kinds on the command line.
KIND_ALIASES = {
    "housing": "房产", "real-estate": "房产", "vehicle": "车辆", "vehicles": "车辆", "dibao": "低保",
    "business": "工商登记", "payroll": "财政供养", "deceased": "死亡人员", "deaths": "死亡人员",
}
HEADER_SEARCH_ROWS = 30
MAX_KIND_LENGTH = 40
# Characters kept of a header, the length of RegistryBatch.id_column and name_column.
MAX_HEADER_LENGTH = RegistryBatch.id_column.type.length
# Rejections kept on the batch and listed in a message; the count covers them all.
STORED_REJECTIONS = 1000
MESSAGE_REJECTIONS = 20
INSERT_CHUNK = 10_000
# Rows read at a time, between two "reading" progress calls.
READ_BLOCK = 5000

# An ID number as registries mostly write it, which normalize_id returns unchanged.
_PLAIN_ID_NUMBER = re.compile(r"[0-9]{17}[0-9X]")
# A CSV file with no value: only separators, line breaks and spaces. The match stops at the first value.
_BLANK_CSV = re.compile(r"[\s,;\ufeff]*")
# A mobile phone number, as a cell of a column that was taken for the ID numbers may hold one.
_MOBILE = re.compile(r"^\s*(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}\s*$")
# The label ``_header_labels`` gives a repeated header: "身份证号码 (2)".
_REPEATED_LABEL = re.compile(r"^(.*) \([0-9]+\)$")


class WrongIdColumn(ImportRejected):
    """The import was rejected because most values of the ID number column are not ID numbers."""


@dataclass
class Sheet:
    """One sheet of a registry file, positioned after its header row."""

    headers: list[str]
    header_row: int  # 1-based row number of the header
    title_rows: list[list]
    rows: Iterator[tuple[int, list]]  # (1-based row number, cells) after the header
    total_rows: int
    error_rows: frozenset[int] = frozenset()  # 1-based numbers of the rows with an ExcelError cell
    removed_nul: RemovedCharacters = field(default_factory=RemovedCharacters)


# -- kinds and columns -------------------------------------------------------


def standard_kind(kind: str) -> str | None:
    """Return the stored name of a standard kind given by its name or an alias, or None for another kind."""
    text = (kind or "").strip()
    text = KIND_ALIASES.get(text.lower(), text)
    return text if text in STANDARD_KINDS else None


def check_kind(kind: str, *, custom: bool = False) -> str:
    """Return the stored name of a kind; raise FieldError for an unknown kind not marked custom."""
    standard = standard_kind(kind)
    if standard is not None:
        return standard
    text = (kind or "").strip()
    if not text and custom:
        raise FieldError("kind", _("Enter the name of the other kind of registry, for example 残疾人."))
    if not text:
        raise FieldError("kind", _("Choose the kind of registry."))
    if not custom:
        raise FieldError("kind", _("Unknown registry kind %(kind)s; use one of %(kinds)s, or import it as a "
                                   "custom kind.", kind=text, kinds="、".join(STANDARD_KINDS)))
    if len(text) > MAX_KIND_LENGTH:
        raise FieldError("kind", _("The kind name has %(length)d characters; use at most %(max)d.",
                                   length=len(text), max=MAX_KIND_LENGTH))
    return text


def guess_column(headers: list[str], synonyms: tuple[str, ...]) -> str | None:
    """Return the first header that is one of ``synonyms``, compared after normalising."""
    wanted = set(synonyms)
    for header in headers:
        if normalize_header(header) in wanted:
            return header
    return None


def id_column_candidates(headers: list[str]) -> list[str]:
    """Return every header that names an ID number column, a repeated one ("身份证号码 (2)") included."""
    id_headers = set(ID_HEADERS)
    found = []
    for header in headers:
        repeated = _REPEATED_LABEL.match(header)
        original = repeated[1] if repeated else header
        if normalize_header(header) in id_headers or normalize_header(original) in id_headers:
            found.append(header)
    return found


def check_data_date(data_date: date) -> date:
    """Return a data date typed by the administrator; raise FieldError when it is after today or before 2000.

    The batch with the latest data date is the one in use, so a date in the future would keep
    every later import of the kind out of the cross-checks.
    """
    if data_date > today():
        raise FieldError("data_date", _("The data date %(date)s is after today (%(today)s). Enter the date "
                                        "the registry's data is as of.", date=data_date.isoformat(),
                                        today=today().isoformat()))
    if data_date < EARLIEST_DATA_DATE:
        raise FieldError("data_date", _("The data date %(date)s is before %(earliest)s. Enter the date the "
                                        "registry's data is as of.", date=data_date.isoformat(),
                                        earliest=EARLIEST_DATA_DATE.isoformat()))
    return data_date


def _title_date(title_rows: list[list]) -> date | None:
    """Return the date in the title rows when it is a possible data date, else None (today is used)."""
    found = export_date(title_rows)
    if found is None or not EARLIEST_DATA_DATE <= found <= today():
        return None
    return found


# -- reading -----------------------------------------------------------------


def open_sheet(path: str) -> Sheet:
    """Open a registry file and find its header row; raise ImportRejected when it cannot be read."""
    extension = os.path.splitext(path)[1].lower()
    if extension in EXCEL_EXTENSIONS:
        return _open_workbook(path)
    if extension in CSV_EXTENSIONS:
        return _open_csv(path)
    raise ImportRejected(_("The file type %(extension)s is not supported; save the registry as .xlsx, "
                           ".xlsm, .xls, .ods or .csv.", extension=extension or "(none)"))


def _open_workbook(path: str) -> Sheet:
    # The cell limit follows the register's row limit: a registry has fewer columns than a register.
    cell_limit = sheet_size.max_cells(current_app.config["REGISTER_MAX_ROWS"])
    found = workbook.open_import_sheet(path, cell_limit)
    if found is None:
        raise _no_header()
    start = read_sheet_start(found)
    sheet = _sheet_from(start.top, start.rest, total_rows=start.total_rows)
    if sheet is None:
        raise _no_header()
    sheet.error_rows = error_row_numbers(found.errors)
    sheet.removed_nul = start.removed_nul
    return sheet


def _open_csv(path: str) -> Sheet:
    file_types.check_csv(path)
    with open(path, "rb") as handle:
        text, removed = without_nul_characters(decode_csv(handle.read()))
    if _BLANK_CSV.fullmatch(text):
        raise ImportRejected(_("The file is empty. Check that you chose the right file; if the registry is "
                               "in Excel, export it again and import the new file."))
    head = "\n".join(text[:20_000].splitlines()[:HEADER_SEARCH_ROWS])
    reader = csv_rows(csv.reader(io.StringIO(text), delimiter=max((",", "\t", ";"), key=head.count)))
    top = list(itertools.islice(reader, HEADER_SEARCH_ROWS))
    found = _sheet_from(top, reader, total_rows=text.count("\n") + 1)
    if found is None:
        raise _no_header()
    found.removed_nul.count = removed
    return found


def _sheet_from(top: list[list], rest, *, total_rows: int) -> Sheet | None:
    """Take the first row naming an ID column as the header, else the first row of two or more texts."""
    index = _header_index(top)
    if index is None:
        return None
    headers = _header_labels(top[index])
    numbered = zip(itertools.count(index + 2), itertools.chain(top[index + 1:], rest), strict=False)
    return Sheet(headers=headers, header_row=index + 1, title_rows=top[:index], rows=numbered,
                 total_rows=total_rows)


def _header_index(top: list[list]) -> int | None:
    for index, cells in enumerate(top):
        if guess_column(_header_labels(cells), ID_HEADERS) is not None:
            return index
    for index, cells in enumerate(top):
        texts = [cell for cell in cells if isinstance(cell, str) and cell.strip()]
        if len(texts) >= 2 and len(texts) == len([cell for cell in cells if not _is_blank(cell)]):
            return index
    return None


def _header_labels(cells: list) -> list[str]:
    """Header cells as text; a blank header becomes "列N" and a repeated one gets " (2)", " (3)", ...

    Labels are unique even when the file itself has a header such as "A (2)", because each label
    is a key of the details. A label is cut to ``MAX_HEADER_LENGTH`` characters, the length of the
    batch's ID and name column fields, so that any column can be chosen as one of them.
    """
    labels, used, repeats = [], set(), {}
    for position, cell in enumerate(cells, start=1):
        label = text = (cell_text(cell) or f"列{position}")[:MAX_HEADER_LENGTH]
        while label in used:
            repeats[text] = repeats.get(text, 1) + 1
            suffix = f" ({repeats[text]})"
            label = text[:MAX_HEADER_LENGTH - len(suffix)] + suffix
        used.add(label)
        labels.append(label)
    return labels


def _no_header() -> ImportRejected:
    return ImportRejected(_("No header row found in the first %(rows)d rows; the registry needs a row of "
                            "column names above its data.", rows=HEADER_SEARCH_ROWS))


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# -- batches -----------------------------------------------------------------


def prepare_batch(path: str, *, kind: str, filename: str, data_date: date | None = None,
                  is_demo: bool = False, user=None, id_column: str | None = None,
                  name_column: str | None = None, skip_rejected: bool = False,
                  stored_name: str | None = None, locale: str = "",
                  sheet: Sheet | None = None) -> RegistryBatch:
    """Add the batch record of a registry file with its headers and columns; flushes.

    The status is "queued" when the ID column is known (given or recognised), else "needs_column".
    The batch covers the user's divisions, or every division without a user (the command line).
    ``sheet`` is the file already opened, when the caller has it.
    """
    sheet = sheet or open_sheet(path)
    batch = RegistryBatch(
        kind=kind, is_demo=is_demo, filename=filename[:255], sha256=file_sha256(path),
        stored_name=stored_name, imported_by_id=getattr(user, "id", None), locale=locale,
        division_prefixes=scope.division_prefixes(user) if user is not None else None,
        is_skip_rejected=skip_rejected,
        headers=sheet.headers, header_row=sheet.header_row,
        data_date=check_data_date(data_date) if data_date else _title_date(sheet.title_rows) or today(),
    )
    # Of two or more ID number columns the administrator chooses one: the first is not always the holder's.
    candidates = [] if id_column else id_column_candidates(sheet.headers)
    set_columns(batch, id_column or (candidates[0] if len(candidates) == 1 else None),
                name_column or guess_column(sheet.headers, NAME_HEADERS), required=id_column is not None)
    db.session.add(batch)
    db.session.flush()
    audit.record("registry.upload", batch, user=user, kind=kind, status=batch.status)
    return batch


def set_columns(batch: RegistryBatch, id_column: str | None, name_column: str | None, *,
                required: bool = True) -> None:
    """Set the ID and name columns, which must be headers of the file; queue the batch when the ID is set."""
    for field_name, header in (("id_column", id_column), ("name_column", name_column)):
        if header is not None and header not in batch.headers:
            raise FieldError(field_name, _("The file has no column %(column)s; its columns are: %(headers)s.",
                                           column=header, headers="、".join(batch.headers)))
    if id_column is None and required:
        raise FieldError("id_column", _("Choose the column that contains the ID numbers."))
    if id_column is not None and id_column == name_column:
        raise FieldError("name_column", _("The name column must differ from the ID number column."))
    batch.id_column = id_column
    batch.name_column = name_column
    batch.status = "queued" if id_column is not None else "needs_column"
    if id_column is not None:
        # Clear the result of an earlier import whose ID column was wrong.
        batch.message, batch.rejections, batch.rows_rejected = "", [], 0


def missing_id_column_message(batch: RegistryBatch) -> str:
    """Say why the batch needs its ID number column named: several columns may hold one, or none does."""
    candidates = id_column_candidates(batch.headers)
    if len(candidates) > 1:
        return _("%(file)s has more than one column that may hold the ID numbers: %(columns)s. Name the "
                 "column to cross-check; the others are kept as details of each record.", file=batch.filename,
                 columns="、".join(candidates))
    return _("No ID number column was recognised in %(file)s. Its columns are: %(headers)s. Name the column "
             "that holds the ID numbers.", file=batch.filename, headers="、".join(batch.headers))


def import_batch(batch: RegistryBatch, path: str, *, progress: Progress | None = None,
                 user=None, sheet: Sheet | None = None) -> RegistryBatch:
    """Read every row of a queued batch and store its records; flushes, does not commit.

    A rejected row raises ImportRejected listing the rejections, and nothing is stored, unless
    the batch skips rejected rows: then the other rows are stored and the rejections kept on it.
    ``sheet`` is the file opened by ``prepare_batch`` and not read any further, when the caller has it.
    When the import raises, an uploaded file (the batch's stored file) is deleted, because nothing can
    import it again and it contains personal data. ``WrongIdColumn`` keeps the file, so that the
    administrator can choose another ID number column and import it.
    """
    try:
        return _import_batch(batch, path, progress=progress, user=user, sheet=sheet)
    except WrongIdColumn:
        raise
    except BaseException:
        if batch.stored_name and os.path.basename(path) == batch.stored_name:
            remove_stored_file(path, "registry file")
        raise


@paused_collector()
def _import_batch(batch: RegistryBatch, path: str, *, progress: Progress | None, user,
                  sheet: Sheet | None) -> RegistryBatch:
    sheet = sheet or open_sheet(path)
    if sheet.headers != batch.headers:
        raise ImportRejected(_("The file's columns changed since it was uploaded; upload it again."))
    records, rejections, read = _read_records(batch, sheet, progress)
    rows_read = read.count
    if rows_read == 0:
        raise ImportRejected(_("The file has a header row but no rows below it; check that this is the right "
                               "file."))
    # Most ID cells contain no ID number at all (names, blanks), so the column itself is probably wrong.
    wrong_column = batch.id_column if read.non_id_values * 2 > rows_read else None
    # Also when rejected rows are skipped: the few rows with an ID number would replace a whole registry.
    if wrong_column:
        raise WrongIdColumn(rejection_message(rejections, wrong_column=wrong_column), rejections)
    if rejections and not batch.is_skip_rejected:
        raise RowsRejected(rejection_message(rejections), rejections)
    if not records["id_number"]:
        message = _("No row of the file has a usable ID number, so nothing was imported.")
        raise ImportRejected(message, rejections)

    batch.status = "writing"
    record_count = len(records["id_number"])
    for start in range(0, record_count, INSERT_CHUNK):
        chunk = {name: values[start:start + INSERT_CHUNK] for name, values in records.items()}
        insert_columns(RegistryRecord.__table__, chunk, {"batch_id": batch.id}, json_text={"details"})
        if progress is not None:
            progress("writing", min(start + INSERT_CHUNK, record_count), record_count)
    batch.status = "done"
    batch.rows_total = rows_read
    batch.rows_read = rows_read
    batch.records_count = record_count
    batch.rows_rejected = len({rejection["row"] for rejection in rejections})
    batch.rejections = rejections[:STORED_REJECTIONS]
    batch.message = removed_nul_message(sheet.removed_nul.count) if sheet.removed_nul.count else ""
    batch.finished_at = utcnow()
    db.session.flush()
    audit.record("registry.import", batch, user=user, kind=batch.kind, records=batch.records_count,
                 rows_rejected=batch.rows_rejected, is_demo=batch.is_demo)
    return batch


def import_registry(path: str, kind: str, *, data_date: date | None = None, is_demo: bool = False,
                    id_column: str | None = None, name_column: str | None = None, skip_rejected: bool = False,
                    user=None, progress: Progress | None = None) -> RegistryBatch:
    """Import a registry file in one go, as the command line does; flushes, does not commit.

    Raises FieldError naming the headers when no ID column is given or recognised.
    """
    sheet = open_sheet(path)
    batch = prepare_batch(path, kind=kind, filename=os.path.basename(path), data_date=data_date,
                          is_demo=is_demo, user=user, id_column=id_column, name_column=name_column,
                          skip_rejected=skip_rejected, sheet=sheet)
    if batch.status == "needs_column":
        raise FieldError("id_column", missing_id_column_message(batch))
    return import_batch(batch, path, progress=progress, user=user, sheet=sheet)


def _read_records(batch: RegistryBatch, sheet: Sheet, progress: Progress | None):
    """Read the rows of a registry; return the records column by column, the rejections and the rows read.

    The rows read are returned as the ``_ReadRows``, with the counts that show a wrong ID column.
    The rows are read in blocks. Rows whose ID cell is a plain ID number, as most registries
    write them, are taken column by column, and the others row by row.
    """
    id_index = batch.headers.index(batch.id_column)
    name_index = batch.headers.index(batch.name_column) if batch.name_column else None
    max_rows = current_app.config.get("REGISTRY_MAX_ROWS", 1_000_000)
    read = _ReadRows(batch.headers, batch.id_column, id_index, name_index, sheet.error_rows)
    while block := list(itertools.islice(sheet.rows, READ_BLOCK)):
        numbers, cells = zip(*block, strict=True)
        # A block with an error cell is read row by row: add_block keeps the cells of plain rows unchecked.
        if sheet.error_rows.isdisjoint(numbers):
            read.add_block(numbers, cells)
        else:
            read.add_rows(block)
        if read.count > max_rows:
            raise ImportRejected(_("The file has more than %(max)d rows; split it and import the parts.",
                                   max=max_rows))
        if progress is not None:
            progress("reading", numbers[-1], sheet.total_rows)
    records = {"id_number": read.id_numbers, "name": read.names, "row_no": read.row_numbers}
    records["details"], records["summary"], records["fingerprint"] = encode_rows(
        batch.kind, batch.headers, {id_index, name_index}, read.cells, read.id_numbers)
    return records, read.rejections, read


def _all_plain(values: list) -> bool:
    """Return whether every value is an ID number written as normalize_id returns it.

    The values are tested together, by built-in functions over all of them: texts of 18
    characters, ASCII, digits once the X are dropped, and every X the last character.
    """
    if set(map(type, values)) != {str} or set(map(len, values)) != {18}:
        return False
    joined = "".join(values)
    finals = list(map(operator.itemgetter(17), values))
    return joined.isascii() and joined.replace("X", "").isdigit() and joined.count("X") == finals.count("X")


class _ReadRows:
    """The rows of a registry read so far that have a usable ID number, and the rejected ones."""

    def __init__(self, headers: list[str], id_column: str, id_index: int, name_index: int | None,
                 error_rows: frozenset[int] = frozenset()):
        self.headers = headers
        self.id_column, self.id_index, self.name_index = id_column, id_index, name_index
        self.error_rows = error_rows
        self.id_numbers, self.names, self.row_numbers, self.cells = [], [], [], []
        self.rejections = []
        self.count = 0  # rows that are not blank, rejected ones included
        self.non_id_values = 0  # rejected rows whose ID cell is blank or has too few digits to be an ID

    def add_block(self, numbers: tuple[int, ...], cells: tuple[list, ...]) -> None:
        """Add a block of rows: each run of rows with a plain ID number at once, every other row alone.

        A registry with a few full-width or lower-case ID numbers in each block had every block
        read row by row, which took a fifth of the import of 50,000 rows.
        """
        if min(map(len, cells)) <= self.id_index:
            self.add_rows(list(zip(numbers, cells, strict=True)))
            return
        id_numbers = list(map(operator.itemgetter(self.id_index), cells))
        if _all_plain(id_numbers):
            self._add_plain(numbers, cells, id_numbers)
            return
        fullmatch = _PLAIN_ID_NUMBER.fullmatch
        others = [index for index, value in enumerate(id_numbers)
                  if value.__class__ is not str or fullmatch(value) is None]
        start = 0
        for index in [*others, len(cells)]:
            if index > start:
                self._add_plain(numbers[start:index], cells[start:index], id_numbers[start:index])
            if index < len(cells):
                self.add_rows([(numbers[index], cells[index])])
            start = index + 1

    def _add_plain(self, numbers: tuple[int, ...], cells: tuple[list, ...], id_numbers: list[str]) -> None:
        """Add rows whose ID cells are plain ID numbers, which ``normalize_id`` returns unchanged."""
        self.id_numbers += id_numbers
        self.names += self._names(cells)
        self.row_numbers += numbers
        self.cells += cells
        self.count += len(cells)

    def add_rows(self, block: list[tuple[int, list]]) -> None:
        id_index = self.id_index
        for row_no, cells in block:
            if row_no in self.error_rows and self._reject_errors(row_no, cells):
                continue
            raw = cells[id_index] if id_index < len(cells) else None
            is_plain_id = raw.__class__ is str and _PLAIN_ID_NUMBER.fullmatch(raw) is not None
            # A row with an ID number is not blank, so the whole row is tested only when the ID is missing.
            if not is_plain_id and _is_blank(raw) and all(_is_blank(value) for value in cells):
                continue
            self.count += 1
            try:
                id_number = raw if is_plain_id else normalize_id(raw)
            except CellError as error:
                text = cell_text(raw)
                # A mobile number has enough digits to identify someone, but it is no ID number.
                self.non_id_values += not idnumbers.has_identifying_digits(text) or bool(_MOBILE.match(text))
                self.rejections.append({"row": row_no, "column": self.id_column,
                                        "value": shown_id_value(text), "reason": str(error)})
                continue
            self.id_numbers.append(id_number)
            self.names.append(self._name(cells))
            self.row_numbers.append(row_no)
            self.cells.append(cells)

    def _reject_errors(self, row_no: int, cells: list) -> bool:
        """Reject a row with an Excel error cell; return whether it did.

        Every column of the header is kept, a blank header as "列N", so an error in any of them rejects
        the row. calamine gives every row the width of the sheet's used range, so a row has a cell for every
        header.
        """
        errors = [(index, value) for index, value in enumerate(cells[:len(self.headers)])
                  if value.__class__ is ExcelError]
        if not errors:
            return False
        self.count += 1
        for index, value in errors:
            self.rejections.append({"row": row_no, "column": self.headers[index], "value": value.value,
                                    "reason": excel_error_message(value)})
        return True

    def _names(self, block: tuple[list, ...]) -> list[str]:
        """Return the names of a block of rows, as ``_name`` would."""
        if self.name_index is None or min(map(len, block)) <= self.name_index:
            return [self._name(cells) for cells in block]
        names = list(map(operator.itemgetter(self.name_index), block))
        if set(map(type, names)) != {str}:
            return [self._name(cells) for cells in block]
        names = list(map(str.strip, names))
        return names if max(map(len, names)) <= 100 else [name[:100] for name in names]

    def _name(self, cells: list) -> str:
        if self.name_index is None or self.name_index >= len(cells):
            return ""
        name = cells[self.name_index]
        return (name.strip() if name.__class__ is str else cell_text(name))[:100]


def normalize_id(value) -> str:
    """Return a registry cell as an 18-character ID number; raise CellError with the reason and the fix.

    A 20-character disability certificate number keeps its first 18 characters, the holder's ID.
    """
    if _is_blank(value):
        raise CellError(_("The ID number is missing; fill it in or delete the row, and import again."))
    text = to_id_number(value)
    if len(text) == 15 and text.isdigit():
        return widen_id(text)
    if not ID_LIKE.match(text):
        raise CellError(_("Not an ID number: it needs 18 characters (17 digits, then a digit or X) or 15 "
                          "digits; correct it and import again."))
    return text[:18]


def shown_id_value(text: str) -> str:
    """Return a rejected ID cell for a message, masked as the register import's page masks one, and cut.

    A value with fewer than 8 digits cannot identify anyone. Shown unmasked, it lets the administrator
    see that the column contains names or remarks rather than ID numbers.
    """
    return shown_value(idnumbers.mask_rejected_value(text))


def widen_id(first_generation: str) -> str:
    """Widen a 15-digit ID number (born 1900-1999) to 18 characters: insert "19", add the check character."""
    first17 = first_generation[:6] + "19" + first_generation[6:]
    return first17 + idnumbers.check_character(first17)


def rejection_message(rejections: list[dict], *, wrong_column: str | None = None) -> str:
    """Return the message of a rejected import: what happened and what to do, then one line per rejection.

    The first line is worded for the upload page, and the batch page keeps only that line.
    ``wrong_column`` is the ID number column when most of its values are not ID numbers.
    """
    rows = rejected_rows(rejections)
    if wrong_column:
        first = wrong_column_message(wrong_column, rows)
    else:
        first = ngettext("%(num)d row of the registry file cannot be imported; nothing was imported. Fix "
                         "the rows below and import again, or import with the rejected rows skipped.",
                         "%(num)d rows of the registry file cannot be imported; nothing was imported. Fix "
                         "the rows below and import again, or import with the rejected rows skipped.", rows)
    return "\n".join([first, *rejection_lines(rejections)])


def rejected_rows(rejections: list[dict]) -> int:
    return len({rejection["row"] for rejection in rejections})


def rejection_lines(rejections: list[dict]) -> list[str]:
    """Return one line per rejection, for the first ``MESSAGE_REJECTIONS``, then how many more there are."""
    lines = [_("Row %(row)d, column %(column)s, value \"%(value)s\": %(reason)s", **rejection)
             for rejection in rejections[:MESSAGE_REJECTIONS]]
    if len(rejections) > MESSAGE_REJECTIONS:
        lines.append(_("… and %(count)d more.", count=len(rejections) - MESSAGE_REJECTIONS))
    return lines


def wrong_column_message(column: str, rows: int) -> str:
    """Return the message of an import whose ID number column is probably wrong, worded for the web page.

    The command line adds how to give the column (``--id-column``).
    """
    return ngettext("%(num)d row cannot be imported, and nothing was imported: most values in the column "
                    "%(column)s are not ID numbers, so it is probably not the ID number column. Choose the "
                    "column that holds the ID numbers.",
                    "%(num)d rows cannot be imported, and nothing was imported: most values in the column "
                    "%(column)s are not ID numbers, so it is probably not the ID number column. Choose the "
                    "column that holds the ID numbers.",
                    rows, column=column)


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- batches in use ----------------------------------------------------------


def batches(is_demo: bool, limit: int = 200) -> list[RegistryBatch]:
    """Return the batches of a world, newest first."""
    return list(db.session.execute(
        select(RegistryBatch).where(RegistryBatch.is_demo == is_demo)
        .order_by(RegistryBatch.data_date.desc(), RegistryBatch.id.desc()).limit(limit)
    ).scalars())


def record_sample(batch: RegistryBatch, limit: int = 20) -> list[RegistryRecord]:
    return list(db.session.execute(
        select(RegistryRecord).where(RegistryRecord.batch_id == batch.id).order_by(RegistryRecord.row_no)
        .limit(limit)
    ).scalars())


def delete_batch(batch: RegistryBatch, *, user) -> None:
    """Delete a batch, its records and its uploaded file; the next run resolves their problems. Flushes."""
    batch_id, kind, stored_name = batch.id, batch.kind, batch.stored_name
    db.session.execute(delete(RegistryRecord).where(RegistryRecord.batch_id == batch_id))
    db.session.delete(batch)
    db.session.flush()
    if stored_name:
        remove_stored_file(os.path.join(registry_folder(), stored_name), "registry file")
    audit.record("registry.delete", object_type="RegistryBatch", object_id=batch_id, user=user, kind=kind)
    logger.info("registry batch %s (%s) deleted by user %s", batch_id, kind, getattr(user, "id", None))


def registry_folder() -> str:
    """Return the folder of uploaded registry files, made when missing."""
    folder = current_app.config.get("REGISTRY_IMPORT_FOLDER")
    folder = folder or os.path.join(current_app.instance_path, "registries")
    os.makedirs(folder, exist_ok=True)
    return folder


def stored_path(batch: RegistryBatch) -> str:
    return os.path.join(registry_folder(), batch.stored_name)
