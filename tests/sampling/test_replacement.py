"""Replacing households that cannot be visited with reserves, through the service and the page."""

import pytest
from sqlalchemy import select

from fieldapp.audit.models import AuditRecord
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.sampling import services
from fieldapp.sampling.models import ReserveHousehold, SampledHousehold
from fieldapp.sampling.replacement import replace_household
from fieldapp.sampling.services import RoundOptions
from fieldapp.visits.models import Questionnaire, Visit
from tests.conftest import login

LAODIAN_OTHER_VILLAGE = "371622107263"


@pytest.fixture
def admin(make):
    return make.user("admin", [make.YANGXIN])


@pytest.fixture
def sampling_round(make, admin):
    for _ in range(8):
        make.household(make.LAODIAN_VILLAGE, members=1)
    return services.create_round("R", [make.LAODIAN], 4, 3, user=admin, options=RoundOptions(reserves=2))


def reserves_of(sampling_round):
    return db.session.scalars(
        select(ReserveHousehold).where(ReserveHousehold.sampling_round_id == sampling_round.id)
        .order_by(ReserveHousehold.reserve_order)
    ).all()


def test_replace_keeps_trail(ctx, make, sampling_round, admin):
    inspector = make.user("inspector", [make.LAODIAN])
    supervisor = make.user("supervisor", [make.LAODIAN])
    services.auto_assign(sampling_round, [inspector], user=admin)
    sampled = sampling_round.sampled_households[1]
    first_reserve = reserves_of(sampling_round)[0]

    result = replace_household(sampled, "refused", "户主拒绝", user=supervisor)

    assert sampled.status == "cannot_visit"
    assert sampled.cannot_visit_reason == "refused"
    assert sampled.cannot_visit_note == "户主拒绝"
    assert sampled.cannot_visit_by_id == supervisor.id
    assert sampled.cannot_visit_at is not None
    assert sampled.inspector_id is None
    replacement = result.replacement
    assert replacement.household_id == first_reserve.household_id
    assert replacement.replaces_id == sampled.id
    assert replacement.draw_order == 5
    assert replacement.stratum_code == sampled.stratum_code
    assert replacement.inspector_id == inspector.id
    assert first_reserve.used_at is not None
    assert first_reserve.sampled_household_id == replacement.id
    db.session.expire(sampled, ["replaced_by"])
    assert sampled.replaced_by.id == replacement.id
    entry = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "sampling.replace")).one()
    assert entry.user_id == supervisor.id
    assert entry.detail["reason"] == "refused"
    assert entry.detail["replacement_id"] == replacement.id
    assert entry.detail["previous_inspector_id"] == inspector.id
    assert "户主拒绝" not in str(entry.detail)


def test_reserves_used_in_order(ctx, make, sampling_round, admin):
    reserves = reserves_of(sampling_round)
    first = replace_household(sampling_round.sampled_households[0], "moved", user=admin)
    second = replace_household(sampling_round.sampled_households[1], "nobody_home", user=admin)
    assert first.replacement.household_id == reserves[0].household_id
    assert second.replacement.household_id == reserves[1].household_id


def test_no_reserve_left(ctx, make, sampling_round, admin):
    for sampled in sampling_round.sampled_households[:2]:
        replace_household(sampled, "moved", user=admin)
    third = sampling_round.sampled_households[2]
    result = replace_household(third, "moved", user=admin)
    assert result.replacement is None
    assert third.status == "cannot_visit"
    active = db.session.scalars(select(SampledHousehold).where(
        SampledHousehold.sampling_round_id == sampling_round.id, SampledHousehold.status == "active")).all()
    assert len(active) == 3


def test_replace_twice_rejected(ctx, make, sampling_round, admin):
    sampled = sampling_round.sampled_households[0]
    replace_household(sampled, "moved", user=admin)
    with pytest.raises(FieldError):
        replace_household(sampled, "moved", user=admin)
    entries = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "sampling.replace")).all()
    assert len(entries) == 1


def test_other_reason_needs_note(ctx, make, sampling_round, admin):
    with pytest.raises(FieldError) as raised:
        replace_household(sampling_round.sampled_households[0], "other", "  ", user=admin)
    assert raised.value.field == "note"
    assert sampling_round.sampled_households[0].status == "active"


def test_unknown_reason_rejected(ctx, make, sampling_round, admin):
    with pytest.raises(FieldError) as raised:
        replace_household(sampling_round.sampled_households[0], "bored", user=admin)
    assert raised.value.field == "reason"


def test_visited_household_not_replaced(ctx, make, sampling_round, admin):
    inspector = make.user("inspector", [make.LAODIAN])
    sampled = sampling_round.sampled_households[0]
    services.assign(sampled, inspector, user=admin)
    questionnaire = db.session.scalars(select(Questionnaire)).first()
    db.session.add(Visit(client_uuid="00000000-0000-4000-8000-000000000009", content_sha256="0" * 64,
                         sampled_household_id=sampled.id, household_id=sampled.household_id,
                         inspector_id=inspector.id, questionnaire_id=questionnaire.id))
    db.session.flush()
    db.session.expire(sampled, ["visits"])
    with pytest.raises(FieldError) as raised:
        replace_household(sampled, "moved", user=admin)
    assert "already been visited" in raised.value.message
    assert sampled.status == "active"


