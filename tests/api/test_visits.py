import hashlib
import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from fieldapp.audit.models import AuditRecord
from fieldapp.extensions import db
from fieldapp.register.models import Member
from fieldapp.review.models import Finding
from fieldapp.visits.models import Photo, Visit
from tests import factories
from tests.api.conftest import ApiClient, declared, visit_body
from tests.visits.support import jpeg_bytes, problem, sample


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def audits(action: str) -> int:
    stmt = select(func.count()).select_from(AuditRecord).where(AuditRecord.action == action)
    return db.session.scalar(stmt)


@pytest.fixture(autouse=True)
def committed(sampled):
    # Views roll back rejected requests; the records the test made must survive that.
    db.session.commit()


# Visits.


def test_visit_stored_incomplete(api, sampled, household, inspector):
    body = visit_body(sampled)
    response = api.post_visit(body)
    data = response.get_json()
    assert response.status_code == 201
    visit = db.session.scalars(select(Visit)).one()
    assert data["visit_id"] == visit.id
    assert data["created"] is True
    assert data["complete"] is False
    assert data["photos_missing"] == [body["photos"][0]["client_uuid"]]
    assert data["url"] == f"/visits/{visit.id}"
    assert visit.client_uuid == body["client_uuid"]
    assert visit.inspector_id == inspector.id
    assert visit.answers["house_photo"] == 1
    assert visit.answers["member_checks"][str(household.members[0].id)]["months_worked"] == 6
    assert visit.photos_expected == 1
    assert visit.photo_manifest[0]["sha256"] == body["photos"][0]["sha256"]
    assert not visit.is_complete
    assert audits("visit.receive") == 1


def test_visit_sent_three_times_stored_once(api, sampled, household):
    confirmed = problem(household)
    db.session.commit()
    body = visit_body(sampled, problem_ids=str(confirmed.id), **{f"outcome_{confirmed.id}": "confirmed",
                                                                 "onsite_category_0": "收入",
                                                                 "onsite_description_0": "务工收入未登记"})
    statuses = [api.post_visit(body).status_code for _ in range(3)]
    assert statuses == [201, 200, 200]
    assert count(Visit) == 1
    assert count(Finding) == 2
    assert audits("visit.receive") == 1


def test_repeat_with_new_send_time_is_same_visit(api, sampled):
    body = visit_body(sampled)
    assert api.post_visit(body).status_code == 201
    body["fields"]["submitted_at"] = "2026-05-01T09:00:00Z"
    assert api.post_visit(body).status_code == 200
    assert count(Visit) == 1


def test_changed_content_is_409(api, sampled):
    body = visit_body(sampled)
    assert api.post_visit(body).status_code == 201
    before = dict(db.session.scalars(select(Visit)).one().answers)
    body["fields"]["food_enough"] = "no"
    response = api.post_visit(body)
    assert response.status_code == 409
    assert response.get_json()["error"] == "conflict"
    assert body["client_uuid"] in response.get_json()["message"]
    db.session.expire_all()
    assert db.session.scalars(select(Visit)).one().answers == before
    assert count(Visit) == 1


def test_changed_photo_list_is_409(api, sampled):
    body = visit_body(sampled)
    assert api.post_visit(body).status_code == 201
    body["photos"] = [declared(jpeg_bytes(size=(30, 30)))]
    assert api.post_visit(body).status_code == 409
    assert db.session.scalars(select(Visit)).one().photos_expected == 1


def test_invalid_answers_are_422_per_field(api, sampled):
    body = visit_body(sampled, food_enough=None, water_interruption_days="400")
    response = api.post_visit(body)
    data = response.get_json()
    assert response.status_code == 422
    assert data["error"] == "invalid"
    assert set(data["errors"]) >= {"food_enough", "water_interruption_days"}
    assert count(Visit) == 0


def test_required_photo_needs_declaration(api, sampled):
    response = api.post_visit(visit_body(sampled, photos=[]))
    assert response.status_code == 422
    assert "house_photo" in response.get_json()["errors"]
    assert count(Visit) == 0


@pytest.mark.parametrize("change, named", [
    ({"client_uuid": "not-a-uuid"}, "client_uuid"),
    ({"sampled_household_id": "7"}, "sampled_household_id"),
    ({"fields": []}, "fields"),
    ({"fields": {"food_enough": 1}}, "fields.food_enough"),
    ({"photos": {}}, "photos"),
    ({"photos": [{"client_uuid": str(uuid.uuid4()), "sha256": "00", "field": "house_photo"}]},
     "photos[0].sha256"),
    ({"photos": [{"client_uuid": str(uuid.uuid4()), "sha256": "0" * 64, "field": "roof"}]},
     "photos[0].field"),
    ({"photos": [{"client_uuid": str(uuid.uuid4()), "sha256": "0" * 64, "field": "photos",
                  "taken_at": "yesterday"}]}, "photos[0].taken_at"),
    ({"photos": [{"client_uuid": str(uuid.uuid4()), "sha256": "0" * 64, "field": "photos",
                  "latitude": 95, "longitude": 117}]}, "photos[0]"),
])
def test_malformed_body_is_400_naming_part(api, sampled, change, named):
    body = {**visit_body(sampled), **change}
    response = api.post_visit(body)
    assert response.status_code == 400
    assert named in response.get_json()["message"]
    assert count(Visit) == 0


