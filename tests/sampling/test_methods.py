"""Allocation and the draw, without the database."""

import random
from collections import Counter

import pytest

from fieldapp.sampling.methods import (
    METHODS,
    allocate_proportional,
    draw_stratified_srs,
    sample_without_replacement,
)


def test_allocation_known_case():
    assert allocate_proportional({"A": 50, "B": 30, "C": 20}, 10) == {"A": 5, "B": 3, "C": 2}


def test_allocation_largest_remainder():
    # Quotas 2.67 and 1.33: the whole parts give 3, the larger remainder gets the fourth.
    assert allocate_proportional({"A": 6, "B": 3}, 4) == {"A": 3, "B": 1}


def test_allocation_tie_goes_to_lower_code():
    # Quotas 3.5, 3.5 and 3.0.
    assert allocate_proportional({"B": 7, "A": 7, "C": 6}, 10) == {"A": 4, "B": 3, "C": 3}


def test_allocation_whole_population():
    assert allocate_proportional({"A": 4, "B": 1}, 5) == {"A": 4, "B": 1}


def test_allocation_properties_on_random_cases():
    generator = random.Random(7)
    for _ in range(500):
        population = {f"S{i}": generator.randint(0, 40) for i in range(generator.randint(1, 8))}
        total = sum(population.values())
        size = generator.randint(0, total)
        allocation = allocate_proportional(population, size)
        assert sum(allocation.values()) == size
        for code, count in population.items():
            quota = size * count / total if total else 0
            assert allocation[code] <= count
            assert int(quota) <= allocation[code] <= int(quota) + 1


def test_allocation_size_above_total():
    with pytest.raises(ValueError):
        allocate_proportional({"A": 3}, 4)


def test_draw_independent_of_input_order():
    population = {"A": list(range(1, 40)), "B": list(range(100, 130))}
    shuffled = {code: random.Random(code).sample(ids, len(ids)) for code, ids in population.items()}
    assert draw_stratified_srs(population, 12, 99) == draw_stratified_srs(shuffled, 12, 99)


def test_draw_without_replacement():
    population = {"A": list(range(1, 11)), "B": list(range(20, 30))}
    draw = draw_stratified_srs(population, 20, 5)
    ids = [household_id for household_id, _ in draw.households]
    assert sorted(ids) == sorted(population["A"] + population["B"])


def test_draw_strata_and_allocation():
    population = {"B": list(range(1, 31)), "A": list(range(50, 60))}
    draw = draw_stratified_srs(population, 8, 3)
    assert draw.allocation == {"A": 2, "B": 6}
    assert [code for _, code in draw.households] == ["A"] * 2 + ["B"] * 6
    for household_id, code in draw.households:
        assert household_id in population[code]


def test_method_registry():
    assert METHODS["stratified_srs"] is draw_stratified_srs


def test_draw_fixed_result_for_seed():
    # Saved rounds must be reproducible: this pins the generator, seeding and shuffle.
    population = {"371622107000": list(range(1, 21)), "371622101000": list(range(100, 110))}
    draw = draw_stratified_srs(population, 6, 20240601)
    assert draw.households == [
        (102, "371622101000"), (107, "371622101000"),
        (8, "371622107000"), (1, "371622107000"), (17, "371622107000"), (3, "371622107000"),
    ]


def test_sample_is_uniform():
    counts = Counter()
    for seed in range(4000):
        counts.update(sample_without_replacement(random.Random(seed), list(range(10)), 3))
    # Each of 10 items is drawn with probability 0.3, so about 1200 times; 4 standard deviations is 116.
    for item in range(10):
        assert abs(counts[item] - 1200) < 116, (item, counts[item])
