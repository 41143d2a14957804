"""Rules on the head of household (户主): every household has exactly one."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Integer, Select, exists, func, null, select

from fieldapp.checks.rules.base import HIGH, Rule, register
from fieldapp.register.models import Household, Member

HEAD = "户主"


def _head_missing_query(scope: ColumnElement[bool]) -> Select:
    member_count = (
        select(func.count(Member.id)).where(Member.household_id == Household.id).scalar_subquery()
    )
    has_head = exists().where(Member.household_id == Household.id, Member.relationship_to_head == HEAD)
    return select(
        Household.id.label("household_id"),
        null().cast(Integer).label("member_id"),
        member_count.label("members"),
    ).where(scope, ~has_head)


register(Rule(
    id="head_missing",
    name=_l("No head of household"),
    description=_l("No member of the household is recorded as head of household (户主)."),
    severity=HIGH,
    fields=("Member.relationship_to_head",),
    query=_head_missing_query,
    describe=lambda values: _("None of the %(members)d members is recorded as head of household.",
                              members=values["members"]),
))


def _head_multiple_query(scope: ColumnElement[bool]) -> Select:
    return (
        select(
            Member.household_id.label("household_id"),
            null().cast(Integer).label("member_id"),
            func.count(Member.id).label("heads"),
        )
        .join(Household, Member.household_id == Household.id)
        .where(scope, Member.relationship_to_head == HEAD)
        .group_by(Member.household_id)
        .having(func.count(Member.id) > 1)
    )


register(Rule(
    id="head_multiple",
    name=_l("More than one head of household"),
    description=_l("Two or more members of the household are recorded as head of household (户主)."),
    severity=HIGH,
    fields=("Member.relationship_to_head",),
    query=_head_multiple_query,
    describe=lambda values: _("%(heads)d members are recorded as head of household.", heads=values["heads"]),
))
