"""Rule thresholds and switches that an administrator changes, stored per world (demo or real).

Thresholds vary by year and place, so none is fixed in a rule: each rule reads
them from ``CheckSettings``. A threshold without a stored value has its default.
The reference date for ages defaults to the latest export date of the register
imports, else today in the display time zone.
"""

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from fieldapp.audit.services import record
from fieldapp.checks.models import CheckRuleSetting, CheckThreshold
from fieldapp.db_types import utcnow
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.register.models import RegisterImport
from fieldapp.register.parsing import EARLIEST_DATA_DATE

logger = logging.getLogger(__name__)

INTEGER, MONEY, DATE = "integer", "money", "date"
_INTEGER_TEXT = re.compile(r"-?[0-9]+")
# Yuan with at most two decimals (fen).
_MONEY_TEXT = re.compile(r"-?[0-9]+(\.[0-9]{1,2})?")
# YYYY-MM-DD only: date.fromisoformat also takes "20261130" and week dates such as "2026-W48-1".
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class Threshold:
    name: str
    label: LazyString
    description: LazyString
    kind: str  # INTEGER, MONEY or DATE
    default: int | Decimal | None
    minimum: int | Decimal | None = None
    maximum: int | Decimal | None = None


THRESHOLDS: dict[str, Threshold] = {
    threshold.name: threshold
    for threshold in (
        Threshold(
            "reference_date", _l("Reference date for ages"),
            _l("Ages are computed on this date. Leave it empty to use the latest export date of the "
               "register imports, or today when no import has one."),
            DATE, None,
        ),
        Threshold(
            "income_line", _l("Monitoring income line (yuan a head a year)"),
            _l("A 脱贫户 whose net income per head is below this line is reported. Set the line your "
               "province published for the year."),
            MONEY, Decimal("7000"), Decimal("0"), Decimal("100000"),
        ),
        Threshold(
            "income_min", _l("Lowest plausible income (yuan a head a year)"),
            _l("A net income per head below this is reported as implausible."),
            MONEY, Decimal("500"), Decimal("0"), Decimal("100000"),
        ),
        Threshold(
            "income_max", _l("Highest plausible income (yuan a head a year)"),
            _l("A net income per head above this is reported as implausible."),
            MONEY, Decimal("30000"), Decimal("0"), Decimal("10000000"),
        ),
        Threshold(
            "school_age_min", _l("Compulsory education from age"),
            _l("Youngest age of a child who must be in school."),
            INTEGER, 6, 3, 10,
        ),
        Threshold(
            "school_age_max", _l("Compulsory education to age"),
            _l("Oldest age of a child who must be in school."),
            INTEGER, 15, 10, 20,
        ),
        Threshold(
            "primary_max_age", _l("Primary pupil too old from age"),
            _l("A primary-school pupil (小学) of this age or older is reported."),
            INTEGER, 16, 8, 30,
        ),
        Threshold(
            "high_school_min_age", _l("Senior secondary student too young under age"),
            _l("A student of 普通高中 or 中职 younger than this is reported."),
            INTEGER, 14, 8, 30,
        ),
        Threshold(
            "student_max_age", _l("Student too old from age"),
            _l("A student of any level of this age or older is reported."),
            INTEGER, 30, 16, 80,
        ),
        Threshold(
            "working_age_min", _l("Working age from"),
            _l("A member younger than this with labour capacity is reported."),
            INTEGER, 16, 10, 20,
        ),
        Threshold(
            "working_age_max", _l("Working age to"),
            _l("A healthy member from the working age up to this age marked as without labour capacity "
               "is reported."),
            INTEGER, 60, 40, 80,
        ),
        Threshold(
            "labour_shortage_workers", _l("Labourers that contradict 缺劳动力"),
            _l("A household at risk for lack of labour (缺劳动力) with this many labourers or more is "
               "reported."),
            INTEGER, 3, 1, 20,
        ),
    )
}


@dataclass(frozen=True)
class CheckSettings:
    """The thresholds and switches one check run uses."""

    values: dict[str, int | Decimal | date | None]
    reference_date: date
    # Origin of the reference date: "setting", "export_date" or "today".
    reference_source: str
    disabled_rules: frozenset[str] = field(default_factory=frozenset)

    def __getitem__(self, name: str):
        return self.values[name]

    def is_enabled(self, rule_id: str) -> bool:
        return rule_id not in self.disabled_rules


def load(is_demo: bool) -> CheckSettings:
    """Read the stored thresholds and switches of a world, with defaults for those never set."""
    stored = dict(db.session.execute(
        select(CheckThreshold.name, CheckThreshold.value).where(CheckThreshold.is_demo == is_demo)
    ).all())
    values = {}
    for name, threshold in THRESHOLDS.items():
        text = stored.get(name)
        values[name] = _parse_stored(threshold, text) if text not in (None, "") else threshold.default
    disabled = frozenset(db.session.execute(
        select(CheckRuleSetting.rule_id).where(
            CheckRuleSetting.is_demo == is_demo, CheckRuleSetting.is_enabled.is_(False)
        )
    ).scalars())
    reference, source = _reference_date(values["reference_date"], is_demo)
    return CheckSettings(values=values, reference_date=reference, reference_source=source,
                         disabled_rules=disabled)


