"""Allocation and the draw, without the database."""

import random
from collections import Counter

import pytest

from fieldapp.sampling.methods import (
    METHODS,
    DrawSpec,
    Unit,
    allocate,
    allocate_proportional,
    draw,
    frame_fingerprint,
    order_by_weighted_keys,
    order_uniform,
    sample_without_replacement,
)


def frame_of(population: dict[str, list[int]], scores: dict[int, int] | None = None) -> dict[str, list[Unit]]:
    scores = scores or {}
    return {code: [Unit(i, 1 if scores.get(i) else 0, scores.get(i, 0)) for i in ids]
            for code, ids in population.items()}


def srs(population: dict[str, list[int]], size: int, seed: int):
    return draw(frame_of(population), DrawSpec(size=size), seed)


# -- allocation ----------------------------------------------------------------


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


def test_allocation_minimum_raises_small_strata():
    # Proportional shares 0.5, 1.5 and 8; the minimum of 2 lifts A and B, C gives up the difference.
    capacity = {"A": 5, "B": 15, "C": 80}
    assert allocate(capacity, capacity, 10, minimum=2) == {"A": 2, "B": 2, "C": 6}


def test_allocation_minimum_larger_than_stratum():
    capacity = {"A": 1, "B": 50}
    assert allocate(capacity, capacity, 10, minimum=3) == {"A": 1, "B": 9}


def test_allocation_minimums_above_size():
    with pytest.raises(ValueError):
        allocate({"A": 5, "B": 5, "C": 5}, {"A": 5, "B": 5, "C": 5}, 5, minimum=2)


def test_allocation_equal_redistributes():
    # Equal shares of 4 each; A holds only 2, so its 2 go to B and C.
    measure = dict.fromkeys("ABC", 1)
    assert allocate(measure, {"A": 2, "B": 30, "C": 30}, 12) == {"A": 2, "B": 5, "C": 5}


def test_allocation_problems_capped():
    # A has most problems but only 3 households; the rest follow the problems of B and C, 3 : 1.
    measure = {"A": 90, "B": 30, "C": 10}
    capacity = {"A": 3, "B": 40, "C": 40}
    assert allocate(measure, capacity, 11) == {"A": 3, "B": 6, "C": 2}


def test_allocation_zero_measure_spill():
    measure = {"A": 10, "B": 0}
    capacity = {"A": 4, "B": 20}
    assert allocate(measure, capacity, 3, minimum=1) == {"A": 2, "B": 1}
    # A is full at 4, so the rest goes to B although it has no problems.
    assert allocate(measure, capacity, 10, minimum=1) == {"A": 4, "B": 6}


def test_allocation_bounds_on_random_cases():
    generator = random.Random(11)
    for _ in range(400):
        codes = [f"S{i}" for i in range(generator.randint(1, 9))]
        capacity = {code: generator.randint(0, 30) for code in codes}
        measure = {code: generator.choice([0, generator.randint(1, 50)]) for code in codes}
        minimum = generator.randint(0, 4)
        total = sum(capacity.values())
        low = sum(min(minimum, c) for c in capacity.values())
        if low > total:
            continue
        size = generator.randint(low, total)
        allocation = allocate(measure, capacity, size, minimum)
        assert sum(allocation.values()) == size
        for code in codes:
            assert min(minimum, capacity[code]) <= allocation[code] <= capacity[code], (code, allocation)


def test_allocation_proportional_between_bounds():
    measure = {"A": 1, "B": 2, "C": 3}
    capacity = {"A": 100, "B": 100, "C": 100}
    assert allocate(measure, capacity, 60) == {"A": 10, "B": 20, "C": 30}


# -- uniform draw ------------------------------------------------------------------


def test_draw_independent_of_input_order():
    population = {"A": list(range(1, 40)), "B": list(range(100, 130))}
    shuffled = {code: random.Random(code).sample(ids, len(ids)) for code, ids in population.items()}
    assert srs(population, 12, 99) == srs(shuffled, 12, 99)


def test_draw_without_replacement():
    population = {"A": list(range(1, 11)), "B": list(range(20, 30))}
    result = srs(population, 20, 5)
    ids = [household_id for household_id, _ in result.households]
    assert sorted(ids) == sorted(population["A"] + population["B"])


def test_draw_strata_and_allocation():
    population = {"B": list(range(1, 31)), "A": list(range(50, 60))}
    result = srs(population, 8, 3)
    assert result.allocation == {"A": 2, "B": 6}
    assert [code for _, code in result.households] == ["A"] * 2 + ["B"] * 6
    for household_id, code in result.households:
        assert household_id in population[code]


def test_method_registry():
    assert METHODS["stratified_srs"] is order_uniform
    assert METHODS["stratified_pps"] is order_by_weighted_keys


def test_unknown_method():
    with pytest.raises(ValueError):
        draw(frame_of({"A": [1, 2]}), DrawSpec(size=1, method="cluster"), 1)


