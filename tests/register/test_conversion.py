"""Cell conversion: the per-column converters agree with the full conversion, and rows group by household."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.register import columns, parsing, services
from fieldapp.register.models import Household
from tests.register import builders

# Cells in the forms exports use and the forms the shortcuts must leave to the full conversion.
CELLS = [
    "", "  ", None, "是", "否", "Y", "abc", " 户主 ",
    "20250101", "2025-01-01", "20251301", "２０２５０１０１",
    "371622195001150011", "37162219500115001x", "３７１６２２１９５００１１５００１１", "'371622195001150011",
    "3.71622E+17", "13800007368", "０１６", "016", "1e5", "12,345.5", "x" * 200, "1" * 50,
    0.0, 1.0, 2.0, 2017.0, 117.61, 1e13, -5.5, float("nan"), float("inf"), float("-inf"), 1e30, -1.0, 13.0,
    12.0, 999.0, 1000.0, "1e1000000", "-0", 1, True, False,
    date(2020, 1, 2), datetime(2020, 1, 2, 3, 4),
]


def full_outcome(column: columns.Column, cell):
    try:
        value = parsing._convert(column, cell)
        parsing._check_length(column, value)
    except parsing.CellError as error:
        return "rejected", str(error)
    return "value", type(value), value


def converter_outcome(convert, cell):
    try:
        value = convert(cell)
    except parsing.CellError as error:
        return "rejected", str(error)
    return "value", type(value), value


@pytest.mark.parametrize("column", columns.COLUMNS, ids=lambda column: column.field)
def test_converter_matches_full_conversion(english, column):
    convert = parsing.column_converter(column)
    # Twice, so that the second pass meets the outcomes the converter kept.
    for cell in CELLS + CELLS:
        expected = full_outcome(column, cell)
        if isinstance(cell, float) and cell != cell:
            assert converter_outcome(convert, cell)[0] == expected[0]
            continue
        assert converter_outcome(convert, cell) == expected, cell


def test_bool_and_number_cells_kept_apart(english):
    convert = parsing.column_converter(columns.BY_FIELD["education"])
    converted = [convert(1.0), convert(True), convert(1), convert(False), convert(0.0)]
    assert converted == ["1", "TRUE", "1", "FALSE", "0"]


def test_list_values_not_shared(english):
    convert = parsing.column_converter(columns.BY_FIELD["help_measures"])
    first = convert("教育帮扶、健康帮扶")
    first.append("changed")
    assert convert("教育帮扶、健康帮扶") == ["教育帮扶", "健康帮扶"]


def test_interleaved_household_rows(tmp_path, english):
    first = builders.household_rows(1, members=3)
    second = builders.household_rows(2, members=1)
    rows = [first[0], first[1], second[0], first[2]]
    record = services.import_register(builders.write_xlsx(tmp_path / "interleaved.xlsx", rows))

    household = db.session.execute(
        select(Household).where(Household.household_no == f"{builders.VILLAGE}00001")
    ).scalar_one()
    assert [member.name for member in household.members] == ["成员1-0", "成员1-1", "成员1-2"]
    assert [member.position for member in household.members] == [0, 1, 2]
    assert [member.source_row for member in household.members] == [3, 4, 6]
    assert (record.households_added, record.members_added) == (2, 4)
    assert record.message == ""


def test_interleaved_rows_disagreeing(tmp_path, english):
    first = builders.household_rows(1, members=2)
    later = builders.household_rows(1, members=3, **{"年人均纯收入(元)": 9000.0, "家庭人口数": 2.0})[2]
    rows = [*first, *builders.household_rows(2, members=1), later]
    record = services.import_register(builders.write_xlsx(tmp_path / "disagree.xlsx", rows))

    household = db.session.execute(
        select(Household).where(Household.household_no == f"{builders.VILLAGE}00001")
    ).scalar_one()
    assert household.per_capita_net_income == Decimal("16237.00")
    assert len(household.members) == 3
    assert f"Household {builders.VILLAGE}00001: rows 3, 4, 6 disagree on 年人均纯收入(元);" in record.message


def test_interleaved_rows_mixed_division_rejected(tmp_path, english):
    first = builders.household_rows(1, members=2)
    moved = {**builders.household_rows(1, members=3)[2], "行政区划代码": "371622107002"}
    rows = [*first, *builders.household_rows(2, members=1), moved]
    record = services.import_register(builders.write_xlsx(tmp_path / "mixed.xlsx", rows), skip_rejected=True)

    assert record.rows_rejected == 3
    assert {rejection["row"] for rejection in record.rejections} == {3, 4, 6}
    assert (record.households_added, record.members_added) == (1, 1)
