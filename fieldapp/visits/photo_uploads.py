"""Photos sent one by one after their visit: checked against the visit's manifest and stored once.

A visit sent by the sync API declares its photos (client UUID and SHA-256 of each) in its
manifest. Each photo then arrives on its own request, so a dropped connection loses at most one
photo's progress. A photo is stored only when its bytes match the declared SHA-256; the same
photo sent again returns the stored one, and other bytes under a stored photo's UUID are a
``Conflict``. The visit is complete when every declared photo has arrived.
"""

import hashlib
import logging
from dataclasses import dataclass, field

from flask import abort, current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from fieldapp.audit.services import record
from fieldapp.errors import Conflict, FieldError
from fieldapp.extensions import db
from fieldapp.scope import scoped_select
from fieldapp.visits import photos
from fieldapp.visits.forms import parse_timestamp
from fieldapp.visits.models import Photo, Visit

logger = logging.getLogger(__name__)


class PhotoRejected(ValueError):
    """The photo's bytes are unusable: damaged in transit, or not an image the server can read."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class PhotoResult:
    photo: Photo
    visit: Visit
    # False when the photo had already been received under the same client UUID.
    created: bool
    # Files written for this photo, to delete if the transaction is rolled back.
    written_files: list[str] = field(default_factory=list)


def own_visit_or_404(client_uuid: str, user, *, lock: bool = False) -> Visit:
    """Load the user's own visit by its client UUID, or abort with 404.

    With ``lock`` the visit row is locked until the transaction ends (``SELECT ... FOR UPDATE``
    on PostgreSQL; SQLite transactions here take the database's write lock when they begin), so
    photos of one visit are stored one at a time.
    """
    stmt = scoped_select(Visit, user).where(Visit.client_uuid == client_uuid, Visit.inspector_id == user.id)
    if lock:
        stmt = stmt.with_for_update(of=Visit)
    visit = db.session.execute(stmt).scalar_one_or_none()
    if visit is None:
        abort(404)
    return visit


def declared_photo(visit: Visit, photo_uuid: str) -> dict:
    """Return the manifest entry of ``photo_uuid``, or abort with 404 when the visit did not declare it."""
    for entry in visit.photo_manifest or []:
        if entry.get("client_uuid") == photo_uuid:
            return entry
    abort(404)


def stored_photo(photo_uuid: str) -> Photo | None:
    return db.session.execute(select(Photo).where(Photo.client_uuid == photo_uuid)).scalar_one_or_none()


def check_sha256(data: bytes, declared_sha256: str) -> None:
    """Raise ``PhotoRejected`` when the bytes that arrived are not the ones the phone hashed."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != declared_sha256:
        logger.info("photo upload damaged in transit: SHA-256 %s, declared %s", actual, declared_sha256)
        raise PhotoRejected(_(
            "The photo arrived damaged: its SHA-256 is %(actual)s, not %(declared)s. Send it again.",
            actual=actual, declared=declared_sha256,
        ))


def repeat_or_conflict(stored: Photo, visit: Visit, sha256: str) -> PhotoResult:
    """Return the stored photo when the same photo was sent again; raise ``Conflict`` otherwise."""
    if stored.visit_id != visit.id or stored.upload_sha256 != sha256:
        logger.info("photo %s: client UUID %s sent again with different content",
                    stored.id, stored.client_uuid)
        raise Conflict(_(
            "A different photo was already saved with this photo ID (%(uuid)s), so nothing was changed.",
            uuid=stored.client_uuid,
        ))
    logger.info("photo %s: repeat upload of client UUID %s, nothing stored", stored.id, stored.client_uuid)
    return PhotoResult(photo=stored, visit=visit, created=False)


def check_declared(entry: dict, sha256: str) -> None:
    """Raise ``Conflict`` when the upload's SHA-256 differs from the one its visit declared."""
    if entry.get("sha256") != sha256:
        raise Conflict(_(
            "The visit declared this photo (%(uuid)s) with SHA-256 %(declared)s, but %(sent)s was sent, "
            "so nothing was saved.", uuid=entry.get("client_uuid"), declared=entry.get("sha256"), sent=sha256,
        ))


def decode(data: bytes) -> photos.ProcessedPhoto:
    """Decode and re-encode an uploaded photo; raise ``PhotoRejected`` when it is not a usable image."""
    limits = photos.PhotoLimits.from_config(current_app.config)
    try:
        return photos.process_photo(data, "", "photo", limits)
    except FieldError as error:
        raise PhotoRejected(error.message) from error


def store_photo(visit: Visit, entry: dict, image: photos.ProcessedPhoto, user) -> PhotoResult:
    """Store a decoded photo for ``visit`` under its declared UUID. Flushes, no commit.

    ``visit`` must be locked (``own_visit_or_404(..., lock=True)``). When a concurrent request
    stored the same UUID first, the files written here are removed and that photo is returned,
    or ``Conflict`` is raised when its content differs.
    """
    stored_name, thumbnail_name = photos.write_photo_files(image)
    written = [stored_name, thumbnail_name]
    row = photos.new_photo_row(
        image,
        client_uuid=entry["client_uuid"],
        question_key=entry.get("question_key"),
        stored_name=stored_name,
        thumbnail_name=thumbnail_name,
    )
    _fill_from_manifest(row, entry)
    row.visit_id = visit.id
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError as error:
        photos.remove_photo_files(written)
        stored = stored_photo(entry["client_uuid"])
        if stored is None:
            raise
        logger.info("photo with client UUID %s was stored by a concurrent request (%s)",
                    entry["client_uuid"], error)
        return repeat_or_conflict(stored, visit, image.upload_sha256)

    db.session.refresh(visit, ["photos"])
    record("photo.receive", row, user=user, visit_id=visit.id, question_key=row.question_key,
           photos_received=len(visit.photos), photos_expected=visit.photos_expected,
           complete=visit.is_complete)
    return PhotoResult(photo=row, visit=visit, created=True, written_files=written)


def _fill_from_manifest(row: Photo, entry: dict) -> None:
    """Take the capture time and position the phone read from the original photo's EXIF block.

    A photo downscaled on the phone carries no EXIF block of its own; when it does, its own
    values are kept.
    """
    if row.taken_at is None and entry.get("taken_at"):
        row.taken_at = parse_timestamp(entry["taken_at"])
    if row.exif_latitude is None and row.exif_longitude is None:
        row.exif_latitude = entry.get("latitude")
        row.exif_longitude = entry.get("longitude")


def visit_status(visit: Visit) -> dict:
    """Return which declared photos of the visit have arrived and which are missing."""
    received = {photo.client_uuid for photo in visit.photos}
    declared = [entry["client_uuid"] for entry in visit.photo_manifest or []]
    return {
        "client_uuid": visit.client_uuid,
        "visit_id": visit.id,
        "complete": visit.is_complete,
        "photos_expected": visit.photos_expected,
        "photos_received": [uuid for uuid in declared if uuid in received],
        "photos_missing": [uuid for uuid in declared if uuid not in received],
    }
