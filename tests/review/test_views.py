import re
import uuid
from html import escape

import pytest
from flask import url_for
from sqlalchemy import select

from fieldapp.audit.models import AuditRecord
from fieldapp.db_types import utcnow
from fieldapp.extensions import db
from fieldapp.review.models import Finding, FindingEvent
from fieldapp.review.services import change_status, open_finding
from fieldapp.sampling.models import SampledHousehold
from fieldapp.visits.models import Photo
from tests.conftest import login
from tests.review.conftest import XSS, make_round, make_visit


@pytest.fixture
def client_en(client):
    client.set_cookie("lang", "en", domain="localhost.localdomain")
    return client


def page_text(response) -> str:
    return response.get_data(as_text=True)


def finding_ids_on_page(response) -> set[int]:
    return {int(n) for n in re.findall(r'href="/review/findings/(\d+)"', page_text(response))}


def events_of(finding) -> list[FindingEvent]:
    return db.session.scalars(
        select(FindingEvent).where(FindingEvent.finding_id == finding.id).order_by(FindingEvent.id)
    ).all()


# Access


def review_urls(world):
    return [
        f"/review/rounds/{world.sampling_round.id}",
        f"/review/sampled/{world.sampled.id}",
        f"/review/visits/{world.visit.id}",
        f"/review/findings/{world.finding.id}",
    ]


def test_other_county_supervisor_gets_404(client, world, make):
    outsider = make.user("supervisor", [make.HUIMIN])
    login(client, outsider)
    for url in review_urls(world):
        assert client.get(url).status_code == 404, url
    response = client.post(
        f"/review/findings/{world.finding.id}",
        data={"status": "corrected", "comment": "x", "version": world.finding.version},
    )
    assert response.status_code == 404
    assert world.finding.status == "pending"


def test_other_county_rounds_list_hides_round(client_en, world, make):
    outsider = make.user("supervisor", [make.HUIMIN])
    login(client_en, outsider)
    response = client_en.get("/review/rounds")
    assert response.status_code == 200
    assert world.sampling_round.name not in page_text(response)


def test_inspector_gets_404(client, world):
    login(client, world.inspector)
    for url in [*review_urls(world), "/review/rounds", "/review/findings"]:
        assert client.get(url).status_code == 404, url


