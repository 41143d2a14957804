"""Questionnaires as data: the bundled definitions, answer parsing and validation, and display rows.

A definition is JSON with ``code``, ``version``, a bilingual ``title`` and ``sections``. Each
section has a ``key``, a ``title`` and ``questions``; a section with ``"repeat": "members"`` is
asked once per household member. A question has a ``key`` unique in the definition, a ``type``
(one of ``QUESTION_TYPES``) and a bilingual ``label``. Optional parts: ``required``, ``hint``,
``options`` (choices), ``min``/``max`` (numbers, and dates where ``"today"`` is allowed),
``integer``, ``max_length``, ``prefill`` (the member attribute that gives the default) and
``show_if``.

``show_if`` forms: ``{"question": key, "equals": value}``, ``{"question": key, "in": [...]}``,
``{"question": key, "contains": value}`` (multiple choice), ``{"member_age": {"min": 6, "max": 15}}``
(repeat sections only), and ``{"all": [...]}`` / ``{"any": [...]}`` of these. A condition may
only name a question asked before it. A hidden question has no answer: whatever was sent for
it is dropped.

Answers are stored as ``{question_key: value}``, and for a repeat section as
``{section_key: {member_id: {question_key: value}}}``. Values are JSON: booleans for yes/no,
strings for choices, texts and ISO dates, lists of strings for multiple choice, numbers, and the
number of photos for a photo question. Errors are keyed by the field key: the question key, or
``section.member_id.question`` inside a repeat section.
"""

import json
import logging
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from flask import current_app
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import select

from fieldapp import idnumbers
from fieldapp.extensions import db
from fieldapp.visits.models import Questionnaire

logger = logging.getLogger(__name__)

QUESTION_TYPES = ("yes_no", "single_choice", "multiple_choice", "number", "text", "date", "photo")
LOCALES = ("zh_CN", "en")
BUNDLED_FOLDER = Path(__file__).with_name("questionnaires")
DEFAULT_CODE = "household_visit"
TEXT_MAX_LENGTH = 2000
MAX_PHOTOS_PER_QUESTION = 10
_CONDITION_OPERATORS = ("equals", "in", "contains")


class DefinitionError(ValueError):
    """A questionnaire definition is malformed; the message lists every problem found."""


# Loading and looking up definitions.


def bundled_definitions() -> list[dict]:
    """Read and check every ``<code>.v<version>.json`` file in the bundled folder."""
    definitions = []
    for path in sorted(BUNDLED_FOLDER.glob("*.v*.json")):
        with path.open(encoding="utf-8") as handle:
            definition = json.load(handle)
        check_definition(definition, source=path.name)
        expected_name = f"{definition['code']}.v{definition['version']}.json"
        if path.name != expected_name:
            raise DefinitionError(f"{path.name}: its code and version say the file should be {expected_name}")
        definitions.append(definition)
    return definitions


def load_bundled() -> list[Questionnaire]:
    """Insert each bundled definition version that the database does not have yet. Flushes, no commit.

    Returns the questionnaires inserted now. A stored version whose definition differs from the
    bundled file raises ``DefinitionError``, because visits already refer to the stored one.
    """
    inserted = []
    for definition in bundled_definitions():
        stored = db.session.execute(
            select(Questionnaire).where(
                Questionnaire.code == definition["code"], Questionnaire.version == definition["version"]
            )
        ).scalar_one_or_none()
        if stored is not None:
            if stored.definition != definition:
                raise DefinitionError(
                    f"questionnaire {definition['code']} v{definition['version']} in the database differs "
                    "from the bundled file; a released version must not change, so save the change as a "
                    "new version"
                )
            continue
        questionnaire = Questionnaire(
            code=definition["code"],
            version=definition["version"],
            title=definition["title"]["zh_CN"],
            definition=definition,
        )
        db.session.add(questionnaire)
        inserted.append(questionnaire)
        logger.info("loaded questionnaire %s v%s", definition["code"], definition["version"])
    db.session.flush()
    return inserted


