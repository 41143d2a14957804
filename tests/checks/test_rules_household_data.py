"""Risks against members, work against income, incomes, living conditions and medical insurance."""

from decimal import Decimal

import pytest
from flask_babel import force_locale

from fieldapp.checks.services import problem_detail, run_checks
from fieldapp.extensions import db
from tests.checks.support import hits, problems, set_thresholds


def household_hits(rule_id):
    return [household_id for household_id, member_id in hits(rule_id) if member_id is None]


# -- risks against members ---------------------------------------------------


def test_illness_all_healthy(ctx, make):
    household = make.household(members=3, risks=["因病"])
    run_checks()
    [problem] = problems("risk_illness_all_healthy")
    assert (problem.household_id, problem.member_id) == (household.id, None)
    assert problem.detail_values == {"members": 3}


def test_illness_with_ill_member(ctx, make):
    household = make.household(members=3, risks=["因务工就业不稳", "因病"])
    household.members[1].health = "长期慢性病"
    db.session.flush()
    run_checks()
    assert household_hits("risk_illness_all_healthy") == []


def test_illness_risk_matched_exactly(ctx, make):
    make.household(members=2, risks=["因病致贫"])
    run_checks()
    assert household_hits("risk_illness_all_healthy") == []


def test_disability_nobody_disabled(ctx, make):
    household = make.household(members=2, risks=["因残"])
    with_disabled = make.household(members=2, risks=["因残"])
    with_disabled.members[0].health = "残疾"
    db.session.flush()
    run_checks()
    assert household_hits("risk_disability_none_disabled") == [household.id]


def test_education_no_student(ctx, make):
    household = make.household(members=2, risks=["因学"])
    with_student = make.household(members=3, risks=["因学"])
    with_student.members[2].school_status = "大学本科"
    db.session.flush()
    run_checks()
    assert household_hits("risk_education_no_student") == [household.id]


def test_labour_shortage_many_workers(ctx, make):
    three = make.household(members=3, risks=["缺劳动力"])
    two = make.household(members=3, risks=["缺劳动力"])
    two.members[2].labour_skill = "弱劳动力或半劳动力"
    make.household(members=4, risks=[])
    db.session.flush()

    run_checks()

    [problem] = problems("risk_labour_shortage_many_workers")
    assert problem.household_id == three.id
    assert problem.detail_values == {"labourers": 3}


def test_labour_shortage_threshold_setting(ctx, make):
    household = make.household(members=2, risks=["缺劳动力"])
    set_thresholds(labour_shortage_workers=2)
    run_checks()
    assert household_hits("risk_labour_shortage_many_workers") == [household.id]


# -- work against income -----------------------------------------------------


@pytest.mark.parametrize("wage", [None, Decimal("0")])
def test_work_without_wage(ctx, make, wage):
    household = make.household(members=2, wage_income=wage)
    household.members[0].months_worked = 6
    db.session.flush()
    run_checks()
    [problem] = problems("work_without_wage")
    assert problem.detail_values == {"workers": 1}


def test_work_with_wage(ctx, make):
    household = make.household(members=2, wage_income=Decimal("12000"))
    household.members[0].months_worked = 6
    db.session.flush()
    run_checks()
    assert household_hits("work_without_wage") == []
    assert household_hits("wage_without_work") == []


def test_wage_without_work(ctx, make):
    household = make.household(members=2, wage_income=Decimal("8000.50"))
    for member in household.members:
        member.months_worked = 0
    db.session.flush()

    run_checks()

    [problem] = problems("wage_without_work")
    assert problem.detail_values == {"wage_income": 8000.5}
    with force_locale("en"):
        assert problem_detail(problem) == ("Wage income of 8,000.50 yuan, but no member worked during the "
                                           "year.")


# -- incomes -----------------------------------------------------------------


def test_income_below_line(ctx, make):
    poor = make.household(per_capita_net_income=Decimal("6999.99"))
    make.household(per_capita_net_income=Decimal("7000"))
    make.household(per_capita_net_income=Decimal("3000"), household_type="监测对象")
    make.household(per_capita_net_income=None)
    db.session.flush()

    run_checks()

    [problem] = problems("income_below_line")
    assert problem.household_id == poor.id
    assert problem.detail_values == {"income": 6999.99, "line": 7000}
    with force_locale("en"):
        assert problem_detail(problem) == "Net income of 6,999.99 yuan a head, below the line of 7,000 yuan."


def test_income_line_setting(ctx, make):
    household = make.household(per_capita_net_income=Decimal("8000"))
    set_thresholds(income_line="8500")
    run_checks()
    assert household_hits("income_below_line") == [household.id]


@pytest.mark.parametrize(("income", "flagged"), [
    ("499.99", True), ("500", False), ("30000", False), ("30000.01", True),
])
def test_income_implausible(ctx, make, income, flagged):
    household = make.household(per_capita_net_income=Decimal(income), household_type="监测对象")
    run_checks()
    assert household_hits("income_implausible") == ([household.id] if flagged else [])


# -- living conditions and insurance -----------------------------------------


@pytest.mark.parametrize(("rule_id", "field", "value"), [
    ("house_unsafe", "is_unsafe_house", True),
    ("water_unsafe", "has_safe_water", False),
    ("toilet_missing", "has_sanitary_toilet", False),
])
def test_living_conditions(ctx, make, rule_id, field, value):
    exited = make.household(**{field: value})
    make.household(household_type="监测对象", **{field: value})
    make.household(**{field: None})
    make.household(**{field: not value})
    db.session.flush()

    run_checks()

    [problem] = problems(rule_id)
    assert (problem.household_id, problem.member_id) == (exited.id, None)
    assert problem.detail_values == {"household_type": "脱贫户"}


def test_medical_insurance_missing(ctx, make):
    household = make.household(members=3)
    household.members[0].has_medical_insurance = False
    household.members[1].has_medical_insurance = None
    household.members[2].has_medical_insurance = True
    db.session.flush()
    run_checks()
    assert hits("medical_insurance_missing") == [(household.id, household.members[0].id)]
