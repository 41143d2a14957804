"""Read-only queries behind the supervisor pages, each limited to the user's scope."""

import math
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Select, String, and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased, contains_eager, selectinload

from fieldapp.checks.models import SuspectedProblem
from fieldapp.divisions.models import Division
from fieldapp.extensions import db
from fieldapp.register.models import Household
from fieldapp.review.models import OPEN_STATUSES, Finding
from fieldapp.sampling.models import SampledHousehold, SamplingRound
from fieldapp.scope import division_prefixes, scoped_select
from fieldapp.visits.models import Visit

PER_PAGE = 50


@dataclass
class Page:
    items: list
    page: int
    pages: int
    total: int


@dataclass
class RoundSummary:
    sampling_round: SamplingRound
    sampled: int  # households to visit: those marked as not visitable are left out
    visited: int
    cannot_visit: int = 0


@dataclass
class SampledRow:
    sampled_household: SampledHousehold
    visits: int
    open_findings: int


def paginate(stmt: Select, page: int, per_page: int = PER_PAGE, *, scalars: bool = True) -> Page:
    """Return one page of ``stmt``'s rows. A page number past the end returns the last page."""
    total = db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    paged = stmt.limit(per_page).offset((page - 1) * per_page)
    result = db.session.execute(paged)
    items = result.scalars().all() if scalars else result.all()
    return Page(items=list(items), page=page, pages=pages, total=total)


def _visited_clause():
    return exists().where(Visit.sampled_household_id == SampledHousehold.id)


def rounds_with_counts(user) -> list[RoundSummary]:
    """Return the rounds in scope, newest first, with their sampled and visited households in scope."""
    rounds = db.session.scalars(
        scoped_select(SamplingRound, user).order_by(SamplingRound.created_at.desc(), SamplingRound.id.desc())
    ).all()
    if not rounds:
        return []
    counts = _round_counts(user, [r.id for r in rounds])
    return [RoundSummary(r, *counts.get(r.id, (0, 0, 0))) for r in rounds]


def round_summary(sampling_round: SamplingRound, user) -> RoundSummary:
    """Return one round with its sampled and visited households in scope."""
    counts = _round_counts(user, [sampling_round.id])
    return RoundSummary(sampling_round, *counts.get(sampling_round.id, (0, 0, 0)))


def _round_counts(user, round_ids: list[int]) -> dict[int, tuple[int, int, int]]:
    """Count, by round, the households to visit, those visited, and those marked as not visitable."""
    stmt = (
        scoped_select(
            SampledHousehold,
            user,
            SampledHousehold.sampling_round_id,
            func.count(case((_is_active(), 1))),
            func.count(case((and_(_is_active(), _visited_clause()), 1))),
            func.count(case((~_is_active(), 1))),
        )
        .where(SampledHousehold.sampling_round_id.in_(round_ids))
        .group_by(SampledHousehold.sampling_round_id)
    )
    return {round_id: tuple(numbers) for round_id, *numbers in db.session.execute(stmt)}


def _is_active() -> ColumnElement[bool]:
    return SampledHousehold.status == "active"


def round_households(sampling_round: SamplingRound, user, *, visited: bool | None, page: int) -> Page:
    """Return a page of the round's sampled households in scope, by township, village and draw order."""
    visit_count = (
        select(func.count(Visit.id))
        .where(Visit.sampled_household_id == SampledHousehold.id)
        .scalar_subquery()
    )
    open_findings = (
        select(func.count(Finding.id))
        .where(Finding.household_id == SampledHousehold.household_id, Finding.status.in_(OPEN_STATUSES))
        .scalar_subquery()
    )
    stmt = (
        scoped_select(SampledHousehold, user, SampledHousehold, visit_count, open_findings)
        .where(SampledHousehold.sampling_round_id == sampling_round.id)
        .options(
            contains_eager(SampledHousehold.household).selectinload(Household.members),
            selectinload(SampledHousehold.inspector),
        )
        .order_by(Household.township_code, Household.division_code, SampledHousehold.draw_order)
    )
    if visited is True:
        stmt = stmt.where(_visited_clause())
    elif visited is False:
        # A household marked as not visitable is settled: a reserve was sent in its place.
        stmt = stmt.where(~_visited_clause(), _is_active())
    result = paginate(stmt, page, scalars=False)
    result.items = [SampledRow(sampled, visits, findings) for sampled, visits, findings in result.items]
    return result


def household_visits(sampled_household: SampledHousehold, user) -> list[Visit]:
    stmt = (
        scoped_select(Visit, user)
        .where(Visit.sampled_household_id == sampled_household.id)
        .options(selectinload(Visit.inspector), selectinload(Visit.photos))
        .order_by(Visit.received_at, Visit.id)
    )
    return list(db.session.scalars(stmt).all())