def _parse_stored(threshold: Threshold, text: str):
    try:
        return parse_value(threshold, text)
    except FieldError:
        logger.warning("stored threshold %s has the invalid value %r; using the default",
                       threshold.name, text)
        return threshold.default


def _reference_date(setting: date | None, is_demo: bool) -> tuple[date, str]:
    if setting is not None:
        return setting, "setting"
    # An upload's households are written and committed before its status becomes "checking", and the
    # checks that follow the upload run in that status, so they read the date of the file just imported.
    # The latest date rather than the newest import's: importing an older export for one county must
    # not move every household's ages back.
    newest_export = db.session.execute(
        select(func.max(RegisterImport.export_date))
        .where(RegisterImport.is_demo == is_demo, RegisterImport.status.in_(("checking", "done")))
    ).scalar()
    if newest_export is not None:
        return newest_export, "export_date"
    return today(), "today"


def today() -> date:
    return datetime.now(ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])).date()


def parse_value(threshold: Threshold, text: str):
    """Convert a value typed by an administrator; raise FieldError naming the threshold."""
    text = (text or "").strip()
    if text == "":
        if threshold.kind == DATE:
            return None
        raise FieldError(threshold.name, _("Enter a value for %(label)s.", label=threshold.label))
    try:
        # int() and Decimal() also take "7_000", "7e3" and digits of other scripts such as "٧".
        if threshold.kind == INTEGER and _INTEGER_TEXT.fullmatch(text):
            value = int(text)
        elif threshold.kind == MONEY and _MONEY_TEXT.fullmatch(text):
            value = Decimal(text)
        elif threshold.kind == DATE and _DATE_TEXT.fullmatch(text):
            value = date.fromisoformat(text)
        else:
            raise ValueError(text)
    except (ValueError, InvalidOperation):
        example = {INTEGER: "16", MONEY: "7000", DATE: "2026-11-30"}[threshold.kind]
        message = _("%(label)s: \"%(value)s\" is not valid; enter a value like %(example)s.",
                    label=threshold.label, value=text, example=example)
        raise FieldError(threshold.name, message) from None
    low, high = threshold.minimum, threshold.maximum
    if threshold.kind == DATE:
        # A reference date for ages lies between the oldest data and the end of next year.
        low, high = EARLIEST_DATA_DATE, date(today().year + 1, 12, 31)
    if (low is not None and value < low) or (high is not None and value > high):
        raise FieldError(threshold.name, _("%(label)s must be between %(low)s and %(high)s.",
                                           label=threshold.label, low=low, high=high))
    return value


def save(values: dict[str, str], enabled_rules: set[str], rule_ids: list[str], *, is_demo: bool,
         user) -> list[str]:
    """Store the thresholds typed in ``values`` and which of ``rule_ids`` run; return the names changed.

    Every value is checked before any is stored, so an invalid one changes nothing. Flushes.
    """
    parsed = {name: parse_value(THRESHOLDS[name], text) for name, text in values.items()}
    _check_age_bounds(parsed)
    changed = _save_thresholds(parsed, is_demo=is_demo, user=user)
    changed += _save_switches(enabled_rules, rule_ids, is_demo=is_demo, user=user)
    db.session.flush()
    if changed:
        record("checks.settings_update", object_type="CheckSettings", user=user, is_demo=is_demo,
               changed=changed)
    return changed


def _check_age_bounds(parsed: dict) -> None:
    pairs = (("school_age_min", "school_age_max"), ("working_age_min", "working_age_max"),
             ("income_min", "income_max"))
    for low, high in pairs:
        if low in parsed and high in parsed and parsed[low] > parsed[high]:
            raise FieldError(high, _("%(high)s must not be below %(low)s.",
                                     high=THRESHOLDS[high].label, low=THRESHOLDS[low].label))


def _save_thresholds(parsed: dict, *, is_demo: bool, user) -> list[str]:
    stored = {row.name: row for row in db.session.execute(
        select(CheckThreshold).where(CheckThreshold.is_demo == is_demo)
    ).scalars()}
    changed = []
    for name, value in parsed.items():
        if value is None:
            text = ""
        elif isinstance(value, date):
            text = value.isoformat()
        else:
            text = str(value)
        row = stored.get(name)
        current = row.value if row is not None else _default_text(THRESHOLDS[name])
        if text == current:
            continue
        if row is None:
            row = CheckThreshold(is_demo=is_demo, name=name)
            db.session.add(row)
        row.value = text
        row.updated_at = utcnow()
        row.updated_by_id = getattr(user, "id", None)
        changed.append(name)
    return changed


def _default_text(threshold: Threshold) -> str:
    return "" if threshold.default is None else str(threshold.default)


def _save_switches(enabled_rules: set[str], rule_ids: list[str], *, is_demo: bool, user) -> list[str]:
    stored = {row.rule_id: row for row in db.session.execute(
        select(CheckRuleSetting).where(CheckRuleSetting.is_demo == is_demo)
    ).scalars()}
    changed = []
    for rule_id in rule_ids:
        enabled = rule_id in enabled_rules
        row = stored.get(rule_id)
        if (row.is_enabled if row is not None else True) == enabled:
            continue
        if row is None:
            row = CheckRuleSetting(is_demo=is_demo, rule_id=rule_id)
            db.session.add(row)
        row.is_enabled = enabled
        row.updated_at = utcnow()
        row.updated_by_id = getattr(user, "id", None)
        changed.append(f"rule:{rule_id}")
    return changed
