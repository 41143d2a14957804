"""Opening the one sheet of a workbook that an import reads, checked before python-calamine loads it.

Both the register and the registry imports read one sheet per file: the one visible worksheet
that has data. Hidden sheets are skipped, and a workbook with data on two visible sheets is
rejected rather than imported in part. Before calamine reads anything, the file must be the kind
of workbook its ending names (``file_types``), and the sheets calamine is about to load must fit
the size limits (``sheet_size``). An .xls or .ods file is read whole when it is opened, and an
.xlsx sheet when it is loaded.
"""

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from flask_babel import gettext as _
from python_calamine import CalamineError, CalamineSheet, CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

from fieldapp.errors import ImportRejected
from fieldapp.register import excel_errors, file_types, ods_scan, sheet_size, xls_scan
from fieldapp.register.excel_errors import ErrorCells

logger = logging.getLogger(__name__)

# A sheet XML larger than this that declares its range (``<dimension>``) is checked by that range,
# and scanned while calamine loads it instead of before. The scan of the 528 MB sheet of a register
# of 240,000 members took 4 s, a fifth of its import. A sheet of this size is scanned in under 0.1 s.
# NOTE: a file that declares a range its XML could fill but has a cell far beyond it is loaded
# unchecked, and calamine aborts the process when that grid does not fit in memory. Spreadsheet
# programs write the range they use; such a file has to be written by hand.
SCAN_FIRST_BYTES = 8 << 20
# Bytes of sheet XML a cell takes at most, about 30 for a number and a few hundred for a long text
# written in the cell. A sheet with more XML than its declared range could hold declares too little,
# as a writer that always declares "A1" does, and is scanned first.
MAX_XML_BYTES_PER_CELL = 400
# Exceptions calamine raises for a file it cannot read, besides a Rust panic (see ``_is_panic``).
_CALAMINE_ERRORS = (CalamineError, OSError, ValueError, OverflowError)


@dataclass
class ImportSheet:
    """The sheet an import reads, loaded by calamine, with the Excel error cells found in the file."""

    name: str
    sheet: CalamineSheet
    errors: ErrorCells = field(default_factory=dict)
    may_hold_nul: bool = True  # whether a text cell may contain a NUL character, which PostgreSQL rejects


def open_import_sheet(path: str, cell_limit: int) -> ImportSheet | None:
    """Load the one visible worksheet with data of the workbook at ``path``; None when no sheet has data.

    ``cell_limit`` is the most cells a sheet may span (``sheet_size.max_cells``). Raises
    ``ImportRejected`` for a file that is not the workbook its ending names, for a sheet too
    large, for data on more than one visible sheet, for data only on hidden sheets, and for a
    file calamine cannot read.
    """
    file_types.check_workbook(path)
    extension = os.path.splitext(path)[1].lower()
    if extension == ".xls":
        sheet_size.check_workbook(_xls_sizes(path), cell_limit)
    elif extension == ".ods":
        sheet_size.check_workbook(ods_scan.sheet_sizes(path, cell_limit), cell_limit)
    else:
        shared_strings_hold_nul = excel_errors.check_shared_strings(path)
    workbook = _open(path)
    visible, hidden = _worksheets(workbook)
    if extension in excel_errors.XLSX_EXTENSIONS:
        found = _xlsx_sheet_with_data(workbook, path, visible, cell_limit)
        if found is not None:
            found.may_hold_nul = found.may_hold_nul or shared_strings_hold_nul
    else:
        found = _loaded_sheet_with_data(workbook, visible)
    if found is None and hidden:
        raise ImportRejected(
            _("No visible sheet of the workbook has data, and hidden sheets are not imported (%(sheets)s). "
              "Unhide the sheet to import, save the file and import it again.", sheets="、".join(hidden))
        )
    return found


def unreadable_workbook(path: str, error: BaseException) -> ImportRejected:
    """Return the rejection of a workbook calamine cannot open, and log the library's English error."""
    logger.info("%s could not be opened as a workbook: %s", os.path.basename(path), error)
    return file_types.wrong_kind(file_types.OTHER, os.path.splitext(path)[1].lower())


def _xls_sizes(path: str) -> list[sheet_size.SheetSize]:
    try:
        return xls_scan.sheet_sizes(path)
    except (xls_scan.DamagedFile, OSError, ValueError, IndexError) as error:
        raise unreadable_workbook(path, error) from None


