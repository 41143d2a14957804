"""Rules on work and income: months worked against wage income, and the net income per head.

Income parts (工资性收入, ...) are the household's yearly totals; 年人均纯收入 is per head.
"""

from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, Numeric, Select, exists, func, literal, null, or_, select

from fieldapp.checks.rules.base import HIGH, LOW, MEDIUM, Rule, RunContext, register
from fieldapp.register.models import Household, Member

EXITED = "脱贫户"


def _household_select(*columns) -> Select:
    return select(Household.id.label("household_id"), null().cast(Integer).label("member_id"), *columns)


def _someone_worked():
    return exists().where(Member.household_id == Household.id, Member.months_worked > 0)


def _amount(value: Decimal):
    return literal(value, Numeric(14, 2))


def _money(value) -> str:
    """Format a yuan amount for a detail: no decimals when it is whole."""
    number = Decimal(str(value))
    return f"{number:,.0f}" if number == number.to_integral_value() else f"{number:,.2f}"


# -- work_without_wage -------------------------------------------------------


def _work_without_wage_query(context: RunContext) -> Select:
    workers = (
        select(func.count(Member.id))
        .where(Member.household_id == Household.id, Member.months_worked > 0)
        .scalar_subquery()
    )
    return _household_select(workers.label("workers")).where(
        context.scope,
        _someone_worked(),
        or_(Household.wage_income.is_(None), Household.wage_income == 0),
    )


register(Rule(
    id="work_without_wage",
    name=_l("Work without wage income"),
    description=_l("Members are recorded as working (务工时间 above 0 months), but the household has no wage "
                   "income (工资性收入)."),
    severity=MEDIUM,
    fields=("Member.months_worked", "Household.wage_income"),
    query=_work_without_wage_query,
    describe=lambda values: _("%(workers)d members worked during the year, but the wage income is empty "
                              "or 0.", workers=values["workers"]),
    family="income",
))


# -- wage_without_work -------------------------------------------------------


def _wage_without_work_query(context: RunContext) -> Select:
    return _household_select(Household.wage_income.label("wage_income")).where(
        context.scope, Household.wage_income > 0, ~_someone_worked()
    )


register(Rule(
    id="wage_without_work",
    name=_l("Wage income without work"),
    description=_l("The household has wage income (工资性收入), but no member is recorded as working "
                   "(务工时间 above 0 months)."),
    severity=LOW,
    fields=("Household.wage_income", "Member.months_worked"),
    query=_wage_without_work_query,
    describe=lambda values: _("Wage income of %(amount)s yuan, but no member worked during the year.",
                              amount=_money(values["wage_income"])),
    family="income",
))


# -- income_below_line -------------------------------------------------------


def _below_line_query(context: RunContext) -> Select:
    line = context.settings["income_line"]
    return _household_select(
        Household.per_capita_net_income.label("income"), _amount(line).label("line")
    ).where(
        context.scope,
        Household.household_type == EXITED,
        Household.per_capita_net_income < _amount(line),
    )


register(Rule(
    id="income_below_line",
    name=_l("Income below the monitoring line"),
    description=_l("A household out of poverty (脱贫户) has a net income per head below the monitoring "
                   "line."),
    severity=HIGH,
    fields=("Household.household_type", "Household.per_capita_net_income"),
    query=_below_line_query,
    describe=lambda values: _("Net income of %(income)s yuan a head, below the line of %(line)s yuan.",
                              income=_money(values["income"]), line=_money(values["line"])),
    family="income",
    thresholds=("income_line",),
))


# -- income_implausible ------------------------------------------------------


def _implausible_query(context: RunContext) -> Select:
    low, high = context.settings["income_min"], context.settings["income_max"]
    income = Household.per_capita_net_income
    return _household_select(
        income.label("income"), _amount(low).label("low"), _amount(high).label("high")
    ).where(context.scope, or_(income < _amount(low), income > _amount(high)))


register(Rule(
    id="income_implausible",
    name=_l("Implausible income"),
    description=_l("The net income per head is below the lowest or above the highest plausible amount."),
    severity=MEDIUM,
    fields=("Household.per_capita_net_income",),
    query=_implausible_query,
    describe=lambda values: _("Net income of %(income)s yuan a head, outside the plausible %(low)s to "
                              "%(high)s yuan.", income=_money(values["income"]), low=_money(values["low"]),
                              high=_money(values["high"])),
    family="income",
    thresholds=("income_min", "income_max"),
))
