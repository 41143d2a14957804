"""The visit form: its fixed hidden fields, reading a posted form, and the model the template renders.

The questions come from the questionnaire definition, so they are not WTForms fields. The fixed
fields (visit ID, location, times) and the CSRF token are.
"""

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from flask_wtf import FlaskForm
from wtforms import HiddenField

from fieldapp.review import reinspection
from fieldapp.visits import questionnaires
from fieldapp.visits.questionnaires import Field, localized
from fieldapp.visits.services import (
    GENERAL_PHOTO_FIELD,
    MAX_ONSITE_PROBLEMS,
    OnSiteProblem,
    Outcome,
    PhotoUpload,
    VisitSubmission,
)

# Blank rows for problems found on site shown on a new form; the page script adds more.
ONSITE_BLANK_ROWS = 3
# Choice questions with more options than this render as a drop-down list instead of buttons.
MAX_RADIO_OPTIONS = 6
_ONSITE_ROW = re.compile(r"onsite_(?:category|description)_(\d+)")


class VisitForm(FlaskForm):
    """Hidden fields that the page script fills; the CSRF token comes with FlaskForm."""

    questionnaire_id = HiddenField()
    client_uuid = HiddenField()
    latitude = HiddenField()
    longitude = HiddenField()
    accuracy_m = HiddenField()
    fixed_at = HiddenField()
    started_at = HiddenField()
    submitted_at = HiddenField()


# Reading a posted form.


def submission_from_request(form, files, questionnaire, household) -> VisitSubmission:
    """Build a ``VisitSubmission`` from a posted ``MultiDict`` form and its files."""
    uploads = _photo_uploads(files, questionnaire.definition)
    return submission_from_form(form, uploads, questionnaire, household)


def submission_from_form(form, uploads: list[PhotoUpload], questionnaire, household) -> VisitSubmission:
    """Build a ``VisitSubmission`` from a ``MultiDict`` of the visit form's fields and its photos.

    The sync API sends the fields the form would post, with photos declared but not yet sent.
    """
    definition = questionnaire.definition
    photo_counts: dict[str, int] = {}
    for upload in uploads:
        if upload.question_key is not None:
            photo_counts[upload.question_key] = photo_counts.get(upload.question_key, 0) + 1
    answers, errors = questionnaires.parse_form(definition, form, household, photo_counts)
    shown, outcomes = _outcomes(form)
    return VisitSubmission(
        client_uuid=form.get("client_uuid", ""),
        questionnaire=questionnaire,
        answers=answers,
        latitude=_coordinate(form.get("latitude")),
        longitude=_coordinate(form.get("longitude")),
        accuracy_m=_coordinate(form.get("accuracy_m")),
        fixed_at=parse_timestamp(form.get("fixed_at")),
        started_at=parse_timestamp(form.get("started_at")),
        submitted_at=parse_timestamp(form.get("submitted_at")),
        shown_problem_ids=shown,
        outcomes=outcomes,
        onsite_problems=_onsite_problems(form),
        photos=uploads,
        reinspection_fields=reinspection.submission_fields(form),
        errors=errors,
    )


def _coordinate(raw: str | None) -> float | None:
    """Parse a number the page script wrote; a value that is not a number becomes NaN, flagged later."""
    if raw is None or not raw.strip():
        return None
    try:
        return float(raw)
    except ValueError:
        return math.nan


def parse_timestamp(raw: str | None) -> datetime | None:
    """Parse an ISO 8601 time from the phone; a time without a zone is taken as UTC."""
    if not raw or not raw.strip():
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def photo_question_keys(definition: dict) -> list[str]:
    """Return the keys of the photo questions, whose form fields take photos like ``photos`` does."""
    return [q["key"] for s in definition["sections"] if not s.get("repeat")
            for q in s["questions"] if q["type"] == "photo"]


def _photo_uploads(files, definition: dict) -> list[PhotoUpload]:
    photo_keys = photo_question_keys(definition)
    uploads = []
    for field_name, question_key in [(key, key) for key in photo_keys] + [(GENERAL_PHOTO_FIELD, None)]:
        index = 0
        for storage in files.getlist(field_name):
            data = storage.read()
            if not data and not storage.filename:
                continue  # an empty file input
            uploads.append(PhotoUpload(field_name, index, storage.filename or "", data, question_key))
            index += 1
    return uploads


def _outcomes(form) -> tuple[list[int], list[Outcome]]:
    shown = []
    for raw in form.getlist("problem_ids"):
        if raw.isdigit():
            shown.append(int(raw))
    outcomes = []
    for problem_id in shown:
        value = form.get(f"outcome_{problem_id}", "")
        note = form.get(f"note_{problem_id}", "")
        if value or note.strip():
            outcomes.append(Outcome(problem_id, value, note))
    return shown, outcomes


