"""Answers: parsing a submitted HTML form into typed answers, and validating them."""

import math
from collections.abc import Mapping
from datetime import date

from flask_babel import gettext as _

from fieldapp.visits.questionnaires.definitions import MAX_PHOTOS_PER_QUESTION, TEXT_MAX_LENGTH, option_values
from fieldapp.visits.questionnaires.display import format_number
from fieldapp.visits.questionnaires.fields import (
    Field,
    is_blank,
    iter_fields,
    local_today,
    set_answer,
    walk_visible,
)

# Validation.


def validate_answers(definition: dict, answers: Mapping, household,
                     today: date | None = None) -> dict[str, str]:
    """Return field key -> error message for every invalid or missing answer; empty when all is well.

    Answers to hidden questions are ignored. Keys that name no question, and member blocks of
    people who are not members of ``household``, are errors.
    """
    return checked_answers(definition, answers, household, today)[1]


def checked_answers(definition: dict, answers: Mapping, household,
                    today: date | None = None) -> tuple[dict, dict[str, str]]:
    """Return the answers to visible questions and the errors of ``validate_answers``, in one walk."""
    today = today or local_today()
    errors: dict[str, str] = {}
    if not isinstance(answers, Mapping):
        return {}, {"answers": _("The answers must be an object of question keys and values.")}
    _check_unknown_keys(definition, answers, household, errors)

    def check(field: Field, value) -> None:
        if is_blank(value) or (field.type == "photo" and value == 0):
            if field.question.get("required"):
                errors[field.key] = _required_message(field)
            return
        message = _value_error(field, value, today)
        if message:
            errors[field.key] = message

    # A condition names only questions asked before it, so the visibility decided while walking
    # the answers in order is also true of the complete set of visible answers.
    kept, _shown = walk_visible(definition, answers, household, today, check)
    return kept, errors


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
                 min=format_number(low) if low is not None else "-",
                 max=format_number(high) if high is not None else "-",
                 value=format_number(value))
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
