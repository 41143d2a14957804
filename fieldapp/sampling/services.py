"""Sampling rounds: choosing the population, drawing households, and checking a saved draw.

The population of a round is the households in the chosen counties or
townships that the user may see, in the user's world (demo or real). Strata are
counties, townships or villages. Exclusions take households out of the frame
before the draw. A round stores its method, parameters, seed, the time the
population was read and a fingerprint of the frame, so the draw can be
explained and repeated. ``verify_round`` repeats it without saving anything.
No function here draws a saved round again.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, insert, or_, select

from fieldapp.audit.services import record
from fieldapp.db_types import utcnow
from fieldapp.divisions.models import Division
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.register.models import Household
from fieldapp.sampling import methods
from fieldapp.sampling.assignment import (
    AutoAssignResult,
    MoveResult,
    assign,
    assignable_inspectors,
    auto_assign,
    auto_assign_teams,
    covers,
    inspector_prefixes,
    move_households,
    round_inspectors,
    round_villages,
    shares_divisions,
)
from fieldapp.sampling.methods import ALLOCATIONS, METHODS, Draw, DrawSpec
from fieldapp.sampling.models import ReserveHousehold, SampledHousehold, SamplingRound
from fieldapp.sampling.population import Exclusions, Frame, read_frame, stratum_names
from fieldapp.scope import division_prefixes, scoped_select

__all__ = [
    "AutoAssignResult", "Exclusions", "MoveResult", "RoundOptions", "StratumAllocation", "Verification",
    "assign", "assignable_inspectors", "auto_assign", "auto_assign_teams", "covers", "covers_round",
    "create_round", "excludable_rounds", "household_types", "inspector_prefixes", "move_households",
    "preview_round", "round_inspectors", "round_villages", "sampling_divisions", "shares_divisions",
    "verify_round",
]

logger = logging.getLogger(__name__)

SAMPLE_LEVELS = ("county", "township")  # levels of the divisions a round may be drawn from
STRATUM_LEVELS = ("county", "township", "village")
STRATUM_LEVEL = "township"
SEED_MAX = 2**31 - 1  # the seed column is a 32-bit signed integer on PostgreSQL
NAME_MAX = 100
DEFAULT_RESERVES = 5
RESERVES_MAX = 500
VISITED_DAYS_MAX = 3650


@dataclass(frozen=True)
class RoundOptions:
    """Options of a round's draw besides its divisions, size, seed and method."""

    stratum_level: str = STRATUM_LEVEL
    allocation: str = "households"  # a key of methods.ALLOCATIONS
    minimum: int = 0
    control_percent: int = 0
    reserves: int = DEFAULT_RESERVES
    exclusions: Exclusions = field(default_factory=Exclusions)


@dataclass(frozen=True)
class StratumAllocation:
    code: str
    name: str
    population: int  # households in the stratum
    allocated: int
    eligible: int = 0  # households left after the exclusions
    problems: int = 0  # open suspected problems of all its households
    eligible_problems: int = 0
    score: int = 0  # severity-weighted problem score of the eligible households
    control: int = 0
    reserves: int = 0
    drawn_problems: int = 0  # open suspected problems of the drawn households
    # Problems a simple random sample of ``allocated`` eligible households covers on average.
    uniform_problems: float = 0.0

    @property
    def excluded(self) -> int:
        return self.population - self.eligible

    def as_dict(self) -> dict:
        return {
            "code": self.code, "name": self.name, "population": self.population, "eligible": self.eligible,
            "problems": self.problems, "eligible_problems": self.eligible_problems, "score": self.score,
            "allocated": self.allocated, "control": self.control, "reserves": self.reserves,
            "drawn_problems": self.drawn_problems, "uniform_problems": self.uniform_problems,
        }


@dataclass(frozen=True)
class Verification:
    """The result of drawing a saved round again on today's data, without saving."""

    is_frame_unchanged: bool  # the frame's fingerprint equals the stored one
    is_same_sample: bool  # the same households, in the same order, as the original draw
    is_same_reserves: bool
    missing: int  # households of the original draw that the new draw does not contain
    added: int  # households of the new draw that the original does not contain


