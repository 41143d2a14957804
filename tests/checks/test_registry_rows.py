"""Encoding registry rows column by column: the same details, summary and fingerprint as the definitions."""

import json
import tracemalloc
from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from fieldapp import idnumbers
from fieldapp.checks import registries, registry_rows
from fieldapp.checks.models import RegistryRecord
from fieldapp.extensions import db
from tests import factories
from tests.checks.builders import write_xlsx

ID = factories.id_number("19800101", 11)
OTHER_ID = factories.id_number("19900101", 12)
ID_X = "11010519491231002X"
HEADERS = ["序号", "姓名", "证件号码", "坐落地址", "面积%", "已登记", "登记时间", "共有人证件号码"]


def encoded(rows: list[list], headers: list[str] = HEADERS) -> list[tuple[dict, str, str]]:
    """Encode ``rows`` as an import does; return each row's details, summary and fingerprint."""
    skipped = {headers.index("姓名"), headers.index("证件号码")}
    details, summaries, fingerprints = registry_rows.encode_rows(
        "房产", headers, skipped, rows, [ID] * len(rows))
    return [(json.loads(text), summary, mark) for text, summary, mark in zip(details, summaries, fingerprints,
                                                                              strict=True)]


def expected(details: dict, headers: list[str] = HEADERS) -> tuple[dict, str, str]:
    return details, registry_rows.summarize(details), registry_rows.fingerprint("房产", ID, details, headers)


def test_complete_rows_match_definitions():
    rows = [
        [1.0, "张三", ID, " 县城小区1号 ", 86.5, True, datetime(2023, 5, 11), OTHER_ID],
        [2.0, "李四", ID, "县城小区2号", 120.0, False, datetime(2023, 5, 11, 8, 30), "无"],
    ]
    first, second = encoded(rows)
    assert first == expected({"序号": 1, "坐落地址": "县城小区1号", "面积%": 86.5, "已登记": True,
                              "登记时间": "2023-05-11", "共有人证件号码": OTHER_ID})
    assert second == expected({"序号": 2, "坐落地址": "县城小区2号", "面积%": 120, "已登记": False,
                               "登记时间": "2023-05-11 08:30:00", "共有人证件号码": "无"})
    assert first[1] == f"县城小区1号 86.5 True 2023-05-11 {idnumbers.mask(OTHER_ID)}"


def test_numbers_in_text_masked():
    remark = f"配偶身份证号：{OTHER_ID}，电话 13800007368；编号 123456789012345678901"
    rows = [[1.0, "张三", ID, "县城小区1号", 86.5, True, date(2023, 5, 11), remark],
            [2.0, "李四", ID, "县城小区2号", 75.0, True, date(2023, 5, 11), "无"]]
    first, second = encoded(rows)
    assert first == expected(first[0])
    assert second == expected(second[0])
    masked = f"配偶身份证号：{idnumbers.mask(OTHER_ID)}，电话 138****7368；编号 123456789012345678901"
    assert first[1].endswith(masked)
    assert OTHER_ID not in first[1]
    assert first[0]["共有人证件号码"] == remark


def test_identity_of_kinds():
    headers = ["姓名", "证件号码", "号牌号码", "车辆类型"]

    def car(plate: str, car_type: str) -> str:
        return registry_rows.fingerprint("车辆", ID, {"号牌号码": plate, "车辆类型": car_type}, headers)

    assert car("鲁M12345", "小型轿车") == car("鲁M12345", "小型越野客车")
    assert car("鲁M12345", "小型轿车") != car("鲁M54321", "小型轿车")
    dibao = ["姓名", "身份证号码", "月保障金额(元)"]
    assert (registry_rows.fingerprint("低保", ID, {"月保障金额(元)": 520}, dibao)
            == registry_rows.fingerprint("低保", ID, {"月保障金额(元)": 540}, dibao))
    custom = ["姓名", "证件号码", "残疾等级"]
    assert (registry_rows.fingerprint("残疾人", ID, {"残疾等级": "二级"}, custom)
            != registry_rows.fingerprint("残疾人", ID, {"残疾等级": "三级"}, custom))


@pytest.mark.parametrize(("first", "second"), [("坐落", "坐落地址"), ("房产证号", "不动产权证号")])
def test_renamed_identity_column_same_fingerprint(first, second):
    rows = [["张三", ID, "黄河三路82号", 96.5]]
    marks = []
    for name in (first, second):
        headers = ["姓名", "证件号码", name, "面积"]
        [(details, _summary, mark)] = encoded(rows, headers)
        assert mark == registry_rows.fingerprint("房产", ID, details, headers)
        marks.append(mark)

    assert marks[0] == marks[1]
    moved = [["张三", ID, "黄河三路83号", 96.5]]
    [(_details, _summary, other_address)] = encoded(moved, ["姓名", "证件号码", first, "面积"])
    assert other_address != marks[0]


