"""Reading register files: header names, title rows, encodings, column order, unknown columns."""

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.register import services
from fieldapp.register.models import Household, Member, RegisterImport
from fieldapp.register.parsing import export_date
from tests.register import builders


def household_by_no(number: str) -> Household:
    return db.session.execute(select(Household).where(Household.household_no == number)).scalar_one()


def test_sample_headers_mapped(tmp_path, english):
    rows = builders.household_rows(1, members=2, **{"致贫返贫风险1": "因病", "致贫返贫风险2": "因学",
                                                     "风险是否消除": "否", "户类型": "监测对象",
                                                     "监测对象类别": "脱贫不稳定户"})
    path = builders.write_xlsx(tmp_path / "register.xlsx", builders.numbered(rows))

    record = services.import_register(path)

    household = household_by_no(f"{builders.VILLAGE}00001")
    assert (household.province, household.city, household.county) == ("山东省", "滨州市", "阳信县")
    assert (household.township, household.village) == ("劳店镇", "崔寨村村民委员会")
    assert household.division_code == builders.VILLAGE
    assert household.county_code == "371622000000"
    assert household.township_code == "371622107000"
    assert household.household_type == "监测对象"
    assert household.monitoring_category == "脱贫不稳定户"
    assert household.exit_year == 2017
    assert household.is_risk_eliminated is False
    assert household.risks == ["因病", "因学"]
    assert household.size == 2
    assert household.per_capita_net_income == Decimal("16237.00")
    assert household.wage_income == Decimal("29226.00")
    assert household.transfer_income == Decimal("9742.00")
    assert household.is_unsafe_house is False
    assert household.has_safe_water is True
    assert household.phone == "13800007368"
    assert household.helper_name == "程国佳"
    assert household.help_measures == ["教育帮扶", "社会帮扶", "健康帮扶"]
    assert household.longitude == pytest.approx(117.610023)
    assert household.is_demo is False
    assert household.register_import_id == record.id

    head = household.members[0]
    assert head.name == "成员1-0"
    assert head.id_type == "居民身份证"
    assert head.id_number == rows[0]["证件号码"]
    assert head.relationship_to_head == "户主"
    assert head.sex == "男"
    assert head.birth_date == date(1950, 1, 15)
    assert (head.ethnicity, head.education) == ("汉族", "初中")
    assert (head.health, head.labour_skill) == ("健康", "普通劳动力")
    assert head.months_worked == 6
    assert head.work_place == "县内"
    assert head.has_medical_insurance is True
    assert head.receives_dibao is False
    assert head.extra == {}
    assert head.source_row == 3
    assert household.members[1].relationship_to_head == "配偶"


def test_variant_headers_mapped(tmp_path, english):
    variants = {"县(市、区、旗)": "县（市、区）", "证件号码": "身份证号码",
                "年人均纯收入(元)": "年人均纯收入（元）", "务工时间(月)": "务工时间", "乡(镇)": "乡镇",
                "致贫返贫风险1": "致贫返贫风险"}
    headers = [variants.get(header, header) for header in builders.HEADERS if header != "致贫返贫风险2"]
    rows = [
        {variants.get(key, key): value for key, value in row.items()}
        for row in builders.household_rows(2, members=1, **{"致贫返贫风险1": "因病、缺劳动力",
                                                            "帮扶措施": "产业帮扶，就业帮扶,健康帮扶"})
    ]
    path = builders.write_xlsx(tmp_path / "variants.xlsx", rows, headers=headers)

    services.import_register(path)

    household = household_by_no(f"{builders.VILLAGE}00002")
    assert household.county == "阳信县"
    assert household.township == "劳店镇"
    assert household.per_capita_net_income == Decimal("16237.00")
    assert household.risks == ["因病", "缺劳动力"]
    assert household.help_measures == ["产业帮扶", "就业帮扶", "健康帮扶"]
    member = household.members[0]
    assert member.id_number == rows[0]["身份证号码"]
    assert member.months_worked == 6
    assert member.extra == {}


