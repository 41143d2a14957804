"""Judge a visit's location fix: distance to the household and flags for a supervisor to look at.

A doubtful fix is flagged, never rejected: villages often have weak signal, and the visit still
counts. Coordinates are WGS-84 as phones report them.
"""

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from geopy.distance import geodesic

logger = logging.getLogger(__name__)

# Mainland China and its islands lie within these bounds; a fix outside them is not a real one here.
CHINA_LATITUDE = (18.0, 54.0)
CHINA_LONGITUDE = (73.0, 136.0)

FLAG_LABELS = {
    "no_fix": _l("No location fix"),
    "invalid": _l("Invalid location values"),
    "null_island": _l("Position 0, 0 (not a real fix)"),
    "swapped": _l("Latitude and longitude look swapped"),
    "outside_china": _l("Outside China"),
    "poor_accuracy": _l("Poor or unknown accuracy"),
    "far_from_household": _l("Far from the household"),
    "stale_fix": _l("Old or undated location fix"),
}
FLAGS = tuple(FLAG_LABELS)


@dataclass
class LocationCheck:
    """The values to store for a fix and what looks wrong with it."""

    latitude: float | None
    longitude: float | None
    accuracy_m: float | None
    flags: list[str] = field(default_factory=list)
    # Geodesic distance to the household's registered point, when both points are usable.
    distance_m: float | None = None

    def flag(self, name: str) -> None:
        if name not in self.flags:
            self.flags.append(name)


def flag_label(flag: str) -> str:
    label = FLAG_LABELS.get(flag)
    return str(label) if label is not None else flag


def check_fix(
    latitude: float | None,
    longitude: float | None,
    accuracy_m: float | None,
    fixed_at: datetime | None,
    reference_at: datetime,
    household=None,
    *,
    max_accuracy_m: float,
    max_distance_m: float,
    max_fix_age_s: float,
) -> LocationCheck:
    """Check a fix taken at ``fixed_at`` for a visit captured at ``reference_at``.

    ``reference_at`` is the phone's submit time when it sent one (the same clock as ``fixed_at``),
    else the time the server received the visit. Non-finite numbers and a negative accuracy are
    stored as None and flagged ``invalid``.
    """
    check = LocationCheck(_finite(latitude), _finite(longitude), _finite(accuracy_m))
    if latitude is None or longitude is None:
        check.latitude = check.longitude = None
        check.flag("no_fix")
        return check
    if check.latitude is None or check.longitude is None or abs(latitude) > 180 or abs(longitude) > 180:
        check.flag("invalid")
        return check

    _check_position(check, household, max_distance_m)
    _check_accuracy(check, accuracy_m, max_accuracy_m)
    _check_age(check, fixed_at, reference_at, max_fix_age_s)
    return check


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _check_position(check: LocationCheck, household, max_distance_m: float) -> None:
    latitude, longitude = check.latitude, check.longitude
    if latitude == 0 and longitude == 0:
        check.flag("null_island")
        return
    if looks_swapped(latitude, longitude):
        check.flag("swapped")
    elif abs(latitude) > 90:
        # Not a latitude at all; with the values the other way round it may be a valid point.
        check.flag("swapped" if abs(longitude) <= 90 else "invalid")
    elif not is_in_china(latitude, longitude):
        check.flag("outside_china")

    household_point = _household_point(household)
    if household_point is None or "swapped" in check.flags or "invalid" in check.flags:
        return
    try:
        check.distance_m = geodesic((latitude, longitude), household_point).meters
    except ValueError as error:  # geopy rejects coordinates out of range
        logger.info("location %s, %s rejected by geopy: %s", latitude, longitude, error)
        check.flag("invalid")
        return
    if check.distance_m > max_distance_m:
        check.flag("far_from_household")


def _household_point(household) -> tuple[float, float] | None:
    if household is None or household.latitude is None or household.longitude is None:
        return None
    point = (float(household.latitude), float(household.longitude))
    if not all(math.isfinite(value) for value in point) or abs(point[0]) > 90 or abs(point[1]) > 180:
        logger.info("household %s has an unusable registered point %s", household.id, point)
        return None
    return point


def _check_accuracy(check: LocationCheck, accuracy_m: float | None, max_accuracy_m: float) -> None:
    if accuracy_m is not None and (check.accuracy_m is None or check.accuracy_m < 0):
        check.accuracy_m = None
        check.flag("invalid")
        return
    if check.accuracy_m is None or check.accuracy_m > max_accuracy_m:
        check.flag("poor_accuracy")


def _check_age(check: LocationCheck, fixed_at: datetime | None, reference_at: datetime,
               max_fix_age_s: float) -> None:
    if fixed_at is None:
        check.flag("stale_fix")
        return
    age_s = (reference_at - fixed_at).total_seconds()
    if age_s > max_fix_age_s:
        check.flag("stale_fix")
    elif age_s < -max_fix_age_s:
        # A fix later than the submission: the phone's clock or the sent values are wrong.
        check.flag("invalid")


def looks_swapped(latitude: float, longitude: float) -> bool:
    """Tell whether the point lies in China once latitude and longitude are exchanged."""
    return (
        CHINA_LONGITUDE[0] <= latitude <= CHINA_LONGITUDE[1]
        and CHINA_LATITUDE[0] <= longitude <= CHINA_LATITUDE[1]
    )


def is_in_china(latitude: float, longitude: float) -> bool:
    return (
        CHINA_LATITUDE[0] <= latitude <= CHINA_LATITUDE[1]
        and CHINA_LONGITUDE[0] <= longitude <= CHINA_LONGITUDE[1]
    )
