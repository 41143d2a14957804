"""Excel error cells (#N/A, #REF!, ...): found in the xlsx file, rejected with row, column and error."""

import re
import zipfile

import pytest
import xlsxwriter
from flask_babel import force_locale
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from fieldapp.errors import ImportRejected
from fieldapp.extensions import db
from fieldapp.register import excel_errors, services
from fieldapp.register.models import Household, Member
from fieldapp.register.reader import ExcelError, sheet_rows
from tests.register import builders
from tests.register.builders import FormulaError

ERRORS = ["#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NUM!", "#NAME?", "#NULL!"]


def write_sheet(path, cells: dict[tuple[int, int], object]) -> str:
    """Write one sheet named "S" with text, numbers and FormulaError cells at (row, column)."""
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("S")
    for (row, column), value in cells.items():
        if isinstance(value, FormulaError):
            builders.write_formula_error(sheet, row, column, value)
        else:
            sheet.write(row, column, value)
    workbook.close()
    return str(path)


def rewrite_sheet_xml(path, change) -> None:
    """Replace the first sheet's XML with ``change(xml)``, keeping every other part of the file."""
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    name = "xl/worksheets/sheet1.xml"
    parts[name] = change(parts[name].decode("utf-8")).encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for part, data in parts.items():
            archive.writestr(part, data)


def rejected(path) -> ImportRejected:
    with pytest.raises(ImportRejected) as caught:
        services.import_register(str(path))
    db.session.rollback()
    assert db.session.execute(select(func.count(Household.id))).scalar_one() == 0
    return caught.value


# -- finding the error cells --------------------------------------------------


def test_calamine_reads_error_as_empty(tmp_path):
    # The reason for excel_errors: python-calamine gives an error cell as "", like an empty cell.
    path = write_sheet(tmp_path / "e.xlsx", {(0, 0): "a", (0, 1): FormulaError("#N/A")})

    assert CalamineWorkbook.from_path(path).get_sheet_by_name("S").to_python() == [["a", ""]]


def test_error_cells_found(tmp_path):
    cells = {(row, 2): FormulaError(error) for row, error in enumerate(ERRORS, start=1)}
    path = write_sheet(tmp_path / "e.xlsx", {(0, 0): "header", **cells, (9, 2): 3.0})

    found = excel_errors.find_error_cells(path, "S")

    assert found == {(row, 2): error for row, error in enumerate(ERRORS, start=1)}


def test_error_cells_without_reference(tmp_path):
    cells = {(row, column): "x" for row in range(4) for column in range(3)}
    cells[(2, 1)] = FormulaError("#REF!")
    path = write_sheet(tmp_path / "e.xlsx", cells)
    # Some writers leave out the row and cell references and write every cell; the cells are then counted.
    rewrite_sheet_xml(path, lambda xml: re.sub(r' r="[A-Z]*[0-9]+"', "", xml))

    assert excel_errors.find_error_cells(path, "S") == {(2, 1): "#REF!"}


def test_error_cells_across_chunks(tmp_path, monkeypatch):
    cells = {(row, column): f"text {row} {column}" for row in range(200) for column in range(5)}
    cells.update({(57, 3): FormulaError("#N/A"), (150, 0): FormulaError("#DIV/0!")})
    path = write_sheet(tmp_path / "e.xlsx", cells)
    monkeypatch.setattr(excel_errors, "CHUNK_BYTES", 97)

    assert excel_errors.find_error_cells(path, "S") == {(57, 3): "#N/A", (150, 0): "#DIV/0!"}


def test_error_cells_of_named_sheet(tmp_path):
    workbook = xlsxwriter.Workbook(str(tmp_path / "two.xlsx"))
    first, second = workbook.add_worksheet("说明"), workbook.add_worksheet("成员")
    first.write_formula(0, 0, "=NA()", None, "#N/A")
    second.write_formula(4, 1, "=1/0", None, "#DIV/0!")
    workbook.close()

    assert excel_errors.find_error_cells(str(tmp_path / "two.xlsx"), "成员") == {(4, 1): "#DIV/0!"}
    assert excel_errors.find_error_cells(str(tmp_path / "two.xlsx"), "说明") == {(0, 0): "#N/A"}


def test_text_like_error_not_found(tmp_path):
    # Text that reads t="e" or "#N/A" is a value, not an error cell.
    path = write_sheet(tmp_path / "e.xlsx", {(0, 0): 'a t="e" b', (1, 0): "#N/A"})

    assert excel_errors.find_error_cells(path, "S") == {}


def test_sheet_rows_mark_error_cells(tmp_path):
    # The used range starts at column C, and calamine's rows start there too.
    path = write_sheet(tmp_path / "e.xlsx", {(2, 2): "户编号", (2, 3): "姓名", (3, 4): FormulaError("#N/A")})
    sheet = CalamineWorkbook.from_path(path).get_sheet_by_name("S")

    rows = list(sheet_rows(sheet, excel_errors.find_error_cells(path, "S")))

    assert rows[2] == ["户编号", "姓名", ""]
    assert rows[3] == ["", "", ExcelError("#N/A")]
    assert str(rows[3][2]) == "#N/A"


