"""End to end in Chromium: an inspector's phone visit, then the supervisor's review of it.

The inspector uses a Pixel 7 profile in zh-CN whose location is 300 m north of the household's
registered point. They fill the questionnaire, attach a landscape JPEG with EXIF orientation 6
(display rotated 90 degrees clockwise), confirm the suspected problem and submit. The
supervisor then opens the visit under its household, checks that the photo is upright and the
distance is shown, and marks the finding corrected.
"""

import io
import re
from datetime import date

import pytest
from geopy.distance import geodesic
from PIL import Image, ImageDraw
from playwright.sync_api import expect
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.review.models import Finding
from fieldapp.visits.models import Visit
from tests import factories
from tests.browser.conftest import TIMEOUT_MS
from tests.security.records import make_problem, make_round

pytestmark = [pytest.mark.browser, pytest.mark.committing]

HOME = (37.6500, 117.6000)
# 300 m north of HOME: one degree of latitude is about 111,000 m here.
PHONE = (HOME[0] + 300 / 111_000, HOME[1])
EXIF_ORIENTATION = 0x0112


def rotated_photo() -> bytes:
    """Return a 640 x 480 JPEG tagged with EXIF orientation 6, so it shows 480 x 640 when upright."""
    image = Image.new("RGB", (640, 480), (90, 140, 200))
    ImageDraw.Draw(image).rectangle((0, 0, 200, 120), fill=(200, 30, 30))
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


@pytest.fixture
def field_work(live_server):
    """Commit an inspector, a supervisor and a sampled household with one suspected problem."""
    with live_server.app_context():
        admin = factories.user("admin", [factories.CITY])
        inspector = factories.user("inspector", [factories.LAODIAN])
        supervisor = factories.user("supervisor", [factories.YANGXIN])
        household = factories.household(
            factories.LAODIAN_VILLAGE, members=2, latitude=HOME[0], longitude=HOME[1]
        )
        head = household.members[0]
        problem = make_problem(household, head)
        sampling_round = make_round("2024年第一批入户核查", [household], inspector, admin)
        db.session.commit()
        work = {
            "inspector": inspector.username,
            "supervisor": supervisor.username,
            "head": head.name,
            "household_id": household.id,
            "problem_id": problem.id,
            "round": sampling_round.name,
        }
        db.session.remove()
    return work


