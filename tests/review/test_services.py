import pytest
from sqlalchemy import select, update

from fieldapp.audit.models import AuditRecord
from fieldapp.errors import Conflict, FieldError
from fieldapp.extensions import db
from fieldapp.review.models import Finding, FindingEvent
from fieldapp.review.services import change_status, open_finding


@pytest.fixture
def supervisor(make):
    return make.user("supervisor", [make.YANGXIN])


@pytest.fixture
def finding(ctx, make, supervisor):
    household = make.household()
    return open_finding(
        household, source="on_site", category="住房安全", description="屋顶漏雨", user=supervisor
    )


def audit_actions():
    return db.session.scalars(select(AuditRecord.action).order_by(AuditRecord.id)).all()


def test_open_finding_writes_first_event(finding, supervisor):
    assert finding.id is not None
    assert finding.status == "pending"
    assert finding.version == 1
    assert finding.corrected_at is None
    events = db.session.scalars(select(FindingEvent).where(FindingEvent.finding_id == finding.id)).all()
    assert len(events) == 1
    assert events[0].from_status is None
    assert events[0].to_status == "pending"
    assert events[0].user_id == supervisor.id
    assert "finding.open" in audit_actions()


def test_open_finding_rejects_unknown_source(ctx, make, supervisor):
    household = make.household()
    with pytest.raises(FieldError) as raised:
        open_finding(household, source="rumour", category="", description="", user=supervisor)
    assert raised.value.field == "source"
    assert "rumour" in raised.value.message
    assert db.session.scalars(select(Finding)).all() == []


@pytest.mark.parametrize(
    "path",
    [
        ["corrected"],
        ["corrected", "pending"],
        ["in_progress"],
        ["in_progress", "corrected"],
        ["in_progress", "pending"],
        ["in_progress", "corrected", "pending", "corrected"],
    ],
)
def test_allowed_transitions(finding, supervisor, path):
    for to_status in path:
        change_status(finding, to_status, comment=f"to {to_status}", user=supervisor)
        assert finding.status == to_status
    db.session.expire_all()
    stored = db.session.get(Finding, finding.id)
    assert stored.status == path[-1]
    assert stored.version == 1 + len(path)


@pytest.mark.parametrize(
    "path, forbidden",
    [
        ([], "pending"),
        ([], "closed"),
        (["corrected"], "in_progress"),
        (["corrected"], "corrected"),
        (["corrected"], "closed"),
        (["in_progress"], "in_progress"),
        ([], "archived"),
    ],
)
def test_forbidden_transitions(finding, supervisor, path, forbidden):
    for to_status in path:
        change_status(finding, to_status, comment="", user=supervisor)
    events_before = len(finding.events)
    with pytest.raises(FieldError) as raised:
        change_status(finding, forbidden, comment="no", user=supervisor)
    assert raised.value.field == "status"
    assert finding.status == (path[-1] if path else "pending")
    assert len(finding.events) == events_before


def test_corrected_at_set_and_cleared(finding, supervisor):
    change_status(finding, "corrected", comment="修好了", user=supervisor)
    assert finding.corrected_at is not None
    assert finding.corrected_at.tzinfo is not None

    change_status(finding, "pending", comment="复查未整改", user=supervisor)
    assert finding.corrected_at is None

    change_status(finding, "corrected", comment="again", user=supervisor)
    change_status(finding, "pending", comment="", user=supervisor)
    change_status(finding, "in_progress", comment="", user=supervisor)
    assert finding.corrected_at is None
    db.session.expire_all()
    assert db.session.get(Finding, finding.id).corrected_at is None


def test_history_complete(finding, supervisor, make):
    other = make.user("admin", [make.YANGXIN])
    change_status(finding, "in_progress", comment="已联系村委", user=supervisor)
    change_status(finding, "corrected", comment="已修缮", user=other)
    change_status(finding, "pending", comment="照片不清楚", user=supervisor)
    db.session.expire_all()

    events = db.session.scalars(
        select(FindingEvent).where(FindingEvent.finding_id == finding.id).order_by(FindingEvent.id)
    ).all()
    steps = [(e.from_status, e.to_status, e.user_id, e.comment) for e in events]
    assert steps == [
        (None, "pending", supervisor.id, ""),
        ("pending", "in_progress", supervisor.id, "已联系村委"),
        ("in_progress", "corrected", other.id, "已修缮"),
        ("corrected", "pending", supervisor.id, "照片不清楚"),
    ]
    assert all(e.at is not None for e in events)
    assert audit_actions().count("finding.status") == 3


def test_comment_too_long_rejected(finding, supervisor):
    with pytest.raises(FieldError) as raised:
        change_status(finding, "corrected", comment="x" * 2001, user=supervisor)
    assert raised.value.field == "comment"
    assert finding.status == "pending"


def test_expected_version_mismatch_conflicts(finding, supervisor):
    with pytest.raises(Conflict) as raised:
        change_status(finding, "corrected", comment="late", user=supervisor, expected_version=7)
    assert raised.value.expected == 7
    assert raised.value.current == 1
    assert finding.status == "pending"
    assert len(finding.events) == 1


def test_expected_version_match_saves(finding, supervisor):
    change_status(finding, "corrected", comment="ok", user=supervisor, expected_version=1)
    assert finding.status == "corrected"
    assert finding.version == 2


def test_concurrent_update_conflicts(finding, supervisor):
    # Another request changed the row after this session loaded it.
    table = Finding.__table__
    db.session.execute(update(table).where(table.c.id == finding.id).values(version=table.c.version + 1))
    with pytest.raises(Conflict):
        change_status(finding, "corrected", comment="mine", user=supervisor)
    db.session.rollback()
    statuses = db.session.scalars(select(FindingEvent.to_status).where(FindingEvent.finding_id == finding.id))
    assert "corrected" not in statuses.all()
