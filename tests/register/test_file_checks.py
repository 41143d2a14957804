"""Register files that are not what their name reports, have hidden or extra sheets, or unstorable cells.

Each case once ended in a server error, a traceback, a misleading message, or data imported from
the wrong place.
"""

import codecs
import time

import pytest
import xlsxwriter
from flask_babel import force_locale
from sqlalchemy import select

from fieldapp.errors import ImportRejected
from fieldapp.extensions import db
from fieldapp.register import file_types, parsing, services
from fieldapp.register.models import Household, Member, RegisterImport
from tests.conftest import login
from tests.register import builders, xls_files
from tests.register.test_rejections import rejected
from tests.register.test_sheet_limits import register_cells
from tests.register.test_views import upload


def household_numbers() -> list[str]:
    return sorted(db.session.scalars(select(Household.household_no)))


def write_sheets(path, sheets: list[tuple[str, list[dict]]], *, hidden: tuple[str, ...] = ()) -> str:
    """Write a workbook with one register sheet per (name, rows); an empty row list leaves the sheet empty."""
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    for name, rows in sheets:
        sheet = workbook.add_worksheet(name)
        if rows:
            sheet.write_row(0, 0, builders.HEADERS)
            for line, row in enumerate(rows, start=1):
                sheet.write_row(line, 0, [row.get(header, "") for header in builders.HEADERS])
        if name in hidden:
            sheet.hide()
    workbook.worksheets()[-1].activate()
    workbook.close()
    return str(path)


# -- sheets ----------------------------------------------------------------------


def test_hidden_sheet_skipped(tmp_path, english):
    hidden = builders.household_rows(1, members=1)
    visible = builders.household_rows(2, members=1)
    sheets = [("旧数据", hidden), ("监测对象信息", visible)]
    path = write_sheets(tmp_path / "hidden.xlsx", sheets, hidden=("旧数据",))

    services.import_register(path)

    assert household_numbers() == [visible[0]["户编号"]]


def test_two_sheets_with_data_rejected(tmp_path, english):
    path = write_sheets(tmp_path / "two.xlsx", [("阳信县", builders.household_rows(1, members=1)),
                                                ("惠民县", builders.household_rows(2, members=1))])

    error = rejected(path)

    assert error.message.startswith("The workbook has data on more than one sheet: 阳信县、惠民县.")
    assert "keep only the sheet to import" in error.message


def test_empty_sheets_ignored(tmp_path, english):
    rows = builders.household_rows(1, members=1)
    path = write_sheets(tmp_path / "empty.xlsx", [("Sheet1", []), ("成员", rows), ("Sheet3", [])])

    services.import_register(path)

    assert household_numbers() == [rows[0]["户编号"]]


def test_data_only_on_hidden_sheet_rejected(tmp_path, english):
    path = write_sheets(tmp_path / "only-hidden.xlsx", [("成员", builders.household_rows(1, members=1)),
                                                        ("空白", [])], hidden=("成员",))

    error = rejected(path)

    assert error.message == ("No visible sheet of the workbook has data, and hidden sheets are not imported "
                             "(成员). Unhide the sheet to import, save the file and import it again.")


def test_xls_hidden_sheet_skipped(tmp_path, english):
    hidden = builders.household_rows(1, members=1)
    visible = builders.household_rows(2, members=1)
    path = xls_files.write_xls(tmp_path / "hidden.xls", [
        ("旧数据", xls_files.sheet_stream(register_cells(hidden))),
        ("成员", xls_files.sheet_stream(register_cells(visible))),
    ], hidden=("旧数据",))

    services.import_register(path)

    assert household_numbers() == [visible[0]["户编号"]]


# -- files that are something else -----------------------------------------------


def xlsx_bytes(tmp_path) -> bytes:
    path = builders.write_xlsx(tmp_path / "real.xlsx", builders.household_rows(1, members=1))
    with open(path, "rb") as handle:
        return handle.read()


@pytest.mark.parametrize("extension", [".csv", ".xls", ".ods"])
def test_renamed_xlsx_named(tmp_path, english, extension):
    path = tmp_path / f"register{extension}"
    path.write_bytes(xlsx_bytes(tmp_path))

    message = rejected(path).message

    assert message == (
        f"The file could not be read: it is an Excel workbook (.xlsx), but its name ends in {extension}. "
        "Rename it to end in .xlsx, or open it in Excel or WPS and save it as an .xlsx workbook, and import "
        "it again.")


