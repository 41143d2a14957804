"""Running the data checks and cross-checks, and keeping the suspected-problem list in step with the data.

Each enabled rule is one query. Its hits are compared with the stored problems of
the households in scope and written with a few set-based statements. New problems
are inserted, unchanged ones touched, changed or returning ones updated, and open
ones no longer found are resolved by the data.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Text, bindparam, cast, exists, false, or_, select, update

from fieldapp.audit.services import record
from fieldapp.checks import registries
from fieldapp.checks import settings as check_settings
from fieldapp.checks.bulk import insert_rows
from fieldapp.checks.models import CheckRun, SuspectedProblem
from fieldapp.checks.rules import RULES, Rule, RunContext, ordered_rules, rule_name
from fieldapp.checks.rules.base import KEY_COLUMNS
from fieldapp.checks.rules.cross_checks import is_certificate
from fieldapp.db_types import utcnow
from fieldapp.divisions.models import Division, code_prefix
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.register.models import Household, Member

logger = logging.getLogger(__name__)

__all__ = ["RULES", "CheckRunSummary", "division_prefixes_for", "problem_detail", "rule_name", "run_checks"]

# Progress of a run: (rule id, or "saving" for the last step), steps done, steps in all.
Progress = Callable[[str, int, int], None]
SAVING_STEP = "saving"

# Ids per IN (...) list in the bulk updates; below the bind parameter limits of SQLite and PostgreSQL.
ID_CHUNK = 5000

_TABLE = SuspectedProblem.__table__


@dataclass
class CheckRunSummary:
    opened: int = 0  # new problems, and resolved ones that came back
    kept: int = 0  # open problems found again
    updated: int = 0  # the part of ``kept`` whose detail, severity or registry record changed
    resolved: int = 0  # open problems no longer found, now resolved_by_data
    reopened: int = 0  # the part of ``opened`` that had been resolved_by_data or rule_disabled
    disabled: int = 0  # open problems of rules switched off, now rule_disabled
    by_rule: dict[str, int] = field(default_factory=dict)  # rule id -> problems found in this run
    reference_date: date | None = None
    check_run_id: int | None = None


@dataclass
class _Hit:
    rule: Rule
    household_id: int
    member_id: int | None
    registry_record_id: int | None
    values: dict

    @property
    def values_json(self) -> str:
        """The values as the JSON text the JSON column stores."""
        return json.dumps(self.values)


class _Details:
    """Detail texts by rule and values: hits with equal values share one translated text."""

    def __init__(self):
        self.texts: dict[tuple[str, str], str] = {}

    def __call__(self, hit: _Hit) -> str:
        key = (hit.rule.id, hit.values_json)
        text = self.texts.get(key)
        if text is None:
            text = self.texts[key] = hit.rule.describe(hit.values)
        return text


def division_prefixes_for(codes: list[str]) -> list[str]:
    """Return the code prefixes of existing divisions; raise FieldError naming an unknown code."""
    levels = select(Division.code, Division.level).where(Division.code.in_(codes))
    rows = dict(db.session.execute(levels).all())
    for code in codes:
        if code not in rows:
            raise FieldError("divisions", _("Division %(code)s was not found; give a 12-digit code from the "
                                            "division list.", code=code))
    return sorted({code_prefix(code, rows[code]) for code in codes})


def run_checks(*, is_demo: bool = False, division_prefixes: list[str] | None = None,
               progress: Progress | None = None, check_run: CheckRun | None = None,
               source: str = "command", user=None) -> CheckRunSummary:
    """Run every enabled rule over the households in scope and update their suspected problems.

    ``division_prefixes`` limits the run to households whose division code starts with
    one of them; None means every division. Only problems of households in scope are
    opened, kept or resolved. ``progress`` is called before each rule and before saving.
    The run is recorded in ``check_run``, or in a new ``CheckRun`` from ``source``.
    Flushes, does not commit.
    """
    # The rule queries run on the session's connection, which does not flush pending changes itself.
    db.session.flush()
    settings = check_settings.load(is_demo)
    scope = scope_clause(is_demo, division_prefixes)
    context = RunContext(
        scope=scope,
        is_demo=is_demo,
        settings=settings,
        batches=registries.current_batches(is_demo),
        has_certificates=_has_certificates(scope),
    )
    rules = [rule for rule in ordered_rules() if settings.is_enabled(rule.id)]
    switched_off = [rule_id for rule_id in RULES if not settings.is_enabled(rule_id)]

    hits = _find_hits(rules, context, progress)
    summary = CheckRunSummary(by_rule={rule.id: 0 for rule in rules}, reference_date=settings.reference_date)
    for hit in hits.values():
        summary.by_rule[hit.rule.id] += 1
    if progress is not None:
        progress(SAVING_STEP, len(rules), len(rules) + 1)
    _save_problems(hits, rules, switched_off, context.scope, summary)

    check_run = _record_run(check_run, summary, is_demo=is_demo, division_prefixes=division_prefixes,
                            source=source, user=user, steps=len(rules) + 1)
    summary.check_run_id = check_run.id
    record("checks.run", check_run, user=user, is_demo=is_demo, divisions=division_prefixes,
           opened=summary.opened, kept=summary.kept, resolved=summary.resolved, disabled=summary.disabled,
           by_rule=summary.by_rule)
    where = "all divisions" if division_prefixes is None else division_prefixes
    logger.info("checks run %s over %s (demo %s): %d opened (%d reopened), %d kept, %d resolved, %d disabled",
                check_run.id, where, is_demo, summary.opened, summary.reopened, summary.kept,
                summary.resolved, summary.disabled)
    return summary


def problem_detail(problem: SuspectedProblem) -> str:
    """Return the problem's detail in the current locale, or the stored text when its rule is gone."""
    rule = RULES.get(problem.rule_id)
    if rule is None or not problem.detail_values:
        return problem.detail
    return rule.describe(problem.detail_values)


