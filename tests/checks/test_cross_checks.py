"""Cross-checks: matching members against the newest registry batch of each kind."""

from datetime import date

import pytest
from flask_babel import force_locale

from fieldapp.checks import batch_use, registries
from fieldapp.checks import settings as check_settings
from fieldapp.checks.rules import RULES, RunContext
from fieldapp.checks.services import problem_detail, run_checks, scope_clause
from fieldapp.extensions import db
from tests.checks.builders import vehicle_file, write_xlsx
from tests.checks.support import hits, problems

KIND_FILES = {
    "房产": (["姓名", "证件号码", "坐落地址", "建筑面积(平方米)", "登记日期"],
           ["滨州市黄河5路1号", 84.9, "2019-09-21"], "cross_housing",
           "房产: 滨州市黄河5路1号 84.9 2019-09-21"),
    "工商登记": (["姓名", "证件号码", "市场主体名称", "人员身份"], ["劳店镇农资有限公司", "法定代表人"],
             "cross_business", "工商登记: 劳店镇农资有限公司 法定代表人"),
    "财政供养": (["姓名", "身份证号", "单位名称", "人员类别"], ["阳信县卫生健康局", "在编人员"],
             "cross_payroll", "财政供养: 阳信县卫生健康局 在编人员"),
    "死亡人员": (["姓名", "公民身份号码", "死亡日期", "户籍状态"], ["2025-06-14", "户籍已注销"],
             "cross_deceased", "死亡人员: 2025-06-14 户籍已注销"),
}


def import_rows(tmp_path, kind, headers, rows, **options):
    path = write_xlsx(tmp_path / f"{kind}-{len(rows)}.xlsx", [headers, *rows])
    return registries.import_registry(path, registries.check_kind(kind, custom=options.pop("custom", False)),
                                      **options)


def test_vehicle_match(ctx, make, tmp_path):
    household = make.household(members=2)
    owner = household.members[1]
    batch = registries.import_registry(vehicle_file(tmp_path / "车辆.xlsx", [(owner.name, owner.id_number)]),
                                       "车辆")

    summary = run_checks()

    [problem] = problems("cross_vehicle")
    assert (problem.household_id, problem.member_id) == (household.id, owner.id)
    assert problem.registry_record.batch_id == batch.id
    assert problem.detail == "车辆: 鲁M12345 小型轿车 2023-05-11"
    assert problem.key.startswith(f"cross_vehicle:{household.id}:{owner.id}:")
    assert summary.by_rule["cross_vehicle"] == 1


@pytest.mark.parametrize("kind", list(KIND_FILES))
def test_each_kind_matches(ctx, make, tmp_path, kind):
    headers, details, rule_id, detail = KIND_FILES[kind]
    household = make.household(members=2)
    member = household.members[0]
    stranger = make.household(members=1, is_demo=True).members[0]
    import_rows(tmp_path, kind, headers, [[member.name, member.id_number, *details],
                                          [stranger.name, "371602195005059857", *details]])
    run_checks()
    [problem] = problems(rule_id)
    assert problem.member_id == member.id
    assert problem.detail == detail


def test_normalised_id_matches(ctx, make, tmp_path):
    household = make.household(members=1)
    member = household.members[0]
    member.id_number, member.birth_date, member.sex = "11010519491231002X", date(1949, 12, 31), "女"
    db.session.flush()
    registries.import_registry(vehicle_file(tmp_path / "车辆.xlsx", [(member.name, " 11010519491231002x ")]),
                               "车辆")
    run_checks()
    assert hits("cross_vehicle") == [(household.id, member.id)]


def test_name_difference_noted(ctx, make, tmp_path):
    member = make.household(members=1).members[0]
    registries.import_registry(vehicle_file(tmp_path / "车辆.xlsx", [("别人", member.id_number)]), "车辆")
    run_checks()
    [problem] = problems("cross_vehicle")
    assert problem.detail_values["name_differs"] == 1
    with force_locale("en"):
        assert problem_detail(problem) == ("车辆: 鲁M12345 小型轿车 2023-05-11. The name in the registry "
                                           "differs from the register.")


def test_two_vehicles_two_problems(ctx, make, tmp_path):
    member = make.household(members=1).members[0]
    owners = [(member.name, member.id_number), (member.name, member.id_number)]
    registries.import_registry(vehicle_file(tmp_path / "车辆.xlsx", owners), "车辆")
    run_checks()
    assert sorted(p.detail for p in problems("cross_vehicle")) == [
        "车辆: 鲁M12345 小型轿车 2023-05-11", "车辆: 鲁M12346 小型轿车 2023-05-11"]


def test_demo_registry_not_used_for_real(ctx, make, tmp_path):
    member = make.household(members=1).members[0]
    import_vehicles(tmp_path, [member], is_demo=True)
    run_checks()
    assert hits("cross_vehicle") == []


