"""Records for the supervisor pages: a Yangxin round with one visited household and its findings."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from fieldapp.checks.models import SuspectedProblem
from fieldapp.extensions import db
from fieldapp.review.services import open_finding
from fieldapp.sampling.models import SampledHousehold, SamplingRound
from fieldapp.visits.models import Questionnaire, VerificationOutcome, Visit

XSS = "<img src=x onerror=alert(1)>"

DEFINITION = {
    "code": "review_test",
    "version": 3,
    "title": {"zh_CN": "入户核查问卷", "en": "Visit questionnaire"},
    "sections": [
        {
            "key": "food",
            "title": {"zh_CN": "不愁吃", "en": "Food"},
            "questions": [
                {"key": "enough_food", "type": "yes_no", "label": {"zh_CN": "吃得饱", "en": "Enough to eat"}},
            ],
        },
        {
            "key": "needs",
            "title": {"zh_CN": "问题和需求", "en": "Problems and needs"},
            "questions": [{"key": "needs", "type": "text", "label": {"zh_CN": "需求", "en": "Needs"}}],
        },
    ],
}


@dataclass
class World:
    supervisor: object
    inspector: object
    household: object
    sampling_round: SamplingRound
    sampled: SampledHousehold
    visit: Visit
    problem: SuspectedProblem
    finding: object


def make_round(name, households, *, inspector=None, stratum=None) -> SamplingRound:
    sampling_round = SamplingRound(name=name, method="stratified_srs", seed=20240501)
    for order, household in enumerate(households):
        sampling_round.sampled_households.append(
            SampledHousehold(
                household=household,
                stratum_code=stratum or household.township_code,
                draw_order=order,
                inspector=inspector,
            )
        )
    db.session.add(sampling_round)
    db.session.flush()
    return sampling_round


def make_visit(sampled, inspector, **fields) -> Visit:
    questionnaire = db.session.scalars(
        db.select(Questionnaire).where(Questionnaire.code == "review_test")
    ).first() or Questionnaire(code="review_test", version=3, title="入户核查问卷", definition=DEFINITION)
    visit = Visit(
        client_uuid=str(uuid.uuid4()),
        content_sha256="0" * 64,
        sampled_household=sampled,
        household=sampled.household,
        inspector=inspector,
        questionnaire=questionnaire,
        answers=fields.pop("answers", {}),
        started_at=datetime(2024, 5, 6, 1, 0, tzinfo=UTC),
        submitted_at=datetime(2024, 5, 6, 1, 40, tzinfo=UTC),
        **fields,
    )
    db.session.add(visit)
    db.session.flush()
    return visit


@pytest.fixture
def world(make) -> World:
    supervisor = make.user("supervisor", [make.YANGXIN])
    inspector = make.user("inspector", [make.LAODIAN])
    household = make.household(latitude=37.6500, longitude=117.5000)
    sampling_round = make_round("阳信县第一批", [household], inspector=inspector)
    sampled = sampling_round.sampled_households[0]

    visit = make_visit(
        sampled,
        inspector,
        latitude=37.6600,
        longitude=117.5000,
        accuracy_m=12.0,
        fixed_at=datetime(2024, 5, 6, 1, 20, tzinfo=UTC),
        distance_m=1112.0,
        location_flags=["far_from_household"],
        answers={"needs": "修路 " + XSS, "enough_food": True},
    )

    problem = SuspectedProblem(
        key=f"head_multiple:{household.id}:", rule_id="head_multiple", household_id=household.id, detail=""
    )
    db.session.add(problem)
    db.session.flush()
    outcome = VerificationOutcome(
        suspected_problem_id=problem.id, outcome="confirmed", note="两人都登记为户主 " + XSS
    )
    visit.outcomes.append(outcome)

    finding = open_finding(
        household,
        source="on_site",
        category="户主登记",
        description="户主登记两次 " + XSS,
        user=supervisor,
        visit=visit,
        sampled_household=sampled,
        suspected_problem=problem,
    )
    return World(supervisor, inspector, household, sampling_round, sampled, visit, problem, finding)
