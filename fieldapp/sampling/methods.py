"""Sampling methods: allocation of the sample over strata and the draw within each stratum.

``draw`` is a pure function of the sampling frame (stratum code -> eligible
households with their problem figures), a ``DrawSpec`` and the seed: it reads
nothing else, so the same frame, specification and seed always give the same
households and the same reserve lists. ``METHODS`` maps a round's ``method``
name to the function that orders a stratum's households for the draw.

Every stratum has its own generators, seeded with the round's seed and the
stratum code, and reads its households in ascending id order, so the result
does not depend on the order in which the database returned the rows.
"""

import hashlib
import heapq
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import NamedTuple

from flask_babel import lazy_gettext as _l


class Unit(NamedTuple):
    """A household in the sampling frame; a tuple, so that 100,000 of them are cheap to make and sort.

    Units compare by ``id`` first, and ids are unique, so sorting units sorts them by id.
    """

    id: int
    problems: int = 0  # open suspected problems
    score: int = 0  # the same problems weighted by severity


@dataclass(frozen=True)
class DrawSpec:
    size: int
    method: str = "stratified_srs"
    allocation: str = "households"  # a key of ALLOCATIONS
    minimum: int = 0  # households per stratum, or the whole stratum when it has fewer
    control_percent: int = 0  # share of each stratum's sample drawn from households without problems
    reserves: int = 0  # reserve households per stratum


@dataclass(frozen=True)
class ReservePick:
    household_id: int
    stratum_code: str
    reserve_order: int  # 1, 2, ... within the stratum
    is_control: bool


@dataclass(frozen=True)
class Draw:
    allocation: dict[str, int]  # stratum code -> households drawn
    households: list[tuple[int, str]]  # (household id, stratum code) in draw order
    control_ids: frozenset[int] = frozenset()  # the drawn households that form the control group
    reserves: list[ReservePick] = field(default_factory=list)
    control: dict[str, int] = field(default_factory=dict)  # stratum code -> control households drawn


# -- allocation ----------------------------------------------------------------

ALLOCATIONS = {
    "equal": _l("Equal in every stratum"),
    "households": _l("In proportion to households"),
    "problems": _l("In proportion to suspected problems"),
    "score": _l("In proportion to the severity-weighted problem score"),
}


def stratum_measure(allocation: str, units: Sequence[Unit]) -> int:
    """Return the size of a stratum by which ``allocation`` shares out the sample."""
    if allocation == "equal":
        return 1
    if allocation == "households":
        return len(units)
    if allocation == "problems":
        return sum(unit.problems for unit in units)
    if allocation == "score":
        return sum(unit.score for unit in units)
    raise ValueError(f"unknown allocation {allocation!r}; use one of {', '.join(ALLOCATIONS)}")


def allocate(measure: Mapping[str, int], capacity: Mapping[str, int], size: int,
             minimum: int = 0) -> dict[str, int]:
    """Split ``size`` over strata in proportion to ``measure``, with a minimum and a cap per stratum.

    Each stratum gets at least ``minimum`` households (all of them when it has fewer)
    and at most its ``capacity``. Between these bounds the shares are proportional
    to ``measure``: the exact shares are ``clamp(l * measure, low, capacity)`` with the
    one factor ``l`` that makes them sum to ``size``, so a capped stratum's excess goes
    to the others in proportion. Strata whose measure is zero get only their minimum
    unless every other stratum is full. In that case the households left over go to them
    in proportion to their remaining capacity. The exact shares are rounded by largest remainder,
    ties going to the lower stratum code, so the sizes sum to ``size`` exactly.
    Raises ValueError when ``size`` exceeds the total capacity or the minimums exceed ``size``.
    """
    codes = sorted(capacity)
    total = sum(capacity.values())
    if not 0 <= size <= total:
        raise ValueError(f"sample size {size} is outside 0..{total}")
    low = {code: min(minimum, capacity[code]) for code in codes}
    if sum(low.values()) > size:
        raise ValueError(f"the minimums need {sum(low.values())} households, more than the size {size}")

    shares = _bounded_shares({code: measure[code] for code in codes}, low, capacity, size)
    left = size - sum(shares.values())
    if left > 0:
        # Every stratum with a positive measure is full, so the shares are whole numbers.
        spare = {code: capacity[code] - int(shares[code]) for code in codes}
        extra = _bounded_shares(spare, dict.fromkeys(codes, 0), spare, left)
        shares = {code: shares[code] + extra[code] for code in codes}
    return _round_largest_remainder(shares, size)


