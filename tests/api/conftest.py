"""Records, tokens and request helpers that the sync API tests share."""

import hashlib
import uuid

import pytest

from fieldapp.api import tokens
from tests.visits.support import (
    HOUSEHOLD_ANSWERS,
    HOUSEHOLD_LATITUDE,
    HOUSEHOLD_LONGITUDE,
    MEMBER_ANSWERS,
    jpeg_bytes,
    sample,
)


@pytest.fixture
def inspector(make):
    return make.user("inspector", [make.LAODIAN])


@pytest.fixture
def household(make):
    return make.household(members=2, latitude=HOUSEHOLD_LATITUDE, longitude=HOUSEHOLD_LONGITUDE)


@pytest.fixture
def sampled(household, inspector):
    return sample(household, inspector)


@pytest.fixture
def token(ctx, inspector):
    value, _row = tokens.issue(inspector, user_agent="tests")
    return value


@pytest.fixture
def api(client, token):
    return ApiClient(client, token)


class ApiClient:
    """A test client that sends the bearer token with every request."""

    def __init__(self, client, token: str | None):
        self.client = client
        self.token = token

    def headers(self, extra=None) -> dict:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **(extra or {})}

    def get(self, url, **kwargs):
        return self.client.get(url, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def post_visit(self, body, **kwargs):
        headers = self.headers(kwargs.pop("headers", None))
        return self.client.post("/api/v1/visits", json=body, headers=headers, **kwargs)

    def put_photo(self, visit_uuid, photo_uuid, data: bytes, sha256: str | None = None, **kwargs):
        headers = self.headers({"X-Content-SHA256": sha256 or hashlib.sha256(data).hexdigest(),
                                **kwargs.pop("headers", {})})
        return self.client.put(f"/api/v1/visits/{visit_uuid}/photos/{photo_uuid}", data=data,
                               content_type="image/jpeg", headers=headers, **kwargs)


def visit_fields(household, **overrides) -> dict:
    """Return the fields of a complete, valid visit form, as the phone's outbox sends them."""
    fields = {
        "latitude": str(HOUSEHOLD_LATITUDE + 0.0005),
        "longitude": str(HOUSEHOLD_LONGITUDE),
        "accuracy_m": "12.5",
        "fixed_at": "2026-05-01T02:00:00Z",
        "started_at": "2026-05-01T01:40:00Z",
        "submitted_at": "2026-05-01T02:01:00Z",
        **HOUSEHOLD_ANSWERS,
    }
    for member in household.members:
        for key, value in MEMBER_ANSWERS.items():
            fields[f"member_checks.{member.id}.{key}"] = value
    for key, value in overrides.items():
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    return fields


def declared(data: bytes, field: str = "house_photo", **extra) -> dict:
    return {"client_uuid": str(uuid.uuid4()), "sha256": hashlib.sha256(data).hexdigest(), "field": field,
            **extra}


def visit_body(sampled, photos: list[dict] | None = None, client_uuid: str | None = None,
               **overrides) -> dict:
    """Return a visit upload for ``sampled`` declaring ``photos`` (by default one house photo)."""
    if photos is None:
        photos = [declared(jpeg_bytes())]
    return {
        "client_uuid": client_uuid or str(uuid.uuid4()),
        "sampled_household_id": sampled.id,
        "fields": visit_fields(sampled.household, **overrides),
        "photos": photos,
    }
