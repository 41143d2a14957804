"""Problem density (问题密集程度): open suspected problems per household, village, township and county.

A household's score is the sum of the severities of its open problems (low 1,
medium 2, high 3), so that sampling can weight households by how much is
suspected of them and not only by how many rules fired.
"""

from dataclasses import dataclass

from sqlalchemy import Select, func, select

from fieldapp.checks.models import SuspectedProblem
from fieldapp.checks.services import scope_clause
from fieldapp.divisions.models import Division
from fieldapp.extensions import db
from fieldapp.register.models import Household

# The household column that contains each level's 12-digit division code.
LEVEL_CODES = {
    "village": Household.division_code,
    "township": Household.township_code,
    "county": Household.county_code,
}
LEVEL_NAMES = {
    "village": Household.village,
    "township": Household.township,
    "county": Household.county,
}
LEVELS = ("household", *LEVEL_CODES)


@dataclass(frozen=True)
class DensityRow:
    level: str
    code: str  # 12-digit division code; the household number at the household level
    name: str  # division name; the village name at the household level
    households: int  # households in scope
    households_with_problems: int
    problems: int  # open suspected problems
    score: int  # sum of their severities
    household_id: int | None = None  # set at the household level

    @property
    def problems_per_household(self) -> float:
        return self.problems / self.households if self.households else 0.0

    @property
    def score_per_household(self) -> float:
        return self.score / self.households if self.households else 0.0


def household_scores(*, is_demo: bool, division_prefixes: list[str] | None = None) -> Select:
    """Select ``household_id``, ``problems`` and ``score`` of each household in scope with open problems.

    ``division_prefixes`` limits it to households whose division code starts with one of
    them; None means every division. Use it as a subquery to weight a draw.
    """
    return (
        select(
            SuspectedProblem.household_id.label("household_id"),
            func.count(SuspectedProblem.id).label("problems"),
            func.sum(SuspectedProblem.severity).label("score"),
        )
        .join(Household, SuspectedProblem.household_id == Household.id)
        .where(scope_clause(is_demo, division_prefixes), SuspectedProblem.status == "open")
        .group_by(SuspectedProblem.household_id)
    )


def problem_density(level: str, *, is_demo: bool,
                    division_prefixes: list[str] | None = None) -> list[DensityRow]:
    """Return the problem density of each village, township or county in scope, by division code.

    Every division with households in scope has a row, those without problems too. At the
    "household" level, only households with open problems are returned, highest score first.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown density level {level!r}; use one of {', '.join(LEVELS)}")
    scores = household_scores(is_demo=is_demo, division_prefixes=division_prefixes).subquery()
    if level == "household":
        return _household_rows(scores)

    code = LEVEL_CODES[level]
    stmt = (
        select(
            code.label("code"),
            func.max(LEVEL_NAMES[level]).label("name"),
            func.count(Household.id).label("households"),
            func.count(scores.c.household_id).label("with_problems"),
            func.coalesce(func.sum(scores.c.problems), 0).label("problems"),
            func.coalesce(func.sum(scores.c.score), 0).label("score"),
        )
        .outerjoin(scores, scores.c.household_id == Household.id)
        .where(scope_clause(is_demo, division_prefixes))
        .group_by(code)
        .order_by(code)
    )
    rows = db.session.execute(stmt).all()
    names = dict(db.session.execute(
        select(Division.code, Division.name).where(Division.code.in_([row.code for row in rows]))
    ).all())
    return [
        DensityRow(level=level, code=row.code, name=names.get(row.code) or row.name or row.code,
                   households=row.households, households_with_problems=row.with_problems,
                   problems=int(row.problems), score=int(row.score))
        for row in rows
    ]


def _household_rows(scores) -> list[DensityRow]:
    stmt = (
        select(Household.id, Household.household_no, Household.village, scores.c.problems, scores.c.score)
        .join(scores, scores.c.household_id == Household.id)
        .order_by(scores.c.score.desc(), Household.id)
    )
    return [
        DensityRow(level="household", code=number, name=village, households=1, households_with_problems=1,
                   problems=int(problems), score=int(score), household_id=household_id)
        for household_id, number, village, problems, score in db.session.execute(stmt)
    ]
