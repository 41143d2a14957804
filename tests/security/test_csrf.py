"""With CSRF protection on, as in production, every POST route rejects a request without a valid token."""

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


def post_rules(app):
    return [rule for rule in app.url_map.iter_rules() if "POST" in rule.methods]


def user_for(world, endpoint):
    """Return a user who may use the endpoint; routes open to everyone get the administrator."""
    return insider(world, ROUTES.get(endpoint, Access(ADMIN)))


def page_token(client, url="/") -> str:
    body = client.get(url, follow_redirects=True).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body)
    assert match, f"no csrf_token field in the page at {url}"
    return match.group(1)


def test_post_routes_exist(app):
    assert len(post_rules(app)) >= 2


def test_post_without_token_rejected(app, world):
    rejected_wrongly = []
    for rule in post_rules(app):
        client = logged_in(app, user_for(world, rule.endpoint))
        url, _ = build_url(app, rule, world)
        before = audit_count()
        with csrf_protection(app):
            response = client.post(url, data={})
        if response.status_code != 400:
            rejected_wrongly.append(f"POST {url}: {response.status_code}, expected 400")
        if audit_count() != before:
            rejected_wrongly.append(f"POST {url}: wrote an audit record without a token")
    assert not rejected_wrongly, "\n".join(rejected_wrongly)


def test_post_with_forged_token_rejected(app, world):
    rejected_wrongly = []
    for rule in post_rules(app):
        client = logged_in(app, user_for(world, rule.endpoint))
        url, _ = build_url(app, rule, world)
        with csrf_protection(app):
            response = client.post(url, data={"csrf_token": "forged." + "x" * 40})
        if response.status_code != 400:
            rejected_wrongly.append(f"POST {url}: {response.status_code}, expected 400")
    assert not rejected_wrongly, "\n".join(rejected_wrongly)


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
