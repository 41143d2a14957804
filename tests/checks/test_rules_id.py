"""ID rules added to the first set: disability certificates, placeholders, impossible birth dates."""

from datetime import date

import pytest

from fieldapp import idnumbers
from fieldapp.checks.services import run_checks
from fieldapp.extensions import db
from tests import factories
from tests.checks.support import hits, problems, set_thresholds


def certificate(id_number: str, suffix: str = "01") -> str:
    return id_number + suffix


def test_disability_certificate_accepted(ctx, make):
    household = make.household(members=1)
    member = household.members[0]
    member.id_type, member.id_number = "残疾人证", certificate(member.id_number)
    db.session.flush()
    run_checks()
    assert problems() == []


@pytest.mark.parametrize(("number", "length"), [
    (factories.id_number(), 18),
    (factories.id_number() + "0", 19),
    (factories.id_number() + "0A", 20),
])
def test_disability_certificate_format(ctx, make, number, length):
    household = make.household(members=1)
    member = household.members[0]
    member.id_type, member.id_number = "残疾人证", number
    db.session.flush()

    run_checks()

    [problem] = problems("id_disability_format")
    assert problem.member_id == member.id
    assert problem.detail_values == {"length": length}
    assert hits("id_invalid_format") == []


def test_disability_certificate_check_character(ctx, make):
    household = make.household(members=1)
    member = household.members[0]
    wrong = member.id_number[:17] + ("0" if member.id_number[17] != "0" else "1")
    member.id_type, member.id_number = "残疾人证", certificate(wrong)
    db.session.flush()
    run_checks()
    assert hits("id_check_character") == [(household.id, member.id)]


def test_twenty_characters_as_resident_id(ctx, make):
    household = make.household(members=1)
    household.members[0].id_number = certificate(household.members[0].id_number)
    db.session.flush()
    run_checks()
    [problem] = problems("id_invalid_format")
    assert problem.detail_values == {"length": 20}


@pytest.mark.parametrize(("number", "reason"), [
    ("111111111111111111", "same_digit"),
    ("123456789012345678", "counting"),
    ("371622000000000000", "zeros"),
    ("001622198001010011", "province"),
])
def test_placeholder(ctx, make, number, reason):
    household = make.household(members=1)
    member = household.members[0]
    member.id_number = number
    db.session.flush()

    run_checks()

    [problem] = problems("id_placeholder")
    assert problem.member_id == member.id
    assert problem.detail_values["reason"] == reason
    # A placeholder is reported once, not again by the rules that compare its digits.
    assert [p.rule_id for p in problems()] == ["id_placeholder"]


def test_foreign_permanent_residence_id_not_placeholder(ctx, make):
    household = make.household(members=1)
    member = household.members[0]
    first17 = "91" + member.id_number[2:17]
    member.id_number = first17 + idnumbers.check_character(first17)
    db.session.flush()
    run_checks()
    assert hits("id_placeholder") == []


@pytest.mark.parametrize("digits", ["19801301", "19800230", "18991231", "20270101", "19800431", "19000229"])
def test_birth_date_invalid(ctx, make, digits):
    set_thresholds(reference_date="2026-11-30")
    household = make.household(members=1)
    member = household.members[0]
    first17 = member.id_number[:6] + digits + member.id_number[14:17]
    member.id_number = first17 + idnumbers.check_character(first17)
    db.session.flush()

    run_checks()

    [problem] = problems("id_birth_date_invalid")
    assert problem.detail_values == {"from_id": digits}
    assert hits("id_birth_date_mismatch") == []


@pytest.mark.parametrize("birth", [date(2000, 2, 29), date(2026, 11, 30), date(1900, 1, 1)])
def test_birth_date_valid_edges(ctx, make, birth):
    set_thresholds(reference_date="2026-11-30")
    household = make.household(members=1)
    member = household.members[0]
    first17 = member.id_number[:6] + birth.strftime("%Y%m%d") + member.id_number[14:17]
    member.id_number = first17 + idnumbers.check_character(first17)
    member.birth_date = birth
    db.session.flush()
    run_checks()
    assert [p.rule_id for p in problems() if p.rule_id.startswith("id_")] == []


@pytest.mark.parametrize("id_type", ["身份证", "二代身份证"])
def test_resident_id_type_names_checked(ctx, make, id_type):
    member = make.household(members=1).members[0]
    wrong = member.id_number[:17] + ("0" if member.id_number[17] != "0" else "1")
    member.id_type, member.id_number = id_type, wrong
    db.session.flush()

    run_checks()

    assert hits("id_check_character") == [(member.household_id, member.id)]
