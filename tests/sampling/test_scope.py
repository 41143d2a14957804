"""Sampling pages of a round drawn over two counties, seen from inside one county or one township.

The city administrator sees the whole round. A county administrator of 阳信县 and a supervisor of
劳店镇 see only the figures, names and choices of their own divisions.
"""

import io
import re

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.sampling import services
from fieldapp.sampling.models import ReserveHousehold
from fieldapp.sampling.population import Exclusions
from fieldapp.sampling.services import RoundOptions
from tests.conftest import login

SHANGDIAN = "371622101000"  # 商店镇, 阳信县
SHANGDIAN_VILLAGE = "371622101210"


@pytest.fixture
def city_admin(make):
    return make.user("admin", [make.CITY])


@pytest.fixture
def register(make, problem):
    """劳店镇 5 households (2 problems), 商店镇 3 (1 problem), 胡集镇 of 惠民县 12 (7 problems)."""
    laodian = [make.household(make.LAODIAN_VILLAGE, members=1) for _ in range(5)]
    shangdian = [make.household(SHANGDIAN_VILLAGE, members=1) for _ in range(3)]
    huimin = [make.household(make.HUIMIN_VILLAGE, members=1) for _ in range(12)]
    for household in laodian[:2] + shangdian[:1] + huimin[:7]:
        problem(household)
    return {"laodian": laodian, "shangdian": shangdian, "huimin": huimin}


@pytest.fixture
def earlier_round(make, register, city_admin):
    """A round of 惠民县 only, which the city round excludes."""
    return services.create_round("Huimin spring", [make.HUIMIN], 2, 1, user=city_admin,
                                 options=RoundOptions(reserves=0))


@pytest.fixture
def city_round(make, register, city_admin, earlier_round):
    return services.create_round(
        "City round", [make.YANGXIN, make.HUIMIN], 10, 3, user=city_admin,
        options=RoundOptions(reserves=2, exclusions=Exclusions(round_ids=(earlier_round.id,))),
    )


@pytest.fixture
def inspectors(make, city_round):
    """One inspector per township, each given the round's households of their township."""
    named = {}
    for key, division in (("laodian", make.LAODIAN), ("shangdian", SHANGDIAN), ("huimin", make.HUIMIN)):
        inspector = make.user("inspector", [division])
        inspector.display_name = f"{key}-inspector"
        named[key] = inspector
    db.session.flush()
    services.auto_assign(city_round, list(named.values()), user=None)
    return named


def page_of(client, user, path: str) -> str:
    login(client, user)
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def strata_in(sampling_round, prefix: str) -> list[dict]:
    return [s for s in sampling_round.parameters["allocation"] if s["code"].startswith(prefix)]


def select_options(page: str, name: str) -> list[str]:
    match = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert match is not None, name
    return re.findall(r">([^<]*)</option>", match.group(1))


def unused_reserves_line(sampling_round, prefix: str) -> str:
    reserves = [r for r in db.session.scalars(
        select(ReserveHousehold).where(ReserveHousehold.sampling_round_id == sampling_round.id)
    ) if r.stratum_code.startswith(prefix)]
    strata = {r.stratum_code for r in reserves}
    return f"Unused reserves: {len(reserves)} in {len(strata)} strata."


def strata_sheet(content: bytes) -> list[list]:
    return CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(1).to_python()


# -- the city administrator: the whole round ---------------------------------------------


def test_city_admin_sees_whole_round(english, make, city_admin, city_round, earlier_round, inspectors):
    page = page_of(english, city_admin, f"/sampling/{city_round.id}")
    eligible = city_round.parameters["eligible"]
    assert f"20 households, {eligible} eligible" in page
    assert re.search(r"\d+ of 10 suspected problems", page)
    for name in ("劳店镇", "商店镇", "胡集镇"):
        assert name in page
    assert f"households sampled in rounds {earlier_round.id}" in page
    assert unused_reserves_line(city_round, "3716") in page
    assert f"/sampling/{city_round.id}/verify" in page
    assert set(select_options(page, "to_inspector")) == {"laodian-inspector", "shangdian-inspector",
                                                         "huimin-inspector"}
    assert "This round was drawn over more divisions than yours" not in page


def test_city_admin_export_lists_every_stratum(english, make, city_admin, city_round):
    login(english, city_admin)
    rows = strata_sheet(english.get(f"/sampling/{city_round.id}/sample-list.xlsx").get_data())
    assert [row[1] for row in rows[1:]] == ["胡集镇", "商店镇", "劳店镇"]


# -- a county administrator of 阳信县 ----------------------------------------------------


def test_county_admin_sees_county_figures(english, make, city_round, inspectors):
    page = page_of(english, make.user("admin", [make.YANGXIN]), f"/sampling/{city_round.id}")
    size = sum(stratum["allocated"] for stratum in strata_in(city_round, "371622"))
    drawn = sum(stratum["drawn_problems"] for stratum in strata_in(city_round, "371622"))
    assert "This round was drawn over more divisions than yours" in page
    assert "8 households, 8 eligible" in page
    assert "20 households" not in page
    assert f"<dt>Sample size</dt><dd>{size}</dd>" in page
    assert f"{drawn} of 3 suspected problems" in page
    assert "of 10 suspected problems" not in page
    assert f"{size} of {size} households" in page
    assert unused_reserves_line(city_round, "371622") in page


def test_county_admin_sees_no_other_county(english, make, city_round, earlier_round, inspectors):
    page = page_of(english, make.user("admin", [make.YANGXIN]), f"/sampling/{city_round.id}")
    assert "劳店镇" in page
    assert "商店镇" in page
    assert "胡集镇" not in page
    assert make.HUIMIN[:6] not in page
    assert "huimin-inspector" not in page
    assert f"households sampled in rounds {earlier_round.id}" not in page
    assert "households sampled in rounds outside your divisions" in page


