"""Points for the supervisor map: registered household positions and visit fixes, in the user's scope.

Each household point carries the state of its findings, worst first: overdue, open
(pending or in progress), corrected, closed, or none. Visits carry their location flags, and a
visit flagged far from the household is drawn with a line to the registered point.
Positions are stored in WGS-84 and converted to GCJ-02 only when the configured tiles use it.
"""

from dataclasses import dataclass
from datetime import date

from flask import current_app, url_for
from sqlalchemy import case, func, or_, select

from fieldapp.extensions import db
from fieldapp.register.models import Household
from fieldapp.reports.geo import wgs84_to_gcj02
from fieldapp.review.models import Finding
from fieldapp.review.queries import overdue_clause
from fieldapp.sampling.models import SampledHousehold
from fieldapp.scope import scoped_select
from fieldapp.visits.models import Visit

# Finding states by severity; a household shows its most severe one.
STATES = ("none", "closed", "corrected", "open", "overdue")
FAR_FLAG = "far_from_household"


@dataclass(frozen=True)
class TileSettings:
    url: str | None
    attribution: str
    subdomains: str
    coordinates: str
    max_zoom: int

    @classmethod
    def from_config(cls, config) -> "TileSettings":
        return cls(
            url=config.get("MAP_TILE_URL") or None,
            attribution=config.get("MAP_TILE_ATTRIBUTION") or "",
            subdomains=config.get("MAP_TILE_SUBDOMAINS") or "",
            coordinates=(config.get("MAP_TILE_COORDINATES") or "wgs84").lower(),
            max_zoom=int(config.get("MAP_TILE_MAX_ZOOM") or 18),
        )

    @property
    def converts_to_gcj02(self) -> bool:
        return bool(self.url) and self.coordinates == "gcj02"


def _display(latitude: float, longitude: float, tiles: TileSettings) -> list[float]:
    if tiles.converts_to_gcj02:
        latitude, longitude = wgs84_to_gcj02(latitude, longitude)
    return [round(latitude, 6), round(longitude, 6)]


def _state_rank(today: date):
    """Return an SQL expression ranking one finding's state as an index into ``STATES``."""
    return case(
        (overdue_clause(today), 4),
        (Finding.status.in_(("pending", "in_progress")), 3),
        (Finding.status == "corrected", 2),
        (Finding.status == "closed", 1),
        else_=0,
    )


def household_states(household_ids: list[int], user, today: date) -> dict[int, tuple[str, int]]:
    """Return household id -> (worst finding state, number of findings)."""
    if not household_ids:
        return {}
    worst, findings = func.max(_state_rank(today)), func.count(Finding.id)
    stmt = (
        scoped_select(Finding, user, Finding.household_id, worst, findings)
        .where(Finding.household_id.in_(household_ids))
        .group_by(Finding.household_id)
    )
    rows = db.session.execute(stmt).all()
    return {household_id: (STATES[rank], count) for household_id, rank, count in rows}


def points(user, *, township_code: str | None, round_id: int | None, today: date) -> dict:
    """Return the map's households and visits as JSON-ready dicts, at most ``MAP_MAX_POINTS`` of each."""
    tiles = TileSettings.from_config(current_app.config)
    limit = int(current_app.config["MAP_MAX_POINTS"])
    households, households_truncated = _households(user, township_code, round_id, limit)
    states = household_states([h.id for h in households], user, today)
    visits, visits_truncated = _visits(user, township_code, round_id, limit)
    positions = {h.id: (h.latitude, h.longitude) for h in households}
    return {
        "households": [_household_point(h, states.get(h.id, ("none", 0)), tiles) for h in households],
        "visits": [_visit_point(v, positions, states, tiles) for v in visits],
        "truncated": households_truncated or visits_truncated,
        "coordinates": "gcj02" if tiles.converts_to_gcj02 else "wgs84",
    }


def _households(user, township_code, round_id, limit) -> tuple[list[Household], bool]:
    """Households with a registered position that were sampled or have findings."""
    sampled = select(SampledHousehold.household_id)
    if round_id is not None:
        sampled = sampled.where(SampledHousehold.sampling_round_id == round_id)
    relevant = [Household.id.in_(sampled)]
    if round_id is None:
        relevant.append(Household.id.in_(select(Finding.household_id)))
    stmt = (
        scoped_select(Household, user)
        .where(Household.latitude.is_not(None), Household.longitude.is_not(None), or_(*relevant))
        .order_by(Household.id)
        .limit(limit + 1)
    )
    if township_code:
        stmt = stmt.where(Household.township_code == township_code)
    rows = list(db.session.scalars(stmt))
    return rows[:limit], len(rows) > limit


def _visits(user, township_code, round_id, limit) -> tuple[list[Visit], bool]:
    stmt = (
        scoped_select(Visit, user)
        .where(Visit.latitude.is_not(None), Visit.longitude.is_not(None))
        .order_by(Visit.id.desc())
        .limit(limit + 1)
    )
    if township_code:
        stmt = stmt.where(Household.township_code == township_code)
    if round_id is not None:
        in_round = select(SampledHousehold.id).where(SampledHousehold.sampling_round_id == round_id)
        stmt = stmt.where(Visit.sampled_household_id.in_(in_round))
    rows = list(db.session.scalars(stmt))
    return rows[:limit], len(rows) > limit


def _household_point(household: Household, state: tuple[str, int], tiles: TileSettings) -> dict:
    return {
        "id": household.id,
        "position": _display(household.latitude, household.longitude, tiles),
        "state": state[0],
        "findings": state[1],
        "label": household.household_no,
        "village": f"{household.township} {household.village}".strip(),
        "url": url_for("register.household", household_id=household.id),
    }


def _visit_point(visit: Visit, positions: dict, states: dict, tiles: TileSettings) -> dict:
    flags = list(visit.location_flags or [])
    home = positions.get(visit.household_id)
    if home is None and FAR_FLAG in flags:
        household = visit.household
        if household.latitude is not None and household.longitude is not None:
            home = (household.latitude, household.longitude)
    return {
        "id": visit.id,
        "position": _display(visit.latitude, visit.longitude, tiles),
        "household": _display(*home, tiles) if home and FAR_FLAG in flags else None,
        "state": states.get(visit.household_id, ("none", 0))[0],
        "flags": flags,
        "is_far": FAR_FLAG in flags,
        "distance_m": round(visit.distance_m) if visit.distance_m is not None else None,
        "accuracy_m": round(visit.accuracy_m) if visit.accuracy_m is not None else None,
        "url": url_for("review.visit", visit_id=visit.id),
    }
