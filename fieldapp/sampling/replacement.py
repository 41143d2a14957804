"""Replacing a sampled household that cannot be visited with the next reserve of its stratum.

The replaced household stays in the round with the status ``cannot_visit``, the reason,
who recorded it and when. The reserve becomes a new sampled household that points at the
household it replaced, and the reserve list entry points at that new household, so the
whole trail can be read back from either end.
"""

import logging
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from fieldapp.audit.services import record
from fieldapp.db_types import utcnow
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.register.models import Household
from fieldapp.sampling.assignment import covers, inspector_prefixes, set_inspector, team_ids
from fieldapp.sampling.models import CANNOT_VISIT_REASONS, ReserveHousehold, SampledHousehold, SamplingRound
from fieldapp.scope import household_clause, scoped_select

logger = logging.getLogger(__name__)

REASON_LABELS = {
    "moved": _l("Moved away"),
    "nobody_home": _l("Nobody at home after two visits"),
    "refused": _l("Refused the visit"),
    "other": _l("Other reason"),
}
NOTE_MAX = 500


@dataclass(frozen=True)
class Replacement:
    replaced: SampledHousehold
    # None when the stratum had no reserve left, so the round has one household fewer.
    replacement: SampledHousehold | None


def next_reserve(sampled: SampledHousehold) -> ReserveHousehold | None:
    """Return the first unused reserve of the household's stratum and kind (control or not)."""
    stmt = (
        select(ReserveHousehold)
        .where(
            ReserveHousehold.sampling_round_id == sampled.sampling_round_id,
            ReserveHousehold.stratum_code == sampled.stratum_code,
            ReserveHousehold.is_control == sampled.is_control,
            ReserveHousehold.used_at.is_(None),
        )
        .order_by(ReserveHousehold.reserve_order)
        .limit(1)
        .with_for_update()
    )
    return db.session.execute(stmt).scalars().first()


def unused_reserves(sampling_round_id: int, user) -> dict[str, int]:
    """Return the number of unused reserves per stratum code in the user's scope (all for ``user`` None)."""
    stmt = (
        select(ReserveHousehold.stratum_code, func.count(ReserveHousehold.id))
        .where(ReserveHousehold.sampling_round_id == sampling_round_id, ReserveHousehold.used_at.is_(None))
        .group_by(ReserveHousehold.stratum_code)
    )
    if user is not None:
        stmt = stmt.join(Household, ReserveHousehold.household_id == Household.id)
        stmt = stmt.where(household_clause(user))
    return dict(db.session.execute(stmt).all())


def _check(sampled: SampledHousehold, reason: str, note: str) -> None:
    if sampled.status != "active":
        raise FieldError("reason", _("This household was already recorded as not visitable, so nothing was "
                                     "changed."))
    if sampled.visits:
        raise FieldError("reason", _("This household has already been visited, so it cannot be replaced."))
    if reason not in CANNOT_VISIT_REASONS:
        raise FieldError("reason", _("Choose why the household cannot be visited."))
    if reason == "other" and not note:
        raise FieldError("note", _("Describe the reason in the note when you choose \"Other reason\"."))
    if len(note) > NOTE_MAX:
        raise FieldError("note", _("The note has %(length)d characters; use at most %(max)d.",
                                   length=len(note), max=NOTE_MAX))


def _in_scope(household_id: int, user) -> bool:
    if user is None:
        return True
    stmt = scoped_select(Household, user, Household.id).where(Household.id == household_id)
    return db.session.execute(stmt).first() is not None


def replace_household(sampled: SampledHousehold, reason: str, note: str = "", *, user) -> Replacement:
    """Record that ``sampled`` cannot be visited and put its stratum's next reserve in its place; flushes.

    The replaced household loses its inspector, because no one should visit it. The
    reserve goes to the same inspector when that inspector's divisions include the
    reserve's village, and is left unassigned otherwise. When the next reserve lies
    outside the user's divisions, FieldError is raised and nothing changes. When the
    stratum has no reserve left, the household is still recorded as not visitable.
    """
    note = (note or "").strip()
    _check(sampled, reason, note)
    reserve = next_reserve(sampled)
    if reserve is not None and not _in_scope(reserve.household_id, user):
        raise FieldError("reason", _("The next reserve of stratum %(stratum)s lies outside your divisions, "
                                     "so nothing was changed; ask a supervisor or administrator whose "
                                     "divisions include the whole stratum.", stratum=sampled.stratum_code))

    now = utcnow()
    previous_inspector = sampled.inspector
    if previous_inspector is not None:
        set_inspector(sampled, None, user=user, automatic=True)
    sampled.status = "cannot_visit"
    sampled.cannot_visit_reason = reason
    sampled.cannot_visit_note = note
    sampled.cannot_visit_at = now
    sampled.cannot_visit_by_id = getattr(user, "id", None)

    replacement = None
    if reserve is not None:
        replacement = _promote(reserve, sampled, now)
        if previous_inspector is not None and previous_inspector.is_active_account:
            village = db.session.get(Household, reserve.household_id).division_code
            if covers(inspector_prefixes([previous_inspector])[previous_inspector.id], village):
                set_inspector(replacement, previous_inspector, user=user, automatic=True,
                              team_id=team_ids([previous_inspector.id]).get(previous_inspector.id))
    db.session.flush()

    record("sampling.replace", sampled, user=user, sampling_round_id=sampled.sampling_round_id, reason=reason,
           stratum_code=sampled.stratum_code, replacement_id=replacement.id if replacement else None,
           reserve_order=reserve.reserve_order if reserve else None,
           previous_inspector_id=previous_inspector.id if previous_inspector else None)
    logger.info("sampling round %s: household %s cannot be visited (%s), replaced by %s",
                sampled.sampling_round_id, sampled.id, reason,
                replacement.id if replacement else "no reserve")
    return Replacement(sampled, replacement)


def _promote(reserve: ReserveHousehold, replaced: SampledHousehold, now) -> SampledHousehold:
    # Locking the round makes concurrent replacements in it take turns for the next draw number
    # on PostgreSQL; SQLite transactions here already take the write lock when they begin.
    db.session.execute(
        select(SamplingRound.id).where(SamplingRound.id == replaced.sampling_round_id).with_for_update()
    )
    last_order = db.session.execute(
        select(func.max(SampledHousehold.draw_order))
        .where(SampledHousehold.sampling_round_id == replaced.sampling_round_id)
    ).scalar_one()
    replacement = SampledHousehold(
        sampling_round_id=replaced.sampling_round_id,
        household_id=reserve.household_id,
        stratum_code=reserve.stratum_code,
        draw_order=(last_order or 0) + 1,
        is_control=reserve.is_control,
        status="active",
        replaces_id=replaced.id,
    )
    db.session.add(replacement)
    db.session.flush()
    reserve.used_at = now
    reserve.sampled_household_id = replacement.id
    return replacement
