"""Read-only queries behind the check pages, each limited to the user's scope."""

import math
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import contains_eager, joinedload

from fieldapp.checks import density, jobs
from fieldapp.checks.models import CheckRun, RegistryRecord, SuspectedProblem
from fieldapp.checks.rules import ordered_rules
from fieldapp.extensions import db
from fieldapp.register.models import Household, Member
from fieldapp.scope import division_prefixes, get_scoped_or_404, scoped_select
from fieldapp.visits.models import VerificationOutcome, Visit

PER_PAGE = 50
RUNS_CHUNK = 100  # check runs read at a time while looking for those a user may see
# "open", resolved (by the data or with the rule switched off), or every problem.
STATUS_FILTERS = ("open", "resolved", "all")


@dataclass
class ProblemFilters:
    rule_id: str = ""
    severity: int | None = None
    township_code: str = ""
    village_code: str = ""
    status: str = "open"

    def as_args(self) -> dict:
        """Return the filters as query-string arguments, without the empty ones."""
        args = {"rule": self.rule_id, "severity": self.severity or "", "township": self.township_code,
                "village": self.village_code, "status": self.status if self.status != "open" else ""}
        return {key: value for key, value in args.items() if value not in ("", None)}

    @classmethod
    def from_args(cls, args: dict) -> "ProblemFilters":
        """Return the filters that ``as_args`` turned into ``args``, which were checked when stored."""
        severity = args.get("severity")
        return cls(rule_id=args.get("rule", ""), severity=int(severity) if severity else None,
                   township_code=args.get("township", ""), village_code=args.get("village", ""),
                   status=args.get("status") or "open")


@dataclass
class ProblemPage:
    problems: list[SuspectedProblem]
    page: int
    pages: int
    total: int


@dataclass
class RuleCount:
    rule_id: str
    problems: int
    households: int


def _filtered(user, filters: ProblemFilters) -> Select:
    stmt = scoped_select(SuspectedProblem, user)
    if filters.rule_id:
        stmt = stmt.where(SuspectedProblem.rule_id == filters.rule_id)
    if filters.severity:
        stmt = stmt.where(SuspectedProblem.severity == filters.severity)
    if filters.township_code:
        stmt = stmt.where(Household.township_code == filters.township_code)
    if filters.village_code:
        stmt = stmt.where(Household.division_code == filters.village_code)
    if filters.status == "open":
        stmt = stmt.where(SuspectedProblem.status == "open")
    elif filters.status == "resolved":
        stmt = stmt.where(SuspectedProblem.status != "open")
    return stmt


def count_problems(user, filters: ProblemFilters) -> int:
    """Return how many problems in scope match ``filters``."""
    stmt = _filtered(user, filters).order_by(None).subquery()
    return db.session.execute(select(func.count()).select_from(stmt)).scalar_one()


