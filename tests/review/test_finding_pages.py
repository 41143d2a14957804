"""The finding page and its forms: edits with conflicts, evidence, comments, closing, re-inspection."""

import re
from datetime import date, timedelta
from html import escape
from io import BytesIO

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.review.models import Finding, FindingEvent, FindingEvidence, ReinspectionTask
from fieldapp.review.services import change_status, edit_finding, open_finding
from tests.conftest import login
from tests.review.conftest import XSS
from tests.review.support import PDF, docx_bytes, jpeg_bytes


@pytest.fixture
def english(app):
    def client_for(user):
        client = app.test_client()
        client.set_cookie("lang", "en", domain="localhost.localdomain")
        login(client, user)
        return client
    return client_for


def text(response) -> str:
    return response.get_data(as_text=True)


def version_on_page(html: str) -> int:
    return int(re.search(r'name="version" type="hidden" value="(\d+)"', html).group(1))


def edit_data(version, **values):
    data = {"category": "户主登记", "description": "户主登记两次", "responsible_unit": "",
            "responsible_person": "", "deadline": "", "measures": "", "comment": "", "version": str(version)}
    data.update(values)
    return data


# Two supervisors edit the same finding.


def test_second_edit_gets_conflict_page(english, world, make):
    other = make.user("supervisor", [make.YANGXIN])
    first, second = english(world.supervisor), english(other)
    url = f"/review/findings/{world.finding.id}/edit"
    first_version = version_on_page(text(first.get(url)))
    second_version = version_on_page(text(second.get(url)))
    assert first_version == second_version == 1

    saved = first.post(url, data=edit_data(first_version, responsible_unit="劳店镇人民政府",
                                           deadline="2024-06-30"))
    assert saved.status_code == 302
    assert saved.headers["Location"] == f"/review/findings/{world.finding.id}"

    typed = "县住建局 " + XSS
    response = second.post(url, data=edit_data(second_version, responsible_unit=typed, measures="已派人维修"))
    html = text(response)
    assert response.status_code == 409
    assert "Someone else saved this finding" in html
    # The other change, as it was saved.
    assert "劳店镇人民政府" in html
    assert "2024-06-30" in html
    assert world.supervisor.display_name in html
    # What this user typed is kept, escaped, for a resubmission based on the new version.
    assert f'value="{escape(typed)}"' in html
    assert "已派人维修" in html
    assert XSS not in html
    assert version_on_page(html) == 2

    db.session.expire_all()
    finding = db.session.get(Finding, world.finding.id)
    assert finding.responsible_unit == "劳店镇人民政府"
    assert finding.measures == ""

    retry = second.post(url, data=edit_data(2, responsible_unit="县住建局", measures="已派人维修"))
    assert retry.status_code == 302
    db.session.expire_all()
    finding = db.session.get(Finding, world.finding.id)
    assert (finding.responsible_unit, finding.measures, finding.version) == ("县住建局", "已派人维修", 3)


def test_status_conflict_shows_other_change(english, world, make):
    other = make.user("supervisor", [make.YANGXIN])
    change_status(world.finding, "in_progress", comment="他人先改了状态", user=other)
    client = english(world.supervisor)
    response = client.post(f"/review/findings/{world.finding.id}",
                           data={"status": "corrected", "comment": "我的说明", "version": 1})
    html = text(response)
    assert response.status_code == 409
    assert "他人先改了状态" in html
    assert "Pending → In progress" in html
    assert "我的说明" in html


def test_edit_page_404_outside_scope(english, world, make):
    outsider = english(make.user("supervisor", [make.HUIMIN]))
    assert outsider.get(f"/review/findings/{world.finding.id}/edit").status_code == 404
    response = outsider.post(f"/review/findings/{world.finding.id}/edit",
                             data=edit_data(1, responsible_unit="X"))
    assert response.status_code == 404
    assert world.finding.responsible_unit == ""


# Evidence.


