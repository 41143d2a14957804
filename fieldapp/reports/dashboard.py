"""Dashboard figures by county or township: visits, findings, rectification and satisfaction.

Every query is limited to the user's scope. Rows are counted by the household's county or
township, which one depends on the user: a user who sees one county (or picked one) gets its
townships, a user who sees several counties gets the counties.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Date, case, cast, distinct, exists, func, select

from fieldapp.divisions.models import Division
from fieldapp.extensions import db
from fieldapp.register.models import Household
from fieldapp.review.models import FINDING_STATUSES, Finding
from fieldapp.review.queries import overdue_clause
from fieldapp.sampling.models import SampledHousehold
from fieldapp.scope import division_prefixes, scoped_select
from fieldapp.visits.models import Visit

TREND_WEEKS = 12


@dataclass
class DivisionRow:
    code: str
    name: str
    sampled: int = 0
    visited: int = 0
    findings: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FINDING_STATUSES, 0))
    overdue: int = 0
    surveyed: int = 0
    satisfied: int = 0

    @property
    def not_visited(self) -> int:
        return self.sampled - self.visited

    @property
    def findings_total(self) -> int:
        return sum(self.findings.values())

    @property
    def corrected(self) -> int:
        """Findings corrected, whether or not already closed."""
        return self.findings["corrected"] + self.findings["closed"]

    @property
    def corrected_rate(self) -> float | None:
        return self.corrected / self.findings_total if self.findings_total else None

    @property
    def satisfaction_rate(self) -> float | None:
        return self.satisfied / self.surveyed if self.surveyed else None

    def add(self, other: "DivisionRow") -> None:
        self.sampled += other.sampled
        self.visited += other.visited
        for status, count in other.findings.items():
            self.findings[status] += count
        self.overdue += other.overdue
        self.surveyed += other.surveyed
        self.satisfied += other.satisfied


@dataclass
class TrendWeek:
    start: date
    visits: int = 0
    opened: int = 0
    corrected: int = 0


@dataclass
class Dashboard:
    level: str  # "county" or "township"
    rows: list[DivisionRow]
    total: DivisionRow
    trend: list[TrendWeek]
    county_code: str | None = None


def build(user, *, county_code: str | None = None, round_id: int | None = None,
          today: date | None = None) -> Dashboard:
    """Return the dashboard figures for ``user``; ``county_code`` narrows it to one county's townships."""
    today = today or datetime.now(_zone()).date()
    level = "township" if county_code or _single_county(user) else "county"
    group = Household.township_code if level == "township" else Household.county_code
    rows: dict[str, DivisionRow] = {}

    def row(code: str) -> DivisionRow:
        return rows.setdefault(code, DivisionRow(code=code, name=code))

    def narrowed(stmt):
        return stmt.where(Household.county_code == county_code) if county_code else stmt

    for code, sampled, visited in db.session.execute(narrowed(_sampled_query(user, group, round_id))):
        row(code).sampled, row(code).visited = sampled, visited
    for code, status, count, overdue in db.session.execute(narrowed(_findings_query(user, group, round_id,
                                                                                    today))):
        row(code).findings[status] = count
        row(code).overdue += overdue
    satisfied_values = set(current_app.config["SATISFIED_VALUES"])
    for code, answer, count in db.session.execute(narrowed(_satisfaction_query(user, group, round_id))):
        if answer is not None:
            row(code).surveyed += count
            row(code).satisfied += count if answer in satisfied_values else 0

    _name_rows(rows)
    ordered = sorted(rows.values(), key=lambda r: r.code)
    total = DivisionRow(code="", name="")
    for division_row in ordered:
        total.add(division_row)
    return Dashboard(level=level, rows=ordered, total=total,
                     trend=trend(user, county_code=county_code, round_id=round_id, today=today),
                     county_code=county_code)


def _single_county(user) -> bool:
    counties = {prefix[:6] for prefix in division_prefixes(user)}
    return len(counties) == 1 and all(len(prefix) >= 6 for prefix in division_prefixes(user))


def _visited():
    return exists().where(Visit.sampled_household_id == SampledHousehold.id)


def _sampled_query(user, group, round_id):
    """Households sampled and visited, each counted once however many rounds drew it.

    A household that could not be visited and was given up for a reserve is left out, so that
    the reserve takes its place in the count.
    """
    stmt = scoped_select(
        SampledHousehold, user, group,
        func.count(distinct(SampledHousehold.household_id)),
        func.count(distinct(case((_visited(), SampledHousehold.household_id)))),
    ).where(SampledHousehold.status == "active").group_by(group)
    if round_id is not None:
        stmt = stmt.where(SampledHousehold.sampling_round_id == round_id)
    return stmt


