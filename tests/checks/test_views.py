"""Check pages: roles, the run button and its progress, the problem list, evidence, settings, registries."""

import io
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from fieldapp.audit.models import AuditRecord
from fieldapp.checks import queries, registries
from fieldapp.checks import settings as check_settings
from fieldapp.checks.models import CheckRun, RegistryBatch, RegistryRecord, SuspectedProblem
from fieldapp.checks.rules import RULES
from fieldapp.checks.services import run_checks
from fieldapp.db_types import utcnow
from fieldapp.extensions import db
from tests.checks.builders import vehicle_file, write_xlsx
from tests.checks.support import problems, running_run
from tests.conftest import login

PAGES = ["/checks/", "/checks/problems"]
ADMIN_PAGES = ["/checks/settings", "/checks/registries"]


def break_birth_date(household):
    household.members[0].birth_date = date(1979, 5, 5)
    db.session.flush()


@pytest.mark.parametrize("url", PAGES + ADMIN_PAGES)
def test_anonymous_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("url", PAGES + ADMIN_PAGES)
def test_inspector_gets_404(client, make, url):
    login(client, make.user("inspector", [make.LAODIAN]))
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_supervisor_not_in_admin_pages(client, make, url):
    login(client, make.user("supervisor", [make.LAODIAN]))
    assert client.get(url).status_code == 404


def test_summary_counts(en_client, make):
    break_birth_date(make.household(make.LAODIAN_VILLAGE))
    make.household(make.SHUIWAN_VILLAGE)
    run_checks()
    login(en_client, make.user("admin", [make.YANGXIN]))

    page = en_client.get("/checks/")

    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Birth date differs from ID number" in text
    assert "/checks/problems?rule=id_birth_date_mismatch" in text
    assert "劳店镇" in text
    assert "Run all checks and cross-checks" in text


def test_run_button(en_client, make, sync_jobs):
    break_birth_date(make.household())
    supervisor = make.user("supervisor", [make.LAODIAN])
    login(en_client, supervisor)

    response = en_client.post("/checks/run")

    run = db.session.scalars(select(CheckRun)).one()
    assert response.status_code == 302
    assert response.headers["Location"] == f"/checks/runs/{run.id}"
    assert (run.status, run.source, run.started_by_id) == ("done", "page", supervisor.id)
    assert run.division_prefixes == [make.LAODIAN[:9]]
    assert run.opened == 1
    assert run.steps_done == run.steps_total
    assert [p.rule_id for p in problems()] == ["id_birth_date_mismatch"]
    page = en_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "1 problems opened" in page
    status = en_client.get(f"/checks/runs/{run.id}/status.json").get_json()
    assert (status["status"], status["finished"]) == ("done", True)
    actions = set(db.session.scalars(select(AuditRecord.action)))
    assert {"checks.run_start", "checks.run"} <= actions


def test_run_touches_only_own_township(en_client, make, sync_jobs):
    laodian = make.household(make.LAODIAN_VILLAGE)
    shuiwan = make.household(make.SHUIWAN_VILLAGE)
    break_birth_date(laodian)
    break_birth_date(shuiwan)
    login(en_client, make.user("supervisor", [make.LAODIAN]))
    en_client.post("/checks/run")
    assert [p.household_id for p in problems()] == [laodian.id]


def test_run_in_progress_not_doubled(en_client, make, sync_jobs):
    admin = make.user("admin", [make.YANGXIN])
    running = CheckRun(is_demo=False, status="running", source="page", started_by_id=admin.id,
                       division_prefixes=[make.YANGXIN[:6]])
    db.session.add(running)
    db.session.flush()
    login(en_client, admin)

    response = en_client.post("/checks/run")

    assert response.headers["Location"] == f"/checks/runs/{running.id}"
    assert len(db.session.scalars(select(CheckRun)).all()) == 1


