"""Rules on members' ID numbers: resident IDs (GB 11643-1999) and disability certificate numbers.

Characters 7-14 of an ID number are the birth date, and character 17 is odd
for men and even for women. Character 18 is the check character: the sum of
the first 17 digits times the weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2,
mod 11, is its index in ``10X98765432``. A disability certificate number
(残疾人证) is the holder's 18-character ID number followed by 2 digits, so the
rules on the ID's characters read its first 18 characters.
"""

from datetime import date

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
    func,
    literal,
    or_,
)

from fieldapp.checks.rules.base import (
    DIGITS,
    HIGH,
    MEDIUM,
    Rule,
    RunContext,
    date_digits,
    is_digits,
    member_select,
    register,
)
from fieldapp.idnumbers import CHECK_CHARACTERS, WEIGHTS
from fieldapp.register.models import Member

# ID types whose number is an 18-character resident ID, under the names registers give it. A blank
# type is read as one, because registers leave the column empty when every member has a resident ID.
RESIDENT_ID_TYPES = ("居民身份证", "身份证", "二代身份证", "第二代居民身份证", "")
# ID types whose number is a 20-character disability certificate number.
DISABILITY_ID_TYPES = ("残疾人证", "残疾证", "中华人民共和国残疾人证")

# Province codes of GB/T 2260, and 9 for the permanent residence IDs of foreigners (2023 format).
PROVINCE_CODES = (
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
    "71", "81", "82",
)

ID = Member.id_number


def _is_resident_id() -> ColumnElement[bool]:
    return Member.id_type.in_(RESIDENT_ID_TYPES)


def _is_disability_certificate() -> ColumnElement[bool]:
    return Member.id_type.in_(DISABILITY_ID_TYPES)


def _has_id_characters() -> ColumnElement[bool]:
    """Test that the first 18 characters are 17 digits, then a digit or X."""
    return and_(
        is_digits(func.substr(ID, 1, 17)),
        func.substr(ID, 18, 1).in_(list(DIGITS + "X")),
    )


def _is_well_formed() -> ColumnElement[bool]:
    """Test for a resident ID of 18 characters, or a disability certificate number of those plus 2 digits."""
    resident = and_(_is_resident_id(), func.length(ID) == 18)
    certificate = and_(
        _is_disability_certificate(), func.length(ID) == 20, is_digits(func.substr(ID, 19, 2))
    )
    return and_(or_(resident, certificate), _has_id_characters())


# The first 17 digits counting up, as typed by someone filling a required column.
COUNTING_DIGITS = "12345678901234567"


def _placeholder_reason() -> ColumnElement[str]:
    """Why a well-formed number is a placeholder, or "" when it is not one."""
    first17 = func.substr(ID, 1, 17)
    return case(
        (func.ltrim(first17, func.substr(ID, 1, 1)) == "", "same_digit"),
        (first17 == COUNTING_DIGITS, "counting"),
        (func.ltrim(func.substr(ID, 7, 11), "0") == "", "zeros"),
        (and_(~func.substr(ID, 1, 2).in_(PROVINCE_CODES), func.substr(ID, 1, 1) != "9"), "province"),
        else_="",
    )


def _is_real_id() -> ColumnElement[bool]:
    """Well formed and not a placeholder: the number whose digits the other rules compare."""
    return and_(_is_well_formed(), _placeholder_reason() == "")


def _when_castable(expression) -> ColumnElement[int]:
    """Return ``expression`` when the first 17 characters are digits, else 0.

    The CASE keeps PostgreSQL from casting the characters of a malformed number, which
    would fail the whole query. PostgreSQL does not promise to test the WHERE conditions
    in written order, but it evaluates a CASE branch only when its condition is true.
    The test is the least that casting needs, because it runs for every member.
    """
    castable = and_(func.length(ID) >= 17, is_digits(func.substr(ID, 1, 17)))
    return case((castable, expression), else_=0)


def _digit(position: int) -> ColumnElement[int]:
    """Return the digit at ``position``; use it only inside ``_when_castable``."""
    return cast(func.substr(ID, position, 1), Integer)


def _expected_check_character() -> ColumnElement[str]:
    weighted_sum = sum(_digit(position) * weight for position, weight in enumerate(WEIGHTS, start=1))
    index = _when_castable(weighted_sum % 11) + 1
    return func.substr(cast(literal(CHECK_CHARACTERS), String), index, 1)


def _sex_from_id() -> ColumnElement[str]:
    """男 for an odd character 17, else 女; compares text, so it needs no guard."""
    return case((func.substr(ID, 17, 1).in_(list("13579")), "男"), else_="女")


def _id_birth_date() -> ColumnElement[int]:
    """Characters 7-14 as the number YYYYMMDD, or 0 for a malformed ID number."""
    return _when_castable(cast(func.substr(ID, 7, 8), Integer))


def _is_leap(year: ColumnElement[int]) -> ColumnElement[bool]:
    return or_(year % 400 == 0, and_(year % 4 == 0, year % 100 != 0))


def _id_birth_date_is_valid(context: RunContext) -> ColumnElement[bool]:
    """Characters 7-14 of a well-formed ID number are a real date from 1900 up to the reference date."""
    as_number = _id_birth_date()
    year, month, day = as_number // 10000, as_number // 100 % 100, as_number % 100
    days_in_month = case(
        (month.in_([1, 3, 5, 7, 8, 10, 12]), 31),
        (month.in_([4, 6, 9, 11]), 30),
        (_is_leap(year), 29),
        else_=28,
    )
    reference = context.settings.reference_date
    return and_(
        as_number >= 19000101,
        as_number <= reference.year * 10000 + reference.month * 100 + reference.day,
        month.between(1, 12),
        day.between(1, days_in_month),
    )