def test_draw_fixed_result_for_seed():
    # Saved rounds must be reproducible: this pins the generator, seeding and shuffle.
    population = {"371622107000": list(range(1, 21)), "371622101000": list(range(100, 110))}
    result = srs(population, 6, 20240601)
    assert result.households == [
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


def test_same_seed_same_draw():
    frame = frame_of({"A": list(range(1, 200))}, {i: i % 4 for i in range(1, 200)})
    spec = DrawSpec(size=20, method="stratified_pps", reserves=5, control_percent=20)
    assert draw(frame, spec, 77) == draw(frame, spec, 77)


def test_different_seed_different_draw():
    frame = frame_of({"A": list(range(1, 200))}, {i: i % 4 for i in range(1, 200)})
    spec = DrawSpec(size=20, method="stratified_pps")
    first = {i for i, _ in draw(frame, spec, 1).households}
    second = {i for i, _ in draw(frame, spec, 2).households}
    assert first != second


# -- weighted draw -------------------------------------------------------------------


def test_weighted_single_draw_probabilities():
    # Drawing one unit, weighted random keys choose unit i with probability w_i / sum(w).
    units = [Unit(i, 1, i) for i in range(1, 6)]  # weights 1..5, total 15
    counts = Counter()
    draws = 15_000
    for seed in range(draws):
        counts.update(unit.id for unit in order_by_weighted_keys(random.Random(seed), units, 1))
    for unit in units:
        expected = draws * unit.score / 15
        sd = (draws * unit.score / 15 * (1 - unit.score / 15)) ** 0.5
        assert abs(counts[unit.id] - expected) < 4 * sd, (unit.id, counts[unit.id], expected)


def test_higher_score_drawn_more_often():
    # 30 households with score 1, 30 with score 3 and 30 with score 9; a sample of 15 per draw.
    scores = {i: (1, 3, 9)[i % 3] for i in range(90)}
    frame = {"A": [Unit(i, 1, scores[i]) for i in range(90)]}
    counts = Counter()
    for seed in range(600):
        result = draw(frame, DrawSpec(size=15, method="stratified_pps"), seed)
        counts.update(scores[i] for i, _ in result.households)
    assert counts[9] > counts[3] > counts[1]
    # Uniform sampling would draw each group 3,000 times; the heaviest group is far above.
    assert counts[9] > 4500
    assert counts[1] < 1500


def test_unscored_households_come_last():
    units = [Unit(i, 0, 0) for i in range(10)] + [Unit(100 + i, 1, 1) for i in range(3)]
    ordered = order_by_weighted_keys(random.Random(3), units, 13)
    assert {unit.id for unit in ordered[:3]} == {100, 101, 102}
    assert {unit.id for unit in ordered[3:]} == set(range(10))


def test_weighted_fixed_result_for_seed():
    units = [Unit(i, 1, 1 + i % 3) for i in range(1, 13)]
    ordered = order_by_weighted_keys(random.Random("5:A"), units, 4)
    assert [unit.id for unit in ordered] == [5, 4, 10, 1]


# -- reserves and control group --------------------------------------------------------


def test_reserves_leave_sample_unchanged():
    frame = frame_of({"A": list(range(1, 60)), "B": list(range(100, 140))}, {i: i % 5 for i in range(200)})
    for method in METHODS:
        plain = draw(frame, DrawSpec(size=12, method=method), 8)
        with_reserves = draw(frame, DrawSpec(size=12, method=method, reserves=4), 8)
        assert plain.households == with_reserves.households
        assert len(with_reserves.reserves) == 8


def test_reserves_ordered_and_disjoint():
    frame = frame_of({"A": list(range(1, 11))})
    result = draw(frame, DrawSpec(size=7, reserves=5), 2)
    # Only three households are left in the stratum for its reserve list.
    assert [r.reserve_order for r in result.reserves] == [1, 2, 3]
    drawn = {i for i, _ in result.households}
    assert not drawn & {r.household_id for r in result.reserves}
    assert drawn | {r.household_id for r in result.reserves} == set(range(1, 11))


def test_control_group_share():
    # 40 households with problems, 60 without; 20 % of 15 is 3 control households.
    scores = {i: 2 for i in range(40)}
    frame = frame_of({"A": list(range(100))}, scores)
    result = draw(frame, DrawSpec(size=15, method="stratified_pps", control_percent=20, reserves=5), 4)
    assert result.control == {"A": 3}
    assert len(result.control_ids) == 3
    assert all(i >= 40 for i in result.control_ids)
    main = [i for i, _ in result.households if i not in result.control_ids]
    assert len(main) == 12
    assert all(i < 40 for i in main)
    control_reserves = [r for r in result.reserves if r.is_control]
    assert len(control_reserves) == 1  # 20 % of 5 reserves
    assert all(r.household_id >= 40 for r in control_reserves)


def test_control_group_capped():
    scores = {i: 1 for i in range(1, 10)}
    frame = frame_of({"A": list(range(0, 10))}, scores)  # only household 0 has no problem
    result = draw(frame, DrawSpec(size=5, control_percent=60), 1)
    assert result.control == {"A": 1}
    assert result.control_ids == frozenset({0})


def test_fingerprint_changes_with_scores():
    population = {"A": [1, 2, 3]}
    assert frame_fingerprint(frame_of(population)) == frame_fingerprint(frame_of(population))
    assert frame_fingerprint(frame_of(population)) != frame_fingerprint(frame_of(population, {2: 3}))