def test_run_page_while_running(en_client, make):
    admin = make.user("admin", [make.YANGXIN])
    run = CheckRun(is_demo=False, status="running", source="page", started_by_id=admin.id, steps_total=40,
                   steps_done=12, current_rule="id_sex_mismatch", division_prefixes=[make.YANGXIN[:6]])
    db.session.add(run)
    db.session.flush()
    login(en_client, admin)
    text = en_client.get(f"/checks/runs/{run.id}").get_data(as_text=True)
    assert "import_status.js" in text
    assert "Sex differs from ID number" in text
    assert en_client.get(f"/checks/runs/{run.id}/status.json").get_json()["rows_read"] == 12


def test_other_supervisors_run_hidden(en_client, make):
    other = make.user("supervisor", [make.LAODIAN])
    run = CheckRun(is_demo=False, status="done", source="page", started_by_id=other.id)
    db.session.add(run)
    db.session.flush()
    login(en_client, make.user("supervisor", [make.LAODIAN]))
    assert en_client.get(f"/checks/runs/{run.id}").status_code == 404


@pytest.fixture
def city_and_county_runs(make):
    """Finished runs: the city administrator's, one over every division, and 惠民县's administrator's own."""
    # Households in two counties, so that a run over every division is wider than one county.
    make.household(make.HUIMIN_VILLAGE)
    make.household(make.LAODIAN_VILLAGE)
    city_admin = make.user("admin", [make.CITY])
    county_admin = make.user("admin", [make.HUIMIN])
    runs = {
        "city": CheckRun(is_demo=False, status="done", source="page", started_by_id=city_admin.id,
                         division_prefixes=[make.CITY[:4]], opened=422, kept=31, resolved=17),
        "every": CheckRun(is_demo=False, status="done", source="command", division_prefixes=None,
                          opened=77, kept=12, resolved=3),
        "county": CheckRun(is_demo=False, status="done", source="page", started_by_id=county_admin.id,
                           division_prefixes=[make.HUIMIN[:6]], opened=5, kept=2, resolved=1),
    }
    db.session.add_all(runs.values())
    db.session.flush()
    return city_admin, county_admin, runs


def test_runs_list_hides_wider_runs(en_client, city_and_county_runs):
    _city_admin, county_admin, runs = city_and_county_runs
    login(en_client, county_admin)

    text = en_client.get("/checks/").get_data(as_text=True)

    assert "5 opened, 2 kept, 1 resolved" in text
    assert f'href="/checks/runs/{runs["county"].id}"' in text
    assert "422 opened" not in text
    assert "77 opened" not in text
    assert f'href="/checks/runs/{runs["city"].id}"' not in text
    assert f'href="/checks/runs/{runs["every"].id}"' not in text


@pytest.mark.parametrize("key", ["city", "every"])
def test_wider_run_page_not_found(en_client, city_and_county_runs, key):
    _city_admin, county_admin, runs = city_and_county_runs
    login(en_client, county_admin)
    assert en_client.get(f"/checks/runs/{runs[key].id}").status_code == 404
    assert en_client.get(f"/checks/runs/{runs[key].id}/status.json").status_code == 404


def test_city_admin_sees_every_run(en_client, city_and_county_runs):
    city_admin, _county_admin, runs = city_and_county_runs
    login(en_client, city_admin)

    text = en_client.get("/checks/").get_data(as_text=True)

    for counts in ("422 opened, 31 kept, 17 resolved", "77 opened, 12 kept, 3 resolved",
                   "5 opened, 2 kept, 1 resolved"):
        assert counts in text
    for run in runs.values():
        response = en_client.get(f"/checks/runs/{run.id}")
        assert response.status_code == 200
        assert f"{run.opened} problems opened" in response.get_data(as_text=True)


def test_runs_list_reads_past_hidden_runs(en_client, make, city_and_county_runs, monkeypatch):
    """Five newer runs the county administrator may not see do not push their own run off the list."""
    monkeypatch.setattr(queries, "RUNS_CHUNK", 2)  # the hidden runs then fill several chunks
    city_admin, county_admin, runs = city_and_county_runs
    for _ in range(5):
        db.session.add(CheckRun(is_demo=False, status="done", source="page", started_by_id=city_admin.id,
                                division_prefixes=[make.CITY[:4]], opened=9))
    db.session.flush()
    login(en_client, county_admin)

    text = en_client.get("/checks/").get_data(as_text=True)

    assert f'href="/checks/runs/{runs["county"].id}"' in text


