"""Exports: the rectification ledger and visits, as XLSX and CSV, read back as Excel would."""

import csv
import io
import re
import zipfile
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import select

from fieldapp.audit.models import AuditRecord
from fieldapp.extensions import db
from fieldapp.reports.models import ExportJob
from fieldapp.reports.sheets import csv_safe
from fieldapp.review.services import edit_finding
from tests.conftest import login

FORMULAS = ["=HYPERLINK(\"http://example.invalid\",\"点击\")", "+1+1", "-2+3", "@SUM(A1:A2)", "=1+1"]


@pytest.fixture(autouse=True)
def sync_exports(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_SYNC", True)
    monkeypatch.setitem(app.config, "EXPORT_FOLDER", str(tmp_path / "exports"))


def client_for(app, user):
    client = app.test_client()
    client.set_cookie("lang", "en", domain="localhost.localdomain")
    login(client, user)
    return client


def export(client, **form):
    data = {"kind": "ledger", "format": "xlsx"}
    data.update(form)
    response = client.post("/reports/exports", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    job_id = int(re.search(r"/reports/exports/(\d+)$", response.headers["Location"]).group(1))
    status = client.get(f"/reports/exports/{job_id}/status.json").get_json()
    assert status["status"] == "done", status
    download = client.get(status["download_url"])
    assert download.status_code == 200
    return db.session.get(ExportJob, job_id), download


def sheet_rows(data: bytes, index: int = 0) -> list[list]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return book.get_sheet_by_name(book.sheet_names[index]).to_python()


def rows_by_number(rows):
    return {int(row[0]): row for row in rows[1:]}


def test_ledger_xlsx(app, area):
    finding = area.findings["overdue"]
    edit_finding(finding, {"description": FORMULAS[0], "measures": "维修屋顶、加固墙体"},
                 user=area.supervisor)
    job, download = export(client_for(app, area.supervisor))
    assert download.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in download.headers["Content-Disposition"]
    assert re.search(r'filename=ledger-\d{8}-\d{4}\.xlsx; filename\*=UTF-8\'\'\S+\.xlsx',
                     download.headers["Content-Disposition"])

    rows = sheet_rows(download.data)
    header = rows[0]
    assert header[:3] == ["Number", "Source", "County"]
    by_number = rows_by_number(rows)
    # Only the supervisor's county.
    assert set(by_number) == {f.id for name, f in area.findings.items() if name != "huimin"}
    row = dict(zip(header, by_number[finding.id], strict=True))
    assert row["Description"] == FORMULAS[0]
    assert row["Measures taken"] == "维修屋顶、加固墙体"
    assert row["Village"] == "崔寨村村民委员会"
    assert row["Responsible unit"] == "劳店镇人民政府"
    assert row["Status"] == "Pending"
    assert row["Overdue"] == "Yes"
    assert isinstance(row["Deadline"], date)
    assert row["Evidence count"] == 0
    head = area.households["laodian"][0].head.id_number
    assert row["ID number of the head"] == head[:6] + "********" + head[-4:]

    closed = dict(zip(header, by_number[area.findings["closed"].id], strict=True))
    assert closed["Evidence count"] == 1
    assert closed["Re-checked by"] == area.supervisor.display_name
    # Times are local (Asia/Shanghai), 8 hours after UTC.
    created = area.findings["closed"].created_at
    local = created.astimezone(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)
    assert abs(closed["Created at"] - local) < timedelta(milliseconds=2)
    assert closed["Created at"] - created.replace(tzinfo=None) > timedelta(hours=7, minutes=59)
    assert job.rows_done == job.rows_total == 4


def test_xlsx_has_no_formulas(app, area):
    for text, key in zip(FORMULAS, ("overdue", "in_progress", "corrected", "closed"), strict=False):
        if area.findings[key].status != "closed":
            edit_finding(area.findings[key], {"category": text[:60]}, user=area.supervisor)
    _job, download = export(client_for(app, area.supervisor))
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "<f>" not in sheet
    assert "<f " not in sheet
    categories = {row[7] for row in sheet_rows(download.data)[1:]}
    assert set(FORMULAS[:3]) <= categories


def test_unmasked_for_admin_audited(app, area):
    job, download = export(client_for(app, area.admin), unmasked="y")
    assert job.is_unmasked
    rows = sheet_rows(download.data)
    ids = {row[6] for row in rows[1:]}
    head = area.households["laodian"][0].head.id_number
    assert len(head) == 18
    assert head in ids
    audit = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "export.create")).one()
    assert audit.detail["unmasked"] is True
    assert audit.user_id == area.admin.id
    assert head not in str(audit.detail)


