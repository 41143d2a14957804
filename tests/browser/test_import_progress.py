"""In Chromium: a registry import's progress says that its total is not known yet, then shows it."""

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from fieldapp.checks.models import RegistryBatch
from fieldapp.extensions import db
from tests import factories
from tests.browser.conftest import TIMEOUT_MS

pytestmark = [pytest.mark.browser, pytest.mark.committing]


@pytest.fixture
def queued_batch(live_server):
    """Commit an administrator and a queued registry batch that no job reads; delete the batch afterwards."""
    with live_server.app_context(), live_server.app.test_request_context():
        admin = factories.user("admin", [factories.YANGXIN])
        batch = RegistryBatch(kind="车辆", data_date=date(2026, 6, 30), filename="车辆.xlsx", sha256="0" * 64,
                              imported_by_id=admin.id, headers=["姓名", "证件号码"], id_column="证件号码",
                              status="queued")
        db.session.add(batch)
        db.session.commit()
        created = {"admin": admin.username, "batch_id": batch.id}
        db.session.remove()
    yield created
    with live_server.app_context():
        db.session.delete(db.session.get(RegistryBatch, created["batch_id"]))
        db.session.commit()
        db.session.remove()


def set_progress(live_server, batch_id: int, rows_read: int, rows_total: int) -> None:
    with live_server.app_context():
        batch = db.session.get(RegistryBatch, batch_id)
        batch.status, batch.rows_read, batch.rows_total = "reading", rows_read, rows_total
        db.session.commit()
        db.session.remove()


def test_progress_total_shown_once_known(chromium, live_server, queued_batch):
    context = chromium.new_context(locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto(live_server.url + "/login")
        page.locator("input[name=username]").fill(queued_batch["admin"])
        page.locator("input[name=password]").fill(factories.PASSWORD)
        page.locator("form button[type=submit]").first.click()
        expect(page).not_to_have_url(re.compile(r"/login"))

        page.goto(f"{live_server.url}/checks/registries/{queued_batch['batch_id']}")
        progress = page.locator(".import-progress p").first
        unknown_total = re.compile(r"^已读取行数：\s*0（开始处理后显示总数）$")
        expect(progress).to_have_text(unknown_total, use_inner_text=True)

        set_progress(live_server, queued_batch["batch_id"], 40, 100)

        # The page polls every 1.5 s.
        expect(progress).to_have_text(re.compile(r"^已读取行数：\s*40\s*/\s*100$"), use_inner_text=True)
        expect(page.locator('[data-total="unknown"]')).to_be_hidden()
    finally:
        context.close()
