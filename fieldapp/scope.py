"""The one place that limits what a user may see.

Every query that returns households, members, suspected problems, sampled
households, visits, photos or findings goes through ``scoped_select`` or
``get_scoped_or_404``. A user sees a record when its household lies in one of
the user's divisions and belongs to the same world (demo or real) as the user.
Records outside the scope answer 404, never 403, so their existence is not
revealed.
"""

from collections import OrderedDict
from collections.abc import Callable, Sequence
from threading import Lock

from flask import abort, g
from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select

from fieldapp.checks.models import SuspectedProblem
from fieldapp.divisions.models import Division, code_prefix
from fieldapp.extensions import db
from fieldapp.register.models import Household, Member
from fieldapp.review.models import Finding
from fieldapp.sampling.models import SampledHousehold, SamplingRound
from fieldapp.visits.models import Photo, Visit

# How each scoped model reaches its household: the column holding the household id,
# and for photos the join through the visit.
_HOUSEHOLD_ID_COLUMN = {
    Member: Member.household_id,
    SuspectedProblem: SuspectedProblem.household_id,
    SampledHousehold: SampledHousehold.household_id,
    Visit: Visit.household_id,
    Finding: Finding.household_id,
}


# Prefixes by database and division codes. A division's level never changes once imported, so
# an entry stays true; sets of codes not all found in the database are not kept.
_prefix_cache: dict[tuple, list[str]] = {}


def division_prefixes(user) -> list[str]:
    """Return the code prefixes of the user's divisions (``371622`` for a county)."""
    codes = user.division_codes
    if not codes:
        return []
    key = (str(db.engine.url), tuple(sorted(codes)))
    cached = _prefix_cache.get(key)
    if cached is not None:
        return list(cached)
    rows = db.session.execute(select(Division.code, Division.level).where(Division.code.in_(codes))).all()
    prefixes = sorted(code_prefix(code, level) for code, level in rows)
    if len(rows) == len(set(codes)):
        _prefix_cache[key] = prefixes
    return prefixes


def lies_within(prefix: str, prefixes: Sequence[str]) -> bool:
    """Return whether the division of code prefix ``prefix`` lies in one of the divisions of ``prefixes``."""
    return any(prefix.startswith(other) for other in prefixes)


def overlaps(prefixes: Sequence[str], other_prefixes: Sequence[str]) -> bool:
    """Return whether a division of one prefix list lies inside or around a division of the other."""
    return any(lies_within(prefix, other_prefixes) for prefix in prefixes) or any(
        lies_within(other, prefixes) for other in other_prefixes)


def covers_every_household(user) -> bool:
    """Return whether every household of the user's world lies in the user's divisions.

    Counts and settings over every division may be shown to or changed by such a user only. The
    result is cached for one application context (a request or a job), because an import can add
    households.
    """
    own = division_prefixes(user)
    if not own:
        return False
    cache = g.setdefault("covers_every_household", {})
    key = (user.is_demo, tuple(own))
    if key not in cache:
        outside = select(Household.id).where(
            Household.is_demo == user.is_demo,
            ~or_(*(Household.division_code.startswith(prefix, autoescape=True) for prefix in own)),
        )
        cache[key] = not db.session.execute(select(exists(outside))).scalar_one()
    return cache[key]


def covers_divisions(user, prefixes: list[str] | None) -> bool:
    """Return whether every division under ``prefixes`` lies in the user's divisions.

    None means every division, as for a check run over all divisions: then every household of
    the user's world must lie in the user's divisions. Counts made over such divisions may be
    shown to the user only when this is true.
    """
    own = division_prefixes(user)
    if not own:
        return False
    if prefixes is None:
        return covers_every_household(user)
    return all(lies_within(prefix, own) for prefix in prefixes)


def household_clause(user) -> ColumnElement[bool]:
    """Return the condition on ``Household`` that limits rows to the user's scope."""
    if user is None or not user.is_authenticated:
        return false()
    prefixes = division_prefixes(user)
    if not prefixes:
        return false()
    in_divisions = or_(*(Household.division_code.startswith(prefix, autoescape=True) for prefix in prefixes))
    return and_(Household.is_demo == user.is_demo, in_divisions)


def scoped_select(model, user, *columns) -> Select:
    """Return ``select(model)`` (or of ``columns``) limited to the user's scope."""
    stmt = select(*columns) if columns else select(model)
    clause = household_clause(user)
    if model is Household:
        return stmt.where(clause)
    if model is Photo:
        return stmt.join(Visit, Photo.visit_id == Visit.id).join(
            Household, Visit.household_id == Household.id
        ).where(clause)
    if model is SamplingRound:
        in_scope = exists().where(
            SampledHousehold.sampling_round_id == SamplingRound.id,
            SampledHousehold.household_id == Household.id,
            clause,
        )
        return stmt.where(SamplingRound.is_demo == user.is_demo, in_scope)
    column = _HOUSEHOLD_ID_COLUMN[model]
    return stmt.join(Household, column == Household.id).where(clause)


# Statements built by ``cached_scoped_statement``, by purpose and scope, least recently used first.
_STATEMENT_CACHE_SIZE = 512
_statement_cache: OrderedDict[tuple, Select] = OrderedDict()
_statement_lock = Lock()


def cached_scoped_statement(purpose: str, user, build: Callable[[object], Select]) -> Select:
    """Return ``build(user)``, built once per purpose and scope and then reused.

    For queries that run on every sync request: building a scoped statement and computing its
    SQLAlchemy cache key take longer than running it on SQLite. ``build`` must take every
    per-request value as a bind parameter, because the statement is shared by every user with
    the same divisions and world.
    """
    key = (purpose, str(db.engine.url), bool(user.is_demo), tuple(division_prefixes(user)))
    with _statement_lock:
        stmt = _statement_cache.get(key)
        if stmt is not None:
            _statement_cache.move_to_end(key)
            return stmt
    stmt = build(user)
    with _statement_lock:
        _statement_cache[key] = stmt
        while len(_statement_cache) > _STATEMENT_CACHE_SIZE:
            _statement_cache.popitem(last=False)
    return stmt


def get_scoped_or_404(model, object_id, user):
    """Load one record by primary key, or abort with 404 when it is missing or out of scope."""
    pk = model.__mapper__.primary_key[0]
    row = db.session.execute(scoped_select(model, user).where(pk == object_id)).scalars().first()
    if row is None:
        abort(404)
    return row
