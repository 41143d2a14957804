"""Sampling rounds and assignment through the services, on small hand-made registers."""

import pytest
from sqlalchemy import select

from fieldapp.audit.models import AuditRecord
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.sampling import services
from fieldapp.sampling.models import SampledHousehold, SamplingRound
from fieldapp.visits.models import Questionnaire, Visit

LAODIAN_OTHER_VILLAGE = "371622107263"  # 大王村, 劳店镇
SHANGDIAN = "371622101000"  # 商店镇, 阳信县
SHANGDIAN_VILLAGE = "371622101210"


def households(make, village, count, **fields):
    return [make.household(village, members=1, **fields) for _ in range(count)]


def drawn_ids(sampling_round):
    return [s.household_id for s in sampling_round.sampled_households]


def audit_actions():
    return db.session.scalars(select(AuditRecord.action).order_by(AuditRecord.id)).all()


@pytest.fixture
def register(make):
    """Six households in 劳店镇 and three in 商店镇, both in 阳信县, and two in 惠民县."""
    return {
        "laodian": households(make, make.LAODIAN_VILLAGE, 6),
        "shangdian": households(make, SHANGDIAN_VILLAGE, 3),
        "huimin": households(make, make.HUIMIN_VILLAGE, 2),
    }


@pytest.fixture
def admin(make):
    return make.user("admin", [make.YANGXIN])


def test_create_round_stores_draw(ctx, make, register, admin):
    sampling_round = services.create_round(" May ", [make.YANGXIN], 4, 1234, user=admin)

    assert sampling_round.name == "May"
    assert sampling_round.method == "stratified_srs"
    assert sampling_round.seed == 1234
    assert sampling_round.population_size == 9
    assert sampling_round.snapshot_at is not None
    assert sampling_round.created_by_id == admin.id
    assert sampling_round.is_demo is False
    assert sampling_round.parameters["divisions"] == [make.YANGXIN]
    assert sampling_round.parameters["size"] == 4
    assert [{key: stratum[key] for key in ("code", "name", "population", "allocated")}
            for stratum in sampling_round.parameters["allocation"]] == [
        {"code": SHANGDIAN, "name": "商店镇", "population": 3, "allocated": 1},
        {"code": make.LAODIAN, "name": "劳店镇", "population": 6, "allocated": 3},
    ]
    assert sampling_round.parameters["stratum_level"] == "township"
    assert sampling_round.parameters["allocation_rule"] == "households"
    assert len(sampling_round.parameters["frame_sha256"]) == 64
    sampled = sampling_round.sampled_households
    assert [s.draw_order for s in sampled] == [1, 2, 3, 4]
    assert [s.stratum_code for s in sampled] == [SHANGDIAN, make.LAODIAN, make.LAODIAN, make.LAODIAN]
    laodian_ids = {h.id for h in register["laodian"]}
    assert {s.household_id for s in sampled[1:]} <= laodian_ids
    assert sampled[0].household_id in {h.id for h in register["shangdian"]}
    assert audit_actions() == ["sampling.create_round"]


def test_same_seed_same_sample(ctx, make, register, admin):
    first = services.create_round("A", [make.YANGXIN], 5, 42, user=admin)
    second = services.create_round("B", [make.YANGXIN], 5, 42, user=admin)
    assert drawn_ids(first) == drawn_ids(second)


def test_different_seed_different_sample(ctx, make, admin):
    households(make, make.LAODIAN_VILLAGE, 30)
    first = services.create_round("A", [make.LAODIAN], 10, 1, user=admin)
    second = services.create_round("B", [make.LAODIAN], 10, 2, user=admin)
    assert set(drawn_ids(first)) != set(drawn_ids(second))