def test_title_rows_and_export_date(tmp_path, english):
    rows = builders.household_rows(3, members=2)
    path = builders.write_xlsx(tmp_path / "titled.xlsx", rows,
                               title_rows=("", builders.TITLE, "单位：元"))

    record = services.import_register(path)

    assert record.export_date == date(2026, 11, 30)
    household = household_by_no(f"{builders.VILLAGE}00003")
    # Rows 1-3 are titles, row 4 the header: the members are rows 5 and 6.
    assert [member.source_row for member in household.members] == [5, 6]


@pytest.mark.parametrize("title", ["（数据截至 2062年11月30日）", "（数据截至 1899年12月31日）"])
def test_export_date_out_of_range_skipped(tmp_path, english, title):
    path = builders.write_xlsx(tmp_path / "titled.xlsx", builders.household_rows(3, members=1),
                               title_rows=(title,))

    record = services.import_register(path)

    assert record.export_date is None


def test_export_date_until_tomorrow():
    tomorrow = date.today() + timedelta(days=1)
    assert export_date([[f"数据截至 {tomorrow:%Y年%m月%d日}"]]) == tomorrow
    assert export_date([[tomorrow + timedelta(days=1), "2026年1月5日"]]) == date(2026, 1, 5)


def test_no_title_row(tmp_path, english):
    path = builders.write_xlsx(tmp_path / "plain.xlsx", builders.household_rows(4, members=1), title_rows=())

    record = services.import_register(path)

    assert record.export_date is None
    assert household_by_no(f"{builders.VILLAGE}00004").members[0].source_row == 2


def test_gbk_csv(tmp_path, english):
    rows = builders.household_rows(5, members=2)
    path = builders.write_csv(tmp_path / "gbk.csv", rows, encoding="gbk")

    record = services.import_register(path)

    household = household_by_no(f"{builders.VILLAGE}00005")
    assert household.village == "崔寨村村民委员会"
    assert [member.name for member in household.members] == ["成员5-0", "成员5-1"]
    assert household.members[0].id_number == rows[0]["证件号码"]
    assert household.members[0].birth_date == date(1950, 1, 15)
    assert record.export_date == date(2026, 11, 30)


def test_utf8_bom_csv(tmp_path, english):
    rows = builders.household_rows(6, members=1)
    path = builders.write_csv(tmp_path / "bom.csv", rows, bom=True, title_rows=())

    services.import_register(path)

    household = household_by_no(f"{builders.VILLAGE}00006")
    assert household.members[0].name == "成员6-0"
    assert household.per_capita_net_income == Decimal("16237.00")


def test_utf8_csv_without_bom(tmp_path, english):
    path = builders.write_csv(tmp_path / "plain.csv", builders.household_rows(7, members=1))

    services.import_register(path)

    assert household_by_no(f"{builders.VILLAGE}00007").county == "阳信县"


def test_shuffled_columns(tmp_path, english):
    headers = list(builders.HEADERS)
    random.Random(11643).shuffle(headers)
    rows = builders.household_rows(8, members=2)
    path = builders.write_xlsx(tmp_path / "shuffled.xlsx", rows, headers=headers)

    services.import_register(path)

    household = household_by_no(f"{builders.VILLAGE}00008")
    assert household.division_code == builders.VILLAGE
    assert household.per_capita_net_income == Decimal("16237.00")
    assert [member.id_number for member in household.members] == [row["证件号码"] for row in rows]
    assert household.members[1].relationship_to_head == "配偶"


def test_unknown_columns_in_extra(tmp_path, english):
    headers = builders.HEADERS + ["备注", "是否易地搬迁", "联系人"]
    rows = builders.household_rows(9, members=2)
    rows[0].update({"备注": "=SUM(A1)", "是否易地搬迁": "否", "联系人": 12.5})
    path = builders.write_xlsx(tmp_path / "extra.xlsx", rows, headers=headers)

    services.import_register(path)

    members = household_by_no(f"{builders.VILLAGE}00009").members
    assert members[0].extra == {"备注": "=SUM(A1)", "是否易地搬迁": "否", "联系人": 12.5}
    assert members[1].extra == {}


