"""The suspected-problem export: masked ID numbers as text cells, no formulas, headers in the locale."""

import io
import zipfile
from datetime import date

import pytest
from flask_babel import force_locale
from python_calamine import CalamineWorkbook
from sqlalchemy import select

from fieldapp.audit.models import AuditRecord
from fieldapp.checks import export, registries
from fieldapp.checks.services import run_checks
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.reports import jobs as export_jobs
from fieldapp.reports.models import ExportJob
from tests.checks.builders import vehicle_file
from tests.conftest import login


@pytest.fixture
def export_sync(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "EXPORT_SYNC", True)
    monkeypatch.setitem(app.config, "EXPORT_FOLDER", str(tmp_path / "exports"))


def export_problems(client, query: str = ""):
    """Start the export from the list page as the button does; return the downloaded response."""
    started = client.post("/checks/problems/export" + query)
    assert started.status_code == 302
    job_page = started.headers["Location"]
    assert job_page.startswith("/reports/exports/")
    return client.get(job_page + "/download")


def sheet_rows(data: bytes) -> list[list]:
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return workbook.get_sheet_by_name(workbook.sheet_names[0]).to_python()


def test_export_workbook(en_client, make, tmp_path, export_sync):
    household = make.household()
    owner = household.members[0]
    owner.name = "=HYPERLINK(\"http://example.invalid\")"
    owner.birth_date = date(1979, 5, 5)
    db.session.flush()
    registries.import_registry(vehicle_file(tmp_path / "车辆.xlsx", [("张三", owner.id_number)]), "车辆",
                               data_date=date(2026, 6, 30))
    run_checks()
    login(en_client, make.user("admin", [make.YANGXIN]))

    response = export_problems(en_client, "?rule=cross_vehicle")

    assert response.status_code == 200
    assert response.mimetype == export.XLSX_MIMETYPE
    assert "attachment" in response.headers["Content-Disposition"]
    assert "filename*=UTF-8''Suspected%20problem%20list-" in response.headers["Content-Disposition"]
    assert "filename=problems-" in response.headers["Content-Disposition"]
    rows = sheet_rows(response.data)
    assert rows[0][:3] == ["County", "Township", "Village"]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["ID number"] == owner.id_number[:6] + "********" + owner.id_number[-4:]
    assert row["Member"] == owner.name
    assert row["Household number"] == household.household_no
    assert row["Rule"] == "Owns a vehicle"
    assert row["Detail"].startswith("车辆: 鲁M12345 小型轿车 2023-05-11")
    assert row["Registry"] == "车辆 2026-06-30"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet
    assert owner.id_number not in sheet
    entry = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "export.create")).one()
    assert entry.detail == {"kind": "problems", "format": "xlsx", "unmasked": False,
                            "filters": {"rule": "cross_vehicle"}}
    job = db.session.scalars(select(ExportJob)).one()
    assert (job.status, job.rows_total, job.rows_done) == ("done", 1, 1)
    page = en_client.get(f"/reports/exports/{job.id}").get_data(as_text=True)
    assert "<dt>Rule</dt><dd>Owns a vehicle</dd>" in page


def test_export_every_open_problem_in_scope(en_client, make, export_sync):
    inside = make.household(make.LAODIAN_VILLAGE)
    outside = make.household(make.HUIMIN_VILLAGE)
    for household in (inside, outside):
        household.members[0].birth_date = date(1979, 5, 5)
    db.session.flush()
    run_checks()
    login(en_client, make.user("supervisor", [make.LAODIAN]))
    rows = sheet_rows(export_problems(en_client).data)
    assert [row[3] for row in rows[1:]] == [inside.household_no]
    job = db.session.scalars(select(ExportJob)).one()
    page = en_client.get(f"/reports/exports/{job.id}").get_data(as_text=True)
    assert "Every open suspected problem in your divisions, no filter." in page


def test_export_page_names_divisions(en_client, make, export_sync):
    make.household(make.LAODIAN_VILLAGE).members[0].birth_date = date(1979, 5, 5)
    db.session.flush()
    run_checks()
    login(en_client, make.user("admin", [make.YANGXIN]))
    export_problems(en_client, f"?township={make.LAODIAN}&severity=2&status=all")
    job = db.session.scalars(select(ExportJob)).one()
    page = en_client.get(f"/reports/exports/{job.id}").get_data(as_text=True)
    assert f"<dt>Township</dt><dd>劳店镇 {make.LAODIAN}</dd>" in page
    assert "<dt>Severity</dt><dd>Medium</dd>" in page
    assert "<dt>Status</dt><dd>All</dd>" in page


def test_export_headers_follow_locale(ctx, tmp_path):
    with force_locale("en"):
        english = export.headers()
    with force_locale("zh_CN"):
        chinese = export.headers()
    assert english[0] == "County"
    assert len(chinese) == len(english) == len(export.COLUMN_WIDTHS)


def test_problem_export_only_masked_xlsx(ctx, make):
    admin = make.user("admin", [make.YANGXIN])
    for file_format, unmasked in (("csv", False), ("xlsx", True)):
        with pytest.raises(FieldError) as raised:
            export_jobs.create_job("problems", file_format, {}, unmasked=unmasked, user=admin, locale="en")
        assert raised.value.field == "format"
