import pytest

pytestmark = [pytest.mark.browser, pytest.mark.committing]


def test_login_page_fits_phone(chromium, playwright, live_server):
    context = chromium.new_context(**playwright.devices["Pixel 7"], locale="zh-CN")
    page = context.new_page()
    page.goto(live_server.url + "/login")
    assert page.locator("input[name=username]").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")
    context.close()
