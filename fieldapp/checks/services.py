"""Running the data checks and cross-checks, and keeping the suspected-problem list in step with the data.

Each enabled rule is one query. Its hits, with their problem keys and detail texts,
are collected by key, then compared with the stored problems of the households in
scope and written with a few set-based statements (``problem_store``). New problems
are inserted, unchanged ones touched, changed or returning ones updated, and open
ones no longer found are resolved by the data.
"""

import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Text,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
)

from fieldapp.audit.services import record
from fieldapp.checks import batch_use
from fieldapp.checks import settings as check_settings
from fieldapp.checks.models import CheckRun, RegistryBatch, SuspectedProblem
from fieldapp.checks.problem_store import lock_saving, store_hits
from fieldapp.checks.rules import RULES, Rule, RunContext, ordered_rules, rule_name
from fieldapp.checks.rules.base import KEY_COLUMNS, BatchInUse, json_text
from fieldapp.checks.rules.cross_checks import is_certificate, is_first_generation
from fieldapp.db_types import utcnow
from fieldapp.divisions.models import Division, code_prefix
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.register.models import Household, Member

logger = logging.getLogger(__name__)

__all__ = ["RULES", "CheckRunSummary", "RegistryChanged", "division_prefixes_for", "lock_saving",
           "problem_detail", "rule_name", "run_checks"]

# Progress of a run: (rule id, or "saving" for the last step), steps done, steps in all.
Progress = Callable[[str, int, int], None]
SAVING_STEP = "saving"


class RegistryChanged(RuntimeError):
    """A registry batch the run read was deleted before its result was saved; nothing was saved."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


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


class _Details:
    """Detail texts by rule and values: hits with equal values share one translated text."""

    def __init__(self):
        self.texts: dict[tuple[str, str], str] = {}

    def __call__(self, rule: Rule, values: dict, values_json: str) -> str:
        key = (rule.id, values_json)
        text = self.texts.get(key)
        if text is None:
            text = self.texts[key] = rule.describe(values)
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
        batches=batch_use.batches_in_use(is_demo),
        has_certificates=_has_certificates(scope),
        has_first_generation_ids=_has_first_generation_ids(scope),
    )
    rules = [rule for rule in ordered_rules() if settings.is_enabled(rule.id)]
    switched_off = [rule_id for rule_id in RULES if not settings.is_enabled(rule_id)]

    # The stored detail is written in the default locale, so it does not depend on who ran the checks.
    # ``problem_detail`` renders it again in the reader's locale.
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        hits = _find_hits(rules, context, progress)
    summary = CheckRunSummary(by_rule={rule.id: 0 for rule in rules}, reference_date=settings.reference_date)
    summary.by_rule.update(Counter(hit[1] for hit in hits.values()))
    if progress is not None:
        progress(SAVING_STEP, len(rules), len(rules) + 1)
    lock_saving()
    _check_batches_kept(context.batches)
    _save_problems(list(hits.values()), rules, switched_off, context.scope, summary)

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


def _check_batches_kept(batches: dict[str, list[BatchInUse]]) -> None:
    """Raise ``RegistryChanged`` when a batch the rules read was deleted since; call under ``lock_saving``.

    The hits of a cross-check point to the batch's records, which the delete removed with it.
    """
    read = [batch for kind_batches in batches.values() for batch in kind_batches]
    if not read:
        return
    ids = [batch.id for batch in read]
    existing = set(db.session.scalars(select(RegistryBatch.id).where(RegistryBatch.id.in_(ids))))
    deleted_kinds = sorted({batch.kind for batch in read if batch.id not in existing})
    if deleted_kinds:
        message = _("The registry %(kinds)s was deleted while the checks ran, so the result of the run was "
                    "not saved and the problem list was not changed. Run the checks again.",
                    kinds="、".join(deleted_kinds))
        raise RegistryChanged(message)


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
    return _any_in_scope(scope, 20, is_certificate())


def _has_first_generation_ids(scope: ColumnElement[bool]) -> bool:
    return _any_in_scope(scope, 15, is_first_generation())


def _any_in_scope(scope: ColumnElement[bool], length: int, condition: ColumnElement[bool]) -> bool:
    """Test whether a member in scope has an ID number of ``length`` characters meeting ``condition``."""
    # Most registers have no such number at all. The length alone is read from the ID number index, a
    # far smaller scan than the members' rows.
    of_length = select(Member.id_number).where(func.length(Member.id_number) == length)
    if not db.session.execute(select(exists(of_length))).scalar_one():
        return False
    members = select(Member.id).join(Household, Member.household_id == Household.id).where(scope, condition)
    return db.session.execute(select(exists(members))).scalar_one()


def _json_value(value):
    """Turn a query value into one that JSON keeps as it is: dates as ISO text, amounts as numbers."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _find_hits(rules: list[Rule], context: RunContext, progress: Progress | None) -> dict[str, tuple]:
    """Run each rule's query and return its hits by problem key, as rows of ``problem_store.HIT_COLUMNS``.

    A later hit with the key of an earlier one replaces it.
    """
    hits: dict[str, tuple] = {}
    details = _Details()
    shared_done = set()
    for done, rule in enumerate(rules):
        if progress is not None:
            progress(rule.id, done, len(rules) + 1)
        if rule.shared_query is not None:
            if rule.shared_query in shared_done:
                continue
            shared_done.add(rule.shared_query)
            group = [other for other in rules if other.shared_query is rule.shared_query]
            hits.update(_sql_hits(group, rule.shared_query(context, group)))
        elif rule.describe_sql is not None:
            hits.update(_sql_hits([rule], rule.query(context)))
        else:
            hits.update(_python_hits(rule, context, details))
    return hits


