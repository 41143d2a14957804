"""Questionnaire definitions: the bundled JSON files, loading them into the database, and checking them."""

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from threading import Lock

from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.visits.models import Questionnaire

logger = logging.getLogger(__name__)

QUESTION_TYPES = ("yes_no", "single_choice", "multiple_choice", "number", "text", "date", "photo")
LOCALES = ("zh_CN", "en")
BUNDLED_FOLDER = Path(__file__).parent
DEFAULT_CODE = "household_visit"
TEXT_MAX_LENGTH = 2000
MAX_PHOTOS_PER_QUESTION = 10
CONDITION_OPERATORS = ("equals", "in", "contains")


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


@dataclass(frozen=True)
class StoredVersion:
    """A stored questionnaire version, detached from any session; it never changes once stored."""

    id: int
    code: str
    version: int
    title: str
    definition: dict


# Stored versions read so far, by database URL and questionnaire id. A stored version never
# changes (``load_bundled`` rejects a changed definition), so the cache needs no expiry.
_stored_versions: dict[tuple[str, int], StoredVersion] = {}
_stored_versions_lock = Lock()


def stored_version(questionnaire_id: int) -> StoredVersion | None:
    """Return the questionnaire version with this id, read from the database once per process."""
    key = (str(db.engine.url), questionnaire_id)
    cached = _stored_versions.get(key)
    if cached is not None:
        return cached
    row = db.session.get(Questionnaire, questionnaire_id)
    if row is None:
        return None
    version = StoredVersion(row.id, row.code, row.version, row.title, row.definition)
    with _stored_versions_lock:
        _stored_versions[key] = version
    return version


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
    if sum(operator in condition for operator in CONDITION_OPERATORS) != 1:
        problems.append(f"{where}: show_if needs exactly one of {', '.join(CONDITION_OPERATORS)}")


def option_values(question: dict) -> list[str]:
    return [option["value"] for option in question.get("options", [])]
