"""Every route, requested by users who must not reach the records in it.

The table below lists every endpoint of ``app.url_map`` with the roles that may use it, so a
new route fails ``test_every_route_is_listed`` until someone decides who may open it. For each
listed route the test sends every method its rule allows (GET, POST, PUT, DELETE) as:

- an anonymous visitor, who is sent to the login page (the JSON API returns 401);
- an inspector of another township, a supervisor of another county, a demo administrator and
  a demo inspector of the same township. They get 404 for any route that names a record of
  劳店镇, by role or by scope. Routes without a record may show them a page, but it must not
  show those records;
- a user with the role and the scope, who must not get 404, so the URL does name real records.

Routes of the sync API that take a bearer token are requested with a token issued to each
inspector. Only inspectors can get a token, so users of other roles send none and get 401.
"""

import io
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from tests.conftest import login

ALL_ROLES = ("admin", "supervisor", "inspector")
ADMIN = ("admin",)
SUPERVISION = ("admin", "supervisor")
INSPECTION = ("inspector",)
METHODS = ("GET", "POST", "PUT", "DELETE")


def visit_upload(world) -> dict:
    """A visit for the world's sampled household, as a phone uploads it."""
    body = {"client_uuid": str(uuid.uuid4()), "sampled_household_id": world.sampled.id, "fields": {}}
    return {"json": body}


def photo_upload(world) -> dict:
    """The bytes of the world's stored photo, sent again as a phone's retry would."""
    sha256 = world.visit.photo_manifest[0]["sha256"]
    return {"data": world.photo_bytes, "content_type": "image/jpeg", "headers": {"X-Content-SHA256": sha256}}


@dataclass(frozen=True)
class Access:
    # Roles that may use the route inside their own scope.
    roles: tuple[str, ...]
    # How the route authenticates the user: "session" (login cookie, anonymous users go to the
    # login page), "api_session" (login cookie, anonymous requests get 401) or "token" (a bearer
    # sync token only, requests without one get 401).
    auth: str = "session"
    # The request body, for routes whose body names the record, built from the world.
    body: Callable | None = None
    # The body names a record of the world, as a URL argument would.
    body_names_record: bool = False
    # The route ends the session, so its redirect to the login page is expected.
    logs_out: bool = False


# Endpoints outside the check, with the reason. ``test_public_routes_show_no_records`` requests
# their GET routes.
UNCHECKED = {
    "static": "public CSS, JavaScript and fonts",
    "auth.login": "the login page itself",
    "main.set_language": "sets only a language cookie, for anyone, before login too",
    "api.openapi_document": "the public description of the sync API",
    "offline.service_worker": "the service worker script, public and without data",
    "offline.manifest": "the web app manifest, public and without data",
    "offline.offline_page": "the page a phone shows offline, public and without data",
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
    "checks.summary": Access(SUPERVISION),
    "checks.run": Access(SUPERVISION),
    "checks.run_status": Access(SUPERVISION),
    "checks.run_status_json": Access(SUPERVISION),
    "checks.problems": Access(SUPERVISION),
    "checks.problems_export": Access(SUPERVISION),
    "checks.problem": Access(SUPERVISION),
    "checks.settings": Access(ADMIN),
    "checks.registry_list": Access(ADMIN),
    "checks.registry_columns": Access(ADMIN),
    "checks.registry_batch": Access(ADMIN),
    "checks.registry_status_json": Access(ADMIN),
    "checks.registry_delete": Access(ADMIN),
    "sampling.rounds": Access(SUPERVISION),
    "sampling.new": Access(ADMIN),
    "sampling.round": Access(SUPERVISION),
    "sampling.verify": Access(ADMIN),
    "sampling.assign": Access(SUPERVISION),
    "sampling.auto_assign": Access(ADMIN),
    "sampling.move": Access(SUPERVISION),
    "sampling.replace": Access(SUPERVISION),
    "sampling.print_list": Access(SUPERVISION),
    "sampling.export_list": Access(SUPERVISION),
    "sampling.team_list": Access(ADMIN),
    "sampling.team_edit": Access(ADMIN),
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
    "review.findings_bulk": Access(SUPERVISION),
    "review.finding": Access(SUPERVISION),
    "review.finding_edit": Access(SUPERVISION),
    "review.finding_comment": Access(SUPERVISION),
    "review.evidence_upload": Access(SUPERVISION),
    "review.evidence_file": Access(SUPERVISION),
    "review.reinspection_request": Access(SUPERVISION),
    "review.reinspections": Access(SUPERVISION),
    "review.reinspection_cancel": Access(SUPERVISION),
    "reports.dashboard_page": Access(SUPERVISION),
    "reports.map_page": Access(SUPERVISION),
    "reports.map_points": Access(SUPERVISION),
    "reports.exports": Access(SUPERVISION),
    "reports.export_job": Access(SUPERVISION),
    "reports.export_job_status": Access(SUPERVISION),
    "reports.export_download": Access(SUPERVISION),
    "api.session": Access(INSPECTION, auth="api_session"),
    "api.issue_token": Access(INSPECTION, auth="api_session"),
    "api.revoke_token": Access(INSPECTION, auth="token"),
    "api.assignments": Access(INSPECTION, auth="token"),
    "api.questionnaire": Access(INSPECTION, auth="token"),
    "api.upload_visit": Access(INSPECTION, auth="token", body=visit_upload, body_names_record=True),
    "api.visit_status": Access(INSPECTION, auth="token"),
    "api.upload_photo": Access(INSPECTION, auth="token", body=photo_upload),
}

