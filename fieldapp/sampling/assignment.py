"""Assigning a round's sampled households to teams and inspectors, by hand or automatically.

Automatic assignment gives each village to a single inspector and that inspector's team, and
moves change only the households a supervisor picks. Households already visited keep their
inspector, and households that cannot be visited have no inspector.
"""

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from fractions import Fraction

from flask_babel import gettext as _
from sqlalchemy import select

from fieldapp.audit.services import record
from fieldapp.auth.models import User, UserDivision
from fieldapp.db_types import utcnow
from fieldapp.divisions.models import Division, code_prefix
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.register.models import Household
from fieldapp.sampling.models import SampledHousehold, SamplingRound, Team, TeamMember
from fieldapp.scope import division_prefixes, overlaps, scoped_select
from fieldapp.visits.models import Visit

logger = logging.getLogger(__name__)


@dataclass
class AutoAssignResult:
    assigned: int = 0
    # Village codes whose households stay unassigned because no given inspector covers them.
    villages_without_inspector: list[str] = field(default_factory=list)


@dataclass
class MoveResult:
    moved: int = 0
    skipped_visited: int = 0  # households the first inspector has already visited
    skipped_outside: int = 0  # households in villages the second inspector's divisions do not include


# -- inspectors and teams ---------------------------------------------------------


def assignable_inspectors(is_demo: bool, user=None) -> list[User]:
    """Return the active inspectors of one world (demo or real), by user name.

    With ``user``, only the inspectors who share a division with the user (see ``shares_divisions``).
    """
    stmt = (
        select(User)
        .where(User.role == "inspector", User.is_demo == is_demo, User.is_active_account.is_(True))
        .order_by(User.username)
    )
    inspectors = list(db.session.execute(stmt).scalars())
    if user is None:
        return inspectors
    own = division_prefixes(user)
    prefixes = inspector_prefixes(inspectors)
    return [inspector for inspector in inspectors if overlaps(prefixes[inspector.id], own)]


def shares_divisions(other: User, user) -> bool:
    """Return whether ``other`` is of the user's world and has a division inside or around one of theirs."""
    if bool(other.is_demo) != bool(user.is_demo):
        return False
    return overlaps(inspector_prefixes([other])[other.id], division_prefixes(user))


def inspector_prefixes(inspectors: list[User]) -> dict[int, list[str]]:
    """Return each inspector's division code prefixes, read in one query."""
    prefixes: dict[int, list[str]] = {inspector.id: [] for inspector in inspectors}
    rows = db.session.execute(
        select(UserDivision.user_id, Division.code, Division.level)
        .join(Division, UserDivision.division_code == Division.code)
        .where(UserDivision.user_id.in_(list(prefixes)))
    )
    for user_id, code, level in rows:
        prefixes[user_id].append(code_prefix(code, level))
    return prefixes


def covers(prefixes: list[str], division_code: str) -> bool:
    return any(division_code.startswith(prefix) for prefix in prefixes)


def team_ids(inspector_ids) -> dict[int, int]:
    """Return the team of each inspector that has one, as inspector id -> team id."""
    ids = [inspector_id for inspector_id in inspector_ids if inspector_id is not None]
    if not ids:
        return {}
    stmt = select(TeamMember.user_id, TeamMember.team_id).where(TeamMember.user_id.in_(ids))
    return dict(db.session.execute(stmt).all())


def check_inspector(inspector: User, is_demo: bool) -> None:
    if inspector.role != "inspector":
        raise FieldError("inspector", _("User %(user)s is not an inspector; choose an inspector.",
                                        user=inspector.username))
    if not inspector.is_active_account:
        raise FieldError("inspector", _("Inspector %(user)s is deactivated; choose an active inspector.",
                                        user=inspector.username))
    if bool(inspector.is_demo) != bool(is_demo):
        raise FieldError("inspector", _("Inspector %(user)s cannot visit this round: training accounts visit "
                                        "only demo rounds, and real accounts only real rounds.",
                                        user=inspector.username))


def set_inspector(sampled: SampledHousehold, inspector: User | None, *, user, automatic: bool,
                  team_id: int | None = None) -> None:
    """Give ``sampled`` to ``inspector`` and its team, or unassign it for None; write the audit record."""
    previous_id = sampled.inspector_id
    sampled.inspector = inspector
    sampled.inspector_id = inspector.id if inspector is not None else None
    sampled.team_id = team_id if inspector is not None else None
    sampled.assigned_at = utcnow() if inspector is not None else None
    record("sampling.assign", sampled, user=user, sampling_round_id=sampled.sampling_round_id,
           inspector_id=sampled.inspector_id, team_id=sampled.team_id, previous_inspector_id=previous_id,
           automatic=automatic)


# -- by hand -----------------------------------------------------------------------