def test_not_json_is_400(api, sampled):
    response = api.client.post("/api/v1/visits", data="answers", content_type="text/plain",
                               headers=api.headers())
    assert response.status_code == 400
    assert response.is_json


def test_photo_declared_twice_is_400(api, sampled):
    photo = declared(jpeg_bytes())
    response = api.post_visit(visit_body(sampled, photos=[photo, dict(photo)]))
    assert response.status_code == 400
    assert photo["client_uuid"] in response.get_json()["message"]


def test_too_large_visit_is_413(api, sampled, app, monkeypatch):
    monkeypatch.setitem(app.config, "API_VISIT_MAX_BYTES", 1000)
    response = api.post_visit(visit_body(sampled))
    assert response.status_code == 413
    assert response.get_json()["error"] == "too_large"
    assert count(Visit) == 0


def test_unknown_questionnaire_is_422(api, sampled):
    response = api.post_visit({**visit_body(sampled), "questionnaire_id": 99999})
    assert response.status_code == 422
    assert "questionnaire_id" in response.get_json()["errors"]


def test_other_inspectors_household_is_404(api, make):
    other = sample(make.household(members=1), make.user("inspector", [make.LAODIAN]))
    db.session.commit()
    response = api.post_visit(visit_body(other))
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"
    assert count(Visit) == 0


def test_visit_status_lists_missing_photos(api, sampled):
    first, second = jpeg_bytes(), jpeg_bytes(size=(50, 20))
    body = visit_body(sampled, photos=[declared(first), declared(second, field="photos")])
    api.post_visit(body)
    uuids = [photo["client_uuid"] for photo in body["photos"]]
    api.put_photo(body["client_uuid"], uuids[1], second)
    data = api.get(f"/api/v1/visits/{body['client_uuid']}").get_json()
    assert data["photos_expected"] == 2
    assert data["photos_received"] == [uuids[1]]
    assert data["photos_missing"] == [uuids[0]]
    assert data["complete"] is False


def test_visit_status_of_unknown_visit_is_404(api):
    assert api.get(f"/api/v1/visits/{uuid.uuid4()}").status_code == 404


# Photos.


def test_photos_complete_the_visit(api, sampled):
    house, other = jpeg_bytes(size=(64, 48)), jpeg_bytes(size=(48, 64), colour=(200, 30, 30))
    body = visit_body(sampled, photos=[
        declared(house, taken_at="2026-05-01T10:30:00", latitude=37.64, longitude=117.58),
        declared(other, field="photos"),
    ])
    api.post_visit(body)
    first = api.put_photo(body["client_uuid"], body["photos"][0]["client_uuid"], house)
    assert first.status_code == 201
    assert first.get_json()["visit"]["complete"] is False
    second = api.put_photo(body["client_uuid"], body["photos"][1]["client_uuid"], other)
    assert second.status_code == 201
    assert second.get_json()["visit"]["complete"] is True
    visit = db.session.scalars(select(Visit)).one()
    assert visit.is_complete
    stored = {photo.client_uuid: photo for photo in visit.photos}
    house_photo = stored[body["photos"][0]["client_uuid"]]
    assert house_photo.question_key == "house_photo"
    assert house_photo.upload_sha256 == body["photos"][0]["sha256"]
    # The phone read 10:30 local camera time (Asia/Shanghai) from the original's EXIF block.
    assert house_photo.taken_at == datetime(2026, 5, 1, 2, 30, tzinfo=UTC)
    assert (house_photo.exif_latitude, house_photo.exif_longitude) == (37.64, 117.58)
    assert stored[body["photos"][1]["client_uuid"]].question_key is None
    assert audits("photo.receive") == 2


def test_photo_sent_three_times_stored_once(api, sampled):
    data = jpeg_bytes()
    body = visit_body(sampled, photos=[declared(data)])
    api.post_visit(body)
    statuses = [api.put_photo(body["client_uuid"], body["photos"][0]["client_uuid"], data).status_code
                for _ in range(3)]
    assert statuses == [201, 200, 200]
    assert count(Photo) == 1
    assert audits("photo.receive") == 1


def test_photo_with_other_declared_hash_is_409(api, sampled):
    body = visit_body(sampled)
    api.post_visit(body)
    other = jpeg_bytes(size=(30, 30))
    response = api.put_photo(body["client_uuid"], body["photos"][0]["client_uuid"], other)
    assert response.status_code == 409
    assert count(Photo) == 0


