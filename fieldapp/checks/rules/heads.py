"""Rules on the household as a whole: exactly one head (户主), no ID number listed twice, and its size."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Integer, Select, and_, exists, func, null, select
from sqlalchemy.orm import aliased

from fieldapp.checks.rules.base import HIGH, LOW, Rule, RunContext, register
from fieldapp.register.models import Household, Member

HEAD = "户主"


def _member_count() -> ColumnElement[int]:
    return select(func.count(Member.id)).where(Member.household_id == Household.id).scalar_subquery()


def _head_missing_query(context: RunContext) -> Select:
    has_head = exists().where(Member.household_id == Household.id, Member.relationship_to_head == HEAD)
    return select(
        Household.id.label("household_id"),
        null().cast(Integer).label("member_id"),
        _member_count().label("members"),
    ).where(context.scope, ~has_head)


register(Rule(
    id="head_missing",
    name=_l("No head of household"),
    description=_l("No member of the household is recorded as head of household (户主)."),
    severity=HIGH,
    fields=("Member.relationship_to_head",),
    query=_head_missing_query,
    describe=lambda values: _("None of the %(members)d members is recorded as head of household.",
                              members=values["members"]),
    family="household",
))


def _head_multiple_query(context: RunContext) -> Select:
    return (
        select(
            Member.household_id.label("household_id"),
            null().cast(Integer).label("member_id"),
            func.count(Member.id).label("heads"),
        )
        .join(Household, Member.household_id == Household.id)
        .where(context.scope, Member.relationship_to_head == HEAD)
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
    family="household",
))


# -- id_duplicate_in_household -----------------------------------------------


def _duplicate_in_household_query(context: RunContext) -> Select:
    """Select one problem per ID number listed more than once in a household, on its first member."""
    return (
        select(
            Member.household_id.label("household_id"),
            func.min(Member.id).label("member_id"),
            func.count(Member.id).label("times"),
            func.min(Member.source_row).label("first_row"),
            func.max(Member.source_row).label("last_row"),
        )
        .join(Household, Member.household_id == Household.id)
        .where(context.scope, Member.id_number != "")
        .group_by(Member.household_id, Member.id_number)
        .having(func.count(Member.id) > 1)
    )


def _describe_duplicate_in_household(values) -> str:
    if values["first_row"] is None:
        return _("The ID number is listed %(times)d times in this household.", times=values["times"])
    return _("The ID number is listed %(times)d times in this household (register rows %(first)d to "
             "%(last)d).", times=values["times"], first=values["first_row"], last=values["last_row"])


register(Rule(
    id="id_duplicate_in_household",
    name=_l("ID number twice in one household"),
    description=_l("Two or more members of the same household have the same ID number."),
    severity=HIGH,
    fields=("Member.id_number",),
    query=_duplicate_in_household_query,
    describe=_describe_duplicate_in_household,
    family="household",
))


# -- id_duplicate_across_households ------------------------------------------


def _duplicate_across_query(context: RunContext) -> Select:
    """Select each member in scope whose ID number is also listed in another household of the same world.

    The other household may lie outside the run's scope: the duplicate is a problem of both.
    The ID numbers listed in two or more households are found first, with one aggregate over
    the members, so that only their members are joined with each other.
    """
    in_world = (
        select(Member.id_number)
        .join(Household, Member.household_id == Household.id)
        .where(Household.is_demo == context.is_demo, Member.id_number != "")
        .group_by(Member.id_number)
        .having(func.min(Member.household_id) != func.max(Member.household_id))
        # Materialised, so that PostgreSQL computes the aggregate once: inlined, a parallel plan computed
        # it in each worker and took twice as long (bench/checks.py, PostgreSQL 15, 2 cores).
        .cte("duplicated_id_numbers")
        .prefix_with("MATERIALIZED")
    )
    other_member = aliased(Member)
    other_household = aliased(Household)
    return (
        select(
            Member.household_id.label("household_id"),
            Member.id.label("member_id"),
            func.count(func.distinct(other_household.id)).label("others"),
            func.min(other_household.household_no).label("other_household_no"),
        )
        .join(Household, Member.household_id == Household.id)
        .join(in_world, in_world.c.id_number == Member.id_number)
        .join(other_member, and_(other_member.id_number == Member.id_number,
                                 other_member.household_id != Member.household_id))
        .join(other_household, and_(other_household.id == other_member.household_id,
                                    other_household.is_demo == Household.is_demo))
        .where(context.scope)
        .group_by(Member.household_id, Member.id)
    )


def _describe_duplicate_across(values) -> str:
    if values["others"] == 1:
        return _("The same ID number is also listed in household %(household_no)s.",
                 household_no=values["other_household_no"])
    return _("The same ID number is also listed in household %(household_no)s and %(more)d other households.",
             household_no=values["other_household_no"], more=values["others"] - 1)


register(Rule(
    id="id_duplicate_across_households",
    name=_l("ID number in two households"),
    description=_l("A member's ID number is also listed in another household."),
    severity=HIGH,
    fields=("Member.id_number",),
    query=_duplicate_across_query,
    describe=_describe_duplicate_across,
    family="household",
))


# -- household_size_mismatch -------------------------------------------------


def _size_mismatch_query(context: RunContext) -> Select:
    counts = (
        select(Member.household_id.label("household_id"), func.count(Member.id).label("members"))
        .group_by(Member.household_id)
        .subquery()
    )
    members = func.coalesce(counts.c.members, 0)
    return (
        select(
            Household.id.label("household_id"),
            null().cast(Integer).label("member_id"),
            Household.size.label("size"),
            members.label("members"),
        )
        .outerjoin(counts, counts.c.household_id == Household.id)
        .where(context.scope, Household.size.is_not(None), Household.size != members)
    )


register(Rule(
    id="household_size_mismatch",
    name=_l("Household size differs from members listed"),
    description=_l("The household size (家庭人口数) differs from the number of members listed."),
    severity=LOW,
    fields=("Household.size", "Member.household_id"),
    query=_size_mismatch_query,
    describe=lambda values: _("The household size is %(size)d but %(members)d members are listed.",
                              size=values["size"], members=values["members"]),
    family="household",
))
