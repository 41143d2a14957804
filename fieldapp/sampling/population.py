"""Reading a round's sampling frame: the households of the chosen divisions, their problem figures
and the exclusions that take households out of the draw.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select

from fieldapp.checks.density import household_scores
from fieldapp.divisions.models import Division
from fieldapp.extensions import db
from fieldapp.register.models import Household
from fieldapp.sampling.methods import Unit
from fieldapp.sampling.models import SampledHousehold
from fieldapp.scope import scoped_select
from fieldapp.visits.models import Visit

# The Household column that names each household's stratum at each level.
STRATUM_COLUMNS = {
    "county": Household.county_code,
    "township": Household.township_code,
    "village": Household.division_code,
}


@dataclass(frozen=True)
class Exclusions:
    round_ids: tuple[int, ...] = ()  # households in the sample of these rounds, replaced ones included
    visited_days: int | None = None  # households visited within this many days before the snapshot
    household_types: tuple[str, ...] = ()  # values of 户类型

    def as_parameters(self) -> dict:
        return {"rounds": list(self.round_ids), "visited_days": self.visited_days,
                "household_types": list(self.household_types)}


@dataclass
class StratumFigures:
    """Counts for one stratum before the draw; ``eligible`` households make up its frame."""

    households: int = 0
    eligible: int = 0
    problems: int = 0  # open suspected problems of all its households
    eligible_problems: int = 0
    eligible_score: int = 0
    excluded_by_round: int = 0
    excluded_by_visit: int = 0
    excluded_by_type: int = 0


@dataclass
class Frame:
    units: dict[str, list[Unit]] = field(default_factory=dict)  # stratum code -> eligible households
    figures: dict[str, StratumFigures] = field(default_factory=dict)

    @property
    def households(self) -> int:
        return sum(figures.households for figures in self.figures.values())

    @property
    def eligible(self) -> int:
        return sum(figures.eligible for figures in self.figures.values())

    @property
    def problems(self) -> int:
        return sum(figures.problems for figures in self.figures.values())


def read_frame(divisions: list[Division], stratum_level: str, exclusions: Exclusions, *, user, is_demo: bool,
               as_of: datetime) -> Frame:
    """Read the households of ``divisions`` in the user's scope (all for ``user`` None) into strata.

    Every stratum with a household appears in ``figures``, even when exclusions leave it
    no eligible household. ``as_of`` is the snapshot time the visit exclusion counts back from.
    """
    # A household's score is the sum of the severities of its open suspected problems.
    scores = household_scores(is_demo=is_demo, division_prefixes=[d.prefix for d in divisions]).subquery()
    stratum = STRATUM_COLUMNS[stratum_level]
    columns = (Household.id, stratum, Household.household_type,
               func.coalesce(scores.c.problems, 0), func.coalesce(scores.c.score, 0))
    if user is None:
        stmt = select(*columns).where(Household.is_demo == is_demo)
    else:
        stmt = scoped_select(Household, user, *columns)
    in_divisions = or_(*(Household.division_code.startswith(d.prefix, autoescape=True) for d in divisions))
    stmt = stmt.outerjoin(scores, scores.c.household_id == Household.id).where(in_divisions)

    in_rounds = _sampled_in_rounds(exclusions.round_ids)
    visited = _visited_since(exclusions.visited_days, as_of, in_divisions, is_demo)
    excluded_types = set(exclusions.household_types)

    units: dict[str, list[Unit]] = defaultdict(list)
    figures: dict[str, StratumFigures] = defaultdict(StratumFigures)
    # All rows at once from the connection: the ORM's row handling, or fetching row by row,
    # would double the time for 100,000 households.
    rows = db.session.connection().execute(stmt.order_by(Household.id)).all()
    excluded: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # by round, by visit, by type
    for household_id, code, household_type, problems, score in rows:
        if household_id in in_rounds:
            excluded[code][0] += 1
        elif household_id in visited:
            excluded[code][1] += 1
        elif household_type in excluded_types:
            excluded[code][2] += 1
        else:
            units[code].append(Unit(household_id, problems, score))
        figures[code].problems += problems

    for code, stratum_figures in figures.items():
        eligible = units.get(code, [])
        by_round, by_visit, by_type = excluded.get(code, (0, 0, 0))
        stratum_figures.eligible = len(eligible)
        stratum_figures.households = len(eligible) + by_round + by_visit + by_type
        stratum_figures.excluded_by_round = by_round
        stratum_figures.excluded_by_visit = by_visit
        stratum_figures.excluded_by_type = by_type
        stratum_figures.eligible_problems = sum(unit.problems for unit in eligible)
        stratum_figures.eligible_score = sum(unit.score for unit in eligible)
    return Frame({code: units.get(code, []) for code in figures}, dict(figures))


def _sampled_in_rounds(round_ids) -> set[int]:
    if not round_ids:
        return set()
    stmt = select(SampledHousehold.household_id).where(
        SampledHousehold.sampling_round_id.in_(list(round_ids))
    )
    return set(db.session.execute(stmt).scalars())


def _visited_since(days: int | None, as_of: datetime, in_divisions, is_demo: bool) -> set[int]:
    if days is None:
        return set()
    since = as_of - timedelta(days=days)
    visited_at = func.coalesce(Visit.submitted_at, Visit.received_at)
    stmt = (
        select(Visit.household_id).distinct()
        .join(Household, Visit.household_id == Household.id)
        .where(visited_at >= since, visited_at <= as_of, Household.is_demo == is_demo, in_divisions)
    )
    return set(db.session.execute(stmt).scalars())


def stratum_names(codes) -> dict[str, str]:
    rows = db.session.execute(select(Division.code, Division.name).where(Division.code.in_(list(codes))))
    return dict(rows.all())