@dataclass
class _Plan:
    divisions: list[Division]
    frame: Frame
    draw: Draw
    strata: list[StratumAllocation]
    fingerprint: str

    @property
    def population_size(self) -> int:
        return self.frame.households


# -- choosing divisions, rounds and types -------------------------------------


def sampling_divisions(user) -> list[Division]:
    """Return the counties and townships the user may sample: those under the user's divisions.

    ``user`` None (the command line) may sample every county and township.
    """
    stmt = select(Division).where(Division.level.in_(SAMPLE_LEVELS)).order_by(Division.code)
    if user is not None:
        prefixes = division_prefixes(user)
        if not prefixes:
            return []
        stmt = stmt.where(or_(*(Division.code.startswith(prefix, autoescape=True) for prefix in prefixes)))
    return list(db.session.execute(stmt).scalars())


def excludable_rounds(user, is_demo: bool) -> list[SamplingRound]:
    """Return the rounds whose households a new round may exclude: those in the user's scope, newest first."""
    if user is None:
        stmt = select(SamplingRound).where(SamplingRound.is_demo == is_demo)
    else:
        stmt = scoped_select(SamplingRound, user)
    return list(db.session.execute(stmt.order_by(SamplingRound.created_at.desc(), SamplingRound.id.desc()))
                .scalars())


def household_types(user, is_demo: bool) -> list[str]:
    """Return the household types (户类型) found among the households in the user's scope."""
    if user is None:
        stmt = select(Household.household_type).where(Household.is_demo == is_demo)
    else:
        stmt = scoped_select(Household, user, Household.household_type)
    return sorted(value for value in db.session.execute(stmt.distinct()).scalars() if value)


def _resolve_divisions(division_codes, user) -> list[Division]:
    codes = list(dict.fromkeys(code.strip() for code in division_codes if code and code.strip()))
    if not codes:
        raise FieldError("divisions", _("Choose at least one county or township."))
    allowed = {division.code: division for division in sampling_divisions(user)}
    for code in codes:
        if code not in allowed:
            raise FieldError("divisions", _("Division %(code)s is not a county or township you may sample.",
                                            code=code))
    return [allowed[code] for code in codes]


# -- checking a request ----------------------------------------------------------


def _check_request(size, seed, *, user, is_demo: bool, method: str) -> None:
    if user is not None and bool(user.is_demo) != bool(is_demo):
        raise FieldError("divisions", _("A training account samples only demo households, and a real "
                                        "account only real ones."))
    if method not in METHODS:
        raise FieldError("method", _("Sampling method %(method)s is unknown; use one of %(methods)s.",
                                     method=method, methods=", ".join(METHODS)))
    if size is None or size < 1:
        raise FieldError("size", _("The number of households must be at least 1."))
    if seed is None or not 0 <= seed <= SEED_MAX:
        raise FieldError("seed", _("The seed must be a whole number from 0 to %(max)d.", max=SEED_MAX))


def _check_options(options: RoundOptions, *, user, is_demo: bool) -> None:
    if options.stratum_level not in STRATUM_LEVELS:
        raise FieldError("stratum_level", _("Stratum level %(level)s is unknown; use one of %(levels)s.",
                                            level=options.stratum_level, levels=", ".join(STRATUM_LEVELS)))
    if options.allocation not in ALLOCATIONS:
        raise FieldError("allocation", _("Allocation %(allocation)s is unknown; use one of %(allocations)s.",
                                         allocation=options.allocation, allocations=", ".join(ALLOCATIONS)))
    if options.minimum is None or options.minimum < 0:
        raise FieldError("minimum", _("The minimum per stratum must be 0 or more."))
    if options.control_percent is None or not 0 <= options.control_percent <= 100:
        raise FieldError("control_percent", _("The control share must be a whole percentage from 0 to 100."))
    if options.reserves is None or not 0 <= options.reserves <= RESERVES_MAX:
        raise FieldError("reserves", _("The reserves per stratum must be a whole number from 0 to %(max)d.",
                                       max=RESERVES_MAX))
    days = options.exclusions.visited_days
    if days is not None and not 1 <= days <= VISITED_DAYS_MAX:
        raise FieldError("exclude_visited_days", _("The number of days must be from 1 to %(max)d, or empty "
                                                   "to keep visited households.", max=VISITED_DAYS_MAX))
    visible = {sampling_round.id for sampling_round in excludable_rounds(user, is_demo)}
    for round_id in options.exclusions.round_ids:
        if round_id not in visible:
            raise FieldError("exclude_rounds", _("Round %(id)d was not found among the rounds you may see; "
                                                 "choose rounds from the list.", id=round_id))


