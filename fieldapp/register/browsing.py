"""Read-only queries behind the household list and household pages, each limited to the user's scope."""

import math
from dataclasses import dataclass

from sqlalchemy import Select, case, exists, func, or_, select

from fieldapp.checks.models import SuspectedProblem
from fieldapp.extensions import db
from fieldapp.register.models import Household, Member
from fieldapp.scope import get_scoped_or_404, scoped_select

PER_PAGE = 30
HEAD = "户主"


@dataclass
class HouseholdRow:
    household: Household
    head: Member | None
    members: int
    open_problems: int


@dataclass
class HouseholdPage:
    rows: list[HouseholdRow]
    page: int
    pages: int
    total: int


@dataclass
class HouseholdDetail:
    household: Household
    members: list[Member]
    problems: list[SuspectedProblem]


def _paginate(stmt: Select, page: int, per_page: int) -> tuple[list, int, int, int]:
    """Return one page of ``stmt``'s objects; a page past the end returns the last page."""
    total = db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    items = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).scalars().all()
    return list(items), page, pages, total


def households_page(user, *, query: str = "", township_code: str = "", page: int = 1,
                    per_page: int = PER_PAGE) -> HouseholdPage:
    """Return a page of the households in scope, matching ``query`` against the household number,
    the head's name and the village name, optionally in one township."""
    stmt = scoped_select(Household, user)
    if township_code:
        stmt = stmt.where(Household.township_code == township_code)
    query = query.strip()
    if query:
        head_matches = exists().where(
            Member.household_id == Household.id,
            Member.relationship_to_head == HEAD,
            Member.name.contains(query, autoescape=True),
        )
        stmt = stmt.where(or_(
            Household.household_no.contains(query, autoescape=True),
            Household.village.contains(query, autoescape=True),
            head_matches,
        ))
    stmt = stmt.order_by(Household.division_code, Household.household_no)
    households, page, pages, total = _paginate(stmt, page, per_page)

    ids = [household.id for household in households]
    heads = _heads(user, ids)
    member_counts = _counts(scoped_select(Member, user, Member.household_id, func.count(Member.id))
                            .where(Member.household_id.in_(ids)).group_by(Member.household_id))
    problem_counts = _counts(
        scoped_select(SuspectedProblem, user, SuspectedProblem.household_id, func.count(SuspectedProblem.id))
        .where(SuspectedProblem.household_id.in_(ids), SuspectedProblem.status == "open")
        .group_by(SuspectedProblem.household_id)
    )
    rows = [
        HouseholdRow(household, heads.get(household.id), member_counts.get(household.id, 0),
                     problem_counts.get(household.id, 0))
        for household in households
    ]
    return HouseholdPage(rows=rows, page=page, pages=pages, total=total)


def _heads(user, household_ids: list[int]) -> dict[int, Member]:
    """Return each household's first member listed as 户主."""
    stmt = (
        scoped_select(Member, user)
        .where(Member.household_id.in_(household_ids), Member.relationship_to_head == HEAD)
        .order_by(Member.household_id, Member.position)
    )
    heads: dict[int, Member] = {}
    for member in db.session.execute(stmt).scalars():
        heads.setdefault(member.household_id, member)
    return heads


def _counts(stmt: Select) -> dict[int, int]:
    return dict(db.session.execute(stmt).all())


def townships(user) -> list[tuple[str, str]]:
    """Return (code, name) of the townships that have households in scope."""
    stmt = (
        scoped_select(Household, user, Household.township_code, func.max(Household.township))
        .group_by(Household.township_code)
        .order_by(Household.township_code)
    )
    return [(code, name) for code, name in db.session.execute(stmt)]


def household_detail(user, household_id: int) -> HouseholdDetail:
    """Load one household in scope with its members and suspected problems; 404 outside the scope."""
    household = get_scoped_or_404(Household, household_id, user)
    members = db.session.execute(
        scoped_select(Member, user).where(Member.household_id == household.id).order_by(Member.position)
    ).scalars().all()
    open_first = case((SuspectedProblem.status == "open", 0), else_=1)
    problems = db.session.execute(
        scoped_select(SuspectedProblem, user)
        .where(SuspectedProblem.household_id == household.id)
        .order_by(open_first, SuspectedProblem.severity.desc(), SuspectedProblem.id)
    ).scalars().all()
    return HouseholdDetail(household=household, members=list(members), problems=list(problems))
