"""Demo data and real data never show in each other's world."""

from flask import url_for
from sqlalchemy import select

from fieldapp.auth.models import User
from fieldapp.extensions import db
from fieldapp.register.models import Household
from fieldapp.sampling.models import SampledHousehold, SamplingRound
from fieldapp.scope import scoped_select
from fieldapp.training import demo
from tests.conftest import login

SMALL = 30


def seed_both(make):
    """Seed the demo data, and add one real household in a real round in the same village."""
    summary = demo.seed_demo(SMALL, seed=21)
    real_household = make.household(make.LAODIAN_VILLAGE, household_no="REAL-0001")
    real_round = SamplingRound(name="Real round 1", method="stratified_srs", seed=1, is_demo=False)
    real_round.sampled_households = [SampledHousehold(
        household_id=real_household.id, stratum_code=real_household.township_code, draw_order=1
    )]
    db.session.add(real_round)
    db.session.flush()
    return summary, real_household, real_round


def demo_user(username):
    return db.session.scalars(select(User).where(User.username == username)).one()


def visible(model, user):
    return db.session.scalars(scoped_select(model, user)).all()


def test_real_admin_scope_has_no_demo(ctx, make):
    seed_both(make)
    admin = make.user("admin", [make.CITY])

    households = visible(Household, admin)
    rounds = visible(SamplingRound, admin)

    assert [household.household_no for household in households] == ["REAL-0001"]
    assert [sampling_round.name for sampling_round in rounds] == ["Real round 1"]


def test_demo_admin_scope_has_no_real(ctx, make):
    summary, _, _ = seed_both(make)
    admin = demo_user("demo-admin")

    households = visible(Household, admin)
    rounds = visible(SamplingRound, admin)

    assert len(households) == SMALL
    assert all(household.household_no.startswith("DEMO") for household in households)
    assert [sampling_round.id for sampling_round in rounds] == [summary.sampling_round.id]


def test_demo_supervisors_see_own_county(ctx, make):
    seed_both(make)

    yangxin = visible(Household, demo_user("demo-supervisor1"))
    huimin = visible(Household, demo_user("demo-supervisor2"))

    assert yangxin
    assert huimin
    assert all(household.county_code == "371622000000" for household in yangxin)
    assert all(household.county_code == "371621000000" for household in huimin)
    assert len(yangxin) + len(huimin) == SMALL


def pages(client):
    households = client.get(url_for("register.households")).get_data(as_text=True)
    rounds = client.get(url_for("sampling.rounds")).get_data(as_text=True)
    return households, rounds


def test_real_admin_pages_show_no_demo(client, ctx, make):
    summary, _, _ = seed_both(make)
    demo_household = summary.sampling_round.sampled_households[0].household
    login(client, make.user("admin", [make.CITY]))

    households_page, rounds_page = pages(client)

    assert "REAL-0001" in households_page
    assert "DEMO" not in households_page
    assert "Real round 1" in rounds_page
    assert demo.ROUND_NAME not in rounds_page
    assert client.get(url_for("register.household", household_id=demo_household.id)).status_code == 404
    assert client.get(url_for("sampling.round", round_id=summary.sampling_round.id)).status_code == 404


def test_demo_admin_pages_show_no_real(client, ctx, make):
    _, real_household, real_round = seed_both(make)
    login(client, demo_user("demo-admin"), password=demo.DEMO_PASSWORD)

    households_page, rounds_page = pages(client)

    assert "DEMO" in households_page
    assert "REAL-0001" not in households_page
    assert demo.ROUND_NAME in rounds_page
    assert "Real round 1" not in rounds_page
    assert client.get(url_for("register.household", household_id=real_household.id)).status_code == 404
    assert client.get(url_for("sampling.round", round_id=real_round.id)).status_code == 404


def test_users_page_keeps_worlds_apart(client, make):
    seed_both(make)
    login(client, make.user("admin", [make.CITY], username="real-admin"))
    real_page = client.get("/users").get_data(as_text=True)
    client.post("/logout")
    login(client, demo_user("demo-admin"), password=demo.DEMO_PASSWORD)
    demo_page = client.get("/users").get_data(as_text=True)

    assert "real-admin" in real_page
    assert "demo-inspector1" not in real_page
    assert "demo-inspector1" in demo_page
    assert "real-admin" not in demo_page