# -- id_invalid_format -------------------------------------------------------


def _invalid_format_query(context: RunContext) -> Select:
    resident_form = and_(func.length(ID) == 18, _has_id_characters())
    return member_select(func.length(ID).label("length")).where(
        context.scope, _is_resident_id(), ~resident_form
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
    family="id",
))


# -- id_disability_format ----------------------------------------------------


def _disability_format_query(context: RunContext) -> Select:
    certificate_form = and_(
        func.length(ID) == 20, _has_id_characters(), is_digits(func.substr(ID, 19, 2))
    )
    return member_select(func.length(ID).label("length")).where(
        context.scope, _is_disability_certificate(), ~certificate_form
    )


def _describe_disability_format(values) -> str:
    if values["length"] == 0:
        return _("The disability certificate number is missing.")
    if values["length"] != 20:
        return _("The disability certificate number has %(length)d characters; it has 20: the 18-character "
                 "ID number and 2 digits.", length=values["length"])
    return _("The disability certificate number contains characters other than an ID number and 2 digits.")


register(Rule(
    id="id_disability_format",
    name=_l("Disability certificate number format invalid"),
    description=_l("A disability certificate number (残疾人证) must have 20 characters: the holder's "
                   "18-character ID number, then 2 digits."),
    severity=HIGH,
    fields=("Member.id_type", "Member.id_number"),
    query=_disability_format_query,
    describe=_describe_disability_format,
    family="id",
))


# -- id_placeholder ----------------------------------------------------------


def _placeholder_query(context: RunContext) -> Select:
    reason = _placeholder_reason()
    return member_select(reason.label("reason"), func.substr(ID, 1, 2).label("province")).where(
        context.scope, _is_well_formed(), reason != ""
    )


def _describe_placeholder(values) -> str:
    reason = values["reason"]
    if reason == "same_digit":
        return _("The ID number repeats one digit: a placeholder, not a real number.")
    if reason == "counting":
        return _("The ID number counts up from 1: a placeholder, not a real number.")
    if reason == "zeros":
        return _("The ID number has only zeros after the address code: a placeholder, not a real number.")
    return _("The ID number starts with %(code)s, which is not a province code.", code=values["province"])


register(Rule(
    id="id_placeholder",
    name=_l("ID number is a placeholder"),
    description=_l("The ID number is made of placeholder digits: one digit repeated, digits counting up, "
                   "only zeros after the address code, or first two digits that are no province code. "
                   "The other ID rules skip such a number."),
    severity=HIGH,
    fields=("Member.id_type", "Member.id_number"),
    query=_placeholder_query,
    describe=_describe_placeholder,
    family="id",
))


# -- id_check_character ------------------------------------------------------


def _check_character_query(context: RunContext) -> Select:
    expected = _expected_check_character()
    actual = func.substr(ID, 18, 1)
    # The comparison comes before the tests of form and placeholders, which rule out the few rows it leaves.
    return member_select(expected.label("expected"), actual.label("actual")).where(
        context.scope, expected != actual, _is_real_id()
    )


register(Rule(
    id="id_check_character",
    name=_l("ID check character wrong"),
    description=_l("The 18th character of the ID number does not match the check character "
                   "computed from the first 17 digits."),
    severity=HIGH,
    fields=("Member.id_type", "Member.id_number"),
    query=_check_character_query,
    describe=lambda values: _("The check character should be %(expected)s but is %(actual)s.",
                              expected=values["expected"], actual=values["actual"]),
    family="id",
))


# -- id_birth_date_invalid ---------------------------------------------------


def _birth_date_invalid_query(context: RunContext) -> Select:
    reference = context.settings.reference_date
    # A recorded birth date in range that agrees with the ID number proves the ID's date valid. That
    # test costs little, so the full date check runs only for the few rows that fail it.
    agrees_with_record = and_(
        Member.birth_date.is_not(None),
        date_digits(Member.birth_date) == func.substr(ID, 7, 8),
        Member.birth_date.between(date(1900, 1, 1), reference),
    )
    return member_select(func.substr(ID, 7, 8).label("from_id")).where(
        context.scope, ~agrees_with_record, _is_real_id(), ~_id_birth_date_is_valid(context)
    )


register(Rule(
    id="id_birth_date_invalid",
    name=_l("ID number has an impossible birth date"),
    description=_l("Characters 7-14 of the ID number are not a real date between 1900 and the reference "
                   "date."),
    severity=HIGH,
    fields=("Member.id_type", "Member.id_number"),
    query=_birth_date_invalid_query,
    describe=lambda values: _("Characters 7-14 of the ID number, %(from_id)s, are not a possible birth date.",
                              from_id=values["from_id"]),
    family="id",
    thresholds=("reference_date",),
))


# -- id_birth_date_mismatch --------------------------------------------------


def _birth_date_query(context: RunContext) -> Select:
    recorded = Member.birth_date
    return member_select(recorded.label("recorded"), func.substr(ID, 7, 8).label("from_id")).where(
        context.scope,
        recorded.is_not(None),
        date_digits(recorded) != func.substr(ID, 7, 8),
        _is_real_id(),
        _id_birth_date_is_valid(context),
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
    family="id",
))


# -- id_sex_mismatch ---------------------------------------------------------


def _sex_query(context: RunContext) -> Select:
    from_id = _sex_from_id()
    return member_select(Member.sex.label("recorded"), from_id.label("from_id")).where(
        context.scope, Member.sex.in_(("男", "女")), Member.sex != from_id, _is_real_id()
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
    family="id",
))