def scope_clause(is_demo: bool, division_prefixes: list[str] | None) -> ColumnElement[bool]:
    """Return the condition on ``Household`` for one world and the given division code prefixes.

    None means every division; an empty list means none.
    """
    clause = Household.is_demo == is_demo
    if division_prefixes is None:
        return clause
    if not division_prefixes:
        return false()
    in_divisions = or_(*(Household.division_code.startswith(p, autoescape=True) for p in division_prefixes))
    return clause & in_divisions


def _has_certificates(scope: ColumnElement[bool]) -> bool:
    holders = (
        select(Member.id).join(Household, Member.household_id == Household.id).where(scope, is_certificate())
    )
    return db.session.execute(select(exists(holders))).scalar_one()


def _json_value(value):
    """Turn a query value into one that JSON keeps as it is: dates as ISO text, amounts as numbers."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _find_hits(rules: list[Rule], context: RunContext, progress: Progress | None) -> dict[str, _Hit]:
    """Run each rule's query and return its hits by problem key."""
    hits: dict[str, _Hit] = {}
    for done, rule in enumerate(rules):
        if progress is not None:
            progress(rule.id, done, len(rules) + 1)
        # Run on the connection: the rows hold plain values, so the ORM's row handling would only cost time.
        result = db.session.connection().execute(rule.query(context))
        names = list(result.keys())
        household, member = names.index("household_id"), names.index("member_id")
        record = names.index("registry_record_id") if "registry_record_id" in names else None
        evidence = names.index("evidence_key") if "evidence_key" in names else None
        values = [(index, name) for index, name in enumerate(names) if name not in KEY_COLUMNS]
        for row in result:
            key = rule.key(row[household], row[member], row[evidence] if evidence is not None else None)
            hits[key] = _Hit(rule, row[household], row[member], row[record] if record is not None else None,
                             {name: _json_value(row[index]) for index, name in values})
    return hits


