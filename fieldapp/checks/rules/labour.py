"""Rules on labour capacity (劳动技能) against school, age and health."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select

from fieldapp.checks.rules.base import LOW, MEDIUM, Rule, RunContext, member_select, register
from fieldapp.checks.rules.education import at_least, below, is_student, member_age
from fieldapp.register.models import Member

# 劳动技能 values that mean some labour capacity, and those that mean none.
CAPABLE = ("普通劳动力", "技能劳动力", "弱劳动力或半劳动力")
NOT_CAPABLE = ("无劳动力", "丧失劳动力")
HEALTHY = "健康"


# -- labour_student_capable --------------------------------------------------


def _student_capable_query(context: RunContext) -> Select:
    return member_select(
        Member.school_status.label("school_status"), Member.labour_skill.label("labour_skill")
    ).where(context.scope, is_student(), Member.labour_skill.in_(CAPABLE))


register(Rule(
    id="labour_student_capable",
    name=_l("Student with labour capacity"),
    description=_l("A student should be recorded as without labour capacity (无劳动力)."),
    severity=LOW,
    fields=("Member.school_status", "Member.labour_skill"),
    query=_student_capable_query,
    describe=lambda values: _("Recorded as %(school_status)s and as %(labour_skill)s.",
                              school_status=values["school_status"], labour_skill=values["labour_skill"]),
    family="labour",
))


# -- labour_minor_capable ----------------------------------------------------


def _minor_capable_query(context: RunContext) -> Select:
    return member_select(member_age(context).label("age"), Member.labour_skill.label("labour_skill")).where(
        context.scope,
        ~is_student(),
        Member.labour_skill.in_(CAPABLE),
        below(context, context.settings["working_age_min"]),
    )


register(Rule(
    id="labour_minor_capable",
    name=_l("Child with labour capacity"),
    description=_l("A member below working age who is not a student is recorded with labour capacity. "
                   "Students are reported by the rule on students instead."),
    severity=MEDIUM,
    fields=("Member.birth_date", "Member.school_status", "Member.labour_skill"),
    query=_minor_capable_query,
    describe=lambda values: _("Aged %(age)d and recorded as %(labour_skill)s.", age=values["age"],
                              labour_skill=values["labour_skill"]),
    family="labour",
    thresholds=("working_age_min", "reference_date"),
))


# -- labour_healthy_without --------------------------------------------------


def _healthy_without_query(context: RunContext) -> Select:
    settings = context.settings
    return member_select(member_age(context).label("age"), Member.labour_skill.label("labour_skill")).where(
        context.scope,
        Member.labour_skill.in_(NOT_CAPABLE),
        Member.health == HEALTHY,
        ~is_student(),
        at_least(context, settings["working_age_min"]),
        below(context, settings["working_age_max"] + 1),
    )


register(Rule(
    id="labour_healthy_without",
    name=_l("Healthy adult without labour capacity"),
    description=_l("A healthy member of working age who is not a student is recorded as without labour "
                   "capacity."),
    severity=MEDIUM,
    fields=("Member.birth_date", "Member.health", "Member.school_status", "Member.labour_skill"),
    query=_healthy_without_query,
    describe=lambda values: _("Aged %(age)d, healthy, and recorded as %(labour_skill)s.", age=values["age"],
                              labour_skill=values["labour_skill"]),
    family="labour",
    thresholds=("working_age_min", "working_age_max", "reference_date"),
))
