"""Sheets too large to load: found from the file and rejected before python-calamine reads them.

python-calamine builds a dense grid of every sheet it loads, so a file of a few kilobytes can
request gigabytes and abort the process. No test here hands such a file to calamine. The
real-size files go through the import in a child process with a memory limit, and the in-process
tests use a small ``REGISTER_MAX_ROWS``, so that a missing check fails an assertion, not the run.
"""

import io
import re
import resource
import struct
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zipfile

import pytest
import xlsxwriter
from sqlalchemy import func, select

from fieldapp.errors import ImportRejected
from fieldapp.extensions import db
from fieldapp.register import excel_errors, ods_scan, services, sheet_size, xls_scan, xml_blocks
from fieldapp.register.models import Household
from tests.register import builders, xls_files
from tests.register.test_rejections import rejected


@pytest.fixture
def small_limit(app, monkeypatch):
    """Allow 20 rows, so that a sheet of 20 × 64 = 1,280 cells is the most the import loads."""
    monkeypatch.setitem(app.config, "REGISTER_MAX_ROWS", 20)
    return sheet_size.max_cells(20)


def register_xlsx(path, rows: list[dict], extra_cells: str = "") -> str:
    """Write a register of ``rows`` from its XML, with ``extra_cells`` (raw rows) after them."""
    xml = builders.sheet_xml(builders.register_rows_xml(rows) + extra_cells)
    return builders.write_parts_xlsx(path, [("成员", xml)])


def household_count() -> int:
    return db.session.scalar(select(func.count(Household.id)))


# -- xlsx ------------------------------------------------------------------------


@pytest.mark.parametrize(("cell", "message"), [
    (builders.text_cell("AW100", ""), "cell AW100"),
    (builders.text_cell("A2000", "x"), "cell AW2000"),
    (builders.text_cell("IW3", "x"), "column 257"),
])
def test_far_cell_rejected(tmp_path, english, small_limit, cell, message):
    rows = builders.household_rows(1, members=2)
    row = re.search(r"[0-9]+$", re.search(r'r="([A-Z]+[0-9]+)"', cell)[1])[0]
    path = register_xlsx(tmp_path / "far.xlsx", rows, f'<row r="{row}">{cell}</row>')

    error = rejected(path)

    assert error.message.startswith("The sheet 成员 is too large to import")
    assert message in error.message
    assert f"at most 256 columns and {small_limit} cells" in error.message
    assert "delete the empty rows below the data" in error.message


def test_cell_with_format_only_ignored(tmp_path, english, small_limit):
    # calamine keeps no cell without a value, so a formatted empty cell far away does not count.
    rows = builders.household_rows(1, members=2)
    far = '<row r="1048576"><c r="XFD1048576" s="1"/><c r="XFD1048575" s="1"></c></row>'
    path = register_xlsx(tmp_path / "formatted.xlsx", rows, far)

    services.import_register(path)

    assert household_count() == 1


@pytest.mark.parametrize("tag", [
    '<c s="1" r="IZ9"><v>1</v></c>',  # the reference is not the first attribute
    '<c r="IZ9" x="/>" t="n"><v>1</v></c>',  # a ">" inside an attribute value
    '<x:c xmlns:x="urn:x" r="IZ9"><x:v>1</x:v></x:c>',  # a namespace prefix
    '<c r="iz9"><v>1</v></c>',  # a reference in small letters
])
def test_irregular_cell_tags_counted(tmp_path, english, small_limit, tag):
    rows = builders.household_rows(1, members=1)
    path = register_xlsx(tmp_path / "irregular.xlsx", rows, f'<row r="9">{tag}</row>')

    error = rejected(path)

    assert "cell IZ9" in error.message


def test_scan_places_cells_as_calamine(tmp_path):
    cells = {(row, column): f"v{row}-{column}" for row in range(30) for column in range(7)}
    workbook = tmp_path / "plain.xlsx"
    book = xlsxwriter.Workbook(str(workbook))
    sheet = book.add_worksheet("S")
    for (row, column), value in cells.items():
        sheet.write(row, column, value)
    sheet.write(44, 2, 7)
    book.close()

    scan = excel_errors.scan_sheet(str(workbook), "S")

    assert (scan.rows, scan.columns) == (45, 7)