def _save_problems(hits: dict[str, _Hit], rules: list[Rule], switched_off: list[str],
                   scope: ColumnElement[bool], summary: CheckRunSummary) -> None:
    """Compare the hits with the stored problems in scope and write the difference.

    The stored detail is written in the default locale, so it does not depend on who
    ran the checks. ``problem_detail`` renders it again in the reader's locale.
    """
    now = utcnow()
    # The stored values are compared as the JSON text they were written as, which saves decoding them.
    existing = db.session.connection().execute(
        select(SuspectedProblem.id, SuspectedProblem.key, SuspectedProblem.status, SuspectedProblem.severity,
               SuspectedProblem.registry_record_id, cast(SuspectedProblem.detail_values, Text))
        .join(Household, SuspectedProblem.household_id == Household.id)
        .where(scope, SuspectedProblem.rule_id.in_([rule.id for rule in rules] + switched_off))
    ).all()
    switched_off_ids = set(switched_off)
    resolved, disabled, changed = [], [], []
    # Problems of a rule switched back on that no longer hold: resolved, but not counted as just resolved.
    settled = []
    seen: set[str] = set()
    details = _Details()
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        for problem_id, key, status, severity, registry_record_id, values_text in existing:
            seen.add(key)
            if key.split(":", 1)[0] in switched_off_ids:
                if status == "open":
                    disabled.append(problem_id)
                continue
            hit = hits.get(key)
            if hit is None:
                if status == "open":
                    resolved.append(problem_id)
                elif status == "rule_disabled":
                    settled.append(problem_id)
                continue
            if status != "open":
                summary.opened += 1
                summary.reopened += 1
                changed.append(_changed_row(problem_id, hit, now, details))
            elif (severity, registry_record_id, values_text) != (hit.rule.severity, hit.registry_record_id,
                                                                 hit.values_json):
                summary.kept += 1
                summary.updated += 1
                changed.append(_changed_row(problem_id, hit, now, details))
            else:
                summary.kept += 1
        new_rows = [_new_row(key, hit, now, details) for key, hit in hits.items() if key not in seen]

    summary.opened += len(new_rows)
    summary.resolved = len(resolved)
    summary.disabled = len(disabled)
    _update_by_ids(resolved, status="resolved_by_data", resolved_at=now)
    # Every problem still open in scope was found again (or just reopened), so one statement touches them
    # all. It skips those already touched today, so that a re-run the same day rewrites no rows: rewriting
    # every row took seconds on PostgreSQL for 80,000 problems.
    db.session.execute(
        update(_TABLE)
        .where(_TABLE.c.status == "open", _TABLE.c.rule_id.in_([rule.id for rule in rules]),
               _TABLE.c.last_seen_at < _start_of_day(now),
               _TABLE.c.household_id.in_(select(Household.id).where(scope)))
        .values(last_seen_at=now)
    )
    _update_by_ids(disabled, status="rule_disabled", resolved_at=now)
    _update_by_ids(settled, status="resolved_by_data")
    if changed:
        db.session.execute(
            update(_TABLE).where(_TABLE.c.id == bindparam("problem_id")).values(
                status="open", resolved_at=None, severity=bindparam("new_severity"),
                registry_record_id=bindparam("new_registry_record_id"), detail=bindparam("new_detail"),
                detail_values=bindparam("new_detail_values", type_=_TABLE.c.detail_values.type),
                last_seen_at=bindparam("new_last_seen_at", type_=_TABLE.c.last_seen_at.type),
            ),
            changed,
        )
    insert_rows(_TABLE, new_rows)
    _expire_loaded_problems()


def _start_of_day(now: datetime) -> datetime:
    """Midnight of ``now``'s day in the display time zone, as a UTC time."""
    local = now.astimezone(ZoneInfo(current_app.config["DISPLAY_TIMEZONE"]))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def _changed_row(problem_id: int, hit: _Hit, now, details: _Details) -> dict:
    return {
        "problem_id": problem_id,
        "new_severity": hit.rule.severity,
        "new_registry_record_id": hit.registry_record_id,
        "new_detail": details(hit),
        "new_detail_values": hit.values,
        "new_last_seen_at": now,
    }


def _new_row(key: str, hit: _Hit, now, details: _Details) -> dict:
    return {
        "key": key,
        "rule_id": hit.rule.id,
        "severity": hit.rule.severity,
        "household_id": hit.household_id,
        "member_id": hit.member_id,
        "registry_record_id": hit.registry_record_id,
        "detail": details(hit),
        "detail_values": hit.values,
        "status": "open",
        "first_seen_at": now,
        "last_seen_at": now,
    }


def _update_by_ids(ids: list[int], **values) -> None:
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start:start + ID_CHUNK]
        db.session.execute(update(_TABLE).where(_TABLE.c.id.in_(chunk)).values(**values))


def _expire_loaded_problems() -> None:
    """Expire problems loaded in the session, since the bulk statements bypassed them."""
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, SuspectedProblem):
            db.session.expire(obj)


def _record_run(check_run: CheckRun | None, summary: CheckRunSummary, *, is_demo: bool,
                division_prefixes: list[str] | None, source: str, user, steps: int) -> CheckRun:
    now = utcnow()
    if check_run is None:
        check_run = CheckRun(is_demo=is_demo, division_prefixes=division_prefixes, source=source,
                             started_by_id=getattr(user, "id", None), started_at=now)
        db.session.add(check_run)
    check_run.status = "done"
    check_run.finished_at = now
    check_run.steps_total = steps
    check_run.steps_done = steps
    check_run.current_rule = ""
    check_run.reference_date = summary.reference_date
    check_run.opened = summary.opened
    check_run.kept = summary.kept
    check_run.resolved = summary.resolved
    check_run.reopened = summary.reopened
    check_run.by_rule = summary.by_rule
    db.session.flush()
    return check_run
