"""Key pages fit a cheap phone's 360 px wide screen in zh-CN: nothing makes the page scroll sideways.

Wide tables scroll inside their ``.table-wrap``; long tokens wrap; the menu is a band under the
brand. An admin has the most menu links and the widest pages, so the test logs in as an admin.
NOTE: the data here is small, so the width checks catch wide page structure, not long values.
"""

import re

import pytest
from playwright.sync_api import expect

from fieldapp.extensions import db
from tests import factories
from tests.browser.conftest import TIMEOUT_MS
from tests.security.records import make_round

pytestmark = [pytest.mark.browser, pytest.mark.committing]

PHONE_WIDTH = 360


@pytest.fixture
def layout_work(live_server):
    """Commit an admin and a sampling round of two households."""
    with live_server.app_context(), live_server.app.test_request_context():
        admin = factories.user("admin", [factories.CITY])
        households = [
            factories.household(factories.LAODIAN_VILLAGE, members=2, latitude=37.64, longitude=117.57)
            for _ in range(2)
        ]
        sampling_round = make_round("版式测试批次", households, None, admin)
        db.session.commit()
        work = {"admin": admin.username, "round_id": sampling_round.id}
        db.session.remove()
    return work


def test_key_pages_fit_a_360px_phone(chromium, live_server, layout_work, artifacts):
    context = chromium.new_context(viewport={"width": PHONE_WIDTH, "height": 740}, is_mobile=True,
                                   device_scale_factor=2, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    round_id = layout_work["round_id"]
    try:
        page.goto(live_server.url + "/login")
        page.locator("input[name=username]").fill(layout_work["admin"])
        page.locator("input[name=password]").fill(factories.PASSWORD)
        page.locator("form button[type=submit]").first.click()
        expect(page).not_to_have_url(re.compile(r"/login"))

        too_wide = {}
        for path in [f"/sampling/{round_id}", f"/review/rounds/{round_id}", "/review/findings",
                     "/register/households", "/checks/", "/reports/"]:
            response = page.goto(live_server.url + path)
            assert response.ok, path
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE_WIDTH:
                too_wide[path] = width
                name = f"layout-too-wide{path.replace('/', '-')}.png"
                page.screenshot(path=str(artifacts / name), full_page=True)
        assert not too_wide, f"pages wider than {PHONE_WIDTH} px: {too_wide}"

        # The admin's ten menu links wrap onto a few lines under the brand, not a tall column.
        assert page.evaluate("document.querySelector('.topbar').offsetHeight") < 260
    finally:
        context.close()
