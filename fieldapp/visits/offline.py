"""The offline side of the phone pages: the service worker, the web app manifest, the offline page,
and the settings and messages that the page scripts read.

The service worker is served from ``/sw.js`` so that its scope is the whole site. It keeps the
app shell (``SHELL_FILES``) under a cache named after ``shell_version()``, which changes when any
of those files changes, so a new release replaces the cached shell on the next visit.
"""

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, current_app, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

bp = Blueprint("offline", __name__)

# Static files every phone page needs, relative to the static folder; the service worker keeps them.
SHELL_FILES = (
    "css/app.css",
    "css/visit.css",
    "js/store.js",
    "js/sha256.js",
    "js/exif.js",
    "js/photo_prepare.js",
    "js/sync.js",
    "js/offline.js",
    "js/visit.js",
    "img/icon.svg",
)
SERVICE_WORKER_SOURCE = "js/sw.js"


def _static_path(name: str) -> Path:
    return Path(current_app.static_folder) / name


@lru_cache(maxsize=4)
def _version_of(static_folder: str, mtimes: tuple) -> str:
    digest = hashlib.sha256()
    for name in (*SHELL_FILES, SERVICE_WORKER_SOURCE):
        digest.update(name.encode())
        digest.update((Path(static_folder) / name).read_bytes())
    return digest.hexdigest()[:16]


def shell_version() -> str:
    """Return a hash of the app shell's files; it changes whenever one of them changes."""
    names = (*SHELL_FILES, SERVICE_WORKER_SOURCE)
    mtimes = tuple(_static_path(name).stat().st_mtime_ns for name in names)
    return _version_of(current_app.static_folder, mtimes)


def shell_urls() -> list[str]:
    return [url_for("static", filename=name) for name in SHELL_FILES] + [
        url_for("offline.offline_page"), url_for("offline.manifest"),
    ]


@bp.route("/sw.js")
def service_worker():
    """Serve the service worker with its settings. It is public, because it contains no data."""
    settings = {
        "version": shell_version(),
        "shell": shell_urls(),
        "offlinePage": url_for("offline.offline_page"),
        # Pages under this prefix are kept for offline use; "/" falls back to the first of them.
        "pagePrefix": url_for("visits.assignments"),
        "loginPath": url_for("auth.login"),
    }
    source = _static_path(SERVICE_WORKER_SOURCE).read_text(encoding="utf-8")
    body = f"self.FIELDAPP_SW = {json.dumps(settings)};\n{source}"
    response = current_app.response_class(body, mimetype="text/javascript")
    # Browsers check for a new service worker on each visit; let them revalidate every time.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/manifest.webmanifest")