def current(code: str = DEFAULT_CODE) -> Questionnaire:
    """Return the highest stored version of the questionnaire ``code``."""
    stmt = select(Questionnaire).where(Questionnaire.code == code).order_by(Questionnaire.version.desc())
    questionnaire = db.session.execute(stmt.limit(1)).scalar_one_or_none()
    if questionnaire is None:
        raise LookupError(
            f"questionnaire {code!r} is not loaded: run `flask --app fieldapp load-questionnaires`"
        )
    return questionnaire


# Checking a definition.


def check_definition(definition: dict, source: str = "definition") -> None:
    """Raise ``DefinitionError`` naming every malformed part of ``definition``."""
    problems: list[str] = []
    if not isinstance(definition.get("code"), str) or not definition.get("code"):
        problems.append("code must be a non-empty string")
    if not isinstance(definition.get("version"), int) or definition.get("version", 0) < 1:
        problems.append("version must be a positive integer")
    _check_label(definition.get("title"), "title", problems)
    sections = definition.get("sections")
    if not isinstance(sections, list) or not sections:
        problems.append("sections must be a non-empty list")
        sections = []

    # Question key -> key of its section when that section repeats, else None.
    seen: dict[str, str | None] = {}
    section_keys: set[str] = set()
    # A repeat section's key is also a key of the answers, next to the question keys.
    repeat_keys: set[str] = set()
    for section in sections:
        section_key = section.get("key")
        repeat = section.get("repeat")
        where = f"section {section_key!r}"
        if not section_key or section_key in section_keys or (repeat and section_key in seen):
            problems.append(f"{where}: key missing, used twice or used by a question")
        section_keys.add(section_key)
        if repeat:
            repeat_keys.add(section_key)
        _check_label(section.get("title"), f"{where} title", problems)
        if repeat not in (None, "members"):
            problems.append(f"{where}: repeat must be \"members\", not {repeat!r}")
        for question in section.get("questions") or []:
            _check_question(question, section_key if repeat else None, seen, problems)
            if repeat and question.get("type") == "photo":
                problems.append(f"question {question.get('key')!r}: photo questions cannot repeat")
            if question.get("key") in repeat_keys:
                problems.append(f"question {question.get('key')!r}: a repeat section has the same key")
            seen[question.get("key")] = section_key if repeat else None
    if problems:
        raise DefinitionError(f"{source}: " + "; ".join(problems))


def _check_label(label, where: str, problems: list[str]) -> None:
    if not isinstance(label, dict) or any(not isinstance(label.get(locale), str) or not label.get(locale)
                                          for locale in LOCALES):
        problems.append(f"{where}: needs a label for each of {', '.join(LOCALES)}")


def _check_question(question: dict, repeat_section: str | None, seen: dict, problems: list[str]) -> None:
    key = question.get("key")
    where = f"question {key!r}"
    if not isinstance(key, str) or not key or "." in key or key in seen:
        problems.append(f"{where}: key missing, containing a dot or used twice")
    kind = question.get("type")
    if kind not in QUESTION_TYPES:
        problems.append(f"{where}: type {kind!r} is not one of {', '.join(QUESTION_TYPES)}")
    _check_label(question.get("label"), f"{where} label", problems)
    if "hint" in question:
        _check_label(question["hint"], f"{where} hint", problems)
    if kind in ("single_choice", "multiple_choice"):
        options = question.get("options") or []
        values = [option.get("value") for option in options]
        distinct = len(set(values)) == len(values)
        if not options or not distinct or not all(isinstance(v, str) and v for v in values):
            problems.append(f"{where}: options need distinct non-empty string values")
        for option in options:
            _check_label(option.get("label"), f"{where} option {option.get('value')!r}", problems)
    if kind == "number":
        low, high = question.get("min"), question.get("max")
        if low is not None and high is not None and low > high:
            problems.append(f"{where}: min {low} is greater than max {high}")
    if "show_if" in question:
        _check_condition(question["show_if"], where, repeat_section, seen, problems)


