"""The round's report page, the sample list workbook and the printable lists."""

import io
import re
import zipfile

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import select

from fieldapp.audit.models import AuditRecord
from fieldapp.extensions import db
from fieldapp.sampling import services
from fieldapp.sampling.models import SamplingRound
from fieldapp.sampling.services import RoundOptions
from tests.conftest import login

SHANGDIAN_VILLAGE = "371622101210"
FORMULA_NAME = "=HYPERLINK(\"http://example.invalid\",\"x\")"


@pytest.fixture
def admin(make):
    return make.user("admin", [make.YANGXIN])


@pytest.fixture
def register(make, problem):
    laodian = [make.household(make.LAODIAN_VILLAGE, members=2) for _ in range(5)]
    shangdian = [make.household(SHANGDIAN_VILLAGE, members=1) for _ in range(3)]
    laodian[0].members[0].name = FORMULA_NAME
    problem(laodian[0], 3, rule_id="head_missing")
    problem(laodian[1], 1, rule_id="head_multiple")
    db.session.flush()
    return {"laodian": laodian, "shangdian": shangdian}


@pytest.fixture
def sampling_round(make, admin, register):
    return services.create_round("Full", [make.YANGXIN], 8, 3, user=admin, method="stratified_pps",
                                 options=RoundOptions(allocation="problems", minimum=1, reserves=0))


def read_sheet(content: bytes, index: int = 0) -> list[list]:
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
    return workbook.get_sheet_by_index(index).to_python()


def test_report_page(english, make, admin, sampling_round):
    login(english, admin)
    response = english.get(f"/sampling/{sampling_round.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "probability proportional to the problem score" in page
    assert "In proportion to suspected problems" in page
    assert "at least 1 per stratum" in page
    assert "2 of 2 suspected problems (100.0 %)" in page
    assert "<svg" in page
    assert "Share of suspected problems covered" in page
    assert f"/sampling/{sampling_round.id}/sample-list.xlsx" in page
    assert f"/sampling/{sampling_round.id}/print" in page
    assert "Cannot visit" in page


def test_report_page_for_supervisor(english, make, sampling_round):
    login(english, make.user("supervisor", [make.YANGXIN]))
    response = english.get(f"/sampling/{sampling_round.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "ids=full" not in page
    assert "/auto-assign" not in page


def test_export_full_ids(english, make, admin, sampling_round, register):
    login(english, admin)
    response = english.get(f"/sampling/{sampling_round.id}/sample-list.xlsx?ids=full")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["Cache-Control"] == "no-store"
    content = response.get_data()
    rows = read_sheet(content)
    header = rows[0]
    assert header[:3] == ["No.", "Stratum code", "County"]
    body = {row[header.index("Household number")]: row for row in rows[1:]}
    assert len(body) == 8
    first = register["laodian"][0]
    row = body[first.household_no]
    assert row[header.index("ID number")] == first.members[0].id_number
    assert row[header.index("Head of household")] == FORMULA_NAME
    assert row[header.index("Number of open suspected problems")] == 1
    assert row[header.index("Problems to verify")] == "No head of household"
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml
    entry = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "sampling.export")).one()
    assert entry.detail == {"rows": 8, "unmasked": True}


def test_export_ids_are_text(english, make, admin, sampling_round, register):
    login(english, admin)
    content = english.get(f"/sampling/{sampling_round.id}/sample-list.xlsx?ids=full").get_data()
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        shared = archive.read("xl/sharedStrings.xml").decode()
    # Written as shared strings, all 18 characters, never as numbers.
    for household in register["laodian"]:
        assert f"<t>{household.members[0].id_number}</t>" in shared


def test_export_masked_by_default(english, make, sampling_round, register):
    login(english, make.user("supervisor", [make.YANGXIN]))
    response = english.get(f"/sampling/{sampling_round.id}/sample-list.xlsx")
    assert response.status_code == 200
    rows = read_sheet(response.get_data())
    ids = [row[rows[0].index("ID number")] for row in rows[1:]]
    assert all(re.fullmatch(r"\d{6}\*{8}[\dX]{4}", value) for value in ids), ids


def test_export_marks_household_without_head(english, make, sampling_round, register):
    headless = register["laodian"][1]
    for member in headless.members:
        member.relationship_to_head = "之子"
    db.session.flush()
    login(english, make.user("supervisor", [make.YANGXIN]))

    rows = read_sheet(english.get(f"/sampling/{sampling_round.id}/sample-list.xlsx").get_data())

    row = next(row for row in rows[1:] if row[rows[0].index("Household number")] == headless.household_no)
    assert row[rows[0].index("Head of household")] == (
        f"{headless.members[0].name} (no head of household; first member)")


def test_export_full_ids_only_for_admin(english, make, sampling_round):
    login(english, make.user("supervisor", [make.YANGXIN]))
    assert english.get(f"/sampling/{sampling_round.id}/sample-list.xlsx?ids=full").status_code == 404
    assert db.session.scalars(select(AuditRecord).where(AuditRecord.action == "sampling.export")).all() == []


