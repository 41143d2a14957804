"""Contents of a round's report, sample list and printed lists: coverage of the suspected problems,
the chart of it, and the sampled households with the problems to verify.

The coverage figures are those stored with the round when it was drawn, so the report does not
change when the register or the checks change later.
"""

from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from fieldapp.auth.models import User
from fieldapp.checks.models import SuspectedProblem
from fieldapp.checks.services import problem_detail, rule_name
from fieldapp.divisions.models import Division
from fieldapp.extensions import db
from fieldapp.register.models import Household, Member
from fieldapp.sampling.models import SampledHousehold, SamplingRound
from fieldapp.sampling.services import covers_round
from fieldapp.scope import division_prefixes, scoped_select

CHART_MAX_STRATA = 30
# The viewBox is about a phone's width, so a phone draws the SVG near 1:1 and its 12-unit labels
# stay readable.
# On wider screens, CSS caps the SVG's width (.coverage-chart svg in sampling/round.html).
CHART_WIDTH = 320
CHART_LABEL_WIDTH = 104
CHART_ROW_HEIGHT = 34
CHART_BAR_HEIGHT = 12


@dataclass(frozen=True)
class Coverage:
    problems_total: int  # open suspected problems of every household in the round's divisions
    problems_drawn: int  # those of the drawn households
    problems_uniform: float  # expected for simple random samples of the same size in each stratum
    problems_uniform_overall: float  # expected for one simple random sample of the whole frame

    @staticmethod
    def _share(count: float, total: int) -> float | None:
        return count / total if total else None

    @property
    def drawn_share(self) -> float | None:
        return self._share(self.problems_drawn, self.problems_total)

    @property
    def uniform_share(self) -> float | None:
        return self._share(self.problems_uniform, self.problems_total)

    @property
    def uniform_overall_share(self) -> float | None:
        return self._share(self.problems_uniform_overall, self.problems_total)


@dataclass(frozen=True)
class ChartRow:
    label: str
    drawn_share: float
    uniform_share: float
    y: int
    drawn_width: float
    uniform_width: float


@dataclass(frozen=True)
class Chart:
    rows: list[ChartRow]
    width: int
    height: int
    label_width: int
    bar_height: int
    bar_space: int
    is_truncated: bool  # more strata than CHART_MAX_STRATA; the ones with most problems are shown


@dataclass(frozen=True)
class RoundFigures:
    """A round's figures as at the draw, limited to the strata that lie in a user's divisions."""

    is_whole: bool  # every stratum lies in the user's divisions, so these are the whole round's figures
    strata: list[dict]  # the stored allocation of each of those strata (see ``StratumAllocation.as_dict``)
    population: int
    eligible: int | None  # None for rounds drawn before the eligible households were stored
    size: int
    coverage: Coverage

    @property
    def has_figures(self) -> bool:
        """False when every stratum is larger than the user's divisions, so no figure can be shown."""
        return self.is_whole or bool(self.strata)


def round_figures(sampling_round: SamplingRound, user) -> RoundFigures:
    """Return the round's figures for the user (all of them for ``user`` None, the command line).

    A stratum wider than the user's divisions, such as a county for a township supervisor, is
    left out, because its figures include households the user may not see.
    """
    parameters = sampling_round.parameters or {}
    strata = parameters.get("allocation", [])
    if user is None:
        in_divisions = strata
    else:
        prefixes = tuple(division_prefixes(user))
        in_divisions = [stratum for stratum in strata if prefixes and stratum["code"].startswith(prefixes)]
    if len(in_divisions) == len(strata) and (strata or user is None or covers_round(sampling_round, user)):
        return RoundFigures(True, strata, sampling_round.population_size, parameters.get("eligible"),
                            parameters.get("size", 0), coverage(sampling_round))
    return _part_figures(in_divisions)


def _part_figures(strata: list[dict]) -> RoundFigures:
    population = sum(stratum["population"] for stratum in strata)
    eligible = sum(stratum.get("eligible", stratum["population"]) for stratum in strata)
    size = sum(stratum["allocated"] for stratum in strata)
    eligible_problems = sum(stratum.get("eligible_problems", 0) for stratum in strata)
    part = Coverage(
        problems_total=sum(stratum.get("problems", 0) for stratum in strata),
        problems_drawn=sum(stratum.get("drawn_problems", 0) for stratum in strata),
        problems_uniform=round(sum(stratum.get("uniform_problems", 0.0) for stratum in strata), 2),
        # One simple random sample of the part's size over the part's eligible households.
        problems_uniform_overall=round(size * eligible_problems / eligible, 2) if eligible else 0.0,
    )
    return RoundFigures(False, strata, population, eligible, size, part)


def coverage(sampling_round: SamplingRound) -> Coverage:
    parameters = sampling_round.parameters or {}
    strata = parameters.get("allocation", [])
    eligible = parameters.get("eligible", sampling_round.population_size)
    size = parameters.get("size", 0)
    eligible_problems = sum(stratum.get("eligible_problems", 0) for stratum in strata)
    return Coverage(
        problems_total=parameters.get("problems_total", 0),
        problems_drawn=parameters.get("problems_drawn", 0),
        problems_uniform=parameters.get("problems_uniform", 0.0),
        problems_uniform_overall=round(size * eligible_problems / eligible, 2) if eligible else 0.0,
    )