def test_run_of_former_divisions_hidden(en_client, make):
    """A supervisor moved to another township no longer sees the counts of a run of the old one."""
    supervisor = make.user("supervisor", [make.LAODIAN])
    run = CheckRun(is_demo=False, status="done", source="page", started_by_id=supervisor.id,
                   division_prefixes=[make.SHUIWAN[:9]], opened=8)
    db.session.add(run)
    db.session.flush()
    login(en_client, supervisor)
    assert en_client.get(f"/checks/runs/{run.id}").status_code == 404
    assert "8 opened" not in en_client.get("/checks/").get_data(as_text=True)


def test_problem_list_filters(en_client, make):
    laodian = make.household(make.LAODIAN_VILLAGE)
    shuiwan = make.household(make.SHUIWAN_VILLAGE)
    break_birth_date(laodian)
    break_birth_date(shuiwan)
    shuiwan.members[1].sex = "男"
    db.session.flush()
    run_checks()
    login(en_client, make.user("admin", [make.YANGXIN]))

    def listed(query):
        text = en_client.get(f"/checks/problems?{query}").get_data(as_text=True)
        return text.count('href="/checks/problems/')

    assert listed("") == 3
    assert listed("rule=id_sex_mismatch") == 1
    assert listed(f"township={make.SHUIWAN}") == 2
    assert listed(f"village={make.LAODIAN_VILLAGE}") == 1
    assert listed("severity=2") == 3
    assert listed("severity=3") == 0
    assert listed("rule=no_such_rule") == 3
    text = en_client.get(f"/checks/problems?rule=no_such_rule&severity=9&township={make.SHUIWAN}"
                         f"&village={make.LAODIAN_VILLAGE}").get_data(as_text=True)
    assert "no_such_rule is not one of the choices, so this filter is not applied." in text
    assert "9 is not one of the choices" in text
    assert "崔寨村村民委员会 is not one of the choices" in text
    assert f"{make.SHUIWAN} is not one of the choices" not in text
    assert "is not one of the choices" not in en_client.get("/checks/problems?rule=id_sex_mismatch").get_data(
        as_text=True)


def test_problem_list_scope(en_client, make):
    break_birth_date(make.household(make.LAODIAN_VILLAGE))
    outside = make.household(make.HUIMIN_VILLAGE)
    break_birth_date(outside)
    run_checks()
    login(en_client, make.user("supervisor", [make.YANGXIN]))
    text = en_client.get("/checks/problems").get_data(as_text=True)
    assert text.count('href="/checks/problems/') == 1
    assert outside.household_no not in text
    other = next(p for p in problems() if p.household_id == outside.id)
    assert en_client.get(f"/checks/problems/{other.id}").status_code == 404


def test_problem_list_pages(en_client, make):
    for _ in range(3):
        break_birth_date(make.household())
    run_checks()
    login(en_client, make.user("admin", [make.YANGXIN]))
    from fieldapp.checks import queries

    page = queries.problems_page(make.user("admin", [make.YANGXIN]), queries.ProblemFilters(), page=2,
                                 per_page=2)
    assert (page.page, page.pages, page.total, len(page.problems)) == (2, 2, 3, 1)


def test_problem_list_page_past_end(en_client, make):
    break_birth_date(make.household())
    run_checks()
    login(en_client, make.user("admin", [make.YANGXIN]))

    response = en_client.get("/checks/problems?page=99")

    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Page 99 does not exist; the list has 1 page. Showing page 1." in text
    assert text.count('href="/checks/problems/') == 1
    assert "page-notice" not in en_client.get("/checks/problems?page=1").get_data(as_text=True)


def test_problem_list_page_notice_chinese(client, app, make, monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "zh_CN")
    break_birth_date(make.household())
    run_checks()
    login(client, make.user("admin", [make.YANGXIN]))

    past_end = client.get("/checks/problems?page=99").get_data(as_text=True)
    not_number = client.get("/checks/problems?page=abc").get_data(as_text=True)

    assert "第 99 页不存在，共 1 页；显示第 1 页。" in past_end
    assert "页码“abc”无效，页码应为从 1 开始的整数；显示第 1 页。" in not_number
    assert not_number.count('href="/checks/problems/') == 1