def test_disability_certificate_matched(ctx, make, tmp_path):
    member = make.household(members=1).members[0]
    import_vehicles(tmp_path, [member])
    member.id_type, member.id_number = "残疾人证", member.id_number + "42"
    db.session.flush()
    run_checks()
    assert hits("cross_vehicle") == [(member.household_id, member.id)]


def test_first_generation_id_matched(ctx, make, tmp_path):
    member = make.household(members=1).members[0]
    member.id_number = "371622800101001"
    member.receives_dibao = True
    db.session.flush()
    # Registries store the 18-character form.
    path = vehicle_file(tmp_path / "车辆.xlsx", [(member.name, "371622198001010019")])
    registries.import_registry(path, "车辆")
    # The 低保 registry writes the 15 digits, which its import widens.
    dibao = [[member.name, "371622800101001", "农村低保", 520, "2024-01-01"]]
    import_rows(tmp_path, "低保", DIBAO_HEADERS, dibao)

    run_checks()

    assert hits("cross_vehicle") == [(member.household_id, member.id)]
    assert hits("cross_dibao_register_only") == []


def import_vehicles(tmp_path, members, **options):
    path = tmp_path / f"车辆-{len(list(tmp_path.iterdir()))}.xlsx"
    return registries.import_registry(vehicle_file(path, [(m.name, m.id_number) for m in members]), "车辆",
                                      **options)


DIBAO_HEADERS = ["姓名", "身份证号码", "保障类别", "月保障金额(元)", "保障起始日期"]


def test_dibao_both_directions(ctx, make, tmp_path):
    household = make.household(members=4)
    agreed, registry_only, register_only, neither = household.members
    agreed.receives_dibao = True
    registry_only.receives_dibao = False
    register_only.receives_dibao = True
    neither.receives_dibao = None
    db.session.flush()
    rows = [[m.name, m.id_number, "农村低保", 520, "2024-01-01"] for m in (agreed, registry_only)]
    import_rows(tmp_path, "低保", DIBAO_HEADERS, rows, data_date=date(2026, 6, 30))

    run_checks()

    [only_registry] = problems("cross_dibao_registry_only")
    assert only_registry.member_id == registry_only.id
    assert only_registry.detail.startswith("低保: 农村低保 520 2024-01-01")
    [only_register] = problems("cross_dibao_register_only")
    assert only_register.member_id == register_only.id
    assert only_register.registry_record_id is None
    assert only_register.detail_values == {"kind": "低保", "data_date": "2026-06-30"}


def test_dibao_lists_certificate_holder(ctx, make, tmp_path):
    holder = make.household(members=1).members[0]
    id_number = holder.id_number
    holder.id_type, holder.id_number, holder.receives_dibao = "残疾证", id_number + "42", True
    db.session.flush()
    import_rows(tmp_path, "低保", DIBAO_HEADERS, [[holder.name, id_number, "农村低保", 520, "2024-01-01"]])

    run_checks()

    assert problems("cross_dibao_register_only") == []
    assert problems("cross_dibao_registry_only") == []


def test_dibao_register_only_needs_registry(ctx, make):
    household = make.household(members=1)
    household.members[0].receives_dibao = True
    db.session.flush()
    run_checks()
    assert problems("cross_dibao_register_only") == []


def test_newer_batch_replaces_older(ctx, make, tmp_path):
    household = make.household(members=2)
    kept, dropped = household.members
    import_vehicles(tmp_path, [kept, dropped], data_date=date(2026, 1, 1))
    run_checks()
    before = {p.member_id: p for p in problems("cross_vehicle")}
    kept_problem_id, old_record_id = before[kept.id].id, before[kept.id].registry_record_id

    newer = import_vehicles(tmp_path, [kept], data_date=date(2026, 6, 1))
    summary = run_checks()

    after = {p.member_id: p for p in problems("cross_vehicle")}
    assert after[kept.id].id == kept_problem_id
    assert after[kept.id].status == "open"
    assert after[kept.id].registry_record_id != old_record_id
    assert after[kept.id].registry_record.batch_id == newer.id
    assert after[dropped.id].status == "resolved_by_data"
    assert (summary.kept, summary.resolved) == (1, 1)


def test_next_month_amount_keeps_problem(ctx, make, tmp_path):
    member = make.household(members=1).members[0]
    member.receives_dibao = False
    db.session.flush()
    may = [[member.name, member.id_number, "农村低保", 520, "2024-01-01"]]
    import_rows(tmp_path, "低保", DIBAO_HEADERS, may, data_date=date(2026, 5, 31))
    run_checks()
    [before] = problems("cross_dibao_registry_only")

    june = tmp_path / "june"
    june.mkdir()
    import_rows(june, "低保", DIBAO_HEADERS,
                [[member.name, member.id_number, "农村低保", 540, "2024-01-01"]], data_date=date(2026, 6, 30))
    summary = run_checks()

    [after] = problems("cross_dibao_registry_only")
    assert after.id == before.id
    assert after.status == "open"
    assert after.detail.startswith("低保: 农村低保 540")
    assert (summary.opened, summary.resolved) == (0, 0)


