"""Rectification rules beyond the basic transitions: closing, re-checks, edits, comments, schema."""

from datetime import date

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from fieldapp.audit.models import AuditRecord
from fieldapp.errors import Conflict, FieldError
from fieldapp.extensions import db
from fieldapp.review.models import Finding, FindingEvent
from fieldapp.review.services import (
    add_comment,
    change_status,
    edit_finding,
    events_since,
    open_finding,
    record_recheck,
)
from tests.review.support import add_photo_evidence, corrected_finding


@pytest.fixture
def supervisor(make):
    return make.user("supervisor", [make.YANGXIN])


@pytest.fixture
def finding(ctx, make, supervisor):
    household = make.household()
    return open_finding(household, source="on_site", category="住房安全", description="屋顶漏雨",
                        user=supervisor)


def events_of(finding) -> list[FindingEvent]:
    return db.session.scalars(
        select(FindingEvent).where(FindingEvent.finding_id == finding.id).order_by(FindingEvent.id)
    ).all()


# Closing.


def test_close_without_evidence_refused(finding, supervisor):
    corrected_finding(finding, supervisor, evidence=False)
    with pytest.raises(FieldError) as raised:
        change_status(finding, "closed", comment="我已现场查看", user=supervisor)
    assert raised.value.field == "status"
    assert str(finding.id) in raised.value.message
    assert finding.status == "corrected"
    assert finding.closed_at is None
    assert [e.to_status for e in events_of(finding) if e.kind == "status"] == ["pending", "corrected"]


def test_close_without_recheck_needs_comment(finding, supervisor):
    corrected_finding(finding, supervisor)
    with pytest.raises(FieldError) as raised:
        change_status(finding, "closed", comment="  ", user=supervisor)
    assert raised.value.field == "comment"
    assert finding.status == "corrected"


def test_close_with_supervisor_check(finding, supervisor):
    corrected_finding(finding, supervisor)
    change_status(finding, "closed", comment="电话回访并查看照片，已修好", user=supervisor)
    db.session.expire_all()
    stored = db.session.get(Finding, finding.id)
    assert stored.status == "closed"
    assert stored.closed_at is not None
    assert stored.recheck_method == "supervisor"
    assert stored.rechecked_by_id == supervisor.id
    assert stored.recheck_note == "电话回访并查看照片，已修好"
    assert stored.evidence_count == 1


def test_close_after_reinspection_recheck(finding, supervisor, make):
    inspector = make.user("inspector", [make.LAODIAN])
    corrected_finding(finding, supervisor)
    record_recheck(finding, user=inspector, method="reinspection", note="现场确认")
    change_status(finding, "closed", comment="", user=supervisor)
    assert finding.status == "closed"
    assert finding.recheck_method == "reinspection"
    assert finding.rechecked_by_id == inspector.id


def test_closed_is_final(finding, supervisor):
    corrected_finding(finding, supervisor)
    change_status(finding, "closed", comment="已核实", user=supervisor)
    for to_status in ("pending", "in_progress", "corrected"):
        with pytest.raises(FieldError):
            change_status(finding, to_status, comment="", user=supervisor)
    with pytest.raises(FieldError):
        edit_finding(finding, {"responsible_unit": "劳店镇政府"}, user=supervisor)
    assert finding.status == "closed"


def test_reopen_clears_correction_and_recheck(finding, supervisor, make):
    inspector = make.user("inspector", [make.LAODIAN])
    corrected_finding(finding, supervisor)
    record_recheck(finding, user=inspector, method="reinspection", note="ok")
    change_status(finding, "pending", comment="复查发现仍漏雨", user=supervisor)
    assert finding.corrected_at is None
    assert finding.rechecked_at is None
    assert finding.recheck_method is None
    assert finding.evidence_count == 1


def test_recheck_needs_corrected(finding, supervisor):
    with pytest.raises(FieldError):
        record_recheck(finding, user=supervisor, method="supervisor", note="")
    assert finding.rechecked_at is None


# Edits and comments.


def test_edit_records_old_and_new(finding, supervisor):
    changes = edit_finding(
        finding,
        {"responsible_unit": "劳店镇政府", "deadline": date(2024, 6, 30), "measures": "维修屋顶"},
        user=supervisor, comment="分派", expected_version=1,
    )
    assert changes == {
        "responsible_unit": ["", "劳店镇政府"],
        "deadline": [None, "2024-06-30"],
        "measures": ["", "维修屋顶"],
    }
    assert finding.version == 2
    last = events_of(finding)[-1]
    assert (last.kind, last.changes, last.comment, last.user_id, last.version) == (
        "edit", changes, "分派", supervisor.id, 2
    )
    assert last.from_status is None
    assert last.to_status is None
    audit = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "finding.edit")).one()
    assert audit.detail == {"fields": ["deadline", "measures", "responsible_unit"]}


