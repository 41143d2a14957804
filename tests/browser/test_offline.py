"""Offline capture in Chromium on a Pixel 7 profile: no visit lost, none stored twice.

Each test gets its own inspector and households on the live server, and checks the server's
database at the end. ``context.set_offline`` cuts the page and its service worker off the
network; route interception breaks photo uploads half-way.
"""

import base64
import hashlib
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect
from sqlalchemy import func, select, update

from fieldapp.api.models import ApiToken
from fieldapp.audit.models import AuditRecord
from fieldapp.extensions import db
from fieldapp.visits.models import Photo, Visit
from tests import factories
from tests.api.conftest import visit_fields
from tests.browser.conftest import TIMEOUT_MS
from tests.visits.support import HOUSEHOLD_LATITUDE, HOUSEHOLD_LONGITUDE, gps_exif, jpeg_bytes, sample

pytestmark = [pytest.mark.browser, pytest.mark.committing]

PHONE_POSITION = {"latitude": HOUSEHOLD_LATITUDE + 0.0004, "longitude": HOUSEHOLD_LONGITUDE, "accuracy": 8}
# A photo taken by a phone camera: EXIF GPS 37°38'27.96" N 117°34'42.96" E, GPS time 02:03:04 UTC.
CAMERA_PHOTO = jpeg_bytes(size=(800, 600), exif=gps_exif().tobytes())
EXIF_LATITUDE = 37 + 38 / 60 + 27.96 / 3600
EXIF_LONGITUDE = 117 + 34 / 60 + 42.96 / 3600


@dataclass
class FieldWork:
    username: str
    inspector_id: int
    sampled_ids: list[int]
    # Form fields of a complete visit to each sampled household, as the phone's outbox sends them.
    fields: dict[int, dict]


def field_work(live_server, households: int) -> FieldWork:
    """Commit an inspector with ``households`` sampled households on the live server."""
    with live_server.app_context():
        inspector = factories.user("inspector", [factories.LAODIAN])
        sampled = []
        for _ in range(households):
            household = factories.household(members=2, latitude=HOUSEHOLD_LATITUDE,
                                             longitude=HOUSEHOLD_LONGITUDE)
            sampled.append(sample(household, inspector))
        db.session.commit()
        work = FieldWork(
            username=inspector.username,
            inspector_id=inspector.id,
            sampled_ids=[row.id for row in sampled],
            fields={row.id: visit_fields(row.household) for row in sampled},
        )
        db.session.remove()
    return work