def allocate_proportional(population: Mapping[str, int], size: int) -> dict[str, int]:
    """Split ``size`` over strata in proportion to their population, by largest remainder."""
    return allocate(population, population, size)


def _bounded_shares(measure: Mapping[str, int], low: Mapping[str, int], high: Mapping[str, int],
                    size: int) -> dict[str, Fraction]:
    """Return the exact shares ``clamp(l * measure, low, high)`` that sum to ``size``.

    When even the largest factor cannot reach ``size`` (strata with a positive measure
    all full), returns the shares at that factor, which sum to less.
    ``f(l) = sum(clamp(l * m, low, high))`` is piecewise linear and non-decreasing, with
    breakpoints at ``low / m`` and ``high / m``. A binary search finds the segment that
    contains ``size``, and ``l`` is interpolated on it exactly.
    """
    positive = [code for code in measure if measure[code] > 0]

    def shares_at(factor: Fraction) -> dict[str, Fraction]:
        result = {code: Fraction(low[code]) for code in measure}
        for code in positive:
            result[code] = min(max(factor * measure[code], Fraction(low[code])), Fraction(high[code]))
        return result

    def total_at(factor: Fraction) -> Fraction:
        return sum(shares_at(factor).values(), Fraction(0))

    breakpoints = sorted({Fraction(bound[code], measure[code]) for code in positive for bound in (low, high)}
                         | {Fraction(0)})
    if total_at(breakpoints[-1]) <= size:
        return shares_at(breakpoints[-1])
    lo, hi = 0, len(breakpoints) - 1  # total_at(breakpoints[lo]) <= size < total_at(breakpoints[hi])
    while hi - lo > 1:
        middle = (lo + hi) // 2
        if total_at(breakpoints[middle]) <= size:
            lo = middle
        else:
            hi = middle
    start, end = breakpoints[lo], breakpoints[hi]
    at_start, at_end = total_at(start), total_at(end)
    factor = start + (size - at_start) * (end - start) / (at_end - at_start)
    return shares_at(factor)


def _round_largest_remainder(shares: Mapping[str, Fraction], size: int) -> dict[str, int]:
    allocation = {code: math.floor(share) for code, share in shares.items()}
    left_over = size - sum(allocation.values())
    by_remainder = sorted(shares, key=lambda code: (-(shares[code] - allocation[code]), code))
    for code in by_remainder[:left_over]:
        allocation[code] += 1
    return allocation


# -- ordering households within a stratum ----------------------------------------


def stratum_random(seed: int, stratum_code: str, purpose: str = "") -> random.Random:
    """Return the generator for one stratum; a string seed is hashed the same way on every platform.

    The main draw uses ``"seed:code"``, which rounds drawn before control groups existed
    also used, and the control group ``"seed:code:control"``.
    """
    suffix = f":{purpose}" if purpose else ""
    return random.Random(f"{seed}:{stratum_code}{suffix}")


def sample_without_replacement(generator: random.Random, items: list, count: int) -> list:
    """Draw ``count`` items by a partial Fisher-Yates shuffle.

    Only ``Random.random()`` is called because Python keeps its sequence for a given
    seed across versions, which it does not promise for ``Random.sample``. The bias of
    ``int(random() * n)`` is below n / 2**53, far too small to matter for household counts.
    The first ``k`` items of a longer draw are the draw of ``k``, so reserves drawn
    after the sample leave the sample unchanged.
    """
    pool = list(items)
    for position in range(count):
        chosen = position + int(generator.random() * (len(pool) - position))
        pool[position], pool[chosen] = pool[chosen], pool[position]
    return pool[:count]


def order_uniform(generator: random.Random, units: Sequence[Unit], count: int) -> list[Unit]:
    """Return ``count`` units in the order of a simple random sample without replacement."""
    return sample_without_replacement(generator, sorted(units), count)


def order_by_weighted_keys(generator: random.Random, units: Sequence[Unit], count: int) -> list[Unit]:
    """Return ``count`` units drawn without replacement with probability proportional to their score.

    Weighted random keys (algorithm A of P. S. Efraimidis and P. G. Spirakis, "Weighted
    random sampling with a reservoir", Information Processing Letters 97(5), 2006,
    pp. 181-185): each unit gets the key ``u ** (1 / w)`` with ``u`` uniform on (0, 1] and
    ``w`` its severity-weighted score, and the ``count`` largest keys are the sample,
    in decreasing key order. The keys are compared as ``log(u) / w``, which orders them
    the same way without underflow. Units with score 0 have no chance under this rule,
    so they follow every unit with a positive score, in uniform random order. They
    are reached only when a stratum has fewer scored units than it must draw. One
    ``random()`` is drawn per unit in ascending id order, so the result is reproducible.
    """
    keyed = []
    for unit in sorted(units):
        u = 1.0 - generator.random()  # (0, 1], so log(u) is defined
        if unit.score > 0:
            keyed.append((1, math.log(u) / unit.score, -unit.id, unit))
        else:
            keyed.append((0, u, -unit.id, unit))
    # The ids are unique, so tuples never compare as far as the unit itself.
    return [item[3] for item in heapq.nlargest(count, keyed)]


