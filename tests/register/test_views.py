"""Upload page, import status, household list and household page."""

import io
import time

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import delete, func, select

from fieldapp import idnumbers
from fieldapp.audit.models import AuditRecord
from fieldapp.auth.models import User
from fieldapp.checks.models import CheckRun, SuspectedProblem
from fieldapp.extensions import db
from fieldapp.register.models import Household, Member, RegisterImport
from tests.conftest import login
from tests.register import builders


@pytest.fixture
def en_client(client):
    client.set_cookie("lang", "en", domain="localhost.localdomain")
    return client


def xlsx_bytes(tmp_path, rows, name="upload.xlsx", **options) -> bytes:
    return open(builders.write_xlsx(tmp_path / name, rows, **options), "rb").read()


def upload(client, data: bytes, name="register.xlsx", skip_rejected=False):
    form = {"file": (io.BytesIO(data), name)}
    if skip_rejected:
        form["skip_rejected"] = "y"
    return client.post("/register/upload", data=form, content_type="multipart/form-data")


def test_upload_page_roles(client, make):
    assert client.get("/register/upload").status_code == 302
    login(client, make.user("supervisor", [make.YANGXIN]))
    assert client.get("/register/upload").status_code == 404


def test_upload_imports(en_client, make, tmp_path, imports_dir, sync_jobs):
    # A household of another county, which the checks after the import leave alone.
    make.household(make.HUIMIN_VILLAGE)
    admin = make.user("admin", [make.YANGXIN])
    login(en_client, admin)
    data = xlsx_bytes(tmp_path, builders.household_rows(1, members=3) + builders.household_rows(2, members=2))

    response = upload(en_client, data)

    record = db.session.execute(select(RegisterImport)).scalar_one()
    assert response.status_code == 302
    assert response.headers["Location"] == f"/register/imports/{record.id}"
    assert record.status == "done"
    assert (record.households_added, record.members_added, record.rows_written) == (2, 5, 5)
    assert record.imported_by_id == admin.id
    assert record.filename == "register.xlsx"
    assert (imports_dir / record.stored_name).exists()
    in_yangxin = Household.division_code.startswith(make.YANGXIN[:6])
    imported = select(func.count(Member.id)).join(Household).where(in_yangxin)
    assert db.session.execute(imported).scalar_one() == 5

    page = en_client.get(response.headers["Location"])
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Households: 2 added, 0 updated, 0 unchanged." in text
    assert "import_status.js" not in text
    check_run = db.session.execute(select(CheckRun).where(CheckRun.source == "import")).scalar_one()
    assert record.check_run_id == check_run.id
    # The checks ran over the uploader's county only, so its counts are shown.
    assert check_run.division_prefixes == [make.YANGXIN[:6]]
    assert "The data checks were run again over every division after the import." not in text
    assert "Data checks: " in text
    assert f'href="/checks/runs/{check_run.id}"' in text

    status = en_client.get(f"/register/imports/{record.id}/status.json").get_json()
    assert status["status"] == "done"
    assert status["finished"] is True
    assert status["members_added"] == 5
    actions = set(db.session.execute(select(AuditRecord.action)).scalars())
    assert {"register.upload", "register.import"} <= actions


def test_upload_by_city_admin_shows_check_counts(en_client, make, tmp_path, imports_dir, sync_jobs):
    login(en_client, make.user("admin", [make.CITY]))
    response = upload(en_client, xlsx_bytes(tmp_path, builders.household_rows(1, members=2)))

    text = en_client.get(response.headers["Location"]).get_data(as_text=True)

    check_run = db.session.execute(select(CheckRun).where(CheckRun.source == "import")).scalar_one()
    assert f"Data checks: {check_run.opened} opened, 0 kept, 0 resolved." in text
    assert f'href="/checks/runs/{check_run.id}"' in text
    assert en_client.get(f"/checks/runs/{check_run.id}").status_code == 200


def test_upload_rejected(en_client, make, tmp_path, imports_dir, sync_jobs):
    login(en_client, make.user("admin", [make.YANGXIN]))
    rows = builders.household_rows(3, members=2)
    rows[1]["证件号码"] = "3.71622E+17"

    response = upload(en_client, xlsx_bytes(tmp_path, rows))

    record = db.session.execute(select(RegisterImport)).scalar_one()
    assert response.status_code == 302
    assert record.status == "rejected"
    assert record.rows_rejected == 2
    assert db.session.execute(select(func.count(Household.id))).scalar_one() == 0
    text = en_client.get(f"/register/imports/{record.id}").get_data(as_text=True)
    assert "Rejected, nothing imported" in text
    assert "nothing was imported" in text
    # A number that Excel made of an ID number has lost its digits, so it is shown as in the file.
    assert "3.71622E+17" in text
    assert "Row 4" in text
    assert "Download the rejected rows" not in text


