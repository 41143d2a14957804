"""Bulk actions on findings: all or nothing, and only within the user's scope."""

from datetime import date

import pytest
from sqlalchemy import select

from fieldapp.audit.models import AuditRecord
from fieldapp.errors import Conflict, FieldError
from fieldapp.extensions import db
from fieldapp.review.models import Finding, FindingEvent, ReinspectionTask
from fieldapp.review.services import BulkChange, bulk_update, change_status, open_finding
from tests.conftest import login
from tests.review.conftest import make_round
from tests.review.support import corrected_finding


@pytest.fixture
def area(ctx, make):
    """Two Yangxin findings, one Huimin finding, and a Yangxin supervisor."""
    supervisor = make.user("supervisor", [make.YANGXIN])
    outsider = make.user("supervisor", [make.HUIMIN])
    mine = [
        open_finding(make.household(), source="on_site", category="住房", description="漏雨", user=supervisor)
        for _ in range(2)
    ]
    huimin = make.household(village=make.HUIMIN_VILLAGE)
    other = open_finding(huimin, source="on_site", category="外县", description="外县问题", user=outsider)
    return {"supervisor": supervisor, "outsider": outsider, "mine": mine, "other": other}


def snapshot(finding_id):
    db.session.expire_all()
    finding = db.session.get(Finding, finding_id)
    events = db.session.scalars(select(FindingEvent.id).where(FindingEvent.finding_id == finding_id)).all()
    return (finding.responsible_unit, finding.deadline, finding.version, len(events))


def test_bulk_sets_unit_and_deadline(area):
    change = BulkChange(responsible_unit="劳店镇政府", deadline=date(2024, 7, 1), comment="统一分派")
    versions = {f.id: f.version for f in area["mine"]}
    changed = bulk_update(versions, change, user=area["supervisor"])
    assert sorted(f.id for f in changed) == sorted(versions)
    for finding in area["mine"]:
        assert snapshot(finding.id) == ("劳店镇政府", date(2024, 7, 1), 2, 2)
        last = finding.events[-1]
        assert last.changes == {"responsible_unit": ["", "劳店镇政府"], "deadline": [None, "2024-07-01"]}
        assert last.comment == "统一分派"
    audit = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "finding.bulk_update")).one()
    assert sorted(audit.detail["finding_ids"]) == sorted(versions)


def test_bulk_other_county_refused_rows_unchanged(area):
    ids = [f.id for f in area["mine"]] + [area["other"].id]
    before = {finding_id: snapshot(finding_id) for finding_id in ids}
    with pytest.raises(FieldError) as raised:
        bulk_update(dict.fromkeys(ids), BulkChange(responsible_unit="越权单位"), user=area["supervisor"])
    assert raised.value.field == "ids"
    assert str(area["other"].id) in raised.value.message
    assert {finding_id: snapshot(finding_id) for finding_id in ids} == before


def test_bulk_unknown_id_refused(area):
    with pytest.raises(FieldError) as raised:
        bulk_update({area["mine"][0].id: None, 999999: None}, BulkChange(deadline=date(2024, 7, 1)),
                    user=area["supervisor"])
    assert "999999" in raised.value.message
    assert snapshot(area["mine"][0].id)[1] is None


def test_bulk_closed_refused(area):
    supervisor = area["supervisor"]
    closed = area["mine"][1]
    corrected_finding(closed, supervisor)
    change_status(closed, "closed", comment="已核实", user=supervisor)
    with pytest.raises(FieldError) as raised:
        bulk_update(dict.fromkeys(f.id for f in area["mine"]), BulkChange(responsible_unit="X"),
                    user=supervisor)
    assert str(closed.id) in raised.value.message
    assert area["mine"][0].responsible_unit == ""


def test_bulk_stale_version_conflicts(area):
    first, second = area["mine"]
    change_status(second, "in_progress", comment="", user=area["outsider"])
    with pytest.raises(Conflict) as raised:
        bulk_update({first.id: 1, second.id: 1}, BulkChange(responsible_unit="X"), user=area["supervisor"])
    assert str(second.id) in raised.value.message
    assert first.responsible_unit == ""


def test_bulk_needs_a_value(area):
    with pytest.raises(FieldError):
        bulk_update({area["mine"][0].id: None}, BulkChange(), user=area["supervisor"])
    with pytest.raises(FieldError):
        bulk_update({}, BulkChange(responsible_unit="X"), user=area["supervisor"])


def test_bulk_route_other_county_untouched(client, area):
    ids = [f.id for f in area["mine"]] + [area["other"].id]
    before = {finding_id: snapshot(finding_id) for finding_id in ids}
    login(client, area["supervisor"])
    data = {"action": "edit", "responsible_unit": "越权单位", "ids": [str(i) for i in ids],
            "next": "/review/findings?status=pending"}
    data.update({f"version-{f.id}": str(f.version) for f in area["mine"]})
    response = client.post("/review/findings/bulk", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == "/review/findings?status=pending"
    assert {finding_id: snapshot(finding_id) for finding_id in ids} == before
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert str(area["other"].id) in page
    assert "越权单位" not in page


def test_bulk_route_applies(client, area):
    login(client, area["supervisor"])
    data = {"action": "edit", "deadline": "2024-08-01", "ids": [str(f.id) for f in area["mine"]]}
    response = client.post("/review/findings/bulk", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == "/review/findings"
    for finding in area["mine"]:
        assert snapshot(finding.id)[1] == date(2024, 8, 1)


def test_bulk_route_reinspection(client, area, make):
    supervisor = area["supervisor"]
    inspector = make.user("inspector", [make.LAODIAN])
    for finding in area["mine"]:
        change_status(finding, "corrected", comment="", user=supervisor)
    make_round("回头看批次", [f.household for f in area["mine"]])
    login(client, supervisor)
    data = {"action": "reinspect", "inspector": str(inspector.id), "ids": [str(f.id) for f in area["mine"]]}
    response = client.post("/review/findings/bulk", data=data)
    assert response.status_code == 302
    tasks = db.session.scalars(select(ReinspectionTask)).all()
    assert len(tasks) == 2
    assert {task.inspector_id for task in tasks} == {inspector.id}