def queued_batch(admin, **fields) -> RegistryBatch:
    batch = RegistryBatch(kind="车辆", data_date=date(2026, 6, 30), filename="车辆.xlsx", sha256="0" * 64,
                          imported_by_id=admin.id, headers=["姓名", "证件号码"], id_column="证件号码",
                          status="queued", **fields)
    db.session.add(batch)
    db.session.flush()
    return batch


def test_registry_progress_total_unknown(client, app, make, monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "zh_CN")
    admin = make.user("admin", [make.YANGXIN])
    batch = queued_batch(admin)
    login(client, admin)

    text = client.get(f"/checks/registries/{batch.id}").get_data(as_text=True)

    assert '<span data-total="unknown" >（开始处理后显示总数）</span>' in text
    assert '<span data-total="known" hidden> / <span data-field="rows_total">0</span></span>' in text
    assert "/ ?" not in text
    assert "?</span>" not in text


def test_registry_progress_total_known(en_client, make):
    admin = make.user("admin", [make.YANGXIN])
    batch = queued_batch(admin, rows_read=40, rows_total=100)
    login(en_client, admin)

    text = en_client.get(f"/checks/registries/{batch.id}").get_data(as_text=True)

    assert '<span data-total="known" > / <span data-field="rows_total">100</span></span>' in text
    assert '<span data-total="unknown" hidden>(the total is shown once the work starts)</span>' in text


def test_problem_evidence(en_client, make, tmp_path):
    household = make.household()
    owner = household.members[0]
    registries.import_registry(vehicle_file(tmp_path / "车辆.xlsx", [(owner.name, owner.id_number)]), "车辆",
                               data_date=date(2026, 6, 30))
    run_checks()
    [problem] = problems("cross_vehicle")
    login(en_client, make.user("supervisor", [make.LAODIAN]))

    page = en_client.get(f"/checks/problems/{problem.id}")

    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "车辆: 鲁M12345 小型轿车 2023-05-11" in text
    assert "Evidence: 车辆 registry" in text
    assert "号牌号码" in text and "鲁M12345" in text
    assert "2026-06-30" in text
    assert owner.id_number not in text
    assert owner.id_number[:6] + "********" + owner.id_number[-4:] in text
    assert "Fields read</dt><dd>证件号码</dd>" in text


def test_problem_of_removed_member_names_them(en_client, make):
    household = make.household()
    problem = SuspectedProblem(key=f"id_sex_mismatch:{household.id}:gone", rule_id="id_sex_mismatch",
                               household=household, former_member_name="王五", detail="性别与证件号码不符")
    db.session.add(problem)
    db.session.flush()
    login(en_client, make.user("supervisor", [make.LAODIAN]))

    text = en_client.get(f"/checks/problems/{problem.id}").get_data(as_text=True)
    listed = en_client.get("/checks/problems").get_data(as_text=True)

    assert "王五 · no longer in the household" in text
    assert "· 王五" in listed


def test_household_page_lists_problems(en_client, make, tmp_path):
    household = make.household()
    owner = household.members[0]
    registries.import_registry(vehicle_file(tmp_path / "车辆.xlsx", [(owner.name, owner.id_number)]), "车辆")
    run_checks()
    login(en_client, make.user("admin", [make.YANGXIN]))
    text = en_client.get(f"/register/households/{household.id}").get_data(as_text=True)
    assert "Owns a vehicle" in text
    assert "车辆: 鲁M12345 小型轿车 2023-05-11" in text