def test_renamed_xls_named(tmp_path, english):
    sheet = xls_files.sheet_stream([(0, 0, "户编号")])
    path = xls_files.write_xls(tmp_path / "register.xlsx", [("S", sheet)])

    assert "it is an Excel 97-2003 workbook (.xls), but its name ends in .xlsx" in rejected(path).message


def test_web_page_named_xls(tmp_path, english):
    path = tmp_path / "导出.xls"
    path.write_text("<html><body><table><tr><td>户编号</td></tr></table></body></html>", encoding="utf-8")

    assert "it is a web page or an XML spreadsheet saved with the ending .xls" in rejected(path).message


def test_password_protected_workbook_named(tmp_path, english):
    path = tmp_path / "protected.xlsx"
    path.write_bytes(xls_files.compound_file(b"\0" * 5000, name="EncryptedPackage"))

    assert "the workbook is protected with a password" in rejected(path).message


def test_file_kinds_detected(tmp_path):
    xls = xls_files.write_xls(tmp_path / "a.xls", [("S", xls_files.sheet_stream([(0, 0, "x")]))])
    ods = builders.write_ods(tmp_path / "a.ods", builders.ods_register_table([]))
    csv = builders.write_csv(tmp_path / "a.csv", builders.household_rows(1))

    assert file_types.detect(xls) == file_types.XLS
    assert file_types.detect(ods) == file_types.ODS
    assert file_types.detect(csv) == file_types.TEXT


# -- unreadable parts of a workbook --------------------------------------------------


def test_damaged_sheet_rejected(tmp_path, english):
    rows = builders.register_rows_xml(builders.household_rows(1, members=1))
    xml = builders.sheet_xml(rows)[:-40]
    path = builders.write_parts_xlsx(tmp_path / "cut.xlsx", [("成员", xml)])

    message = rejected(path).message

    assert message.startswith("The sheet 成员 could not be read (")
    assert "save it again as .xlsx and import that copy" in message


def test_missing_shared_string_rejected(tmp_path, english):
    xml = builders.sheet_xml('<row r="1"><c r="A1" t="s"><v>7</v></c></row>')
    strings = '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>a</t></si></sst>'
    path = builders.write_parts_xlsx(tmp_path / "strings.xlsx", [("成员", xml)], shared_strings=strings)

    assert rejected(path).message.startswith("The sheet 成员 could not be read (")


def test_damaged_upload_rejected_not_failed(client, tmp_path, imports_dir, sync_jobs, make):
    login(client, make.user("admin", [make.YANGXIN]))
    xml = builders.sheet_xml(builders.register_rows_xml(builders.household_rows(1, members=1)))[:-40]
    path = builders.write_parts_xlsx(tmp_path / "cut.xlsx", [("成员", xml)])

    with open(path, "rb") as handle:
        upload(client, handle.read())

    record = db.session.scalars(select(RegisterImport)).one()
    assert record.status == "rejected"
    assert record.message.startswith("The sheet 成员 could not be read")


def test_damaged_file_on_command_line(app, tmp_path):
    xml = builders.sheet_xml(builders.register_rows_xml(builders.household_rows(1, members=1)))[:-40]
    path = builders.write_parts_xlsx(tmp_path / "cut.xlsx", [("成员", xml)])

    with force_locale("en"):
        result = app.test_cli_runner().invoke(args=["import-register", path])

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "could not be read" in result.output


# -- CSV files ---------------------------------------------------------------------


def test_unclosed_quote_names_line(tmp_path, english):
    text = builders.csv_text(builders.household_rows(1, members=2))
    lines = text.split("\r\n")
    lines[3] = lines[3].replace("县内", '"县内') + "x" * 140_000
    path = tmp_path / "quote.csv"
    path.write_text("\r\n".join(lines), encoding="utf-8")

    message = rejected(path).message

    assert message.startswith("Line 4 of the CSV file could not be read (field larger than field limit")
    assert "a quote mark opened in a cell is never closed" in message


