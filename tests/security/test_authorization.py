"""Every route, requested by users who must not reach the records in it.

The table below lists every endpoint of ``app.url_map`` with the roles that may use it, so a
new route fails ``test_every_route_is_listed`` until someone decides who may open it. For each
listed route the test requests it (GET and POST, as its rule allows) as:

- an anonymous visitor, who is sent to the login page;
- an inspector of another township, a supervisor of another county and a demo administrator,
  who get 404 for any route that names a record of 劳店镇, by role or by scope. Routes
  without a record in the URL may show them a page, but it must not show those records;
- a user with the role and the scope, who must not get 404, so the URL does name real records.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from tests.conftest import login

ALL_ROLES = ("admin", "supervisor", "inspector")
ADMIN = ("admin",)
SUPERVISION = ("admin", "supervisor")
INSPECTION = ("inspector",)


@dataclass(frozen=True)
class Access:
    # Roles that may use the route inside their own scope.
    roles: tuple[str, ...]
    # The route ends the session, so its redirect to the login page is expected.
    logs_out: bool = False


# Endpoints outside the check, with the reason.
UNCHECKED = {
    "static": "public CSS, JavaScript and fonts",
    "auth.login": "the login page itself",
    "main.set_language": "sets only a language cookie, for anyone, before login too",
}

ROUTES: dict[str, Access] = {
    "main.index": Access(ALL_ROLES),
    "auth.logout": Access(ALL_ROLES, logs_out=True),
    "auth.users": Access(ADMIN),
    "auth.user_new": Access(ADMIN),
    "auth.user_edit": Access(ADMIN),
    "auth.user_password": Access(ADMIN),
    "register.upload": Access(ADMIN),
    "register.import_status": Access(ADMIN),
    "register.import_status_json": Access(ADMIN),
    "register.import_report": Access(ADMIN),
    "register.households": Access(SUPERVISION),
    "register.household": Access(SUPERVISION),
    "sampling.rounds": Access(ADMIN),
    "sampling.new": Access(ADMIN),
    "sampling.round": Access(ADMIN),
    "sampling.assign": Access(ADMIN),
    "sampling.auto_assign": Access(ADMIN),
    "visits.assignments": Access(INSPECTION),
    "visits.household": Access(INSPECTION),
    "visits.new": Access(INSPECTION),
    "visits.visit": Access(ALL_ROLES),
    "visits.photo": Access(ALL_ROLES),
    "review.rounds": Access(SUPERVISION),
    "review.round": Access(SUPERVISION),
    "review.sampled_household": Access(SUPERVISION),
    "review.visit": Access(SUPERVISION),
    "review.findings": Access(SUPERVISION),
    "review.finding": Access(SUPERVISION),
}

# URL arguments that are not records, with the value the test passes.
PLAIN_ARGUMENTS = {"size": "thumb", "code": "en"}


def record_arguments(world) -> dict:
    """Return URL argument names mapped to the id of the matching record in ``world``."""
    return {
        "household_id": world.household.id,
        "member_id": world.member.id,
        "problem_id": world.problem.id,
        "suspected_problem_id": world.problem.id,
        "round_id": world.sampling_round.id,
        "sampling_round_id": world.sampling_round.id,
        "sampled_household_id": world.sampled.id,
        "sample_id": world.sampled.id,
        "sampled_id": world.sampled.id,
        "visit_id": world.visit.id,
        "photo_id": world.photo.id,
        "finding_id": world.finding.id,
        "user_id": world.inspector.id,
        "import_id": world.register_import.id,
    }


def endpoint_rules(app, endpoint):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint]


def checked_methods(rule) -> list[str]:
    return [method for method in ("GET", "POST") if method in rule.methods]


def build_url(app, rule, world) -> tuple[str, bool]:
    """Return the rule's URL filled with the world's records, and whether it names a record."""
    records = record_arguments(world)
    values = {}
    for name in sorted(rule.arguments - set(rule.defaults or {})):
        if name in PLAIN_ARGUMENTS:
            values[name] = PLAIN_ARGUMENTS[name]
        elif name in records:
            values[name] = records[name]
        else:
            pytest.fail(f"{rule.rule}: URL argument {name!r} is unknown; add it to record_arguments().")
    adapter = app.url_map.bind("localhost.localdomain")
    path = adapter.build(rule.endpoint, values, method=checked_methods(rule)[0])
    return path, bool(set(values) - set(PLAIN_ARGUMENTS))


def send(client, method, url):
    if method == "GET":
        return client.get(url)
    return client.post(url, data={})


def logged_in(app, user):
    client = app.test_client()
    login(client, user)
    return client


def insider(world, access):
    if "admin" in access.roles:
        return world.admin
    if "supervisor" in access.roles:
        return world.supervisor
    return world.inspector


def test_every_route_is_listed(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = sorted(endpoints - set(ROUTES) - set(UNCHECKED))
    stale = sorted(set(ROUTES) - endpoints)
    assert not missing, f"routes missing from ROUTES in {__name__}: {missing}"
    assert not stale, f"ROUTES lists endpoints that no longer exist: {stale}"


def check_anonymous(app, method, url):
    where = f"{method} {url}"
    response = send(app.test_client(), method, url)
    assert response.status_code == 302, f"{where}: anonymous got {response.status_code}, expected 302"
    location = response.headers["Location"]
    assert urlsplit(location).path == "/login", f"{where}: anonymous redirected to {location}"


def check_outsider(world, name, client, access, method, url, names_record):
    where = f"{method} {url}"
    response = send(client, method, url)
    status = response.status_code
    if names_record or world.outsiders[name].role not in access.roles:
        assert status == 404, f"{where}: {name} got {status}, expected 404"
    else:
        assert status < 500, f"{where}: {name} got {status}"
    body = response.get_data(as_text=True)
    for secret in world.secrets:
        assert secret not in body, f"{where}: {name} sees {secret!r}"


def check_insider(app, world, access, method, url):
    """A user with the role and the scope reaches the route, so the URL names real records."""
    where = f"{method} {url}"
    response = send(logged_in(app, insider(world, access)), method, url)
    status = response.status_code
    assert status != 404, f"{where}: a user with the role and the scope got 404"
    assert status < 500, f"{where}: a user with the role and the scope got {status}"
    if status == 302 and not access.logs_out:
        location = response.headers["Location"]
        assert urlsplit(location).path != "/login", f"{where}: a user with access was sent to {location}"


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_route_access(app, world, endpoint):
    access = ROUTES[endpoint]
    rules = endpoint_rules(app, endpoint)
    assert rules, f"{endpoint} is not in the URL map"
    outsiders = {name: logged_in(app, user) for name, user in world.outsiders.items()}

    for rule in rules:
        url, names_record = build_url(app, rule, world)
        for method in checked_methods(rule):
            check_anonymous(app, method, url)
            for name, client in outsiders.items():
                check_outsider(world, name, client, access, method, url, names_record)
            check_insider(app, world, access, method, url)