def test_replaced_household_cannot_be_assigned(ctx, make, sampling_round, admin):
    sampled = sampling_round.sampled_households[0]
    replace_household(sampled, "moved", user=admin)
    with pytest.raises(FieldError):
        services.assign(sampled, make.user("inspector", [make.LAODIAN]), user=admin)


def test_auto_assign_skips_replaced(ctx, make, sampling_round, admin):
    replace_household(sampling_round.sampled_households[0], "moved", user=admin)
    inspector = make.user("inspector", [make.LAODIAN])
    result = services.auto_assign(sampling_round, [inspector], user=admin)
    assert result.assigned == 4
    assert sampling_round.sampled_households[0].inspector_id is None


def test_reserve_outside_user_scope(ctx, make, admin):
    # Strata by county, so the next reserve may lie in a township the supervisor does not cover.
    laodian = make.household(make.LAODIAN_VILLAGE, members=1)
    for _ in range(10):
        make.household(make.SHUIWAN_VILLAGE, members=1)
    options = RoundOptions(stratum_level="county", reserves=3)
    for seed in range(1, 60):
        sampling_round = services.create_round(f"County {seed}", [make.YANGXIN], 2, seed, user=admin,
                                               options=options)
        in_laodian = [s for s in sampling_round.sampled_households if s.household_id == laodian.id]
        if in_laodian:
            break
    assert in_laodian, "no seed from 1 to 59 drew the one 劳店镇 household"
    supervisor = make.user("supervisor", [make.LAODIAN])
    next_reserve = reserves_of(sampling_round)[0]

    with pytest.raises(FieldError) as raised:
        replace_household(in_laodian[0], "moved", user=supervisor)

    assert "outside your divisions" in raised.value.message
    assert in_laodian[0].status == "active"
    assert next_reserve.used_at is None


def test_control_replaced_by_control_reserve(ctx, make, admin, problem):
    register = [make.household(make.LAODIAN_VILLAGE, members=1) for _ in range(12)]
    for household in register[:6]:
        problem(household, 2)
    options = RoundOptions(control_percent=50, reserves=2)
    sampling_round = services.create_round("C", [make.LAODIAN], 4, 2, user=admin, method="stratified_pps",
                                           options=options)
    control = next(s for s in sampling_round.sampled_households if s.is_control)
    result = replace_household(control, "moved", user=admin)
    assert result.replacement.is_control
    assert result.replacement.household_id in {h.id for h in register[6:]}


# -- the page ----------------------------------------------------------------------------


def test_replace_page(english, make, sampling_round):
    supervisor = make.user("supervisor", [make.LAODIAN])
    sampled = sampling_round.sampled_households[0]
    login(english, supervisor)
    response = english.get(f"/sampling/{sampling_round.id}/households/{sampled.id}/replace")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Nobody at home after two visits" in page
    assert "Unused reserves of its stratum in your divisions" in page


def test_replace_route(english, make, sampling_round):
    supervisor = make.user("supervisor", [make.LAODIAN])
    sampled = sampling_round.sampled_households[0]
    login(english, supervisor)

    response = english.post(f"/sampling/{sampling_round.id}/households/{sampled.id}/replace",
                            data={"reason": "nobody_home", "note": ""})

    assert response.status_code == 302
    replacement = db.session.scalars(
        select(SampledHousehold).where(SampledHousehold.replaces_id == sampled.id)
    ).one()
    assert response.headers["Location"] == f"/sampling/{sampling_round.id}#household-{replacement.id}"
    db.session.refresh(sampled)
    assert sampled.status == "cannot_visit"
    page = english.get(response.headers["Location"]).get_data(as_text=True)
    assert "Household 1 is recorded as not visitable and reserve household 5 takes its place." in page
    assert "Replaced by household 5" in page
    assert "Reserve in place of household 1" in page


def test_replace_route_other_without_note(english, make, sampling_round, admin):
    sampled = sampling_round.sampled_households[0]
    login(english, admin)
    response = english.post(f"/sampling/{sampling_round.id}/households/{sampled.id}/replace",
                            data={"reason": "other", "note": ""})
    assert response.status_code == 200
    assert "Describe the reason in the note" in response.get_data(as_text=True)
    db.session.refresh(sampled)
    assert sampled.status == "active"


def test_replace_route_role_and_scope(english, make, sampling_round):
    sampled = sampling_round.sampled_households[0]
    path = f"/sampling/{sampling_round.id}/households/{sampled.id}/replace"
    login(english, make.user("inspector", [make.LAODIAN]))
    assert english.post(path, data={"reason": "moved"}).status_code == 404
    english.post("/logout")
    login(english, make.user("supervisor", [make.HUIMIN]))
    assert english.post(path, data={"reason": "moved"}).status_code == 404
    db.session.refresh(sampled)
    assert sampled.status == "active"


def test_inspector_page_drops_replaced(english, make, sampling_round, admin):
    inspector = make.user("inspector", [make.LAODIAN])
    services.auto_assign(sampling_round, [inspector], user=admin)
    sampled = sampling_round.sampled_households[0]
    head_name = sampled.household.members[0].name
    replace_household(sampled, "moved", user=admin)
    login(english, inspector)
    page = english.get("/visits/").get_data(as_text=True)
    assert head_name not in page
    assert english.get(f"/visits/households/{sampled.id}").status_code == 404