def test_deleted_batch_resolves_problems(ctx, make, tmp_path):
    member = make.household(members=1).members[0]
    batch = import_vehicles(tmp_path, [member])
    run_checks()
    registries.delete_batch(batch, user=None)
    db.session.expire_all()
    [problem] = problems("cross_vehicle")
    assert problem.registry_record_id is None
    run_checks()
    assert problems("cross_vehicle")[0].status == "resolved_by_data"


def test_custom_kind(ctx, make, tmp_path):
    member = make.household(members=1).members[0]
    import_rows(tmp_path, "企业职工养老保险", ["姓名", "证件号码", "参保单位"],
                [[member.name, member.id_number, "某公司"]], custom=True)
    run_checks()
    [problem] = problems("cross_custom")
    assert problem.detail == "企业职工养老保险: 某公司"


def test_cross_check_scope(ctx, make, tmp_path):
    inside = make.household(make.LAODIAN_VILLAGE, members=1).members[0]
    outside = make.household(make.SHUIWAN_VILLAGE, members=1).members[0]
    owners = [(inside.name, inside.id_number), (outside.name, outside.id_number)]
    registries.import_registry(vehicle_file(tmp_path / "车辆.xlsx", owners), "车辆")
    run_checks(division_prefixes=[make.LAODIAN[:9]])
    assert hits("cross_vehicle") == [(inside.household_id, inside.id)]


def test_stored_detail_matches_describe(app, ctx, make, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "zh_CN")
    household = make.household(members=4)
    vehicle_owner, renamed, dibao_listed, custom_listed = household.members
    dibao_listed.receives_dibao = False
    db.session.flush()
    registries.import_registry(vehicle_file(tmp_path / "车辆.xlsx", [
        (vehicle_owner.name, vehicle_owner.id_number), ("别人", renamed.id_number)]), "车辆")
    dibao_row = ["别人", dibao_listed.id_number, "农村低保", 520, "2024-01-01"]
    import_rows(tmp_path, "低保", DIBAO_HEADERS, [dibao_row])
    import_rows(tmp_path, "企业职工养老保险", ["姓名", "证件号码", "参保单位"],
                [[custom_listed.name, custom_listed.id_number, ""]], custom=True)

    run_checks()

    stored = {problem.rule_id: problem for problem in problems() if problem.rule_id.startswith("cross_")}
    assert set(stored) == {"cross_vehicle", "cross_dibao_registry_only", "cross_custom"}
    assert len(problems("cross_vehicle")) == 2
    with force_locale("zh_CN"):
        for problem in problems():
            assert problem.detail == RULES[problem.rule_id].describe(problem.detail_values)
    renamed_problem = next(p for p in problems("cross_vehicle") if p.member_id == renamed.id)
    assert renamed_problem.detail == "车辆：鲁M12346 小型轿车 2023-05-11。部门比对数据中的姓名与台账不一致。"
    assert stored["cross_dibao_registry_only"].detail == (
        "低保：农村低保 520 2024-01-01。部门比对数据中的姓名与台账不一致，且台账未登记该家庭成员享受低保。")
    assert stored["cross_custom"].detail == "企业职工养老保险"


def test_shared_query_finds_each_rule_hits(ctx, make, tmp_path):
    household = make.household(members=3)
    owner, listed, dibao = household.members
    dibao.receives_dibao = True
    db.session.flush()
    registries.import_registry(vehicle_file(tmp_path / "车辆.xlsx", [(owner.name, owner.id_number)]), "车辆")
    for kind, (headers, details, _, _) in KIND_FILES.items():
        import_rows(tmp_path, kind, headers, [[listed.name, listed.id_number, *details]])
    import_rows(tmp_path, "低保", DIBAO_HEADERS, [[m.name, m.id_number, "农村低保", 520, "2024-01-01"]
                                                for m in (owner, dibao)])
    context = RunContext(scope=scope_clause(False, None), is_demo=False, settings=check_settings.load(False),
                         batches=batch_use.batches_in_use(False))
    rules = [rule for rule in RULES.values() if rule.shared_query is not None]

    shared = db.session.execute(rules[0].shared_query(context, rules)).mappings().all()

    for rule in rules:
        alone = db.session.execute(rule.query(context)).mappings().all()
        assert sorted((row["member_id"], row["registry_record_id"]) for row in alone) == sorted(
            (row["member_id"], row["registry_record_id"]) for row in shared if row["rule_id"] == rule.id)
    assert {row["rule_id"] for row in shared} == {
        "cross_vehicle", "cross_housing", "cross_business", "cross_payroll", "cross_deceased",
        "cross_dibao_registry_only",
    }