def _python_hits(rule: Rule, context: RunContext, details: _Details) -> dict[str, tuple]:
    # Run on the connection: the rows hold plain values, so the ORM's row handling would only cost time.
    result = db.session.connection().execute(rule.query(context))
    names = list(result.keys())
    household, member = names.index("household_id"), names.index("member_id")
    record = names.index("registry_record_id") if "registry_record_id" in names else None
    evidence = names.index("evidence_key") if "evidence_key" in names else None
    values_at = [(index, name) for index, name in enumerate(names) if name not in KEY_COLUMNS]
    hits = {}
    for row in result:
        key = rule.key(row[household], row[member], row[evidence] if evidence is not None else None)
        values = {name: _json_value(row[index]) for index, name in values_at}
        values_json = json.dumps(values)
        record_id = row[record] if record is not None else None
        detail = details(rule, values, values_json)
        hits[key] = (key, rule.id, rule.severity, row[household], row[member], record_id, detail, values_json)
    return hits


def _sql_hits(rules: list[Rule], query: Select) -> dict[str, tuple]:
    """Return the hits of ``query`` with the key, detail and values JSON built by the database.

    The query finds the hits of ``rules``. With more than one rule, each row names its rule in ``rule_id``.
    """
    columns = query.subquery().c
    if "rule_id" in columns:
        rule_id = columns.rule_id
        severity = case({rule.id: rule.severity for rule in rules}, value=rule_id, else_=0)
        detail = case(*((rule_id == rule.id, rule.describe_sql(columns)) for rule in rules), else_="")
    else:
        [rule] = rules
        rule_id, severity = literal(rule.id, Text), literal(rule.severity, Integer)
        detail = rule.describe_sql(columns)
    values = [column for column in columns if column.key not in KEY_COLUMNS]
    stmt = select(
        _key_sql(rule_id, columns),
        rule_id,
        severity,
        columns.household_id,
        columns.member_id,
        columns.registry_record_id if "registry_record_id" in columns else null().cast(Integer),
        detail,
        json_text(*(part for column in values for part in (literal(column.key, Text), column))),
    )
    # The rows are already in the order of HIT_COLUMNS.
    return {row[0]: tuple(row) for row in db.session.connection().execute(stmt)}


def _key_sql(rule_id: ColumnElement[str], columns) -> ColumnElement[str]:
    """``Rule.key`` in SQL, over the columns of the rule's query."""
    key = (
        rule_id
        .concat(":")
        .concat(cast(columns.household_id, Text))
        .concat(":")
        .concat(func.coalesce(cast(columns.member_id, Text), ""))
    )
    if "evidence_key" not in columns:
        return key
    evidence = columns.evidence_key
    return key.concat(case((evidence != "", literal(":", Text).concat(evidence)), else_=""))


def _save_problems(hits: list[tuple], rules: list[Rule], switched_off: list[str],
                   scope: ColumnElement[bool], summary: CheckRunSummary) -> None:
    """Compare the hits with the stored problems in scope and write the difference."""
    now = utcnow()
    counts = store_hits(hits, rule_ids=[rule.id for rule in rules], switched_off=switched_off, scope=scope,
                        now=now, start_of_day=_start_of_day(now))
    summary.opened = counts.inserted + counts.reopened
    summary.reopened = counts.reopened
    summary.kept = len(hits) - summary.opened
    summary.updated = counts.updated
    summary.resolved = counts.resolved
    summary.disabled = counts.disabled
    _expire_loaded_problems()


def _start_of_day(now: datetime) -> datetime:
    """Midnight of ``now``'s day in the display time zone, as a UTC time."""
    local = now.astimezone(ZoneInfo(current_app.config["DISPLAY_TIMEZONE"]))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


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
    check_run.progress_at = now
    check_run.reference_date = summary.reference_date
    check_run.opened = summary.opened
    check_run.kept = summary.kept
    check_run.resolved = summary.resolved
    check_run.reopened = summary.reopened
    check_run.disabled = summary.disabled
    check_run.by_rule = summary.by_rule
    db.session.flush()
    return check_run
