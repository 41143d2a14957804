"""The rule registry and the SQL building blocks that rules share.

A rule is one set-based query over the register. ``Rule.query`` receives a
``RunContext``: a condition on ``Household`` that limits the run to its scope,
the run's settings (thresholds, reference date) and the registry batches in use.
It returns a ``select`` with the columns ``household_id`` and ``member_id``,
which is NULL for a rule about the whole household. A cross-check adds
``registry_record_id`` and ``evidence_key`` (the registry row's fingerprint).
Any further labelled columns are the values that ``Rule.describe`` turns into
the readable detail. A rule with many hits can also give ``Rule.describe_sql``,
which builds the same detail in SQL, so the run handles its rows without Python
work per row. The queries use only functions that SQLite and PostgreSQL
share (``substr``, ``length``, ``ltrim``, ``replace``, ``CAST``, ``CASE``, ``EXTRACT``),
and ``date_digits`` and ``json_text``, which are compiled for each of them.
"""

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    ColumnCollection,
    ColumnElement,
    Integer,
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from fieldapp.checks.settings import CheckSettings
from fieldapp.register.columns import COLUMNS
from fieldapp.register.models import Household, Member

# Severity of a rule's problems, stored on each suspected problem; the density score adds them up.
LOW, MEDIUM, HIGH = 1, 2, 3

DIGITS = "0123456789"

# Columns of a rule's row that are not detail values. ``rule_id`` is in the rows of a ``Rule.shared_query``.
KEY_COLUMNS = ("household_id", "member_id", "registry_record_id", "evidence_key", "rule_id")


@dataclass(frozen=True)
class BatchInUse:
    """A registry batch the cross-checks read, and the part of its divisions where it is the newest."""

    id: int
    kind: str
    data_date: date
    # Code prefixes of the divisions it covers; None: every division.
    prefixes: tuple[str, ...] | None
    # Prefixes within those where a newer batch of the kind is used instead.
    replaced: tuple[str, ...] = ()

    def covers(self) -> ColumnElement[bool] | None:
        """Return the condition on ``Household`` for the households this batch applies to; None for all."""
        conditions = []
        if self.prefixes is not None:
            conditions.append(_in_prefixes(self.prefixes))
        if self.replaced:
            conditions.append(~_in_prefixes(self.replaced))
        return and_(*conditions) if conditions else None


def _in_prefixes(prefixes: Sequence[str]) -> ColumnElement[bool]:
    return or_(*(Household.division_code.startswith(prefix, autoescape=True) for prefix in prefixes))


@dataclass(frozen=True)
class RunContext:
    scope: ColumnElement[bool]  # condition on Household
    is_demo: bool
    settings: CheckSettings
    # The registry batches in use, by kind: for each household, the newest finished batch covering it.
    batches: dict[str, list[BatchInUse]]
    # Whether any member in scope has a disability certificate number, which cross-checks match by
    # its first 18 characters; without one, that second match is skipped.
    has_certificates: bool = False
    # Whether any member in scope has a 15-digit first-generation ID number, which cross-checks match
    # in its 18-character form, as registries store it.
    has_first_generation_ids: bool = False


@dataclass(frozen=True)
class Rule:
    id: str  # stable: it is part of every problem's key, so renaming one reopens its problems
    name: LazyString
    description: LazyString
    severity: int
    fields: tuple[str, ...]  # register fields the rule reads, as "Model.attribute"
    query: Callable[[RunContext], Select]
    describe: Callable[[Mapping], str]  # detail text from the row's extra columns, in the current locale
    family: str  # groups the rules on the settings and summary pages; a key of FAMILIES
    thresholds: tuple[str, ...] = ()  # names of the settings the rule reads
    registry_kind: str | None = None  # the registry a cross-check reads; "" for every custom kind
    # The text ``describe`` returns, built in SQL from the columns of the rule's query, in the current
    # locale. The values are then stored as the JSON ``json_text`` builds instead of Python's.
    describe_sql: Callable[[ColumnCollection], ColumnElement[str]] | None = None
    # A query that finds the hits of several rules in one pass, given the enabled ones among them, with
    # their id in a column ``rule_id``. The rules that give the same function run together, in the step
    # of the first of them, and need ``describe_sql``. ``query`` still finds one rule's hits alone.
    shared_query: Callable[[RunContext, Sequence["Rule"]], Select] | None = None

    def key(self, household_id: int, member_id: int | None, evidence: str | None = None) -> str:
        """Return the problem's identity across runs: ``rule_id:household_id:member_id[:evidence]``."""
        key = f"{self.id}:{household_id}:{member_id if member_id is not None else ''}"
        return f"{key}:{evidence}" if evidence else key

    @property
    def is_cross_check(self) -> bool:
        return self.registry_kind is not None


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


def is_digits(expression) -> ColumnElement[bool]:
    """Test whether ``expression`` contains ASCII digits only (an empty text counts as digits).

    ``ltrim`` with a set of characters exists in SQLite and PostgreSQL and is one call,
    where ten ``replace`` calls would be needed otherwise.
    """
    return func.ltrim(expression, DIGITS) == ""


def member_select(*columns) -> Select:
    """Select members with their household joined, for a rule that reports single members."""
    return select(
        Member.household_id.label("household_id"), Member.id.label("member_id"), *columns
    ).join(Household, Member.household_id == Household.id)