def _check_condition(condition, where: str, repeat_section: str | None, seen: dict,
                     problems: list[str]) -> None:
    if not isinstance(condition, dict):
        problems.append(f"{where}: show_if must be an object")
        return
    if "all" in condition or "any" in condition:
        for part in condition.get("all", condition.get("any")) or []:
            _check_condition(part, where, repeat_section, seen, problems)
        return
    if "member_age" in condition:
        if repeat_section is None:
            problems.append(f"{where}: member_age conditions work only in a repeat section")
        return
    target = condition.get("question")
    if target not in seen:
        problems.append(f"{where}: show_if names {target!r}, which is not a question asked before it")
    elif seen[target] is not None and seen[target] != repeat_section:
        problems.append(f"{where}: show_if names {target!r}, which belongs to another repeat section")
    if sum(operator in condition for operator in _CONDITION_OPERATORS) != 1:
        problems.append(f"{where}: show_if needs exactly one of {', '.join(_CONDITION_OPERATORS)}")


# Walking the fields of a definition for one household.


@dataclass(frozen=True)
class Field:
    """One question as asked in a form: for a repeat section, once per member."""

    section: dict
    question: dict
    member: object | None = None

    @property
    def key(self) -> str:
        if self.member is None:
            return self.question["key"]
        return f"{self.section['key']}.{self.member.id}.{self.question['key']}"

    @property
    def type(self) -> str:
        return self.question["type"]


def iter_fields(definition: dict, household) -> Iterator[Field]:
    """Yield every field in definition order; repeat sections yield one field per member per question."""
    for section in definition["sections"]:
        if section.get("repeat") == "members":
            for member in household.members:
                for question in section["questions"]:
                    yield Field(section, question, member)
        else:
            for question in section["questions"]:
                yield Field(section, question)


def get_answer(answers: Mapping, field: Field):
    if field.member is None:
        return answers.get(field.question["key"])
    block = answers.get(field.section["key"])
    if not isinstance(block, Mapping):
        return None
    member_answers = block.get(str(field.member.id))
    if not isinstance(member_answers, Mapping):
        return None
    return member_answers.get(field.question["key"])


def set_answer(answers: dict, field: Field, value) -> None:
    if field.member is None:
        answers[field.question["key"]] = value
    else:
        answers.setdefault(field.section["key"], {}).setdefault(str(field.member.id), {})[
            field.question["key"]
        ] = value


def member_age(member, today: date) -> int | None:
    """Return the member's age in whole years on ``today``, from the birth date or the ID number."""
    born = member.birth_date or idnumbers.birth_date(member.id_number or "")
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def is_visible(field: Field, answers: Mapping, today: date) -> bool:
    """Tell whether ``field`` is asked, given the answers to the questions before it."""
    condition = field.question.get("show_if")
    return condition is None or _condition_holds(condition, field, answers, today)


def _condition_holds(condition: dict, field: Field, answers: Mapping, today: date) -> bool:
    if "all" in condition:
        return all(_condition_holds(part, field, answers, today) for part in condition["all"])
    if "any" in condition:
        return any(_condition_holds(part, field, answers, today) for part in condition["any"])
    if "member_age" in condition:
        age = member_age(field.member, today)
        if age is None:
            return True  # an unknown age must not hide a question the member may need
        bounds = condition["member_age"]
        return bounds.get("min", 0) <= age <= bounds.get("max", 200)
    value = _referenced_answer(condition["question"], field, answers)
    if "equals" in condition:
        return value is not None and value == condition["equals"]
    if "in" in condition:
        return value is not None and value in condition["in"]
    return isinstance(value, list) and condition["contains"] in value


def _referenced_answer(question_key: str, field: Field, answers: Mapping):
    if field.member is not None and any(q["key"] == question_key for q in field.section["questions"]):
        return get_answer(answers, Field(field.section, {"key": question_key, "type": ""}, field.member))
    return answers.get(question_key)


def resolved_condition(field: Field, today: date):
    """Return ``show_if`` for the page script: question keys become field keys, member ages are decided."""
    condition = field.question.get("show_if")
    return None if condition is None else _resolve(condition, field, today)


