"""In Chromium: a phone that opens FieldApp over plain HTTP at a name other than 127.0.0.1.

Browsers give such a page no service worker and no location. The test maps the name
``fieldapp.test`` to 127.0.0.1 inside Chromium, so the requests still reach only the live server.
"""

import re

import pytest
from playwright.sync_api import expect

from fieldapp.extensions import db
from tests import factories
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS
from tests.security.records import make_round

pytestmark = [pytest.mark.browser, pytest.mark.committing]

HOST = "fieldapp.test"


@pytest.fixture
def insecure_chromium(playwright):
    """Yield a Chromium that resolves the name ``fieldapp.test`` to 127.0.0.1."""
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {HOST} 127.0.0.1"]
    )
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def assigned(live_server) -> dict:
    """Commit an inspector with one assigned household; return the user name and the head's name."""
    with live_server.app_context():
        admin = factories.user("admin", [factories.CITY])
        inspector = factories.user("inspector", [factories.LAODIAN])
        household = factories.household(factories.LAODIAN_VILLAGE, members=1)
        make_round("明文地址批次", [household], inspector, admin)
        db.session.commit()
        work = {"inspector": inspector.username, "head": household.members[0].name}
        db.session.remove()
    return work


def test_plain_http_explains_https(insecure_chromium, playwright, live_server, assigned):
    port = live_server.url.rsplit(":", 1)[1]
    base = f"http://{HOST}:{port}"
    context = insecure_chromium.new_context(**playwright.devices["Pixel 7"], locale="zh-CN",
                                            timezone_id="Asia/Shanghai")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto(base + "/login")
        assert page.evaluate("window.isSecureContext") is False
        page.locator("input[name=username]").fill(assigned["inspector"])
        page.locator("input[name=password]").fill(factories.PASSWORD)
        page.locator("form button[type=submit]").first.click()
        expect(page).to_have_url(re.compile(r"/visits/$"))

        notes = page.locator("#sync-status [data-notes]")
        expect(notes).to_be_visible()
        expect(notes).to_contain_text("没有通过 HTTPS")

        page.get_by_role("link", name=re.compile(assigned["head"])).click()
        page.locator('a[href$="/new"]').click()
        status = page.locator("#location-status")
        expect(status).to_contain_text("https://")
        expect(status).not_to_contain_text("设置")
        expect(page.locator("#location-retry")).to_be_hidden()
    finally:
        context.close()