def assign(sampled_household: SampledHousehold, inspector: User | None, *, user) -> None:
    """Give the household to ``inspector``, or take it back when ``inspector`` is None; flushes.

    The inspector must be an active inspector of the round's world whose divisions
    include the household's village; the household's team becomes the inspector's
    team. A household already visited keeps its inspector, and one that cannot be
    visited gets none.
    """
    if sampled_household.status != "active":
        raise FieldError("inspector", _("This household cannot be visited and a reserve took its place, "
                                        "so it can no longer be assigned."))
    if inspector is not None:
        check_inspector(inspector, sampled_household.sampling_round.is_demo)
        village = sampled_household.household.division_code
        if not covers(inspector_prefixes([inspector])[inspector.id], village):
            raise FieldError("inspector", _("Inspector %(user)s may not visit households in village "
                                            "%(village)s; choose an inspector whose divisions include it.",
                                            user=inspector.username, village=village))
    new_id = inspector.id if inspector is not None else None
    if new_id == sampled_household.inspector_id:
        return
    if sampled_household.visits:
        raise FieldError("inspector", _("This household has already been visited, so its inspector "
                                        "can no longer change."))
    set_inspector(sampled_household, inspector, user=user, automatic=False,
                  team_id=team_ids([new_id]).get(new_id))
    db.session.flush()


def move_households(sampling_round: SamplingRound, from_inspector: User, to_inspector: User, *, user,
                    village: str | None = None) -> MoveResult:
    """Move the round's households from one inspector to another; flushes.

    Only households in the user's scope move, and only those of ``village`` when it is
    given. Households already visited stay with the first inspector, and households
    in villages the second inspector's divisions do not include stay too; the result
    counts both.
    """
    if from_inspector.id == to_inspector.id:
        raise FieldError("to_inspector", _("Choose two different inspectors."))
    check_inspector(to_inspector, sampling_round.is_demo)
    prefixes = inspector_prefixes([to_inspector])[to_inspector.id]
    team_id = team_ids([to_inspector.id]).get(to_inspector.id)
    visited = select(Visit.id).where(Visit.sampled_household_id == SampledHousehold.id).exists()

    stmt = _active_in_round(sampling_round, user, SampledHousehold, Household.division_code, visited)
    stmt = stmt.where(SampledHousehold.inspector_id == from_inspector.id)
    if village:
        stmt = stmt.where(Household.division_code == village)
    result = MoveResult()
    for sampled, village_code, is_visited in db.session.execute(stmt.order_by(SampledHousehold.draw_order)):
        if is_visited:
            result.skipped_visited += 1
        elif not covers(prefixes, village_code):
            result.skipped_outside += 1
        else:
            set_inspector(sampled, to_inspector, user=user, automatic=False, team_id=team_id)
            result.moved += 1
    db.session.flush()
    logger.info("sampling round %s: %d households moved from inspector %s to %s, %d visited and %d outside "
                "kept", sampling_round.id, result.moved, from_inspector.id, to_inspector.id,
                result.skipped_visited, result.skipped_outside)
    return result


# -- automatic -----------------------------------------------------------------------


def _active_in_round(sampling_round: SamplingRound, user, *columns):
    """Return a select of the round's active households in the user's scope (all for ``user`` None)."""
    if user is None:
        stmt = select(*columns).join(Household, SampledHousehold.household_id == Household.id)
    else:
        stmt = scoped_select(SampledHousehold, user, *columns)
    return stmt.where(SampledHousehold.sampling_round_id == sampling_round.id,
                      SampledHousehold.status == "active")


def _villages(sampling_round: SamplingRound, user):
    """Return the round's unassigned households by village, and the assigned as (village, inspector, team)."""
    stmt = _active_in_round(sampling_round, user, SampledHousehold, Household.division_code)
    unassigned: dict[str, list[SampledHousehold]] = defaultdict(list)
    assigned: list[tuple[str, int, int | None]] = []
    for sampled, village in db.session.execute(stmt.order_by(SampledHousehold.draw_order)):
        if sampled.inspector_id is None:
            unassigned[village].append(sampled)
        else:
            assigned.append((village, sampled.inspector_id, sampled.team_id))
    return unassigned, assigned


def auto_assign(sampling_round: SamplingRound, inspectors: list[User], *, user) -> AutoAssignResult:
    """Assign the round's unassigned households, keeping each village with one inspector; flushes.

    Villages go in order of size, largest first. Each goes to the inspector with
    the fewest households in the round so far among those whose divisions include
    it, unless exactly one of these inspectors already has households there.
    Households assigned before are kept as they are, and only households in the user's
    scope are assigned (every household of the round for ``user`` None, the command line).
    An inspector's team, when the inspector has one, is recorded with the household.
    """
    for inspector in inspectors:
        check_inspector(inspector, sampling_round.is_demo)
    prefixes = inspector_prefixes(inspectors)
    by_id = {inspector.id: inspector for inspector in inspectors}
    teams = team_ids(by_id)

    unassigned, assigned = _villages(sampling_round, user)
    load: Counter[int] = Counter()
    owners: dict[str, set[int]] = defaultdict(set)
    for village, inspector_id, _team_id in assigned:
        if inspector_id in by_id:
            load[inspector_id] += 1
            owners[village].add(inspector_id)

    result = AutoAssignResult()
    for village in sorted(unassigned, key=lambda code: (-len(unassigned[code]), code)):
        eligible = [inspector for inspector in inspectors if covers(prefixes[inspector.id], village)]
        if not eligible:
            result.villages_without_inspector.append(village)
            continue
        chosen = _choose_inspector(eligible, owners[village], load)
        for sampled in unassigned[village]:
            set_inspector(sampled, chosen, user=user, automatic=True, team_id=teams.get(chosen.id))
        load[chosen.id] += len(unassigned[village])
        result.assigned += len(unassigned[village])
    db.session.flush()
    logger.info("sampling round %s: %d households assigned automatically, %d villages without an inspector",
                sampling_round.id, result.assigned, len(result.villages_without_inspector))
    return result