def _resolve(condition: dict, field: Field, today: date) -> dict:
    if "all" in condition or "any" in condition:
        operator = "all" if "all" in condition else "any"
        return {operator: [_resolve(part, field, today) for part in condition[operator]]}
    if "member_age" in condition:
        return {"const": _condition_holds(condition, field, {}, today)}
    target = condition["question"]
    if field.member is not None and any(q["key"] == target for q in field.section["questions"]):
        target = f"{field.section['key']}.{field.member.id}.{target}"
    resolved = {"field": target}
    for operator in _CONDITION_OPERATORS:
        if operator in condition:
            resolved[operator] = condition[operator]
    return resolved


def visible_answers(definition: dict, answers: Mapping, household, today: date) -> dict:
    """Return ``answers`` without the answers to hidden questions and without unknown keys."""
    return _walk_visible(definition, answers, household, today)[0]


def visibility(definition: dict, answers: Mapping, household, today: date) -> dict[str, bool]:
    """Return field key -> whether the field is asked, given ``answers``."""
    return _walk_visible(definition, answers, household, today)[1]


def _walk_visible(definition: dict, answers: Mapping, household, today: date) -> tuple[dict, dict[str, bool]]:
    kept: dict = {}
    shown: dict[str, bool] = {}
    for field in iter_fields(definition, household):
        shown[field.key] = is_visible(field, kept, today)
        if not shown[field.key]:
            continue
        value = get_answer(answers, field)
        if not _is_blank(value):
            set_answer(kept, field, value)
    return kept, shown


def _is_blank(value) -> bool:
    return value is None or value == "" or value == []


# Validation.


def validate_answers(definition: dict, answers: Mapping, household,
                     today: date | None = None) -> dict[str, str]:
    """Return field key -> error message for every invalid or missing answer; empty when all is well.

    Answers to hidden questions are ignored. Keys that name no question, and member blocks of
    people who are not members of ``household``, are errors.
    """
    today = today or local_today()
    errors: dict[str, str] = {}
    if not isinstance(answers, Mapping):
        return {"answers": _("The answers must be an object of question keys and values.")}
    _check_unknown_keys(definition, answers, household, errors)
    kept = visible_answers(definition, answers, household, today)
    for field in iter_fields(definition, household):
        if not is_visible(field, kept, today):
            continue
        value = get_answer(kept, field)
        if _is_blank(value) or (field.type == "photo" and value == 0):
            if field.question.get("required"):
                errors[field.key] = _required_message(field)
            continue
        message = _value_error(field, value, today)
        if message:
            errors[field.key] = message
    return errors


def _check_unknown_keys(definition: dict, answers: Mapping, household, errors: dict) -> None:
    plain = {q["key"] for s in definition["sections"] if not s.get("repeat") for q in s["questions"]}
    repeat = {s["key"]: {q["key"] for q in s["questions"]} for s in definition["sections"] if s.get("repeat")}
    member_ids = {str(member.id) for member in household.members}
    for key, value in answers.items():
        if key in plain:
            continue
        if key not in repeat:
            errors[key] = _("%(key)s is not a question of this questionnaire.", key=key)
            continue
        if not isinstance(value, Mapping):
            errors[key] = _("The answers for %(key)s must be grouped by member.", key=key)
            continue
        for member_id, block in value.items():
            if member_id not in member_ids:
                errors[f"{key}.{member_id}"] = _(
                    "Member %(member)s does not belong to this household.", member=member_id
                )
                continue
            for question_key in block if isinstance(block, Mapping) else ():
                if question_key not in repeat[key]:
                    errors[f"{key}.{member_id}.{question_key}"] = _(
                        "%(key)s is not a question of this questionnaire.", key=question_key
                    )


def _required_message(field: Field) -> str:
    if field.type == "photo":
        return _("Take or choose at least one photo.")
    if field.type == "multiple_choice":
        return _("Choose at least one answer.")
    return _("Answer this question.")


