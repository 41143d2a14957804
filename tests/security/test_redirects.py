"""Pages that return the user to a ``next`` address never send them to another site.

Browsers read a Location header by the WHATWG URL rules: they drop tabs and newlines and
treat a backslash as a slash, so ``/\\evil.example`` and ``/\\t/evil.example`` both lead to
``//evil.example``, another host.
"""

from urllib.parse import urlsplit

import pytest

from tests.factories import PASSWORD

FOREIGN_TARGETS = [
    "https://evil.example/",
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/\t/evil.example/",
    "javascript:alert(1)",
]


def browser_view(location: str) -> str:
    """Return the Location as a browser reads it: tabs and newlines removed, backslashes as slashes."""
    for character in "\t\n\r":
        location = location.replace(character, "")
    return location.replace("\\", "/")


def assert_stays_on_site(response, target):
    assert response.status_code == 302, f"next={target!r}: status {response.status_code}"
    location = browser_view(response.headers["Location"])
    parts = urlsplit(location)
    assert not parts.scheme, f"next={target!r} redirected to {location!r}"
    assert not parts.netloc, f"next={target!r} redirected to {location!r}"
    assert location.startswith("/"), f"next={target!r} redirected to {location!r}"


@pytest.mark.parametrize("target", FOREIGN_TARGETS)
def test_login_next_stays_on_site(client, make, target):
    user = make.user("supervisor", [make.YANGXIN])
    response = client.post(
        "/login", query_string={"next": target}, data={"username": user.username, "password": PASSWORD}
    )
    assert_stays_on_site(response, target)


@pytest.mark.parametrize("target", FOREIGN_TARGETS)
def test_language_next_stays_on_site(client, target):
    response = client.post("/language/en", data={"next": target})
    assert_stays_on_site(response, target)


@pytest.mark.parametrize("target", FOREIGN_TARGETS)
def test_finding_next_stays_on_site(app, world, target):
    from tests.security.test_authorization import logged_in

    client = logged_in(app, world.supervisor)
    finding = world.finding
    response = client.post(
        f"/review/findings/{finding.id}",
        data={"status": "in_progress", "comment": "", "version": finding.version, "next": target},
    )
    assert_stays_on_site(response, target)


def test_local_next_followed(client, make):
    user = make.user("supervisor", [make.YANGXIN])
    credentials = {"username": user.username, "password": PASSWORD}
    response = client.post("/login", query_string={"next": "/review/findings"}, data=credentials)
    assert response.headers["Location"] == "/review/findings"


def test_pages_carry_security_headers(client):
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