def _choose_inspector(eligible: list[User], owner_ids: set[int], load: Counter) -> User:
    owners = [inspector for inspector in eligible if inspector.id in owner_ids]
    if len(owners) == 1:
        return owners[0]
    return min(eligible, key=lambda inspector: (load[inspector.id], inspector.username))


def auto_assign_teams(sampling_round: SamplingRound, teams: list[Team], *, user) -> AutoAssignResult:
    """Assign the round's unassigned households village by village to teams, then to their members; flushes.

    Villages go in order of size, largest first. When exactly one team already has
    households in a village, the village goes to that team. Otherwise it goes to the
    team with the fewest households per member among the teams with a member whose
    divisions include the village. Within the team it goes to one such member, chosen as
    ``auto_assign`` chooses. Inactive members and members of another world are left out.
    """
    members: dict[int, list[User]] = {}
    for team in teams:
        if bool(team.is_demo) != bool(sampling_round.is_demo):
            raise FieldError("teams", _("Team %(team)s cannot visit this round: training teams visit only "
                                        "demo rounds, and real teams only real rounds.", team=team.name))
        members[team.id] = sorted(
            (member.user for member in team.members
             if member.user.role == "inspector" and member.user.is_active_account
             and bool(member.user.is_demo) == bool(sampling_round.is_demo)),
            key=lambda inspector: inspector.username,
        )
    all_members = [inspector for team_members in members.values() for inspector in team_members]
    prefixes = inspector_prefixes(all_members)
    team_of = {inspector.id: team_id
               for team_id, team_members in members.items() for inspector in team_members}

    unassigned, assigned = _villages(sampling_round, user)
    inspector_load: Counter[int] = Counter()
    team_load: Counter[int] = Counter()
    inspector_owners: dict[str, set[int]] = defaultdict(set)
    team_owners: dict[str, set[int]] = defaultdict(set)
    for village, inspector_id, team_id in assigned:
        if inspector_id in team_of:
            inspector_load[inspector_id] += 1
            inspector_owners[village].add(inspector_id)
        if team_id in members:
            team_load[team_id] += 1
            team_owners[village].add(team_id)

    result = AutoAssignResult()
    by_name = {team.id: team.name for team in teams}
    for village in sorted(unassigned, key=lambda code: (-len(unassigned[code]), code)):
        covering = {team_id: [m for m in team_members if covers(prefixes[m.id], village)]
                    for team_id, team_members in members.items()}
        eligible = [team_id for team_id, covering_members in covering.items() if covering_members]
        if not eligible:
            result.villages_without_inspector.append(village)
            continue
        owners = [team_id for team_id in eligible if team_id in team_owners[village]]
        if len(owners) == 1:
            team_id = owners[0]
        else:
            team_id = min(eligible,
                          key=lambda tid: (Fraction(team_load[tid], len(members[tid])), by_name[tid]))
        chosen = _choose_inspector(covering[team_id], inspector_owners[village], inspector_load)
        for sampled in unassigned[village]:
            set_inspector(sampled, chosen, user=user, automatic=True, team_id=team_id)
        count = len(unassigned[village])
        inspector_load[chosen.id] += count
        team_load[team_id] += count
        result.assigned += count
    db.session.flush()
    logger.info("sampling round %s: %d households assigned to %d teams, %d villages without a team member",
                sampling_round.id, result.assigned, len(teams), len(result.villages_without_inspector))
    return result


# -- choices for the pages -------------------------------------------------------------


def round_inspectors(sampling_round: SamplingRound, user) -> list[User]:
    """Return the inspectors who hold households of the round in the user's scope, by user name."""
    holders = scoped_select(SampledHousehold, user, SampledHousehold.inspector_id).where(
        SampledHousehold.sampling_round_id == sampling_round.id, SampledHousehold.inspector_id.is_not(None)
    )
    stmt = select(User).where(User.id.in_(holders)).order_by(User.username)
    return list(db.session.execute(stmt).scalars())


def round_villages(sampling_round: SamplingRound, user) -> list[tuple[str, str]]:
    """Return (code, name) of the villages of the round's households in the user's scope."""
    # The sampled household's column comes first so that the scope's join starts from it.
    stmt = scoped_select(SampledHousehold, user, SampledHousehold.household_id, Household.division_code,
                         Household.village).where(SampledHousehold.sampling_round_id == sampling_round.id)
    return sorted({(code, name) for _household_id, code, name in db.session.execute(stmt)})