def test_household_page_names_switched_off_rule(en_client, make):
    household = make.household(members=2)
    household.members[0].birth_date = date(1979, 5, 5)
    household.members[1].birth_date = date(1979, 5, 5)
    db.session.flush()
    run_checks()
    household.members[1].birth_date = date(1980, 1, 1)
    db.session.flush()
    run_checks()
    check_settings.save({}, set(RULES) - {"id_birth_date_mismatch"}, list(RULES), is_demo=False, user=None)
    run_checks()
    statuses = sorted(problem.status for problem in problems("id_birth_date_mismatch"))
    assert statuses == ["resolved_by_data", "rule_disabled"]

    login(en_client, make.user("admin", [make.YANGXIN]))
    text = en_client.get(f"/register/households/{household.id}").get_data(as_text=True)

    assert text.count("Rule switched off") == 1
    assert text.count("No longer found") == 1


def test_settings_page(en_client, make):
    login(en_client, make.user("admin", [make.YANGXIN]))
    page = en_client.get("/checks/settings")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(r'<input[^>]*name="threshold_income_line"[^>]*value="7000"', text)
    assert re.search(r'<input checked[^>]*name="rule_cross_vehicle"', text)
    assert "证件类型、证件号码、性别" in text
    assert "Member." not in text


def settings_form(**changes) -> dict:
    from fieldapp.checks.rules import RULES
    from fieldapp.checks.settings import THRESHOLDS

    form = {f"threshold_{name}": "" if threshold.default is None else str(threshold.default)
            for name, threshold in THRESHOLDS.items()}
    form.update({f"rule_{rule_id}": "y" for rule_id in RULES})
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


def test_settings_saved(en_client, make):
    login(en_client, make.user("admin", [make.YANGXIN]))
    response = en_client.post("/checks/settings", data=settings_form(threshold_income_line="7600",
                                                                     rule_toilet_missing=None))
    assert response.status_code == 302
    assert response.headers["Location"] == "/checks/settings"
    from fieldapp.checks import settings

    loaded = settings.load(False)
    assert str(loaded["income_line"]) == "7600"
    assert not loaded.is_enabled("toilet_missing")
    assert "Settings saved" in en_client.get("/checks/settings").get_data(as_text=True)


def test_settings_invalid(en_client, make):
    login(en_client, make.user("admin", [make.YANGXIN]))
    response = en_client.post("/checks/settings", data=settings_form(threshold_school_age_min="six"))
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "is not valid" in text
    from fieldapp.checks import settings

    assert settings.load(False)["school_age_min"] == 6


def test_county_admin_cannot_change_settings(en_client, make):
    make.household(make.HUIMIN_VILLAGE)
    login(en_client, make.user("admin", [make.YANGXIN]))

    page = en_client.get("/checks/settings").get_data(as_text=True)
    response = en_client.post("/checks/settings", data=settings_form(threshold_income_line="7600"),
                              follow_redirects=True)

    assert "only an administrator whose divisions include every household" in page
    assert ">Save</button>" not in page
    assert "only an administrator whose divisions include every household" in response.get_data(as_text=True)
    from fieldapp.checks import settings

    assert str(settings.load(False)["income_line"]) == "7000"


def upload(client, path, kind="车辆", **fields):
    data = {"kind": kind, "file": (io.BytesIO(open(path, "rb").read()), path.rsplit("/", 1)[-1]), **fields}
    return client.post("/checks/registries", data=data, content_type="multipart/form-data")


def test_registry_upload(en_client, make, tmp_path, sync_jobs):
    member = make.household().members[0]
    login(en_client, make.user("admin", [make.YANGXIN]))

    response = upload(en_client, vehicle_file(tmp_path / "车辆.xlsx", [(member.name, member.id_number)]),
                      data_date="2026-06-30")

    batch = db.session.scalars(select(RegistryBatch)).one()
    assert response.status_code == 302
    assert response.headers["Location"] == f"/checks/registries/{batch.id}"
    assert (batch.status, batch.kind, batch.records_count) == ("done", "车辆", 1)
    assert batch.data_date == date(2026, 6, 30)
    text = en_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "In use" in text
    assert member.id_number not in text
    assert "鲁M12345 小型轿车 2023-05-11" in text
    assert en_client.get(f"/checks/registries/{batch.id}/status.json").get_json()["records_count"] == 1