def log_in(page, base_url, username):
    page.goto(base_url + "/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(factories.PASSWORD)
    page.locator("form button[type=submit]").first.click()
    expect(page).not_to_have_url(re.compile(r"/login"))


# Lists the visible required questions that have no answer yet, as {key, type, min}.
UNANSWERED_JS = """
() => [...document.querySelectorAll('#visit-form .field.q[data-required]')]
  .filter((node) => !node.closest('[hidden]'))
  .filter((node) => {
    const type = node.dataset.type;
    if (type === 'photo') return node.querySelector('input[type=file]').files.length === 0;
    const choices = node.querySelector('input[type=radio], input[type=checkbox]');
    if (choices) return !node.querySelector('input:checked');
    const input = node.querySelector('select, textarea, input');
    return !input.value;
  })
  .map((node) => ({key: node.dataset.field, type: node.dataset.type, min: node.dataset.min || null}))
"""


def answer_required_questions(page, photo: bytes) -> list[str]:
    """Answer every visible required question, including those that earlier answers reveal.

    Yes/no questions get the first choice (yes), other choices their first option, numbers
    their minimum or 0, texts a short note, photos the rotated JPEG. Returns the question keys filled in.
    """
    answered = []
    for _ in range(10):
        pending = page.evaluate(UNANSWERED_JS)
        if not pending:
            return answered
        for question in pending:
            answer_question(page, question, photo)
            answered.append(question["key"])
    pytest.fail(f"required questions still unanswered after 10 rounds: {page.evaluate(UNANSWERED_JS)}")


def answer_question(page, question, photo: bytes) -> None:
    field = page.locator(f'#visit-form [data-field="{question["key"]}"]')
    kind = question["type"]
    if kind == "photo":
        field.locator("input[type=file]").set_input_files(
            files=[{"name": "house.jpg", "mimeType": "image/jpeg", "buffer": photo}]
        )
    elif field.locator("select").count():
        field.locator("select").select_option(index=1)
    elif field.locator("input[type=radio], input[type=checkbox]").count():
        field.locator("input[type=radio], input[type=checkbox]").first.check()
    elif kind == "number":
        field.locator("input").fill(question["min"] or "0")
    elif kind == "date":
        field.locator("input").fill(date.today().isoformat())
    else:
        field.locator("textarea, input").first.fill("无")


def inspector_visit(chromium, playwright, live_server, work, artifacts) -> None:
    context = chromium.new_context(
        **playwright.devices["Pixel 7"],
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        geolocation={"latitude": PHONE[0], "longitude": PHONE[1], "accuracy": 8},
        permissions=["geolocation"],
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        log_in(page, live_server.url, work["inspector"])
        expect(page).to_have_url(re.compile(r"/visits/$"))
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        page.get_by_role("link", name=re.compile(work["head"])).click()
        page.locator('a[href$="/new"]').click()
        expect(page.locator("#visit-form")).to_be_visible()
        expect(page.locator("input[name=latitude]")).to_have_value(re.compile(r"^37\.65"))

        answered = answer_required_questions(page, rotated_photo())
        assert "house_photo" in answered

        problem = page.locator(f'[data-problem="{work["problem_id"]}"]')
        label = problem.locator("label", has=page.locator('input[type=radio][value="confirmed"]'))
        expect(label).to_have_text(re.compile(r"^\s*(属实|Confirmed)\s*$"))
        label.locator("input").check()

        page.locator("#visit-submit").click()
        expect(page).to_have_url(re.compile(r"/visits/\d+$"))
        expect(page.locator(".flash-success")).to_be_visible()
        page.screenshot(path=str(artifacts / "inspector-visit.png"), full_page=True)
    finally:
        context.close()


def supervisor_review(chromium, live_server, work, artifacts) -> None:
    context = chromium.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        log_in(page, live_server.url, work["supervisor"])
        page.goto(live_server.url + "/review/rounds")
        page.get_by_role("link", name=work["round"]).click()
        page.get_by_role("link", name=work["head"]).click()
        page.locator('a[href^="/review/visits/"]').first.click()
        expect(page).to_have_url(re.compile(r"/review/visits/\d+$"))

        image = page.locator(".photos img").first
        image.scroll_into_view_if_needed()
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
        width, height = image.evaluate("(img) => [img.naturalWidth, img.naturalHeight]")
        assert width < height, f"the photo shows {width} x {height}, not upright"

        metres = round(geodesic(PHONE, HOME).meters)
        expect(page.locator("main")).to_contain_text(re.compile(rf"\b{metres}\s*(m|米)"))

        form = page.locator("form.status-form").first
        form.locator("select[name=status]").select_option(value="corrected")
        corrected_label = form.locator("select[name=status] option:checked")
        expect(corrected_label).to_have_text(re.compile(r"^\s*(已整改|Corrected)\s*$"))
        form.locator("textarea[name=comment]").fill("已维修屋顶，现场查看照片")
        form.locator("button[type=submit]").click()
        expect(page.locator(".flash-success")).to_be_visible()
        expect(page.locator("main")).to_contain_text(re.compile(r"已整改|Corrected"))
        page.screenshot(path=str(artifacts / "supervisor-visit.png"), full_page=True)
    finally:
        context.close()


def test_visit_then_review(chromium, playwright, live_server, field_work, artifacts):
    inspector_visit(chromium, playwright, live_server, field_work, artifacts)

    with live_server.app_context():
        household_id = field_work["household_id"]
        visit = db.session.scalars(select(Visit).where(Visit.household_id == household_id)).one()
        assert visit.distance_m == pytest.approx(geodesic(PHONE, HOME).meters, abs=5)
        assert [(photo.width, photo.height) for photo in visit.photos] == [(480, 640)]
        assert [outcome.outcome for outcome in visit.outcomes] == ["confirmed"]
        db.session.remove()

    supervisor_review(chromium, live_server, field_work, artifacts)

    with live_server.app_context():
        finding = db.session.scalars(select(Finding).where(Finding.household_id == household_id)).one()
        assert finding.status == "corrected"
        assert finding.corrected_at is not None
        assert [event.to_status for event in finding.events] == ["pending", "corrected"]
        db.session.remove()
