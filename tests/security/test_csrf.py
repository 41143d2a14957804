"""With CSRF protection on, as in production, every route that changes data rejects a forged request.

Routes that use the login session need a valid CSRF token. Routes of the sync API that take a
bearer token are exempt from the CSRF check, so they must ignore the session cookie.
"""

import re
from contextlib import contextmanager

from sqlalchemy import func, select

from fieldapp.audit.models import AuditRecord
from fieldapp.extensions import db
from tests.factories import PASSWORD
from tests.security.test_authorization import ADMIN, ROUTES, Access, build_url, insider, logged_in


@contextmanager
def csrf_protection(app):
    """Turn on CSRF checks for the requests inside the block; the test configuration has them off."""
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        yield
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditRecord))


def changing_requests(app) -> list[tuple[object, str]]:
    """Return (rule, method) for every POST, PUT and DELETE of the URL map."""
    return [
        (rule, method)
        for rule in app.url_map.iter_rules()
        for method in ("POST", "PUT", "DELETE")
        if method in rule.methods
    ]


def access_of(endpoint) -> Access:
    """Return the route's access; routes open to everyone are requested as the administrator."""
    return ROUTES.get(endpoint, Access(ADMIN))


def session_requests(app):
    return [pair for pair in changing_requests(app) if access_of(pair[0].endpoint).auth != "token"]


def token_requests(app):
    return [pair for pair in changing_requests(app) if access_of(pair[0].endpoint).auth == "token"]


def page_token(client, url="/") -> str:
    body = client.get(url, follow_redirects=True).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body)
    assert match, f"no csrf_token field in the page at {url}"
    return match.group(1)


def test_changing_routes_found(app):
    assert len(session_requests(app)) >= 20
    assert len(token_requests(app)) >= 3


def test_request_without_token_rejected(app, world):
    accepted = []
    for rule, method in session_requests(app):
        client = logged_in(app, insider(world, access_of(rule.endpoint)))
        url, _ = build_url(app, rule, world)
        before = audit_count()
        with csrf_protection(app):
            response = client.open(url, method=method, data={})
        if response.status_code != 400:
            accepted.append(f"{method} {url}: {response.status_code}, expected 400")
        if audit_count() != before:
            accepted.append(f"{method} {url}: wrote an audit record without a token")
    assert not accepted, "\n".join(accepted)


def test_request_with_forged_token_rejected(app, world):
    accepted = []
    for rule, method in session_requests(app):
        client = logged_in(app, insider(world, access_of(rule.endpoint)))
        url, _ = build_url(app, rule, world)
        with csrf_protection(app):
            response = client.open(url, method=method, data={"csrf_token": "forged." + "x" * 40})
        if response.status_code != 400:
            accepted.append(f"{method} {url}: {response.status_code}, expected 400")
    assert not accepted, "\n".join(accepted)


def test_token_routes_ignore_session(app, world):
    """API routes exempt from CSRF authenticate by bearer token only, so a cross-site request,
    which carries only the session cookie, gets 401."""
    accepted = []
    for rule, method in token_requests(app):
        client = logged_in(app, world.inspector)
        url, _ = build_url(app, rule, world)
        with csrf_protection(app):
            response = client.open(url, method=method, data={})
        if response.status_code != 401:
            accepted.append(f"{method} {url}: {response.status_code} with a session cookie, expected 401")
    assert not accepted, "\n".join(accepted)


def test_token_from_other_session_rejected(app, make):
    user = make.user("supervisor", [make.YANGXIN])
    other = make.user("supervisor", [make.YANGXIN])
    with csrf_protection(app):
        first = app.test_client()
        second = app.test_client()
        login_with_token(first, user)
        login_with_token(second, other)
        foreign_token = page_token(second)
        response = first.post("/logout", data={"csrf_token": foreign_token})
    assert response.status_code == 400


def test_post_with_page_token_accepted(app, make):
    user = make.user("supervisor", [make.YANGXIN])
    with csrf_protection(app):
        client = app.test_client()
        login_with_token(client, user)
        response = client.post("/logout", data={"csrf_token": page_token(client)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"


def login_with_token(client, user):
    token = page_token(client, "/login")
    response = client.post(
        "/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def test_login_without_token_rejected(app, make):
    user = make.user("supervisor", [make.YANGXIN])
    client = app.test_client()
    with csrf_protection(app):
        response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302
