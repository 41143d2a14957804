"""Re-inspection (回头看): tasks for inspectors, and visits that confirm or reopen findings."""

import os

import pytest
from sqlalchemy import select

from fieldapp.audit.models import AuditRecord
from fieldapp.errors import Conflict, FieldError
from fieldapp.extensions import db
from fieldapp.review import reinspection
from fieldapp.review.evidence import file_path
from fieldapp.review.models import FindingEvidence, ReinspectionTask
from fieldapp.review.reinspection import ReinspectionResult, apply_reinspection, create_tasks, parse_results
from fieldapp.review.services import change_status, open_finding
from fieldapp.training import demo
from tests.review.conftest import make_round, make_visit
from tests.review.support import add_photo_evidence
from tests.security.records import make_photo


@pytest.fixture
def case(ctx, make):
    supervisor = make.user("supervisor", [make.YANGXIN])
    inspector = make.user("inspector", [make.LAODIAN])
    household = make.household()
    sampling_round = make_round("第一批", [household], inspector=inspector)
    sampled = sampling_round.sampled_households[0]
    findings = [
        open_finding(household, source="on_site", category=category, description="问题", user=supervisor,
                     sampled_household=sampled)
        for category in ("住房安全", "饮水安全")
    ]
    for finding in findings:
        change_status(finding, "corrected", comment="已整改", user=supervisor)
    return {"supervisor": supervisor, "inspector": inspector, "household": household, "sampled": sampled,
            "findings": findings}


def task_for(case):
    tasks = create_tasks(case["findings"], case["inspector"], instructions="查看屋顶和水管",
                         user=case["supervisor"])
    return tasks[0]


def test_create_task(case):
    task = task_for(case)
    assert task.status == "open"
    assert task.sampled_household_id == case["sampled"].id
    assert [item.finding_id for item in task.items] == [f.id for f in case["findings"]]
    assert reinspection.open_tasks_for_inspector(case["inspector"]) == [task]
    audit = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "reinspection.create")).one()
    assert audit.detail["inspector_id"] == case["inspector"].id


def test_create_task_needs_corrected(case):
    change_status(case["findings"][1], "pending", comment="", user=case["supervisor"])
    with pytest.raises(FieldError) as raised:
        task_for(case)
    assert str(case["findings"][1].id) in raised.value.message
    assert db.session.scalars(select(ReinspectionTask)).all() == []


def test_create_task_inspector_outside_village(case, make):
    elsewhere = make.user("inspector", [make.SHUIWAN])
    with pytest.raises(FieldError) as raised:
        create_tasks(case["findings"], elsewhere, instructions="", user=case["supervisor"])
    assert raised.value.field == "inspector"


def test_create_task_twice_refused(case):
    task_for(case)
    with pytest.raises(FieldError) as raised:
        task_for(case)
    assert raised.value.field == "ids"
    assert str(case["findings"][0].id) in raised.value.message


def test_other_inspector_sees_no_task(case, make):
    task_for(case)
    colleague = make.user("inspector", [make.LAODIAN])
    assert reinspection.open_tasks_for_inspector(colleague) == []


def test_reinspection_reopens(case):
    task = task_for(case)
    visit = make_visit(case["sampled"], case["inspector"])
    first, second = case["findings"]
    results = [
        ReinspectionResult(first.id, False, "屋顶仍漏雨"),
        ReinspectionResult(second.id, True, "已通自来水"),
    ]
    add_photo_evidence(second, case["supervisor"])
    apply_reinspection(visit, task, results, case["inspector"])

    assert first.status == "pending"
    assert first.corrected_at is None
    assert first.events[-1].comment == "屋顶仍漏雨"
    assert first.events[-1].user_id == case["inspector"].id
    assert second.status == "closed"
    assert second.recheck_method == "reinspection"
    assert second.recheck_visit_id == visit.id
    assert [item.result for item in task.items] == ["reopened", "confirmed"]
    assert (task.status, task.visit_id) == ("done", visit.id)
    assert reinspection.open_tasks_for_inspector(case["inspector"]) == []


