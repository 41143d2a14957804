"""Register files that broke the import in a robustness review, and the clear rejection each needs.

Each docstring names the error the input raised before the importer checked for it.
"""

import time

import pytest
import xlsxwriter
from sqlalchemy import select

from fieldapp.errors import ImportRejected
from fieldapp.extensions import db
from fieldapp.register import services
from fieldapp.register.models import Household, Member
from tests.register import builders
from tests.register.test_rejections import rejected


@pytest.mark.parametrize("value", ["inf", "Infinity", "sNaN", "1e30", "99999999999999999999", "3000000000"])
def test_integer_out_of_range_rejected(tmp_path, english, value):
    """A 家庭人口数 that is no storable integer is a rejected cell, not a server error.

    "inf" raised OverflowError, "sNaN" decimal.InvalidOperation, "1e30" and 20 digits an OverflowError
    from SQLite when writing, and 3,000,000,000 a NumericValueOutOfRange on PostgreSQL.
    """
    rows = builders.household_rows(1, members=1, 家庭人口数=value)
    error = rejected(builders.write_csv(tmp_path / "size.csv", rows))
    [rejection] = error.rejections
    assert rejection.row == 3
    assert rejection.column == "家庭人口数"
    assert rejection.value == value


def test_huge_exponent_rejected_quickly(tmp_path, english):
    """Reject "1e100000" before int(Decimal(...)), which took 0.25 s with the interpreter lock held.

    "1e1000000" took 26 s, in which the server served no request. By extrapolation "1e10000000" takes
    about 45 minutes.
    """
    rows = builders.household_rows(1, members=1, 脱贫年度="1e100000")
    path = builders.write_csv(tmp_path / "year.csv", rows)
    started = time.monotonic()
    error = rejected(path)
    assert time.monotonic() - started < 0.2
    assert [rejection.column for rejection in error.rejections] == ["脱贫年度"]


def test_missing_division_column_rejected(tmp_path, english):
    """A register without 行政区划代码 raised KeyError: 'division_code' (an upload ended as "failed")."""
    headers = [header for header in builders.HEADERS if header != "行政区划代码"]
    rows = builders.household_rows(1, members=1)
    path = builders.write_csv(tmp_path / "no-division.csv", rows, headers=headers)
    error = rejected(path)
    assert "行政区划代码" in error.message


def test_blank_household_number_keeps_member(tmp_path, english):
    """A member row whose 户编号 is blank, as under merged household cells, must not remove the member.

    With skipped rejected rows, the row was rejected without its household, the household was
    imported from its other rows, and the member already stored was removed from the household.
    """
    rows = builders.household_rows(1, members=2)
    services.import_register(builders.write_csv(tmp_path / "whole.csv", rows))
    db.session.flush()
    merged = [rows[0], {**rows[1], "户编号": ""}]

    services.import_register(builders.write_csv(tmp_path / "merged.csv", merged), skip_rejected=True,
                             report_path=str(tmp_path / "rejected.xlsx"))
    db.session.flush()

    household = db.session.scalars(select(Household).where(Household.household_no == rows[0]["户编号"])).one()
    assert sorted(member.name for member in household.members) == sorted(row["姓名"] for row in rows)


def test_hidden_sheet_not_imported(tmp_path, english):
    """The first sheet with a header was imported even when hidden, and the visible sheet after it ignored."""
    path = str(tmp_path / "hidden.xlsx")
    workbook = xlsxwriter.Workbook(path, {"strings_to_numbers": False})
    for name, number in (("旧数据", 1), ("监测对象信息", 2)):
        sheet = workbook.add_worksheet(name)
        sheet.write_row(0, 0, builders.HEADERS)
        for line, row in enumerate(builders.household_rows(number, members=1), start=1):
            sheet.write_row(line, 0, [row.get(header, "") for header in builders.HEADERS])
        if name == "旧数据":
            sheet.hide()
    workbook.worksheets()[1].activate()
    workbook.close()

    try:
        services.import_register(path)
    except ImportRejected:
        pass  # a rejection that names the sheets is a fix too
    db.session.flush()
    hidden_number = builders.household_rows(1, members=1)[0]["户编号"]
    assert db.session.scalars(select(Household).where(Household.household_no == hidden_number)).all() == []


def test_long_csv_cell_rejected(tmp_path, english):
    """A CSV cell of more than 131,072 characters raised _csv.Error: field larger than field limit."""
    rows = builders.household_rows(1, members=1)
    rows[0]["帮扶措施"] = "x" * 200_000
    rejected(builders.write_csv(tmp_path / "long.csv", rows))


def test_nul_character_not_stored(tmp_path, english):
    """A NUL character in a cell was stored on SQLite and failed the import on PostgreSQL."""
    rows = builders.household_rows(1, members=1)
    rows[0]["姓名"] = "张\x00三"
    try:
        services.import_register(builders.write_csv(tmp_path / "nul.csv", rows))
    except ImportRejected as error:
        assert error.rejections[0].column == "姓名"
        return
    db.session.flush()
    assert "\x00" not in db.session.scalars(select(Member.name)).one()