# -- register import ------------------------------------------------------------


@pytest.mark.parametrize("error", ERRORS)
def test_error_id_number_rejected(tmp_path, english, error):
    rows = builders.household_rows(1, members=2)
    rows[1]["证件号码"] = FormulaError(error)
    path = builders.write_xlsx(tmp_path / "errors.xlsx", rows)

    caught = rejected(path)

    by_row = {rejection.row: rejection for rejection in caught.rejections}
    # Title in row 1, header in row 2: the second member is row 4.
    assert (by_row[4].column, by_row[4].value) == ("证件号码", error)
    assert f"Excel error value {error}" in by_row[4].reason
    assert "correct the formula in Excel" in by_row[4].reason
    assert "required" not in caught.message
    assert f'Row 4, column 证件号码, value "{error}"' in caught.message
    # The household's other row is held back, as for any rejected row.
    assert by_row[3].column == "户编号"


@pytest.mark.parametrize("header", [
    "户编号", "姓名", "年人均纯收入(元)", "出生日期", "致贫返贫风险1", "是否危房户",
])
def test_error_in_kept_column_rejected(tmp_path, english, header):
    rows = builders.household_rows(2, members=1)
    rows[0][header] = FormulaError("#VALUE!")
    path = builders.write_xlsx(tmp_path / "errors.xlsx", rows)

    caught = rejected(path)

    assert [(r.row, r.column, r.value) for r in caught.rejections] == [(3, header, "#VALUE!")]
    assert "Excel error value #VALUE!" in caught.rejections[0].reason


def test_error_in_unknown_column_rejected(tmp_path, english):
    # A column the register does not know is kept in the member's extra values, so it is checked too.
    headers = [*builders.HEADERS, "备注"]
    rows = builders.household_rows(3, members=2)
    rows[0]["备注"] = FormulaError("#N/A")
    path = builders.write_xlsx(tmp_path / "errors.xlsx", rows, headers=headers)

    caught = rejected(path)

    remarks = [(r.row, r.column, r.value) for r in caught.rejections if r.column == "备注"]
    assert remarks == [(3, "备注", "#N/A")]


def test_error_in_ignored_column_imported(tmp_path, english):
    # 序号 and a column without a header are not imported, so an error there rejects nothing.
    headers = [*builders.HEADERS, ""]
    rows = builders.numbered(builders.household_rows(4, members=2))
    rows[0]["序号"] = FormulaError("#REF!")
    rows[1][""] = FormulaError("#N/A")
    path = builders.write_xlsx(tmp_path / "errors.xlsx", rows, headers=headers)

    record = services.import_register(path)

    assert (record.members_added, record.rows_rejected) == (2, 0)
    extras = db.session.execute(select(Member.extra)).scalars().all()
    assert extras == [{}, {}]


def test_error_only_in_ignored_columns_row_skipped(tmp_path, english):
    # A formula filled down below the data gives rows whose only cells are errors in ignored columns.
    headers = [*builders.HEADERS, "", " "]
    rows = builders.household_rows(5, members=1) + [{"": FormulaError("#N/A"), " ": FormulaError("#N/A")}]
    path = builders.write_xlsx(tmp_path / "errors.xlsx", rows, headers=headers)

    record = services.import_register(path)

    assert (record.rows_read, record.members_added, record.rows_rejected) == (1, 1, 0)


def test_error_rows_skipped_and_reported(tmp_path, english):
    rows = builders.household_rows(6, members=1) + builders.household_rows(7, members=1)
    rows[1]["证件号码"] = FormulaError("#N/A")
    path = builders.write_xlsx(tmp_path / "partial.xlsx", rows)

    record = services.import_register(path, skip_rejected=True)

    assert (record.households_added, record.rows_rejected) == (1, 1)
    report_path = str(tmp_path / "partial.rejected.xlsx")
    report = CalamineWorkbook.from_path(report_path).get_sheet_by_index(0).to_python()
    line = dict(zip(report[0], report[1], strict=True))
    assert line["证件号码"] == "#N/A"
    assert "证件号码「#N/A」" in line["退回原因"]


def test_error_message_in_chinese(tmp_path):
    rows = builders.household_rows(8, members=1)
    rows[0]["证件号码"] = FormulaError("#N/A")
    path = builders.write_xlsx(tmp_path / "errors.xlsx", rows)

    with force_locale("zh_CN"):
        caught = rejected(path)

    expected = "单元格是 Excel 错误值 #N/A，请在 Excel 里修正公式或改为数值后重新导入。"
    assert caught.rejections[0].reason == expected
