"""Rows that cannot be stored faithfully: rejected with row, column, value and fix; nothing half-written."""

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from fieldapp.errors import ImportRejected
from fieldapp.extensions import db
from fieldapp.register import services
from fieldapp.register.models import Household, Member, RegisterImport
from tests.register import builders


def counts() -> tuple[int, int, int]:
    return (
        db.session.execute(select(func.count(Household.id))).scalar_one(),
        db.session.execute(select(func.count(Member.id))).scalar_one(),
        db.session.execute(select(func.count(RegisterImport.id))).scalar_one(),
    )


def rejected(path) -> ImportRejected:
    before = counts()
    with pytest.raises(ImportRejected) as caught:
        services.import_register(str(path))
    db.session.rollback()
    assert counts() == before
    return caught.value


def test_float_id_rejected(tmp_path, english):
    rows = builders.household_rows(1, members=2) + builders.household_rows(2, members=1)
    path = builders.write_xlsx(tmp_path / "numeric.xlsx", rows, numeric_ids=True)

    error = rejected(path)

    # Title in row 1, header in row 2: the members are rows 3, 4 and 5.
    assert [(r.row, r.column) for r in error.rejections] == [(row, "证件号码") for row in (3, 4, 5)]
    assert error.rejections[0].value.startswith("3.716")
    assert "format the column as text" in error.rejections[0].reason
    assert "Row 3, column 证件号码" in error.message
    assert "nothing was imported" in error.message


def test_scientific_id_text_rejected(tmp_path, english):
    rows = builders.household_rows(3, members=2)
    rows[1]["证件号码"] = "3.71622E+17"
    path = builders.write_csv(tmp_path / "scientific.csv", rows)

    error = rejected(path)

    by_row = {r.row: r for r in error.rejections}
    assert by_row[4].column == "证件号码"
    assert by_row[4].value == "3.71622E+17"
    assert "digits are lost" in by_row[4].reason
    # The household's other row is held back, so the household is not written without that member.
    assert by_row[3].column == "户编号"
    assert "row 4" in by_row[3].reason


def test_mixed_division_rejected(tmp_path, english):
    rows = builders.household_rows(4, members=2)
    rows[1]["行政区划代码"] = builders.OTHER_VILLAGE
    path = builders.write_xlsx(tmp_path / "mixed.xlsx", rows + builders.household_rows(5, members=1))

    error = rejected(path)

    assert [(r.row, r.column, r.value) for r in error.rejections] == [
        (3, "行政区划代码", builders.VILLAGE),
        (4, "行政区划代码", builders.OTHER_VILLAGE),
    ]
    assert f"{builders.VILLAGE}00004" in error.rejections[0].reason
    assert "disagree on the division code" in error.rejections[0].reason


@pytest.mark.parametrize(("header", "value", "expected"), [
    ("户编号", "", "required"),
    ("姓名", "", "required"),
    ("证件号码", "", "required"),
    ("年人均纯收入(元)", "一万二", "Not a number"),
    ("家庭人口数", "3.5", "Not a whole number"),
    ("出生日期", "1950-13-45", "Not a date"),
    ("出生日期", "不详", "Not a date"),
    ("是否危房户", "不清楚", "Expected 是 or 否"),
    ("行政区划代码", "3716221072", "12 digits"),
    ("户编号", "3.71622107215E+16", "scientific notation"),
    ("性别", "男" * 5, "Longer than 4 characters"),
])
def test_bad_cell_rejected(tmp_path, english, header, value, expected):
    rows = builders.household_rows(6, members=1)
    rows[0][header] = value
    path = builders.write_csv(tmp_path / "bad.csv", rows)

    error = rejected(path)

    assert len(error.rejections) == 1
    rejection = error.rejections[0]
    assert (rejection.row, rejection.column, rejection.value) == (3, header, value)
    assert expected in rejection.reason
    assert "import again" in rejection.reason