def test_registry_upload_without_id_column(en_client, make, tmp_path, sync_jobs):
    member = make.household().members[0]
    login(en_client, make.user("admin", [make.YANGXIN]))
    rows = [["户名", "号码", "地址"], [member.name, member.id_number, "滨州"]]
    path = write_xlsx(tmp_path / "housing.xlsx", rows)

    response = upload(en_client, path, kind="房产")

    batch = db.session.scalars(select(RegistryBatch)).one()
    assert response.headers["Location"] == f"/checks/registries/{batch.id}/columns"
    assert batch.status == "needs_column"
    page = en_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "户名、号码、地址" in page
    assert '<option value="号码">' in page

    chosen = en_client.post(f"/checks/registries/{batch.id}/columns", data={"id_column": "号码",
                                                                            "name_column": "户名"})

    assert chosen.headers["Location"] == f"/checks/registries/{batch.id}"
    db.session.refresh(batch)
    assert (batch.status, batch.id_column, batch.name_column) == ("done", "号码", "户名")
    [record] = db.session.scalars(select(RegistryRecord)).all()
    assert (record.id_number, record.details) == (member.id_number, {"地址": "滨州"})


def test_registry_upload_custom_kind(en_client, make, tmp_path, sync_jobs):
    login(en_client, make.user("admin", [make.YANGXIN]))
    path = vehicle_file(tmp_path / "x.xlsx", [("张三", "11010519491231002X")])
    upload(en_client, path, kind="custom", custom_kind="残疾人")
    assert db.session.scalars(select(RegistryBatch.kind)).one() == "残疾人"


def test_registry_upload_custom_kind_needs_name(en_client, make, tmp_path, sync_jobs):
    login(en_client, make.user("admin", [make.YANGXIN]))
    response = upload(en_client, vehicle_file(tmp_path / "x.xlsx", [("张三", "11010519491231002X")]),
                      kind="custom")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "Enter the name of the other kind of registry, for example 残疾人." in text
    assert db.session.scalars(select(RegistryBatch)).all() == []


def test_registry_upload_rejected(en_client, make, tmp_path, sync_jobs):
    login(en_client, make.user("admin", [make.YANGXIN]))
    rows = [["姓名", "证件号码"], ["张三", "12345"], ["李四", "11010519491231002X"]]
    response = upload(en_client, write_xlsx(tmp_path / "r.xlsx", rows), kind="房产")
    batch = db.session.scalars(select(RegistryBatch)).one()
    assert batch.status == "rejected"
    text = en_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Not an ID number" in text
    assert db.session.scalars(select(RegistryRecord)).all() == []


def test_registry_delete(en_client, make, tmp_path):
    batch = registries.import_registry(vehicle_file(tmp_path / "车辆.xlsx", [("张三", "11010519491231002X")]),
                                       "车辆")
    login(en_client, make.user("admin", [make.YANGXIN]))
    response = en_client.post(f"/checks/registries/{batch.id}/delete")
    assert response.headers["Location"] == "/checks/registries"
    assert db.session.scalars(select(RegistryBatch)).all() == []


def test_demo_admin_sees_no_real_batch(en_client, make, tmp_path):
    batch = registries.import_registry(vehicle_file(tmp_path / "车辆.xlsx", [("张三", "11010519491231002X")]),
                                       "车辆")
    login(en_client, make.user("admin", [make.YANGXIN], is_demo=True))
    assert en_client.get(f"/checks/registries/{batch.id}").status_code == 404
    assert en_client.post(f"/checks/registries/{batch.id}/delete").status_code == 404


def test_problem_ids_in_scope_only(en_client, make):
    break_birth_date(make.household(make.HUIMIN_VILLAGE))
    run_checks()
    login(en_client, make.user("admin", [make.YANGXIN]))
    [problem] = db.session.scalars(select(SuspectedProblem)).all()
    assert en_client.get(f"/checks/problems/{problem.id}").status_code == 404


