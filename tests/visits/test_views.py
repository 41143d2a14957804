import io
import os
import re
import uuid

import pytest
from sqlalchemy import func, select

from fieldapp.audit.models import AuditRecord
from fieldapp.db_types import utcnow
from fieldapp.extensions import db
from fieldapp.review.models import Finding
from fieldapp.visits.models import Photo, VerificationOutcome, Visit
from fieldapp.visits.photos import photo_path
from tests.conftest import login
from tests.visits.support import (
    HOUSEHOLD_LATITUDE,
    HOUSEHOLD_LONGITUDE,
    jpeg_bytes,
    png_header_only,
    problem,
    sample,
    visit_form,
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
def logged_in(client, inspector):
    login(client, inspector)
    return client


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def stored_files() -> int:
    folder = os.path.dirname(os.path.dirname(photo_path("00/" + "0" * 32 + ".jpg")))
    return sum(len(names) for _root, _dirs, names in os.walk(folder))


def post_visit(client, sampled, data):
    # The view rolls back a rejected visit; the records the test made must survive that.
    db.session.commit()
    return client.post(f"/visits/households/{sampled.id}/new", data=data, content_type="multipart/form-data")


# Pages.


def test_assignments_lists_own_households(logged_in, sampled, household, inspector, make):
    other_inspector = make.user("inspector", [make.LAODIAN])
    sample(make.household(members=1), other_inspector)
    response = logged_in.get("/visits/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert household.head.name in page
    assert household.head.id_number not in page
    assert household.head.id_number[:6] + "********" + household.head.id_number[-4:] in page
    assert page.count("/visits/households/") == 1


def test_assignments_shows_visited(logged_in, sampled, household):
    assert post_visit(logged_in, sampled, visit_form(household, str(uuid.uuid4()))).status_code == 302
    page = logged_in.get("/visits/").get_data(as_text=True)
    assert "已核查" in page or "Visited" in page


def test_assignments_need_inspector_role(client, make):
    login(client, make.user("supervisor", [make.LAODIAN]))
    assert client.get("/visits/").status_code == 404


def test_assignments_need_login(client):
    response = client.get("/visits/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_household_page_shows_register_and_problems(logged_in, sampled, household):
    problem(household, detail="证件号码校验位应为 X，实为 3")
    response = logged_in.get(f"/visits/households/{sampled.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    for member in household.members:
        assert member.name in page
        assert member.id_number not in page
    assert "证件号码校验位应为 X，实为 3" in page


def test_new_form_renders_questionnaire(logged_in, sampled, household):
    problem(household)
    logged_in.set_cookie("lang", "en", domain="localhost.localdomain")
    response = logged_in.get(f"/visits/households/{sampled.id}/new")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'capture="environment"' in page
    assert 'name="house_photo"' in page
    assert 'name="photos"' in page
    assert f'name="member_checks.{household.members[0].id}.health"' in page
    assert 'name="client_uuid"' in page
    assert "onsite_category_2" in page
    for outcome in ("confirmed", "not_confirmed", "explained"):
        assert f'value="{outcome}"' in page
    assert "Structure of the main house" in page
    assert "js/visit.js" in page


@pytest.mark.parametrize("url", [
    "/visits/households/{id}",
    "/visits/households/{id}/new",
])
def test_other_inspectors_household_is_404(client, make, url):
    owner = make.user("inspector", [make.LAODIAN])
    intruder = make.user("inspector", [make.LAODIAN])
    sampled = sample(make.household(members=1), owner)
    login(client, intruder)
    assert client.get(url.format(id=sampled.id)).status_code == 404


def test_other_township_household_is_404(client, make):
    inspector = make.user("inspector", [make.SHUIWAN])
    household = make.household(make.LAODIAN_VILLAGE, members=1)
    sampled = sample(household, inspector)
    login(client, inspector)
    assert client.get(f"/visits/households/{sampled.id}").status_code == 404
    response = post_visit(client, sampled, visit_form(household, str(uuid.uuid4())))
    assert response.status_code == 404
    assert count(Visit) == 0


def test_submit_for_other_inspector_is_404(client, make):
    owner = make.user("inspector", [make.LAODIAN])
    intruder = make.user("inspector", [make.LAODIAN])
    household = make.household(members=1)
    sampled = sample(household, owner)
    login(client, intruder)
    response = post_visit(client, sampled, visit_form(household, str(uuid.uuid4())))
    assert response.status_code == 404
    assert count(Visit) == 0


# Submitting.


def test_submit_stores_visit(logged_in, sampled, household, inspector):
    client_uuid = str(uuid.uuid4())
    response = post_visit(logged_in, sampled, visit_form(household, client_uuid))
    assert response.status_code == 302
    visit = db.session.scalars(select(Visit)).one()
    assert response.headers["Location"] == f"/visits/{visit.id}"
    assert visit.client_uuid == client_uuid
    assert visit.inspector_id == inspector.id
    assert visit.household_id == household.id
    assert visit.answers["house_structure"] == "brick_concrete"
    assert visit.answers["house_photo"] == 1
    assert visit.answers["member_checks"][str(household.members[0].id)]["months_worked"] == 6
    assert "safety_assurance" in visit.answers
    assert "unsafe_house_note" not in visit.answers
    assert visit.questionnaire.version == 1
    assert visit.accuracy_m == 12.5
    assert 50 < visit.distance_m < 60
    assert visit.location_flags == []
    assert visit.photos_expected == 1
    assert visit.is_complete
    photo = visit.photos[0]
    assert photo.question_key == "house_photo"
    assert photo.client_uuid == str(uuid.uuid5(uuid.UUID(client_uuid), "house_photo:0"))
    assert "IMG_0001" not in photo.stored_name
    assert os.path.exists(photo_path(photo.stored_name))
    assert os.path.exists(photo_path(photo.thumbnail_name))
    audit = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "visit.receive")).one()
    assert audit.object_id == str(visit.id)
    assert audit.detail["photos"] == 1
    page = logged_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "砖混" in page or "Brick and concrete" in page


def test_submit_flags_location(logged_in, sampled, household):
    data = visit_form(household, str(uuid.uuid4()), latitude=str(HOUSEHOLD_LONGITUDE),
                      longitude=str(HOUSEHOLD_LATITUDE), accuracy_m="350", fixed_at="2026-05-01T01:00:00Z")
    assert post_visit(logged_in, sampled, data).status_code == 302
    visit = db.session.scalars(select(Visit)).one()
    assert set(visit.location_flags) == {"swapped", "poor_accuracy", "stale_fix"}
    assert visit.distance_m is None


def test_submit_without_location_is_saved_and_flagged(logged_in, sampled, household):
    data = visit_form(household, str(uuid.uuid4()), latitude="", longitude="", accuracy_m="", fixed_at="")
    assert post_visit(logged_in, sampled, data).status_code == 302
    assert db.session.scalars(select(Visit)).one().location_flags == ["no_fix"]


def test_outcomes_and_onsite_problems_open_findings(logged_in, sampled, household):
    confirmed = problem(household)
    rejected = problem(household, rule_id="cross_vehicle", detail="名下有车辆")
    explained = problem(household, rule_id="cross_housing", detail="名下有商品房")
    data = visit_form(
        household, str(uuid.uuid4()),
        problem_ids=[str(confirmed.id), str(rejected.id), str(explained.id)],
        **{
            f"outcome_{confirmed.id}": "confirmed", f"note_{confirmed.id}": "户主证件号码登记错误",
            f"outcome_{rejected.id}": "not_confirmed",
            f"outcome_{explained.id}": "explained", f"note_{explained.id}": "婚前购房，已分户",
            "onsite_category_0": "住房安全", "onsite_description_0": "东屋屋顶漏雨",
            "onsite_category_2": "饮水安全", "onsite_description_2": "夏季停水",
        },
    )
    assert post_visit(logged_in, sampled, data).status_code == 302
    visit = db.session.scalars(select(Visit)).one()
    outcomes = {o.suspected_problem_id: o.outcome for o in visit.outcomes}
    assert outcomes == {confirmed.id: "confirmed", rejected.id: "not_confirmed", explained.id: "explained"}
    findings = db.session.scalars(select(Finding).order_by(Finding.id)).all()
    onsite = [(f.source, f.category) for f in findings][1:]
    assert onsite == [("on_site", "住房安全"), ("on_site", "饮水安全")]
    assert findings[0].source == "check_rule"
    assert findings[0].suspected_problem_id == confirmed.id
    assert "户主证件号码登记错误" in findings[0].description
    assert all(f.visit_id == visit.id and f.sampled_household_id == sampled.id for f in findings)
    assert all(f.status == "pending" for f in findings)


def test_visit_page_chinese_punctuation(logged_in, sampled, household):
    confirmed = problem(household)
    outcome = {f"outcome_{confirmed.id}": "confirmed", f"note_{confirmed.id}": "户主证件号码登记错误"}
    data = visit_form(household, str(uuid.uuid4()), problem_ids=[str(confirmed.id)], **outcome)
    response = post_visit(logged_in, sampled, data)
    logged_in.set_cookie("lang", "zh_CN", domain="localhost.localdomain")
    page = logged_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "入户核查问卷 · 第 1 版" in page
    assert "精度：12 米" in page
    assert "</strong>：属实" in page
    assert f"{household.members[0].name}：健康状况" in page
    assert "±" not in page


def test_same_visit_three_times_stored_once(logged_in, sampled, household):
    confirmed = problem(household)
    client_uuid = str(uuid.uuid4())
    photo = jpeg_bytes(size=(64, 48))
    extra = {"problem_ids": str(confirmed.id), f"outcome_{confirmed.id}": "confirmed",
             "onsite_category_0": "收入", "onsite_description_0": "务工收入未登记"}
    locations = []
    files_before = stored_files()
    for attempt in range(3):
        data = visit_form(household, client_uuid, photo=photo,
                          submitted_at=f"2026-05-01T02:0{attempt + 1}:00Z", **extra)
        data["photos"] = [(io.BytesIO(jpeg_bytes(size=(30, 30))), "a.jpg"), (io.BytesIO(photo), "b.jpg")]
        response = post_visit(logged_in, sampled, data)
        assert response.status_code == 302
        locations.append(response.headers["Location"])
    assert len(set(locations)) == 1
    assert count(Visit) == 1
    assert count(Photo) == 3
    assert count(VerificationOutcome) == 1
    assert count(Finding) == 2
    receives = db.session.scalar(
        select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "visit.receive"))
    assert receives == 1
    assert stored_files() == files_before + 6  # three photos, each with a thumbnail


def test_same_uuid_different_content_is_409(logged_in, sampled, household):
    client_uuid = str(uuid.uuid4())
    assert post_visit(logged_in, sampled, visit_form(household, client_uuid)).status_code == 302
    before = db.session.scalars(select(Visit)).one()
    answers_before = dict(before.answers)
    response = post_visit(logged_in, sampled, visit_form(household, client_uuid, food_enough="no"))
    assert response.status_code == 409
    assert client_uuid in response.get_data(as_text=True)
    db.session.expire_all()
    after = db.session.scalars(select(Visit)).one()
    assert after.answers == answers_before
    assert count(Photo) == 1


def test_invalid_post_rerenders_with_errors(logged_in, sampled, household):
    client_uuid = str(uuid.uuid4())
    data = visit_form(household, client_uuid, food_enough=None, water_interruption_days="400",
                      wage_income="8888", safety_rating="D", unsafe_house_note=None,
                      onsite_description_1="门前道路泥泞")
    response = post_visit(logged_in, sampled, data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert count(Visit) == 0
    assert count(Photo) == 0
    assert 'data-error-for="food_enough"' in page
    for key in ("food_enough", "water_interruption_days", "unsafe_house_note", "onsite_category_1"):
        assert f'<p class="error" role="alert" data-error-for="{key}">' in page, key
    assert 'value="8888"' in page
    assert 'value="400"' in page
    assert f'value="{client_uuid}"' in page
    assert "门前道路泥泞" in page
    assert re.search(r'value="D"\s+checked', page)


def test_outcome_required_for_shown_problem(logged_in, sampled, household):
    shown = problem(household)
    data = visit_form(household, str(uuid.uuid4()), problem_ids=str(shown.id))
    response = post_visit(logged_in, sampled, data)
    assert response.status_code == 422
    assert f'data-error-for="outcome_{shown.id}">' in response.get_data(as_text=True)
    assert count(Visit) == 0


def test_explained_outcome_needs_note(logged_in, sampled, household):
    shown = problem(household)
    data = visit_form(household, str(uuid.uuid4()), problem_ids=str(shown.id),
                      **{f"outcome_{shown.id}": "explained"})
    assert post_visit(logged_in, sampled, data).status_code == 422
    assert count(Visit) == 0


def test_problem_of_other_household_rejected(logged_in, sampled, household, make):
    foreign = problem(make.household(members=1))
    data = visit_form(household, str(uuid.uuid4()), problem_ids=str(foreign.id),
                      **{f"outcome_{foreign.id}": "confirmed"})
    assert post_visit(logged_in, sampled, data).status_code == 422
    assert count(Finding) == 0


def test_bad_photo_rejected_with_file_name(logged_in, sampled, household):
    data = visit_form(household, str(uuid.uuid4()), photo=png_header_only(14000, 14000))
    data["house_photo"] = (data["house_photo"][0], "roof.png")
    response = post_visit(logged_in, sampled, data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "roof.png" in page
    assert "196,000,000" in page
    assert count(Visit) == 0


def test_missing_uuid_rejected(logged_in, sampled, household):
    response = post_visit(logged_in, sampled, visit_form(household, "not-a-uuid"))
    assert response.status_code == 422
    assert count(Visit) == 0


def test_insert_skips_used_client_uuid(ctx, sampled, household, inspector):
    from fieldapp.visits import services

    client_uuid = str(uuid.uuid4())
    values = dict(client_uuid=client_uuid, content_sha256="a" * 64, sampled_household_id=sampled.id,
                  household_id=household.id, inspector_id=inspector.id,
                  questionnaire_id=services.questionnaires.current().id, answers={"a": 1},
                  received_at=utcnow(), location_flags=["no_fix"], photos_expected=0, photo_manifest=[])
    inserted = services._insert_visit(dict(values), inspector)
    assert inserted.id is not None
    assert inserted in db.session
    assert services._insert_visit(dict(values, content_sha256="b" * 64), inspector) is None
    # The skipped INSERT leaves the transaction usable.
    assert services._stored_visit_or_conflict(client_uuid, inspector) is inserted
    db.session.expire_all()
    stored = db.session.scalars(select(Visit)).one()
    assert (stored.content_sha256, stored.answers, stored.location_flags) == ("a" * 64, {"a": 1}, ["no_fix"])


def test_used_client_uuid_out_of_scope_is_conflict(ctx, sampled, household, inspector, make):
    from fieldapp.errors import Conflict
    from fieldapp.visits import services

    client_uuid = str(uuid.uuid4())
    db.session.add(Visit(client_uuid=client_uuid, content_sha256="a" * 64, sampled_household_id=sampled.id,
                         household_id=household.id, inspector_id=inspector.id,
                         questionnaire_id=services.questionnaires.current().id, answers={}))
    db.session.flush()
    other = make.user("inspector", [make.LAODIAN], is_demo=True)
    with pytest.raises(Conflict):
        services._stored_visit_or_conflict(client_uuid, other)


# Photo files.


def test_photo_served_privately(logged_in, sampled, household):
    data = visit_form(household, str(uuid.uuid4()), photo=jpeg_bytes(size=(800, 600)))
    assert post_visit(logged_in, sampled, data).status_code == 302
    photo = db.session.scalars(select(Photo)).one()
    full = logged_in.get(f"/visits/photos/{photo.id}/full")
    thumb = logged_in.get(f"/visits/photos/{photo.id}/thumb")
    assert full.status_code == 200
    assert thumb.status_code == 200
    assert full.mimetype == "image/jpeg"
    assert "private" in full.headers["Cache-Control"]
    assert "public" not in full.headers["Cache-Control"]
    assert full.headers["X-Content-Type-Options"] == "nosniff"
    assert len(thumb.data) < len(full.data)
    assert logged_in.get(f"/visits/photos/{photo.id}/original").status_code == 404


def test_photo_of_other_inspector_is_404(client, make, household, sampled, inspector):
    login(client, inspector)
    post_visit(client, sampled, visit_form(household, str(uuid.uuid4())))
    photo = db.session.scalars(select(Photo)).one()
    client.post("/logout")
    login(client, make.user("inspector", [make.LAODIAN]))
    assert client.get(f"/visits/photos/{photo.id}/full").status_code == 404
    client.post("/logout")
    login(client, make.user("supervisor", [make.SHUIWAN]))
    assert client.get(f"/visits/photos/{photo.id}/thumb").status_code == 404
    client.post("/logout")
    login(client, make.user("supervisor", [make.LAODIAN]))
    assert client.get(f"/visits/photos/{photo.id}/thumb").status_code == 200
