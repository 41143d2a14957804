"""Sampling pages: status, redirect, message shown and rows written."""

import re

import pytest
from sqlalchemy import select

from fieldapp.audit.models import AuditRecord
from fieldapp.extensions import db
from fieldapp.sampling import services
from fieldapp.sampling.models import SampledHousehold, SamplingRound
from tests.conftest import login

SHANGDIAN = "371622101000"
SHANGDIAN_VILLAGE = "371622101210"


@pytest.fixture
def admin(make):
    return make.user("admin", [make.YANGXIN])


@pytest.fixture
def register(make):
    laodian = [make.household(make.LAODIAN_VILLAGE, members=2) for _ in range(6)]
    shangdian = [make.household(SHANGDIAN_VILLAGE, members=1) for _ in range(3)]
    huimin = [make.household(make.HUIMIN_VILLAGE, members=1) for _ in range(2)]
    return {"laodian": laodian, "shangdian": shangdian, "huimin": huimin}


@pytest.fixture
def sampling_round(make, register, admin):
    return services.create_round("June round", [make.YANGXIN], 9, 11, user=admin)


def follow(client, response) -> str:
    return client.get(response.headers["Location"]).get_data(as_text=True)


def rounds_count():
    return len(db.session.scalars(select(SamplingRound)).all())


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/sampling/"), ("GET", "/sampling/new"), ("POST", "/sampling/new"), ("GET", "/sampling/1"),
     ("POST", "/sampling/1/households/1/inspector"), ("POST", "/sampling/1/auto-assign")],
)
def test_pages_need_login(client, method, path):
    response = client.open(path, method=method)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize(("role", "path"), [
    ("inspector", "/sampling/"), ("inspector", "/sampling/new"), ("supervisor", "/sampling/new"),
    ("inspector", "/sampling/teams"), ("supervisor", "/sampling/teams"),
    ("supervisor", "/sampling/teams/new"),
])
def test_pages_only_for_allowed_roles(client, make, role, path):
    login(client, make.user(role, [make.YANGXIN]))
    assert client.get(path).status_code == 404