def household_findings(household: Household, user) -> list[Finding]:
    stmt = (
        scoped_select(Finding, user)
        .where(Finding.household_id == household.id)
        .order_by(Finding.created_at.desc(), Finding.id.desc())
    )
    return list(db.session.scalars(stmt).all())


def open_suspected_problems(household: Household, user) -> list[SuspectedProblem]:
    stmt = (
        scoped_select(SuspectedProblem, user)
        .where(SuspectedProblem.household_id == household.id, SuspectedProblem.status == "open")
        .order_by(SuspectedProblem.severity.desc(), SuspectedProblem.id)
    )
    return list(db.session.scalars(stmt).all())


def visit_findings(visit: Visit, user) -> list[Finding]:
    stmt = scoped_select(Finding, user).where(Finding.visit_id == visit.id).order_by(Finding.id)
    return list(db.session.scalars(stmt).all())


def township_choices(user) -> list[tuple[str, str]]:
    """Return (code, name) of the townships in the user's divisions, from the division list.

    Reading the division list rather than grouping the households keeps this cheap on every
    page that offers a township filter.
    """
    prefixes = division_prefixes(user)
    if not prefixes:
        return []
    wider = [Division.code.startswith(prefix, autoescape=True) for prefix in prefixes if len(prefix) <= 9]
    # A user whose division is a village gets that village's township.
    narrower = [prefix[:9] + "000" for prefix in prefixes if len(prefix) > 9]
    county = aliased(Division)
    stmt = (
        select(Division.code, Division.name, county.name)
        .outerjoin(county, county.code == func.substr(Division.code, 1, 6, type_=String).concat("000000"))
        .where(Division.level == "township", or_(*wider, Division.code.in_(narrower)))
        .order_by(Division.code)
    )
    rows = db.session.execute(stmt).all()
    # Over more than one county, the county's name distinguishes the townships in the one long list.
    if len({code[:6] for code, _name, _county in rows}) > 1:
        return [(code, f"{county_name} {name}" if county_name else name) for code, name, county_name in rows]
    return [(code, name) for code, name, _county in rows]


def round_choices(user) -> list[tuple[int, str]]:
    stmt = scoped_select(SamplingRound, user, SamplingRound.id, SamplingRound.name).order_by(
        SamplingRound.created_at.desc(), SamplingRound.id.desc()
    )
    return [(round_id, name) for round_id, name in db.session.execute(stmt)]


def scoped_findings(user, *household_conditions) -> Select:
    """Return ``select(Finding)`` limited to the user's scope by a correlated EXISTS on the household.

    Unlike the join of ``scoped_select(Finding, ...)``, the EXISTS lets the database read the
    findings in the order of an index on ``created_at`` and stop after one page, instead of
    sorting every finding in scope for each page. ``household_conditions`` narrow the households.
    """
    in_scope = scoped_select(Household, user, Household.id).where(
        Household.id == Finding.household_id, *household_conditions
    ).correlate_except(Household)
    return select(Finding).where(in_scope.exists())


def overdue_clause(today: date) -> ColumnElement[bool]:
    """Return the condition for an open finding whose deadline is before ``today``."""
    return and_(Finding.status.in_(OPEN_STATUSES), Finding.deadline.is_not(None), Finding.deadline < today)


def is_overdue(finding: Finding, today: date) -> bool:
    return finding.status in OPEN_STATUSES and finding.deadline is not None and finding.deadline < today


def findings_page(
    user,
    *,
    status: str | None = None,
    overdue_on: date | None = None,
    source: str | None = None,
    township_code: str | None = None,
    round_id: int | None = None,
    page: int = 1,
) -> Page:
    """Return a page of findings in scope, newest first, filtered by status, source, township and round.

    ``overdue_on`` keeps only open findings whose deadline is before that day. A finding belongs
    to a round when it was opened for one of the round's sampled households.
    """
    household_conditions = [Household.township_code == township_code] if township_code else []
    stmt = scoped_findings(user, *household_conditions).options(
        selectinload(Finding.household).selectinload(Household.members)
    )
    if status:
        stmt = stmt.where(Finding.status == status)
    if overdue_on is not None:
        stmt = stmt.where(overdue_clause(overdue_on))
    if source:
        stmt = stmt.where(Finding.source == source)
    if round_id is not None:
        in_round = select(SampledHousehold.id).where(SampledHousehold.sampling_round_id == round_id)
        stmt = stmt.where(Finding.sampled_household_id.in_(in_round))
    stmt = stmt.order_by(Finding.created_at.desc(), Finding.id.desc())
    return paginate(stmt, page)
