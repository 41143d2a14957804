"""The rule registry and the SQL building blocks that rules share.

A rule is one set-based query over the register. ``Rule.query`` receives a
condition on ``Household`` that limits the run to its scope. It returns a
``select`` with the columns ``household_id`` and ``member_id``, which is NULL
for a rule about the whole household. Any further labelled columns are the
values that ``Rule.describe`` turns into the readable detail. The queries use
only functions that SQLite and PostgreSQL share (``substr``, ``length``,
``replace``, ``CAST``, ``CASE``, ``EXTRACT``).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flask_babel import LazyString
from sqlalchemy import ColumnElement, Select, func

# Severity of a rule's problems, stored on each suspected problem.
LOW, MEDIUM, HIGH = 1, 2, 3

DIGITS = "0123456789"


@dataclass(frozen=True)
class Rule:
    id: str  # stable: it is part of every problem's key, so renaming one reopens its problems
    name: LazyString
    description: LazyString
    severity: int
    fields: tuple[str, ...]  # register fields the rule reads, as "Model.attribute"
    query: Callable[[ColumnElement[bool]], Select]
    describe: Callable[[Mapping], str]  # detail text from the row's extra columns, in the current locale
    enabled: bool = True

    def key(self, household_id: int, member_id: int | None) -> str:
        """Return the problem's identity across runs: ``rule_id:household_id:member_id``."""
        return f"{self.id}:{household_id}:{member_id if member_id is not None else ''}"


RULES: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    if rule.id in RULES:
        raise ValueError(f"check rule {rule.id!r} is registered twice")
    RULES[rule.id] = rule
    return rule


def rule_name(rule_id: str) -> str:
    """Return the rule's name in the current locale, or the id itself for a rule no longer defined."""
    rule = RULES.get(rule_id)
    return str(rule.name) if rule is not None else rule_id


def strip_digits(expression) -> ColumnElement[str]:
    """Return ``expression`` with every ASCII digit removed; empty means it held digits only."""
    for digit in DIGITS:
        expression = func.replace(expression, digit, "")
    return expression