def test_unknown_division_rejected(tmp_path, english):
    rows = builders.household_rows(6, members=2) + builders.household_rows(7, members=1)
    for row in rows[:2]:
        row["行政区划代码"] = "110101001001"
    path = builders.write_csv(tmp_path / "elsewhere.csv", rows)

    error = rejected(path)

    assert [(rejection.row, rejection.column, rejection.value) for rejection in error.rejections] == [
        (3, "行政区划代码", "110101001001"), (4, "行政区划代码", "110101001001")]
    assert "not in the division list" in error.rejections[0].reason
    assert counts() == (0, 0, 0)


def test_long_value_cut_in_message(tmp_path, english):
    rows = builders.household_rows(6, members=1)
    rows[0]["性别"] = "男" * 5000
    error = rejected(builders.write_csv(tmp_path / "long.csv", rows))

    line = next(line for line in error.message.splitlines() if line.startswith("Row 3"))
    assert "男" * 100 + "…" in line
    assert len(line) < 400


def test_no_header_rejected(tmp_path, english):
    path = tmp_path / "other.csv"
    path.write_text("名称,数量\n苹果,3\n", encoding="utf-8")

    error = rejected(path)

    assert "No header row found" in error.message
    assert error.rejections == []


def test_unsupported_type_rejected(tmp_path, english):
    path = tmp_path / "register.pdf"
    path.write_bytes(b"%PDF-1.4")

    assert ".pdf" in rejected(path).message


def test_damaged_workbook_rejected(tmp_path, english):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"not a zip file")

    assert "could not be read" in rejected(path).message


def test_unreadable_cell_names_row(tmp_path, english):
    header = ["户编号", "姓名", "证件号码", "务工时长"]
    path = builders.write_duration_overflow(tmp_path / "duration.xlsx", header,
                                            ["371622000100001", "张三", "110105194912310021"])

    message = rejected(path).message

    assert "Row 2 of sheet 成员 could not be read" in message
    assert "format that cell as text" in message


def test_header_only_rejected(tmp_path, english):
    path = builders.write_xlsx(tmp_path / "empty.xlsx", [])

    assert "no member rows" in rejected(path).message


def test_skip_rejected_writes_report(tmp_path, english):
    good = builders.household_rows(7, members=2)
    bad = builders.household_rows(8, members=2)
    bad[0]["证件号码"] = "3.71622E+17"
    bad[1]["姓名"] = "=HYPERLINK(\"http://127.0.0.1/\")"
    mixed = builders.household_rows(9, members=2)
    mixed[1]["行政区划代码"] = builders.OTHER_VILLAGE
    path = builders.write_xlsx(tmp_path / "partial.xlsx", good + bad + mixed)

    record = services.import_register(path, skip_rejected=True)

    numbers = set(db.session.execute(select(Household.household_no)).scalars())
    assert f"{builders.VILLAGE}00007" in numbers
    assert f"{builders.VILLAGE}00008" not in numbers
    assert f"{builders.VILLAGE}00009" not in numbers
    assert (record.households_added, record.members_added) == (1, 2)
    assert record.rows_rejected == 4
    assert record.report_name == "partial.rejected.xlsx"

    report = tmp_path / "partial.rejected.xlsx"
    sheet = CalamineWorkbook.from_path(str(report)).get_sheet_by_index(0).to_python()
    assert sheet[0][:2] == ["源文件行号", "退回原因"]
    assert sheet[0][2:] == builders.HEADERS
    by_row = {int(line[0]): dict(zip(sheet[0], line, strict=True)) for line in sheet[1:]}
    assert sorted(by_row) == [5, 6, 7, 8]
    assert by_row[5]["证件号码"] == "3.71622E+17"
    assert "digits are lost" in by_row[5]["退回原因"]
    assert "证件号码「3.71622E+17」" in by_row[5]["退回原因"]
    # Kept as text: a formula would read back as its (empty) result.
    assert by_row[6]["姓名"] == "=HYPERLINK(\"http://127.0.0.1/\")"
    assert by_row[6]["证件号码"] == bad[1]["证件号码"]
    assert "row 5" in by_row[6]["退回原因"]
    assert "disagree on the division code" in by_row[8]["退回原因"]


