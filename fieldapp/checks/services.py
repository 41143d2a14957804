"""Running the data-check rules and keeping the suspected-problem list in step with the register."""

import logging
from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, false, or_, select

from fieldapp.audit.services import record
from fieldapp.checks.models import SuspectedProblem
from fieldapp.checks.rules import RULES, Rule, rule_name
from fieldapp.db_types import utcnow
from fieldapp.divisions.models import Division, code_prefix
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.register.models import Household

logger = logging.getLogger(__name__)

__all__ = ["RULES", "CheckRunSummary", "division_prefixes_for", "problem_detail", "rule_name", "run_checks"]


@dataclass
class CheckRunSummary:
    opened: int = 0  # new problems, and resolved ones that came back
    kept: int = 0  # open problems found again
    resolved: int = 0  # open problems no longer found, now resolved_by_data
    reopened: int = 0  # the part of ``opened`` that had been resolved_by_data
    by_rule: dict[str, int] = field(default_factory=dict)  # rule id -> problems found in this run


@dataclass
class _Hit:
    rule: Rule
    household_id: int
    member_id: int | None
    values: dict
    detail: str


def division_prefixes_for(codes: list[str]) -> list[str]:
    """Return the code prefixes of existing divisions; raise FieldError naming an unknown code."""
    levels = select(Division.code, Division.level).where(Division.code.in_(codes))
    rows = dict(db.session.execute(levels).all())
    for code in codes:
        if code not in rows:
            raise FieldError("divisions", _("Division %(code)s was not found; give a 12-digit code from the "
                                            "division list.", code=code))
    return sorted({code_prefix(code, rows[code]) for code in codes})


def run_checks(*, is_demo: bool = False, division_prefixes: list[str] | None = None) -> CheckRunSummary:
    """Run every enabled rule over the households in scope and update their suspected problems.

    ``division_prefixes`` limits the run to households whose division code starts with
    one of them; None means every division. Only problems of households in scope are
    opened, kept or resolved. Flushes, does not commit.
    """
    scope = _scope_clause(is_demo, division_prefixes)
    rules = [rule for rule in RULES.values() if rule.enabled]
    hits = _find_hits(rules, scope)
    summary = CheckRunSummary(by_rule={rule.id: 0 for rule in rules})
    for hit in hits.values():
        summary.by_rule[hit.rule.id] += 1
    _upsert_problems(hits, rules, scope, summary)
    db.session.flush()

    record("checks.run", object_type="CheckRun", is_demo=is_demo, divisions=division_prefixes,
           opened=summary.opened, kept=summary.kept, resolved=summary.resolved, by_rule=summary.by_rule)
    where = "all divisions" if division_prefixes is None else division_prefixes
    logger.info("checks run over %s (demo %s): %d opened (%d reopened), %d kept, %d resolved",
                where, is_demo, summary.opened, summary.reopened, summary.kept, summary.resolved)
    return summary


def problem_detail(problem: SuspectedProblem) -> str:
    """Return the problem's detail in the current locale, or the stored text when its rule is gone."""
    rule = RULES.get(problem.rule_id)
    if rule is None or not problem.detail_values:
        return problem.detail
    return rule.describe(problem.detail_values)


def _scope_clause(is_demo: bool, division_prefixes: list[str] | None) -> ColumnElement[bool]:
    clause = Household.is_demo == is_demo
    if division_prefixes is None:
        return clause
    if not division_prefixes:
        return false()
    in_divisions = or_(*(Household.division_code.startswith(p, autoescape=True) for p in division_prefixes))
    return clause & in_divisions


def _find_hits(rules: list[Rule], scope: ColumnElement[bool]) -> dict[str, _Hit]:
    """Run each rule's query and return its hits by problem key.

    The stored detail is written in the default locale, so it does not depend on who
    ran the checks. ``problem_detail`` renders it again in the reader's locale.
    """
    hits: dict[str, _Hit] = {}
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        for rule in rules:
            for row in db.session.execute(rule.query(scope)).mappings():
                values = {
                    name: value.isoformat() if isinstance(value, date) else value
                    for name, value in row.items()
                    if name not in ("household_id", "member_id")
                }
                key = rule.key(row["household_id"], row["member_id"])
                hits[key] = _Hit(rule, row["household_id"], row["member_id"], values, rule.describe(values))
    return hits


def _upsert_problems(hits: dict[str, _Hit], rules: list[Rule], scope: ColumnElement[bool],
                     summary: CheckRunSummary) -> None:
    now = utcnow()
    existing = db.session.execute(
        select(SuspectedProblem)
        .join(Household, SuspectedProblem.household_id == Household.id)
        .where(scope, SuspectedProblem.rule_id.in_([rule.id for rule in rules]))
    ).scalars()
    seen: set[str] = set()
    for problem in existing:
        seen.add(problem.key)
        hit = hits.get(problem.key)
        if hit is None:
            if problem.status == "open":
                problem.status = "resolved_by_data"
                problem.resolved_at = now
                summary.resolved += 1
            continue
        if problem.status == "open":
            summary.kept += 1
        else:
            problem.status = "open"
            problem.resolved_at = None
            summary.opened += 1
            summary.reopened += 1
        problem.last_seen_at = now
        problem.severity = hit.rule.severity
        problem.detail = hit.detail
        problem.detail_values = hit.values

    for key, hit in hits.items():
        if key in seen:
            continue
        db.session.add(SuspectedProblem(
            key=key,
            rule_id=hit.rule.id,
            severity=hit.rule.severity,
            household_id=hit.household_id,
            member_id=hit.member_id,
            detail=hit.detail,
            detail_values=hit.values,
            status="open",
            first_seen_at=now,
            last_seen_at=now,
        ))
        summary.opened += 1
