"""Records for the reports: Yangxin households in two townships, and one in Huimin.

Each has visits and findings in different states.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from fieldapp.extensions import db
from fieldapp.review.services import change_status, edit_finding, open_finding
from tests.review.support import add_photo_evidence
from tests.security.records import make_round, make_visit

# 37.62 N 117.58 E is in 阳信县; 300 m north is about 0.0027 degrees of latitude.
HOME = (37.62, 117.58)


@dataclass
class Area:
    admin: object
    supervisor: object
    inspector: object
    households: dict
    visits: dict
    findings: dict
    sampling_round: object


def visit_at(sampled, inspector, *, answers, position=None, flags=(), distance=None, days_ago=0):
    latitude, longitude = position if position else (None, None)
    visit = make_visit(sampled, inspector, answers=answers, latitude=latitude, longitude=longitude)
    visit.location_flags = list(flags)
    visit.distance_m = distance
    visit.received_at = datetime.now(UTC) - timedelta(days=days_ago)
    db.session.flush()
    return visit


@pytest.fixture
def area(ctx, make) -> Area:
    admin = make.user("admin", [make.CITY])
    supervisor = make.user("supervisor", [make.YANGXIN])
    inspector = make.user("inspector", [make.YANGXIN])
    laodian = [make.household(latitude=HOME[0] + i * 0.01, longitude=HOME[1]) for i in range(3)]
    shuiwan = make.household(village=make.SHUIWAN_VILLAGE)
    shuiwan.township = "水落坡镇"
    huimin = make.household(village=make.HUIMIN_VILLAGE, latitude=37.49, longitude=117.51)
    huimin.county, huimin.township = "惠民县", "孙武街道"
    sampling_round = make_round("第一批", [*laodian, shuiwan, huimin], inspector, admin)
    sampled = {s.household_id: s for s in sampling_round.sampled_households}

    # An earlier visit of a household: only its latest answer ("unsure" below) counts for satisfaction.
    visit_at(sampled[laodian[1].id], inspector, answers={"satisfaction": "satisfied"}, days_ago=20)
    visits = {
        "satisfied": visit_at(sampled[laodian[0].id], inspector, answers={"satisfaction": "satisfied"},
                              position=(HOME[0] + 0.0027, HOME[1]), flags=["far_from_household"],
                              distance=300.0),
        "unsure": visit_at(sampled[laodian[1].id], inspector, answers={"satisfaction": "unsure"},
                           position=(HOME[0] + 0.01, HOME[1]), distance=5.0, days_ago=8),
        "shuiwan": visit_at(sampled[shuiwan.id], inspector, answers={"satisfaction": "satisfied"}),
        "huimin": visit_at(sampled[huimin.id], inspector, answers={"satisfaction": "not_satisfied"},
                           position=(37.49, 117.51)),
    }

    def finding(household, category, **links):
        return open_finding(household, source="on_site", category=category, description="问题",
                            user=supervisor, sampled_household=sampled[household.id], **links)

    findings = {
        "overdue": finding(laodian[0], "逾期未改"),
        "in_progress": finding(laodian[0], "整改中"),
        "corrected": finding(laodian[1], "已整改"),
        "closed": finding(shuiwan, "已销号"),
        "huimin": finding(huimin, "外县"),
    }
    edit_finding(findings["overdue"], {"deadline": date.today() - timedelta(days=5),
                                       "responsible_unit": "劳店镇人民政府"}, user=supervisor)
    change_status(findings["in_progress"], "in_progress", comment="", user=supervisor)
    change_status(findings["corrected"], "corrected", comment="", user=supervisor)
    change_status(findings["closed"], "corrected", comment="", user=supervisor)
    add_photo_evidence(findings["closed"], supervisor)
    change_status(findings["closed"], "closed", comment="已核实", user=supervisor)
    households = {"laodian": laodian, "shuiwan": shuiwan, "huimin": huimin}
    return Area(admin, supervisor, inspector, households, visits, findings, sampling_round)
