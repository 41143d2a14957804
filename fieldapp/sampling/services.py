"""Sampling rounds: choosing the population, drawing households and assigning them to inspectors.

The population of a round is the households in the chosen counties or
townships that the user may see, in the user's world (demo or real). Strata
are townships. A round stores its method, parameters, seed, population size
and the time the population was read, so the draw can be explained and
repeated later. No function here draws a saved round again.
"""

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import or_, select

from fieldapp.audit.services import record
from fieldapp.auth.models import User, UserDivision
from fieldapp.db_types import utcnow
from fieldapp.divisions.models import Division, code_prefix
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.register.models import Household
from fieldapp.sampling.methods import METHODS, Draw
from fieldapp.sampling.models import SampledHousehold, SamplingRound
from fieldapp.scope import division_prefixes, scoped_select

logger = logging.getLogger(__name__)

SAMPLE_LEVELS = ("county", "township")
STRATUM_LEVEL = "township"
SEED_MAX = 2**31 - 1  # the seed column is a 32-bit signed integer on PostgreSQL
NAME_MAX = 100


@dataclass(frozen=True)
class StratumAllocation:
    code: str
    name: str
    population: int
    allocated: int


@dataclass
class AutoAssignResult:
    assigned: int = 0
    # Village codes whose households stay unassigned because no given inspector covers them.
    villages_without_inspector: list[str] = field(default_factory=list)


@dataclass
class _Plan:
    divisions: list[Division]
    population: dict[str, list[int]]  # stratum code -> household ids
    draw: Draw
    strata: list[StratumAllocation]

    @property
    def population_size(self) -> int:
        return sum(len(ids) for ids in self.population.values())


# -- choosing divisions and population ---------------------------------------


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


def _read_population(divisions: list[Division], user, is_demo: bool) -> dict[str, list[int]]:
    columns = (Household.id, Household.township_code)
    if user is None:
        stmt = select(*columns).where(Household.is_demo == is_demo)
    else:
        stmt = scoped_select(Household, user, *columns)
    in_divisions = or_(*(Household.division_code.startswith(d.prefix, autoescape=True) for d in divisions))
    population: dict[str, list[int]] = defaultdict(list)
    for household_id, township_code in db.session.execute(stmt.where(in_divisions)):
        population[township_code].append(household_id)
    return dict(population)


def _stratum_names(codes) -> dict[str, str]:
    rows = db.session.execute(select(Division.code, Division.name).where(Division.code.in_(list(codes))))
    return dict(rows.all())


# -- drawing -------------------------------------------------------------------


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


def _plan(division_codes, size: int, seed: int, *, user, is_demo: bool, method: str) -> _Plan:
    _check_request(size, seed, user=user, is_demo=is_demo, method=method)
    divisions = _resolve_divisions(division_codes, user)
    population = _read_population(divisions, user, is_demo)
    total = sum(len(ids) for ids in population.values())
    if total == 0:
        raise FieldError("divisions", _("The chosen divisions hold no households; import the register "
                                        "or choose other divisions."))
    if size > total:
        raise FieldError("size", _("The chosen divisions hold %(population)d households, fewer than the "
                                   "%(size)d requested; ask for at most %(population)d.",
                                   population=total, size=size))
    draw = METHODS[method](population, size, seed)
    names = _stratum_names(population)
    strata = [
        StratumAllocation(code, names.get(code, code), len(population[code]), draw.allocation[code])
        for code in sorted(population)
    ]
    return _Plan(divisions, population, draw, strata)


def preview_round(division_codes, size: int, seed: int, *, user, is_demo: bool) -> list[StratumAllocation]:
    """Return the allocation per township that ``create_round`` would make, without saving anything."""
    return _plan(division_codes, size, seed, user=user, is_demo=is_demo, method="stratified_srs").strata