def _value_error(field: Field, value, today: date) -> str | None:
    checks = {
        "yes_no": _yes_no_error,
        "single_choice": _single_choice_error,
        "multiple_choice": _multiple_choice_error,
        "number": _number_error,
        "text": _text_error,
        "date": _date_error,
        "photo": _photo_error,
    }
    return checks[field.type](field.question, value, today)


def _yes_no_error(question: dict, value, today: date) -> str | None:
    if not isinstance(value, bool):
        return _("Answer yes or no, not %(value)s.", value=value)
    return None


def _single_choice_error(question: dict, value, today: date) -> str | None:
    if value not in option_values(question):
        return _("%(value)s is not one of the choices.", value=value)
    return None


def _multiple_choice_error(question: dict, value, today: date) -> str | None:
    if not isinstance(value, list) or len(set(map(str, value))) != len(value):
        return _("Send the chosen answers as a list without repeats.")
    allowed = option_values(question)
    unknown = [item for item in value if item not in allowed]
    if unknown:
        return _("%(value)s is not one of the choices.", value=", ".join(map(str, unknown)))
    return None


def _number_error(question: dict, value, today: date) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return _("%(value)s is not a number.", value=value)
    if question.get("integer") and value != int(value):
        return _("Enter a whole number, not %(value)s.", value=value)
    low, high = question.get("min"), question.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        return _("Enter a number from %(min)s to %(max)s; %(value)s is out of range.",
                 min=_format_number(low) if low is not None else "-",
                 max=_format_number(high) if high is not None else "-",
                 value=_format_number(value))
    return None


def _text_error(question: dict, value, today: date) -> str | None:
    if not isinstance(value, str):
        return _("Enter text.")
    limit = question.get("max_length", TEXT_MAX_LENGTH)
    if len(value) > limit:
        return _("The text is %(length)d characters long; shorten it to at most %(max)d.",
                 length=len(value), max=limit)
    return None


def _date_error(question: dict, value, today: date) -> str | None:
    try:
        day = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        day = None
    if day is None:
        return _("%(value)s is not a date; use the form YYYY-MM-DD.", value=value)
    low, high = _date_bound(question.get("min"), today), _date_bound(question.get("max"), today)
    if low is not None and day < low:
        return _("The date must not be before %(date)s.", date=low.isoformat())
    if high is not None and day > high:
        return _("The date must not be after %(date)s.", date=high.isoformat())
    return None


def _date_bound(bound, today: date) -> date | None:
    if bound is None:
        return None
    return today if bound == "today" else date.fromisoformat(bound)


def _photo_error(question: dict, value, today: date) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return _("The number of photos must be a whole number.")
    if value > MAX_PHOTOS_PER_QUESTION:
        return _("Send at most %(max)d photos for one question; %(count)d were chosen.",
                 max=MAX_PHOTOS_PER_QUESTION, count=value)
    return None


def option_values(question: dict) -> list[str]:
    return [option["value"] for option in question.get("options", [])]


