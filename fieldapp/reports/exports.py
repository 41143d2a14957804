"""The rows of the exports: the rectification ledger (整改台账) and visits with their answers.

Rows are read in chunks of ``CHUNK_SIZE`` by ascending id, each chunk in its own short
transaction, so a long export neither uses much memory nor keeps the database locked.
ID numbers are masked unless the export was made unmasked by a role in ``UNMASK_ROLES``.
NOTE: chunks are separate transactions, so rows changed while an export runs may show either
their old or their new values.
"""

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, join, select
from sqlalchemy.orm import aliased

from fieldapp import idnumbers
from fieldapp.auth.models import User
from fieldapp.extensions import db
from fieldapp.register.models import Household, Member
from fieldapp.reports.sheets import DATE, DATETIME, NUMBER, TEXT, Column
from fieldapp.review.labels import outcome_label, source_label, status_label
from fieldapp.review.models import OPEN_STATUSES, Finding
from fieldapp.review.queries import overdue_clause
from fieldapp.sampling.models import SampledHousehold, SamplingRound
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


def head_id_number(household_id_column):
    """Return a scalar subquery for the ID number of a household's head, or of its first member."""
    return (
        select(Member.id_number)
        .where(Member.household_id == household_id_column)
        .order_by(case((Member.relationship_to_head == "户主", 0), else_=1), Member.position, Member.id)
        .limit(1)
        .scalar_subquery()
    )


def shown_id(id_number: str | None, unmasked: bool) -> str:
    if not id_number:
        return ""
    return id_number if unmasked else idnumbers.mask(id_number)


def chunks(stmt, id_column, *, chunk_size: int = CHUNK_SIZE) -> Iterator[list]:
    """Yield the rows of ``stmt`` (whose first column is ``id_column``) by ascending id, a chunk at a time.

    Rows are plain tuples, not ORM objects, so the session does not grow with the export. The
    caller ends the transaction between chunks (a progress commit does), so no lock is held for
    the whole export.
    """
    last_id = 0
    while True:
        rows = db.session.execute(stmt.where(id_column > last_id).order_by(id_column).limit(chunk_size)).all()
        if not rows:
            return
        last_id = rows[-1][0]
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


def _household_in_scope(household_id_column, user, filters: Filters):
    """Return an EXISTS that keeps rows whose household is in scope (and in the township filtered on).

    An EXISTS rather than a join lets the database walk the rows by id for each chunk.
    """
    conditions = [Household.id == household_id_column]
    if filters.township:
        conditions.append(Household.township_code == filters.township)
    # Households is never correlated, so the outer query may join it for its columns too.
    in_scope = scoped_select(Household, user, Household.id).where(*conditions)
    return in_scope.correlate_except(Household).exists()


def ledger_statement(user, filters: Filters, today: date):
    stmt = select(Finding).where(_household_in_scope(Finding.household_id, user, filters))
    if filters.status == OVERDUE:
        stmt = stmt.where(overdue_clause(today))
    elif filters.status:
        stmt = stmt.where(Finding.status == filters.status)
    if filters.source:
        stmt = stmt.where(Finding.source == filters.source)
    if filters.round_id is not None:
        in_round = select(SampledHousehold.id).where(SampledHousehold.sampling_round_id == filters.round_id)
        stmt = stmt.where(Finding.sampled_household_id.in_(in_round))
    return stmt


def count(stmt) -> int:
    return db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()


class Labels:
    """Translated labels, each translated once per export rather than once per cell."""

    def __init__(self):
        self.status = functools.cache(status_label)
        self.source = functools.cache(source_label)
        self.outcome = functools.cache(outcome_label)
        self.flag = functools.cache(flag_label)
        self.yes = _("Yes")
        self.found_on_site = _("Found on site")


def ledger_rows(user, filters: Filters, *, unmasked: bool, today: date) -> Iterator[list[list[Any]]]:
    """Yield chunks of ledger rows, each a list of cell values in ``LEDGER_COLUMNS`` order."""
    rechecker = aliased(User)
    outcome_join = and_(VerificationOutcome.visit_id == Finding.visit_id,
                        VerificationOutcome.suspected_problem_id == Finding.suspected_problem_id)
    source = (
        join(Finding, Household, Household.id == Finding.household_id)
        .outerjoin(rechecker, rechecker.id == Finding.rechecked_by_id)
        .outerjoin(VerificationOutcome, outcome_join)
    )
    stmt = select(
        Finding.id, Finding.source, Household.county, Household.township, Household.village,
        Household.household_no, head_id_number(Finding.household_id).label("head_id"), Finding.category,
        Finding.description, VerificationOutcome.outcome, VerificationOutcome.note.label("outcome_note"),
        Finding.measures, Finding.responsible_unit, Finding.responsible_person, Finding.deadline,
        Finding.status, Finding.corrected_at, Finding.evidence_count,
        rechecker.display_name.label("rechecked_by"), Finding.rechecked_at, Finding.created_at,
    ).select_from(source).where(ledger_statement(user, filters, today).whereclause)
    labels = Labels()
    for rows in chunks(stmt, Finding.id):
        yield [_ledger_row(row, unmasked, today, labels) for row in rows]