def _onsite_problems(form) -> list[OnSiteProblem]:
    rows = sorted({int(match.group(1)) for key in form if (match := _ONSITE_ROW.fullmatch(key))})
    problems = []
    for row in rows[: MAX_ONSITE_PROBLEMS + 1]:
        category = form.get(f"onsite_category_{row}", "").strip()
        description = form.get(f"onsite_description_{row}", "").strip()
        if category or description:
            problems.append(OnSiteProblem(category, description, row))
    return problems


def onsite_row_count(form) -> int:
    """Return how many on-site problem rows the page shows: the posted ones, at least the blank minimum."""
    rows = [int(match.group(1)) for key in form if (match := _ONSITE_ROW.fullmatch(key))]
    return min(max([ONSITE_BLANK_ROWS] + [row + 1 for row in rows]), MAX_ONSITE_PROBLEMS)


# The model the template renders.


@dataclass
class FieldView:
    key: str
    type: str
    label: str
    hint: str
    required: bool
    visible: bool
    value: str | list[str]
    error: str | None
    options: list[tuple[str, str]] = field(default_factory=list)
    widget: str = ""
    condition: str = ""
    question: dict = field(default_factory=dict)


@dataclass
class BlockView:
    title: str
    fields: list[FieldView]

    @property
    def any_visible(self) -> bool:
        return any(f.visible for f in self.fields)


@dataclass
class SectionView:
    key: str
    title: str
    hint: str
    blocks: list[BlockView]
    is_repeat: bool


def build_sections(definition: dict, household, values, errors: dict[str, str],
                   today: date) -> list[SectionView]:
    """Return the sections to render, filled with the posted ``values`` (a MultiDict).

    With ``values`` None (a new form), prefilled questions start with the register's values.
    """
    current = values if values is not None else _prefill_values(definition, household)
    answers, _parse_errors = questionnaires.parse_form(definition, current, household, {})
    shown = questionnaires.visibility(definition, answers, household, today)
    by_section: dict[str, list[BlockView]] = {}
    blocks: dict[tuple[str, int | None], BlockView] = {}
    for item in questionnaires.iter_fields(definition, household):
        member_id = item.member.id if item.member is not None else None
        block_key = (item.section["key"], member_id)
        if block_key not in blocks:
            blocks[block_key] = BlockView(_block_title(item), [])
            by_section.setdefault(item.section["key"], []).append(blocks[block_key])
        blocks[block_key].fields.append(_field_view(item, current, errors, shown, today))
    return [
        SectionView(
            key=section["key"],
            title=localized(section["title"]),
            hint=localized(section.get("hint", "")),
            blocks=by_section.get(section["key"], []),
            is_repeat=section.get("repeat") == "members",
        )
        for section in definition["sections"]
    ]


def _block_title(item: Field) -> str:
    if item.member is None:
        return ""
    relationship = item.member.relationship_to_head
    return f"{item.member.name}（{relationship}）" if relationship else item.member.name


def _field_view(item: Field, values, errors: dict, shown: dict, today: date) -> FieldView:
    question = item.question
    if item.type == "multiple_choice":
        value: str | list[str] = values.getlist(item.key)
    elif item.type == "photo":
        value = ""
    else:
        value = values.get(item.key, "")
    options = [(option["value"], localized(option["label"])) for option in question.get("options", [])]
    widget = ""
    if item.type == "single_choice":
        widget = "select" if len(options) > MAX_RADIO_OPTIONS else "radio"
    condition = questionnaires.resolved_condition(item, today)
    return FieldView(
        key=item.key,
        type=item.type,
        label=localized(question["label"]),
        hint=localized(question.get("hint", "")),
        required=bool(question.get("required")),
        visible=shown.get(item.key, True),
        value=value,
        error=errors.get(item.key),
        options=options,
        widget=widget,
        condition=json.dumps(condition, ensure_ascii=False) if condition is not None else "",
        question=question,
    )


def _prefill_values(definition: dict, household):
    """Return a MultiDict of form strings holding the register's values for prefilled questions."""
    from werkzeug.datastructures import MultiDict

    values = MultiDict()
    for item in questionnaires.iter_fields(definition, household):
        value = questionnaires.prefill_value(item.question, item.member)
        if value is None:
            continue
        if item.type == "yes_no":
            values[item.key] = "yes" if value else "no"
        else:
            values[item.key] = str(value)
    return values
