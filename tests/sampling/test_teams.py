"""Teams, assignment by team, and moving households between inspectors."""

import pytest
from sqlalchemy import select

from fieldapp.audit.models import AuditRecord
from fieldapp.divisions.models import Division
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.sampling import services, teams
from fieldapp.sampling.models import SampledHousehold, Team
from fieldapp.visits.models import Questionnaire, Visit
from tests.conftest import login

LAODIAN_OTHER_VILLAGE = "371622107263"
SHANGDIAN_VILLAGE = "371622101210"


@pytest.fixture
def admin(make):
    return make.user("admin", [make.YANGXIN])


@pytest.fixture
def yangxin(make):
    return db.session.get(Division, make.YANGXIN)


@pytest.fixture
def sampling_round(make, admin):
    for village, count in ((make.LAODIAN_VILLAGE, 4), (LAODIAN_OTHER_VILLAGE, 3), (SHANGDIAN_VILLAGE, 2)):
        for _ in range(count):
            make.household(village, members=1)
    return services.create_round("R", [make.YANGXIN], 9, 1, user=admin)


def by_village(sampling_round):
    result = {}
    for sampled in sampling_round.sampled_households:
        result.setdefault(sampled.household.division_code, set()).add((sampled.team_id, sampled.inspector_id))
    return result


def test_create_team(ctx, make, admin, yangxin):
    first = make.user("inspector", [make.LAODIAN])
    team = teams.create_team(" 一组 ", yangxin, [first.id], user=admin)
    assert team.name == "一组"
    assert [member.user_id for member in team.members] == [first.id]
    assert teams.teams_for(admin) == [team]
    entry = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "sampling.team_create")).one()
    assert entry.detail["member_ids"] == [first.id]


def test_team_member_in_one_team_only(ctx, make, admin, yangxin):
    inspector = make.user("inspector", [make.LAODIAN])
    teams.create_team("A", yangxin, [inspector.id], user=admin)
    with pytest.raises(FieldError) as raised:
        teams.create_team("B", yangxin, [inspector.id], user=admin)
    assert raised.value.field == "members"
    assert "already in team A" in raised.value.message


def test_team_rejects_inspector_elsewhere(ctx, make, admin, yangxin):
    outsider = make.user("inspector", [make.HUIMIN])
    with pytest.raises(FieldError) as raised:
        teams.create_team("A", yangxin, [outsider.id], user=admin)
    assert raised.value.field == "members"


def test_team_name_unique(ctx, make, admin, yangxin):
    teams.create_team("A", yangxin, [], user=admin)
    with pytest.raises(FieldError):
        teams.create_team("A", yangxin, [], user=admin)


def test_update_team_members(ctx, make, admin, yangxin):
    first = make.user("inspector", [make.LAODIAN])
    second = make.user("inspector", [make.YANGXIN])
    team = teams.create_team("A", yangxin, [first.id], user=admin)
    teams.update_team(team, "A2", [second.id], user=admin)
    assert team.name == "A2"
    assert [member.user_id for member in team.members] == [second.id]


def test_teams_hidden_outside_divisions(ctx, make, admin, yangxin):
    teams.create_team("A", yangxin, [], user=admin)
    assert teams.teams_for(make.user("admin", [make.HUIMIN])) == []


def test_auto_assign_by_team(ctx, make, admin, yangxin, sampling_round):
    first = make.user("inspector", [make.YANGXIN], username="t1-a")
    second = make.user("inspector", [make.YANGXIN], username="t1-b")
    third = make.user("inspector", [make.YANGXIN], username="t2-a")
    team_one = teams.create_team("One", yangxin, [first.id, second.id], user=admin)
    team_two = teams.create_team("Two", yangxin, [third.id], user=admin)

    result = services.auto_assign_teams(sampling_round, [team_one, team_two], user=admin)

    assert result.assigned == 9
    villages = by_village(sampling_round)
    assert all(len(pairs) == 1 for pairs in villages.values())
    # Largest village (4) to team One; then (3) to Two, which has fewer per member; then (2) to One again
    # (4 / 2 members = 2 per member against Two's 3), to its member with fewer households.
    assert villages[make.LAODIAN_VILLAGE] == {(team_one.id, first.id)}
    assert villages[LAODIAN_OTHER_VILLAGE] == {(team_two.id, third.id)}
    assert villages[SHANGDIAN_VILLAGE] == {(team_one.id, second.id)}


def test_assign_records_inspector_team(ctx, make, admin, yangxin, sampling_round):
    inspector = make.user("inspector", [make.YANGXIN])
    team = teams.create_team("One", yangxin, [inspector.id], user=admin)
    sampled = sampling_round.sampled_households[0]
    services.assign(sampled, inspector, user=admin)
    assert sampled.team_id == team.id
    services.assign(sampled, None, user=admin)
    assert sampled.team_id is None