def test_upload_rejected_id_masked(en_client, make, tmp_path, imports_dir, sync_jobs):
    login(en_client, make.user("admin", [make.YANGXIN]))
    rows = builders.household_rows(4, members=1)
    full = rows[0]["证件号码"]
    rows[0]["证件号码"] = full + ".0"
    rows[0]["出生日期"] = "不详"

    upload(en_client, xlsx_bytes(tmp_path, rows))

    record = db.session.execute(select(RegisterImport)).scalar_one()
    text = en_client.get(f"/register/imports/{record.id}").get_data(as_text=True)
    assert record.status == "rejected"
    assert record.rejections[0]["value"] == full + ".0"
    assert full not in text
    assert idnumbers.mask(full + ".0") in text
    assert "不详" in text


def test_upload_skip_rejected_report(en_client, make, tmp_path, imports_dir, sync_jobs):
    login(en_client, make.user("admin", [make.YANGXIN]))
    rows = builders.household_rows(5, members=1) + builders.household_rows(6, members=1)
    rows[1]["姓名"] = ""

    upload(en_client, xlsx_bytes(tmp_path, rows), name="县里.xlsx", skip_rejected=True)

    record = db.session.execute(select(RegisterImport)).scalar_one()
    assert record.status == "done"
    assert (record.households_added, record.rows_rejected) == (1, 1)
    text = en_client.get(f"/register/imports/{record.id}").get_data(as_text=True)
    assert "Download the rejected rows" in text
    assert "1 row was rejected and not imported." in text

    report = en_client.get(f"/register/imports/{record.id}/rejected.xlsx")
    assert report.status_code == 200
    assert "filename*=UTF-8''%E5%8E%BF%E9%87%8C.rejected.xlsx" in report.headers["Content-Disposition"]
    path = tmp_path / "downloaded.xlsx"
    path.write_bytes(report.data)
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    assert sheet[1][0] == 4
    assert "姓名" in sheet[1][1]
    actions = db.session.execute(select(AuditRecord.action)).scalars().all()
    assert "register.rejections_download" in actions


def test_upload_outside_divisions_rejected(en_client, make, tmp_path, imports_dir, sync_jobs):
    login(en_client, make.user("admin", [make.YANGXIN]))
    rows = builders.household_rows(7, village=builders.HUIMIN_VILLAGE, members=1)

    upload(en_client, xlsx_bytes(tmp_path, rows))

    record = db.session.execute(select(RegisterImport)).scalar_one()
    assert record.status == "rejected"
    assert "outside your divisions" in record.rejections[0]["reason"]
    assert db.session.execute(select(func.count(Household.id))).scalar_one() == 0


def test_upload_cannot_move_other_county(en_client, make, tmp_path, imports_dir, sync_jobs):
    other = make.household(builders.HUIMIN_VILLAGE, household_no=f"{builders.VILLAGE}00008")
    login(en_client, make.user("admin", [make.YANGXIN]))

    upload(en_client, xlsx_bytes(tmp_path, builders.household_rows(8, members=1)))

    record = db.session.execute(select(RegisterImport)).scalar_one()
    assert record.status == "rejected"
    assert f"already registered in division {make.HUIMIN_VILLAGE}" in record.rejections[0]["reason"]
    db.session.refresh(other)
    assert other.division_code == builders.HUIMIN_VILLAGE


def test_upload_wrong_type(en_client, make, imports_dir, sync_jobs):
    login(en_client, make.user("admin", [make.YANGXIN]))

    response = upload(en_client, b"%PDF-1.4", name="register.pdf")

    assert response.status_code == 200
    assert "Only .xlsx, .xlsm, .xls, .ods and .csv files can be imported." in response.get_data(as_text=True)
    assert db.session.execute(select(func.count(RegisterImport.id))).scalar_one() == 0


def test_upload_demo_admin(en_client, make, tmp_path, imports_dir, sync_jobs):
    login(en_client, make.user("admin", [make.YANGXIN], is_demo=True))

    upload(en_client, xlsx_bytes(tmp_path, builders.household_rows(9, members=1)))

    household = db.session.execute(select(Household)).scalar_one()
    assert household.is_demo is True


def test_import_status_other_admin(en_client, make, tmp_path, imports_dir, sync_jobs):
    login(en_client, make.user("admin", [make.YANGXIN]))
    upload(en_client, xlsx_bytes(tmp_path, builders.household_rows(10, members=1)))
    record = db.session.execute(select(RegisterImport)).scalar_one()
    en_client.post("/logout")

    login(en_client, make.user("admin", [make.YANGXIN]))

    assert en_client.get(f"/register/imports/{record.id}").status_code == 404
    assert en_client.get(f"/register/imports/{record.id}/status.json").status_code == 404
    assert en_client.get(f"/register/imports/{record.id}/rejected.xlsx").status_code == 404