def create_round(name: str, division_codes, size: int, seed: int, *, user, is_demo: bool = False,
                 method: str = "stratified_srs") -> SamplingRound:
    """Draw a sample and save it as a new round with its households; flushes, does not commit.

    ``user`` None (the command line) samples any division; otherwise the population is
    limited to the user's scope.
    """
    name = (name or "").strip()
    if not name:
        raise FieldError("name", _("Give the round a name."))
    if len(name) > NAME_MAX:
        raise FieldError("name", _("The name has %(length)d characters; use at most %(max)d.",
                                   length=len(name), max=NAME_MAX))
    snapshot_at = utcnow()
    plan = _plan(division_codes, size, seed, user=user, is_demo=is_demo, method=method)

    sampling_round = SamplingRound(
        name=name,
        is_demo=is_demo,
        method=method,
        parameters={
            "divisions": [division.code for division in plan.divisions],
            "size": size,
            "stratum_level": STRATUM_LEVEL,
            "allocation": [
                {"code": s.code, "name": s.name, "population": s.population, "allocated": s.allocated}
                for s in plan.strata
            ],
        },
        seed=seed,
        snapshot_at=snapshot_at,
        population_size=plan.population_size,
        created_by_id=getattr(user, "id", None),
    )
    sampling_round.sampled_households = [
        SampledHousehold(household_id=household_id, stratum_code=stratum_code, draw_order=order)
        for order, (household_id, stratum_code) in enumerate(plan.draw.households, start=1)
    ]
    db.session.add(sampling_round)
    db.session.flush()

    record("sampling.create_round", sampling_round, user=user, method=method, size=size, seed=seed,
           population=plan.population_size, divisions=sampling_round.parameters["divisions"])
    logger.info("sampling round %s drawn: %d of %d households, method %s, seed %d",
                sampling_round.id, size, plan.population_size, method, seed)
    return sampling_round


# -- assignment ----------------------------------------------------------------


def assignable_inspectors(is_demo: bool) -> list[User]:
    """Return the active inspectors of one world (demo or real), by user name."""
    stmt = (
        select(User)
        .where(User.role == "inspector", User.is_demo == is_demo, User.is_active_account.is_(True))
        .order_by(User.username)
    )
    return list(db.session.execute(stmt).scalars())


def inspector_prefixes(inspectors: list[User]) -> dict[int, list[str]]:
    """Return each inspector's division code prefixes, read in one query."""
    prefixes: dict[int, list[str]] = {inspector.id: [] for inspector in inspectors}
    rows = db.session.execute(
        select(UserDivision.user_id, Division.code, Division.level)
        .join(Division, UserDivision.division_code == Division.code)
        .where(UserDivision.user_id.in_(list(prefixes)))
    )
    for user_id, code, level in rows:
        prefixes[user_id].append(code_prefix(code, level))
    return prefixes


def covers(prefixes: list[str], division_code: str) -> bool:
    return any(division_code.startswith(prefix) for prefix in prefixes)


def _check_inspector(inspector: User, is_demo: bool) -> None:
    if inspector.role != "inspector":
        raise FieldError("inspector", _("User %(user)s is not an inspector; choose an inspector.",
                                        user=inspector.username))
    if not inspector.is_active_account:
        raise FieldError("inspector", _("Inspector %(user)s is deactivated; choose an active inspector.",
                                        user=inspector.username))
    if bool(inspector.is_demo) != bool(is_demo):
        raise FieldError("inspector", _("Inspector %(user)s cannot visit this round: training accounts visit "
                                        "only demo rounds, and real accounts only real rounds.",
                                        user=inspector.username))


def _set_inspector(sampled: SampledHousehold, inspector: User | None, *, user, automatic: bool) -> None:
    previous_id = sampled.inspector_id
    sampled.inspector = inspector
    sampled.inspector_id = inspector.id if inspector is not None else None
    sampled.assigned_at = utcnow() if inspector is not None else None
    record("sampling.assign", sampled, user=user, sampling_round_id=sampled.sampling_round_id,
           inspector_id=sampled.inspector_id, previous_inspector_id=previous_id, automatic=automatic)


