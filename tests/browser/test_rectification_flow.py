"""End to end in Chromium: a supervisor works an overdue finding and sees the dashboard change.

On a desktop profile in zh-CN the supervisor reads the dashboard, filters the findings list to
overdue ones, opens the one shown, uploads a photo as evidence, marks the finding corrected and
finds the dashboard's corrected count one higher. The map page is opened too, and every request
the browser made must have gone to the test server.
"""

import io
import re
from datetime import date, timedelta

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.review.models import Finding, FindingEvidence
from fieldapp.review.services import edit_finding, open_finding
from tests import factories
from tests.browser.conftest import TIMEOUT_MS
from tests.security.records import make_round

pytestmark = [pytest.mark.browser, pytest.mark.committing]


def evidence_photo() -> bytes:
    image = Image.new("RGB", (800, 600), (120, 160, 90))
    ImageDraw.Draw(image).rectangle((100, 100, 500, 300), fill=(200, 200, 200))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def overdue_work(live_server):
    """Commit a supervisor and two findings in one household: one overdue, one due next month."""
    with live_server.app_context(), live_server.app.test_request_context():
        admin = factories.user("admin", [factories.CITY])
        supervisor = factories.user("supervisor", [factories.YANGXIN])
        household = factories.household(factories.LAODIAN_VILLAGE, members=2, latitude=37.64,
                                         longitude=117.57)
        sampling_round = make_round("整改流程测试批次", [household], None, admin)
        sampled = sampling_round.sampled_households[0]
        overdue = open_finding(household, source="on_site", category="住房安全",
                               description="屋顶漏雨，尚未维修", user=supervisor, sampled_household=sampled)
        edit_finding(overdue, {"deadline": date.today() - timedelta(days=10),
                               "responsible_unit": "劳店镇人民政府"}, user=supervisor)
        on_time = open_finding(household, source="on_site", category="饮水安全", description="水压不足",
                               user=supervisor, sampled_household=sampled)
        edit_finding(on_time, {"deadline": date.today() + timedelta(days=30)}, user=supervisor)
        db.session.commit()
        work = {"supervisor": supervisor.username, "overdue_id": overdue.id, "on_time_id": on_time.id}
        db.session.remove()
    return work


def log_in(page, base_url, username):
    page.goto(base_url + "/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(factories.PASSWORD)
    page.locator("form button[type=submit]").first.click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def corrected_count(page) -> int:
    return int(page.locator('[data-figure="corrected"]').inner_text())


def test_supervisor_corrects_overdue_finding(chromium, live_server, overdue_work, artifacts):
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN",
                                   timezone_id="Asia/Shanghai")
    context.set_default_timeout(TIMEOUT_MS)
    requested = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    try:
        log_in(page, live_server.url, overdue_work["supervisor"])
        page.goto(live_server.url + "/reports/")
        expect(page.locator("#dashboard-table")).to_be_visible()
        page.wait_for_function("() => window.Chart && document.querySelector('#chart-findings').width > 0")
        before = corrected_count(page)
        assert int(page.locator('[data-figure="overdue"]').inner_text()) >= 1
        page.screenshot(path=str(artifacts / "rectification-dashboard-before.png"), full_page=True)

        page.goto(live_server.url + "/review/findings")
        page.locator("select[name=status]").select_option("overdue")
        page.locator("form.filters button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"status=overdue"))
        rows = page.locator("table.findings tbody tr")
        hrefs = rows.locator('a[href^="/review/findings/"]').evaluate_all(
            "(links) => links.map((a) => a.getAttribute('href'))")
        ids = {int(href.rsplit("/", 1)[1]) for href in hrefs}
        assert overdue_work["overdue_id"] in ids
        assert overdue_work["on_time_id"] not in ids
        expect(rows.first).to_contain_text(re.compile(r"逾期|Overdue"))
        page.screenshot(path=str(artifacts / "rectification-overdue-list.png"), full_page=True)

        page.locator(f'a[href="/review/findings/{overdue_work["overdue_id"]}"]').first.click()
        expect(page).to_have_url(re.compile(rf"/review/findings/{overdue_work['overdue_id']}$"))
        page.locator("input[name=file]").set_input_files(
            files=[{"name": "修缮后.jpg", "mimeType": "image/jpeg", "buffer": evidence_photo()}]
        )
        page.locator("input[name=note]").fill("屋顶已翻修")
        page.locator("form.evidence-form button[type=submit]").click()
        expect(page.locator(".flash-success")).to_be_visible()
        image = page.locator(".evidence-list img").first
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())

        form = page.locator("form.status-form")
        form.locator("select[name=status]").select_option("corrected")
        form.locator("textarea[name=comment]").fill("已翻修屋顶，附照片")
        form.locator("button[type=submit]").click()
        expect(page.locator(".flash-success")).to_be_visible()
        expect(page.locator("h1 .badge").first).to_have_text(re.compile(r"已整改|Corrected"))
        expect(page.locator(".timeline")).to_contain_text("已翻修屋顶，附照片")
        page.screenshot(path=str(artifacts / "rectification-finding-corrected.png"), full_page=True)

        page.goto(live_server.url + "/reports/")
        assert corrected_count(page) == before + 1
        page.screenshot(path=str(artifacts / "rectification-dashboard-after.png"), full_page=True)

        page.goto(live_server.url + "/reports/map")
        expect(page.locator("#map[data-loaded=true]")).to_be_attached()
        assert int(page.locator("#map").get_attribute("data-households")) >= 1
        page.screenshot(path=str(artifacts / "rectification-map.png"), full_page=True)
    finally:
        context.close()

    outside = [url for url in requested
               if not url.startswith(live_server.url + "/") and not url.startswith(("data:", "blob:"))]
    assert outside == []

    with live_server.app_context():
        finding = db.session.get(Finding, overdue_work["overdue_id"])
        assert finding.status == "corrected"
        assert finding.evidence_count == 1
        evidence = db.session.scalars(
            select(FindingEvidence).where(FindingEvidence.finding_id == finding.id)
        ).one()
        assert (evidence.kind, evidence.note) == ("photo", "屋顶已翻修")
        assert [event.kind for event in finding.events] == ["status", "edit", "evidence", "status"]
        db.session.remove()
