"""Rules on school: compulsory-age children out of school, and ages that do not fit the grade.

Ages are whole years on the run's reference date. A blank 在校生状况 means the
member is not a student.
"""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, or_

from fieldapp.checks.rules.base import (
    HIGH,
    LOW,
    MEDIUM,
    Rule,
    RunContext,
    age_on,
    aged_at_least,
    aged_below,
    member_select,
    register,
)
from fieldapp.register.models import Member

PRIMARY = "小学"
# School statuses of senior secondary education start with these: 普通高中一年级.., 中职一年级..
SENIOR_SECONDARY_PREFIXES = ("普通高中", "中职")


def member_age(context: RunContext) -> ColumnElement[int]:
    return age_on(Member.birth_date, context.settings.reference_date)


def at_least(context: RunContext, years: int) -> ColumnElement[bool]:
    return aged_at_least(Member.birth_date, context.settings.reference_date, years)


def below(context: RunContext, years: int) -> ColumnElement[bool]:
    return aged_below(Member.birth_date, context.settings.reference_date, years)


def is_student() -> ColumnElement[bool]:
    return Member.school_status != ""


# -- child_out_of_school -----------------------------------------------------


def _out_of_school_query(context: RunContext) -> Select:
    settings = context.settings
    return member_select(member_age(context).label("age")).where(
        context.scope,
        Member.school_status == "",
        Member.out_of_school_reason == "",
        at_least(context, settings["school_age_min"]),
        below(context, settings["school_age_max"] + 1),
    )


register(Rule(
    id="child_out_of_school",
    name=_l("Child of compulsory-school age not in school"),
    description=_l("A child of compulsory-school age is not recorded as a student, and no reason "
                   "(义务教育阶段未上学原因) is given."),
    severity=HIGH,
    fields=("Member.birth_date", "Member.school_status", "Member.out_of_school_reason"),
    query=_out_of_school_query,
    describe=lambda values: _("Aged %(age)d, not a student, and no reason is given.", age=values["age"]),
    family="education",
    thresholds=("school_age_min", "school_age_max", "reference_date"),
))


# -- school_primary_too_old --------------------------------------------------


def _primary_too_old_query(context: RunContext) -> Select:
    return member_select(member_age(context).label("age"), Member.school_status.label("school_status")).where(
        context.scope, Member.school_status == PRIMARY, at_least(context, context.settings["primary_max_age"])
    )


register(Rule(
    id="school_primary_too_old",
    name=_l("Primary pupil too old"),
    description=_l("A member recorded as a primary-school pupil (小学) is older than a pupil can "
                   "plausibly be."),
    severity=MEDIUM,
    fields=("Member.birth_date", "Member.school_status"),
    query=_primary_too_old_query,
    describe=lambda values: _("Aged %(age)d and recorded as %(school_status)s.", age=values["age"],
                              school_status=values["school_status"]),
    family="education",
    thresholds=("primary_max_age", "reference_date"),
))


# -- school_senior_too_young -------------------------------------------------


def _senior_too_young_query(context: RunContext) -> Select:
    senior = or_(*(Member.school_status.startswith(prefix) for prefix in SENIOR_SECONDARY_PREFIXES))
    return member_select(member_age(context).label("age"), Member.school_status.label("school_status")).where(
        context.scope, senior, below(context, context.settings["high_school_min_age"])
    )


register(Rule(
    id="school_senior_too_young",
    name=_l("Senior secondary student too young"),
    description=_l("A member recorded in senior secondary school (普通高中 or 中职) is younger than a "
                   "student there can plausibly be."),
    severity=MEDIUM,
    fields=("Member.birth_date", "Member.school_status"),
    query=_senior_too_young_query,
    describe=lambda values: _("Aged %(age)d and recorded as %(school_status)s.", age=values["age"],
                              school_status=values["school_status"]),
    family="education",
    thresholds=("high_school_min_age", "reference_date"),
))


# -- school_student_too_old --------------------------------------------------


def _student_too_old_query(context: RunContext) -> Select:
    return member_select(member_age(context).label("age"), Member.school_status.label("school_status")).where(
        context.scope, is_student(), at_least(context, context.settings["student_max_age"])
    )


register(Rule(
    id="school_student_too_old",
    name=_l("Student too old"),
    description=_l("A member recorded as a student is older than the age set for students."),
    severity=LOW,
    fields=("Member.birth_date", "Member.school_status"),
    query=_student_too_old_query,
    describe=lambda values: _("Aged %(age)d and recorded as %(school_status)s.", age=values["age"],
                              school_status=values["school_status"]),
    family="education",
    thresholds=("student_max_age", "reference_date"),
))