def test_supervisor_sees_rounds_without_new_button(english, make, sampling_round):
    login(english, make.user("supervisor", [make.YANGXIN]))
    response = english.get("/sampling/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "June round" in page
    assert "/sampling/new" not in page


def test_rounds_list(english, make, sampling_round, admin):
    login(english, admin)
    response = english.get("/sampling/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "June round" in page
    assert "9 households, 0 assigned" in page
    assert f'href="/sampling/{sampling_round.id}"' in page


def test_rounds_list_hides_other_county(english, make, sampling_round):
    login(english, make.user("admin", [make.HUIMIN]))
    response = english.get("/sampling/")
    assert response.status_code == 200
    assert "June round" not in response.get_data(as_text=True)


def test_new_form(english, make, admin):
    login(english, admin)
    response = english.get("/sampling/new")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'value="{make.LAODIAN}"' in page
    assert f'value="{make.YANGXIN}"' in page
    assert make.HUIMIN not in page
    seed_input = re.search(r'<input[^>]*name="seed"[^>]*>', page)
    assert seed_input is not None
    seed = re.search(r'value="(\d+)"', seed_input.group(0))
    assert 1 <= int(seed.group(1)) <= 999_999


def test_preview_shows_allocation(english, make, register, admin):
    login(english, admin)
    response = english.post("/sampling/new", data={
        "name": "", "divisions": [make.YANGXIN], "size": "4", "seed": "7", "preview": "Preview",
    })
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Preview: allocation per stratum" in page
    # Households, eligible, problems, then drawn.
    assert re.search(r"劳店镇.*?<td class=\"num\">6</td>\s*<td class=\"num\">6</td>\s*"
                     r"<td class=\"num\">0</td>\s*<td class=\"num\">3</td>", page, re.S)
    assert re.search(r"商店镇.*?<td class=\"num\">3</td>\s*<td class=\"num\">3</td>\s*"
                     r"<td class=\"num\">0</td>\s*<td class=\"num\">1</td>", page, re.S)
    assert "have no open suspected problems" in page
    assert rounds_count() == 0


def test_create_round(english, make, register, admin):
    login(english, admin)
    response = english.post("/sampling/new", data={
        "name": "July", "divisions": [make.LAODIAN], "size": "2", "seed": "7", "create": "Create",
    })
    sampling_round = db.session.scalars(select(SamplingRound)).one()
    assert response.status_code == 302
    assert response.headers["Location"] == f"/sampling/{sampling_round.id}"
    assert sampling_round.name == "July"
    assert sampling_round.seed == 7
    assert sampling_round.created_by_id == admin.id
    assert len(sampling_round.sampled_households) == 2

    page = follow(english, response)
    assert "Round &#34;July&#34; drawn: 2 of 6 households." in page


def test_create_round_too_large(english, make, register, admin):
    login(english, admin)
    response = english.post("/sampling/new", data={
        "name": "July", "divisions": [make.LAODIAN], "size": "7", "seed": "7", "create": "Create",
    })
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "hold 6 households, fewer than the 7 requested" in page
    assert rounds_count() == 0


def test_create_round_without_name(english, make, register, admin):
    login(english, admin)
    response = english.post("/sampling/new", data={
        "divisions": [make.LAODIAN], "size": "2", "seed": "7", "create": "Create",
    })
    assert response.status_code == 200
    assert "Give the round a name." in response.get_data(as_text=True)
    assert rounds_count() == 0


def test_create_round_other_county_rejected(english, make, register, admin):
    login(english, admin)
    response = english.post("/sampling/new", data={
        "name": "X", "divisions": [make.HUIMIN], "size": "1", "seed": "7", "create": "Create",
    })
    assert response.status_code == 200
    assert 'class="error"' in response.get_data(as_text=True)
    assert rounds_count() == 0


def test_round_detail(english, make, sampling_round, admin, register):
    inspector = make.user("inspector", [make.LAODIAN])
    login(english, admin)
    response = english.get(f"/sampling/{sampling_round.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    head = register["laodian"][0].members[0]
    assert head.name in page
    assert head.id_number not in page
    assert head.id_number[:6] + "********" + head.id_number[-4:] in page
    assert "崔寨村村民委员会" in page
    assert "0 of 9 households" in page
    # The 劳店镇 inspector is offered only for 劳店镇 households: six selects of nine.
    assert page.count(f'<option value="{inspector.id}"') == 6


def test_round_detail_other_county_not_found(english, make, sampling_round):
    login(english, make.user("admin", [make.HUIMIN]))
    assert english.get(f"/sampling/{sampling_round.id}").status_code == 404


def test_assign_route(english, make, sampling_round, admin):
    inspector = make.user("inspector", [make.YANGXIN])
    sampled = sampling_round.sampled_households[0]
    login(english, admin)

    response = english.post(f"/sampling/{sampling_round.id}/households/{sampled.id}/inspector",
                            data={"inspector_id": str(inspector.id), "page": "1"})

    assert response.status_code == 302
    assert response.headers["Location"] == f"/sampling/{sampling_round.id}?page=1#household-{sampled.id}"
    db.session.refresh(sampled)
    assert sampled.inspector_id == inspector.id
    assert db.session.scalars(select(AuditRecord).where(AuditRecord.action == "sampling.assign")).one()
    page = follow(english, response)
    assert f"Household 1 assigned to {inspector.display_name}." in page


def test_assign_route_unassign(english, make, sampling_round, admin):
    inspector = make.user("inspector", [make.YANGXIN])
    sampled = sampling_round.sampled_households[0]
    services.assign(sampled, inspector, user=admin)
    login(english, admin)

    response = english.post(f"/sampling/{sampling_round.id}/households/{sampled.id}/inspector",
                            data={"inspector_id": ""})

    assert response.status_code == 302
    db.session.refresh(sampled)
    assert sampled.inspector_id is None


def test_assign_route_rejects_out_of_scope_inspector(english, make, sampling_round, admin):
    inspector = make.user("inspector", [make.LAODIAN])
    sampled = next(s for s in sampling_round.sampled_households if s.stratum_code == SHANGDIAN)
    login(english, admin)

    response = english.post(f"/sampling/{sampling_round.id}/households/{sampled.id}/inspector",
                            data={"inspector_id": str(inspector.id)})

    assert response.status_code == 302
    db.session.refresh(sampled)
    assert sampled.inspector_id is None
    page = follow(english, response)
    assert f"may not visit households in village {SHANGDIAN_VILLAGE}" in page


def test_assign_route_rejects_wrong_role(english, make, sampling_round, admin):
    sampled = sampling_round.sampled_households[0]
    login(english, admin)
    response = english.post(f"/sampling/{sampling_round.id}/households/{sampled.id}/inspector",
                            data={"inspector_id": str(admin.id)})
    assert response.status_code == 302
    db.session.refresh(sampled)
    assert sampled.inspector_id is None
    assert "is not an inspector" in follow(english, response)


def test_assign_route_unknown_inspector(english, make, sampling_round, admin):
    sampled = sampling_round.sampled_households[0]
    login(english, admin)
    response = english.post(f"/sampling/{sampling_round.id}/households/{sampled.id}/inspector",
                            data={"inspector_id": "999999"})
    assert response.status_code == 302
    assert "Inspector 999999 was not found" in follow(english, response)


def test_assign_route_household_of_other_round(english, make, sampling_round, admin):
    other = services.create_round("Other", [make.LAODIAN], 1, 1, user=admin)
    login(english, admin)
    sampled = sampling_round.sampled_households[0]
    response = english.post(f"/sampling/{other.id}/households/{sampled.id}/inspector",
                            data={"inspector_id": ""})
    assert response.status_code == 404


def test_assign_route_out_of_scope_household(english, make, register):
    city_round = services.create_round("City", [make.YANGXIN, make.HUIMIN], 11, 1, user=None)
    huimin = next(s for s in city_round.sampled_households if s.stratum_code.startswith("371621"))
    login(english, make.user("admin", [make.YANGXIN]))
    response = english.post(f"/sampling/{city_round.id}/households/{huimin.id}/inspector",
                            data={"inspector_id": ""})
    assert response.status_code == 404


def test_auto_assign_route(english, make, sampling_round, admin):
    inspector = make.user("inspector", [make.YANGXIN])
    make.user("inspector", [make.YANGXIN], is_demo=True)
    login(english, admin)

    response = english.post(f"/sampling/{sampling_round.id}/auto-assign")

    assert response.status_code == 302
    assert response.headers["Location"] == f"/sampling/{sampling_round.id}"
    inspector_ids = db.session.scalars(
        select(SampledHousehold.inspector_id).where(SampledHousehold.sampling_round_id == sampling_round.id)
    ).all()
    assert inspector_ids == [inspector.id] * 9
    assert "9 households assigned automatically." in follow(english, response)


def test_auto_assign_route_without_inspectors(english, make, sampling_round, admin):
    login(english, admin)
    response = english.post(f"/sampling/{sampling_round.id}/auto-assign")
    assert response.status_code == 302
    assert "There are no active inspectors" in follow(english, response)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("size", "0", "Enter a whole number of at least 1."),
    ("minimum", "-1", "Enter a whole number of at least 0."),
    ("seed", "-1", f"Enter a whole number from 0 to {services.SEED_MAX}."),
    ("control_percent", "101", "Enter a whole number from 0 to 100."),
    ("reserves", str(services.RESERVES_MAX + 1), f"Enter a whole number from 0 to {services.RESERVES_MAX}."),
    ("exclude_visited_days", "0", f"Enter a whole number from 1 to {services.VISITED_DAYS_MAX}."),
])
def test_new_round_number_out_of_range(english, make, register, admin, field, value, message):
    login(english, admin)
    response = english.post("/sampling/new", data={
        "name": "X", "divisions": [make.YANGXIN], "size": "2", "seed": "5", "create": "Create", field: value,
    })
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'<p class="error" role="alert">{message}</p>' in page
    assert "Number must be" not in page
    assert rounds_count() == 0


def test_new_round_lowest_numbers_accepted(english, make, register, admin):
    login(english, admin)
    response = english.post("/sampling/new", data={
        "name": "Smallest", "divisions": [make.LAODIAN], "size": "1", "seed": "0", "minimum": "0",
        "control_percent": "0", "reserves": "0", "exclude_visited_days": "1", "create": "Create",
    })
    assert response.status_code == 302, response.get_data(as_text=True)
    assert rounds_count() == 1


def test_range_messages_not_wtforms_chinese(client, app, make, register, admin):
    # WTForms' Chinese catalogue words an inclusive minimum as "必须大于" (greater than).
    client.set_cookie("lang", "zh_CN", domain=app.config["SERVER_NAME"])
    login(client, admin)
    response = client.post("/sampling/new", data={
        "name": "X", "divisions": [make.YANGXIN], "size": "0", "seed": "5", "minimum": "-1",
        "create": "Create",
    })
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "必须大于" not in page
    assert page.count('<p class="error" role="alert">') == 2