def test_extra_cells_reported(tmp_path, english):
    rows = builders.household_rows(1, members=1)
    rows[0]["帮扶措施"] = "教育帮扶,社会帮扶"
    text = builders.csv_text(rows).replace('"教育帮扶,社会帮扶"', "教育帮扶,社会帮扶")
    path = tmp_path / "comma.csv"
    path.write_text(text, encoding="utf-8")

    error = rejected(path)

    extra = [rejection for rejection in error.rejections if rejection.column == "after the last column"]
    assert len(extra) == 1
    assert extra[0].row == 3
    assert extra[0].reason.startswith(f"The row has {len(builders.HEADERS) + 1} cells, more than the "
                                      f"{len(builders.HEADERS)} columns of the header row")


def test_trailing_separators_accepted(tmp_path, english):
    text = builders.csv_text(builders.household_rows(1, members=1)).replace("\r\n", ",,\r\n")
    path = tmp_path / "trailing.csv"
    path.write_text(text, encoding="utf-8")

    services.import_register(str(path))

    assert len(household_numbers()) == 1


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom(tmp_path, english, encoding):
    rows = builders.household_rows(1, members=1)
    path = builders.write_csv(tmp_path / "utf16.csv", rows, encoding=encoding)
    with open(path, "rb") as handle:
        assert not handle.read().startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))

    services.import_register(path)

    assert household_numbers() == [rows[0]["户编号"]]


def test_nul_characters_removed(tmp_path, english):
    rows = builders.household_rows(1, members=2)
    rows[0]["姓名"] = "张\x00三"
    rows[1]["备注"] = "a\x00b\x00"
    path = builders.write_csv(tmp_path / "nul.csv", rows, headers=[*builders.HEADERS, "备注"])

    record = services.import_register(path)
    db.session.flush()

    assert "张三" in set(db.session.scalars(select(Member.name)))
    assert "ab" in [member.extra.get("备注") for member in db.session.scalars(select(Member))]
    assert record.message.startswith("3 NUL characters (byte 0) were removed from the cells of the file")


def test_escaped_nul_in_workbook_removed(tmp_path, english):
    rows = builders.household_rows(1, members=1)
    rows[0]["姓名"] = "李_x0000_四"
    xml = builders.sheet_xml(builders.register_rows_xml(rows))
    path = builders.write_parts_xlsx(tmp_path / "nul.xlsx", [("成员", xml)])

    record = services.import_register(path)
    db.session.flush()

    assert db.session.scalars(select(Member.name)).one() == "李四"
    assert record.message.startswith("1 NUL character (byte 0) was removed")


def test_not_a_number_kept_as_text(tmp_path, english):
    # JSON has no NaN or infinity, and PostgreSQL rejected {"备注":Infinity}.
    rows = builders.register_rows_xml(builders.household_rows(1, members=1),
                                      headers=[*builders.HEADERS, "备注", "备注2"]).split("</row>")
    rows[1] += '<c r="AX2"><v>NaN</v></c><c r="AY2"><v>inf</v></c>'
    rows_xml = "</row>".join(rows)
    path = builders.write_parts_xlsx(tmp_path / "nan.xlsx", [("成员", builders.sheet_xml(rows_xml))])

    services.import_register(path)
    db.session.flush()

    extra = db.session.scalars(select(Member.extra)).one()
    assert extra["备注"] == "nan"
    assert extra["备注2"] == "inf"


# -- integer cells ------------------------------------------------------------------


@pytest.mark.parametrize(("header", "value", "low", "high"), [
    ("家庭人口数", "-1", 0, 999),
    ("家庭人口数", "1000", 0, 999),
    ("务工时间(月)", "13", 0, 12),
    ("务工时间(月)", "-2", 0, 12),
    ("脱贫年度", "20170", 1900, 2100),
    ("脱贫年度", "1e1000000", 1900, 2100),
    ("脱贫年度", "-inf", 1900, 2100),
])
def test_integer_out_of_range(tmp_path, english, header, value, low, high):
    rows = builders.household_rows(1, members=1)
    rows[0][header] = value
    path = builders.write_csv(tmp_path / "range.csv", rows)

    started = time.monotonic()
    [rejection] = rejected(path).rejections

    assert time.monotonic() - started < 1
    assert (rejection.row, rejection.column, rejection.value) == (3, header, value)
    assert rejection.reason == f"Out of range: enter a whole number from {low} to {high} and import again."