def assign(sampled_household: SampledHousehold, inspector: User | None, *, user) -> None:
    """Give the household to ``inspector``, or take it back when ``inspector`` is None; flushes.

    The inspector must be an active inspector of the round's world whose divisions
    include the household's village. A household already visited keeps its inspector.
    """
    if inspector is not None:
        _check_inspector(inspector, sampled_household.sampling_round.is_demo)
        village = sampled_household.household.division_code
        if not covers(inspector_prefixes([inspector])[inspector.id], village):
            raise FieldError("inspector", _("Inspector %(user)s may not visit households in village "
                                            "%(village)s; choose an inspector whose divisions include it.",
                                            user=inspector.username, village=village))
    new_id = inspector.id if inspector is not None else None
    if new_id == sampled_household.inspector_id:
        return
    if sampled_household.visits:
        raise FieldError("inspector", _("This household has already been visited, so its inspector "
                                        "can no longer change."))
    _set_inspector(sampled_household, inspector, user=user, automatic=False)
    db.session.flush()


def _households_with_village(sampling_round: SamplingRound, user) -> list[tuple[SampledHousehold, str]]:
    """Return the round's households in the user's scope, or all for ``user`` None, with their villages."""
    columns = (SampledHousehold, Household.division_code)
    in_round = SampledHousehold.sampling_round_id == sampling_round.id
    if user is None:
        stmt = select(*columns).join(Household, SampledHousehold.household_id == Household.id)
    else:
        stmt = scoped_select(SampledHousehold, user, *columns)
    stmt = stmt.where(in_round).order_by(SampledHousehold.draw_order)
    return [(sampled, village) for sampled, village in db.session.execute(stmt)]


def auto_assign(sampling_round: SamplingRound, inspectors: list[User], *, user) -> AutoAssignResult:
    """Assign the round's unassigned households, keeping each village with one inspector; flushes.

    Villages go in order of size, largest first. Each goes to the inspector with
    the fewest households in the round so far among those whose divisions include
    it, unless exactly one of these inspectors already has households there.
    Households assigned before are kept as they are, and only households in the user's
    scope are assigned (every household of the round for ``user`` None, the command line).
    """
    for inspector in inspectors:
        _check_inspector(inspector, sampling_round.is_demo)
    prefixes = inspector_prefixes(inspectors)
    by_id = {inspector.id: inspector for inspector in inspectors}

    load: Counter[int] = Counter()
    owners: dict[str, set[int]] = defaultdict(set)
    villages: dict[str, list[SampledHousehold]] = defaultdict(list)
    for sampled, village in _households_with_village(sampling_round, user):
        if sampled.inspector_id is None:
            villages[village].append(sampled)
        elif sampled.inspector_id in by_id:
            load[sampled.inspector_id] += 1
            owners[village].add(sampled.inspector_id)

    result = AutoAssignResult()
    for village in sorted(villages, key=lambda code: (-len(villages[code]), code)):
        eligible = [inspector for inspector in inspectors if covers(prefixes[inspector.id], village)]
        if not eligible:
            result.villages_without_inspector.append(village)
            continue
        owner_ids = owners[village] & {inspector.id for inspector in eligible}
        if len(owner_ids) == 1:
            chosen = by_id[owner_ids.pop()]
        else:
            chosen = min(eligible, key=lambda inspector: (load[inspector.id], inspector.username))
        for sampled in villages[village]:
            _set_inspector(sampled, chosen, user=user, automatic=True)
        load[chosen.id] += len(villages[village])
        result.assigned += len(villages[village])
    db.session.flush()
    logger.info("sampling round %s: %d households assigned automatically, %d villages without an inspector",
                sampling_round.id, result.assigned, len(result.villages_without_inspector))
    return result