def _findings_query(user, group, round_id, today):
    stmt = scoped_select(
        Finding, user, group, Finding.status, func.count(Finding.id),
        func.count(case((overdue_clause(today), Finding.id))),
    ).group_by(group, Finding.status)
    if round_id is not None:
        in_round = select(SampledHousehold.id).where(SampledHousehold.sampling_round_id == round_id)
        stmt = stmt.where(Finding.sampled_household_id.in_(in_round))
    return stmt


def _satisfaction_query(user, group, round_id):
    """Count each household's latest visit by its satisfaction answer: rows of (group, answer, households).

    The latest visit is the one with the highest id, which is the one received last. Grouping by
    the answer reads each visit's JSON once, which matters on PostgreSQL's ``json`` type.
    """
    answer = Visit.answers[current_app.config["SATISFACTION_QUESTION"]].as_string()
    latest = select(func.max(Visit.id).label("visit_id"))
    if round_id is not None:
        in_round = select(SampledHousehold.id).where(SampledHousehold.sampling_round_id == round_id)
        latest = latest.where(Visit.sampled_household_id.in_(in_round))
    latest = latest.group_by(Visit.household_id).subquery()
    return (
        scoped_select(Visit, user, group, answer, func.count(Visit.id))
        .join(latest, latest.c.visit_id == Visit.id)
        .group_by(group, answer)
    )


def _name_rows(rows: dict[str, DivisionRow]) -> None:
    if not rows:
        return
    names = division_names(list(rows))
    for code, division_row in rows.items():
        division_row.name = names.get(code, code)


# Trend over time.


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])


def local_day(column):
    """Return an SQL expression for the calendar day of a UTC timestamp in the display time zone."""
    zone = current_app.config["DISPLAY_TIMEZONE"]
    if db.engine.dialect.name == "postgresql":
        return cast(func.timezone(zone, column), Date)
    # SQLite stores naive UTC text, so the zone's offset is added as minutes.
    # NOTE: the offset is today's; a zone with daylight saving time would be off by an hour part of the year.
    offset = datetime.now(ZoneInfo(zone)).utcoffset() or timedelta(0)
    return func.date(column, f"{int(offset.total_seconds() // 60):+d} minutes")


def trend(user, *, county_code: str | None = None, round_id: int | None = None, today: date,
          weeks: int = TREND_WEEKS) -> list[TrendWeek]:
    """Return visits received, findings opened and findings corrected per week, oldest week first.

    Weeks start on Monday in the display time zone, and the last one contains ``today``.
    """
    first_monday = today - timedelta(days=today.weekday(), weeks=weeks - 1)
    start_utc = datetime.combine(first_monday, datetime.min.time(), _zone()).astimezone(UTC)
    result = [TrendWeek(first_monday + timedelta(weeks=index)) for index in range(weeks)]

    def count_by_day(model, column, extra=None):
        day = local_day(column)
        stmt = scoped_select(model, user, day, func.count()).where(column >= start_utc).group_by(day)
        if county_code:
            stmt = stmt.where(Household.county_code == county_code)
        if extra is not None:
            stmt = stmt.where(extra)
        return db.session.execute(stmt).all()

    visit_round = finding_round = None
    if round_id is not None:
        in_round = select(SampledHousehold.id).where(SampledHousehold.sampling_round_id == round_id)
        visit_round = Visit.sampled_household_id.in_(in_round)
        finding_round = Finding.sampled_household_id.in_(in_round)
    series = {
        "visits": count_by_day(Visit, Visit.received_at, visit_round),
        "opened": count_by_day(Finding, Finding.created_at, finding_round),
        "corrected": count_by_day(Finding, Finding.corrected_at, finding_round),
    }
    for name, days in series.items():
        for day, count in days:
            day = day if isinstance(day, date) else date.fromisoformat(str(day))
            index = (day - first_monday).days // 7
            if 0 <= index < weeks:
                setattr(result[index], name, getattr(result[index], name) + count)
    return result


def county_choices(user) -> list[tuple[str, str]]:
    """Return (code, name) of the counties with households in the user's scope."""
    codes = [code for (code,) in db.session.execute(
        scoped_select(Household, user, Household.county_code).group_by(Household.county_code)
    )]
    if not codes:
        return []
    names = division_names(codes)
    return sorted((code, names.get(code, code)) for code in codes)


def division_names(codes: list[str]) -> dict[str, str]:
    stmt = select(Division.code, Division.name).where(Division.code.in_(codes))
    return dict(db.session.execute(stmt).all())