def coverage_chart(figures: RoundFigures, overall_label: str) -> Chart | None:
    """Return the geometry of a bar chart: per stratum, the share of its problems the sample covers
    next to the share a uniform sample of the same size covers on average; None without problems.
    """
    summary = figures.coverage
    if not summary.problems_total:
        return None
    strata = [stratum for stratum in figures.strata if stratum.get("problems")]
    strata.sort(key=lambda stratum: (-stratum["problems"], stratum["code"]))
    shown = strata[:CHART_MAX_STRATA]
    bar_space = CHART_WIDTH - CHART_LABEL_WIDTH - 44  # room for the percentage after each bar

    rows = [(overall_label, summary.drawn_share, summary.uniform_share)]
    rows += [(stratum["name"], stratum.get("drawn_problems", 0) / stratum["problems"],
              stratum.get("uniform_problems", 0.0) / stratum["problems"]) for stratum in shown]
    chart_rows = [
        ChartRow(label, drawn, uniform, y=index * CHART_ROW_HEIGHT + 8,
                 drawn_width=round(drawn * bar_space, 1), uniform_width=round(uniform * bar_space, 1))
        for index, (label, drawn, uniform) in enumerate(rows)
    ]
    return Chart(chart_rows, CHART_WIDTH, len(chart_rows) * CHART_ROW_HEIGHT + 12, CHART_LABEL_WIDTH,
                 CHART_BAR_HEIGHT, bar_space, is_truncated=len(strata) > CHART_MAX_STRATA)


# -- the household lists ----------------------------------------------------------


@dataclass
class ListRow:
    sampled: SampledHousehold
    household: Household
    head: Member | None
    problems: list[str] = field(default_factory=list)  # "rule: detail" of each open suspected problem


@dataclass
class ListGroup:
    inspector: User | None
    village_code: str
    village_name: str
    township_name: str
    rows: list[ListRow] = field(default_factory=list)


def list_rows(sampling_round: SamplingRound, user, *, inspector_id: int | None = None,
              village: str | None = None, unassigned: bool = False) -> list[ListRow]:
    """Return the round's active households in the user's scope with their open problems, in draw order.

    ``inspector_id`` or ``unassigned`` narrows the list to one inspector's households
    or the unassigned ones, and ``village`` to one village.
    """
    stmt = (
        scoped_select(SampledHousehold, user)
        .where(SampledHousehold.sampling_round_id == sampling_round.id, SampledHousehold.status == "active")
        .options(selectinload(SampledHousehold.household).selectinload(Household.members),
                 selectinload(SampledHousehold.inspector), selectinload(SampledHousehold.team),
                 selectinload(SampledHousehold.replaces))
        .order_by(SampledHousehold.draw_order)
    )
    if unassigned:
        stmt = stmt.where(SampledHousehold.inspector_id.is_(None))
    elif inspector_id is not None:
        stmt = stmt.where(SampledHousehold.inspector_id == inspector_id)
    if village:
        stmt = stmt.where(Household.division_code == village)
    sampled_households = db.session.execute(stmt).scalars().all()
    problems = _open_problems([sampled.household_id for sampled in sampled_households], user)
    return [
        ListRow(sampled, sampled.household, _head(sampled.household), problems.get(sampled.household_id, []))
        for sampled in sampled_households
    ]


def _head(household: Household) -> Member | None:
    return household.head or (household.members[0] if household.members else None)


def _open_problems(household_ids: list[int], user) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for start in range(0, len(household_ids), 500):
        chunk = household_ids[start:start + 500]
        stmt = (
            scoped_select(SuspectedProblem, user)
            .where(SuspectedProblem.household_id.in_(chunk), SuspectedProblem.status == "open")
            .order_by(SuspectedProblem.household_id, SuspectedProblem.severity.desc(), SuspectedProblem.id)
        )
        for problem in db.session.execute(stmt).scalars():
            detail = problem_detail(problem)
            rule = rule_name(problem.rule_id)
            text = _("%(rule)s: %(detail)s", rule=rule, detail=detail) if detail else rule
            found.setdefault(problem.household_id, []).append(text)
    return found


def list_groups(rows: list[ListRow]) -> list[ListGroup]:
    """Group rows by inspector (unassigned last) and village, for one printed page each."""
    village_codes = {row.household.division_code for row in rows}
    names_stmt = select(Division.code, Division.name).where(Division.code.in_(village_codes))
    names = dict(db.session.execute(names_stmt).all()) if village_codes else {}
    groups: dict[tuple, ListGroup] = {}
    for row in rows:
        inspector = row.sampled.inspector
        key = (inspector is None, inspector.username if inspector else "", row.household.division_code)
        if key not in groups:
            groups[key] = ListGroup(inspector, row.household.division_code,
                                    names.get(row.household.division_code, row.household.village),
                                    row.household.township)
        groups[key].rows.append(row)
    return [groups[key] for key in sorted(groups)]