def test_preview_matches_round_and_saves_nothing(ctx, make, register, admin):
    strata = services.preview_round([make.YANGXIN], 4, 9, user=admin, is_demo=False)

    assert [(s.code, s.name, s.population, s.allocated) for s in strata] == [
        (SHANGDIAN, "商店镇", 3, 1), (make.LAODIAN, "劳店镇", 6, 3),
    ]
    assert db.session.scalars(select(SamplingRound)).all() == []
    assert audit_actions() == []


def test_overlapping_divisions_count_once(ctx, make, register, admin):
    strata = services.preview_round([make.YANGXIN, make.LAODIAN], 9, 1, user=admin, is_demo=False)
    assert sum(s.population for s in strata) == 9


def test_size_above_population(ctx, make, register, admin):
    with pytest.raises(FieldError) as raised:
        services.create_round("A", [make.LAODIAN], 7, 1, user=admin)
    assert raised.value.field == "size"
    assert "hold 6 households" in raised.value.message
    assert "the 7 requested" in raised.value.message


@pytest.mark.parametrize(("size", "seed", "field"), [(0, 1, "size"), (None, 1, "size"), (2, -1, "seed"),
                                                     (2, 2**31, "seed"), (2, None, "seed")])
def test_invalid_size_or_seed(ctx, make, register, admin, size, seed, field):
    with pytest.raises(FieldError) as raised:
        services.create_round("A", [make.LAODIAN], size, seed, user=admin)
    assert raised.value.field == field


def test_name_required(ctx, make, register, admin):
    with pytest.raises(FieldError) as raised:
        services.create_round("  ", [make.LAODIAN], 1, 1, user=admin)
    assert raised.value.field == "name"


def test_no_households(ctx, make, admin):
    with pytest.raises(FieldError) as raised:
        services.create_round("A", [make.LAODIAN], 1, 1, user=admin)
    assert raised.value.field == "divisions"


@pytest.mark.parametrize("codes", [[], ["371622107215"], ["371622999000"]])
def test_divisions_must_be_county_or_township(ctx, make, register, admin, codes):
    with pytest.raises(FieldError) as raised:
        services.preview_round(codes, 1, 1, user=admin, is_demo=False)
    assert raised.value.field == "divisions"


def test_admin_cannot_sample_other_county(ctx, make, register, admin):
    with pytest.raises(FieldError) as raised:
        services.create_round("A", [make.HUIMIN], 1, 1, user=admin)
    assert raised.value.field == "divisions"
    assert make.HUIMIN in raised.value.message


def test_township_admin_cannot_sample_county(ctx, make, register):
    township_admin = make.user("admin", [make.LAODIAN])
    with pytest.raises(FieldError):
        services.preview_round([make.YANGXIN], 1, 1, user=township_admin, is_demo=False)
    strata = services.preview_round([make.LAODIAN], 1, 1, user=township_admin, is_demo=False)
    assert [s.population for s in strata] == [6]


def test_sampling_divisions_under_user(ctx, make):
    codes = [d.code for d in services.sampling_divisions(make.user("admin", [make.YANGXIN]))]
    assert codes[0] == make.YANGXIN
    assert make.LAODIAN in codes
    assert all(code.startswith("371622") for code in codes)
    assert make.HUIMIN not in codes


def test_demo_round_uses_demo_households(ctx, make, register):
    demo = households(make, make.LAODIAN_VILLAGE, 2, is_demo=True)
    demo_admin = make.user("admin", [make.YANGXIN], is_demo=True)
    sampling_round = services.create_round("Training", [make.YANGXIN], 2, 1, user=demo_admin, is_demo=True)
    assert sampling_round.is_demo is True
    assert sorted(drawn_ids(sampling_round)) == sorted(h.id for h in demo)


def test_real_round_skips_demo_households(ctx, make, register, admin):
    households(make, make.LAODIAN_VILLAGE, 5, is_demo=True)
    strata = services.preview_round([make.LAODIAN], 1, 1, user=admin, is_demo=False)
    assert [s.population for s in strata] == [6]


