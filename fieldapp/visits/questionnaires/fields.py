"""Walking the fields of a definition for one household, and deciding which of them are asked."""

from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime

from flask import current_app

from fieldapp import idnumbers
from fieldapp.visits.questionnaires.definitions import CONDITION_OPERATORS


class Field:
    """One question as asked in a form: for a repeat section, once per member.

    A plain class with slots and its key worked out once: a visit upload walks every field of
    the questionnaire, and a frozen dataclass took a tenth of the upload's time to build them.
    """

    __slots__ = ("section", "question", "member", "key")

    def __init__(self, section: dict, question: dict, member=None):
        self.section = section
        self.question = question
        self.member = member
        if member is None:
            self.key = question["key"]
        else:
            self.key = f"{section['key']}.{member.id}.{question['key']}"

    @property
    def type(self) -> str:
        return self.question["type"]

    def __eq__(self, other) -> bool:
        return isinstance(other, Field) and (self.section, self.question, self.member) == (
            other.section, other.question, other.member)

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"Field({self.key!r})"


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
    for operator in CONDITION_OPERATORS:
        if operator in condition:
            resolved[operator] = condition[operator]
    return resolved


def visible_answers(definition: dict, answers: Mapping, household, today: date) -> dict:
    """Return ``answers`` without the answers to hidden questions and without unknown keys."""
    return walk_visible(definition, answers, household, today)[0]


def visibility(definition: dict, answers: Mapping, household, today: date) -> dict[str, bool]:
    """Return field key -> whether the field is asked, given ``answers``."""
    return walk_visible(definition, answers, household, today)[1]


def walk_visible(definition: dict, answers: Mapping, household, today: date,
                 on_visible: Callable[[Field, object], None] | None = None) -> tuple[dict, dict[str, bool]]:
    """Return the answers to visible questions and field key -> whether the field is asked.

    ``on_visible(field, value)`` is called for each visible field with its answer, blank or not.
    """
    kept: dict = {}
    shown: dict[str, bool] = {}
    for field in iter_fields(definition, household):
        shown[field.key] = is_visible(field, kept, today)
        if not shown[field.key]:
            continue
        value = get_answer(answers, field)
        if not is_blank(value):
            set_answer(kept, field, value)
        if on_visible is not None:
            on_visible(field, value)
    return kept, shown


def is_blank(value) -> bool:
    return value is None or value == "" or value == []


def local_today() -> date:
    """Return today's date in the display time zone (Asia/Shanghai by default)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(current_app.config.get("DISPLAY_TIMEZONE", "Asia/Shanghai"))
    return datetime.now(zone).date()