@pytest.mark.parametrize("number", [0, 1, 9, 10, 99, 100, 48002, 1048576])
def test_digits_above_pattern(number):
    pattern = re.compile(excel_errors._digits_above(number) + rb"$")
    for candidate in range(max(0, number - 120), number + 120):
        assert bool(pattern.match(str(candidate).encode())) == (candidate > number), candidate


@pytest.mark.parametrize("column", [1, 25, 26, 27, 49, 52, 256, 702, 703, 16384])
def test_letters_above_pattern(column):
    pattern = re.compile(excel_errors._letters_above(column) + rb"$")
    for candidate in range(max(1, column - 60), column + 60):
        letters = sheet_size.column_letters(candidate)
        assert bool(pattern.match(letters.encode())) == (candidate > column), letters


# -- the zip bomb in the sheet XML ----------------------------------------------------


def test_long_gap_rejected_in_bounded_memory(tmp_path, english):
    # 48 MB of spaces in a sheet XML compress to 47 KB; the scan kept them all and searched them again.
    xml = builders.sheet_xml(" " * (48 << 20) + builders.register_rows_xml(builders.household_rows(1)))
    path = builders.write_parts_xlsx(tmp_path / "bomb.xlsx", [("成员", xml)])

    tracemalloc.start()
    started = time.monotonic()
    with pytest.raises(ImportRejected) as raised:
        excel_errors.scan_sheet(path, "成员")
    elapsed = time.monotonic() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert "more than 16 MB without a tag" in raised.value.message
    # Two copies of the longest stretch kept (16 MB) while a block is built, and a few chunks of 4 MB.
    assert peak < 64 << 20
    assert elapsed < 5


def test_spaces_between_rows_scanned_in_linear_time(tmp_path):
    # No "row>" in 12 MB: blocks end after any ">", and each byte is searched once.
    rows = "".join(f'<row r="{row}">{builders.text_cell(f"A{row}", "x")}</row>' + " " * 3_000_000
                   for row in range(1, 5))
    path = builders.write_parts_xlsx(tmp_path / "spaced.xlsx", [("S", builders.sheet_xml(rows))])

    scan = excel_errors.scan_sheet(path, "S")

    assert (scan.rows, scan.columns) == (4, 1)


def test_blocks_end_after_a_tag():
    data = b"<a>" + b"x" * 50 + b"<b/>" + b"y" * 50 + b"<c>"

    blocks = list(xml_blocks.tag_blocks(io.BytesIO(data), prefer=b"row>", chunk_bytes=16))

    assert b"".join(blocks) == data
    assert all(block.endswith(b">") for block in blocks)


def test_shared_string_count_checked(tmp_path, english):
    # calamine reserves room for uniqueCount strings when it opens the file: 4e9 requested 96 GB.
    strings = ('<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml'
               '/2006/main" count="1" uniqueCount="4000000000"><si><t>a</t></si></sst>')
    xml = builders.sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c></row>')
    path = builders.write_parts_xlsx(tmp_path / "strings.xlsx", [("S", xml)], shared_strings=strings)

    with pytest.raises(ImportRejected) as raised:
        excel_errors.check_shared_strings(path)

    assert "it claims 4000000000 strings and contains 1" in raised.value.message


# -- ods ------------------------------------------------------------------------


def test_ods_repeated_cells_rejected(tmp_path, english, small_limit):
    repeated = ('<table:table-row table:number-rows-repeated="100">'
                f'{builders.ods_cell("x", repeated=300)}</table:table-row>')
    table = builders.ods_register_table(builders.household_rows(1, members=1), extra_rows=repeated)
    path = builders.write_ods(tmp_path / "repeated.ods", table)

    error = rejected(path)

    assert "repeats cells or spaces so often" in error.message


def test_ods_repeated_spaces_rejected(tmp_path, english):
    cell = ('<table:table-cell office:value-type="string"><text:p>a<text:s text:c="2000000000"/></text:p>'
            "</table:table-cell>")
    table = f'<table:table table:name="S"><table:table-row>{cell}</table:table-row></table:table>'
    path = builders.write_ods(tmp_path / "spaces.ods", table)

    with pytest.raises(ImportRejected) as raised:
        ods_scan.sheet_sizes(path, sheet_size.max_cells(500_000))

    assert "about 1908 MB of memory" in raised.value.message


