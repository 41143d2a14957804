"""Registry imports: synonyms, normalised ID numbers, a missing ID column, rejected rows, batches."""

from datetime import date

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from fieldapp import idnumbers
from fieldapp.audit.models import AuditRecord
from fieldapp.checks import batch_use, registries, registry_rows
from fieldapp.checks.models import RegistryBatch, RegistryRecord
from fieldapp.errors import FieldError, ImportRejected
from fieldapp.extensions import db
from tests import factories
from tests.checks.builders import vehicle_file, write_csv, write_xlsx
from tests.register.builders import FormulaError, write_duration_overflow

ID = factories.id_number("19800101", 11)  # ends in a digit
ID_X = "11010519491231002X"


@pytest.fixture
def english(app):
    with force_locale("en"):
        yield


def records(batch) -> list[RegistryRecord]:
    return list(db.session.scalars(
        select(RegistryRecord).where(RegistryRecord.batch_id == batch.id).order_by(RegistryRecord.row_no)
    ))


@pytest.mark.parametrize(("id_header", "name_header"), [
    ("证件号码", "姓名"), ("身份证明号码", "所有人姓名"), ("身份证号码", "姓名"), ("身份证号", "姓名"),
    ("公民身份号码", "姓名"), ("身份证号码（证件号码）", "权利人"), (" 身份证号 ", "姓 名"),
])
def test_synonym_headers(ctx, tmp_path, id_header, name_header):
    path = write_xlsx(tmp_path / "r.xlsx", [[name_header, id_header, "单位名称"], ["张三", ID, "县医院"]])
    batch = registries.import_registry(path, "财政供养")
    assert (batch.id_column, batch.name_column) == (id_header.strip(), name_header)
    [record] = records(batch)
    assert (record.id_number, record.name, record.details) == (ID, "张三", {"单位名称": "县医院"})


def test_vehicle_record_details(ctx, tmp_path):
    path = vehicle_file(tmp_path / "车辆.xlsx", [("李四", ID)])
    batch = registries.import_registry(path, "车辆", data_date=date(2026, 6, 30))

    [record] = records(batch)
    assert record.details == {"号牌号码": "鲁M12345", "车辆类型": "小型轿车", "初次登记日期": "2023-05-11"}
    assert record.summary == "鲁M12345 小型轿车 2023-05-11"
    assert record.row_no == 2
    assert (batch.status, batch.records_count, batch.rows_read, batch.data_date) == (
        "done", 1, 1, date(2026, 6, 30))
    entry = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "registry.import")).one()
    assert entry.detail["records"] == 1
    assert ID not in str(entry.detail)


@pytest.mark.parametrize(("written", "stored"), [
    (ID_X.lower(), ID_X),
    (" " + ID[:6] + " " + ID[6:] + "\u3000", ID),
    (ID.translate(str.maketrans("0123456789", "０１２３４５６７８９")), ID),
    ("'" + ID, ID),
    ("110105491231002", ID_X),
    (ID + "01", ID),
])
def test_id_normalised(ctx, tmp_path, written, stored):
    path = write_xlsx(tmp_path / "r.xlsx", [["姓名", "证件号码"], ["张三", written]])
    [record] = records(registries.import_registry(path, "房产"))
    assert record.id_number == stored


def test_mixed_block_keeps_row_order(ctx, tmp_path):
    ids = [factories.id_number("19800101", sequence) for sequence in range(1, 7)]
    written = [ids[0], ids[1].translate(str.maketrans("0123456789", "０１２３４５６７８９")), ids[2], "",
               ids[3], " " + ids[4], ids[5]]
    rows = [["姓名", "证件号码", "备注"]]
    for index, value in enumerate(written):
        rows.append([f"人{index}", value, f"备注{index}"] if value else ["", "", ""])
    batch = registries.import_registry(write_xlsx(tmp_path / "r.xlsx", rows), "房产")

    stored = records(batch)
    assert [record.id_number for record in stored] == ids
    assert [record.row_no for record in stored] == [2, 3, 4, 6, 7, 8]
    assert [record.name for record in stored] == ["人0", "人1", "人2", "人4", "人5", "人6"]
    assert [record.details for record in stored] == [{"备注": f"备注{index}"} for index in (0, 1, 2, 4, 5, 6)]
    assert batch.rows_read == 6


def test_widened_id_is_valid():
    assert registries.widen_id("110105491231002") == ID_X
    assert factories.idnumbers.is_valid(registries.widen_id("371622800101001"))


def test_no_id_column_lists_headers(ctx, tmp_path, english):
    path = write_xlsx(tmp_path / "r.xlsx", [["名称", "号码", "地址"], ["张三", ID, "滨州"]])
    with pytest.raises(FieldError) as raised:
        registries.import_registry(path, "房产")
    assert raised.value.field == "id_column"
    assert "名称、号码、地址" in raised.value.message
    assert db.session.scalars(select(RegistryRecord)).all() == []


