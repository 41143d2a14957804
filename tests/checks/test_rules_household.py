"""Duplicate ID numbers within and across households, and the household size."""

from flask_babel import force_locale

from fieldapp.checks.services import problem_detail, run_checks
from fieldapp.extensions import db
from tests.checks.support import hits, problems


def test_duplicate_in_household(ctx, make):
    household = make.household(members=3)
    first, second, third = household.members
    third.id_number = first.id_number
    first.source_row, third.source_row = 12, 14
    db.session.flush()

    run_checks()

    [problem] = problems("id_duplicate_in_household")
    assert (problem.household_id, problem.member_id) == (household.id, min(first.id, third.id))
    assert problem.detail_values == {"times": 2, "first_row": 12, "last_row": 14}
    assert "12" in problem.detail
    assert hits("id_duplicate_across_households") == []


def test_duplicate_in_household_blank_ignored(ctx, make):
    household = make.household(members=2)
    for member in household.members:
        member.id_number = ""
    db.session.flush()
    run_checks()
    assert hits("id_duplicate_in_household") == []


def test_duplicate_across_households(ctx, make):
    one = make.household(members=2)
    other = make.household(make.SHUIWAN_VILLAGE, members=2)
    other.members[1].id_number = one.members[1].id_number
    db.session.flush()

    run_checks()

    found = {(p.household_id, p.member_id): p.detail_values
             for p in problems("id_duplicate_across_households")}
    assert found == {
        (one.id, one.members[1].id): {"others": 1, "other_household_no": other.household_no},
        (other.id, other.members[1].id): {"others": 1, "other_household_no": one.household_no},
    }
    assert hits("id_duplicate_in_household") == []


def test_duplicate_across_counts_other_households(ctx, make):
    households = [make.household(members=1) for _ in range(3)]
    for household in households[1:]:
        household.members[0].id_number = households[0].members[0].id_number
    db.session.flush()

    run_checks()

    first = next(p for p in problems("id_duplicate_across_households") if p.household_id == households[0].id)
    assert first.detail_values == {"others": 2, "other_household_no": households[1].household_no}
    with force_locale("en"):
        assert problem_detail(first) == (f"The same ID number is also listed in household "
                                         f"{households[1].household_no} and 1 other households.")


def test_duplicate_across_worlds_ignored(ctx, make):
    real = make.household(members=1)
    demo = make.household(members=1, is_demo=True)
    demo.members[0].id_number = real.members[0].id_number
    db.session.flush()
    run_checks()
    run_checks(is_demo=True)
    assert hits("id_duplicate_across_households") == []


def test_duplicate_across_outside_scope_reported(ctx, make):
    inside = make.household(make.LAODIAN_VILLAGE, members=1)
    outside = make.household(make.SHUIWAN_VILLAGE, members=1)
    outside.members[0].id_number = inside.members[0].id_number
    db.session.flush()

    run_checks(division_prefixes=[make.LAODIAN[:9]])

    assert hits("id_duplicate_across_households") == [(inside.id, inside.members[0].id)]


def test_household_size_mismatch(ctx, make):
    wrong = make.household(members=3, size=4)
    make.household(members=3, size=3)
    make.household(members=3, size=None)
    db.session.flush()

    run_checks()

    [problem] = problems("household_size_mismatch")
    assert (problem.household_id, problem.member_id) == (wrong.id, None)
    assert problem.detail_values == {"size": 4, "members": 3}


def test_household_without_members_size(ctx, make):
    empty = make.household(members=0, size=2)
    run_checks()
    [problem] = problems("household_size_mismatch")
    assert problem.household_id == empty.id
    assert problem.detail_values == {"size": 2, "members": 0}