def test_registry_records_shown_to_importer_only(app, en_client, make, tmp_path):
    importer = make.user("admin", [make.YANGXIN])
    path = vehicle_file(tmp_path / "车辆.xlsx", [("张三", "11010519491231002X")])
    batch = registries.import_registry(path, "车辆", user=importer)
    login(en_client, importer)
    assert "张三" in en_client.get(f"/checks/registries/{batch.id}").get_data(as_text=True)

    other = app.test_client()
    login(other, make.user("admin", [make.HUIMIN]))
    text = other.get(f"/checks/registries/{batch.id}").get_data(as_text=True)
    assert "张三" not in text
    assert "鲁M12345" not in text


def test_supervisor_run_during_admin_run(en_client, make, sync_jobs):
    """A supervisor who clicks while an administrator's run is in progress gets their own run, not a 404."""
    break_birth_date(make.household(make.LAODIAN_VILLAGE))
    admin = make.user("admin", [make.YANGXIN])
    admin_run = running_run(admin, [make.YANGXIN[:6]])
    supervisor = make.user("supervisor", [make.LAODIAN])
    login(en_client, supervisor)

    response = en_client.post("/checks/run")

    own = db.session.scalars(select(CheckRun).where(CheckRun.started_by_id == supervisor.id)).one()
    assert response.headers["Location"] == f"/checks/runs/{own.id}"
    page = en_client.get(response.headers["Location"])
    assert page.status_code == 200
    assert "already in progress" not in page.get_data(as_text=True)
    assert own.status == "done"
    assert admin_run.status == "running"


def test_stopped_run_replaced_with_message(en_client, make, sync_jobs):
    admin = make.user("admin", [make.YANGXIN])
    stopped = CheckRun(is_demo=False, status="running", source="page", started_by_id=admin.id,
                       division_prefixes=[make.YANGXIN[:6]], steps_total=40, steps_done=4,
                       progress_at=utcnow() - timedelta(minutes=10))
    db.session.add(stopped)
    db.session.flush()
    login(en_client, admin)

    response = en_client.post("/checks/run")

    assert response.headers["Location"] != f"/checks/runs/{stopped.id}"
    text = en_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The previous check run had made no progress since" in text
    assert "a new run was started" in text
    assert stopped.status == "failed"


def test_stopped_run_page_shows_failed(en_client, make):
    admin = make.user("admin", [make.YANGXIN])
    stopped = CheckRun(is_demo=False, status="running", source="page", started_by_id=admin.id,
                       steps_total=40, steps_done=4, progress_at=utcnow() - timedelta(minutes=10),
                       division_prefixes=[make.YANGXIN[:6]])
    db.session.add(stopped)
    db.session.flush()
    login(en_client, admin)

    status = en_client.get(f"/checks/runs/{stopped.id}/status.json").get_json()

    assert (status["status"], status["finished"]) == ("failed", True)
    text = en_client.get(f"/checks/runs/{stopped.id}").get_data(as_text=True)
    assert "probably because the server restarted" in text
    assert "import_status.js" not in text


def test_registry_delete_refused_during_run(en_client, make, tmp_path):
    batch = registries.import_registry(vehicle_file(tmp_path / "车辆.xlsx", [("张三", "11010519491231002X")]),
                                       "车辆")
    admin = make.user("admin", [make.YANGXIN])
    db.session.add(CheckRun(is_demo=False, status="running", source="page", started_by_id=admin.id,
                            progress_at=utcnow()))
    db.session.flush()
    login(en_client, admin)

    response = en_client.post(f"/checks/registries/{batch.id}/delete")

    assert response.headers["Location"] == f"/checks/registries/{batch.id}"
    text = en_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "A data check run is in progress" in text
    assert "Wait until it has finished" in text
    assert db.session.get(RegistryBatch, batch.id) is not None


def test_run_summary_shows_problems_set_aside(en_client, make, sync_jobs):
    break_birth_date(make.household())
    run_checks()
    check_settings.save({}, set(RULES) - {"id_birth_date_mismatch"}, list(RULES), is_demo=False, user=None)
    login(en_client, make.user("admin", [make.YANGXIN]))

    response = en_client.post("/checks/run")

    run = db.session.get(CheckRun, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert run.disabled == 1
    page = en_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "1 set aside because their rule is switched off" in page
    summary = en_client.get("/checks/").get_data(as_text=True)
    assert "1 set aside (rule switched off)" in summary