def test_unmasked_refused_for_supervisor(app, area):
    client = client_for(app, area.supervisor)
    response = client.post("/reports/exports", data={"kind": "ledger", "format": "xlsx", "unmasked": "y"})
    assert response.status_code == 422
    assert "may not export full ID numbers" in response.get_data(as_text=True)
    assert db.session.scalars(select(ExportJob)).all() == []


def test_ledger_csv(app, area):
    edit_finding(area.findings["overdue"], {"description": "=1+1 需复核", "category": "-负面清单"},
                 user=area.supervisor)
    _job, download = export(client_for(app, area.supervisor), format="csv")
    assert download.data.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in download.data
    rows = list(csv.reader(io.StringIO(download.data.decode("utf-8-sig"))))
    header = rows[0]
    row = dict(zip(header, next(r for r in rows if r[0] == str(area.findings["overdue"].id)), strict=True))
    assert row["Description"] == "'=1+1 需复核"
    assert row["Category"] == "'-负面清单"
    assert row["Evidence count"] == "0"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", row["Created at"])


def test_ledger_filters(app, area):
    _job, download = export(client_for(app, area.supervisor), status="overdue")
    assert set(rows_by_number(sheet_rows(download.data))) == {area.findings["overdue"].id}


def test_visits_xlsx(app, area):
    visit = area.visits["satisfied"]
    visit.answers = {
        "satisfaction": "satisfied", "problems_and_needs": FORMULAS[0], "resident_count": 3,
        "wage_income": 12000.5, "food_enough": True, "helper_last_visit": "2024-05-01",
        "member_checks": {
            str(area.households["laodian"][0].members[0].id): {"health": "健康", "months_worked": 6},
        },
    }
    db.session.flush()
    _job, download = export(client_for(app, area.supervisor), kind="visits")
    rows = sheet_rows(download.data)
    header = rows[0]
    row = dict(zip(header, rows_by_number(rows)[visit.id], strict=True))
    assert row["Problems and needs the household raised"] == FORMULAS[0]
    assert row["Number of members living here now"] == 3
    assert row["Wage income"] == 12000.5
    assert row["Does the household have enough to eat?"] == "Yes"
    assert row["Is the household satisfied with the policies, the help and the results?"] == "Satisfied"
    assert row["Date of the helper's last visit"] == date(2024, 5, 1)
    assert row["Distance to the household (m)"] == 300
    assert row["Location flags"] == "Far from the household"
    members = sheet_rows(download.data, 1)
    member = dict(zip(members[0], members[1], strict=True))
    assert member["Visit number"] == visit.id
    assert member["Health"] == "Healthy"
    assert member["Months of work last year"] == 6
    assert "*" in member["ID number"]


def test_visits_csv_chinese_round_trip(app, area):
    visit = area.visits["satisfied"]
    visit.answers = {"satisfaction": "satisfied", "problems_and_needs": "希望修一条通村公路，雨天出行难"}
    db.session.flush()
    client = client_for(app, area.supervisor)
    client.set_cookie("lang", "zh_CN", domain="localhost.localdomain")
    _job, download = export(client, kind="visits", format="csv")
    text = download.data.decode("utf-8-sig")
    assert "希望修一条通村公路，雨天出行难" in text
    assert "崔寨村村民委员会" in text


def test_download_only_by_owner(app, area, make):
    job, _download = export(client_for(app, area.supervisor))
    colleague = client_for(app, make.user("supervisor", [make.YANGXIN]))
    assert colleague.get(f"/reports/exports/{job.id}").status_code == 404
    assert colleague.get(f"/reports/exports/{job.id}/status.json").status_code == 404
    assert colleague.get(f"/reports/exports/{job.id}/download").status_code == 404


def test_exports_page_lists_jobs(app, area):
    client = client_for(app, area.supervisor)
    export(client)
    html = client.get("/reports/exports").get_data(as_text=True)
    assert "Rectification ledger" in html
    assert "Ready to download" in html


@pytest.mark.parametrize("text, expected", [
    ("=1+1", "'=1+1"), ("+86 138", "'+86 138"), ("-5", "'-5"), ("@A1", "'@A1"), ("普通文字", "普通文字"),
    ("a=b", "a=b"), ("\tx", "'\tx"),
])
def test_csv_safe(text, expected):
    assert csv_safe(text) == expected
