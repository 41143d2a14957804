"""Round options through the services: strata, allocation, weighting, control group, exclusions,
reserves, the stored coverage figures and repeating a saved draw."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from fieldapp.db_types import utcnow
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.sampling import services
from fieldapp.sampling.models import ReserveHousehold, SampledHousehold
from fieldapp.sampling.population import Exclusions
from fieldapp.sampling.services import RoundOptions
from fieldapp.visits.models import Questionnaire, Visit

LAODIAN_OTHER_VILLAGE = "371622107263"
SHANGDIAN = "371622101000"
SHANGDIAN_VILLAGE = "371622101210"


def households(make, village, count, **fields):
    return [make.household(village, members=1, **fields) for _ in range(count)]


def drawn_ids(sampling_round):
    return [s.household_id for s in sampling_round.sampled_households]


@pytest.fixture
def admin(make):
    return make.user("admin", [make.YANGXIN])


@pytest.fixture
def dense(make, problem):
    """劳店镇: 10 households, the first 4 with problems (scores 3, 3, 3, 3); 商店镇: 10 without problems."""
    laodian = households(make, make.LAODIAN_VILLAGE, 10)
    for household in laodian[:4]:
        problem(household, 3)
    shangdian = households(make, SHANGDIAN_VILLAGE, 10)
    return {"laodian": laodian, "shangdian": shangdian}


def test_allocation_by_problems_with_minimum(ctx, make, dense, admin):
    options = RoundOptions(allocation="problems", minimum=2)
    strata = services.preview_round([make.YANGXIN], 6, 1, user=admin, is_demo=False, options=options)
    allocated = {s.code: s.allocated for s in strata}
    assert allocated == {make.LAODIAN: 4, SHANGDIAN: 2}
    assert sum(allocated.values()) == 6


def test_allocation_equal(ctx, make, dense, admin):
    strata = services.preview_round([make.YANGXIN], 6, 1, user=admin, is_demo=False,
                                    options=RoundOptions(allocation="equal"))
    assert {s.code: s.allocated for s in strata} == {make.LAODIAN: 3, SHANGDIAN: 3}


def test_minimum_above_size_rejected(ctx, make, dense, admin):
    with pytest.raises(FieldError) as raised:
        services.preview_round([make.YANGXIN], 3, 1, user=admin, is_demo=False,
                               options=RoundOptions(minimum=2))
    assert raised.value.field == "minimum"
    assert "needs 4 households" in raised.value.message


def test_village_strata(ctx, make, admin):
    households(make, make.LAODIAN_VILLAGE, 4)
    households(make, LAODIAN_OTHER_VILLAGE, 4)
    sampling_round = services.create_round("V", [make.LAODIAN], 4, 1, user=admin,
                                           options=RoundOptions(stratum_level="village"))
    assert {s.stratum_code for s in sampling_round.sampled_households} == {make.LAODIAN_VILLAGE,
                                                                          LAODIAN_OTHER_VILLAGE}
    assert [s["code"] for s in sampling_round.parameters["allocation"]] == [make.LAODIAN_VILLAGE,
                                                                           LAODIAN_OTHER_VILLAGE]


def test_weighted_draw_takes_scored_households(ctx, make, dense, admin):
    sampling_round = services.create_round("W", [make.LAODIAN], 4, 9, user=admin, method="stratified_pps")
    assert set(drawn_ids(sampling_round)) == {h.id for h in dense["laodian"][:4]}
    assert sampling_round.method == "stratified_pps"


def test_control_group_has_no_problems(ctx, make, dense, admin):
    options = RoundOptions(control_percent=50, reserves=2)
    sampling_round = services.create_round("C", [make.LAODIAN], 4, 3, user=admin, method="stratified_pps",
                                           options=options)
    with_problems = {h.id for h in dense["laodian"][:4]}
    control = [s for s in sampling_round.sampled_households if s.is_control]
    main = [s for s in sampling_round.sampled_households if not s.is_control]
    assert len(control) == 2
    assert all(s.household_id not in with_problems for s in control)
    assert {s.household_id for s in main} <= with_problems
    assert sampling_round.parameters["allocation"][0]["control"] == 2


def test_same_seed_same_sample_with_options(ctx, make, dense, admin):
    options = RoundOptions(allocation="score", minimum=1, control_percent=20, reserves=3)
    first = services.create_round("A", [make.YANGXIN], 8, 42, user=admin, method="stratified_pps",
                                  options=options)
    second = services.create_round("B", [make.YANGXIN], 8, 42, user=admin, method="stratified_pps",
                                   options=options)
    assert drawn_ids(first) == drawn_ids(second)
    assert [(r.stratum_code, r.reserve_order, r.household_id) for r in first.reserves] == \
        [(r.stratum_code, r.reserve_order, r.household_id) for r in second.reserves]


# -- exclusions ---------------------------------------------------------------------


def test_exclude_earlier_round(ctx, make, admin):
    households(make, make.LAODIAN_VILLAGE, 12)
    first = services.create_round("First", [make.LAODIAN], 5, 1, user=admin)
    options = RoundOptions(exclusions=Exclusions(round_ids=(first.id,)))
    second = services.create_round("Second", [make.LAODIAN], 7, 1, user=admin, options=options)
    assert not set(drawn_ids(first)) & set(drawn_ids(second))
    assert second.parameters["eligible"] == 7
    assert second.parameters["exclusions"]["rounds"] == [first.id]


def test_exclude_round_leaves_too_few(ctx, make, admin):
    households(make, make.LAODIAN_VILLAGE, 6)
    first = services.create_round("First", [make.LAODIAN], 5, 1, user=admin)
    with pytest.raises(FieldError) as raised:
        services.preview_round([make.LAODIAN], 2, 1, user=admin, is_demo=False,
                               options=RoundOptions(exclusions=Exclusions(round_ids=(first.id,))))
    assert raised.value.field == "size"
    assert "After the exclusions the chosen divisions have 1 households" in raised.value.message


def test_exclude_round_outside_scope(ctx, make):
    households(make, make.HUIMIN_VILLAGE, 3)
    other = services.create_round("Huimin", [make.HUIMIN], 1, 1, user=None)
    households(make, make.LAODIAN_VILLAGE, 3)
    admin = make.user("admin", [make.YANGXIN])
    with pytest.raises(FieldError) as raised:
        services.preview_round([make.LAODIAN], 1, 1, user=admin, is_demo=False,
                               options=RoundOptions(exclusions=Exclusions(round_ids=(other.id,))))
    assert raised.value.field == "exclude_rounds"


def _visit(sampled, inspector, days_ago):
    questionnaire = db.session.scalars(select(Questionnaire)).first()
    at = utcnow() - timedelta(days=days_ago)
    db.session.add(Visit(client_uuid=f"00000000-0000-4000-8000-{sampled.id:012d}", content_sha256="0" * 64,
                         sampled_household_id=sampled.id, household_id=sampled.household_id,
                         inspector_id=inspector.id, questionnaire_id=questionnaire.id, submitted_at=at,
                         received_at=at))
    db.session.flush()


def test_exclude_recently_visited(ctx, make, admin):
    register = households(make, make.LAODIAN_VILLAGE, 6)
    inspector = make.user("inspector", [make.LAODIAN])
    earlier = services.create_round("Earlier", [make.LAODIAN], 6, 1, user=admin)
    by_household = {s.household_id: s for s in earlier.sampled_households}
    _visit(by_household[register[0].id], inspector, days_ago=3)
    _visit(by_household[register[1].id], inspector, days_ago=40)

    options = RoundOptions(exclusions=Exclusions(visited_days=30))
    sampling_round = services.create_round("Later", [make.LAODIAN], 5, 1, user=admin, options=options)

    assert register[0].id not in drawn_ids(sampling_round)
    assert register[1].id in drawn_ids(sampling_round)


def test_exclude_household_types(ctx, make, admin):
    kept = households(make, make.LAODIAN_VILLAGE, 3, household_type="监测对象")
    households(make, make.LAODIAN_VILLAGE, 5, household_type="脱贫户")
    options = RoundOptions(exclusions=Exclusions(household_types=("脱贫户",)))
    sampling_round = services.create_round("Types", [make.LAODIAN], 3, 1, user=admin, options=options)
    assert sorted(drawn_ids(sampling_round)) == sorted(h.id for h in kept)
    assert sampling_round.parameters["allocation"][0]["population"] == 8
    assert sampling_round.parameters["allocation"][0]["eligible"] == 3


@pytest.mark.parametrize(("options", "field"), [
    (RoundOptions(stratum_level="province"), "stratum_level"),
    (RoundOptions(allocation="random"), "allocation"),
    (RoundOptions(minimum=-1), "minimum"),
    (RoundOptions(control_percent=101), "control_percent"),
    (RoundOptions(reserves=-1), "reserves"),
    (RoundOptions(exclusions=Exclusions(visited_days=0)), "exclude_visited_days"),
])
def test_invalid_options(ctx, make, dense, admin, options, field):
    with pytest.raises(FieldError) as raised:
        services.create_round("X", [make.LAODIAN], 2, 1, user=admin, options=options)
    assert raised.value.field == field


# -- reserves and coverage -------------------------------------------------------------


def test_reserves_stored_per_stratum(ctx, make, dense, admin):
    sampling_round = services.create_round("R", [make.YANGXIN], 6, 5, user=admin,
                                           options=RoundOptions(reserves=3))
    reserves = db.session.scalars(
        select(ReserveHousehold).where(ReserveHousehold.sampling_round_id == sampling_round.id)
        .order_by(ReserveHousehold.stratum_code, ReserveHousehold.reserve_order)
    ).all()
    assert [(r.stratum_code, r.reserve_order) for r in reserves] == [
        (SHANGDIAN, 1), (SHANGDIAN, 2), (SHANGDIAN, 3),
        (make.LAODIAN, 1), (make.LAODIAN, 2), (make.LAODIAN, 3),
    ]
    assert not {r.household_id for r in reserves} & set(drawn_ids(sampling_round))
    assert all(r.used_at is None for r in reserves)


def test_coverage_figures_stored(ctx, make, dense, admin):
    sampling_round = services.create_round("Cov", [make.YANGXIN], 4, 2, user=admin, method="stratified_pps",
                                           options=RoundOptions(allocation="problems", minimum=0))
    parameters = sampling_round.parameters
    # All 4 problems lie in 劳店镇, which gets all 4 households, and weighting draws the 4 with problems.
    assert parameters["problems_total"] == 4
    assert parameters["problems_drawn"] == 4
    # A uniform sample of 4 of 劳店镇's 10 households covers 4 / 10 * 4 = 1.6 problems on average.
    assert parameters["problems_uniform"] == pytest.approx(1.6)


# -- repeating a saved draw ---------------------------------------------------------------


def test_verify_unchanged_round(ctx, make, dense, admin):
    sampling_round = services.create_round("V", [make.YANGXIN], 6, 7, user=admin, method="stratified_pps",
                                           options=RoundOptions(allocation="score", control_percent=30))
    result = services.verify_round(sampling_round, user=admin)
    assert result.is_frame_unchanged
    assert result.is_same_sample
    assert result.is_same_reserves
    assert (result.missing, result.added) == (0, 0)


def test_verify_after_data_change(ctx, make, dense, admin, problem):
    sampling_round = services.create_round("V", [make.LAODIAN], 2, 7, user=admin, method="stratified_pps")
    for household in dense["laodian"][4:]:
        problem(household, 3)
        problem(household, 3)
    result = services.verify_round(sampling_round, user=admin)
    assert not result.is_frame_unchanged


def test_verify_needs_whole_divisions(ctx, make, dense, admin):
    sampling_round = services.create_round("V", [make.YANGXIN], 2, 7, user=admin)
    township_admin = make.user("admin", [make.LAODIAN])
    with pytest.raises(FieldError):
        services.verify_round(sampling_round, user=township_admin)


def test_verify_round_without_reserves(ctx, make, dense, admin):
    sampling_round = services.create_round("Old", [make.LAODIAN], 3, 4, user=admin,
                                           options=RoundOptions(reserves=0))
    assert sampling_round.reserves == []
    assert services.verify_round(sampling_round, user=admin).is_same_sample


def test_sampled_rows_written(ctx, make, dense, admin):
    sampling_round = services.create_round("Rows", [make.LAODIAN], 3, 4, user=admin)
    rows = db.session.scalars(
        select(SampledHousehold).where(SampledHousehold.sampling_round_id == sampling_round.id)
    ).all()
    assert len(rows) == 3
    assert {row.status for row in rows} == {"active"}
    assert all(row.replaces_id is None and row.inspector_id is None for row in rows)
