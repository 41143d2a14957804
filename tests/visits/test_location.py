import math
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from fieldapp.visits.location import check_fix

NOW = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
# 滨州市 and 青岛市 city centres, WGS-84.
BINZHOU = (37.3820, 117.9710)
QINGDAO = (36.0671, 120.3826)
LIMITS = {"max_accuracy_m": 100.0, "max_distance_m": 500.0, "max_fix_age_s": 120.0}


def household_at(latitude, longitude):
    return SimpleNamespace(id=1, latitude=latitude, longitude=longitude)


def check(latitude, longitude, accuracy=10.0, fixed_at=NOW, household=None):
    return check_fix(latitude, longitude, accuracy, fixed_at, NOW, household, **LIMITS)


def vincenty_m(lat1, lon1, lat2, lon2):
    """Vincenty's inverse formula on WGS-84, an independent reference for geopy's geodesic."""
    a, f = 6378137.0, 1 / 298.257223563
    b = (1 - f) * a
    u1 = math.atan((1 - f) * math.tan(math.radians(lat1)))
    u2 = math.atan((1 - f) * math.tan(math.radians(lat2)))
    big_l = math.radians(lon2 - lon1)
    lam = big_l
    for _ in range(200):
        sin_lam, cos_lam = math.sin(lam), math.cos(lam)
        sin_sigma = math.hypot(math.cos(u2) * sin_lam,
                               math.cos(u1) * math.sin(u2) - math.sin(u1) * math.cos(u2) * cos_lam)
        cos_sigma = math.sin(u1) * math.sin(u2) + math.cos(u1) * math.cos(u2) * cos_lam
        sigma = math.atan2(sin_sigma, cos_sigma)
        sin_alpha = math.cos(u1) * math.cos(u2) * sin_lam / sin_sigma
        cos2_alpha = 1 - sin_alpha**2
        cos_2sm = cos_sigma - 2 * math.sin(u1) * math.sin(u2) / cos2_alpha
        c = f / 16 * cos2_alpha * (4 + f * (4 - 3 * cos2_alpha))
        previous = lam
        lam = big_l + (1 - c) * f * sin_alpha * (
            sigma + c * sin_sigma * (cos_2sm + c * cos_sigma * (-1 + 2 * cos_2sm**2)))
        if abs(lam - previous) < 1e-12:
            break
    u_sq = cos2_alpha * (a * a - b * b) / (b * b)
    big_a = 1 + u_sq / 16384 * (4096 + u_sq * (-768 + u_sq * (320 - 175 * u_sq)))
    big_b = u_sq / 1024 * (256 + u_sq * (-128 + u_sq * (74 - 47 * u_sq)))
    correction = big_b / 6 * cos_2sm * (-3 + 4 * sin_sigma**2) * (-3 + 4 * cos_2sm**2)
    delta_sigma = big_b * sin_sigma * (cos_2sm + big_b / 4 * (cos_sigma * (-1 + 2 * cos_2sm**2) - correction))
    return b * big_a * (sigma - delta_sigma)


def test_distance_binzhou_to_qingdao():
    result = check(*QINGDAO, household=household_at(*BINZHOU))
    reference = vincenty_m(*BINZHOU, *QINGDAO)
    assert abs(reference / 1000 - 260.18) < 0.1
    assert abs(result.distance_m - reference) < 100
    assert "far_from_household" in result.flags


def test_fix_near_household_not_flagged():
    # 0.0027 degrees of latitude is about 300 m.
    result = check(37.6411 + 0.0027, 117.5786, household=household_at(37.6411, 117.5786))
    assert 290 < result.distance_m < 310
    assert result.flags == []


def test_fix_far_from_household_flagged():
    result = check(37.6411 + 0.0054, 117.5786, household=household_at(37.6411, 117.5786))
    assert 590 < result.distance_m < 610
    assert result.flags == ["far_from_household"]


def test_no_household_point_no_distance():
    result = check(37.6411, 117.5786, household=household_at(None, None))
    assert result.distance_m is None
    assert result.flags == []


def test_no_fix_flagged():
    result = check(None, None, accuracy=None, fixed_at=None)
    assert result.flags == ["no_fix"]
    assert result.latitude is None


def test_null_island_flagged():
    result = check(0.0, 0.0, household=household_at(*BINZHOU))
    assert "null_island" in result.flags
    assert "outside_china" not in result.flags
    assert result.distance_m is None


def test_swapped_in_china_ranges_flagged():
    result = check(117.5786, 37.6411, household=household_at(37.6411, 117.5786))
    assert "swapped" in result.flags
    assert "outside_china" not in result.flags
    assert result.distance_m is None


def test_latitude_over_90_flagged_swapped():
    result = check(100.0, 60.0, household=household_at(*BINZHOU))
    assert "swapped" in result.flags
    assert result.distance_m is None


def test_outside_china_flagged():
    result = check(48.8566, 2.3522)
    assert result.flags == ["outside_china"]


@pytest.mark.parametrize("latitude, longitude", [(float("nan"), 117.0), (37.0, float("inf")), (200.0, 300.0)])
def test_invalid_values_flagged(latitude, longitude):
    result = check(latitude, longitude)
    assert "invalid" in result.flags


def test_negative_accuracy_flagged_and_dropped():
    result = check(*BINZHOU, accuracy=-5.0)
    assert result.accuracy_m is None
    assert "invalid" in result.flags


@pytest.mark.parametrize("accuracy", [100.1, 2500.0, None])
def test_poor_accuracy_flagged(accuracy):
    assert "poor_accuracy" in check(*BINZHOU, accuracy=accuracy).flags


def test_accuracy_at_limit_not_flagged():
    assert "poor_accuracy" not in check(*BINZHOU, accuracy=100.0).flags


def test_stale_fix_flagged():
    assert "stale_fix" in check(*BINZHOU, fixed_at=NOW - timedelta(seconds=121)).flags
    assert "stale_fix" not in check(*BINZHOU, fixed_at=NOW - timedelta(seconds=119)).flags


def test_undated_fix_flagged_stale():
    assert "stale_fix" in check(*BINZHOU, fixed_at=None).flags


def test_fix_after_submission_flagged_invalid():
    assert "invalid" in check(*BINZHOU, fixed_at=NOW + timedelta(hours=1)).flags
