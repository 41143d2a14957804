"""Sampling methods: allocation of the sample over strata and the draw within each stratum.

``METHODS`` maps a round's ``method`` name to its draw function. A draw function
takes the population (stratum code -> household ids), the sample size and the
seed, and returns the allocation and the drawn households. It reads nothing
else, so the same inputs and seed always give the same households.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Draw:
    allocation: dict[str, int]  # stratum code -> households drawn
    households: list[tuple[int, str]]  # (household id, stratum code) in draw order


DrawFunction = Callable[[dict[str, list[int]], int, int], Draw]


def allocate_proportional(population: dict[str, int], size: int) -> dict[str, int]:
    """Split ``size`` over strata in proportion to their population, by largest remainder.

    Each stratum first gets the whole part of ``size * population / total``. The
    households left over go one each to the strata with the largest fractional
    parts, and ties go to the lower stratum code. The sizes sum to ``size`` exactly,
    and no stratum gets more than its population because ``size`` is at most the total.
    """
    total = sum(population.values())
    if not 0 <= size <= total:
        raise ValueError(f"sample size {size} is outside 0..{total}")
    if total == 0:
        return dict.fromkeys(population, 0)
    allocation = {code: size * count // total for code, count in population.items()}
    left_over = size - sum(allocation.values())
    # Exact integer remainders, so that equal fractions compare equal.
    by_remainder = sorted(population, key=lambda code: (-(size * population[code] % total), code))
    for code in by_remainder[:left_over]:
        allocation[code] += 1
    return allocation


def stratum_random(seed: int, stratum_code: str) -> random.Random:
    """Return the generator for one stratum; a string seed is hashed the same way on every platform."""
    return random.Random(f"{seed}:{stratum_code}")


def sample_without_replacement(generator: random.Random, items: list, count: int) -> list:
    """Draw ``count`` items by a partial Fisher-Yates shuffle.

    Only ``Random.random()`` is called because Python keeps its sequence for a given
    seed across versions, which it does not promise for ``Random.sample``. The bias of
    ``int(random() * n)`` is below n / 2**53, far too small to matter for household counts.
    """
    pool = list(items)
    for position in range(count):
        chosen = position + int(generator.random() * (len(pool) - position))
        pool[position], pool[chosen] = pool[chosen], pool[position]
    return pool[:count]


def draw_stratified_srs(population: dict[str, list[int]], size: int, seed: int) -> Draw:
    """Proportional allocation, then a simple random sample without replacement in each stratum.

    Each stratum draws from its household ids in ascending order, with its own
    generator seeded by the round's seed and the stratum code, so the result does
    not depend on the order the database returned the rows in.
    """
    allocation = allocate_proportional({code: len(ids) for code, ids in population.items()}, size)
    drawn: list[tuple[int, str]] = []
    for code in sorted(population):
        generator = stratum_random(seed, code)
        chosen = sample_without_replacement(generator, sorted(population[code]), allocation[code])
        drawn.extend((household_id, code) for household_id in chosen)
    return Draw(allocation, drawn)


METHODS: dict[str, DrawFunction] = {
    "stratified_srs": draw_stratified_srs,
}

METHOD_LABELS = {
    "stratified_srs": _l("Stratified by township, proportional allocation, simple random sample"),
}