def problems_page(user, filters: ProblemFilters, page: int = 1, per_page: int = PER_PAGE) -> ProblemPage:
    """Return a page of the problems in scope matching ``filters``, by village, household and severity."""
    stmt = _filtered(user, filters)
    total = count_problems(user, filters)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    stmt = (
        stmt.options(
            contains_eager(SuspectedProblem.household),
            joinedload(SuspectedProblem.member),
            joinedload(SuspectedProblem.registry_record).joinedload(RegistryRecord.batch),
        )
        .order_by(Household.division_code, Household.household_no, SuspectedProblem.severity.desc(),
                  SuspectedProblem.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    problems = db.session.execute(stmt).unique().scalars().all()
    return ProblemPage(problems=list(problems), page=page, pages=pages, total=total)


def export_rows(user, filters: ProblemFilters) -> Iterator[tuple]:
    """Yield the problems matching ``filters`` with their household, member and evidence, for the export."""
    stmt = (
        _filtered(user, filters)
        .with_only_columns(
            Household.county, Household.township, Household.village, Household.household_no,
            Household.household_type, Member.name, Member.id_number, SuspectedProblem,
        )
        .outerjoin(Member, SuspectedProblem.member_id == Member.id)
        .options(joinedload(SuspectedProblem.registry_record).joinedload(RegistryRecord.batch))
        .order_by(Household.division_code, Household.household_no, SuspectedProblem.severity.desc(),
                  SuspectedProblem.id)
        .execution_options(yield_per=2000)
    )
    yield from db.session.execute(stmt)


def problem_or_404(user, problem_id: int) -> SuspectedProblem:
    return get_scoped_or_404(SuspectedProblem, problem_id, user)


def outcomes(problem: SuspectedProblem) -> list[VerificationOutcome]:
    """Return the on-site verdicts given on a problem, oldest first."""
    return list(db.session.execute(
        select(VerificationOutcome)
        .join(Visit, VerificationOutcome.visit_id == Visit.id)
        .where(VerificationOutcome.suspected_problem_id == problem.id)
        .options(contains_eager(VerificationOutcome.visit))
        .order_by(Visit.received_at)
    ).scalars())


def counts_by_rule(user) -> list[RuleCount]:
    """Return the open problems and the households they concern for every rule, in page order."""
    stmt = (
        scoped_select(SuspectedProblem, user, SuspectedProblem.rule_id, func.count(SuspectedProblem.id),
                      func.count(func.distinct(SuspectedProblem.household_id)))
        .where(SuspectedProblem.status == "open")
        .group_by(SuspectedProblem.rule_id)
    )
    found = {rule_id: (problems, households) for rule_id, problems, households in db.session.execute(stmt)}
    rows = [RuleCount(rule.id, *found.pop(rule.id, (0, 0))) for rule in ordered_rules()]
    # Problems of rules no longer defined stay listed under their id.
    rows.extend(RuleCount(rule_id, *counts) for rule_id, counts in sorted(found.items()))
    return rows


def households_with_problems(user) -> tuple[int, int]:
    """Return the households in scope and how many of them have open problems."""
    households = db.session.execute(scoped_select(Household, user, func.count(Household.id))).scalar_one()
    affected = db.session.execute(
        scoped_select(SuspectedProblem, user, func.count(func.distinct(SuspectedProblem.household_id)))
        .where(SuspectedProblem.status == "open")
    ).scalar_one()
    return households, affected


def density_by_township(user) -> list[density.DensityRow]:
    return density.problem_density("township", is_demo=user.is_demo,
                                   division_prefixes=division_prefixes(user))


def townships(user) -> list[tuple[str, str]]:
    """Return (code, name) of the townships that have households in scope."""
    stmt = (
        scoped_select(Household, user, Household.township_code, func.max(Household.township))
        .group_by(Household.township_code)
        .order_by(Household.township_code)
    )
    return [(code, name) for code, name in db.session.execute(stmt)]


def villages(user, township_code: str = "") -> list[tuple[str, str]]:
    """Return (code, name) of the villages with households in scope, in one township when given."""
    stmt = scoped_select(Household, user, Household.division_code, func.max(Household.village))
    if township_code:
        stmt = stmt.where(Household.township_code == township_code)
    stmt = stmt.group_by(Household.division_code).order_by(Household.division_code)
    return [(code, name) for code, name in db.session.execute(stmt)]


def recent_runs(user, limit: int = 5) -> list[CheckRun]:
    """Return the latest check runs the user may open (``jobs.can_see``), newest first.

    A run over divisions wider than the user's is left out, because its counts cover them all.
    """
    stmt = select(CheckRun).where(CheckRun.is_demo == user.is_demo).order_by(CheckRun.id.desc())
    if user.role != "admin":
        stmt = stmt.where(CheckRun.started_by_id == user.id)
    # The divisions of a run are a JSON list, so they are compared here, reading the runs in chunks.
    found: list[CheckRun] = []
    offset = 0
    while len(found) < limit:
        chunk = db.session.execute(stmt.limit(RUNS_CHUNK).offset(offset)).scalars().all()
        found.extend(run for run in chunk if jobs.can_see(user, run))
        if len(chunk) < RUNS_CHUNK:
            break
        offset += RUNS_CHUNK
    return found[:limit]