def test_chosen_id_column(ctx, tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", [["名称", "号码", "地址"], ["张三", ID, "滨州"]])
    batch = registries.import_registry(path, "房产", id_column="号码", name_column="名称")
    [record] = records(batch)
    assert (record.id_number, record.name, record.details) == (ID, "张三", {"地址": "滨州"})


def test_chosen_column_must_exist(ctx, tmp_path, english):
    path = write_xlsx(tmp_path / "r.xlsx", [["名称", "号码"], ["张三", ID]])
    with pytest.raises(FieldError) as raised:
        registries.import_registry(path, "房产", id_column="身份证")
    assert "身份证" in raised.value.message
    assert "名称、号码" in raised.value.message


def test_title_row_and_date(ctx, tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", [["姓名", "证件号码", "保障类别"], ["张三", ID, "农村低保"]],
                      title="某县农村低保名册（数据截至2026年10月31日）")
    batch = registries.import_registry(path, "低保")
    assert batch.header_row == 2
    assert batch.data_date == date(2026, 10, 31)
    assert records(batch)[0].row_no == 3


def test_csv_registry(ctx, tmp_path):
    rows = [["死者姓名", "公民身份号码", "死亡日期"], ["王五", ID, "2025-06-14"]]
    path = write_csv(tmp_path / "r.csv", rows)
    [record] = records(registries.import_registry(path, "死亡人员"))
    assert (record.name, record.details) == ("王五", {"死亡日期": "2025-06-14"})


@pytest.mark.parametrize(("value", "reason"), [
    (None, "missing"), (3.71622198001011e17, "number"), ("37162219800101", "Not an ID number"),
])
def test_rejected_row_stops_import(ctx, tmp_path, english, value, reason):
    path = write_xlsx(tmp_path / "r.xlsx", [["姓名", "证件号码"], ["张三", ID], ["李四", value]])
    with pytest.raises(ImportRejected) as raised:
        registries.import_registry(path, "房产")
    [rejection] = raised.value.rejections
    assert rejection["row"] == 3
    assert rejection["column"] == "证件号码"
    assert reason in rejection["reason"]
    assert "Row 3" in raised.value.message
    assert db.session.scalars(select(RegistryRecord)).all() == []


def test_skip_rejected_rows(ctx, tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", [["姓名", "证件号码"], ["张三", ID], ["李四", "3716221980"],
                                             ["王五", ""]])
    batch = registries.import_registry(path, "房产", skip_rejected=True)
    assert [record.name for record in records(batch)] == ["张三"]
    assert (batch.rows_read, batch.rows_rejected) == (3, 2)
    assert [rejection["row"] for rejection in batch.rejections] == [3, 4]
    assert batch.rejections[0]["value"] == "**********"


@pytest.mark.parametrize("error", ["#N/A", "#VALUE!", "#REF!", "#DIV/0!"])
def test_error_id_rejected(ctx, tmp_path, english, error):
    rows = [["姓名", "证件号码"], ["张三", ID], ["李四", FormulaError(error)]]
    path = write_xlsx(tmp_path / "r.xlsx", rows)
    with pytest.raises(ImportRejected) as raised:
        registries.import_registry(path, "房产")
    [rejection] = raised.value.rejections
    assert (rejection["row"], rejection["column"], rejection["value"]) == (3, "证件号码", error)
    assert f"Excel error value {error}" in rejection["reason"]
    assert "missing" not in raised.value.message
    assert f'Row 3, column 证件号码, value "{error}"' in raised.value.message
    assert db.session.scalars(select(RegistryRecord)).all() == []


def test_error_detail_rejected(ctx, tmp_path, english):
    # Every column is kept in the details, a blank header as "列N", so an error anywhere rejects the row.
    rows = [["姓名", "证件号码", "坐落地址", ""], ["张三", ID, FormulaError("#REF!"), FormulaError("#N/A")],
            ["李四", ID_X, "县城小区2号"]]
    path = write_xlsx(tmp_path / "r.xlsx", rows)
    with pytest.raises(ImportRejected) as raised:
        registries.import_registry(path, "房产")
    assert [(r["row"], r["column"], r["value"]) for r in raised.value.rejections] == [
        (2, "坐落地址", "#REF!"), (2, "列4", "#N/A")]


def test_error_rows_skipped(ctx, tmp_path, english):
    rows = [["姓名", "证件号码"], ["张三", ID], ["李四", FormulaError("#N/A")], ["王五", ID_X]]
    batch = registries.import_registry(write_xlsx(tmp_path / "r.xlsx", rows), "房产", skip_rejected=True)
    assert [record.name for record in records(batch)] == ["张三", "王五"]
    assert (batch.rows_read, batch.rows_rejected) == (3, 1)
    assert (batch.rejections[0]["row"], batch.rejections[0]["value"]) == (3, "#N/A")


