"""Showing stored answers: labels in the current locale and display rows for a visit."""

from collections.abc import Mapping

from flask import current_app
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

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
        return format_number(value)
    if kind == "photo":
        return ngettext("%(num)d photo", "%(num)d photos", value) if isinstance(value, int) else str(value)
    return str(value)


def format_number(value) -> str:
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
                            "label": _("%(member)s: %(question)s", member=who,
                                       question=localized(question["label"])),
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
