"""The size of the sheets an import may read, and the rejection of a sheet too large to load.

python-calamine 0.9.1 keeps a loaded sheet as a dense grid of every cell from the first to the
last cell with a value. That takes about 32 bytes an empty cell and 50 to 90 bytes a cell of a
register (measured on a register of 48,000 rows and 49 columns). A single value far away, such as an
empty text left in cell XFD1048576, makes that grid 17 billion cells, and the failed allocation
aborts the whole server process. So the size of a sheet is found from the file first
(``excel_errors``, ``ods_scan``, ``xls_scan``) and checked here before calamine reads it.
"""

from dataclasses import dataclass

from flask_babel import gettext as _

from fieldapp.errors import ImportRejected

# Columns a sheet may span. A register export has about 50 columns and a registry fewer; Excel's
# .xls format stops at 256.
MAX_COLUMNS = 256
# Cells a sheet may span per row of ``REGISTER_MAX_ROWS``: a register of that many rows and
# this many columns still loads. At the default 500,000 rows that is 32,000,000 cells, which
# calamine keeps in about 1 to 3 GB (an estimate from the register measured above).
CELLS_PER_ROW = 64


@dataclass(frozen=True)
class SheetSize:
    """The part of a sheet that calamine would load: from cell A1 to its last row and column with a value."""

    name: str
    rows: int
    columns: int

    @property
    def cells(self) -> int:
        return self.rows * self.columns


def max_cells(max_rows: int) -> int:
    """Return the most cells a loaded sheet may span, for a register of at most ``max_rows`` rows."""
    return max_rows * CELLS_PER_ROW


def fits(rows: int, columns: int, cell_limit: int) -> bool:
    """Return whether a sheet of ``rows`` and ``columns`` is within ``MAX_COLUMNS`` and ``cell_limit``."""
    return columns <= MAX_COLUMNS and rows * columns <= cell_limit


def check_sheet(size: SheetSize, cell_limit: int) -> None:
    """Raise ``ImportRejected`` for a sheet of more than ``MAX_COLUMNS`` columns or ``cell_limit`` cells."""
    if not fits(size.rows, size.columns, cell_limit):
        raise ImportRejected(
            _("The sheet %(sheet)s is too large to import: its cells reach row %(rows)d and column "
              "%(columns)d (cell %(cell)s), %(cells)d cells in all. The import reads at most "
              "%(max_columns)d columns and %(max_cells)d cells. If the data is smaller, the sheet has a "
              "value far below or to the right of it, such as a space or an empty text: in Excel or WPS, "
              "delete the empty rows below the data and the empty columns to its right (Ctrl+End shows the "
              "last cell in use), save the file and import it again. A larger file must be split into "
              "smaller files.",
              sheet=size.name, rows=size.rows, columns=size.columns, cell=cell_name(size),
              cells=size.cells, max_columns=MAX_COLUMNS, max_cells=cell_limit)
        )


def check_workbook(sizes: list[SheetSize], cell_limit: int) -> None:
    """Check every sheet of a workbook that calamine reads whole when it opens it (.xls, .ods).

    Each sheet must pass ``check_sheet``, and all of them together must span at most ``cell_limit`` cells.
    """
    for size in sizes:
        check_sheet(size, cell_limit)
    total = sum(size.cells for size in sizes)
    if total > cell_limit:
        raise ImportRejected(
            _("The sheets of the workbook together have %(cells)d cells (%(sheets)s), and the import reads "
              "at most %(max_cells)d. Delete the sheets that are not needed, or the empty rows and columns "
              "around their data, save the file and import it again.",
              cells=total, max_cells=cell_limit,
              sheets="、".join(f"{size.name}: {size.rows}×{size.columns}" for size in sizes))
        )


def cell_name(size: SheetSize) -> str:
    """Return the reference of the sheet's last cell, such as "XFD1048576" ("R5C20000" beyond ZZZ)."""
    if size.columns > 18_278:  # ZZZ, the last column three letters can name
        return f"R{size.rows}C{size.columns}"
    return f"{column_letters(size.columns)}{size.rows}"


def column_letters(column: int) -> str:
    """Return the letters of a 1-based column number: 1 is A, 27 is AA."""
    letters = ""
    while column:
        column, remainder = divmod(column - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters
