"""Each rule on small hand-made households: a hit where the data is wrong, silence where it is right."""

from datetime import date

import pytest
from flask_babel import force_locale
from sqlalchemy import Text, literal, select

from fieldapp.checks.models import SuspectedProblem
from fieldapp.checks.rules import RULES, rule_name
from fieldapp.checks.rules.base import sql_format
from fieldapp.checks.services import problem_detail, run_checks
from fieldapp.extensions import db


def problems(rule_id=None):
    stmt = select(SuspectedProblem).order_by(SuspectedProblem.id)
    if rule_id:
        stmt = stmt.where(SuspectedProblem.rule_id == rule_id)
    return db.session.scalars(stmt).all()


def wrong_check_character(id_number: str) -> str:
    replacement = "0" if id_number[17] != "0" else "1"
    return id_number[:17] + replacement


def test_valid_household_has_no_problems(ctx, make):
    make.household(members=4)
    summary = run_checks()
    assert summary.opened == 0
    assert set(summary.by_rule) == set(RULES)
    assert problems() == []


def test_check_character_wrong(ctx, make):
    household = make.household()
    member = household.members[1]
    correct = member.id_number[17]
    member.id_number = wrong_check_character(member.id_number)
    db.session.flush()

    summary = run_checks()

    assert summary.by_rule["id_check_character"] == 1
    [problem] = problems("id_check_character")
    assert problem.household_id == household.id
    assert problem.member_id == member.id
    assert problem.key == f"id_check_character:{household.id}:{member.id}"
    assert problem.detail_values == {"expected": correct, "actual": member.id_number[17]}
    assert member.id_number not in problem.detail
    assert problems("id_invalid_format") == []


def test_check_character_x_accepted(ctx, make):
    household = make.household(members=1)
    member = household.members[0]
    # 11010519491231002X is the standard's own example of a valid number.
    member.id_number, member.birth_date, member.sex = "11010519491231002X", date(1949, 12, 31), "女"
    db.session.flush()
    run_checks()
    assert problems() == []


@pytest.mark.parametrize(
    ("id_number", "length"),
    [("37162219800101001", 17), ("3716221980010100121", 19), ("", 0), ("37162219800101A011", 18),
     ("371622198001010011x", 19), ("37162219800101001Y", 18)],
)
def test_invalid_format(ctx, make, id_number, length):
    household = make.household(members=1)
    member = household.members[0]
    member.id_number = id_number
    db.session.flush()

    run_checks()

    [problem] = problems("id_invalid_format")
    assert problem.member_id == member.id
    assert problem.detail_values == {"length": length}
    assert problem.detail
    # A malformed number is reported once, not again by the rules that read its digits.
    assert [p.rule_id for p in problems()] == ["id_invalid_format"]


def test_invalid_format_other_id_type_ignored(ctx, make):
    household = make.household(members=1)
    household.members[0].id_type = "护照"
    household.members[0].id_number = "E12345678"
    db.session.flush()
    run_checks()
    assert problems() == []


def test_blank_id_type_checked_as_resident_id(ctx, make):
    household = make.household(members=1)
    household.members[0].id_type = ""
    household.members[0].id_number = "371622"
    db.session.flush()
    run_checks()
    assert len(problems("id_invalid_format")) == 1


def test_birth_date_mismatch(ctx, make):
    household = make.household()
    member = household.members[0]
    member.birth_date = date(1980, 1, 2)
    db.session.flush()

    run_checks()

    [problem] = problems("id_birth_date_mismatch")
    assert problem.member_id == member.id
    assert problem.detail_values == {"recorded": "1980-01-02", "from_id": "19800101"}
    with force_locale("en"):
        assert problem_detail(problem) == "Birth date 1980-01-02 differs from 1980-01-01 in the ID number."


@pytest.mark.parametrize("birth", [date(1981, 1, 1), date(1980, 2, 1), date(1980, 1, 31)])
def test_birth_date_each_part_compared(ctx, make, birth):
    household = make.household(members=1)
    household.members[0].birth_date = birth
    db.session.flush()
    run_checks()
    assert len(problems("id_birth_date_mismatch")) == 1


def test_birth_date_missing_not_flagged(ctx, make):
    household = make.household(members=1)
    household.members[0].birth_date = None
    db.session.flush()
    run_checks()
    assert problems("id_birth_date_mismatch") == []


def test_sex_mismatch(ctx, make):
    household = make.household()
    head, spouse = household.members
    head.sex = "女"  # odd digit 17 means a man
    spouse.sex = "男"  # even digit 17 means a woman
    db.session.flush()

    run_checks()

    found = problems("id_sex_mismatch")
    assert [p.member_id for p in found] == sorted([head.id, spouse.id])
    by_member = {p.member_id: p.detail_values for p in found}
    assert by_member[head.id] == {"recorded": "女", "from_id": "男"}
    assert by_member[spouse.id] == {"recorded": "男", "from_id": "女"}


def test_sex_blank_not_flagged(ctx, make):
    household = make.household(members=1)
    household.members[0].sex = ""
    db.session.flush()
    run_checks()
    assert problems("id_sex_mismatch") == []


def test_head_missing(ctx, make):
    household = make.household(members=3)
    household.members[0].relationship_to_head = "之子"
    empty = make.household(members=0)
    db.session.flush()

    run_checks()

    found = problems("head_missing")
    assert [(p.household_id, p.member_id) for p in found] == [(household.id, None), (empty.id, None)]
    assert found[0].detail_values == {"members": 3}
    assert found[1].detail_values == {"members": 0}
    assert found[0].key == f"head_missing:{household.id}:"


def test_head_multiple(ctx, make):
    household = make.household(members=3)
    household.members[2].relationship_to_head = "户主"
    make.household(members=3)
    db.session.flush()

    run_checks()

    [problem] = problems("head_multiple")
    assert problem.household_id == household.id
    assert problem.member_id is None
    assert problem.detail_values == {"heads": 2}
    assert problems("head_missing") == []


def test_rule_registry_entries(ctx):
    for rule_id, rule in RULES.items():
        assert rule.id == rule_id
        assert rule.fields
        assert rule.severity in (1, 2, 3)
        with force_locale("en"):
            assert rule_name(rule_id) == str(rule.name)
            assert str(rule.description)


def test_rule_name_of_unknown_rule(ctx):
    assert rule_name("no_such_rule") == "no_such_rule"


def test_sql_format_builds_message(ctx):
    def render(kind, summary):
        return f"{kind}: {summary}. Checked."

    text = sql_format(render, kind=literal("车辆", Text), summary=literal("鲁M12345", Text))

    assert db.session.execute(select(text)).scalar_one() == "车辆: 鲁M12345. Checked."


def test_sql_format_rejects_unused_value(ctx):
    with pytest.raises(ValueError, match="does not use each"):
        sql_format(lambda kind, summary: f"{kind} only", kind=literal("车辆", Text),
                   summary=literal("", Text))