def test_unreadable_cell_rejected(ctx, tmp_path, english):
    path = write_duration_overflow(tmp_path / "r.xlsx", ["姓名", "证件号码", "时长"], ["张三", ID])
    with pytest.raises(ImportRejected) as raised:
        registries.import_registry(path, "房产")
    assert "Row 2 of sheet 成员 could not be read" in raised.value.message
    assert db.session.scalars(select(RegistryRecord)).all() == []


def test_header_only_file_rejected(ctx, tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", [["姓名", "证件号码"]])
    with pytest.raises(ImportRejected):
        registries.import_registry(path, "房产")


def test_id_like_details_masked_in_summary(ctx, tmp_path):
    spouse = factories.id_number("19820202", 22)
    path = write_xlsx(tmp_path / "r.xlsx", [["姓名", "证件号码", "共有人身份证号"], ["张三", ID, spouse]])
    [record] = records(registries.import_registry(path, "房产"))
    assert record.details == {"共有人身份证号": spouse}
    assert record.summary == factories.idnumbers.mask(spouse)


@pytest.mark.parametrize(("typed", "custom", "kind"), [
    ("车辆", False, "车辆"), ("vehicle", False, "车辆"), (" 低保 ", False, "低保"),
    ("残疾人", True, "残疾人"),
])
def test_check_kind(typed, custom, kind):
    assert registries.check_kind(typed, custom=custom) == kind


def test_unknown_kind_needs_custom(app, english):
    with pytest.raises(FieldError) as raised:
        registries.check_kind("车俩")
    assert "车俩" in raised.value.message


def test_newest_batch_in_use(ctx, tmp_path):
    path = vehicle_file(tmp_path / "车辆.xlsx", [("李四", ID)])
    older = registries.import_registry(path, "车辆", data_date=date(2026, 1, 1))
    newer = registries.import_registry(path, "车辆", data_date=date(2026, 6, 1))
    registries.import_registry(path, "车辆", data_date=date(2025, 6, 1))
    assert batch_use.ids_in_use(False) == {newer.id}
    assert older.id != newer.id


def test_same_row_same_fingerprint(ctx, tmp_path):
    path = vehicle_file(tmp_path / "车辆.xlsx", [("李四", ID)])
    first = records(registries.import_registry(path, "车辆"))[0]
    second = records(registries.import_registry(path, "车辆"))[0]
    other_kind = records(registries.import_registry(path, "custom kind", id_column="身份证明号码"))[0]
    assert first.fingerprint == second.fingerprint
    assert first.fingerprint != other_kind.fingerprint


def test_delete_batch(ctx, tmp_path):
    batch = registries.import_registry(vehicle_file(tmp_path / "车辆.xlsx", [("李四", ID)]), "车辆")
    registries.delete_batch(batch, user=None)
    assert db.session.scalars(select(RegistryBatch)).all() == []
    assert db.session.scalars(select(RegistryRecord)).all() == []
    assert batch_use.batches_in_use(False) == {}


def test_deleted_batch_id_not_reused(ctx, tmp_path, make):
    path = vehicle_file(tmp_path / "车辆.xlsx", [("李四", ID)])
    first = registries.import_registry(path, "车辆")
    first_id = first.id
    registries.delete_batch(first, user=make.user("admin", [make.CITY]))

    second = registries.import_registry(path, "车辆")

    assert second.id > first_id


def test_details_summary_fingerprint(ctx, tmp_path):
    other_id = factories.id_number("19900101", 12)
    rows = [
        ["序号", "姓名", "证件号码", "坐落地址", "建筑面积(平方米)", "共有人证件号码", "备注"],
        [1.0, " 张三 ", ID, " 县城小区1号 ", 86.5, other_id, "  "],
        [2.0, "李四", ID_X, "县城小区2号", 120.0],
        [3.0, "王五", f" {ID.replace('1', '１')} ", "", 75.25, None, "已出售"],
    ]
    batch = registries.import_registry(write_xlsx(tmp_path / "房产.xlsx", rows), "房产")
    stored = records(batch)

    assert [record.name for record in stored] == ["张三", "李四", "王五"]
    assert [record.id_number for record in stored] == [ID, ID_X, ID]
    assert stored[0].details == {"序号": 1, "坐落地址": "县城小区1号", "建筑面积(平方米)": 86.5,
                                 "共有人证件号码": other_id}
    assert stored[1].details == {"序号": 2, "坐落地址": "县城小区2号", "建筑面积(平方米)": 120}
    assert stored[2].details == {"序号": 3, "建筑面积(平方米)": 75.25, "备注": "已出售"}
    assert stored[0].summary == f"县城小区1号 86.5 {idnumbers.mask(other_id)}"
    for record in stored:
        assert record.summary == registry_rows.summarize(record.details)
        assert record.fingerprint == registry_rows.fingerprint("房产", record.id_number, record.details,
                                                               batch.headers)
    assert stored[0].fingerprint != stored[2].fingerprint
