"""Teams of inspectors (核查组): creating them, changing their members, and the teams a user may manage.

A team works in one county or township. Administrators see and change the teams whose
division lies within their own divisions, and choose members among the active inspectors
of their world whose divisions overlap the team's.
"""

from flask_babel import gettext as _
from sqlalchemy import or_, select

from fieldapp.audit.services import record
from fieldapp.auth.models import User
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.sampling.assignment import assignable_inspectors, inspector_prefixes
from fieldapp.sampling.models import Team, TeamMember
from fieldapp.scope import division_prefixes

NAME_MAX = 100


def teams_for(user) -> list[Team]:
    """Return the teams of the user's world whose division lies within the user's divisions, by name."""
    prefixes = division_prefixes(user)
    if not prefixes:
        return []
    stmt = (
        select(Team)
        .where(Team.is_demo == user.is_demo,
               or_(*(Team.division_code.startswith(prefix, autoescape=True) for prefix in prefixes)))
        .order_by(Team.name)
    )
    return list(db.session.execute(stmt).scalars())


def get_team_or_none(team_id: int, user) -> Team | None:
    return next((team for team in teams_for(user) if team.id == team_id), None)


def candidates(division, is_demo: bool) -> list[User]:
    """Return the active inspectors of a world whose divisions overlap ``division`` (a Division)."""
    inspectors = assignable_inspectors(is_demo)
    prefixes = inspector_prefixes(inspectors)
    return [
        inspector for inspector in inspectors
        if any(prefix.startswith(division.prefix) or division.prefix.startswith(prefix)
               for prefix in prefixes[inspector.id])
    ]


def _check(name: str, division, member_ids: list[int], *, is_demo: bool, team: Team | None) -> list[User]:
    if not name:
        raise FieldError("name", _("Give the team a name."))
    if len(name) > NAME_MAX:
        raise FieldError("name", _("The name has %(length)d characters; use at most %(max)d.",
                                   length=len(name), max=NAME_MAX))
    same_name = db.session.execute(
        select(Team.id).where(Team.is_demo == is_demo, Team.name == name)
    ).scalar_one_or_none()
    if same_name is not None and (team is None or same_name != team.id):
        raise FieldError("name", _("A team named %(name)s exists already; choose another name.", name=name))

    allowed = {inspector.id: inspector for inspector in candidates(division, is_demo)}
    members = []
    for member_id in dict.fromkeys(member_ids):
        inspector = allowed.get(member_id)
        if inspector is None:
            raise FieldError("members", _("User %(id)d is not an active inspector in %(division)s; choose "
                                          "members from the list.", id=member_id, division=division.name))
        other = db.session.execute(
            select(Team.id, Team.name).join(TeamMember, TeamMember.team_id == Team.id)
            .where(TeamMember.user_id == member_id)
        ).first()
        if other is not None and (team is None or other.id != team.id):
            raise FieldError("members", _("Inspector %(user)s is already in team %(team)s; take them out of "
                                          "that team first.", user=inspector.username, team=other.name))
        members.append(inspector)
    return members


def create_team(name: str, division, member_ids: list[int], *, user) -> Team:
    """Create a team in ``division`` (a county or township the user may sample); flushes."""
    name = (name or "").strip()
    members = _check(name, division, member_ids, is_demo=user.is_demo, team=None)
    team = Team(name=name, is_demo=user.is_demo, division_code=division.code,
                members=[TeamMember(user_id=member.id) for member in members])
    db.session.add(team)
    db.session.flush()
    record("sampling.team_create", team, user=user, division=division.code,
           member_ids=[member.id for member in members])
    return team


def update_team(team: Team, name: str, member_ids: list[int], *, user) -> None:
    """Rename a team and set its members; flushes. Households already assigned keep their team."""
    name = (name or "").strip()
    members = _check(name, team.division, member_ids, is_demo=team.is_demo, team=team)
    previous = sorted(member.user_id for member in team.members)
    team.name = name
    wanted = {member.id for member in members}
    team.members = [member for member in team.members if member.user_id in wanted]
    db.session.flush()
    kept = {member.user_id for member in team.members}
    team.members.extend(TeamMember(user_id=member.id) for member in members if member.id not in kept)
    db.session.flush()
    record("sampling.team_update", team, user=user, previous_member_ids=previous,
           member_ids=sorted(wanted))