def test_ods_size_as_calamine_places_cells(tmp_path):
    rows = builders.household_rows(1, members=2)
    trailing = ('<table:table-row table:number-rows-repeated="1048000">'
                '<table:table-cell table:number-columns-repeated="1024"/></table:table-row>')
    table = builders.ods_register_table(rows, extra_rows=trailing)
    path = builders.write_ods(tmp_path / "register.ods", table)

    sizes = ods_scan.sheet_sizes(path, sheet_size.max_cells(500_000))

    # The repeated empty rows and cells after the data are not loaded, so they do not count.
    assert sizes == [sheet_size.SheetSize("成员", 3, len(builders.HEADERS))]


@pytest.mark.parametrize("chunk_bytes", [64, 300, ods_scan.CHUNK_BYTES])
def test_ods_empty_rows_counted(tmp_path, english, monkeypatch, chunk_bytes):
    # calamine fills the empty rows between two rows with values, so 3,000 rows written as
    # <table:table-row/> before a row of 49 values load as 3,000 × 49 cells.
    monkeypatch.setattr(ods_scan, "CHUNK_BYTES", chunk_bytes)
    empty_rows = "<table:table-row/>" * 3000
    last_row = "<table:table-row>" + "".join(builders.ods_cell(f"x{column}") for column in range(49)) \
        + "</table:table-row>"
    rows = builders.household_rows(1, members=2)
    table = builders.ods_register_table(rows, extra_rows=empty_rows + last_row)
    path = builders.write_ods(tmp_path / "empty-rows.ods", table)

    sizes = ods_scan.sheet_sizes(path, sheet_size.max_cells(500_000))

    assert sizes == [sheet_size.SheetSize("成员", 3004, 49)]


@pytest.mark.parametrize("chunk_bytes", [64, 300, 5000])
def test_ods_plain_blocks_match_tokens(tmp_path, monkeypatch, chunk_bytes):
    # A row split by a comment that looks like a row end is still one row of 60 cells.
    cells = "".join(builders.ods_cell(f"x{column}") for column in range(30))
    rows = "".join(f"<table:table-row>{builders.ods_cell('a')}</table:table-row>" for _row in range(40))
    wide = f"<table:table-row>{cells}<!-- </table:table-row> -->{cells}</table:table-row>"
    table = f'<table:table table:name="S">{rows}{wide}{rows}</table:table>'
    path = builders.write_ods(tmp_path / "split.ods", table)
    monkeypatch.setattr(ods_scan, "CHUNK_BYTES", chunk_bytes)

    assert ods_scan.sheet_sizes(path, sheet_size.max_cells(500_000)) == [sheet_size.SheetSize("S", 81, 60)]


def test_ods_register_imported(tmp_path, english):
    rows = builders.household_rows(1, members=2)
    path = builders.write_ods(tmp_path / "register.ods", builders.ods_register_table(rows))

    services.import_register(path)

    assert household_count() == 1


def test_ods_wide_repeat_rejected(tmp_path, english, small_limit):
    row = "<table:table-row>" + "".join(builders.ods_cell(f"x{column}") for column in range(300)) \
        + "</table:table-row>"
    path = builders.write_ods(tmp_path / "wide.ods", builders.ods_register_table([], extra_rows=row))

    error = rejected(path)

    assert "its cells reach row 2 and column 300" in error.message


# -- xls ------------------------------------------------------------------------


def register_cells(rows: list[dict]) -> list[tuple[int, int, object]]:
    cells = [(0, column, header) for column, header in enumerate(builders.HEADERS)]
    for line, row in enumerate(rows, start=1):
        for column, header in enumerate(builders.HEADERS):
            value = row.get(header, "")
            if value != "":
                cells.append((line, column, value if isinstance(value, float) else str(value)))
    return cells


def test_xls_register_imported(tmp_path, english):
    rows = builders.household_rows(1, members=2)
    path = xls_files.write_xls(tmp_path / "register.xls",
                               [("成员", xls_files.sheet_stream(register_cells(rows)))])

    services.import_register(path)

    assert household_count() == 1


def test_xls_far_cell_rejected(tmp_path, english, small_limit):
    cells = register_cells(builders.household_rows(1, members=1)) + [(99, 48, "x")]
    path = xls_files.write_xls(tmp_path / "far.xls", [("成员", xls_files.sheet_stream(cells))])

    error = rejected(path)

    assert "its cells reach row 100 and column 49 (cell AW100)" in error.message


