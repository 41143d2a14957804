"""School rules on ages counted on the reference date, and the age thresholds as settings."""

import pytest

from fieldapp.checks.services import run_checks
from fieldapp.extensions import db
from tests.checks.support import born, hits, problems, set_birth, set_thresholds


@pytest.fixture
def child(ctx, make):
    """A household whose third member is a child; the test sets its age and school status."""
    set_thresholds(reference_date="2026-11-30")
    household = make.household(members=3)
    member = household.members[2]
    member.labour_skill = "无劳动力"
    return member


def with_age(member, years: int, *, days_later: int = 0, school: str = "", reason: str = ""):
    set_birth(member, born(years, days_later=days_later))
    member.school_status, member.out_of_school_reason = school, reason
    db.session.flush()
    return member


@pytest.mark.parametrize("years", [6, 10, 15])
def test_out_of_school(child, years):
    with_age(child, years)
    run_checks()
    [problem] = problems("child_out_of_school")
    assert problem.member_id == child.id
    assert problem.detail_values == {"age": years}


@pytest.mark.parametrize(("years", "days_later"), [(5, 0), (16, 0), (6, 1), (15, -365)])
def test_out_of_school_outside_ages(child, years, days_later):
    # 6 years minus a day is 5; 15 years and a year more is 16.
    with_age(child, years, days_later=days_later)
    run_checks()
    assert hits("child_out_of_school") == []


def test_out_of_school_with_reason(child):
    with_age(child, 9, reason="身体原因")
    run_checks()
    assert hits("child_out_of_school") == []


def test_out_of_school_in_school(child):
    with_age(child, 9, school="小学")
    run_checks()
    assert hits("child_out_of_school") == []


def test_school_ages_are_settings(child):
    with_age(child, 17)
    set_thresholds(reference_date="2026-11-30", school_age_max=17)
    run_checks()
    assert hits("child_out_of_school") == [(child.household_id, child.id)]


def test_reference_date_moves_ages(child):
    with_age(child, 16)
    set_thresholds(reference_date="2025-11-30")
    run_checks()
    [problem] = problems("child_out_of_school")
    assert problem.detail_values == {"age": 15}


def test_primary_too_old(child):
    with_age(child, 16, school="小学")
    run_checks()
    [problem] = problems("school_primary_too_old")
    assert problem.detail_values == {"age": 16, "school_status": "小学"}


def test_primary_at_fifteen_not_flagged(child):
    with_age(child, 15, school="小学")
    run_checks()
    assert hits("school_primary_too_old") == []


@pytest.mark.parametrize("school", ["普通高中一年级", "中职二年级"])
def test_senior_too_young(child, school):
    with_age(child, 13, school=school)
    run_checks()
    assert hits("school_senior_too_young") == [(child.household_id, child.id)]


def test_senior_at_fourteen_not_flagged(child):
    with_age(child, 14, school="普通高中一年级")
    run_checks()
    assert hits("school_senior_too_young") == []


def test_student_too_old(child):
    with_age(child, 30, school="大学本科")
    run_checks()
    assert hits("school_student_too_old") == [(child.household_id, child.id)]


def test_student_of_twenty_nine_not_flagged(child):
    with_age(child, 29, school="硕士研究生及以上")
    run_checks()
    assert hits("school_student_too_old") == []


def test_missing_birth_date_not_flagged(child):
    with_age(child, 9)
    child.birth_date = None
    db.session.flush()
    run_checks()
    assert hits("child_out_of_school") == []