def test_export_strata_sheet(english, make, admin, sampling_round):
    login(english, admin)
    rows = read_sheet(english.get(f"/sampling/{sampling_round.id}/sample-list.xlsx").get_data(), index=1)
    assert rows[0][:3] == ["Stratum code", "Stratum", "Households"]
    assert {row[0] for row in rows[1:]} == {make.LAODIAN, "371622101000"}


def test_export_scope(english, make, sampling_round):
    login(english, make.user("admin", [make.HUIMIN]))
    assert english.get(f"/sampling/{sampling_round.id}/sample-list.xlsx").status_code == 404


def test_print_lists(english, make, admin, sampling_round, register):
    inspector = make.user("inspector", [make.LAODIAN])
    services.auto_assign(sampling_round, [inspector], user=admin)
    login(english, admin)
    response = english.get(f"/sampling/{sampling_round.id}/print")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "@page { size: A4" in page
    # 劳店镇's village for the inspector, and 商店镇's village unassigned.
    assert page.count('<section class="sheet">') == 2
    head = register["laodian"][1].members[0]
    assert head.name in page
    assert head.id_number not in page
    assert head.id_number[:6] + "********" + head.id_number[-4:] in page
    assert "Notes" in page


def test_print_filters(english, make, admin, sampling_round):
    inspector = make.user("inspector", [make.LAODIAN])
    services.auto_assign(sampling_round, [inspector], user=admin)
    login(english, admin)
    page = english.get(f"/sampling/{sampling_round.id}/print?inspector={inspector.id}").get_data(as_text=True)
    assert page.count('<section class="sheet">') == 1
    page = english.get(f"/sampling/{sampling_round.id}/print?inspector=none&village={SHANGDIAN_VILLAGE}")
    assert page.get_data(as_text=True).count('<section class="sheet">') == 1


def test_print_scope(english, make, sampling_round):
    login(english, make.user("supervisor", [make.HUIMIN]))
    assert english.get(f"/sampling/{sampling_round.id}/print").status_code == 404


def test_verify_page(english, make, admin, sampling_round):
    login(english, admin)
    response = english.get(f"/sampling/{sampling_round.id}/verify")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "unchanged since the draw" in page
    assert "the same, in the same order" in page


def test_print_and_verify_chinese_punctuation(client, app, make, admin, sampling_round):
    inspector = make.user("inspector", [make.LAODIAN])
    services.auto_assign(sampling_round, [inspector], user=admin)
    login(client, admin)
    client.set_cookie("lang", "zh_CN", domain=app.config["SERVER_NAME"])
    page = client.get(f"/sampling/{sampling_round.id}/print").get_data(as_text=True)
    assert "<h1>农户名单：Full</h1>" in page
    assert f"核查员：{inspector.display_name or inspector.username}" in page
    assert "核查员：未分配" in page
    assert f"（{SHANGDIAN_VILLAGE}）</option>" in page
    page = client.get(f"/sampling/{sampling_round.id}/verify").get_data(as_text=True)
    assert "<h1>重新抽取验证：Full</h1>" in page


def test_new_round_with_options(english, make, admin, register):
    login(english, admin)
    response = english.post("/sampling/new", data={
        "name": "Dense", "divisions": [make.YANGXIN], "size": "4", "seed": "5", "create": "Create",
        "method": "stratified_pps", "allocation": "score", "stratum_level": "village", "minimum": "1",
        "control_percent": "25", "reserves": "2", "exclude_types": [], "exclude_visited_days": "",
    })
    assert response.status_code == 302, response.get_data(as_text=True)
    sampling_round = db.session.scalars(select(SamplingRound)).one()
    assert response.headers["Location"] == f"/sampling/{sampling_round.id}"
    assert sampling_round.method == "stratified_pps"
    assert sampling_round.parameters["allocation_rule"] == "score"
    assert sampling_round.parameters["stratum_level"] == "village"
    assert sampling_round.parameters["control_percent"] == 25


def test_preview_shows_coverage(english, make, admin, register):
    login(english, admin)
    response = english.post("/sampling/new", data={
        "name": "", "divisions": [make.YANGXIN], "size": "4", "seed": "5", "preview": "Preview",
        "method": "stratified_pps", "allocation": "problems",
    })
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Suspected problems covered" in page
    assert re.search(r"2 of 2 \(100\.0 %\); a uniform sample of the same size covers", page)


def test_new_round_invalid_minimum(english, make, admin, register):
    login(english, admin)
    response = english.post("/sampling/new", data={
        "name": "X", "divisions": [make.YANGXIN], "size": "2", "seed": "5", "create": "Create",
        "minimum": "3",
    })
    assert response.status_code == 200
    assert "more than the 2 requested" in response.get_data(as_text=True)