def _open(path: str) -> CalamineWorkbook:
    try:
        return CalamineWorkbook.from_path(path)
    except _CALAMINE_ERRORS as error:
        raise unreadable_workbook(path, error) from None
    except BaseException as error:
        if not _is_panic(error):
            raise
        raise unreadable_workbook(path, error) from None


def _worksheets(workbook: CalamineWorkbook) -> tuple[list[str], list[str]]:
    """Return the names of the visible worksheets and of the hidden ones, in workbook order."""
    visible, hidden = [], []
    for sheet in workbook.sheets_metadata:
        if sheet.typ == SheetTypeEnum.WorkSheet:
            (visible if sheet.visible == SheetVisibleEnum.Visible else hidden).append(sheet.name)
    return visible, hidden


def _xlsx_sheet_with_data(workbook: CalamineWorkbook, path: str, names: list[str],
                          cell_limit: int) -> ImportSheet | None:
    """Check the size of every visible sheet, then load the one with data.

    The largest sheet is scanned while calamine loads it when its XML is larger than
    ``SCAN_FIRST_BYTES``, no other sheet has data, and it declares a range within the limits that
    its XML could fill. Every other sheet is scanned first, also one that declares a larger range,
    because Excel counts cells that have only a format in the range.
    """
    sizes = {name: excel_errors.declared_size(path, name) for name in names}
    # Only the largest sheet may skip the scan before loading, and only when it is the one with data.
    largest = max(names, key=lambda name: sizes[name][0]) if names else None
    scans = {name: excel_errors.scan_sheet(path, name) for name in names if name != largest}
    if largest is not None:
        size, dimension = sizes[largest]
        others_hold_data = any(scan.rows for scan in scans.values())
        if (others_hold_data or size <= SCAN_FIRST_BYTES or dimension is None
                or not sheet_size.fits(*dimension, cell_limit)
                or size > dimension[0] * dimension[1] * MAX_XML_BYTES_PER_CELL):
            scans[largest] = excel_errors.scan_sheet(path, largest)
    with_data = [name for name in names if name not in scans or scans[name].rows]
    if not with_data:
        return None
    _check_one_sheet(with_data)
    name = with_data[0]
    if name in scans:
        scan = scans[name]
        sheet_size.check_sheet(sheet_size.SheetSize(name, scan.rows, scan.columns), cell_limit)
        return ImportSheet(name, _load(workbook, name), scan.errors, scan.may_hold_nul)
    # calamine reads most of the sheet without holding the interpreter lock, so the scan for error cells
    # runs on the other core meanwhile.
    with ThreadPoolExecutor(max_workers=1) as pool:
        search = pool.submit(excel_errors.scan_sheet, path, name)
        sheet = _load(workbook, name)
        scan = search.result()
    # The same limits as for a sheet scanned first, for a file whose cells reach beyond its declared range.
    sheet_size.check_sheet(sheet_size.SheetSize(name, scan.rows, scan.columns), cell_limit)
    return ImportSheet(name, sheet, scan.errors, scan.may_hold_nul)


def _loaded_sheet_with_data(workbook: CalamineWorkbook, names: list[str]) -> ImportSheet | None:
    """Return the visible sheet with data of a workbook that calamine read whole when it opened it."""
    with_data = []
    for name in names:
        sheet = _load(workbook, name)
        if sheet.end is not None:
            with_data.append(ImportSheet(name, sheet))
    if not with_data:
        return None
    _check_one_sheet([found.name for found in with_data])
    return with_data[0]


def _check_one_sheet(names: list[str]) -> None:
    if len(names) > 1:
        raise ImportRejected(
            _("The workbook has data on more than one sheet: %(sheets)s. An import reads one sheet, so "
              "keep only the sheet to import (delete the others, move them to another file or hide them), "
              "save the file and import it again.", sheets="、".join(names))
        )


def _load(workbook: CalamineWorkbook, name: str) -> CalamineSheet:
    try:
        return workbook.get_sheet_by_name(name)
    except _CALAMINE_ERRORS as error:
        raise excel_errors.damaged_sheet(name, error) from None
    except BaseException as error:
        if not _is_panic(error):
            raise
        raise excel_errors.damaged_sheet(name, error) from None


def _is_panic(error: BaseException) -> bool:
    """Return whether ``error`` is a Rust panic inside calamine, which pyo3 raises as a BaseException."""
    return type(error).__name__ == "PanicException"