def local_today() -> date:
    """Return today's date in the display time zone (Asia/Shanghai by default)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(current_app.config.get("DISPLAY_TIMEZONE", "Asia/Shanghai"))
    return datetime.now(zone).date()


# Parsing a submitted HTML form.


def parse_form(definition: dict, form, household,
               photo_counts: Mapping[str, int]) -> tuple[dict, dict[str, str]]:
    """Turn form strings into typed answers; return (answers, field key -> parse error).

    ``form`` is a werkzeug ``MultiDict``; ``photo_counts`` maps a photo field's key to the number
    of files sent for it. Blank inputs give no answer.
    """
    answers: dict = {}
    errors: dict[str, str] = {}
    for field in iter_fields(definition, household):
        if field.type == "photo":
            count = photo_counts.get(field.key, 0)
            if count:
                set_answer(answers, field, count)
            continue
        if field.type == "multiple_choice":
            chosen = [value for value in form.getlist(field.key) if value]
            if chosen:
                set_answer(answers, field, list(dict.fromkeys(chosen)))
            continue
        raw = (form.get(field.key) or "").strip()
        if not raw:
            continue
        value, error = _parse_value(field.question, raw)
        if error:
            errors[field.key] = error
        else:
            set_answer(answers, field, value)
    return answers, errors


def _parse_value(question: dict, raw: str):
    kind = question["type"]
    if kind == "yes_no":
        if raw in ("yes", "no"):
            return raw == "yes", None
        return None, _("Answer yes or no, not %(value)s.", value=raw)
    if kind == "number":
        return parse_number(raw)
    return raw, None


def parse_number(raw: str):
    """Parse a number typed on a phone: full-width digits, a comma as decimal mark and spaces allowed."""
    text = raw.translate(_FULL_WIDTH_NUMBER).replace(" ", "").replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        return None, _("%(value)s is not a number.", value=raw)
    if not math.isfinite(value):
        return None, _("%(value)s is not a number.", value=raw)
    return (int(value) if value.is_integer() else value), None


_FULL_WIDTH_NUMBER = {ord(c): ord(c) - 0xFEE0 for c in "０１２３４５６７８９．－＋"} | {ord("，"): ord(",")}


def prefill_value(question: dict, member):
    """Return the register value a question starts with for ``member``, or None."""
    prefill = question.get("prefill")
    if not prefill or member is None:
        return None
    value = getattr(member, prefill["member"], None)
    if value in (None, "") and "blank" in prefill:
        value = prefill["blank"]
    if value in (None, ""):
        return None
    if question["type"] in ("single_choice",) and value not in option_values(question):
        return None
    return value


# Display.


def localized(label) -> str:
    """Return the label in the current locale, falling back to Chinese, then English."""
    if isinstance(label, str):
        return label
    if not isinstance(label, Mapping):
        return ""
    return label.get(locale_key()) or label.get("zh_CN") or label.get("en") or ""


def locale_key() -> str:
    """Return the current locale as a definition's label key: ``zh_CN`` or ``en``.

    Babel parses ``zh_CN`` as ``zh_Hans_CN``, so the key is built from language and territory.
    """
    locale = get_locale()
    if locale is None:
        return current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")
    return f"{locale.language}_{locale.territory}" if locale.territory else locale.language


def option_label(question: dict, value) -> str:
    for option in question.get("options", []):
        if option["value"] == value:
            return localized(option["label"])
    return str(value)


def format_answer(question: dict, value) -> str:
    """Return an answer as text in the current locale."""
    kind = question["type"]
    if kind == "yes_no":
        return _("Yes") if value else _("No")
    if kind == "single_choice":
        return option_label(question, value)
    if kind == "multiple_choice":
        if not isinstance(value, list):
            return str(value)
        return "、".join(option_label(question, item) for item in value)
    if kind == "number":
        return _format_number(value)
    if kind == "photo":
        return ngettext("%(num)d photo", "%(num)d photos", value) if isinstance(value, int) else str(value)
    return str(value)


def _format_number(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def answer_rows(visit) -> list[dict]:
    """Return the visit's answers as display rows (section, label, value) in the current locale.

    Members are named as they are in the register now; a member removed since the visit is shown
    by number.
    """
    definition = visit.questionnaire.definition
    answers = visit.answers or {}
    members = {str(member.id): member for member in visit.household.members}
    rows = []
    for section in definition["sections"]:
        section_title = localized(section["title"])
        if section.get("repeat") == "members":
            blocks = answers.get(section["key"]) or {}
            ordered = [key for key in members if key in blocks]
            ordered += [key for key in blocks if key not in members]
            for member_id in ordered:
                block = blocks[member_id]
                member = members.get(member_id)
                who = member.name if member is not None else _("Member %(member)s", member=member_id)
                for question in section["questions"]:
                    if question["key"] in block:
                        rows.append({
                            "section": section_title,
                            "label": f"{who}: {localized(question['label'])}",
                            "value": format_answer(question, block[question["key"]]),
                        })
            continue
        for question in section["questions"]:
            if question["key"] in answers:
                rows.append({
                    "section": section_title,
                    "label": localized(question["label"]),
                    "value": format_answer(question, answers[question["key"]]),
                })
    return rows