@pytest.mark.parametrize("value", [1e30, -1.0, 13.0])
def test_integer_number_cell_out_of_range(tmp_path, english, value):
    rows = builders.household_rows(1, members=1)
    rows[0]["务工时间(月)"] = value
    path = builders.write_xlsx(tmp_path / "range.xlsx", rows)

    [rejection] = rejected(path).rejections

    assert rejection.column == "务工时间(月)"
    assert rejection.reason.startswith("Out of range")


@pytest.mark.parametrize("value", ["0", "12", 12.0, "１２"])
def test_integer_at_range_edges_kept(english, value):
    assert parsing.to_integer(value, "months_worked") in (0, 12)


# -- merged household cells ----------------------------------------------------------


def write_merged(path, rows: list[dict]) -> str:
    """Write a register whose 户编号 cells of each household are merged, as many exports do."""
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    sheet = workbook.add_worksheet("成员")
    column = builders.HEADERS.index("户编号")
    sheet.write_row(0, 0, builders.HEADERS)
    for line, row in enumerate(rows, start=1):
        cells = [row.get(header, "") if header != "户编号" else "" for header in builders.HEADERS]
        sheet.write_row(line, 0, cells)
    first = 1
    for line in range(1, len(rows) + 1):
        if line == len(rows) or rows[line]["户编号"] != rows[line - 1]["户编号"]:
            if line > first:
                sheet.merge_range(first, column, line, column, rows[first - 1]["户编号"])
            else:
                sheet.write_string(first, column, rows[first - 1]["户编号"])
            first = line + 1
    workbook.close()
    return str(path)


def test_merged_household_cells_keep_members(tmp_path, english):
    rows = builders.household_rows(1, members=3) + builders.household_rows(2, members=2)
    services.import_register(builders.write_csv(tmp_path / "whole.csv", rows))
    db.session.flush()

    record = services.import_register(write_merged(tmp_path / "merged.xlsx", rows), skip_rejected=True,
                                      report_path=str(tmp_path / "merged.rejected.xlsx"))
    db.session.flush()

    households = db.session.scalars(select(Household))
    members = {household.household_no: len(household.members) for household in households}
    assert members == {rows[0]["户编号"]: 3, rows[3]["户编号"]: 2}
    assert record.members_removed == 0
    reasons = {rejection["row"]: rejection["reason"] for rejection in record.rejections}
    assert "merged cell" in reasons[3]
    assert "row 3, 4 below has no readable 户编号" in reasons[2]
    assert "row 6 below has no readable 户编号" in reasons[5]


def test_blank_first_household_number_rejected_alone(tmp_path, english):
    rows = builders.household_rows(1, members=1) + builders.household_rows(2, members=1)
    rows[0]["户编号"] = ""

    error = rejected(builders.write_csv(tmp_path / "blank.csv", rows))

    assert [rejection.row for rejection in error.rejections] == [3]


def test_missing_division_column_named(tmp_path, english):
    headers = [header for header in builders.HEADERS if header != "行政区划代码"]
    path = builders.write_csv(tmp_path / "no-code.csv", builders.household_rows(1), headers=headers)

    with pytest.raises(ImportRejected) as raised:
        services.import_register(path)

    assert raised.value.message == (
        "The header row (row 2) has no column 行政区划代码, the 12-digit division code of each household's "
        "village. Export the register with that column, or add it, and import again.")


def test_money_with_huge_exponent_rejected(tmp_path, english):
    # abs() of Decimal("1e1000000") raised decimal.Overflow, and the import failed with a server error.
    rows = builders.household_rows(1, members=1)
    rows[0]["年人均纯收入(元)"] = "1e1000000"

    [rejection] = rejected(builders.write_csv(tmp_path / "money.csv", rows)).rejections

    assert rejection.column == "年人均纯收入(元)"
    assert rejection.reason == "The amount is out of range; check the value and import again."


def test_upload_file_removed_after_unexpected_error(client, tmp_path, imports_dir, sync_jobs, make,
                                                    monkeypatch):
    def broken(path):
        raise OSError("disk full")

    monkeypatch.setattr(services, "file_sha256", broken)
    login(client, make.user("admin", [make.YANGXIN]))
    with open(builders.write_xlsx(tmp_path / "r.xlsx", builders.household_rows(1)), "rb") as handle:
        data = handle.read()

    with pytest.raises(OSError):
        upload(client, data)

    assert list(imports_dir.iterdir()) == []
