"""Labour capacity against school, age and health."""

import pytest

from fieldapp.checks.services import run_checks
from fieldapp.extensions import db
from tests.checks.support import born, hits, problems, set_birth, set_thresholds


@pytest.fixture
def member(ctx, make):
    set_thresholds(reference_date="2026-11-30")
    return make.household(members=1).members[0]


def update(member, *, years: int | None = None, **fields):
    if years is not None:
        set_birth(member, born(years))
    for name, value in fields.items():
        setattr(member, name, value)
    db.session.flush()


@pytest.mark.parametrize("skill", ["普通劳动力", "技能劳动力", "弱劳动力或半劳动力"])
def test_student_capable(member, skill):
    update(member, years=19, school_status="大学本科", labour_skill=skill)
    run_checks()
    [problem] = problems("labour_student_capable")
    assert problem.detail_values == {"school_status": "大学本科", "labour_skill": skill}


@pytest.mark.parametrize("skill", ["无劳动力", ""])
def test_student_without_labour_not_flagged(member, skill):
    update(member, years=19, school_status="大学本科", labour_skill=skill)
    run_checks()
    assert hits("labour_student_capable") == []


def test_minor_capable(member):
    update(member, years=15, labour_skill="普通劳动力", school_status="", out_of_school_reason="辍学")
    run_checks()
    [problem] = problems("labour_minor_capable")
    assert problem.detail_values == {"age": 15, "labour_skill": "普通劳动力"}


def test_minor_student_reported_once(member):
    update(member, years=15, labour_skill="普通劳动力", school_status="九年级")
    run_checks()
    assert hits("labour_minor_capable") == []
    assert hits("labour_student_capable") == [(member.household_id, member.id)]


def test_sixteen_capable_not_flagged(member):
    update(member, years=16, labour_skill="普通劳动力")
    run_checks()
    assert hits("labour_minor_capable") == []


@pytest.mark.parametrize("skill", ["无劳动力", "丧失劳动力"])
def test_healthy_without(member, skill):
    update(member, years=40, health="健康", labour_skill=skill)
    run_checks()
    [problem] = problems("labour_healthy_without")
    assert problem.detail_values == {"age": 40, "labour_skill": skill}


@pytest.mark.parametrize(("years", "health", "school"), [
    (61, "健康", ""), (15, "健康", ""), (40, "患有大病", ""), (40, "残疾", ""), (20, "健康", "大学本科"),
])
def test_healthy_without_exceptions(member, years, health, school):
    update(member, years=years, health=health, labour_skill="无劳动力", school_status=school,
           out_of_school_reason="辍学")
    run_checks()
    assert hits("labour_healthy_without") == []


def test_working_age_is_setting(member):
    update(member, years=63, health="健康", labour_skill="无劳动力")
    set_thresholds(reference_date="2026-11-30", working_age_max=65)
    run_checks()
    assert hits("labour_healthy_without") == [(member.household_id, member.id)]