def upload(client, finding_id, name, data, note=""):
    return client.post(f"/review/findings/{finding_id}/evidence",
                       data={"file": (BytesIO(data), name), "note": note}, content_type="multipart/form-data")


def test_upload_photo_evidence(english, world):
    client = english(world.supervisor)
    response = upload(client, world.finding.id, "修好后.jpg", jpeg_bytes(), note="屋顶已修")
    assert response.status_code == 302
    item = db.session.scalars(select(FindingEvidence)).one()
    assert (item.kind, item.original_name, item.note, item.uploaded_by_id) == (
        "photo", "修好后.jpg", "屋顶已修", world.supervisor.id)
    assert db.session.get(Finding, world.finding.id).evidence_count == 1
    page = text(client.get(f"/review/findings/{world.finding.id}"))
    thumb = f"/review/findings/{world.finding.id}/evidence/{item.id}/thumb"
    assert thumb in page
    image = client.get(thumb)
    assert image.status_code == 200
    assert image.mimetype == "image/jpeg"
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert "private" in image.headers["Cache-Control"]


@pytest.mark.parametrize("name, data, content_type", [
    ("整改报告.pdf", PDF, "application/pdf"),
    ("report.docx", docx_bytes(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
])
def test_upload_document_evidence(english, world, name, data, content_type):
    client = english(world.supervisor)
    assert upload(client, world.finding.id, name, data).status_code == 302
    item = db.session.scalars(select(FindingEvidence)).one()
    assert (item.kind, item.content_type, item.size_bytes) == ("document", content_type, len(data))
    assert name not in item.stored_name
    response = client.get(f"/review/findings/{world.finding.id}/evidence/{item.id}/full")
    assert response.status_code == 200
    assert response.data == data
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert client.get(f"/review/findings/{world.finding.id}/evidence/{item.id}/thumb").status_code == 404


@pytest.mark.parametrize("name, data, message", [
    ("report.pdf", b"MZ\x90\x00 not a pdf", "does not contain a PDF document"),
    ("tool.exe", b"MZ\x90\x00", "is not a file type accepted as evidence"),
    ("fake.docx", b"PK\x03\x04garbage", "does not contain a DOCX document"),
    ("broken.jpg", b"\xff\xd8\xff not really", "is not a photo this server can read"),
    ("empty.pdf", b"", "is empty"),
])
def test_upload_rejected(english, world, name, data, message):
    client = english(world.supervisor)
    response = upload(client, world.finding.id, name, data)
    assert response.status_code == 422
    assert message in text(response)
    assert db.session.scalars(select(FindingEvidence)).all() == []
    assert db.session.get(Finding, world.finding.id).evidence_count == 0


def test_upload_too_large(app, english, world, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_MAX_BYTES", 1024)
    client = english(world.supervisor)
    response = upload(client, world.finding.id, "big.pdf", PDF + b"0" * 2048)
    assert response.status_code == 422
    assert "evidence files may be at most" in text(response)
    assert db.session.scalars(select(FindingEvidence)).all() == []


def test_evidence_file_outside_scope(english, world, make):
    upload(english(world.supervisor), world.finding.id, "a.pdf", PDF)
    item = db.session.scalars(select(FindingEvidence)).one()
    outsider = english(make.user("supervisor", [make.HUIMIN]))
    assert outsider.get(f"/review/findings/{world.finding.id}/evidence/{item.id}/full").status_code == 404
    assert upload(outsider, world.finding.id, "b.pdf", PDF).status_code == 404
    # An evidence id under another finding's URL is not served either.
    other = make.user("supervisor", [make.YANGXIN])
    second = open_finding(world.household, source="on_site", category="x", description="", user=other)
    client = english(world.supervisor)
    assert client.get(f"/review/findings/{second.id}/evidence/{item.id}/full").status_code == 404


# Comments, closing and re-inspection.


def test_comment_route(english, world):
    client = english(world.supervisor)
    response = client.post(f"/review/findings/{world.finding.id}/comments",
                           data={"text": "已联系村委 " + XSS})
    assert response.status_code == 302
    event = db.session.scalars(select(FindingEvent).where(FindingEvent.kind == "comment")).one()
    assert event.comment == "已联系村委 " + XSS
    html = text(client.get(f"/review/findings/{world.finding.id}"))
    assert "已联系村委 " + escape(XSS, quote=False) in html
    assert XSS not in html


def test_close_route_without_evidence(english, world):
    change_status(world.finding, "corrected", comment="", user=world.supervisor)
    client = english(world.supervisor)
    response = client.post(f"/review/findings/{world.finding.id}",
                           data={"status": "closed", "comment": "我看过了", "version": 2})
    assert response.status_code == 200
    assert "has no evidence yet" in text(response)
    assert "我看过了" in text(response)
    assert db.session.get(Finding, world.finding.id).status == "corrected"


def test_close_route_with_evidence(english, world):
    change_status(world.finding, "corrected", comment="", user=world.supervisor)
    client = english(world.supervisor)
    upload(client, world.finding.id, "proof.pdf", PDF)
    response = client.post(f"/review/findings/{world.finding.id}",
                           data={"status": "closed", "comment": "电话回访确认", "version": 3})
    assert response.status_code == 302
    finding = db.session.get(Finding, world.finding.id)
    assert finding.status == "closed"
    assert finding.recheck_method == "supervisor"
    html = text(client.get(f"/review/findings/{world.finding.id}"))
    assert "Supervisor&#39;s check" in html or "Supervisor's check" in html
    assert "Add evidence" not in html


def test_reinspection_request_route(english, world):
    change_status(world.finding, "corrected", comment="", user=world.supervisor)
    client = english(world.supervisor)
    page = text(client.get(f"/review/findings/{world.finding.id}"))
    assert f'<option value="{world.inspector.id}">' in page
    response = client.post(f"/review/findings/{world.finding.id}/reinspection",
                           data={"inspector": str(world.inspector.id), "instructions": "看屋顶"})
    assert response.status_code == 302
    task = db.session.scalars(select(ReinspectionTask)).one()
    assert (task.inspector_id, task.instructions, task.status) == (world.inspector.id, "看屋顶", "open")
    page = text(client.get(f"/review/findings/{world.finding.id}"))
    assert "Cancel task" in page
    assert "Request a re-inspection" not in page
    listing = text(client.get("/review/reinspections"))
    assert world.inspector.display_name in listing


def test_reinspection_request_refused_for_pending(english, world):
    client = english(world.supervisor)
    response = client.post(f"/review/findings/{world.finding.id}/reinspection",
                           data={"inspector": str(world.inspector.id), "instructions": ""})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/review/findings/{world.finding.id}#reinspection"
    assert "Only corrected findings can be re-inspected" in text(client.get(response.headers["Location"]))
    assert db.session.scalars(select(ReinspectionTask)).all() == []


def test_overdue_filter(english, world, make):
    late = open_finding(world.household, source="on_site", category="逾期", description="",
                        user=world.supervisor)
    edit_finding(late, {"deadline": date.today() - timedelta(days=3)}, user=world.supervisor)
    on_time = open_finding(world.household, source="on_site", category="未到期", description="",
                           user=world.supervisor)
    edit_finding(on_time, {"deadline": date.today() + timedelta(days=30)}, user=world.supervisor)
    client = english(world.supervisor)
    html = text(client.get("/review/findings?status=overdue"))
    ids = {int(n) for n in re.findall(r'href="/review/findings/(\d+)"', html)}
    assert ids == {late.id}
    assert "Overdue" in html


def test_source_filter(english, world):
    cross = open_finding(world.household, source="cross_check", category="车辆", description="",
                         user=world.supervisor)
    client = english(world.supervisor)
    html = text(client.get("/review/findings?source=cross_check"))
    ids = {int(n) for n in re.findall(r'href="/review/findings/(\d+)"', html)}
    assert ids == {cross.id}