def test_status_page_polls_while_running(en_client, make, imports_dir):
    admin = make.user("admin", [make.YANGXIN])
    record = RegisterImport(filename="x.xlsx", sha256="0" * 64, status="reading", rows_total=100,
                            rows_read=40, imported_by_id=admin.id, stored_name="x.xlsx")
    db.session.add(record)
    db.session.flush()
    login(en_client, admin)

    text = en_client.get(f"/register/imports/{record.id}").get_data(as_text=True)

    assert "import_status.js" in text
    assert f'data-status-url="/register/imports/{record.id}/status.json"' in text
    assert "Reading and checking rows" in text
    state = en_client.get(f"/register/imports/{record.id}/status.json").get_json()
    assert (state["status"], state["finished"]) == ("reading", False)
    assert (state["rows_read"], state["rows_total"]) == (40, 100)


def test_households_list(en_client, make):
    household = make.household(make.LAODIAN_VILLAGE)
    other_township = make.household(make.SHUIWAN_VILLAGE)
    make.household(make.HUIMIN_VILLAGE)
    make.household(make.LAODIAN_VILLAGE, is_demo=True)
    db.session.add(SuspectedProblem(key=f"test:{household.id}", rule_id="id_check_character",
                                    household_id=household.id, member_id=household.members[0].id))
    db.session.flush()
    login(en_client, make.user("supervisor", [make.YANGXIN]))

    response = en_client.get("/register/households")

    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "2 households" in text
    assert household.members[0].name in text
    assert household.members[0].id_number not in text
    assert household.members[0].id_number[:6] + "********" + household.members[0].id_number[-4:] in text
    assert other_township.household_no in text
    assert "1 open suspected problem" in text


@pytest.mark.parametrize("query", ["00", "成员", "崔寨"])
def test_households_search(en_client, make, query):
    # A fixed number: the factory's running number contains "00" only in some test runs.
    household = make.household(make.LAODIAN_VILLAGE, household_no=f"{make.LAODIAN_VILLAGE}00042")
    login(en_client, make.user("admin", [make.YANGXIN]))

    text = en_client.get("/register/households", query_string={"q": query}).get_data(as_text=True)

    assert household.household_no in text


def test_households_search_head_only(en_client, make):
    household = make.household(make.LAODIAN_VILLAGE)
    login(en_client, make.user("admin", [make.YANGXIN]))

    head = en_client.get("/register/households", query_string={"q": household.members[0].name})
    spouse = en_client.get("/register/households", query_string={"q": household.members[1].name})

    assert household.household_no in head.get_data(as_text=True)
    assert "No household matches the search." in spouse.get_data(as_text=True)


def test_households_township_filter(en_client, make):
    laodian = make.household(make.LAODIAN_VILLAGE)
    shuiwan = make.household(make.SHUIWAN_VILLAGE)
    login(en_client, make.user("admin", [make.YANGXIN]))

    response = en_client.get("/register/households", query_string={"township": make.SHUIWAN})

    text = response.get_data(as_text=True)

    assert shuiwan.household_no in text
    assert laodian.household_no not in text
    assert f'<option selected value="{make.SHUIWAN}">' in text


def test_households_paginated(en_client, make):
    for _ in range(35):
        make.household(make.LAODIAN_VILLAGE, members=1)
    login(en_client, make.user("admin", [make.YANGXIN]))

    first = en_client.get("/register/households").get_data(as_text=True)
    second = en_client.get("/register/households", query_string={"page": 2}).get_data(as_text=True)

    assert first.count('href="/register/households/') == 30
    assert second.count('href="/register/households/') == 5
    assert "Page 2 of 2" in second


def test_households_page_past_end(en_client, make):
    for _ in range(35):
        make.household(make.LAODIAN_VILLAGE, members=1)
    login(en_client, make.user("admin", [make.YANGXIN]))

    past_end = en_client.get("/register/households", query_string={"page": 99}).get_data(as_text=True)
    not_number = en_client.get("/register/households", query_string={"page": "abc"}).get_data(as_text=True)

    assert "Page 99 does not exist; the list has 2 pages. Showing page 2." in past_end
    assert past_end.count('href="/register/households/') == 5
    assert "&#34;abc&#34; is not a page number" in not_number
    assert "Showing page 1." in not_number
    assert not_number.count('href="/register/households/') == 30


def test_households_inspector_404(client, make):
    login(client, make.user("inspector", [make.LAODIAN]))
    assert client.get("/register/households").status_code == 404


