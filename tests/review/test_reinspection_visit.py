"""A re-inspection visit through the inspector's pages: the task, the form, and what it changes."""

import re
import uuid

import pytest
from sqlalchemy import select

from fieldapp.api import tokens
from fieldapp.extensions import db
from fieldapp.review.models import Finding, ReinspectionTask
from fieldapp.review.reinspection import create_tasks
from fieldapp.review.services import change_status, open_finding
from fieldapp.visits.models import Visit
from tests.api.conftest import ApiClient, visit_body
from tests.conftest import login
from tests.review.support import add_photo_evidence
from tests.visits.support import sample, visit_form


@pytest.fixture
def task_case(app, make):
    supervisor = make.user("supervisor", [make.YANGXIN])
    assigned = make.user("inspector", [make.LAODIAN])
    reinspector = make.user("inspector", [make.LAODIAN])
    household = make.household()
    sampled = sample(household, assigned)
    findings = [
        open_finding(household, source="on_site", category=category, description="问题", user=supervisor,
                     sampled_household=sampled)
        for category in ("住房安全", "饮水安全")
    ]
    for finding in findings:
        change_status(finding, "corrected", comment="已整改", user=supervisor)
    add_photo_evidence(findings[1], supervisor)
    with app.test_request_context():
        [task] = create_tasks(findings, reinspector, instructions="查看屋顶", user=supervisor)
    client = app.test_client()
    client.set_cookie("lang", "en", domain="localhost.localdomain")
    login(client, reinspector)
    return {"task": task, "sampled": sampled, "household": household, "findings": findings,
            "client": client, "assigned": assigned, "reinspector": reinspector}


def form_url(case):
    return f"/visits/households/{case['sampled'].id}/new?reinspection_task={case['task'].id}"


def post(case, **results):
    data = visit_form(case["household"], str(uuid.uuid4()), reinspection_task=str(case["task"].id), **results)
    return case["client"].post(form_url(case), data=data, content_type="multipart/form-data")


def test_assignments_list_task(task_case):
    html = task_case["client"].get("/visits/").get_data(as_text=True)
    assert "Re-inspections" in html
    link = f'href="/visits/households/{task_case["sampled"].id}/new?reinspection_task={task_case["task"].id}"'
    assert link in html.replace("&amp;", "&")


def test_form_asks_per_finding(task_case):
    response = task_case["client"].get(form_url(task_case))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'name="reinspection_task" value="{task_case["task"].id}"' in html
    for finding in task_case["findings"]:
        assert f'name="reinspection-{finding.id}" value="yes"' in html
        assert f'name="reinspection-note-{finding.id}"' in html
    assert "查看屋顶" in html


def test_form_needs_own_open_task(task_case, app, make):
    other = app.test_client()
    login(other, make.user("inspector", [make.LAODIAN]))
    assert other.get(form_url(task_case)).status_code == 404
    # Without the task, the re-inspector may not visit a household assigned to someone else.
    plain = f"/visits/households/{task_case['sampled'].id}/new"
    assert task_case["client"].get(plain).status_code == 404


def test_visit_reopens_and_closes(task_case):
    first, second = task_case["findings"]
    response = post(task_case, **{
        f"reinspection-{first.id}": "no", f"reinspection-note-{first.id}": "屋顶仍然漏雨",
        f"reinspection-{second.id}": "yes", f"reinspection-note-{second.id}": "水管已通",
    })
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    visit = db.session.scalars(select(Visit).where(Visit.household_id == task_case["household"].id)).one()
    assert visit.inspector_id == task_case["reinspector"].id
    db.session.expire_all()
    first, second = (db.session.get(Finding, f.id) for f in task_case["findings"])
    assert first.status == "pending"
    assert first.events[-1].comment == "屋顶仍然漏雨"
    assert second.status == "closed"
    assert second.recheck_visit_id == visit.id
    task = db.session.get(ReinspectionTask, task_case["task"].id)
    assert (task.status, task.visit_id) == ("done", visit.id)
    html = task_case["client"].get("/visits/").get_data(as_text=True)
    assert "Re-inspections" not in html


def test_visit_without_results_rejected(task_case):
    first, second = task_case["findings"]
    response = post(task_case, **{f"reinspection-{first.id}": "no"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Describe what is still not corrected." in html
    assert "Choose whether the problem has been corrected." in html
    assert re.search(rf'id="q-reinspection-{second.id}"', html)
    assert db.session.scalars(select(Visit)).all() == []
    assert db.session.get(ReinspectionTask, task_case["task"].id).status == "open"
    assert db.session.get(Finding, first.id).status == "corrected"


def test_done_task_cannot_take_another_visit(task_case):
    results = {f"reinspection-{f.id}": "yes" for f in task_case["findings"]}
    assert post(task_case, **results).status_code == 302
    again = post(task_case, **results)
    assert again.status_code == 404
    assert len(db.session.scalars(select(Visit)).all()) == 1


def test_sync_api_reinspection(task_case, client, ctx):
    first, second = task_case["findings"]
    value, _row = tokens.issue(task_case["reinspector"], user_agent="tests")
    api = ApiClient(client, value)
    body = visit_body(task_case["sampled"], reinspection_task=str(task_case["task"].id), **{
        f"reinspection-{first.id}": "yes", f"reinspection-{second.id}": "no",
        f"reinspection-note-{second.id}": "水管又坏了",
    })
    response = api.post_visit(body)
    assert response.status_code == 201, response.get_json()
    assert api.post_visit(body).status_code == 200
    db.session.expire_all()
    assert db.session.get(Finding, second.id).status == "pending"
    assert db.session.get(Finding, first.id).rechecked_at is not None
    assert db.session.get(ReinspectionTask, task_case["task"].id).status == "done"
    # The same task in another visit is refused.
    again = visit_body(task_case["sampled"], reinspection_task=str(task_case["task"].id), **{
        f"reinspection-{first.id}": "yes", f"reinspection-{second.id}": "yes",
    })
    assert api.post_visit(again).status_code == 409


def test_supervisor_sees_results_on_visit(task_case, app, make):
    first, second = task_case["findings"]
    post(task_case, **{
        f"reinspection-{first.id}": "no", f"reinspection-note-{first.id}": "屋顶仍然漏雨",
        f"reinspection-{second.id}": "yes",
    })
    visit = db.session.scalars(select(Visit)).one()
    supervisor = app.test_client()
    supervisor.set_cookie("lang", "en", domain="localhost.localdomain")
    login(supervisor, make.user("supervisor", [make.YANGXIN]))
    html = supervisor.get(f"/review/visits/{visit.id}").get_data(as_text=True)
    assert "Re-inspection results" in html
    assert "屋顶仍然漏雨" in html
    assert "Not corrected, reopened" in html
    assert "Correction confirmed" in html