def test_xls_claimed_range_counted(tmp_path):
    # A first row after the last makes calamine's 32-bit row count wrap round to about 4 billion.
    claimed = xls_files.dimensions(10, 5, 0, 2)
    sheet = xls_files.sheet_stream([(0, 0, "x")], claimed)
    path = xls_files.write_xls(tmp_path / "claimed.xls", [("S", sheet)])

    [size] = xls_scan.sheet_sizes(path)

    assert size.rows == 2**32 - 5


def test_xls_sheets_counted_together(tmp_path, english, small_limit):
    # calamine reads every sheet of an .xls file when it opens it.
    sheets = [(f"S{number}", xls_files.sheet_stream([(0, 0, "x"), (24, 19, "y")])) for number in range(3)]
    path = xls_files.write_xls(tmp_path / "sheets.xls", sheets)

    error = rejected(path)

    assert error.message.startswith("The sheets of the workbook together have 1500 cells (S0: 25×20")


def test_xls_shared_string_count_checked(tmp_path, english):
    strings = xls_files.record(0x00FC, struct.pack("<Ii", 1, 1_000_000))
    path = xls_files.write_xls(tmp_path / "strings.xls", [("S", xls_files.sheet_stream([(0, 0, "x")]))],
                               globals_extra=strings)

    with pytest.raises(xls_scan.DamagedFile, match="claims 1000000 strings in 0 bytes"):
        xls_scan.sheet_sizes(path)


# -- real sizes, in a child process with a memory limit -----------------------------------


def far_xlsx(path, reference: str, text: str) -> str:
    rows = builders.register_rows_xml(builders.household_rows(1, members=1))
    number = re.search(r"[0-9]+$", reference)[0]
    xml = builders.sheet_xml(rows + f'<row r="{number}">{builders.text_cell(reference, text)}</row>')
    return builders.write_parts_xlsx(path, [("成员", xml)])


def ods_repeats(path, rows: int, columns: int) -> str:
    repeated = (f'<table:table-row table:number-rows-repeated="{rows}">'
                f'{builders.ods_cell("x", repeated=columns)}</table:table-row>')
    return builders.write_ods(path, builders.ods_register_table([], extra_rows=repeated))


BOMBS = {
    "xlsx cell XFD1048576": lambda path: far_xlsx(path / "a.xlsx", "XFD1048576", "x"),
    "xlsx cell XFD3000": lambda path: far_xlsx(path / "b.xlsx", "XFD3000", "x"),
    "xlsx empty text in AW1048576": lambda path: far_xlsx(path / "c.xlsx", "AW1048576", ""),
    "ods 10000 rows of 1000 cells": lambda path: ods_repeats(path / "d.ods", 10_000, 1_000),
    "ods 1048576 rows of 16384 cells": lambda path: ods_repeats(path / "e.ods", 1_048_576, 16_384),
    "xls cell in row and column 65536": lambda path: xls_files.write_xls(path / "f.xls", [(
        "S", xls_files.sheet_stream([(0, 0, "x"), (65535, 65535, "y")], xls_files.dimensions(0, 1, 0, 1)))]),
    "xls claiming 4 billion rows": lambda path: xls_files.write_xls(path / "g.xls", [(
        "S", xls_files.sheet_stream([(0, 0, "x")], xls_files.dimensions(0, 2**32 - 1, 0, 255)))]),
}
# The child's address space: the interpreter and the application take about 600 MB, and each of
# these files requests 1.2 GB or far more from calamine.
CHILD_MEMORY = 1 << 30


def limited_memory():
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))


@pytest.mark.parametrize("build", BOMBS.values(), ids=BOMBS.keys())
def test_memory_bomb_rejected(tmp_path, build):
    path = build(tmp_path)
    script = textwrap.dedent(f"""
        from fieldapp.errors import ImportRejected
        from fieldapp.register import columns, reader, sheet_size
        try:
            reader.open_table({str(path)!r}, columns.alias_table(), cell_limit=sheet_size.max_cells(500_000))
        except ImportRejected as error:
            print("rejected:", error.message)
        else:
            print("read")
    """)

    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                           preexec_fn=limited_memory, check=False)

    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.startswith("rejected: "), child.stdout


def test_bomb_archives_are_small(tmp_path):
    # Each file above fits in an upload of a few kilobytes.
    for build in BOMBS.values():
        path = build(tmp_path)
        with open(path, "rb") as handle:
            size = len(handle.read())
        assert size < 64 * 1024, path
        if path.endswith((".xlsx", ".ods")):
            assert zipfile.is_zipfile(path)