def test_move_households(ctx, make, admin, sampling_round):
    first = make.user("inspector", [make.YANGXIN])
    second = make.user("inspector", [make.LAODIAN])
    services.auto_assign(sampling_round, [first], user=admin)
    visited = next(s for s in sampling_round.sampled_households
                   if s.household.division_code == make.LAODIAN_VILLAGE)
    questionnaire = db.session.scalars(select(Questionnaire)).first()
    db.session.add(Visit(client_uuid="00000000-0000-4000-8000-000000000077", content_sha256="0" * 64,
                         sampled_household_id=visited.id, household_id=visited.household_id,
                         inspector_id=first.id, questionnaire_id=questionnaire.id))
    db.session.flush()

    result = services.move_households(sampling_round, first, second, user=admin)

    assert result.moved == 6
    assert result.skipped_visited == 1
    assert result.skipped_outside == 2
    db.session.refresh(visited)
    assert visited.inspector_id == first.id
    moved = db.session.scalars(
        select(SampledHousehold).where(SampledHousehold.inspector_id == second.id)
    ).all()
    assert {s.household.division_code[:9] for s in moved} == {make.LAODIAN[:9]}


def test_move_one_village(ctx, make, admin, sampling_round):
    first = make.user("inspector", [make.YANGXIN])
    second = make.user("inspector", [make.YANGXIN])
    services.auto_assign(sampling_round, [first], user=admin)
    result = services.move_households(sampling_round, first, second, user=admin, village=SHANGDIAN_VILLAGE)
    assert result.moved == 2
    assert by_village(sampling_round)[SHANGDIAN_VILLAGE] == {(None, second.id)}


def test_move_to_same_inspector_rejected(ctx, make, admin, sampling_round):
    first = make.user("inspector", [make.YANGXIN])
    with pytest.raises(FieldError):
        services.move_households(sampling_round, first, first, user=admin)


# -- pages ---------------------------------------------------------------------------------


def test_team_pages(english, make, admin):
    inspector = make.user("inspector", [make.LAODIAN])
    login(english, admin)
    response = english.get(f"/sampling/teams/new?division={make.YANGXIN}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'value="{inspector.id}"' in page

    response = english.post(f"/sampling/teams/new?division={make.YANGXIN}",
                            data={"name": "North", "division": make.YANGXIN, "members": [str(inspector.id)]})

    assert response.status_code == 302
    assert response.headers["Location"] == "/sampling/teams"
    team = db.session.scalars(select(Team)).one()
    assert team.name == "North"
    page = english.get("/sampling/teams").get_data(as_text=True)
    assert "Team North saved with 1 member." in page
    assert english.get(f"/sampling/teams/{team.id}").status_code == 200


def test_team_page_other_county_not_found(english, make, admin, yangxin):
    team = teams.create_team("North", yangxin, [], user=admin)
    login(english, make.user("admin", [make.HUIMIN]))
    assert english.get(f"/sampling/teams/{team.id}").status_code == 404


def test_move_route_by_supervisor(english, make, admin, sampling_round):
    first = make.user("inspector", [make.YANGXIN])
    second = make.user("inspector", [make.YANGXIN])
    services.auto_assign(sampling_round, [first], user=admin)
    login(english, make.user("supervisor", [make.YANGXIN]))

    response = english.post(f"/sampling/{sampling_round.id}/move", data={
        "from_inspector": str(first.id), "to_inspector": str(second.id), "village": SHANGDIAN_VILLAGE,
    })

    assert response.status_code == 302
    assert response.headers["Location"] == f"/sampling/{sampling_round.id}#move"
    assert by_village(sampling_round)[SHANGDIAN_VILLAGE] == {(None, second.id)}
    assert "2 households moved." in english.get(response.headers["Location"]).get_data(as_text=True)


def test_auto_assign_route_by_team(english, make, admin, yangxin, sampling_round):
    inspector = make.user("inspector", [make.YANGXIN])
    team = teams.create_team("North", yangxin, [inspector.id], user=admin)
    login(english, admin)
    response = english.post(f"/sampling/{sampling_round.id}/auto-assign", data={"teams": [str(team.id)]})
    assert response.status_code == 302
    assert {s.team_id for s in sampling_round.sampled_households} == {team.id}


def test_new_team_asks_division_first(english, make, admin):
    login(english, admin)
    response = english.get("/sampling/teams/new")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="division"' in page
    assert 'name="members"' not in page
    assert "Choose members" in page


def test_team_rejects_division_outside_scope(english, make, admin):
    login(english, admin)
    response = english.post(f"/sampling/teams/new?division={make.HUIMIN}",
                            data={"name": "South", "division": make.HUIMIN})
    assert response.status_code == 200
    assert db.session.scalars(select(Team)).all() == []