# URL arguments that are not records, with the value the test passes.
PLAIN_ARGUMENTS = {"size": "thumb", "code": "household_visit"}


def record_arguments(world) -> dict:
    """Return URL argument names mapped to the id of the matching record in ``world``."""
    return {
        "household_id": world.household.id,
        "member_id": world.member.id,
        "problem_id": world.problem.id,
        "round_id": world.sampling_round.id,
        "sampled_id": world.sampled.id,
        "visit_id": world.visit.id,
        "visit_uuid": world.visit.client_uuid,
        "photo_id": world.photo.id,
        "photo_uuid": world.photo.client_uuid,
        "finding_id": world.finding.id,
        "evidence_id": world.evidence.id,
        "task_id": world.reinspection_task.id,
        "user_id": world.inspector.id,
        "import_id": world.register_import.id,
        "run_id": world.check_run.id,
        "batch_id": world.registry_batch.id,
        "job_id": world.export_job.id,
        "team_id": world.team.id,
    }


def endpoint_rules(app, endpoint):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint]


def checked_methods(rule) -> list[str]:
    return [method for method in METHODS if method in rule.methods]


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


@dataclass
class Requester:
    """A test client with the headers that authenticate one user, or none for an anonymous visitor."""

    client: object
    headers: dict


def requester(app, world, user, access) -> Requester:
    if user is None:
        return Requester(app.test_client(), {})
    if access.auth == "token":
        if user.role != "inspector":
            return Requester(app.test_client(), {})
        return Requester(app.test_client(), {"Authorization": f"Bearer {world.token(user)}"})
    return Requester(logged_in(app, user), {})


def send(who: Requester, method, url, world=None, access=None):
    options = {"data": {}} if method == "POST" else {}
    if access is not None and access.body is not None:
        options = access.body(world)
    headers = {**who.headers, **options.pop("headers", {})}
    return who.client.open(url, method=method, headers=headers, **options)


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


def check_anonymous(app, world, access, method, url):
    where = f"{method} {url}"
    response = send(requester(app, world, None, access), method, url, world, access)
    if access.auth != "session":
        assert response.status_code == 401, f"{where}: anonymous got {response.status_code}, expected 401"
        return
    assert response.status_code == 302, f"{where}: anonymous got {response.status_code}, expected 302"
    location = response.headers["Location"]
    assert urlsplit(location).path == "/login", f"{where}: anonymous redirected to {location}"


def response_text(response) -> str:
    """Return the text a response shows: the XML parts of an xlsx workbook, else the decoded body."""
    data = response.get_data()
    if data.startswith(b"PK"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as workbook:
                parts = [workbook.read(name) for name in workbook.namelist() if name.endswith(".xml")]
            return b"".join(parts).decode("utf-8", "replace")
        except zipfile.BadZipFile:
            pass
    return data.decode("utf-8", "replace")


def check_outsider(world, name, who, access, method, url, names_record):
    where = f"{method} {url}"
    response = send(who, method, url, world, access)
    status = response.status_code
    role = world.outsiders[name].role
    if access.auth == "token" and role != "inspector":
        assert status == 401, f"{where}: {name} without a sync token got {status}, expected 401"
    elif names_record or role not in access.roles:
        assert status == 404, f"{where}: {name} got {status}, expected 404"
    else:
        assert status < 500, f"{where}: {name} got {status}"
    body = response_text(response)
    for secret in world.secrets:
        assert secret not in body, f"{where}: {name} sees {secret!r}"


def check_insider(app, world, access, method, url):
    """A user with the role and the scope reaches the route, so the URL names real records."""
    where = f"{method} {url}"
    response = send(requester(app, world, insider(world, access), access), method, url, world, access)
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
    outsiders = {name: requester(app, world, user, access) for name, user in world.outsiders.items()}

    for rule in rules:
        url, names_record = build_url(app, rule, world)
        for method in checked_methods(rule):
            check_anonymous(app, world, access, method, url)
            for name, who in outsiders.items():
                names_record = names_record or access.body_names_record
                check_outsider(world, name, who, access, method, url, names_record)
            check_insider(app, world, access, method, url)


@pytest.mark.parametrize("endpoint", sorted(set(UNCHECKED) - {"static"}))
def test_public_routes_show_no_records(app, world, endpoint):
    for rule in endpoint_rules(app, endpoint):
        if "GET" not in rule.methods:
            continue
        url, _ = build_url(app, rule, world)
        for client in (app.test_client(), logged_in(app, world.admin)):
            response = client.get(url)
            assert response.status_code < 400, f"GET {url}: {response.status_code}"
            body = response_text(response)
            for secret in world.secrets:
                assert secret not in body, f"GET {url} shows {secret!r}"