def test_id_numbers_normalised_and_kept(tmp_path, english):
    valid = "11010519491231002X"
    wrong_check = valid[:17] + "3"
    rows = builders.household_rows(10, members=2)
    rows[0]["证件号码"] = " １１０１０５１９４９１２３１００２ｘ "
    rows[1]["证件号码"] = wrong_check
    path = builders.write_xlsx(tmp_path / "ids.xlsx", rows)

    services.import_register(path)

    members = household_by_no(f"{builders.VILLAGE}00010").members
    assert members[0].id_number == valid
    assert members[1].id_number == wrong_check


def test_text_marks_removed(tmp_path, english):
    rows = builders.household_rows(17, members=2)
    ids = [row["证件号码"] for row in rows]
    rows[0]["证件号码"] = "'" + ids[0]
    rows[1]["证件号码"] = f'="{ids[1]}"'
    rows[0]["户编号"] = rows[1]["户编号"] = f"'{builders.VILLAGE}00017"
    path = builders.write_csv(tmp_path / "marks.csv", rows)

    services.import_register(path)

    members = household_by_no(f"{builders.VILLAGE}00017").members
    assert [member.id_number for member in members] == ids


def test_dates_in_several_forms(tmp_path, english):
    rows = builders.household_rows(11, members=4)
    written_dates = ["1950-01-15", "1960/2/15", "1970年3月15日", "１９８００４１５"]
    for row, written in zip(rows, written_dates, strict=True):
        row["出生日期"] = written
    path = builders.write_csv(tmp_path / "dates.csv", rows)

    services.import_register(path)

    births = [member.birth_date for member in household_by_no(f"{builders.VILLAGE}00011").members]
    assert births == [date(1950, 1, 15), date(1960, 2, 15), date(1970, 3, 15), date(1980, 4, 15)]


def test_header_aliases_from_config(app, tmp_path, monkeypatch, english):
    monkeypatch.setitem(app.config, "REGISTER_HEADER_ALIASES", {"家庭总人口": "size"})
    headers = ["家庭总人口" if header == "家庭人口数" else header for header in builders.HEADERS]
    rows = [{("家庭总人口" if key == "家庭人口数" else key): value for key, value in row.items()}
            for row in builders.household_rows(12, members=1)]
    path = builders.write_xlsx(tmp_path / "alias.xlsx", rows, headers=headers)

    services.import_register(path)

    household = household_by_no(f"{builders.VILLAGE}00012")
    assert household.size == 1
    assert household.members[0].extra == {}


def test_records_import(tmp_path, english):
    rows = builders.household_rows(13, members=3) + builders.household_rows(14, members=2)
    path = builders.write_xlsx(tmp_path / "count.xlsx", rows)

    record = services.import_register(path)

    stored = db.session.get(RegisterImport, record.id)
    assert stored.filename == "count.xlsx"
    assert len(stored.sha256) == 64
    assert stored.status == "done"
    assert (stored.households_added, stored.members_added) == (2, 5)
    assert (stored.rows_read, stored.rows_written, stored.rows_rejected) == (5, 5, 0)
    members = db.session.execute(select(Member).join(Household).where(
        Household.household_no.in_([f"{builders.VILLAGE}00013", f"{builders.VILLAGE}00014"]))).scalars().all()
    assert len(members) == 5


def test_footer_row_skipped(tmp_path, english):
    rows = builders.household_rows(15, members=1) + [{"序号": "合计"}]
    path = builders.write_xlsx(tmp_path / "footer.xlsx", rows)

    record = services.import_register(path)

    assert record.rows_rejected == 0
    assert record.members_added == 1


def test_demo_flag(tmp_path, english):
    path = builders.write_xlsx(tmp_path / "demo.xlsx", builders.household_rows(16, members=1))

    services.import_register(path, is_demo=True)

    household = household_by_no(f"{builders.VILLAGE}00016")
    assert household.is_demo is True
