"""Ten identical requests at once store one visit, and one photo, with no server error.

These tests commit from several threads, so they run without the per-test rollback and delete
what they wrote. They run on SQLite and, with FIELDAPP_TEST_DATABASE_URI, on PostgreSQL.
"""

import threading
import uuid

import pytest
from sqlalchemy import delete, func, select

from fieldapp.api import tokens
from fieldapp.api.models import ApiToken
from fieldapp.audit.models import AuditRecord
from fieldapp.auth.models import User, UserDivision
from fieldapp.extensions import db
from fieldapp.register.models import Household, Member
from fieldapp.sampling.models import SampledHousehold, SamplingRound
from fieldapp.visits.models import Photo, Visit
from fieldapp.visits.photos import remove_photo_files
from tests import factories
from tests.api.conftest import ApiClient, declared, visit_body
from tests.visits.support import jpeg_bytes, sample

pytestmark = pytest.mark.committing

PARALLEL = 10


@pytest.fixture
def field(app):
    """Commit an inspector with a sampled household and a sync token; delete all of it afterwards."""
    with app.app_context():
        first_audit = db.session.scalar(select(func.coalesce(func.max(AuditRecord.id), 0)))
        inspector = factories.user("inspector", [factories.LAODIAN])
        household = factories.household(members=2)
        sampled = sample(household, inspector)
        token, _row = tokens.issue(inspector)
        db.session.commit()
        ids = {"inspector": inspector.id, "household": household.id, "sampled": sampled.id,
               "round": sampled.sampling_round_id}
        body = visit_body(sampled, photos=[declared(PHOTO)])
        db.session.remove()
    try:
        yield {"token": token, "body": body, **ids}
    finally:
        with app.app_context():
            _delete_everything(ids, first_audit)


PHOTO = jpeg_bytes(size=(320, 240))


def _delete_everything(ids: dict, first_audit: int) -> None:
    visit_ids = db.session.scalars(select(Visit.id).where(Visit.inspector_id == ids["inspector"])).all()
    photos = db.session.execute(select(Photo.stored_name, Photo.thumbnail_name)
                                .where(Photo.visit_id.in_(visit_ids))).all()
    remove_photo_files([name for row in photos for name in row])
    db.session.execute(delete(Photo).where(Photo.visit_id.in_(visit_ids)))
    db.session.execute(delete(Visit).where(Visit.id.in_(visit_ids)))
    db.session.execute(delete(AuditRecord).where(AuditRecord.id > first_audit))
    db.session.execute(delete(ApiToken).where(ApiToken.user_id == ids["inspector"]))
    db.session.execute(delete(SampledHousehold).where(SampledHousehold.id == ids["sampled"]))
    db.session.execute(delete(SamplingRound).where(SamplingRound.id == ids["round"]))
    db.session.execute(delete(Member).where(Member.household_id == ids["household"]))
    db.session.execute(delete(Household).where(Household.id == ids["household"]))
    db.session.execute(delete(UserDivision).where(UserDivision.user_id == ids["inspector"]))
    db.session.execute(delete(User).where(User.id == ids["inspector"]))
    db.session.commit()
    db.session.remove()


def in_parallel(app, send) -> list[int]:
    """Call ``send(client)`` from PARALLEL threads released together; return the status codes."""
    barrier = threading.Barrier(PARALLEL)
    statuses: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker():
        client = app.test_client()
        barrier.wait()
        try:
            status = send(client).status_code
        except BaseException as error:  # noqa: BLE001 - reported below with the other results
            with lock:
                errors.append(error)
            return
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=worker) for _ in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return statuses


def test_parallel_visits_store_one(app, field):
    statuses = in_parallel(app, lambda client: ApiClient(client, field["token"]).post_visit(field["body"]))
    assert sorted(statuses) == [200] * (PARALLEL - 1) + [201]
    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(Visit)
                                   .where(Visit.client_uuid == field["body"]["client_uuid"]))
        receives = db.session.scalar(select(func.count()).select_from(AuditRecord)
                                     .where(AuditRecord.action == "visit.receive",
                                            AuditRecord.user_id == field["inspector"]))
        db.session.remove()
    assert stored == 1
    assert receives == 1


def test_parallel_photos_store_one(app, field):
    body = field["body"]
    phone = ApiClient(app.test_client(), field["token"])
    assert phone.post_visit(body).status_code == 201
    photo_uuid = body["photos"][0]["client_uuid"]

    statuses = in_parallel(app, lambda client: ApiClient(client, field["token"]).put_photo(
        body["client_uuid"], photo_uuid, PHOTO))
    assert sorted(statuses) == [200] * (PARALLEL - 1) + [201]
    status = phone.get(f"/api/v1/visits/{body['client_uuid']}").get_json()
    assert status["complete"] is True
    with app.app_context():
        rows = db.session.scalars(select(Photo).where(Photo.client_uuid == photo_uuid)).all()
        db.session.remove()
    assert len(rows) == 1


def test_parallel_conflicting_visits_store_one(app, field):
    """Different content under one UUID at once: one is stored, the others get 409, never 5xx."""
    bodies = []
    for index in range(PARALLEL):
        body = {**field["body"], "fields": {**field["body"]["fields"], "wage_income": str(1000 + index)}}
        bodies.append(body)
    chosen = iter(bodies)
    lock = threading.Lock()

    def send(client):
        with lock:
            body = next(chosen)
        return ApiClient(client, field["token"]).post_visit(body)

    statuses = in_parallel(app, send)
    assert sorted(statuses) == [201] + [409] * (PARALLEL - 1)
    with app.app_context():
        stored = db.session.scalars(
            select(Visit).where(Visit.client_uuid == field["body"]["client_uuid"])).all()
        db.session.remove()
    assert len(stored) == 1
    assert uuid.UUID(stored[0].client_uuid)
