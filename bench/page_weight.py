"""Measure what the inspector's phone downloads: first load, repeat load, and a 12 MP photo.

Run with ``.venv/bin/python bench/page_weight.py``. The script serves a fresh FieldApp (SQLite
in a temporary folder, waitress on 127.0.0.1) with one inspector and 20 assigned households, and
drives the system Chromium (``/usr/bin/chromium``, or ``FIELDAPP_TEST_CHROMIUM``) with a Pixel 7
profile through Playwright.

1. First load: for each inspector page (assignments, household, visit form) a new browser
   context logs in without loading a page, so nothing is cached, and loads the page. The
   bytes are Chromium's ``encodedDataLength`` (compressed body and headers) of every request
   the page makes; photos are excluded (these pages have none). Goal: at most 60 KB.
   Printed next to it: the body bytes the server sent meanwhile, which add the service
   worker's own downloads (the app shell, and on the assignments page each household's pages).
2. Repeat load: the same context loads the page again. Counted are the app shell's files
   (scripts, styles, icon) that came from the network instead of the service worker. Goal: 0
   bytes of the app shell from the network. The server's body bytes meanwhile are the page
   itself, which the service worker fetches from the network first, and the sync requests.
3. Photo: a synthetic 12-megapixel JPEG (4000 x 3000, noise over gradients, quality 92, with
   EXIF GPS) is chosen in the visit form's photo field. The bytes the phone keeps for upload
   are compared with the original. Goal: at most 15 %.
"""

import io
import os
import random
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from waitress import create_server  # noqa: E402

from fieldapp import create_app  # noqa: E402
from fieldapp.extensions import db  # noqa: E402
from tests import factories  # noqa: E402
from tests.conftest import load_reference_data  # noqa: E402
from tests.visits.support import HOUSEHOLD_LATITUDE, HOUSEHOLD_LONGITUDE, gps_exif, problem, sample  # noqa: E402

CHROMIUM = os.environ.get("FIELDAPP_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOUSEHOLDS = 20
FIRST_LOAD_GOAL = 60 * 1024
PHOTO_GOAL = 0.15
SHELL_PATTERN = re.compile(r"/static/(css|js|img)/")


class ByteCounter:
    """WSGI middleware that adds up the body bytes the server sends."""

    def __init__(self, app):
        self.app = app
        self.total = 0
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        for chunk in self.app(environ, start_response):
            with self.lock:
                self.total += len(chunk)
            yield chunk


def serve(folder: str):
    app = create_app({
        "SECRET_KEY": "bench-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": "sqlite:///" + os.path.join(folder, "bench.sqlite3"),
        "UPLOAD_FOLDER": os.path.join(folder, "uploads"),
    })
    with app.app_context():
        upgrade()
        load_reference_data()
        inspector = factories.user("inspector", [factories.LAODIAN], username="bench-inspector")
        sampled_ids = []
        for index in range(HOUSEHOLDS):
            household = factories.household(members=4, latitude=HOUSEHOLD_LATITUDE,
                                            longitude=HOUSEHOLD_LONGITUDE)
            if index % 2 == 0:
                problem(household)
            sampled_ids.append(sample(household, inspector).id)
        db.session.commit()
        db.session.remove()
    counter = ByteCounter(app)
    server = create_server(counter, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    return server, counter, f"http://127.0.0.1:{server.effective_port}", sampled_ids


def twelve_megapixel_photo() -> bytes:
    """Return a 4000 x 3000 JPEG with photo-like detail (noise over gradients and shapes)."""
    rng = random.Random(7)
    base = Image.linear_gradient("L").resize((4000, 3000)).convert("RGB")
    draw = ImageDraw.Draw(base)
    for _ in range(300):
        x, y = rng.randrange(4000), rng.randrange(3000)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x, y, x + rng.randrange(40, 600), y + rng.randrange(40, 400)), fill=colour)
    noise = Image.effect_noise((4000, 3000), 48).convert("RGB")
    image = Image.blend(base.filter(ImageFilter.GaussianBlur(2)), noise, 0.25)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92, exif=gps_exif().tobytes())
    return buffer.getvalue()


class Recorder:
    """Collect the page's requests from Chromium's DevTools Network events."""

    def __init__(self, session):
        self.requests: dict[str, dict] = {}
        session.on("Network.responseReceived", self._response)
        session.on("Network.loadingFinished", self._finished)
        session.send("Network.enable")

    def _response(self, event):
        response = event["response"]
        self.requests[event["requestId"]] = {
            "url": response["url"],
            "type": event.get("type", ""),
            "from_service_worker": response.get("fromServiceWorker", False),
            "from_cache": response.get("fromDiskCache", False),
            "bytes": 0,
        }

    def _finished(self, event):
        entry = self.requests.get(event["requestId"])
        if entry is not None:
            entry["bytes"] = event.get("encodedDataLength", 0)

    def reset(self):
        self.requests.clear()

    def network_bytes(self, predicate=lambda entry: True) -> int:
        """Add up the bytes that came over the network, photos left out."""
        return sum(entry["bytes"] for entry in self.requests.values()
                   if predicate(entry) and not entry["from_service_worker"] and not entry["from_cache"]
                   and "/visits/photos/" not in entry["url"])