def test_reinspection_photos_become_evidence(case, app):
    task = task_for(case)
    visit = make_visit(case["sampled"], case["inspector"])
    photo = make_photo(visit)
    results = [ReinspectionResult(f.id, True, "") for f in case["findings"]]
    apply_reinspection(visit, task, results, case["inspector"])
    for finding in case["findings"]:
        assert finding.status == "closed"
        evidence = db.session.scalars(
            select(FindingEvidence).where(FindingEvidence.finding_id == finding.id)
        ).all()
        assert [(e.kind, e.photo_id) for e in evidence] == [("visit_photo", photo.id)]


def test_reinspection_confirm_without_evidence_stays_corrected(case):
    task = task_for(case)
    visit = make_visit(case["sampled"], case["inspector"])
    apply_reinspection(visit, task, [ReinspectionResult(f.id, True, "") for f in case["findings"]],
                       case["inspector"])
    first = case["findings"][0]
    assert first.status == "corrected"
    assert first.rechecked_at is not None
    # The re-check is done, so the supervisor closes it once evidence is added, without a note.
    add_photo_evidence(first, case["supervisor"])
    change_status(first, "closed", comment="", user=case["supervisor"])
    assert first.status == "closed"


def test_reinspection_repeat_is_harmless(case):
    task = task_for(case)
    visit = make_visit(case["sampled"], case["inspector"])
    results = [ReinspectionResult(f.id, False, "未整改") for f in case["findings"]]
    apply_reinspection(visit, task, results, case["inspector"])
    events = len(case["findings"][0].events)
    apply_reinspection(visit, task, results, case["inspector"])
    assert len(case["findings"][0].events) == events
    other = make_visit(case["sampled"], case["inspector"])
    with pytest.raises(Conflict):
        apply_reinspection(other, task, results, case["inspector"])


def test_reinspection_missing_result_rejected(case):
    task = task_for(case)
    visit = make_visit(case["sampled"], case["inspector"])
    with pytest.raises(FieldError):
        partial = [ReinspectionResult(case["findings"][0].id, True, "")]
        apply_reinspection(visit, task, partial, case["inspector"])
    assert task.status == "open"


def test_parse_results(case):
    task = task_for(case)
    first, second = case["findings"]
    form = {f"reinspection-{first.id}": "yes", f"reinspection-{second.id}": "no"}
    results, errors = parse_results(form, task)
    assert [(r.finding_id, r.is_corrected) for r in results] == [(first.id, True)]
    assert list(errors) == [f"reinspection-note-{second.id}"]
    results, errors = parse_results({}, task)
    assert set(errors) == {f"reinspection-{first.id}", f"reinspection-{second.id}"}


def test_task_needs_sampled_household(ctx, make):
    supervisor = make.user("supervisor", [make.YANGXIN])
    inspector = make.user("inspector", [make.LAODIAN])
    finding = open_finding(make.household(), source="check_rule", category="台账", description="",
                           user=supervisor)
    change_status(finding, "corrected", comment="", user=supervisor)
    with pytest.raises(FieldError) as raised:
        create_tasks([finding], inspector, instructions="", user=supervisor)
    assert finding.household.household_no in raised.value.message


def test_cancel_task(case):
    task = task_for(case)
    reinspection.cancel_task(task, user=case["supervisor"])
    assert task.status == "cancelled"
    assert reinspection.open_tasks_for_inspector(case["inspector"]) == []
    with pytest.raises(FieldError):
        reinspection.cancel_task(task, user=case["supervisor"])


def test_demo_reset_deletes_evidence_and_tasks(ctx, make, app):
    supervisor = make.user("supervisor", [make.YANGXIN], is_demo=True)
    inspector = make.user("inspector", [make.LAODIAN], is_demo=True)
    household = make.household(is_demo=True)
    sampled = make_round("培训批次", [household], inspector=inspector).sampled_households[0]
    finding = open_finding(household, source="on_site", category="住房", description="", user=supervisor,
                           sampled_household=sampled)
    change_status(finding, "corrected", comment="", user=supervisor)
    item = add_photo_evidence(finding, supervisor).evidence
    path = file_path(item, "full")
    create_tasks([finding], inspector, instructions="", user=supervisor)
    assert os.path.exists(path)

    summary = demo.delete_demo_data()
    demo.remove_deleted_files(summary)
    assert db.session.scalars(select(FindingEvidence)).all() == []
    assert db.session.scalars(select(ReinspectionTask)).all() == []
    assert not os.path.exists(path)
