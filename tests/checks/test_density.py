"""Problem density per household, village, township and county."""

from datetime import date

import pytest
from sqlalchemy import select

from fieldapp.checks.density import household_scores, problem_density
from fieldapp.checks.services import run_checks
from fieldapp.extensions import db


def break_two_rules(household):
    """One medium problem (birth date) and one high problem (no medical insurance)."""
    household.members[0].birth_date = date(1979, 5, 5)
    household.members[1].has_medical_insurance = False
    db.session.flush()


@pytest.fixture
def villages(ctx, make):
    laodian = [make.household(make.LAODIAN_VILLAGE) for _ in range(3)]
    shuiwan = [make.household(make.SHUIWAN_VILLAGE) for _ in range(2)]
    huimin = make.household(make.HUIMIN_VILLAGE)
    break_two_rules(laodian[0])
    laodian[1].members[0].birth_date = date(1979, 5, 5)
    break_two_rules(huimin)
    db.session.flush()
    run_checks()
    return laodian, shuiwan, huimin


def test_household_scores(villages):
    laodian, _, huimin = villages
    rows = {row.household_id: (row.problems, row.score) for row in db.session.execute(
        household_scores(is_demo=False, division_prefixes=None))}
    assert rows == {laodian[0].id: (2, 5), laodian[1].id: (1, 2), huimin.id: (2, 5)}


def test_household_scores_in_scope(villages, make):
    laodian, _, _ = villages
    scores = household_scores(is_demo=False, division_prefixes=[make.LAODIAN[:9]]).subquery()
    assert set(db.session.scalars(select(scores.c.household_id))) == {laodian[0].id, laodian[1].id}


def test_township_density(villages, make):
    rows = problem_density("township", is_demo=False, division_prefixes=["371622"])
    by_code = {row.code: row for row in rows}
    assert list(by_code) == sorted(by_code)
    laodian, shuiwan = by_code[make.LAODIAN], by_code[make.SHUIWAN]
    assert (laodian.households, laodian.households_with_problems) == (3, 2)
    assert (laodian.problems, laodian.score) == (3, 7)
    assert laodian.name == "劳店镇"
    assert laodian.problems_per_household == pytest.approx(1.0)
    assert laodian.score_per_household == pytest.approx(7 / 3)
    assert (shuiwan.households, shuiwan.problems, shuiwan.problems_per_household) == (2, 0, 0.0)
    assert make.HUIMIN_TOWNSHIP not in by_code


def test_village_and_county_density(villages, make):
    villages_rows = {row.code: row.problems for row in problem_density("village", is_demo=False)}
    assert villages_rows == {make.HUIMIN_VILLAGE: 2, make.SHUIWAN_VILLAGE: 0, make.LAODIAN_VILLAGE: 3}
    counties = {row.code: (row.households, row.score) for row in problem_density("county", is_demo=False)}
    assert counties == {make.HUIMIN: (1, 5), make.YANGXIN: (5, 7)}


def test_household_level(villages):
    laodian, _, huimin = villages
    rows = problem_density("household", is_demo=False)
    assert [row.household_id for row in rows] == sorted([laodian[0].id, huimin.id]) + [laodian[1].id]
    assert rows[0].code == min(laodian[0], huimin, key=lambda h: h.id).household_no


def test_demo_world_apart(villages):
    assert problem_density("township", is_demo=True) == []


def test_resolved_problems_not_counted(villages):
    laodian, _, _ = villages
    laodian[1].members[0].birth_date = date(1980, 1, 1)
    db.session.flush()
    run_checks()
    rows = {row.household_id for row in db.session.execute(household_scores(is_demo=False))}
    assert laodian[1].id not in rows


def test_unknown_level(ctx):
    with pytest.raises(ValueError):
        problem_density("province", is_demo=False)