def test_household_extra_columns_masked(en_client, make):
    household = make.household(make.LAODIAN_VILLAGE)
    extra = {"户主身份证号码": "371622198001016517", "手机号码": 13912345678, "备注": "无"}
    household.members[0].extra = extra
    db.session.flush()
    login(en_client, make.user("supervisor", [make.YANGXIN]))

    text = en_client.get(f"/register/households/{household.id}").get_data(as_text=True)

    assert "371622********6517" in text
    assert "371622198001016517" not in text
    assert "139****5678" in text
    assert "13912345678" not in text


def test_household_page(en_client, make):
    household = make.household(make.LAODIAN_VILLAGE, members=3, phone="13800007368", risks=["因病"])
    member = household.members[1]
    db.session.add(SuspectedProblem(key=f"test:{household.id}", rule_id="id_check_character",
                                    household_id=household.id, member_id=member.id, detail="校验位应为 X"))
    db.session.flush()
    login(en_client, make.user("supervisor", [make.YANGXIN]))

    response = en_client.get(f"/register/households/{household.id}")

    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert household.household_no in text
    assert "138****7368" in text
    assert "13800007368" not in text
    assert "因病" in text
    for person in household.members:
        assert person.name in text
        assert person.id_number not in text
    assert "之子" in text
    assert "1980-01-01" in text
    assert "ID check character wrong" in text
    assert "校验位应为 X" in text
    of_household = SuspectedProblem.household_id == household.id
    [problem_id] = db.session.scalars(select(SuspectedProblem.id).where(of_household))
    assert f'href="/checks/problems/{problem_id}"' in text


def test_household_out_of_scope(client, make):
    huimin = make.household(make.HUIMIN_VILLAGE)
    demo = make.household(make.LAODIAN_VILLAGE, is_demo=True)
    login(client, make.user("admin", [make.YANGXIN]))

    assert client.get(f"/register/households/{huimin.id}").status_code == 404
    assert client.get(f"/register/households/{demo.id}").status_code == 404
    assert client.get("/register/households/999999").status_code == 404


@pytest.mark.committing
def test_upload_background_thread(app, client, make, tmp_path, monkeypatch):
    """The real path: the request returns at once and a thread imports and reports progress."""
    monkeypatch.setitem(app.config, "REGISTER_IMPORT_FOLDER", str(tmp_path / "imports"))
    numbers = [f"{builders.VILLAGE}{n:05d}" for n in (801, 802)]
    with app.app_context():
        last_audit_id = db.session.execute(select(func.max(AuditRecord.id))).scalar() or 0
        last_run_id = db.session.execute(select(func.max(CheckRun.id))).scalar() or 0
        admin = make.user("admin", [make.YANGXIN], username="thread-admin")
        db.session.commit()
        admin_id = admin.id
    try:
        response = client.post("/login", data={"username": "thread-admin", "password": make.PASSWORD})
        assert response.status_code == 302
        rows = builders.household_rows(801, members=2) + builders.household_rows(802, members=1)
        response = upload(client, xlsx_bytes(tmp_path, rows))
        assert response.status_code == 302
        status_url = response.headers["Location"] + "/status.json"

        deadline = time.monotonic() + 30
        state = client.get(status_url).get_json()
        while not state["finished"] and time.monotonic() < deadline:
            time.sleep(0.1)
            state = client.get(status_url).get_json()

        assert state["status"] == "done"
        assert (state["households_added"], state["members_added"]) == (2, 3)
        with app.app_context():
            stmt = select(func.count(Household.id)).where(Household.household_no.in_(numbers))
            assert db.session.execute(stmt).scalar_one() == 2
    finally:
        with app.app_context():
            db.session.execute(delete(Household).where(Household.household_no.in_(numbers)))
            db.session.execute(delete(AuditRecord).where(AuditRecord.id > last_audit_id))
            # The import runs the checks, which record a check run.
            db.session.execute(delete(CheckRun).where(CheckRun.id > last_run_id))
            db.session.execute(delete(RegisterImport).where(RegisterImport.imported_by_id == admin_id))
            db.session.execute(delete(User).where(User.id == admin_id))
            db.session.commit()


def test_upload_page_warns_demo_admin(en_client, make):
    login(en_client, make.user("admin", [make.YANGXIN], is_demo=True))

    text = en_client.get("/register/upload").get_data(as_text=True)

    assert "Training mode: the file is imported as demo data" in text


def test_upload_page_no_warning_for_real_admin(en_client, make):
    login(en_client, make.user("admin", [make.YANGXIN]))

    text = en_client.get("/register/upload").get_data(as_text=True)

    assert "Training mode: the file is imported as demo data" not in text
