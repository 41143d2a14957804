"""Rules on members' resident ID numbers (GB 11643-1999).

Characters 7-14 of an ID number are the birth date, and character 17 is odd
for men and even for women. Character 18 is the check character: the sum of
the first 17 digits times the weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2,
mod 11, is its index in ``10X98765432``.
"""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    or_,
    select,
)

from fieldapp.checks.rules.base import DIGITS, HIGH, MEDIUM, Rule, register, strip_digits
from fieldapp.idnumbers import CHECK_CHARACTERS, WEIGHTS
from fieldapp.register.models import Household, Member

# ID types whose number is an 18-character resident ID. A blank type is read as one,
# because registers leave the column empty when every member has a resident ID.
# TODO(first register with 残疾人证 numbers): check the 18-character ID inside a 20-character
# disability certificate number as well.
RESIDENT_ID_TYPES = ("居民身份证", "")

ID = Member.id_number


def _is_resident_id() -> ColumnElement[bool]:
    return Member.id_type.in_(RESIDENT_ID_TYPES)


def _is_well_formed() -> ColumnElement[bool]:
    """18 characters: 17 digits, then a digit or X."""
    return and_(
        func.length(ID) == 18,
        strip_digits(func.substr(ID, 1, 17)) == "",
        func.substr(ID, 18, 1).in_(list(DIGITS + "X")),
    )


def _digits(start: int, length: int) -> ColumnElement[int]:
    """Characters ``start``.. of a well-formed ID number as an integer, else 0.

    The CASE keeps PostgreSQL from casting a malformed number, which would fail the
    whole query: it does not promise to test the WHERE conditions in written order.
    """
    return cast(case((_is_well_formed(), func.substr(ID, start, length)), else_="0"), Integer)


def _expected_check_character() -> ColumnElement[str]:
    weighted_sum = sum(_digits(position, 1) * weight for position, weight in enumerate(WEIGHTS, start=1))
    return func.substr(cast(literal(CHECK_CHARACTERS), String), weighted_sum % 11 + 1, 1)


def _sex_from_id() -> ColumnElement[str]:
    return case((_digits(17, 1) % 2 == 1, "男"), else_="女")


def _member_select(*columns) -> Select:
    return select(
        Member.household_id.label("household_id"), Member.id.label("member_id"), *columns
    ).join(Household, Member.household_id == Household.id)


# -- id_invalid_format -------------------------------------------------------


def _invalid_format_query(scope: ColumnElement[bool]) -> Select:
    return _member_select(func.length(ID).label("length")).where(
        scope, _is_resident_id(), ~_is_well_formed()
    )


def _describe_invalid_format(values) -> str:
    if values["length"] == 0:
        return _("The ID number is missing.")
    if values["length"] != 18:
        return _("The ID number has %(length)d characters; a resident ID number has 18.",
                 length=values["length"])
    return _("The ID number contains characters other than 17 digits and a final digit or X.")


register(Rule(
    id="id_invalid_format",
    name=_l("ID number format invalid"),
    description=_l("A resident ID number must have 18 characters: 17 digits, then a digit or X."),
    severity=HIGH,
    fields=("Member.id_type", "Member.id_number"),
    query=_invalid_format_query,
    describe=_describe_invalid_format,
))


# -- id_check_character ------------------------------------------------------


def _check_character_query(scope: ColumnElement[bool]) -> Select:
    expected = _expected_check_character()
    actual = func.substr(ID, 18, 1)
    return _member_select(expected.label("expected"), actual.label("actual")).where(
        scope, _is_resident_id(), _is_well_formed(), expected != actual
    )


register(Rule(
    id="id_check_character",
    name=_l("ID check character wrong"),
    description=_l("The last character of the ID number does not match the check character "
                   "computed from the first 17 digits."),
    severity=HIGH,
    fields=("Member.id_type", "Member.id_number"),
    query=_check_character_query,
    describe=lambda values: _("The check character should be %(expected)s but is %(actual)s.",
                              expected=values["expected"], actual=values["actual"]),
))


# -- id_birth_date_mismatch --------------------------------------------------


def _birth_date_query(scope: ColumnElement[bool]) -> Select:
    recorded = Member.birth_date
    return _member_select(recorded.label("recorded"), func.substr(ID, 7, 8).label("from_id")).where(
        scope,
        _is_resident_id(),
        _is_well_formed(),
        recorded.is_not(None),
        or_(
            extract("year", recorded) != _digits(7, 4),
            extract("month", recorded) != _digits(11, 2),
            extract("day", recorded) != _digits(13, 2),
        ),
    )


def _describe_birth_date(values) -> str:
    digits = values["from_id"]
    return _("Birth date %(recorded)s differs from %(from_id)s in the ID number.",
             recorded=values["recorded"], from_id=f"{digits[:4]}-{digits[4:6]}-{digits[6:]}")


register(Rule(
    id="id_birth_date_mismatch",
    name=_l("Birth date differs from ID number"),
    description=_l("The recorded birth date differs from the date in characters 7-14 of the ID number."),
    severity=MEDIUM,
    fields=("Member.id_type", "Member.id_number", "Member.birth_date"),
    query=_birth_date_query,
    describe=_describe_birth_date,
))


# -- id_sex_mismatch ---------------------------------------------------------


def _sex_query(scope: ColumnElement[bool]) -> Select:
    from_id = _sex_from_id()
    return _member_select(Member.sex.label("recorded"), from_id.label("from_id")).where(
        scope, _is_resident_id(), _is_well_formed(), Member.sex.in_(("男", "女")), Member.sex != from_id
    )


register(Rule(
    id="id_sex_mismatch",
    name=_l("Sex differs from ID number"),
    description=_l("The recorded sex differs from the parity of character 17 of the ID number "
                   "(odd for men, even for women)."),
    severity=MEDIUM,
    fields=("Member.id_type", "Member.id_number", "Member.sex"),
    query=_sex_query,
    describe=lambda values: _("Sex %(recorded)s differs from %(from_id)s given by the ID number.",
                              recorded=values["recorded"], from_id=values["from_id"]),
))