def test_missing_cells_left_out():
    rows = [
        [1.0, "张三", ID, "  ", None, True, date(2023, 5, 11)],  # shorter than the header row
        [2.0, "李四", ID, "县城小区2号", 75.25, None, time(8, 30), ""],
    ]
    first, second = encoded(rows)
    assert first == expected({"序号": 1, "已登记": True, "登记时间": "2023-05-11"})
    assert second == expected({"序号": 2, "坐落地址": "县城小区2号", "面积%": 75.25, "登记时间": "08:30:00"})


def test_no_detail_columns():
    headers = ["姓名", "证件号码"]
    assert encoded([["张三", ID], ["李四", ID]], headers) == [expected({})] * 2


def test_reordered_columns_same_fingerprint():
    row = [1.0, "张三", ID, "县城小区1号", 86.5, True, "2023-05-11", OTHER_ID]
    order = [7, 6, 5, 4, 3, 2, 1, 0]
    [(details, _summary, mark)] = encoded([row])
    [(reordered, _summary, reordered_mark)] = encoded([[row[i] for i in order]], [HEADERS[i] for i in order])
    assert reordered == details
    assert reordered_mark == mark
    [(_details, _summary, renumbered)] = encoded([[9.0, *row[1:]]])
    assert renumbered == mark  # the row number is not part of the fingerprint


@pytest.mark.parametrize(("values", "plain"), [
    ([ID, "11010519491231002X"], True),
    (["1101051949123100X2"], False),
    (["11010519491231002x"], False),
    ([ID.replace("1", "１", 1)], False),
    ([ID, 110105194912310021], False),
    ([ID[:17] + " "], False),
    ([ID + "01"], False),
])
def test_plain_block(values, plain):
    assert registries._all_plain(values) is plain


def test_blocks_with_and_without_plain_ids(ctx, tmp_path, monkeypatch):
    monkeypatch.setattr(registries, "READ_BLOCK", 2)
    long_name = "张" * 120
    rows = [["姓名", "证件号码", "单位名称"],
            [" 张三 ", ID, "县医院"], [long_name, OTHER_ID, "县一中"],  # a block of plain ID numbers
            ["李四", ID_X.lower(), "县医院"], [None, None, None],  # normalised row by row; a blank row
            [12345, ID, "乡政府"]]  # a number as the name
    batch = registries.import_registry(write_xlsx(tmp_path / "r.xlsx", rows), "财政供养")
    stored = db.session.scalars(select(RegistryRecord).where(RegistryRecord.batch_id == batch.id)
                                .order_by(RegistryRecord.row_no)).all()
    assert [(record.row_no, record.name, record.id_number) for record in stored] == [
        (2, "张三", ID), (3, "张" * 100, OTHER_ID), (4, "李四", ID_X), (6, "12345", ID)]
    assert [record.details for record in stored] == [
        {"单位名称": "县医院"}, {"单位名称": "县一中"}, {"单位名称": "县医院"}, {"单位名称": "乡政府"}]
    assert batch.rows_read == 4


def test_columns_without_values_cost_no_memory():
    # A stray cell in column XFD makes calamine pad the header row and every row to 16,384 cells.
    headers = ["姓名", "证件号码", "坐落地址"] + [f"列{number}" for number in range(4, 16_385)]
    padding = [""] * 16_381 + ["beyond the header row"]
    rows = [["张三", ID, f"县城小区{number}号", *padding] for number in range(50)]
    tracemalloc.start()
    try:
        details, summaries, fingerprints = registry_rows.encode_rows("房产", headers, {0, 1}, rows, [ID] * 50)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20  # keeping the empty columns until the end took 75 MiB
    details_expected, summary, mark = expected({"坐落地址": "县城小区0号"})
    assert json.loads(details[0]) == details_expected
    assert summaries[0] == summary
    assert fingerprints[0] == mark


def test_repeated_header_names_stay_distinct(ctx, tmp_path):
    rows = [["姓名", "证件号码", "备注", "备注", "备注 (2)"], ["张三", ID, "一", "二", "三"]]
    batch = registries.import_registry(write_xlsx(tmp_path / "r.xlsx", rows), "房产")
    assert batch.headers == ["姓名", "证件号码", "备注", "备注 (2)", "备注 (2) (2)"]
    [record] = db.session.scalars(select(RegistryRecord).where(RegistryRecord.batch_id == batch.id)).all()
    details_expected, summary, mark = expected({"备注": "一", "备注 (2)": "二", "备注 (2) (2)": "三"},
                                               batch.headers)
    assert record.details == details_expected
    assert record.summary == summary
    assert record.fingerprint == mark
