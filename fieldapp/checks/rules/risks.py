"""Rules on the household's risk types (致贫返贫风险) against what its members' rows record."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Integer, Select, exists, func, null, select

from fieldapp.checks.rules.base import MEDIUM, Rule, RunContext, list_contains, register
from fieldapp.register.models import Household, Member

HEALTHY = "健康"
DISABLED = "残疾"
# 劳动技能 values counted as labourers against the risk 缺劳动力: full labour capacity only.
LABOURERS = ("普通劳动力", "技能劳动力")


def _household_select(*columns) -> Select:
    return select(Household.id.label("household_id"), null().cast(Integer).label("member_id"), *columns)


def _has_member(*conditions) -> ColumnElement[bool]:
    return exists().where(Member.household_id == Household.id, *conditions)


def _member_count(*conditions) -> ColumnElement[int]:
    counted = select(func.count(Member.id)).where(Member.household_id == Household.id, *conditions)
    return counted.scalar_subquery()


# -- risk_illness_all_healthy ------------------------------------------------


def _illness_query(context: RunContext) -> Select:
    return _household_select(_member_count().label("members")).where(
        context.scope,
        list_contains(Household.risks, "因病"),
        _has_member(),
        ~_has_member(Member.health != HEALTHY),
    )


register(Rule(
    id="risk_illness_all_healthy",
    name=_l("Risk of illness but everyone healthy"),
    description=_l("The household is at risk because of illness (因病), but every member is recorded as "
                   "healthy."),
    severity=MEDIUM,
    fields=("Household.risks", "Member.health"),
    query=_illness_query,
    describe=lambda values: _("Risk 因病, and all %(members)d members are recorded as healthy.",
                              members=values["members"]),
    family="risk",
))


# -- risk_disability_none_disabled -------------------------------------------


def _disability_query(context: RunContext) -> Select:
    return _household_select(_member_count().label("members")).where(
        context.scope,
        list_contains(Household.risks, "因残"),
        ~_has_member(Member.health == DISABLED),
    )


register(Rule(
    id="risk_disability_none_disabled",
    name=_l("Risk of disability but nobody disabled"),
    description=_l("The household is at risk because of disability (因残), but no member is recorded as "
                   "disabled (残疾)."),
    severity=MEDIUM,
    fields=("Household.risks", "Member.health"),
    query=_disability_query,
    describe=lambda values: _("Risk 因残, and none of the %(members)d members is recorded as disabled.",
                              members=values["members"]),
    family="risk",
))


# -- risk_education_no_student -----------------------------------------------


def _education_query(context: RunContext) -> Select:
    return _household_select(_member_count().label("members")).where(
        context.scope,
        list_contains(Household.risks, "因学"),
        ~_has_member(Member.school_status != ""),
    )


register(Rule(
    id="risk_education_no_student",
    name=_l("Risk of schooling costs but no student"),
    description=_l("The household is at risk because of schooling costs (因学), but no member is recorded as "
                   "a student."),
    severity=MEDIUM,
    fields=("Household.risks", "Member.school_status"),
    query=_education_query,
    describe=lambda values: _("Risk 因学, and none of the %(members)d members is recorded as a student.",
                              members=values["members"]),
    family="risk",
))


# -- risk_labour_shortage_many_workers ---------------------------------------


def _labour_shortage_query(context: RunContext) -> Select:
    labourers = _member_count(Member.labour_skill.in_(LABOURERS))
    return _household_select(labourers.label("labourers")).where(
        context.scope,
        list_contains(Household.risks, "缺劳动力"),
        labourers >= context.settings["labour_shortage_workers"],
    )


register(Rule(
    id="risk_labour_shortage_many_workers",
    name=_l("Risk of labour shortage but enough labourers"),
    description=_l("The household is at risk for lack of labour (缺劳动力), but several members are recorded "
                   "as 普通劳动力 or 技能劳动力."),
    severity=MEDIUM,
    fields=("Household.risks", "Member.labour_skill"),
    query=_labour_shortage_query,
    describe=lambda values: _("Risk 缺劳动力, but %(labourers)d members are recorded as labourers.",
                              labourers=values["labourers"]),
    family="risk",
    thresholds=("labour_shortage_workers",),
))