def _check_size(frame: Frame, size: int, options: RoundOptions) -> None:
    if frame.households == 0:
        raise FieldError("divisions", _("The chosen divisions hold no households; import the register "
                                        "or choose other divisions."))
    if size > frame.eligible and frame.eligible == frame.households:
        raise FieldError("size", _("The chosen divisions hold %(population)d households, fewer than the "
                                   "%(size)d requested; ask for at most %(population)d.",
                                   population=frame.households, size=size))
    if size > frame.eligible:
        raise FieldError("size", _("After the exclusions the chosen divisions have %(eligible)d households, "
                                   "fewer than the %(size)d requested; ask for at most %(eligible)d or "
                                   "exclude fewer households.", eligible=frame.eligible, size=size))
    needed = sum(min(options.minimum, len(units)) for units in frame.units.values())
    if needed > size:
        raise FieldError("minimum", _("A minimum of %(minimum)d households in each of the %(strata)d strata "
                                      "needs %(needed)d households, more than the %(size)d requested; lower "
                                      "the minimum or draw more households.", minimum=options.minimum,
                                      strata=len(frame.units), needed=needed, size=size))


# -- drawing -------------------------------------------------------------------------


def _plan(divisions: list[Division], size: int, seed: int, *, user, is_demo: bool, method: str,
          options: RoundOptions, as_of: datetime) -> _Plan:
    frame = read_frame(divisions, options.stratum_level, options.exclusions, user=user, is_demo=is_demo,
                       as_of=as_of)
    _check_size(frame, size, options)
    spec = DrawSpec(size=size, method=method, allocation=options.allocation, minimum=options.minimum,
                    control_percent=options.control_percent, reserves=options.reserves)
    draw = methods.draw(frame.units, spec, seed)
    return _Plan(divisions, frame, draw, _strata(frame, draw), methods.frame_fingerprint(frame.units))


def _strata(frame: Frame, draw: Draw) -> list[StratumAllocation]:
    drawn = {household_id for household_id, _code in draw.households}
    drawn_problems = {code: sum(unit.problems for unit in frame.units[code] if unit.id in drawn)
                      for code in frame.figures}
    reserves: dict[str, int] = dict.fromkeys(frame.figures, 0)
    for reserve in draw.reserves:
        reserves[reserve.stratum_code] += 1
    names = stratum_names(frame.figures)

    strata = []
    for code in sorted(frame.figures):
        figures = frame.figures[code]
        allocated = draw.allocation.get(code, 0)
        uniform = allocated * figures.eligible_problems / figures.eligible if figures.eligible else 0.0
        strata.append(StratumAllocation(
            code=code, name=names.get(code, code), population=figures.households, allocated=allocated,
            eligible=figures.eligible, problems=figures.problems, eligible_problems=figures.eligible_problems,
            score=figures.eligible_score, control=draw.control.get(code, 0), reserves=reserves[code],
            drawn_problems=drawn_problems[code], uniform_problems=round(uniform, 2),
        ))
    return strata


def preview_round(division_codes, size: int, seed: int, *, user, is_demo: bool,
                  method: str = "stratified_srs",
                  options: RoundOptions | None = None) -> list[StratumAllocation]:
    """Return the allocation per stratum that ``create_round`` would make, without saving anything."""
    options = options or RoundOptions()
    _check_request(size, seed, user=user, is_demo=is_demo, method=method)
    _check_options(options, user=user, is_demo=is_demo)
    divisions = _resolve_divisions(division_codes, user)
    return _plan(divisions, size, seed, user=user, is_demo=is_demo, method=method, options=options,
                 as_of=utcnow()).strata