def log_in(page, base_url: str) -> None:
    page.goto(base_url + "/login")
    page.fill("input[name=username]", "bench-inspector")
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/visits/$"))


def log_in_without_page(context, base_url: str) -> None:
    """Log the context in through its request API, so that no page or file is cached on the way."""
    form = context.request.get(base_url + "/login").text()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    response = context.request.post(base_url + "/login", max_redirects=0, form={
        "username": "bench-inspector", "password": factories.PASSWORD, "csrf_token": token})
    if response.status != 302:
        sys.exit(f"Login failed with HTTP {response.status}.")


def load_and_settle(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    # The assignments page requests the service worker to save every household's pages.
    if page.locator("[data-assignments]").count():
        page.wait_for_function("document.documentElement.dataset.pagesCached !== undefined", timeout=60_000)
    page.wait_for_timeout(300)


def measure_page(browser, playwright, base_url: str, name: str, path: str, counter: ByteCounter) -> dict:
    context = browser.new_context(**playwright.devices["Pixel 7"], locale="zh-CN")
    log_in_without_page(context, base_url)
    page = context.new_page()
    recorder = Recorder(context.new_cdp_session(page))
    server_before = counter.total
    load_and_settle(page, base_url + path)
    first = recorder.network_bytes()
    first_requests = len(recorder.requests)
    server_first = counter.total - server_before

    recorder.reset()
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30_000)
    server_before = counter.total
    load_and_settle(page, base_url + path)
    server_repeat = counter.total - server_before
    shell = [entry for entry in recorder.requests.values() if SHELL_PATTERN.search(entry["url"])]
    shell_from_network = sum(entry["bytes"] for entry in shell if not entry["from_service_worker"])
    shell_from_worker = sum(1 for entry in shell if entry["from_service_worker"])
    context.close()
    return {
        "name": name, "first": first, "first_requests": first_requests, "server_first": server_first,
        "shell_files": len(shell), "shell_from_worker": shell_from_worker,
        "shell_from_network": shell_from_network, "server_repeat": server_repeat,
    }


PHOTO_JS = """
async () => {
  const rows = await FieldApp.store.getAll('photos');
  return rows.map((row) => ({bytes: row.blob.size, width: row.width, height: row.height,
    latitude: row.latitude, takenAt: row.taken_at}));
}
"""


def measure_photo(browser, playwright, base_url: str, form_path: str, photo: bytes) -> dict:
    context = browser.new_context(**playwright.devices["Pixel 7"], locale="zh-CN")
    page = context.new_page()
    log_in(page, base_url)
    page.goto(base_url + form_path)
    page.wait_for_function("() => Boolean(window.FieldApp && FieldApp.preparePhoto)")
    started = time.monotonic()
    page.locator("#in-house_photo").set_input_files(
        files=[{"name": "IMG_12MP.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    page.locator("#q-house_photo .photo-thumb").wait_for(timeout=60_000)
    seconds = time.monotonic() - started
    stored = page.evaluate(PHOTO_JS)[0]
    context.close()
    return {**stored, "seconds": seconds}


def kilobytes(value: int) -> str:
    return f"{value / 1024:.1f} KB"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="fieldapp-bench-weight-") as folder:
        server, counter, base_url, sampled_ids = serve(folder)
        photo = twelve_megapixel_photo()
        pages = [
            ("assignments", "/visits/"),
            ("household", f"/visits/households/{sampled_ids[0]}"),
            ("visit form", f"/visits/households/{sampled_ids[0]}/new"),
        ]
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                results = [measure_page(browser, playwright, base_url, name, path, counter)
                           for name, path in pages]
                stored = measure_photo(browser, playwright, base_url, pages[2][1], photo)
                browser.close()
        finally:
            server.close()

    print(f"\nInspector pages on a Pixel 7 profile, {HOUSEHOLDS} assigned households of 4 members, gzip on")
    print(f"{'page':<12} {'first load':>11} {'requests':>9} {'server sent':>12}   repeat load: shell files "
          f"from the service worker, shell bytes from the network, server sent")
    met = True
    for row in results:
        met = met and row["first"] <= FIRST_LOAD_GOAL and row["shell_from_network"] == 0
        print(f"{row['name']:<12} {kilobytes(row['first']):>11} {row['first_requests']:>9} "
              f"{kilobytes(row['server_first']):>12}   {row['shell_from_worker']} of {row['shell_files']}, "
              f"{row['shell_from_network']} bytes, {kilobytes(row['server_repeat'])}")
    print(f"goals: first load at most {kilobytes(FIRST_LOAD_GOAL)}; 0 bytes of the app shell from the "
          f"network on a repeat load")
    ratio = stored["bytes"] / len(photo)
    met = met and ratio <= PHOTO_GOAL
    print(f"\n12 MP photo: original {len(photo) / 1048576:.2f} MB (4000 x 3000), kept for upload "
          f"{kilobytes(stored['bytes'])} ({stored['width']} x {stored['height']}), {ratio:.1%} of the "
          f"original (goal at most {PHOTO_GOAL:.0%}); EXIF latitude read on the phone: {stored['latitude']}, "
          f"capture time {stored['takenAt']}; prepared in {stored['seconds']:.1f} s")
    print("all goals met" if met else "GOALS NOT MET")


if __name__ == "__main__":
    main()
