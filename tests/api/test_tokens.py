import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from fieldapp.api import tokens
from fieldapp.api.models import ApiToken
from fieldapp.audit.models import AuditRecord
from fieldapp.db_types import utcnow
from fieldapp.extensions import db
from fieldapp.visits.models import Visit
from tests.api.conftest import ApiClient, visit_body
from tests.conftest import login
from tests.factories import PASSWORD


@contextmanager
def csrf_protection(app):
    """Turn on CSRF checks for the requests inside the block; the test configuration has them off."""
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        yield
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def login_with_csrf(client, user):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    form = {"username": user.username, "password": PASSWORD, "csrf_token": token}
    response = client.post("/login", data=form)
    assert response.status_code == 302


def visit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Visit))


@pytest.fixture(autouse=True)
def committed(sampled):
    db.session.commit()


def test_session_gives_csrf_token(client, inspector):
    login(client, inspector)
    response = client.get("/api/v1/session")
    assert response.status_code == 200
    assert response.get_json()["user"]["id"] == inspector.id
    assert response.get_json()["csrf_token"]
    assert response.headers["Cache-Control"] == "no-store"


def test_session_needs_login(client):
    response = client.get("/api/v1/session")
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"


def test_session_of_supervisor_is_404(client, make):
    login(client, make.user("supervisor", [make.LAODIAN]))
    assert client.get("/api/v1/session").status_code == 404
    assert client.post("/api/v1/tokens").status_code == 404


def test_token_needs_session_and_csrf(app, client, inspector):
    with csrf_protection(app):
        login_with_csrf(client, inspector)
        without = client.post("/api/v1/tokens")
        csrf_token = client.get("/api/v1/session").get_json()["csrf_token"]
        issued = client.post("/api/v1/tokens", headers={"X-CSRFToken": csrf_token})
    assert without.status_code == 400
    assert without.is_json
    assert issued.status_code == 201
    data = issued.get_json()
    assert data["user"]["id"] == inspector.id
    assert data["expires_at"] > data["renew_after"]
    rows = db.session.scalars(select(ApiToken).where(ApiToken.user_id == inspector.id)).all()
    assert len(rows) == 1
    assert data["token"] not in str(rows[0].__dict__)
    assert db.session.scalar(select(func.count()).select_from(AuditRecord)
                             .where(AuditRecord.action == "api_token.issue")) == 1


def test_token_works_without_session(app, client, inspector, sampled):
    login(client, inspector)
    token = client.post("/api/v1/tokens").get_json()["token"]
    client.post("/logout")
    phone = ApiClient(app.test_client(), token)
    response = phone.post_visit(visit_body(sampled))
    assert response.status_code == 201
    assert response.headers.get("Set-Cookie") is None


def test_session_cookie_does_not_authenticate_api(client, inspector, sampled):
    login(client, inspector)
    response = client.post("/api/v1/visits", json=visit_body(sampled))
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers
    assert visit_count() == 0


def test_token_request_needs_no_csrf_token(app, ctx, inspector, sampled):
    token, _row = tokens.issue(inspector)
    db.session.commit()
    with csrf_protection(app):
        response = ApiClient(app.test_client(), token).post_visit(visit_body(sampled))
    assert response.status_code == 201


@pytest.mark.parametrize("header", [
    "",
    "Bearer",
    "Bearer forged.token.value",
    "Basic aW5zcGVjdG9yOnB3",
])
def test_bad_authorization_is_401(client, sampled, header):
    response = client.post("/api/v1/visits", json=visit_body(sampled), headers={"Authorization": header})
    assert response.status_code == 401
    assert visit_count() == 0


def test_expired_token_is_401(ctx, client, inspector, sampled):
    token, row = tokens.issue(inspector)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert ApiClient(client, token).post_visit(visit_body(sampled)).status_code == 401


def test_token_older_than_lifetime_is_401(app, ctx, client, inspector, sampled, monkeypatch):
    token, _row = tokens.issue(inspector)
    db.session.commit()
    monkeypatch.setitem(app.config, "API_TOKEN_LIFETIME", timedelta(seconds=-1))
    assert ApiClient(client, token).post_visit(visit_body(sampled)).status_code == 401


def test_token_of_other_secret_key_is_401(app, ctx, client, inspector, sampled, monkeypatch):
    token, _row = tokens.issue(inspector)
    db.session.commit()
    monkeypatch.setattr(app, "secret_key", "another-secret")
    assert ApiClient(client, token).post_visit(visit_body(sampled)).status_code == 401


def test_revoked_token_is_401(ctx, client, inspector, sampled):
    token, _row = tokens.issue(inspector)
    db.session.commit()
    phone = ApiClient(client, token)
    assert client.delete("/api/v1/tokens/current", headers=phone.headers()).status_code == 204
    assert phone.post_visit(visit_body(sampled)).status_code == 401
    assert visit_count() == 0


def test_deactivated_user_token_is_401(ctx, client, inspector, sampled):
    token, _row = tokens.issue(inspector)
    inspector.is_active_account = False
    db.session.commit()
    assert ApiClient(client, token).post_visit(visit_body(sampled)).status_code == 401


def test_token_use_is_recorded(ctx, client, inspector):
    token, row = tokens.issue(inspector)
    db.session.commit()
    assert row.last_used_at is None
    assert ApiClient(client, token).get("/api/v1/assignments").status_code == 200
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).last_used_at is not None


def test_issue_deletes_expired_tokens(ctx, inspector):
    _token, old = tokens.issue(inspector)
    old.expires_at = utcnow() - timedelta(days=1)
    db.session.flush()
    _token, new = tokens.issue(inspector)
    ids = db.session.scalars(select(ApiToken.id).where(ApiToken.user_id == inspector.id)).all()
    assert ids == [new.id]