OrderFunction = Callable[[random.Random, Sequence[Unit], int], list[Unit]]

METHODS: dict[str, OrderFunction] = {
    "stratified_srs": order_uniform,
    "stratified_pps": order_by_weighted_keys,
}

METHOD_LABELS = {
    "stratified_srs": _l("Stratified, simple random sample within each stratum"),
    "stratified_pps": _l("Stratified, probability proportional to the problem score within each stratum"),
}


# -- the draw ------------------------------------------------------------------


def percent_of(count: int, percent: int) -> int:
    """Return ``count * percent / 100`` rounded half up, in integers so that every platform agrees."""
    return (count * percent + 50) // 100


def draw(frame: Mapping[str, Sequence[Unit]], spec: DrawSpec, seed: int) -> Draw:
    """Allocate ``spec.size`` over the strata of ``frame`` and draw the sample and reserves of each.

    In a stratum allocated ``n`` households, the control group comes first: ``n *
    control_percent / 100`` (rounded half up) households drawn uniformly from those
    without an open suspected problem, fewer when the stratum has fewer such
    households. The rest of ``n`` is drawn by ``spec.method`` from the stratum's other
    households. The reserve list continues each draw: its control part has the
    control share of the reserves, and the main part the rest, up to the households
    left in the stratum. Raises ValueError for a size outside the frame, minimums that
    exceed the size, or an unknown method or allocation.
    """
    if spec.method not in METHODS:
        raise ValueError(f"unknown method {spec.method!r}; use one of {', '.join(METHODS)}")
    order = METHODS[spec.method]
    capacity = {code: len(units) for code, units in frame.items()}
    measure = {code: stratum_measure(spec.allocation, units) for code, units in frame.items()}
    allocation = allocate(measure, capacity, spec.size, spec.minimum)

    households: list[tuple[int, str]] = []
    control_ids: set[int] = set()
    control: dict[str, int] = {}
    reserves: list[ReservePick] = []
    for code in sorted(frame):
        units = frame[code]
        size = allocation[code]
        reserve_count = min(spec.reserves, len(units) - size)
        without_problems = [unit for unit in units if unit.problems == 0]
        control_size = min(len(without_problems), percent_of(size, spec.control_percent))
        control_reserves = min(len(without_problems) - control_size,
                               percent_of(reserve_count, spec.control_percent))

        control_picks = order_uniform(stratum_random(seed, code, "control"), without_problems,
                                      control_size + control_reserves)
        taken = {unit.id for unit in control_picks}
        remaining = [unit for unit in units if unit.id not in taken]
        main_reserves = reserve_count - control_reserves
        main_picks = order(stratum_random(seed, code), remaining, size - control_size + main_reserves)

        main_sample = main_picks[: size - control_size]
        control_sample = control_picks[:control_size]
        households.extend((unit.id, code) for unit in main_sample + control_sample)
        control_ids.update(unit.id for unit in control_sample)
        control[code] = control_size
        backups = [(unit, False) for unit in main_picks[size - control_size:]]
        backups += [(unit, True) for unit in control_picks[control_size:]]
        reserves.extend(ReservePick(unit.id, code, position, is_control)
                        for position, (unit, is_control) in enumerate(backups, start=1))
    return Draw(allocation, households, frozenset(control_ids), reserves, control)


def frame_fingerprint(frame: Mapping[str, Sequence[Unit]]) -> str:
    """Return a SHA-256 of the frame (strata, households and their problem figures).

    Two reads of the data with the same fingerprint give the same draw for the same
    specification and seed, so comparing with the stored fingerprint shows whether a draw can be repeated.
    """
    digest = hashlib.sha256()
    for code in sorted(frame):
        lines = "".join(f"{code}:{unit.id}:{unit.problems}:{unit.score}\n" for unit in sorted(frame[code]))
        digest.update(lines.encode("ascii"))
    return digest.hexdigest()