def create_round(name: str, division_codes, size: int, seed: int, *, user, is_demo: bool = False,
                 method: str = "stratified_srs", options: RoundOptions | None = None) -> SamplingRound:
    """Draw a sample and its reserves and save them as a new round; flushes, does not commit.

    ``user`` None (the command line) samples any division; otherwise the population is
    limited to the user's scope.
    """
    options = options or RoundOptions()
    name = (name or "").strip()
    if not name:
        raise FieldError("name", _("Give the round a name."))
    if len(name) > NAME_MAX:
        raise FieldError("name", _("The name has %(length)d characters; use at most %(max)d.",
                                   length=len(name), max=NAME_MAX))
    _check_request(size, seed, user=user, is_demo=is_demo, method=method)
    _check_options(options, user=user, is_demo=is_demo)
    divisions = _resolve_divisions(division_codes, user)
    snapshot_at = utcnow()
    plan = _plan(divisions, size, seed, user=user, is_demo=is_demo, method=method, options=options,
                 as_of=snapshot_at)

    sampling_round = SamplingRound(
        name=name, is_demo=is_demo, method=method, seed=seed, snapshot_at=snapshot_at,
        parameters=_parameters(plan, size, options), population_size=plan.population_size,
        created_by_id=getattr(user, "id", None),
    )
    db.session.add(sampling_round)
    db.session.flush()
    _write_draw(sampling_round, plan.draw)

    record("sampling.create_round", sampling_round, user=user, method=method, size=size, seed=seed,
           population=plan.population_size, eligible=plan.frame.eligible,
           divisions=sampling_round.parameters["divisions"], stratum_level=options.stratum_level,
           allocation=options.allocation, reserves=len(plan.draw.reserves))
    logger.info("sampling round %s drawn: %d of %d eligible households (%d in the divisions), method %s, "
                "allocation %s, seed %d, %d reserves", sampling_round.id, size, plan.frame.eligible,
                plan.population_size, method, options.allocation, seed, len(plan.draw.reserves))
    return sampling_round


def _parameters(plan: _Plan, size: int, options: RoundOptions) -> dict:
    drawn = sum(stratum.drawn_problems for stratum in plan.strata)
    uniform = sum(stratum.uniform_problems for stratum in plan.strata)
    return {
        "divisions": [division.code for division in plan.divisions],
        "size": size,
        "stratum_level": options.stratum_level,
        "allocation_rule": options.allocation,
        "minimum": options.minimum,
        "control_percent": options.control_percent,
        "reserves": options.reserves,
        "exclusions": options.exclusions.as_parameters(),
        "frame_sha256": plan.fingerprint,
        "eligible": plan.frame.eligible,
        "problems_total": plan.frame.problems,
        "problems_drawn": drawn,
        "problems_uniform": round(uniform, 2),
        "allocation": [stratum.as_dict() for stratum in plan.strata],
    }


def _write_draw(sampling_round: SamplingRound, draw: Draw) -> None:
    """Insert the drawn households and the reserve lists with one multi-row insert each."""
    sampled_rows = [
        {"sampling_round_id": sampling_round.id, "household_id": household_id, "stratum_code": code,
         "draw_order": order, "is_control": household_id in draw.control_ids, "status": "active",
         "cannot_visit_note": ""}
        for order, (household_id, code) in enumerate(draw.households, start=1)
    ]
    # Core inserts of the tables: the ORM's bulk path would add a third to the time of a large round.
    if sampled_rows:
        db.session.execute(insert(SampledHousehold.__table__), sampled_rows)
    reserve_rows = [
        {"sampling_round_id": sampling_round.id, "household_id": reserve.household_id,
         "stratum_code": reserve.stratum_code, "reserve_order": reserve.reserve_order,
         "is_control": reserve.is_control}
        for reserve in draw.reserves
    ]
    if reserve_rows:
        db.session.execute(insert(ReserveHousehold.__table__), reserve_rows)
    db.session.expire(sampling_round, ["sampled_households", "reserves"])


# -- repeating a saved draw -------------------------------------------------------------