def test_anonymous_redirected_to_login(client, world):
    for url in [*review_urls(world), "/review/rounds", "/review/findings"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login" in response.headers["Location"]


def test_demo_supervisor_gets_404(client, world, make):
    demo = make.user("supervisor", [make.YANGXIN], is_demo=True)
    login(client, demo)
    for url in review_urls(world):
        assert client.get(url).status_code == 404, url


# Rounds and households


def test_rounds_counts_in_scope(client_en, world, make):
    unvisited = make.household()
    other_county = make.household(village=make.HUIMIN_VILLAGE)
    make_round("第二批", [unvisited, other_county])
    login(client_en, world.supervisor)

    response = client_en.get("/review/rounds")
    assert response.status_code == 200
    rows = re.findall(r"<tr>\s*<td><a [^>]*>([^<]+)</a></td>.*?"
                      r'<td class="num">(\d+)</td>\s*<td class="num">(\d+)</td>', page_text(response), re.S)
    assert ("阳信县第一批", "1", "1") in rows
    # The Huimin household of the second round is outside a Yangxin supervisor's scope.
    assert ("第二批", "1", "0") in rows


def test_round_lists_households(client_en, world, make):
    unvisited = make.household()
    world.sampling_round.sampled_households.append(
        SampledHousehold(household=unvisited, stratum_code=unvisited.township_code, draw_order=1)
    )
    db.session.flush()
    login(client_en, world.supervisor)

    response = client_en.get(f"/review/rounds/{world.sampling_round.id}")
    text = page_text(response)
    assert response.status_code == 200
    head = world.household.head
    assert head.name in text
    assert head.id_number not in text
    assert head.id_number[:6] + "********" + head.id_number[-4:] in text
    assert world.inspector.display_name in text
    assert "Not visited" in text
    assert f'href="/review/sampled/{world.sampled.id}"' in text

    visited_only = page_text(client_en.get(f"/review/rounds/{world.sampling_round.id}?visited=yes"))
    assert head.name in visited_only
    assert unvisited.head.name not in visited_only
    not_visited = page_text(client_en.get(f"/review/rounds/{world.sampling_round.id}?visited=no"))
    assert unvisited.head.name in not_visited
    assert head.name not in not_visited


def test_round_leaves_out_not_visitable(client_en, world, make):
    moved_away, reserve = make.household(), make.household()
    given_up = SampledHousehold(household=moved_away, stratum_code=moved_away.township_code, draw_order=2,
                                status="cannot_visit", cannot_visit_reason="moved", cannot_visit_at=utcnow())
    world.sampling_round.sampled_households += [
        given_up, SampledHousehold(household=reserve, stratum_code=reserve.township_code, draw_order=3,
                                   replaces=given_up),
    ]
    db.session.flush()
    login(client_en, world.supervisor)

    rounds = page_text(client_en.get("/review/rounds"))
    assert re.search(r'<td class="num">2</td>\s*<td class="num">1</td>', rounds)
    text = page_text(client_en.get(f"/review/rounds/{world.sampling_round.id}"))
    assert "2 sampled households to visit, 1 visited." in text
    assert "1 more household could not be visited and is not counted" in text
    assert "Cannot be visited" in text
    assert "Replaced by household 3" in text
    not_visited = page_text(client_en.get(f"/review/rounds/{world.sampling_round.id}?visited=no"))
    assert reserve.head.name in not_visited
    assert moved_away.head.name not in not_visited


def test_round_paginated_keeps_filter(client_en, world, make):
    households = [make.household(members=1) for _ in range(55)]
    big = make_round("大批次", households)
    login(client_en, world.supervisor)
    first = page_text(client_en.get(f"/review/rounds/{big.id}?visited=no"))
    assert first.count('href="/review/sampled/') == 50
    assert "55 sampled households" in first
    assert f'href="/review/rounds/{big.id}?page=2&amp;visited=no"' in first
    second = page_text(client_en.get(f"/review/rounds/{big.id}?visited=no&page=2"))
    assert second.count('href="/review/sampled/') == 5


def test_round_counts_open_findings(client_en, world):
    login(client_en, world.supervisor)
    text = page_text(client_en.get(f"/review/rounds/{world.sampling_round.id}"))
    # One visit, one open finding.
    assert re.search(r'<td class="num">1</td>\s*<td class="num">1</td>', text)
    change_status(world.finding, "corrected", comment="", user=world.supervisor)
    text = page_text(client_en.get(f"/review/rounds/{world.sampling_round.id}"))
    assert re.search(r'<td class="num">1</td>\s*<td class="num">0</td>', text)


def test_sampled_household_shows_visits(client_en, world):
    login(client_en, world.supervisor)
    response = client_en.get(f"/review/sampled/{world.sampled.id}")
    text = page_text(response)
    assert response.status_code == 200
    assert world.household.household_no in text
    assert f'href="/review/visits/{world.visit.id}"' in text
    assert f'href="/review/findings/{world.finding.id}"' in text
    assert "Far from the household" in text


# Visit page


def test_visit_page_shows_visit(client_en, world):
    login(client_en, world.supervisor)
    response = client_en.get(f"/review/visits/{world.visit.id}")
    text = page_text(response)
    assert response.status_code == 200
    assert world.inspector.display_name in text
    # 01:40 UTC is 09:40 in Asia/Shanghai.
    assert "2024-05-06 09:40" in text
    assert "version 3" in text
    assert "37.660000, 117.500000" in text
    assert "1.1 km" in text
    assert "12 m" in text
    assert "Far from the household" in text
    assert "Confirmed" in text
    assert "Save status" in text
    # Sections in questionnaire order, whatever the order of the stored answers.
    assert text.index("Enough to eat") < text.index("Problems and needs") < text.index("修路")
    assert 'name="version" type="hidden" value="1"' in text


def test_visit_page_photo_thumbnails(app, client_en, world):
    photo = Photo(
        client_uuid=str(uuid.uuid4()),
        visit=world.visit,
        stored_name="a1.jpg",
        thumbnail_name="a1-thumb.jpg",
        width=2048,
        height=1536,
        original_format="JPEG",
        original_bytes=900_000,
        stored_bytes=400_000,
        upload_sha256="1" * 64,
    )
    world.visit.photos_expected = 2
    db.session.add(photo)
    db.session.flush()
    with app.test_request_context():
        thumb = url_for("visits.photo", photo_id=photo.id, size="thumb")
        full = url_for("visits.photo", photo_id=photo.id, size="full")
    login(client_en, world.supervisor)
    text = page_text(client_en.get(f"/review/visits/{world.visit.id}"))
    assert f'<a href="{full}">' in text
    assert f'<img src="{thumb}"' in text
    assert "1 of 2 photos received so far." in text


def test_visit_page_without_fix(client_en, world, make):
    household = make.household()
    sampling_round = make_round("无定位批次", [household])
    visit = make_visit(sampling_round.sampled_households[0], world.inspector, location_flags=["no_fix"])
    login(client_en, world.supervisor)
    text = page_text(client_en.get(f"/review/visits/{visit.id}"))
    assert "The phone sent no location for this visit." in text
    assert "No location fix" in text


def test_visit_distance_unknown(client_en, world):
    world.visit.distance_m = None
    world.visit.location_flags = ["swapped"]
    db.session.flush()
    login(client_en, world.supervisor)
    text = page_text(client_en.get(f"/review/visits/{world.visit.id}"))
    assert "Unknown: the fix is not usable" in text

    world.household.latitude = None
    db.session.flush()
    text = page_text(client_en.get(f"/review/visits/{world.visit.id}"))
    assert "Unknown: the register has no position for this household" in text


def test_visit_status_form_redirects_back(client_en, world):
    login(client_en, world.supervisor)
    visit_url = f"/review/visits/{world.visit.id}"
    response = client_en.post(
        f"/review/findings/{world.finding.id}",
        data={"status": "in_progress", "comment": "村里在修", "version": 1, "next": visit_url},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == visit_url
    assert world.finding.status == "in_progress"


def test_status_form_ignores_offsite_next(client_en, world):
    login(client_en, world.supervisor)
    response = client_en.post(
        f"/review/findings/{world.finding.id}",
        data={"status": "in_progress", "comment": "", "version": 1, "next": "//evil.example/x"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/review/findings/{world.finding.id}"


# Findings list


@pytest.fixture
def spread(world, make):
    """Findings across two townships and two rounds, with different statuses."""
    shuiwan = make.household(village=make.SHUIWAN_VILLAGE)
    second = make_round("阳信县第二批", [shuiwan])
    sampled = second.sampled_households[0]
    user = world.supervisor
    corrected = open_finding(shuiwan, source="check_rule", category="住房", description="危房", user=user,
                             sampled_household=sampled)
    change_status(corrected, "corrected", comment="已改造", user=user)
    in_progress = open_finding(shuiwan, source="cross_check", category="车辆", description="有车", user=user,
                               sampled_household=sampled)
    change_status(in_progress, "in_progress", comment="", user=user)
    unlinked = open_finding(
        world.household, source="check_rule", category="医保", description="未参保", user=user
    )
    huimin = make.household(village=make.HUIMIN_VILLAGE)
    outside = open_finding(huimin, source="on_site", category="外县", description="", user=user)
    return {
        "first": world.finding,
        "corrected": corrected,
        "in_progress": in_progress,
        "unlinked": unlinked,
        "outside": outside,
        "second_round": second,
        "shuiwan": shuiwan,
    }


def test_findings_list_all_in_scope(client_en, world, spread):
    login(client_en, world.supervisor)
    response = client_en.get("/review/findings")
    assert response.status_code == 200
    expected = {spread[k].id for k in ("first", "corrected", "in_progress", "unlinked")}
    assert finding_ids_on_page(response) == expected
    assert "4 findings" in page_text(response)


def test_findings_newest_first(client_en, world, spread):
    login(client_en, world.supervisor)
    text = page_text(client_en.get("/review/findings"))
    order = [int(n) for n in re.findall(r'href="/review/findings/(\d+)"', text)]
    assert order == sorted(order, reverse=True)


@pytest.mark.parametrize(
    "status, expected",
    [("pending", {"first", "unlinked"}), ("corrected", {"corrected"}), ("in_progress", {"in_progress"}),
     ("closed", set())],
)
def test_findings_filter_status(client_en, world, spread, status, expected):
    login(client_en, world.supervisor)
    response = client_en.get(f"/review/findings?status={status}")
    assert response.status_code == 200
    assert finding_ids_on_page(response) == {spread[k].id for k in expected}


def test_findings_filter_township(client_en, world, spread, make):
    login(client_en, world.supervisor)
    response = client_en.get(f"/review/findings?township={make.SHUIWAN_VILLAGE[:9]}000")
    assert finding_ids_on_page(response) == {spread["corrected"].id, spread["in_progress"].id}
    response = client_en.get(f"/review/findings?township={make.LAODIAN}")
    assert finding_ids_on_page(response) == {spread["first"].id, spread["unlinked"].id}


def test_findings_township_choices_in_scope(client_en, world, spread, make):
    login(client_en, world.supervisor)
    text = page_text(client_en.get("/review/findings"))
    # Within one county the townships are listed by name alone.
    assert f'<option value="{make.LAODIAN}">劳店镇</option>' in text
    assert f'value="{make.SHUIWAN}"' in text
    assert f'value="{make.HUIMIN_TOWNSHIP}"' not in text


def test_township_choices_name_county_over_several(client_en, make):
    login(client_en, make.user("admin", [make.CITY]))
    text = page_text(client_en.get("/review/findings"))
    assert f'<option value="{make.LAODIAN}">阳信县 劳店镇</option>' in text


def test_findings_filter_round(client_en, world, spread):
    login(client_en, world.supervisor)
    response = client_en.get(f"/review/findings?round={world.sampling_round.id}")
    assert finding_ids_on_page(response) == {spread["first"].id}
    response = client_en.get(f"/review/findings?round={spread['second_round'].id}&status=corrected")
    assert finding_ids_on_page(response) == {spread["corrected"].id}


def test_findings_filter_rejects_unknown_value(client_en, world, spread):
    login(client_en, world.supervisor)
    response = client_en.get("/review/findings?status=deleted")
    assert response.status_code == 200
    assert finding_ids_on_page(response) == set()
    assert "Not a valid choice" in page_text(response)


def test_findings_filter_round_out_of_scope(client_en, world, make):
    huimin = make.household(village=make.HUIMIN_VILLAGE)
    other = make_round("惠民县批次", [huimin])
    open_finding(huimin, source="on_site", category="", description="", user=world.supervisor,
                 sampled_household=other.sampled_households[0])
    login(client_en, world.supervisor)
    response = client_en.get(f"/review/findings?round={other.id}")
    assert finding_ids_on_page(response) == set()
    assert "Not a valid choice" in page_text(response)


def test_findings_paginated(client_en, world, make):
    household = make.household()
    for number in range(60):
        open_finding(
            household, source="check_rule", category=f"类别{number}", description="", user=world.supervisor
        )
    login(client_en, world.supervisor)
    first = client_en.get("/review/findings")
    assert len(finding_ids_on_page(first)) == 50
    assert "Page 1 of 2" in page_text(first)
    second = client_en.get("/review/findings?page=2")
    assert len(finding_ids_on_page(second)) == 11
    assert finding_ids_on_page(first).isdisjoint(finding_ids_on_page(second))


def test_findings_page_keeps_filters(client_en, world, make):
    household = make.household()
    for _ in range(55):
        open_finding(household, source="check_rule", category="", description="", user=world.supervisor)
    login(client_en, world.supervisor)
    text = page_text(client_en.get("/review/findings?status=pending"))
    assert 'href="/review/findings?page=2&amp;status=pending"' in text


# Finding page and status changes


def test_finding_page_shows_history(client_en, world, make):
    admin = make.user("admin", [make.CITY])
    change_status(world.finding, "in_progress", comment="已通知村委", user=admin)
    login(client_en, world.supervisor)
    response = client_en.get(f"/review/findings/{world.finding.id}")
    text = page_text(response)
    assert response.status_code == 200
    assert "已通知村委" in text
    assert admin.display_name in text
    assert world.supervisor.display_name in text
    assert "Pending → In progress" in text
    assert "On site" in text
    assert 'value="corrected"' in text
    assert 'value="pending"' in text


def test_status_post_redirects_and_writes_event(client_en, world):
    login(client_en, world.supervisor)
    response = client_en.post(
        f"/review/findings/{world.finding.id}",
        data={"status": "corrected", "comment": "已拆除并重建", "version": 1},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/review/findings/{world.finding.id}"

    finding = db.session.get(Finding, world.finding.id)
    assert finding.status == "corrected"
    assert finding.corrected_at is not None
    assert finding.version == 2
    last = events_of(finding)[-1]
    assert (last.from_status, last.to_status, last.comment, last.user_id) == (
        "pending", "corrected", "已拆除并重建", world.supervisor.id
    )
    audit = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "finding.status")).all()
    assert len(audit) == 1
    assert audit[0].user_id == world.supervisor.id

    page = client_en.get(response.headers["Location"])
    assert f"Finding {finding.id} is now Corrected." in page_text(page)


def test_status_post_back_to_pending(client_en, world):
    change_status(world.finding, "corrected", comment="", user=world.supervisor)
    login(client_en, world.supervisor)
    response = client_en.post(
        f"/review/findings/{world.finding.id}",
        data={"status": "pending", "comment": "复查发现未整改", "version": 2},
    )
    assert response.status_code == 302
    finding = db.session.get(Finding, world.finding.id)
    assert finding.status == "pending"
    assert finding.corrected_at is None


def test_status_post_forbidden_transition(client_en, world):
    change_status(world.finding, "corrected", comment="", user=world.supervisor)
    login(client_en, world.supervisor)
    response = client_en.post(
        f"/review/findings/{world.finding.id}",
        data={"status": "in_progress", "comment": "typed text", "version": 2},
    )
    assert response.status_code == 200
    assert "Not a valid choice" in page_text(response)
    assert "typed text" in page_text(response)
    assert len(events_of(world.finding)) == 2


def test_status_post_version_conflict_keeps_comment(client_en, world, make):
    other = make.user("supervisor", [make.YANGXIN])
    # Another supervisor saved a change after this one loaded the page at version 1.
    change_status(world.finding, "in_progress", comment="他人的修改", user=other)
    login(client_en, world.supervisor)
    typed = "我的说明：已经核实 " + XSS
    response = client_en.post(
        f"/review/findings/{world.finding.id}",
        data={"status": "corrected", "comment": typed, "version": 1},
    )
    text = page_text(response)
    assert response.status_code == 409
    assert "Someone else changed this finding" in text
    assert escape(typed, quote=False) in text
    assert XSS not in text
    # The form is now based on the stored version, so a resubmission can succeed.
    assert 'name="version" type="hidden" value="2"' in text

    finding = db.session.get(Finding, world.finding.id)
    assert finding.status == "in_progress"
    assert [e.to_status for e in events_of(finding)] == ["pending", "in_progress"]

    retry = client_en.post(
        f"/review/findings/{world.finding.id}",
        data={"status": "corrected", "comment": typed, "version": 2},
    )
    assert retry.status_code == 302
    assert db.session.get(Finding, world.finding.id).status == "corrected"


def test_status_post_without_status_rejected(client_en, world):
    login(client_en, world.supervisor)
    response = client_en.post(
        f"/review/findings/{world.finding.id}", data={"status": "", "comment": "kept", "version": 1}
    )
    assert response.status_code == 200
    assert "This field is required." in page_text(response)
    assert world.finding.status == "pending"
    assert len(events_of(world.finding)) == 1


def test_closed_finding_has_no_status_form(client_en, world):
    finding = world.finding
    finding.status, finding.corrected_at, finding.closed_at = "closed", utcnow(), utcnow()
    finding.rechecked_at, finding.rechecked_by_id, finding.evidence_count = utcnow(), world.supervisor.id, 1
    db.session.flush()
    login(client_en, world.supervisor)
    text = page_text(client_en.get(f"/review/findings/{finding.id}"))
    assert "This status cannot be changed here." in text
    assert "Save status" not in text


def test_status_post_without_version_rejected(client_en, world):
    login(client_en, world.supervisor)
    response = client_en.post(
        f"/review/findings/{world.finding.id}", data={"status": "corrected", "comment": "kept"}
    )
    assert response.status_code == 200
    assert "missing the finding" in page_text(response)
    assert "kept" in page_text(response)
    assert world.finding.status == "pending"


def test_status_post_comment_too_long(client_en, world):
    login(client_en, world.supervisor)
    response = client_en.post(
        f"/review/findings/{world.finding.id}",
        data={"status": "corrected", "comment": "x" * 2001, "version": 1},
    )
    assert response.status_code == 200
    assert world.finding.status == "pending"
    assert len(events_of(world.finding)) == 1


def test_admin_may_change_status(client_en, world, make):
    admin = make.user("admin", [make.CITY])
    login(client_en, admin)
    response = client_en.post(
        f"/review/findings/{world.finding.id}", data={"status": "in_progress", "comment": "", "version": 1}
    )
    assert response.status_code == 302
    assert events_of(world.finding)[-1].user_id == admin.id


# Escaping of free text


def test_free_text_escaped(client_en, world):
    change_status(world.finding, "in_progress", comment="评论 " + XSS, user=world.supervisor)
    login(client_en, world.supervisor)
    escaped = escape(XSS, quote=False)
    pages = {
        "finding": f"/review/findings/{world.finding.id}",
        "visit": f"/review/visits/{world.visit.id}",
        "findings": "/review/findings",
        "sampled": f"/review/sampled/{world.sampled.id}",
    }
    for name, url in pages.items():
        text = page_text(client_en.get(url))
        assert XSS not in text, name
    finding_page = page_text(client_en.get(pages["finding"]))
    assert "户主登记两次 " + escaped in finding_page
    assert "评论 " + escaped in finding_page
    visit_page = page_text(client_en.get(pages["visit"]))
    assert "修路 " + escaped in visit_page
    assert "两人都登记为户主 " + escaped in visit_page
    assert "户主登记两次 " + escaped in visit_page