def test_skip_rejected_report_reimports(tmp_path, english):
    rows = builders.household_rows(10, members=2)
    rows[1]["出生日期"] = "不详"
    path = builders.write_xlsx(tmp_path / "fixme.xlsx", rows)
    services.import_register(path, skip_rejected=True)
    report = tmp_path / "fixme.rejected.xlsx"

    # The report, corrected, imports by itself: its two added columns are ignored.
    sheet = CalamineWorkbook.from_path(str(report)).get_sheet_by_index(0).to_python()
    fixed = [dict(zip(sheet[0], line, strict=True)) for line in sheet[1:]]
    for row in fixed:
        row["出生日期"] = "19600215" if row["出生日期"] == "不详" else row["出生日期"]
    path = builders.write_xlsx(tmp_path / "fixed.xlsx", fixed, headers=sheet[0], title_rows=())
    record = services.import_register(path)

    assert record.members_added == 2
    household = db.session.execute(
        select(Household).where(Household.household_no == f"{builders.VILLAGE}00010")).scalar_one()
    assert all(member.extra == {} for member in household.members)


def test_cli_rejection_exit_code(app, tmp_path):
    rows = builders.household_rows(11, members=1)
    rows[0]["证件号码"] = "3.71622E+17"
    path = builders.write_csv(tmp_path / "cli.csv", rows)

    result = app.test_cli_runner().invoke(args=["import-register", path])

    assert result.exit_code == 1
    assert "证件号码" in result.output
    assert "3.71622E+17" in result.output
    assert "or add --skip-rejected to import the other households." in result.output
    assert "rejected rows skipped" not in result.output
    assert db.session.execute(select(func.count(Household.id))).scalar_one() == 0


def test_cli_lists_first_fifty(app, tmp_path):
    rows = [row for number in range(60) for row in builders.household_rows(100 + number, members=1)]
    for row in rows:
        row["证件号码"] = "3.71622E+17"
    path = builders.write_csv(tmp_path / "many.csv", rows)

    result = app.test_cli_runner().invoke(args=["import-register", path])

    assert result.exit_code == 1
    assert result.output.count("3.71622E+17") == 50
    error_lines = result.output[result.output.index("Error:"):].strip().splitlines()
    assert "60" in error_lines[0]
    assert len(error_lines) == 52
    assert "10" in error_lines[-1]


def test_cli_skip_rejected(app, tmp_path):
    rows = builders.household_rows(12, members=1) + builders.household_rows(13, members=1)
    rows[1]["证件号码"] = ""
    path = builders.write_csv(tmp_path / "skip.csv", rows)

    result = app.test_cli_runner().invoke(args=["import-register", path, "--skip-rejected"])

    assert result.exit_code == 0, result.output
    assert (tmp_path / "skip.rejected.xlsx").exists()
    assert str(tmp_path / "skip.rejected.xlsx") in result.output
    numbers = set(db.session.execute(select(Household.household_no)).scalars())
    assert numbers == {f"{builders.VILLAGE}00012"}


def test_cli_chinese_by_default(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "zh_CN")
    rows = builders.household_rows(14, members=1) + builders.household_rows(15, members=1)
    rows[1]["证件号码"] = ""
    path = builders.write_csv(tmp_path / "zh.csv", rows)

    result = app.test_cli_runner().invoke(args=["import-register", path, "--skip-rejected"])

    assert result.exit_code == 0, result.output
    assert "已读取并检查 2/2 行" in result.output
    assert "正在写入 1/1 户" in result.output
    assert "农户：新增 1 户，更新 0 户，未变 0 户。" in result.output
    assert f"被退回的行及退回原因：{tmp_path / 'zh.rejected.xlsx'}" in result.output
    assert "正在进行数据校验" in result.output
    assert "数据校验：新增疑似问题 " in result.output
    assert "已完成，用时 " in result.output
    assert "rows" not in result.output
    assert "Done in" not in result.output