def test_demo_flag_must_match_user(ctx, make, register, admin):
    with pytest.raises(FieldError):
        services.create_round("A", [make.LAODIAN], 1, 1, user=admin, is_demo=True)


def test_unknown_method(ctx, make, register, admin):
    with pytest.raises(FieldError) as raised:
        services.create_round("A", [make.LAODIAN], 1, 1, user=admin, method="cluster")
    assert raised.value.field == "method"


def test_command_line_samples_any_division(ctx, make, register):
    sampling_round = services.create_round("All", [make.HUIMIN], 2, 1, user=None)
    assert sampling_round.created_by_id is None
    assert sorted(drawn_ids(sampling_round)) == sorted(h.id for h in register["huimin"])


# -- assignment ----------------------------------------------------------------


@pytest.fixture
def full_round(make, register, admin):
    return services.create_round("All of 阳信县", [make.YANGXIN], 9, 5, user=admin)


def test_assign_inspector(ctx, make, full_round, admin):
    inspector = make.user("inspector", [make.LAODIAN])
    sampled = next(s for s in full_round.sampled_households if s.stratum_code == make.LAODIAN)

    services.assign(sampled, inspector, user=admin)

    assert sampled.inspector_id == inspector.id
    assert sampled.assigned_at is not None
    entry = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "sampling.assign")).one()
    assert entry.object_id == str(sampled.id)
    assert entry.detail["inspector_id"] == inspector.id
    assert entry.user_id == admin.id


def test_unassign(ctx, make, full_round, admin):
    inspector = make.user("inspector", [make.YANGXIN])
    sampled = full_round.sampled_households[0]
    services.assign(sampled, inspector, user=admin)
    services.assign(sampled, None, user=admin)
    assert sampled.inspector_id is None
    assert sampled.assigned_at is None
    assert audit_actions().count("sampling.assign") == 2


def test_assign_same_inspector_again_is_no_change(ctx, make, full_round, admin):
    inspector = make.user("inspector", [make.YANGXIN])
    sampled = full_round.sampled_households[0]
    services.assign(sampled, inspector, user=admin)
    services.assign(sampled, inspector, user=admin)
    assert audit_actions().count("sampling.assign") == 1


def test_assign_rejects_wrong_role(ctx, make, full_round, admin):
    supervisor = make.user("supervisor", [make.YANGXIN])
    with pytest.raises(FieldError) as raised:
        services.assign(full_round.sampled_households[0], supervisor, user=admin)
    assert raised.value.field == "inspector"
    assert full_round.sampled_households[0].inspector_id is None


def test_assign_rejects_inspector_outside_village(ctx, make, full_round, admin):
    inspector = make.user("inspector", [make.LAODIAN])
    sampled = next(s for s in full_round.sampled_households if s.stratum_code == SHANGDIAN)
    with pytest.raises(FieldError) as raised:
        services.assign(sampled, inspector, user=admin)
    assert SHANGDIAN_VILLAGE in raised.value.message
    assert sampled.inspector_id is None


def test_assign_rejects_demo_inspector(ctx, make, full_round, admin):
    inspector = make.user("inspector", [make.YANGXIN], is_demo=True)
    with pytest.raises(FieldError):
        services.assign(full_round.sampled_households[0], inspector, user=admin)


def test_assign_rejects_deactivated_inspector(ctx, make, full_round, admin):
    inspector = make.user("inspector", [make.YANGXIN])
    inspector.is_active_account = False
    with pytest.raises(FieldError):
        services.assign(full_round.sampled_households[0], inspector, user=admin)


