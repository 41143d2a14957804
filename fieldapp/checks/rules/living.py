"""Rules on living conditions of households out of poverty, and on members' medical insurance.

A blank yes/no cell is unknown and reported by none of these rules.
"""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, Select, null, select

from fieldapp.checks.rules.base import HIGH, LOW, Rule, RunContext, member_select, register
from fieldapp.register.models import Household, Member

EXITED = "脱贫户"


def _exited_household_select(context: RunContext, condition) -> Select:
    return select(
        Household.id.label("household_id"),
        null().cast(Integer).label("member_id"),
        Household.household_type.label("household_type"),
    ).where(context.scope, Household.household_type == EXITED, condition)


register(Rule(
    id="house_unsafe",
    name=_l("Household out of poverty in an unsafe house"),
    description=_l("A household out of poverty (脱贫户) is recorded as living in an unsafe house (危房户)."),
    severity=HIGH,
    fields=("Household.household_type", "Household.is_unsafe_house"),
    query=lambda context: _exited_household_select(context, Household.is_unsafe_house.is_(True)),
    describe=lambda values: _("A %(household_type)s recorded as 危房户.",
                              household_type=values["household_type"]),
    family="living",
))

register(Rule(
    id="water_unsafe",
    name=_l("Household out of poverty without safe drinking water"),
    description=_l("A household out of poverty (脱贫户) is recorded as without safe drinking water."),
    severity=HIGH,
    fields=("Household.household_type", "Household.has_safe_water"),
    query=lambda context: _exited_household_select(context, Household.has_safe_water.is_(False)),
    describe=lambda values: _("A %(household_type)s recorded as without safe drinking water.",
                              household_type=values["household_type"]),
    family="living",
))

register(Rule(
    id="toilet_missing",
    name=_l("Household out of poverty without a sanitary toilet"),
    description=_l("A household out of poverty (脱贫户) is recorded as without a sanitary toilet."),
    severity=LOW,
    fields=("Household.household_type", "Household.has_sanitary_toilet"),
    query=lambda context: _exited_household_select(context, Household.has_sanitary_toilet.is_(False)),
    describe=lambda values: _("A %(household_type)s recorded as without a sanitary toilet.",
                              household_type=values["household_type"]),
    family="living",
))


def _no_medical_insurance_query(context: RunContext) -> Select:
    return member_select().where(context.scope, Member.has_medical_insurance.is_(False))


register(Rule(
    id="medical_insurance_missing",
    name=_l("Member without basic medical insurance"),
    description=_l("A member is recorded as not insured in the basic medical insurance for urban and rural "
                   "residents."),
    severity=HIGH,
    fields=("Member.has_medical_insurance",),
    query=_no_medical_insurance_query,
    describe=lambda values: _("Not insured in the basic medical insurance."),
    family="insurance",
))