def test_county_admin_move_choices(english, make, city_round, inspectors):
    page = page_of(english, make.user("admin", [make.YANGXIN]), f"/sampling/{city_round.id}")
    assert set(select_options(page, "from_inspector")) == {"laodian-inspector", "shangdian-inspector"}
    assert set(select_options(page, "to_inspector")) == {"laodian-inspector", "shangdian-inspector"}


def test_move_to_other_county_rejected(english, make, city_round, inspectors):
    login(english, make.user("admin", [make.YANGXIN]))
    response = english.post(f"/sampling/{city_round.id}/move", data={
        "from_inspector": str(inspectors["laodian"].id), "to_inspector": str(inspectors["huimin"].id),
    })
    assert response.status_code == 302
    page = english.get(response.headers["Location"]).get_data(as_text=True)
    assert "Nothing was moved because the form was invalid" in page
    assert {s.inspector_id for s in city_round.sampled_households
            if s.household.division_code == make.LAODIAN_VILLAGE} == {inspectors["laodian"].id}


def test_assign_hides_other_county_inspector(english, make, city_round, inspectors):
    sampled = next(s for s in city_round.sampled_households if s.household.division_code.startswith("371622"))
    login(english, make.user("admin", [make.YANGXIN]))
    response = english.post(f"/sampling/{city_round.id}/households/{sampled.id}/inspector",
                            data={"inspector_id": str(inspectors["huimin"].id)})
    assert response.status_code == 302
    page = english.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Inspector {inspectors['huimin'].id} was not found" in page
    assert inspectors["huimin"].username not in page


def test_county_admin_cannot_verify_city_round(english, make, city_round):
    page = page_of(english, make.user("admin", [make.YANGXIN]), f"/sampling/{city_round.id}")
    assert f"/sampling/{city_round.id}/verify" not in page

    response = english.get(f"/sampling/{city_round.id}/verify")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/sampling/{city_round.id}"
    page = english.get(response.headers["Location"]).get_data(as_text=True)
    assert "The round was drawn over divisions outside yours" in page
    assert make.HUIMIN not in page
    assert make.HUIMIN[:6] not in page


def test_county_admin_export_lists_county_strata(english, make, city_round):
    login(english, make.user("admin", [make.YANGXIN]))
    rows = strata_sheet(english.get(f"/sampling/{city_round.id}/sample-list.xlsx").get_data())
    assert [row[1] for row in rows[1:]] == ["商店镇", "劳店镇"]
    assert all(row[0].startswith("371622") for row in rows[1:])


# -- a supervisor of 劳店镇 ---------------------------------------------------------------


def test_township_supervisor_sees_township_figures(english, make, city_round, inspectors):
    supervisor = make.user("supervisor", [make.LAODIAN])
    page = page_of(english, supervisor, f"/sampling/{city_round.id}")
    [stratum] = strata_in(city_round, make.LAODIAN[:9])
    assert "5 households, 5 eligible" in page
    assert f"<dt>Sample size</dt><dd>{stratum['allocated']}</dd>" in page
    assert f"{stratum['drawn_problems']} of 2 suspected problems" in page
    assert unused_reserves_line(city_round, make.LAODIAN[:9]) in page
    for hidden in ("商店镇", "胡集镇", SHANGDIAN[:9], make.HUIMIN[:6], "shangdian-inspector",
                   "huimin-inspector"):
        assert hidden not in page
    assert select_options(page, "to_inspector") == ["laodian-inspector"]


def test_replace_page_counts_own_reserves(english, make, register, city_admin):
    county_round = services.create_round("By county", [make.YANGXIN, make.HUIMIN], 6, 4, user=city_admin,
                                         options=RoundOptions(stratum_level="county"))
    sampled = next(s for s in county_round.sampled_households
                   if s.household.division_code == make.LAODIAN_VILLAGE)
    reserves = db.session.scalars(select(ReserveHousehold).where(
        ReserveHousehold.sampling_round_id == county_round.id, ReserveHousehold.stratum_code == make.YANGXIN
    )).all()
    in_laodian = [r for r in reserves if r.household.division_code == make.LAODIAN_VILLAGE]
    assert len(in_laodian) < len(reserves)  # the 阳信县 stratum has reserves in 商店镇 as well

    page = page_of(english, make.user("supervisor", [make.LAODIAN]),
                   f"/sampling/{county_round.id}/households/{sampled.id}/replace")

    assert f"<dt>Unused reserves of its stratum in your divisions</dt><dd>{len(in_laodian)}</dd>" in page


def test_supervisor_under_county_strata(english, make, register, city_admin):
    county_round = services.create_round("By county", [make.YANGXIN, make.HUIMIN], 6, 4, user=city_admin,
                                         options=RoundOptions(stratum_level="county"))
    page = page_of(english, make.user("supervisor", [make.LAODIAN]), f"/sampling/{county_round.id}")
    assert "each of its strata is larger than your divisions" in page
    assert "<dt>Population</dt>" not in page
    assert "<dt>Sample size</dt>" not in page
    assert "Suspected problems covered" not in page
    assert "阳信县" not in page
    assert "惠民县" not in page


def test_export_without_wider_strata(english, make, register, city_admin):
    county_round = services.create_round("By county", [make.YANGXIN, make.HUIMIN], 6, 4, user=city_admin,
                                         options=RoundOptions(stratum_level="county"))
    login(english, make.user("supervisor", [make.LAODIAN]))
    rows = strata_sheet(english.get(f"/sampling/{county_round.id}/sample-list.xlsx").get_data())
    assert rows[1:] == []
