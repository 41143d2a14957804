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

The package is split by concept: ``definitions`` loads and checks definitions, ``fields`` walks
the fields of a definition for one household and decides which are asked, ``answers`` parses and
validates answers, and ``display`` turns stored answers into rows in the current locale.
"""

from fieldapp.visits.questionnaires.answers import (
    checked_answers,
    parse_form,
    parse_number,
    prefill_value,
    validate_answers,
)
from fieldapp.visits.questionnaires.definitions import (
    BUNDLED_FOLDER,
    DEFAULT_CODE,
    LOCALES,
    MAX_PHOTOS_PER_QUESTION,
    QUESTION_TYPES,
    TEXT_MAX_LENGTH,
    DefinitionError,
    StoredVersion,
    bundled_definitions,
    check_definition,
    current,
    load_bundled,
    option_values,
    stored_version,
)
from fieldapp.visits.questionnaires.display import (
    answer_rows,
    format_answer,
    format_number,
    locale_key,
    localized,
    option_label,
)
from fieldapp.visits.questionnaires.fields import (
    Field,
    get_answer,
    is_blank,
    is_visible,
    iter_fields,
    local_today,
    member_age,
    resolved_condition,
    set_answer,
    visibility,
    visible_answers,
)

__all__ = [
    "BUNDLED_FOLDER",
    "DEFAULT_CODE",
    "LOCALES",
    "MAX_PHOTOS_PER_QUESTION",
    "QUESTION_TYPES",
    "TEXT_MAX_LENGTH",
    "DefinitionError",
    "Field",
    "StoredVersion",
    "answer_rows",
    "bundled_definitions",
    "check_definition",
    "current",
    "format_answer",
    "format_number",
    "get_answer",
    "is_blank",
    "is_visible",
    "iter_fields",
    "load_bundled",
    "local_today",
    "locale_key",
    "localized",
    "member_age",
    "option_label",
    "option_values",
    "parse_form",
    "parse_number",
    "prefill_value",
    "resolved_condition",
    "set_answer",
    "stored_version",
    "checked_answers",
    "validate_answers",
    "visibility",
    "visible_answers",
]
