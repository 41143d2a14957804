"""Large xlsx sheets checked by the range they declare and scanned while calamine loads them."""

import threading
import zipfile

import pytest
import xlsxwriter
from sqlalchemy import select

from fieldapp.checks import registries
from fieldapp.checks.models import RegistryRecord
from fieldapp.extensions import db
from fieldapp.register import excel_errors, workbook
from tests.checks.builders import write_xlsx
from tests.register.builders import FormulaError

ID = "11010519491231002X"


@pytest.fixture
def large(monkeypatch):
    """Treat every sheet as large, so that a small test file takes the path of a large one."""
    monkeypatch.setattr(workbook, "SCAN_FIRST_BYTES", -1)


def declare_range(path: str, ref: bytes) -> str:
    """Rewrite the workbook so that its sheet declares the range ``ref``."""
    with zipfile.ZipFile(path) as source:
        parts = {info.filename: source.read(info.filename) for info in source.infolist()}
    sheet = "xl/worksheets/sheet1.xml"
    start = parts[sheet].index(b'<dimension ref="') + len(b'<dimension ref="')
    end = parts[sheet].index(b'"', start)
    parts[sheet] = parts[sheet][:start] + ref + parts[sheet][end:]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return path


def test_declared_range_read(tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", [["姓名", "证件号码"], ["张三", ID]])
    assert excel_errors.declared_size(path, "registry")[1] == (2, 2)


def test_large_sheet_finds_error_cells(ctx, tmp_path, large):
    rows = [["姓名", "证件号码", "金额"], ["张三", ID, 300], ["李四", ID, FormulaError("#DIV/0!")]]

    batch = registries.import_registry(write_xlsx(tmp_path / "r.xlsx", rows), "低保", skip_rejected=True)

    assert [record.name for record in db.session.scalars(select(RegistryRecord))] == ["张三"]
    assert [(item["row"], item["value"]) for item in batch.rejections] == [(3, "#DIV/0!")]


def test_range_beyond_limits_scanned_first(ctx, tmp_path, large):
    # Excel counts cells with only a format in the range, so an inflated range alone rejects nothing.
    path = write_xlsx(tmp_path / "r.xlsx", [["姓名", "证件号码"], ["张三", ID]])
    declare_range(path, b"A1:XFD1048576")

    registries.import_registry(path, "低保")

    assert [record.name for record in db.session.scalars(select(RegistryRecord))] == ["张三"]


def test_understated_range_scanned_first(ctx, tmp_path, large, monkeypatch):
    # A writer that always declares "A1" cannot be trusted: the sheet is scanned before it is loaded.
    path = write_xlsx(tmp_path / "r.xlsx", [["姓名", "证件号码"], *[["张三", ID]] * 20])
    declare_range(path, b"A1")
    threads = []
    scan = excel_errors.scan_sheet
    monkeypatch.setattr(excel_errors, "scan_sheet",
                        lambda *args: threads.append(threading.current_thread().name) or scan(*args))

    registries.import_registry(path, "低保")

    # Scanned first, in the importing thread, not beside the load in a worker thread.
    assert threads == [threading.current_thread().name]


def test_formatted_empty_sheet_is_not_data(ctx, tmp_path, large):
    path = tmp_path / "r.xlsx"
    book = xlsxwriter.Workbook(str(path))
    data = book.add_worksheet("车辆")
    for row, values in enumerate([["姓名", "证件号码"], ["张三", ID]]):
        for column, value in enumerate(values):
            data.write_string(row, column, value)
    template = book.add_worksheet("备用模板")
    shaded = book.add_format({"bg_color": "#FFFF00"})
    for row in range(2000):
        for column in range(3):
            template.write_blank(row, column, None, shaded)
    book.close()

    registries.import_registry(str(path), "低保")

    assert [record.name for record in db.session.scalars(select(RegistryRecord))] == ["张三"]