@pytest.fixture
def phone(chromium, playwright):
    """Return a function that opens a page in a new Pixel 7 context; the contexts close afterwards."""
    contexts = []

    def open_page():
        context = chromium.new_context(
            **playwright.devices["Pixel 7"],
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            geolocation=PHONE_POSITION,
            permissions=["geolocation"],
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context, context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def go_offline(context, base_url: str) -> None:
    """Cut the context off the network, and abort its API requests as a second guard.

    In one CI run under load, one visit upload of a page loaded while the context was offline
    reached the server all the same. The route makes sure the server receives nothing meanwhile,
    and the page gets a network error, as it does offline.
    """
    context.set_offline(True)
    context.route(f"{base_url}/api/**", lambda route: route.abort("internetdisconnected"))


def go_online(context, base_url: str) -> None:
    context.unroute(f"{base_url}/api/**")
    context.set_offline(False)


def log_in(page, base_url: str, username: str) -> None:
    if "/login" not in page.url:
        page.goto(base_url + "/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(factories.PASSWORD)
    page.locator("form button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/visits/$"))


def wait_js(page, expression: str, timeout_s: float = TIMEOUT_MS / 1000) -> None:
    """Wait until a JavaScript expression, which may be a promise, gives a true value.

    The expression counts as false until the page's scripts have defined ``FieldApp``, and
    while a navigation replaces the page under the evaluation.
    """
    guarded = f"(typeof FieldApp === 'undefined') ? false : ({expression})"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if page.evaluate(guarded):
                return
        except PlaywrightError as error:
            if "context was destroyed" not in str(error) and "navigat" not in str(error):
                raise
        if time.monotonic() > deadline:
            pytest.fail(f"still false after {timeout_s} s: {expression}")
        page.wait_for_timeout(100)


def wait_token(page) -> None:
    wait_js(page, "FieldApp.store.get('meta', 'token').then((token) => Boolean(token))")


def wait_pages_saved(page, count: int) -> None:
    """Wait until the service worker has saved the assignments page and each household's two pages."""
    page.wait_for_function(f"Number(document.documentElement.dataset.pagesCached) === {count}")


def unsent(page) -> tuple[int, int]:
    # Right after a navigation the page may not have started its sync yet, and would count nothing.
    wait_js(page, "FieldApp.sync.isReady()")
    visits, photos = page.evaluate("FieldApp.sync.counts().then((c) => [c.visits, c.photos])")
    return visits, photos


def idb_count(page, store: str) -> int:
    return page.evaluate(f"FieldApp.store.getAll('{store}').then((rows) => rows.length)")


def wait_all_sent(page, timeout_s: float) -> None:
    """Wait until the outbox is empty, starting a sync now and then instead of waiting for backoff."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if unsent(page) == (0, 0):
            return
        page.evaluate("FieldApp.sync.state.running || FieldApp.sync.run('test')")
        page.wait_for_timeout(300)
    pytest.fail(f"still unsent after {timeout_s} s: {unsent(page)} (visits, photos)")


# Lists the visible required questions without an answer, as {key, type, min}.
UNANSWERED_JS = """
() => [...document.querySelectorAll('#visit-form .field.q[data-required]')]
  .filter((node) => !node.closest('[hidden]'))
  .filter((node) => {
    if (node.dataset.type === 'photo') return node.querySelectorAll('.photo-thumb').length === 0;
    const choices = node.querySelector('input[type=radio], input[type=checkbox]');
    if (choices) return !node.querySelector('input:checked');
    return !node.querySelector('select, textarea, input').value;
  })
  .map((node) => ({key: node.dataset.field, type: node.dataset.type, min: node.dataset.min || null}))
"""


def add_photos(page, field: str, photos: list[bytes]) -> None:
    """Choose photos in a file input and wait until the phone has stored each of them."""
    node = page.locator(f'#q-{field}')
    before = node.locator(".photo-thumb").count()
    node.locator("input[type=file]").set_input_files(files=[
        {"name": f"IMG_{index:04d}.jpg", "mimeType": "image/jpeg", "buffer": data}
        for index, data in enumerate(photos)
    ])
    expect(node.locator(".photo-thumb")).to_have_count(before + len(photos))


def answer_visit(page, photo: bytes = CAMERA_PHOTO) -> None:
    """Answer every visible required question, including those that earlier answers reveal."""
    for _ in range(10):
        pending = page.evaluate(UNANSWERED_JS)
        if not pending:
            return
        for question in pending:
            field = page.locator(f'#visit-form [data-field="{question["key"]}"]')
            if question["type"] == "photo":
                add_photos(page, question["key"], [photo])
            elif field.locator("select").count():
                field.locator("select").select_option(index=1)
            elif field.locator("input[type=radio], input[type=checkbox]").count():
                field.locator("input[type=radio], input[type=checkbox]").first.check()
            elif question["type"] == "number":
                field.locator("input").fill(question["min"] or "0")
            else:
                field.locator("textarea, input").first.fill("无")
    pytest.fail(f"required questions still unanswered: {page.evaluate(UNANSWERED_JS)}")


def capture_visit(page, base_url: str, sampled_id: int, extra_photos: int = 0) -> None:
    """Fill and save a visit to ``sampled_id``; the page goes on to the receipt or the assignments."""
    page.goto(f"{base_url}/visits/households/{sampled_id}/new")
    answer_visit(page)
    if extra_photos:
        add_photos(page, "photos", [jpeg_bytes(size=(64 + index, 48)) for index in range(extra_photos)])
    page.locator("#visit-submit").click()
    expect(page).not_to_have_url(re.compile(r"/new$"))


@dataclass
class StoredVisit:
    answers: dict
    is_complete: bool


@dataclass
class ServerState:
    visits: dict[str, StoredVisit]
    # Client UUIDs of stored photos, one entry per row, so a duplicate would show twice.
    photo_uuids: list[str]
    photo_receipts: int


def server_state(live_server, work: FieldWork) -> ServerState:
    with live_server.app_context():
        visits = {
            visit.client_uuid: StoredVisit(visit.answers, visit.is_complete)
            for visit in db.session.scalars(select(Visit).where(Visit.inspector_id == work.inspector_id))
        }
        photo_uuids = db.session.scalars(
            select(Photo.client_uuid).join(Visit).where(Visit.inspector_id == work.inspector_id)).all()
        receipts = db.session.scalar(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.action == "photo.receive", AuditRecord.user_id == work.inspector_id))
        db.session.remove()
    return ServerState(visits, photo_uuids, receipts)


def complete_visits(live_server, work: FieldWork) -> dict[str, tuple[int, int]]:
    """Return client UUID -> (photos declared, photos stored) for the inspector's visits."""
    with live_server.app_context():
        rows = db.session.execute(
            select(Visit.client_uuid, Visit.photos_expected, func.count(Photo.id))
            .outerjoin(Photo, Photo.visit_id == Visit.id)
            .where(Visit.inspector_id == work.inspector_id)
            .group_by(Visit.id, Visit.client_uuid, Visit.photos_expected)
        ).all()
        db.session.remove()
    return {uuid: (expected, stored) for uuid, expected, stored in rows}


def test_offline_visits_survive_reload(live_server, phone, artifacts):
    work = field_work(live_server, households=4)
    context, page = phone()
    log_in(page, live_server.url, work.username)
    wait_pages_saved(page, 1 + 2 * len(work.sampled_ids))

    go_offline(context, live_server.url)
    for sampled_id in work.sampled_ids[:3]:
        capture_visit(page, live_server.url, sampled_id)
        expect(page).to_have_url(re.compile(r"/visits/$"))
        expect(page.locator(".flash-success")).to_be_visible()

    # A fourth visit left half-done: two answers and a photo.
    half_done = work.sampled_ids[3]
    page.goto(f"{live_server.url}/visits/households/{half_done}/new")
    page.locator('[data-field="food_enough"] input[value="no"]').check()
    page.locator('#in-house_count').fill("2")
    add_photos(page, "house_photo", [CAMERA_PHOTO])
    wait_js(page, "FieldApp.store.getAll('drafts').then((d) => d.length === 1 && d[0].fields.length > 0)")

    page.reload()
    expect(page.locator("#draft-notice")).to_be_visible()
    # Chinese by default: a time saved today reads "14:30", an older one "12月5日 14:30".
    expect(page.locator("#draft-notice [data-text]")).to_have_text(
        re.compile(r"^已恢复您于 (\d+年)?(\d+月\d+日 )?\d\d:\d\d 保存的未填完答案和 1 张照片。$"))
    expect(page.locator('[data-field="food_enough"] input[value="no"]')).to_be_checked()
    expect(page.locator('#in-house_count')).to_have_value("2")
    expect(page.locator("#q-house_photo .photo-thumb")).to_have_count(1)

    page.goto(live_server.url + "/visits/")
    page.reload()
    expect(page.locator("[data-counts]")).to_contain_text("3")
    # The half-done visit is marked on the assignments list, the three sent ones as waiting.
    expect(page.locator(f'[data-sampled-id="{half_done}"] .badge-draft')).to_be_visible()
    expect(page.locator("[data-assignments] .badge-draft")).to_have_count(1)
    expect(page.locator("[data-assignments] .badge-outbox")).to_have_count(3)
    assert unsent(page) == (3, 3)
    assert idb_count(page, "outbox") == 3
    assert idb_count(page, "photos") == 4
    assert server_state(live_server, work).visits == {}
    page.screenshot(path=str(artifacts / "offline-outbox.png"), full_page=True)

    go_online(context, live_server.url)
    wait_all_sent(page, timeout_s=30)
    state = server_state(live_server, work)
    assert len(state.visits) == 3
    assert all(visit.is_complete for visit in state.visits.values())
    assert sorted(complete_visits(live_server, work).values()) == [(1, 1)] * 3
    assert len(state.photo_uuids) == len(set(state.photo_uuids)) == 3
    with live_server.app_context():
        photo = db.session.scalars(select(Photo).where(Photo.client_uuid == state.photo_uuids[0])).one()
        # Downscaled on the phone, so the EXIF values came from the phone's reading of the original.
        assert photo.exif_latitude == pytest.approx(EXIF_LATITUDE, abs=1e-6)
        assert photo.exif_longitude == pytest.approx(EXIF_LONGITUDE, abs=1e-6)
        assert photo.taken_at == datetime(2026, 5, 1, 2, 3, 4, tzinfo=UTC)
        db.session.remove()
    assert idb_count(page, "drafts") == 1
    expect(page.locator("[data-counts]")).not_to_contain_text("3")


def test_aborted_photo_uploads_leave_no_gap(live_server, phone):
    work = field_work(live_server, households=1)
    context, page = phone()
    log_in(page, live_server.url, work.username)
    puts = {"count": 0}

    def break_some(route):
        puts["count"] += 1
        attempt = puts["count"]
        if attempt > 6:
            route.continue_()
        elif attempt % 2:
            route.abort("connectionreset")  # lost on the way to the server
        else:
            route.fetch()  # the server stores the photo, but its response is lost
            route.abort("connectionreset")

    page.route("**/api/v1/visits/*/photos/*", break_some)
    capture_visit(page, live_server.url, work.sampled_ids[0], extra_photos=2)
    wait_all_sent(page, timeout_s=40)

    state = server_state(live_server, work)
    assert list(complete_visits(live_server, work).values()) == [(3, 3)]
    assert len(state.photo_uuids) == len(set(state.photo_uuids)) == 3
    assert state.photo_receipts == 3
    assert puts["count"] >= 9


def test_rejected_photo_discarded_on_phone(live_server, phone):
    work = field_work(live_server, households=1)
    context, page = phone()
    log_in(page, live_server.url, work.username)
    rejected: list[str] = []

    def tamper_first_photo(route):
        photo_uuid = route.request.url.rsplit("/", 1)[1]
        if not rejected:
            rejected.append(photo_uuid)
        if photo_uuid not in rejected:
            route.continue_()
            return
        # Other bytes with their own SHA-256: the server rejects them permanently (409), because
        # the visit declared the photo with the original SHA-256.
        other = jpeg_bytes(size=(40, 30))
        headers = {**route.request.headers, "x-content-sha256": hashlib.sha256(other).hexdigest()}
        route.continue_(post_data=other, headers=headers)

    page.route("**/api/v1/visits/*/photos/*", tamper_first_photo)
    capture_visit(page, live_server.url, work.sampled_ids[0], extra_photos=1)
    wait_js(page, "FieldApp.sync.counts().then((c) => c.items.some((v) => v.state === 'photo_rejected'))")
    assert unsent(page) == (1, 1)

    page.goto(live_server.url + "/visits/")
    button = page.locator("[data-items] [data-discard]")
    expect(button).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    button.click()
    wait_js(page, "FieldApp.sync.counts().then((c) => c.visits === 0)")

    assert idb_count(page, "photos") == 0
    assert idb_count(page, "outbox") == 0
    expect(page.locator("[data-items] li")).to_have_count(0)
    # The server keeps the visit with the photo that arrived, and shows it as incomplete.
    assert list(complete_visits(live_server, work).values()) == [(2, 1)]
    assert [visit.is_complete for visit in server_state(live_server, work).visits.values()] == [False]


def test_expired_session_pauses_sync_until_login(live_server, phone):
    work = field_work(live_server, households=1)
    context, page = phone()
    log_in(page, live_server.url, work.username)
    wait_pages_saved(page, 3)
    go_offline(context, live_server.url)
    capture_visit(page, live_server.url, work.sampled_ids[0])

    # A day later: the login session is gone and the sync token has expired.
    context.clear_cookies()
    with live_server.app_context():
        db.session.execute(update(ApiToken).where(ApiToken.user_id == work.inspector_id)
                           .values(expires_at=datetime.now(UTC) - timedelta(hours=1)))
        db.session.commit()
        db.session.remove()
    go_online(context, live_server.url)

    login_link = page.locator("#sync-status [data-login]")
    expect(login_link).to_be_visible()
    assert unsent(page) == (1, 1)
    assert server_state(live_server, work).visits == {}

    login_link.click()
    log_in(page, live_server.url, work.username)
    wait_all_sent(page, timeout_s=20)
    assert list(complete_visits(live_server, work).values()) == [(1, 1)]


SEND_THREE_TIMES_JS = """
async ({visit, photo, sha256}) => {
  const token = (await FieldApp.store.get('meta', 'token')).token;
  const headers = {Authorization: 'Bearer ' + token};
  const post = (body) => fetch('/api/v1/visits', {method: 'POST', body: JSON.stringify(body),
    headers: {...headers, 'Content-Type': 'application/json'}}).then((r) => r.status);
  const bytes = Uint8Array.from(atob(photo), (c) => c.charCodeAt(0));
  const put = () => fetch(`/api/v1/visits/${visit.client_uuid}/photos/${visit.photos[0].client_uuid}`,
    {method: 'PUT', body: bytes, headers: {...headers, 'X-Content-SHA256': sha256}}).then((r) => r.status);
  const visits = [await post(visit), await post(visit), await post(visit)];
  const photos = [await put(), await put(), await put()];
  const changed = await post({...visit, fields: {...visit.fields, food_enough: 'no'}});
  return {visits, photos, changed};
}
"""


def test_repeats_from_phone_stored_once(live_server, phone):
    work = field_work(live_server, households=1)
    context, page = phone()
    log_in(page, live_server.url, work.username)
    wait_token(page)
    sampled_id = work.sampled_ids[0]
    photo = jpeg_bytes(size=(120, 90))
    sha256 = hashlib.sha256(photo).hexdigest()
    visit = {
        "client_uuid": "6f1d1d8e-7d5c-4f0e-9a49-1b1f3f0c2a11",
        "sampled_household_id": sampled_id,
        "fields": work.fields[sampled_id],
        "photos": [{"client_uuid": "0b3f5c1e-2d4a-4e6b-8f7a-9c0d1e2f3a4b", "sha256": sha256,
                    "field": "house_photo"}],
    }
    result = page.evaluate(SEND_THREE_TIMES_JS, {"visit": visit, "photo": base64.b64encode(photo).decode(),
                                                 "sha256": sha256})
    assert result == {"visits": [201, 200, 200], "photos": [201, 200, 200], "changed": 409}
    state = server_state(live_server, work)
    assert list(state.visits) == [visit["client_uuid"]]
    assert state.photo_uuids == [visit["photos"][0]["client_uuid"]]
    assert state.visits[visit["client_uuid"]].answers["food_enough"] is True


CHECKS_JS = """
async ({jpeg, lengths}) => {
  const bytes = Uint8Array.from(atob(jpeg), (c) => c.charCodeAt(0));
  const exif = FieldApp.parseExif(bytes.buffer);
  const hashes = lengths.map((n) => {
    const data = new Uint8Array(n);
    for (let i = 0; i < n; i += 1) data[i] = (i * 31 + 7) & 0xff;
    return FieldApp.sha256Fallback(data.buffer);
  });
  const subtle = await FieldApp.sha256(bytes.buffer);
  return {exif, hashes, subtle, fallback: FieldApp.sha256Fallback(bytes.buffer)};
}
"""


def test_exif_reader_and_sha256_match_python(live_server, phone):
    work = field_work(live_server, households=1)
    context, page = phone()
    log_in(page, live_server.url, work.username)
    page.goto(f"{live_server.url}/visits/households/{work.sampled_ids[0]}/new")
    lengths = [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 300_000]
    result = page.evaluate(CHECKS_JS, {"jpeg": base64.b64encode(CAMERA_PHOTO).decode(), "lengths": lengths})
    expected = [hashlib.sha256(bytes((i * 31 + 7) & 0xFF for i in range(n))).hexdigest() for n in lengths]
    assert result["hashes"] == expected
    assert result["subtle"] == result["fallback"] == hashlib.sha256(CAMERA_PHOTO).hexdigest()
    assert result["exif"]["latitude"] == pytest.approx(EXIF_LATITUDE, abs=1e-9)
    assert result["exif"]["longitude"] == pytest.approx(EXIF_LONGITUDE, abs=1e-9)
    assert result["exif"]["takenAt"] == "2026-05-01T02:03:04Z"


ENQUEUE_JS = """
async ({visits, userId}) => {
  const fields = ['house_photo', 'photos', 'photos'];
  const uuids = [];
  for (const visit of visits) {
    const key = `u${userId}:${visit.form_url}`;
    const ids = [];
    for (let i = 0; i < fields.length; i += 1) {
      const canvas = document.createElement('canvas');
      canvas.width = 64;
      canvas.height = 48;
      const context = canvas.getContext('2d');
      context.fillStyle = `rgb(${(visit.index * 5) % 256}, ${i * 80}, 120)`;
      context.fillRect(0, 0, 64, 48);
      context.fillStyle = '#fff';
      context.fillText(`${visit.index}-${i}`, 4, 20);
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.9));
      const file = new File([blob], `soak-${visit.index}-${i}.jpg`, {type: 'image/jpeg'});
      const prepared = await FieldApp.preparePhoto(file, {maxLongSide: 1600, quality: 0.8});
      const id = crypto.randomUUID();
      await FieldApp.store.put('photos', {client_uuid: id, owner: key, field: fields[i], blob: prepared.blob,
        sha256: prepared.sha256, bytes: prepared.bytes, created_at: new Date().toISOString()});
      ids.push(id);
    }
    const clientUuid = crypto.randomUUID();
    await FieldApp.outbox.enqueue({key, user_id: userId, sampled_id: visit.sampled_id,
      client_uuid: clientUuid, label: `soak ${visit.index}`, form_url: visit.form_url,
      questionnaire_id: null, fields: Object.entries(visit.fields), photos: ids}, ids, []);
    uuids.push(clientUuid);
  }
  return uuids;
}
"""


def test_fifty_visits_through_network_flips(live_server, phone):
    """50 visits with 3 photos each, sent through network flips and reloads: none lost or doubled."""
    visits, photos_each = 50, 3
    work = field_work(live_server, households=visits)
    context, page = phone()
    log_in(page, live_server.url, work.username)
    user_id = page.evaluate("JSON.parse(document.getElementById('fieldapp-settings').textContent).userId")
    wait_token(page)
    wait_pages_saved(page, 1 + 2 * visits)
    # The photo scripts load with the visit form.
    page.goto(f"{live_server.url}/visits/households/{work.sampled_ids[0]}/new")

    context.set_offline(True)
    batch = [{"index": index, "sampled_id": sampled_id, "form_url": f"/visits/households/{sampled_id}/new",
              "fields": work.fields[sampled_id]} for index, sampled_id in enumerate(work.sampled_ids)]
    captured = page.evaluate(ENQUEUE_JS, {"visits": batch, "userId": user_id})
    assert unsent(page) == (visits, visits * photos_each)
    page.goto(live_server.url + "/visits/")

    rng = random.Random(20260501)
    broken = {"before": 0, "after": 0}

    def break_one_in_ten(route):
        """Lose one request in ten on the way to the server, and one in ten on the way back."""
        draw = rng.random()
        try:
            if draw < 0.1:
                broken["before"] += 1
                route.abort("connectionreset")
            elif draw < 0.2:
                route.fetch()
                broken["after"] += 1
                route.abort("connectionreset")
            else:
                route.continue_()
        except Exception:  # noqa: BLE001 - the page reloaded or went offline meanwhile
            pass

    page.route("**/api/v1/visits**", break_one_in_ten)
    flips = reloads = 0
    started = time.monotonic()
    online = False
    while time.monotonic() - started < 40 and unsent(page) != (0, 0):
        online = not online
        context.set_offline(not online)
        flips += 1
        if rng.random() < 0.4:
            page.reload()
            page.wait_for_function("window.FieldApp && FieldApp.sync && FieldApp.sync.state")
            reloads += 1
        page.wait_for_timeout(rng.randint(200, 1200))
    context.set_offline(False)
    wait_all_sent(page, timeout_s=60)
    elapsed = time.monotonic() - started

    stored = complete_visits(live_server, work)
    state = server_state(live_server, work)
    lost_visits = len(set(captured) - set(stored))
    duplicated_visits = len(stored) - len(set(captured) & set(stored))
    lost_photos = sum(expected - count for expected, count in stored.values()) + photos_each * lost_visits
    duplicated_photos = len(state.photo_uuids) - len(set(state.photo_uuids))
    print(f"\noffline soak: {visits} visits x {photos_each} photos, {flips} network flips, "
          f"{reloads} reloads, {broken['before'] + broken['after']} requests broken, {elapsed:.1f} s; "
          f"visits lost {lost_visits}, duplicated {duplicated_visits}; "
          f"photos lost {lost_photos}, duplicated {duplicated_photos}")
    assert (lost_visits, duplicated_visits, lost_photos, duplicated_photos) == (0, 0, 0, 0)
    assert len(state.photo_uuids) == visits * photos_each
    assert flips >= 2
