"""Reading the JSON bodies the sync API accepts, with an error that names the bad part.

A visit is sent as the fields its HTML form would post, so the API and the form share one
parser and one set of checks, and fields that other features add to the form ride along.
"""

import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from fieldapp.api.responses import ApiError
from fieldapp.visits.forms import photo_question_keys
from fieldapp.visits.photos import CAMERA_TIMEZONE
from fieldapp.visits.services import GENERAL_PHOTO_FIELD, PhotoUpload

SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
# Form fields the server fills itself or that only browsers need.
IGNORED_FIELDS = ("csrf_token",)
MAX_FIELDS = 2000
MAX_FIELD_VALUES = 100


@dataclass
class VisitPayload:
    client_uuid: str
    sampled_household_id: int
    questionnaire_id: int | None
    fields: MultiDict
    photos: list[dict]


def _bad(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


def canonical_uuid(value, name: str) -> str:
    """Return the canonical lower-case form of a UUID string; raise 400 naming ``name`` otherwise."""
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value.strip()))
        except ValueError:
            pass
    raise _bad(_("%(name)s must be a UUID such as 0f8b8e1c-3c1e-4f53-9d64-2a9b8b7f6c10, not %(value)s.",
                 name=name, value=repr(value)[:80]))


def _integer(body: dict, name: str, *, required: bool) -> int | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(_("%(name)s must be a whole number, not %(value)s.", name=name, value=repr(value)[:80]))
    return value


def visit_payload(body) -> VisitPayload:
    """Check the shape of a visit upload and return its parts; raise ``ApiError`` 400 naming the bad part."""
    if not isinstance(body, dict):
        raise _bad(_("Send the visit as a JSON object."))
    client_uuid = canonical_uuid(body.get("client_uuid"), "client_uuid")
    sampled_id = _integer(body, "sampled_household_id", required=True)
    questionnaire_id = _integer(body, "questionnaire_id", required=False)
    fields = _fields(body.get("fields"))
    photos = body.get("photos", [])
    if not isinstance(photos, list):
        raise _bad(_("photos must be a list of photo objects."))
    return VisitPayload(client_uuid, sampled_id, questionnaire_id, fields, photos)


def _fields(raw) -> MultiDict:
    """Turn ``{"name": "value" or ["value", ...]}`` into the ``MultiDict`` a posted form gives."""
    if not isinstance(raw, dict):
        raise _bad(_("fields must be an object of form field names and their values."))
    if len(raw) > MAX_FIELDS:
        raise _bad(_("fields has %(count)d entries; at most %(max)d are accepted.",
                     count=len(raw), max=MAX_FIELDS))
    fields = MultiDict()
    for name, value in raw.items():
        if name in IGNORED_FIELDS:
            continue
        values = value if isinstance(value, list) else [value]
        if len(values) > MAX_FIELD_VALUES or not all(isinstance(item, str) for item in values):
            raise _bad(_("fields.%(name)s must be a string or a list of at most %(max)d strings.",
                         name=name, max=MAX_FIELD_VALUES))
        for item in values:
            fields.add(name, item)
    return fields


def photo_uploads(raw_photos: list, definition: dict) -> list[PhotoUpload]:
    """Turn the declared photos into ``PhotoUpload``s without data, numbered per form field in order."""
    allowed = set(photo_question_keys(definition)) | {GENERAL_PHOTO_FIELD}
    seen: set[str] = set()
    counts: dict[str, int] = {}
    uploads = []
    for position, raw in enumerate(raw_photos):
        where = f"photos[{position}]"
        if not isinstance(raw, dict):
            raise _bad(_("%(where)s must be an object.", where=where))
        client_uuid = canonical_uuid(raw.get("client_uuid"), f"{where}.client_uuid")
        if client_uuid in seen:
            raise _bad(_("%(where)s.client_uuid %(uuid)s is declared twice.", where=where, uuid=client_uuid))
        seen.add(client_uuid)
        sha256 = raw.get("sha256")
        if not isinstance(sha256, str) or not SHA256_PATTERN.fullmatch(sha256):
            raise _bad(_("%(where)s.sha256 must be 64 lower-case hexadecimal digits.", where=where))
        field = raw.get("field")
        if field not in allowed:
            raise _bad(_("%(where)s.field must be one of %(fields)s, not %(value)s.",
                         where=where, fields=", ".join(sorted(allowed)), value=repr(field)[:80]))
        latitude, longitude = _position(raw, where)
        index = counts.get(field, 0)
        counts[field] = index + 1
        uploads.append(PhotoUpload(
            field=field,
            index=index,
            filename="",
            data=None,
            question_key=None if field == GENERAL_PHOTO_FIELD else field,
            client_uuid=client_uuid,
            sha256=sha256,
            taken_at=_capture_time(raw.get("taken_at"), where),
            latitude=latitude,
            longitude=longitude,
        ))
    return uploads


def _capture_time(value, where: str) -> datetime | None:
    """Parse an EXIF capture time sent as ISO 8601; one without a zone is camera time (Asia/Shanghai)."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise _bad(_("%(where)s.taken_at must be an ISO 8601 time such as 2026-05-01T10:30:00+08:00.",
                     where=where))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CAMERA_TIMEZONE)
    return parsed.astimezone(UTC)


def _position(raw: dict, where: str) -> tuple[float | None, float | None]:
    latitude, longitude = raw.get("latitude"), raw.get("longitude")
    if latitude is None and longitude is None:
        return None, None
    numbers = (latitude, longitude)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in numbers):
        raise _bad(_("%(where)s.latitude and .longitude must both be numbers, or both be left out.",
                     where=where))
    if abs(latitude) > 90 or abs(longitude) > 180:
        raise _bad(_("%(where)s has the position %(latitude)s, %(longitude)s, which is not on the Earth.",
                     where=where, latitude=latitude, longitude=longitude))
    return float(latitude), float(longitude)