def manifest():
    body = {
        "name": _("FieldApp"),
        "short_name": _("FieldApp"),
        "start_url": url_for("visits.assignments"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#f4f6f8",
        "theme_color": "#1f5f8b",
        "icons": [
            {"src": url_for("static", filename="img/icon.svg"), "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    text = json.dumps(body, ensure_ascii=False)
    return current_app.response_class(text, mimetype="application/manifest+json")


@bp.route("/offline")
def offline_page():
    """Render the page shown in place of a phone page that was never saved for offline use (public)."""
    return render_template("visits/offline.html")


def page_settings() -> dict:
    """Return what the phone page scripts need: the user, API addresses, photo settings and messages."""
    config = current_app.config
    user = current_user if current_user.is_authenticated else None
    return {
        "userId": user.id if user else None,
        "urls": {
            "session": url_for("api.session"),
            "tokens": url_for("api.issue_token"),
            "currentToken": url_for("api.revoke_token"),
            "assignments": url_for("api.assignments"),
            "visits": url_for("api.upload_visit"),
            "login": url_for("auth.login", next=url_for("visits.assignments")),
            "home": url_for("visits.assignments"),
            "serviceWorker": url_for("offline.service_worker"),
        },
        "photo": {
            "maxLongSide": int(config["PHOTO_CLIENT_MAX_LONG_SIDE"]),
            "quality": float(config["PHOTO_CLIENT_JPEG_QUALITY"]),
        },
        "pageRefreshSeconds": int(config["OFFLINE_PAGE_REFRESH_S"]),
        "messages": messages(),
    }


def page_settings_json() -> Markup:
    """Return ``page_settings()`` as JSON that is safe inside a ``<script type="application/json">``."""
    text = json.dumps(page_settings(), ensure_ascii=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def messages() -> dict[str, str]:
    """Return the texts the page scripts show, translated; ``{name}`` marks a value the script fills in."""
    return {
        "unsent": _("Not sent yet: {visits} visits, {photos} photos."),
        "allSent": _("Everything is sent."),
        "lastSync": _("Last in contact with the server at {time}."),
        "neverSynced": _("Not in contact with the server yet."),
        "sending": _("Sending… {done} of {total} items."),
        "offline": _("No signal. Everything is kept on this phone and is sent when a signal returns."),
        "retrying": _("Sending failed ({error}). Trying again in {seconds} s."),
        "serverError": _("the server responded with HTTP {status}"),
        "networkError": _("no connection to the server"),
        "loginNeeded": _("Log in again to send what is waiting. Nothing is lost."),
        "logIn": _("Log in"),
        "sendNow": _("Send now"),
        "details": _("Show what is waiting"),
        "storageLow": _("Storage on this phone is nearly full: {free} MB free. Send the waiting visits soon, "
                        "and free space on the phone."),
        "storageNotPersistent": _("This browser may delete saved visits when the phone runs short of "
                                  "storage. Add FieldApp to the home screen and send visits often."),
        "storageFull": _("The phone's storage is full, so this could not be saved. Free space on the phone, "
                         "then try again. What was already saved is kept."),
        "noStorage": _("This browser cannot keep visits on the phone (private mode?). Visits are sent "
                       "directly and need a signal."),
        "logoutUnsent": _("{visits} visits and {photos} photos are not sent yet. They stay on this phone and "
                          "are sent after you log in again. Log out anyway?"),
        "savedOffline": _("The visit is saved on this phone. It is sent when there is a signal."),
        "visitSent": _("The visit was saved."),
        "visitRejected": _("The server did not accept a visit to {household}: {message} "
                           "Open it to correct it."),
        "visitConflict": _("A visit to {household} was not saved: {message}"),
        "photoRejected": _("A photo of the visit to {household} was not accepted: {message}"),
        "open": _("Open"),
        "discardPhotos": _("Stop sending its photos"),
        "discardPhotosConfirm": _(
            "Delete the unsent photos of the visit to {household} from this phone? The server keeps the "
            "visit, marked as missing photos; take the photos again in a new visit if they are needed."),
        "waiting": _("Waiting to send"),
        "draftSaved": _("Unfinished visit on this phone"),
        "stateWaiting": _("{household}: waiting"),
        "stateSending": _("{household}: photos {done} of {total} sent"),
        "draftRestored": _("Your unfinished answers saved at {time} are back."),
        "draftRestoredPhotos": _("Your unfinished answers saved at {time} are back, with {photos} photos."),
        "discardDraft": _("Discard them and start again"),
        "discardConfirm": _("Delete the unfinished answers and photos of this visit?"),
        "photoSaving": _("Preparing the photo…"),
        "photoSaved": _("{count} photos kept on the phone, {size} KB."),
        "photoUnreadable": _("{name} could not be read as a photo. Take it again."),
        "removePhoto": _("Remove"),
        "photoAlt": _("Photo {number}"),
        "pagesSaved": _("{count} pages are saved for offline use."),
        "insecure": _("This page was opened without HTTPS, so the phone saves no pages for offline use and "
                      "gives no location. Ask the administrator for the https:// address of FieldApp."),
        "pageOffline": _("No signal: this is the copy saved on the phone."),
    }


@bp.app_template_global("offline_settings")
def offline_settings() -> Markup:
    """Template global: the page scripts' settings as JSON for a ``<script type="application/json">``."""
    return page_settings_json()
