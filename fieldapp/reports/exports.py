"""The rows of the exports: the rectification ledger (整改台账) and visits with their answers.

Rows are read in chunks of ``CHUNK_SIZE`` by ascending id, each chunk in its own short
transaction, so a long export neither holds much memory nor keeps the database locked.
ID numbers are masked unless the export was made unmasked by a role in ``UNMASK_ROLES``.
NOTE: chunks are separate transactions, so rows changed while an export runs may show either
their old or their new values.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from fieldapp import idnumbers
from fieldapp.extensions import db
from fieldapp.register.models import Household
from fieldapp.reports.sheets import DATE, DATETIME, NUMBER, TEXT, Column
from fieldapp.review.labels import outcome_label, source_label, status_label
from fieldapp.review.models import Finding
from fieldapp.review.queries import is_overdue, overdue_clause
from fieldapp.sampling.models import SampledHousehold
from fieldapp.scope import scoped_select
from fieldapp.visits import questionnaires
from fieldapp.visits.location import flag_label
from fieldapp.visits.models import Photo, VerificationOutcome, Visit

CHUNK_SIZE = 2000
OVERDUE = "overdue"


@dataclass
class Filters:
    status: str | None = None
    source: str | None = None
    township: str | None = None
    round_id: int | None = None

    @classmethod
    def from_dict(cls, values: dict) -> "Filters":
        round_id = values.get("round")
        return cls(status=values.get("status") or None, source=values.get("source") or None,
                   township=values.get("township") or None,
                   round_id=int(round_id) if round_id not in (None, "") else None)


def _head_id(household: Household, unmasked: bool) -> str:
    head = household.head or (household.members[0] if household.members else None)
    if head is None:
        return ""
    return head.id_number if unmasked else idnumbers.mask(head.id_number)


def chunks(stmt, id_column, *, chunk_size: int = CHUNK_SIZE) -> Iterator[list]:
    """Yield the rows of ``stmt`` by ascending id, ``chunk_size`` at a time.

    The caller ends the transaction between chunks (a progress commit does), so no lock is
    held for the whole export.
    """
    last_id = 0
    while True:
        rows = list(db.session.scalars(stmt.where(id_column > last_id).order_by(id_column).limit(chunk_size)))
        if not rows:
            return
        last_id = rows[-1].id
        yield rows


# The rectification ledger.


LEDGER_COLUMNS = [
    (_l("Number"), NUMBER, 8),
    (_l("Source"), TEXT, 10),
    (_l("County"), TEXT, 10),
    (_l("Township"), TEXT, 12),
    (_l("Village"), TEXT, 18),
    (_l("Household number"), TEXT, 20),
    (_l("ID number of the head"), TEXT, 21),
    (_l("Category"), TEXT, 14),
    (_l("Description"), TEXT, 40),
    (_l("Verification outcome"), TEXT, 14),
    (_l("Measures taken"), TEXT, 30),
    (_l("Responsible unit"), TEXT, 16),
    (_l("Responsible person"), TEXT, 12),
    (_l("Deadline"), DATE, 12),
    (_l("Status"), TEXT, 10),
    (_l("Overdue"), TEXT, 8),
    (_l("Corrected at"), DATETIME, 17),
    (_l("Evidence count"), NUMBER, 8),
    (_l("Re-checked by"), TEXT, 12),
    (_l("Re-checked at"), DATETIME, 17),
    (_l("Created at"), DATETIME, 17),
]


def ledger_columns() -> list[Column]:
    return [Column(str(header), kind, width) for header, kind, width in LEDGER_COLUMNS]


def ledger_statement(user, filters: Filters, today: date):
    stmt = scoped_select(Finding, user)
    if filters.status == OVERDUE:
        stmt = stmt.where(overdue_clause(today))
    elif filters.status:
        stmt = stmt.where(Finding.status == filters.status)
    if filters.source:
        stmt = stmt.where(Finding.source == filters.source)
    if filters.township:
        stmt = stmt.where(Household.township_code == filters.township)
    if filters.round_id is not None:
        in_round = select(SampledHousehold.id).where(SampledHousehold.sampling_round_id == filters.round_id)
        stmt = stmt.where(Finding.sampled_household_id.in_(in_round))
    return stmt


def count(stmt) -> int:
    return db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()


def ledger_rows(user, filters: Filters, *, unmasked: bool, today: date) -> Iterator[list[list[Any]]]:
    """Yield chunks of ledger rows, each a list of cell values in ``LEDGER_COLUMNS`` order."""
    stmt = ledger_statement(user, filters, today).options(
        selectinload(Finding.household).selectinload(Household.members),
        selectinload(Finding.rechecked_by),
    )
    for findings in chunks(stmt, Finding.id):
        outcomes = _outcomes(findings)
        yield [_ledger_row(finding, outcomes, unmasked, today) for finding in findings]


def _outcomes(findings: list[Finding]) -> dict[tuple[int, int], VerificationOutcome]:
    visit_ids = {f.visit_id for f in findings if f.visit_id and f.suspected_problem_id}
    if not visit_ids:
        return {}
    rows = db.session.scalars(select(VerificationOutcome).where(VerificationOutcome.visit_id.in_(visit_ids)))
    return {(row.visit_id, row.suspected_problem_id): row for row in rows}


def _ledger_row(finding: Finding, outcomes: dict, unmasked: bool, today: date) -> list:
    household = finding.household
    outcome = outcomes.get((finding.visit_id, finding.suspected_problem_id))
    if outcome is not None:
        verdict = outcome_label(outcome.outcome) + (f": {outcome.note}" if outcome.note else "")
    elif finding.source == "on_site":
        verdict = _("Found on site")
    else:
        verdict = ""
    return [
        finding.id,
        source_label(finding.source),
        household.county,
        household.township,
        household.village,
        household.household_no,
        _head_id(household, unmasked),
        finding.category,
        finding.description,
        verdict,
        finding.measures,
        finding.responsible_unit,
        finding.responsible_person,
        finding.deadline,
        status_label(finding.status),
        _("Yes") if is_overdue(finding, today) else "",
        finding.corrected_at,
        finding.evidence_count,
        finding.rechecked_by.display_name if finding.rechecked_by else "",
        finding.rechecked_at,
        finding.created_at,
    ]


# Visits with their answers.


VISIT_COLUMNS = [
    (_l("Visit number"), NUMBER, 8),
    (_l("County"), TEXT, 10),
    (_l("Township"), TEXT, 12),
    (_l("Village"), TEXT, 18),
    (_l("Household number"), TEXT, 20),
    (_l("ID number of the head"), TEXT, 21),
    (_l("Inspector"), TEXT, 12),
    (_l("Sampling round"), TEXT, 16),
    (_l("Submitted at"), DATETIME, 17),
    (_l("Received at"), DATETIME, 17),
    (_l("Latitude"), NUMBER, 11),
    (_l("Longitude"), NUMBER, 11),
    (_l("Accuracy (m)"), NUMBER, 8),
    (_l("Distance to the household (m)"), NUMBER, 10),
    (_l("Location flags"), TEXT, 18),
    (_l("Photos"), NUMBER, 7),
]
MEMBER_COLUMNS = [
    (_l("Visit number"), NUMBER, 8),
    (_l("Household number"), TEXT, 20),
    (_l("ID number"), TEXT, 21),
    (_l("Relationship to the head"), TEXT, 10),
]
_ANSWER_KINDS = {"number": NUMBER, "photo": NUMBER, "date": DATE}


@dataclass
class VisitLayout:
    """Columns of the visits export: fixed columns, then one per question of the current questionnaire.

    Questions asked once per member (repeat sections) go to a second sheet with a row per member.
    """

    household_questions: list[dict]
    # (section key, question) of every question asked per member, in questionnaire order.
    member_questions: list[tuple[str, dict]]

    @classmethod
    def current(cls) -> "VisitLayout":
        definition = questionnaires.current().definition
        household_questions, member_questions = [], []
        for section in definition["sections"]:
            if section.get("repeat") == "members":
                member_questions += [(section["key"], question) for question in section["questions"]]
            else:
                household_questions += section["questions"]
        return cls(household_questions, member_questions)

    def visit_columns(self) -> list[Column]:
        fixed = [Column(str(header), kind, width) for header, kind, width in VISIT_COLUMNS]
        return fixed + [_question_column(question) for question in self.household_questions]

    def member_columns(self) -> list[Column]:
        fixed = [Column(str(header), kind, width) for header, kind, width in MEMBER_COLUMNS]
        return fixed + [_question_column(question) for _section, question in self.member_questions]


def _question_column(question: dict) -> Column:
    return Column(questionnaires.localized(question["label"]), _ANSWER_KINDS.get(question["type"], TEXT), 14)


def answer_cell(question: dict, value):
    """Return an answer as a typed cell value: numbers stay numbers, dates become dates."""
    if value is None or value == "":
        return None
    kind = question["type"]
    if kind in ("number", "photo") and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if kind == "date" and isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return questionnaires.format_answer(question, value)


def visit_statement(user, filters: Filters):
    stmt = scoped_select(Visit, user)
    if filters.township:
        stmt = stmt.where(Household.township_code == filters.township)
    if filters.round_id is not None:
        in_round = select(SampledHousehold.id).where(SampledHousehold.sampling_round_id == filters.round_id)
        stmt = stmt.where(Visit.sampled_household_id.in_(in_round))
    return stmt


def visit_rows(user, filters: Filters, layout: VisitLayout, *,
               unmasked: bool) -> Iterator[tuple[list[list], list[list]]]:
    """Yield chunks of (visit rows, member rows) in the layout's column order."""
    stmt = visit_statement(user, filters).options(
        selectinload(Visit.household).selectinload(Household.members),
        selectinload(Visit.inspector),
        selectinload(Visit.sampled_household).selectinload(SampledHousehold.sampling_round),
    )
    for visits in chunks(stmt, Visit.id):
        photo_counts = dict(db.session.execute(
            select(Photo.visit_id, func.count(Photo.id))
            .where(Photo.visit_id.in_([visit.id for visit in visits]))
            .group_by(Photo.visit_id)
        ).all())
        visit_part, member_part = [], []
        for visit in visits:
            visit_part.append(_visit_row(visit, layout, photo_counts.get(visit.id, 0), unmasked))
            member_part += _member_rows(visit, layout, unmasked)
        yield visit_part, member_part