def test_edit_without_change_writes_nothing(finding, supervisor):
    assert edit_finding(finding, {"category": "住房安全"}, user=supervisor) == {}
    assert finding.version == 1
    assert len(events_of(finding)) == 1


def test_edit_too_long_rejected(finding, supervisor):
    with pytest.raises(FieldError) as raised:
        edit_finding(finding, {"responsible_unit": "单" * 101}, user=supervisor)
    assert raised.value.field == "responsible_unit"
    assert finding.responsible_unit == ""


def test_edit_stale_version_conflicts(finding, supervisor, make):
    other = make.user("supervisor", [make.YANGXIN])
    edit_finding(finding, {"responsible_unit": "水利局"}, user=other, expected_version=1)
    with pytest.raises(Conflict) as raised:
        edit_finding(finding, {"responsible_unit": "住建局"}, user=supervisor, expected_version=1)
    assert (raised.value.expected, raised.value.current) == (1, 2)
    assert finding.responsible_unit == "水利局"
    assert [e.changes for e in events_since(finding, 1)] == [{"responsible_unit": ["", "水利局"]}]


def test_comment_keeps_version(finding, supervisor):
    event = add_comment(finding, "已电话联系村支书", user=supervisor)
    assert (event.kind, event.comment, event.version) == ("comment", "已电话联系村支书", 1)
    assert finding.version == 1
    with pytest.raises(FieldError):
        add_comment(finding, "   ", user=supervisor)


def test_history_complete_all_kinds(finding, supervisor, make):
    other = make.user("admin", [make.YANGXIN])
    edit_finding(finding, {"responsible_person": "张三"}, user=supervisor)
    change_status(finding, "in_progress", comment="开始整改", user=other)
    add_comment(finding, "村里已备料", user=supervisor)
    change_status(finding, "corrected", comment="已修好", user=other)
    add_photo_evidence(finding, supervisor, note="修好后的照片")
    change_status(finding, "closed", comment="照片清楚，已核实", user=supervisor)
    db.session.expire_all()
    steps = [(e.kind, e.from_status, e.to_status, e.user_id, e.comment) for e in events_of(finding)]
    assert steps == [
        ("status", None, "pending", supervisor.id, ""),
        ("edit", None, None, supervisor.id, ""),
        ("status", "pending", "in_progress", other.id, "开始整改"),
        ("comment", None, None, supervisor.id, "村里已备料"),
        ("status", "in_progress", "corrected", other.id, "已修好"),
        ("evidence", None, None, supervisor.id, "修好后的照片"),
        ("status", "corrected", "closed", supervisor.id, "照片清楚，已核实"),
    ]
    assert all(e.at is not None for e in events_of(finding))
    assert events_of(finding)[5].changes == {"evidence": [None, "roof.jpg"]}


# The schema enforces the rules on its own.


def raw(sql: str, **params):
    with db.session.begin_nested():
        db.session.execute(text(sql), params)


def test_schema_refuses_close_without_evidence(finding, supervisor):
    corrected_finding(finding, supervisor, evidence=False)
    with pytest.raises(IntegrityError):
        raw("UPDATE findings SET status = 'closed', closed_at = corrected_at, rechecked_at = corrected_at, "
            "rechecked_by_id = :user WHERE id = :id", user=supervisor.id, id=finding.id)


def test_schema_refuses_close_without_recheck(finding, supervisor):
    corrected_finding(finding, supervisor)
    with pytest.raises(IntegrityError):
        raw("UPDATE findings SET status = 'closed', closed_at = corrected_at WHERE id = :id", id=finding.id)


def test_schema_refuses_open_with_correction_time(finding, supervisor):
    corrected_finding(finding, supervisor)
    with pytest.raises(IntegrityError):
        raw("UPDATE findings SET status = 'pending' WHERE id = :id", id=finding.id)


@pytest.mark.parametrize("from_status, to_status", [
    ("pending", "closed"), ("closed", "pending"), ("corrected", "in_progress"), (None, "corrected"),
])
def test_schema_refuses_forbidden_transition_event(finding, from_status, to_status):
    with pytest.raises(IntegrityError):
        raw("INSERT INTO finding_events (finding_id, at, kind, from_status, to_status, changes, comment) "
            "VALUES (:id, CURRENT_TIMESTAMP, 'status', :from_status, :to_status, '{}', '')",
            id=finding.id, from_status=from_status, to_status=to_status)


def test_schema_accepts_allowed_transition_event(finding):
    raw("INSERT INTO finding_events (finding_id, at, kind, from_status, to_status, changes, comment) "
        "VALUES (:id, CURRENT_TIMESTAMP, 'status', 'corrected', 'closed', '{}', '')", id=finding.id)