def test_photo_damaged_in_transit_is_422(api, sampled):
    data = jpeg_bytes()
    body = visit_body(sampled, photos=[declared(data)])
    api.post_visit(body)
    damaged = data[:-10] + b"\x00" * 10
    response = api.put_photo(body["client_uuid"], body["photos"][0]["client_uuid"], damaged,
                             sha256=hashlib.sha256(data).hexdigest())
    assert response.status_code == 422
    assert response.get_json()["error"] == "damaged"
    assert count(Photo) == 0


def test_undeclared_photo_is_404(api, sampled):
    body = visit_body(sampled)
    api.post_visit(body)
    data = jpeg_bytes()
    assert api.put_photo(body["client_uuid"], str(uuid.uuid4()), data).status_code == 404
    assert count(Photo) == 0


def test_photo_uuid_of_other_visit_is_409(api, sampled):
    data = jpeg_bytes()
    photo = declared(data)
    first = visit_body(sampled, photos=[photo])
    api.post_visit(first)
    assert api.put_photo(first["client_uuid"], photo["client_uuid"], data).status_code == 201
    second = visit_body(sampled, photos=[photo], food_enough="no")
    assert api.post_visit(second).status_code == 201
    assert api.put_photo(second["client_uuid"], photo["client_uuid"], data).status_code == 409
    assert count(Photo) == 1


def test_photo_not_an_image_is_422(api, sampled):
    data = b"not a photo at all"
    body = visit_body(sampled, photos=[declared(data)])
    api.post_visit(body)
    response = api.put_photo(body["client_uuid"], body["photos"][0]["client_uuid"], data)
    assert response.status_code == 422
    assert response.get_json()["error"] == "invalid"
    assert count(Photo) == 0


def test_photo_without_hash_header_is_400(api, sampled):
    body = visit_body(sampled)
    api.post_visit(body)
    url = f"/api/v1/visits/{body['client_uuid']}/photos/{body['photos'][0]['client_uuid']}"
    response = api.client.put(url, data=jpeg_bytes(), headers=api.headers())
    assert response.status_code == 400
    assert "X-Content-SHA256" in response.get_json()["message"]


def test_photo_of_other_inspectors_visit_is_404(api, sampled, client, make, ctx):
    from fieldapp.api import tokens

    data = jpeg_bytes()
    body = visit_body(sampled, photos=[declared(data)])
    api.post_visit(body)
    intruder = make.user("inspector", [make.LAODIAN])
    token, _row = tokens.issue(intruder)
    db.session.commit()
    other = ApiClient(client, token)
    assert other.put_photo(body["client_uuid"], body["photos"][0]["client_uuid"], data).status_code == 404
    assert other.get(f"/api/v1/visits/{body['client_uuid']}").status_code == 404
    assert count(Photo) == 0


# Pages show what arrived.


def test_pages_mark_incomplete_visit(api, sampled, client, make, inspector):
    from tests.conftest import login

    body = visit_body(sampled)
    api.post_visit(body)
    visit = db.session.scalars(select(Visit)).one()
    supervisor = make.user("supervisor", [make.LAODIAN])
    db.session.commit()
    viewer = client.application.test_client()
    login(viewer, supervisor)
    viewer.set_cookie("lang", "en", domain="localhost.localdomain")
    page = viewer.get(f"/review/visits/{visit.id}").get_data(as_text=True)
    assert "Incomplete" in page
    assert "0 of 1 photos received" in page
    listing = viewer.get(f"/review/sampled/{sampled.id}").get_data(as_text=True)
    assert "Incomplete" in listing

    phone = client.application.test_client()
    login(phone, inspector)
    phone.set_cookie("lang", "en", domain="localhost.localdomain")
    receipt = phone.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "Incomplete" in receipt
    assert "0 of 1 photos received" in receipt

    api.put_photo(body["client_uuid"], body["photos"][0]["client_uuid"], jpeg_bytes())
    assert "Incomplete" not in phone.get(f"/visits/{visit.id}").get_data(as_text=True)


def test_repeat_that_no_longer_validates_is_200(api, sampled, household):
    body = visit_body(sampled)
    assert api.post_visit(body).status_code == 201
    # A member added since: the repeat lacks this member's answers, but it is the visit already stored.
    household.members.append(Member(position=9, name="新成员", id_type="居民身份证",
                                    id_number=factories.id_number("20100101", 991),
                                    relationship_to_head="之子", sex="男", birth_date=date(2010, 1, 1)))
    db.session.commit()
    repeat = api.post_visit(body)
    assert repeat.status_code == 200
    assert repeat.get_json()["created"] is False
    changed = visit_body(sampled, client_uuid=body["client_uuid"])
    changed["fields"]["started_at"] = "2026-05-01T01:00:00Z"
    assert api.post_visit(changed).status_code == 409
    # The same content under a new visit ID is rejected now.
    assert api.post_visit({**body, "client_uuid": str(uuid.uuid4())}).status_code == 422
    assert count(Visit) == 1