def _visit_row(visit: Visit, layout: VisitLayout, photos: int, unmasked: bool) -> list:
    household = visit.household
    answers = visit.answers or {}
    fixed = [
        visit.id,
        household.county,
        household.township,
        household.village,
        household.household_no,
        _head_id(household, unmasked),
        visit.inspector.display_name if visit.inspector else "",
        visit.sampled_household.sampling_round.name if visit.sampled_household else "",
        visit.submitted_at,
        visit.received_at,
        visit.latitude,
        visit.longitude,
        round(visit.accuracy_m, 1) if visit.accuracy_m is not None else None,
        round(visit.distance_m) if visit.distance_m is not None else None,
        "、".join(flag_label(flag) for flag in visit.location_flags or []),
        photos,
    ]
    return fixed + [answer_cell(q, answers.get(q["key"])) for q in layout.household_questions]


def _member_rows(visit: Visit, layout: VisitLayout, unmasked: bool) -> list[list]:
    """Return one row per member with answers in any repeat section, in register order."""
    answers = visit.answers or {}
    sections = {key for key, _question in layout.member_questions}
    blocks = {key: answers.get(key) if isinstance(answers.get(key), dict) else {} for key in sections}
    answered = {member_id for block in blocks.values() for member_id in block}
    members = {str(member.id): member for member in visit.household.members}
    ordered = [key for key in members if key in answered]
    ordered += sorted(key for key in answered if key not in members)
    rows = []
    for member_id in ordered:
        member = members.get(member_id)
        id_number = member.id_number if member is not None else ""
        values = []
        for section_key, question in layout.member_questions:
            block = blocks[section_key].get(member_id)
            value = block.get(question["key"]) if isinstance(block, dict) else None
            values.append(answer_cell(question, value))
        rows.append([
            visit.id,
            visit.household.household_no,
            id_number if unmasked else idnumbers.mask(id_number),
            member.relationship_to_head if member is not None else "",
            *values,
        ])
    return rows