def round_options(sampling_round: SamplingRound) -> RoundOptions:
    """Return the options a round was drawn with; older rounds get the old defaults."""
    parameters = sampling_round.parameters or {}
    exclusions = parameters.get("exclusions") or {}
    return RoundOptions(
        stratum_level=parameters.get("stratum_level", STRATUM_LEVEL),
        allocation=parameters.get("allocation_rule", "households"),
        minimum=parameters.get("minimum", 0),
        control_percent=parameters.get("control_percent", 0),
        reserves=parameters.get("reserves", 0),
        exclusions=Exclusions(
            round_ids=tuple(exclusions.get("rounds", ())),
            visited_days=exclusions.get("visited_days"),
            household_types=tuple(exclusions.get("household_types", ())),
        ),
    )


def verify_round(sampling_round: SamplingRound, *, user) -> Verification:
    """Draw a saved round again on the current data, as of its snapshot time, and compare; saves nothing.

    The user's divisions must include every division of the round, so that the frame
    is the whole frame the round was drawn from.
    """
    if not covers_round(sampling_round, user):
        # The codes outside the user's divisions are not named, because they lie outside the user's scope.
        raise FieldError("divisions", _("The round was drawn over divisions outside yours, so only an "
                                        "administrator whose divisions include all of them can repeat its "
                                        "draw."))
    parameters = sampling_round.parameters or {}
    codes = parameters.get("divisions", [])
    allowed = {division.code: division for division in sampling_divisions(user)}
    options = round_options(sampling_round)
    frame = read_frame([allowed[code] for code in codes], options.stratum_level, options.exclusions,
                       user=user, is_demo=sampling_round.is_demo, as_of=sampling_round.snapshot_at)
    spec = DrawSpec(size=parameters.get("size", 0), method=sampling_round.method,
                    allocation=options.allocation, minimum=options.minimum,
                    control_percent=options.control_percent, reserves=options.reserves)
    try:
        draw = methods.draw(frame.units, spec, sampling_round.seed)
    except ValueError:
        draw = Draw({}, [])

    original = db.session.execute(
        select(SampledHousehold.household_id)
        .where(SampledHousehold.sampling_round_id == sampling_round.id,
               SampledHousehold.replaces_id.is_(None))
        .order_by(SampledHousehold.draw_order)
    ).scalars().all()
    original_reserves = db.session.execute(
        select(ReserveHousehold.stratum_code, ReserveHousehold.reserve_order, ReserveHousehold.household_id)
        .where(ReserveHousehold.sampling_round_id == sampling_round.id)
        .order_by(ReserveHousehold.stratum_code, ReserveHousehold.reserve_order)
    ).all()
    again = [household_id for household_id, _code in draw.households]
    again_reserves = sorted((r.stratum_code, r.reserve_order, r.household_id) for r in draw.reserves)
    return Verification(
        is_frame_unchanged=methods.frame_fingerprint(frame.units) == parameters.get("frame_sha256"),
        is_same_sample=list(original) == again,
        is_same_reserves=[tuple(row) for row in original_reserves] == again_reserves,
        missing=len(set(original) - set(again)),
        added=len(set(again) - set(original)),
    )


def covers_round(sampling_round: SamplingRound, user) -> bool:
    """Return whether the user's divisions include every division the round was drawn from."""
    codes = (sampling_round.parameters or {}).get("divisions", [])
    allowed = {division.code for division in sampling_divisions(user)}
    return bool(codes) and all(code in allowed for code in codes)


def round_counts(round_ids: list[int], user) -> dict[int, tuple[int, int]]:
    """Return (active households, assigned) per round, counting only households in the user's scope."""
    if not round_ids:
        return {}
    stmt = scoped_select(
        SampledHousehold, user, SampledHousehold.sampling_round_id,
        func.count(SampledHousehold.id), func.count(SampledHousehold.inspector_id),
    ).where(SampledHousehold.sampling_round_id.in_(round_ids), SampledHousehold.status == "active")
    stmt = stmt.group_by(SampledHousehold.sampling_round_id)
    return {round_id: (count, assigned) for round_id, count, assigned in db.session.execute(stmt)}