def _ledger_row(row, unmasked: bool, today: date, labels: Labels) -> list:
    if row.outcome is not None:
        verdict = labels.outcome(row.outcome) + (f": {row.outcome_note}" if row.outcome_note else "")
    elif row.source == "on_site":
        verdict = labels.found_on_site
    else:
        verdict = ""
    overdue = row.status in OPEN_STATUSES and row.deadline is not None and row.deadline < today
    return [
        row.id,
        labels.source(row.source),
        row.county,
        row.township,
        row.village,
        row.household_no,
        shown_id(row.head_id, unmasked),
        row.category,
        row.description,
        verdict,
        row.measures,
        row.responsible_unit,
        row.responsible_person,
        row.deadline,
        labels.status(row.status),
        labels.yes if overdue else "",
        row.corrected_at,
        row.evidence_count,
        row.rechecked_by or "",
        row.rechecked_at,
        row.created_at,
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

    NOTE: visits filled with another version of the questionnaire are matched by question key,
    so a question that only an older version asked is not exported.
    """

    household_questions: list[dict]
    # (section key, question) of every question asked per member, in questionnaire order.
    member_questions: list[tuple[str, dict]]
    # Formatted answers by (question key, value), so each choice is translated once per export.
    formatted: dict = field(default_factory=dict)

    def cell(self, question: dict, value):
        """Return ``answer_cell(question, value)``, remembered for plain values."""
        if not isinstance(value, str | int | float | bool):
            return answer_cell(question, value)
        key = (question["key"], type(value), value)
        if key not in self.formatted:
            self.formatted[key] = answer_cell(question, value)
        return self.formatted[key]

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
    stmt = select(Visit).where(_household_in_scope(Visit.household_id, user, filters))
    if filters.round_id is not None:
        in_round = select(SampledHousehold.id).where(SampledHousehold.sampling_round_id == filters.round_id)
        stmt = stmt.where(Visit.sampled_household_id.in_(in_round))
    return stmt


def visit_rows(user, filters: Filters, layout: VisitLayout, *,
               unmasked: bool) -> Iterator[tuple[list[list], list[list]]]:
    """Yield chunks of (visit rows, member rows) in the layout's column order."""
    inspector = aliased(User)
    source = (
        join(Visit, Household, Household.id == Visit.household_id)
        .outerjoin(inspector, inspector.id == Visit.inspector_id)
        .outerjoin(SampledHousehold, SampledHousehold.id == Visit.sampled_household_id)
        .outerjoin(SamplingRound, SamplingRound.id == SampledHousehold.sampling_round_id)
    )
    photos = select(func.count(Photo.id)).where(Photo.visit_id == Visit.id).scalar_subquery()
    stmt = select(
        Visit.id, Household.county, Household.township, Household.village, Household.household_no,
        head_id_number(Visit.household_id).label("head_id"), inspector.display_name.label("inspector"),
        SamplingRound.name.label("round_name"), Visit.submitted_at, Visit.received_at, Visit.latitude,
        Visit.longitude, Visit.accuracy_m, Visit.distance_m, Visit.location_flags, photos.label("photos"),
        Visit.answers, Visit.household_id,
    ).select_from(source).where(visit_statement(user, filters).whereclause)
    labels = Labels()
    for rows in chunks(stmt, Visit.id):
        members = _members_of({row.household_id for row in rows})
        visit_part, member_part = [], []
        for row in rows:
            visit_part.append(_visit_row(row, layout, unmasked, labels))
            member_part += _member_rows(row, members.get(row.household_id, []), layout, unmasked)
        yield visit_part, member_part


def _members_of(household_ids: set[int]) -> dict[int, list]:
    """Return each household's members as (id, ID number, relationship) rows, in register order."""
    rows = db.session.execute(
        select(Member.household_id, Member.id, Member.id_number, Member.relationship_to_head)
        .where(Member.household_id.in_(household_ids))
        .order_by(Member.household_id, Member.position, Member.id)
    ).all()
    members: dict[int, list] = {}
    for row in rows:
        members.setdefault(row.household_id, []).append(row)
    return members


def _visit_row(row, layout: VisitLayout, unmasked: bool, labels: Labels) -> list:
    answers = row.answers or {}
    fixed = [
        row.id,
        row.county,
        row.township,
        row.village,
        row.household_no,
        shown_id(row.head_id, unmasked),
        row.inspector or "",
        row.round_name or "",
        row.submitted_at,
        row.received_at,
        row.latitude,
        row.longitude,
        round(row.accuracy_m, 1) if row.accuracy_m is not None else None,
        round(row.distance_m) if row.distance_m is not None else None,
        "、".join(labels.flag(flag) for flag in row.location_flags or []),
        row.photos,
    ]
    return fixed + [layout.cell(q, answers.get(q["key"])) for q in layout.household_questions]


def _member_rows(row, members: list, layout: VisitLayout, unmasked: bool) -> list[list]:
    """Return one row per member with answers in any repeat section, in register order."""
    answers = row.answers or {}
    sections = {key for key, _question in layout.member_questions}
    blocks = {key: answers.get(key) if isinstance(answers.get(key), dict) else {} for key in sections}
    answered = {member_id for block in blocks.values() for member_id in block}
    known = {str(member.id): member for member in members}
    ordered = [key for key in known if key in answered]
    ordered += sorted(key for key in answered if key not in known)
    result = []
    for member_id in ordered:
        member = known.get(member_id)
        values = []
        for section_key, question in layout.member_questions:
            block = blocks[section_key].get(member_id)
            value = block.get(question["key"]) if isinstance(block, dict) else None
            values.append(layout.cell(question, value))
        result.append([
            row.id,
            row.household_no,
            shown_id(member.id_number if member is not None else "", unmasked),
            member.relationship_to_head if member is not None else "",
            *values,
        ])
    return result
