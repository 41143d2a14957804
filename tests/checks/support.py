"""Helpers shared by the check tests: reading problems back and fixing the reference date."""

from datetime import date

from sqlalchemy import select

from fieldapp import idnumbers
from fieldapp.checks import settings as check_settings
from fieldapp.checks.models import CheckRun, SuspectedProblem
from fieldapp.checks.rules import RULES
from fieldapp.db_types import utcnow
from fieldapp.extensions import db

# Ages in the tests are counted on this date; factory members are born on 1980-01-01.
REFERENCE = date(2026, 11, 30)


def problems(rule_id: str | None = None, status: str | None = None) -> list[SuspectedProblem]:
    stmt = select(SuspectedProblem).order_by(SuspectedProblem.id)
    if rule_id:
        stmt = stmt.where(SuspectedProblem.rule_id == rule_id)
    if status:
        stmt = stmt.where(SuspectedProblem.status == status)
    return list(db.session.scalars(stmt))


def hits(rule_id: str) -> list[tuple[int, int | None]]:
    """(household id, member id) of the open problems of one rule."""
    return [(p.household_id, p.member_id) for p in problems(rule_id, "open")]


def set_thresholds(**values) -> None:
    """Store thresholds by name, e.g. ``reference_date="2026-11-30"``; every rule stays enabled."""
    check_settings.save({name: str(value) for name, value in values.items()}, set(RULES), list(RULES),
                        is_demo=False, user=None)


def born(years_before_reference: int, *, days_later: int = 0) -> date:
    """A birth date that makes a member ``years_before_reference`` years old on the reference date."""
    birth = date(REFERENCE.year - years_before_reference, REFERENCE.month, REFERENCE.day)
    return date.fromordinal(birth.toordinal() + days_later)


def set_birth(member, birth: date) -> None:
    """Give a member a birth date and an ID number that agrees with it (same region and sequence)."""
    first17 = member.id_number[:6] + birth.strftime("%Y%m%d") + member.id_number[14:17]
    member.id_number = first17 + idnumbers.check_character(first17)
    member.birth_date = birth


def running_run(user, prefixes: list[str], **fields) -> CheckRun:
    """Add and flush a page run of ``user`` over ``prefixes``, running and with progress now."""
    run = CheckRun(is_demo=False, status="running", source="page", started_by_id=user.id,
                   division_prefixes=prefixes, progress_at=utcnow())
    for name, value in fields.items():
        setattr(run, name, value)
    db.session.add(run)
    db.session.flush()
    return run