def test_auto_assign_keeps_villages_together(ctx, make, admin):
    households(make, make.LAODIAN_VILLAGE, 4)
    households(make, LAODIAN_OTHER_VILLAGE, 3)
    households(make, SHANGDIAN_VILLAGE, 2)
    sampling_round = services.create_round("R", [make.YANGXIN], 9, 1, user=admin)
    first = make.user("inspector", [make.YANGXIN], username="a-first")
    second = make.user("inspector", [make.YANGXIN], username="b-second")

    result = services.auto_assign(sampling_round, [first, second], user=admin)

    assert result.assigned == 9
    assert result.villages_without_inspector == []
    by_village = {}
    for sampled in sampling_round.sampled_households:
        by_village.setdefault(sampled.household.division_code, set()).add(sampled.inspector_id)
    assert all(len(ids) == 1 for ids in by_village.values())
    # Largest village (4) to the first, the next (3) to the one with fewer, then (2) to the second again.
    assert by_village[make.LAODIAN_VILLAGE] == {first.id}
    assert by_village[LAODIAN_OTHER_VILLAGE] == {second.id}
    assert by_village[SHANGDIAN_VILLAGE] == {second.id}
    assert audit_actions().count("sampling.assign") == 9


def test_auto_assign_respects_inspector_scope(ctx, make, admin, full_round):
    laodian_only = make.user("inspector", [make.LAODIAN])

    result = services.auto_assign(full_round, [laodian_only], user=admin)

    assert result.assigned == 6
    assert result.villages_without_inspector == [SHANGDIAN_VILLAGE]
    for sampled in full_round.sampled_households:
        expected = laodian_only.id if sampled.stratum_code == make.LAODIAN else None
        assert sampled.inspector_id == expected


def test_auto_assign_keeps_earlier_assignments(ctx, make, admin, full_round):
    first = make.user("inspector", [make.YANGXIN], username="a-first")
    second = make.user("inspector", [make.YANGXIN], username="b-second")
    laodian = [s for s in full_round.sampled_households if s.stratum_code == make.LAODIAN]
    services.assign(laodian[0], second, user=admin)

    services.auto_assign(full_round, [first, second], user=admin)

    # The village already given to the second inspector stays with them.
    assert {s.inspector_id for s in laodian} == {second.id}
    shangdian = [s for s in full_round.sampled_households if s.stratum_code == SHANGDIAN]
    assert {s.inspector_id for s in shangdian} == {first.id}


def test_auto_assign_rejects_wrong_role(ctx, make, admin, full_round):
    with pytest.raises(FieldError):
        services.auto_assign(full_round, [make.user("supervisor", [make.YANGXIN])], user=admin)
    assert all(s.inspector_id is None for s in full_round.sampled_households)


def test_auto_assign_only_households_in_user_scope(ctx, make, register):
    city_round = services.create_round("City", [make.YANGXIN, make.HUIMIN], 11, 3, user=None)
    county_admin = make.user("admin", [make.HUIMIN])
    inspector = make.user("inspector", [make.CITY])

    result = services.auto_assign(city_round, [inspector], user=county_admin)

    assert result.assigned == 2
    assigned = db.session.scalars(
        select(SampledHousehold.stratum_code).where(SampledHousehold.inspector_id == inspector.id)
    ).all()
    assert {code[:6] for code in assigned} == {"371621"}


def test_visited_household_keeps_inspector(ctx, make, full_round, admin):
    first = make.user("inspector", [make.YANGXIN])
    second = make.user("inspector", [make.YANGXIN])
    sampled = full_round.sampled_households[0]
    services.assign(sampled, first, user=admin)
    questionnaire = db.session.scalars(select(Questionnaire)).first()
    db.session.add(Visit(client_uuid="00000000-0000-4000-8000-000000000001", content_sha256="0" * 64,
                         sampled_household_id=sampled.id, household_id=sampled.household_id,
                         inspector_id=first.id, questionnaire_id=questionnaire.id))
    db.session.flush()
    db.session.expire(sampled, ["visits"])

    with pytest.raises(FieldError) as raised:
        services.assign(sampled, second, user=admin)
    assert "already been visited" in raised.value.message
    assert sampled.inspector_id == first.id