def age_on(birth_date, reference: date) -> ColumnElement[int]:
    """Age in whole years on ``reference`` of someone born on ``birth_date``; NULL when it is NULL.

    For the detail text; conditions on age use ``aged_at_least`` and ``aged_below``, which
    compare dates and cost far less per row.
    """
    month_day = extract("month", birth_date) * 100 + extract("day", birth_date)
    birthday_later = case((month_day > reference.month * 100 + reference.day, 1), else_=0)
    return cast(reference.year - extract("year", birth_date) - birthday_later, Integer)


def years_before(reference: date, years: int) -> date:
    """Return the same day ``years`` earlier; 29 February becomes 28 February in a common year."""
    try:
        return reference.replace(year=reference.year - years)
    except ValueError:
        return reference.replace(year=reference.year - years, day=28)


def aged_at_least(birth_date, reference: date, years: int) -> ColumnElement[bool]:
    """Someone born on ``birth_date`` is ``years`` old or older on ``reference``."""
    return birth_date <= years_before(reference, years)


def aged_below(birth_date, reference: date, years: int) -> ColumnElement[bool]:
    """Someone born on ``birth_date`` is younger than ``years`` on ``reference``."""
    return birth_date > years_before(reference, years)


class date_digits(FunctionElement):  # noqa: N801  (named like the SQL functions it stands for)
    """A date as the text YYYYMMDD, the form of characters 7-14 of an ID number."""

    type = String()
    inherit_cache = True


@compiles(date_digits, "sqlite")
def _date_digits_sqlite(element, compiler, **kw):
    # SQLAlchemy stores a SQLite date as the text YYYY-MM-DD.
    return f"replace({compiler.process(element.clauses, **kw)}, '-', '')"


@compiles(date_digits, "postgresql")
def _date_digits_postgresql(element, compiler, **kw):
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYYMMDD')"


class json_text(FunctionElement):  # noqa: N801  (named like the SQL functions it stands for)
    """A JSON object as text, from alternating names and values: ``json_text("a", column_a, ...)``."""

    type = Text()
    inherit_cache = True


@compiles(json_text, "sqlite")
def _json_text_sqlite(element, compiler, **kw):
    return f"json_object({compiler.process(element.clauses, **kw)})"


@compiles(json_text, "postgresql")
def _json_text_postgresql(element, compiler, **kw):
    return f"CAST(json_build_object({compiler.process(element.clauses, **kw)}) AS TEXT)"


# Marks a value's place in a message rendered for ``sql_format``: the ASCII unit separator.
_PLACEHOLDER = "\x1f"


def sql_format(render: Callable[..., str], **values: ColumnElement) -> ColumnElement[str]:
    """Build in SQL the text that ``render(**values)`` returns, each value being an SQL text expression.

    ``render`` is called once, in the current locale, with a marker in place of each
    value, and the message it returns is cut at the markers: ``sql_format(lambda
    evidence: _("%(evidence)s. ...", evidence=evidence), evidence=column)``.
    """
    pieces = render(**{name: f"{_PLACEHOLDER}{name}{_PLACEHOLDER}" for name in values}).split(_PLACEHOLDER)
    if sorted(pieces[1::2]) != sorted(values):
        raise ValueError(f"message {pieces!r} does not use each of {sorted(values)} once")
    parts = [values[piece] if index % 2 else literal(piece, Text) for index, piece in enumerate(pieces)
             if index % 2 or piece]
    text = parts[0]
    for part in parts[1:]:
        text = text.concat(part)
    return text


def list_contains(column, value: str) -> ColumnElement[bool]:
    """Test whether a JSON list column contains the string ``value``.

    The list is matched as text because SQLite and PostgreSQL share no JSON
    containment operator. JSON writers escape non-ASCII characters or not, so
    both spellings of ``"value"`` are looked for.
    """
    text = cast(column, Text)
    spellings = {json.dumps(value), json.dumps(value, ensure_ascii=False)}
    return or_(*(text.contains(spelling, autoescape=True) for spelling in sorted(spellings)))


def field_labels(fields: Sequence[str]) -> list[str]:
    """Return the register's column names of ``fields`` ("Member.id_number" becomes "证件号码").

    A rule names the model attributes it reads. Users know them by the columns of the
    register export, whose names are Chinese in every locale, as in the file. A member's
    ``household_id`` is read through the household number column. An attribute that is
    no column keeps its name.
    """
    labels = []
    for name in fields:
        model, _dot, attribute = name.partition(".")
        if name == "Member.household_id":
            model, attribute = "Household", "household_no"
        labels.append(_COLUMN_NAMES.get((model.lower(), attribute), name))
    return labels


# The canonical header of each register column, by level and attribute.
_COLUMN_NAMES = {(column.level, column.field): column.names[0] for column in COLUMNS}

# Rule families, in the order the settings and summary pages list them.
FAMILIES: dict[str, LazyString] = {
    "id": _l("ID numbers"),
    "household": _l("Head of household and duplicate members"),
    "education": _l("Education"),
    "labour": _l("Labour capacity"),
    "risk": _l("Risks against members"),
    "income": _l("Work and income"),
    "living": _l("Housing, drinking water and toilet"),
    "insurance": _l("Medical insurance"),
    "cross": _l("Cross-checks with registries"),
}


def ordered_rules() -> list[Rule]:
    """Return the rules by family, in the order of ``FAMILIES``, each family in registration order."""
    families = list(FAMILIES)
    return sorted(RULES.values(), key=lambda rule: families.index(rule.family))
