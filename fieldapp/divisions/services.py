"""Loading division lists (``code,name,level,parent_code`` CSV files)."""

import csv
import io
import logging
from dataclasses import dataclass
from importlib import resources

from flask_babel import gettext as _
from sqlalchemy import select

from fieldapp.divisions.models import LEVELS, Division
from fieldapp.errors import ImportRejected
from fieldapp.extensions import db

logger = logging.getLogger(__name__)

COLUMNS = ("code", "name", "level", "parent_code")


@dataclass
class DivisionImportResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


def read_division_rows(text: str) -> list[dict]:
    """Parse and check a division CSV; raise ``ImportRejected`` naming every bad row."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [column for column in COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        raise ImportRejected(
            _("The division file has no column %(columns)s; the header must be code,name,level,parent_code.",
              columns=", ".join(missing))
        )
    rows, rejections = [], []
    for line_no, row in enumerate(reader, start=2):
        code = (row["code"] or "").strip()
        level = (row["level"] or "").strip()
        name = (row["name"] or "").strip()
        if len(code) != 12 or not code.isdigit():
            rejections.append((line_no, "code", code, _("the code must have 12 digits")))
            continue
        if level not in LEVELS:
            rejections.append((line_no, "level", level, _("the level must be one of %(levels)s",
                                                          levels=", ".join(LEVELS))))
            continue
        if not name:
            rejections.append((line_no, "name", name, _("the name is missing")))
            continue
        parent = (row["parent_code"] or "").strip() or None
        rows.append({"code": code, "name": name, "level": level, "parent_code": parent})
    if rejections:
        lines = [_("Row %(row)d, column %(column)s, value \"%(value)s\": %(reason)s.",
                   row=r, column=c, value=v, reason=why) for r, c, v, why in rejections[:20]]
        raise ImportRejected(
            _("%(count)d rows of the division file are invalid; nothing was imported. "
              "Fix them and import again.", count=len(rejections)) + "\n" + "\n".join(lines),
            rejections,
        )
    return rows


def import_divisions(text: str) -> DivisionImportResult:
    """Insert new divisions and update changed names, levels and parents; flushes, does not commit."""
    rows = read_division_rows(text)
    existing = {d.code: d for d in db.session.execute(select(Division)).scalars()}
    result = DivisionImportResult()
    for row in rows:
        division = existing.get(row["code"])
        if division is None:
            db.session.add(Division(**row))
            result.added += 1
        elif (division.name, division.level, division.parent_code) != (
            row["name"], row["level"], row["parent_code"]
        ):
            division.name, division.level = row["name"], row["level"]
            division.parent_code = row["parent_code"]
            result.updated += 1
        else:
            result.unchanged += 1
    db.session.flush()
    logger.info("divisions imported: %d added, %d updated, %d unchanged",
                result.added, result.updated, result.unchanged)
    return result


def bundled_divisions_text() -> str:
    """Binzhou's city, counties, townships and villages (2022 statistical division codes)."""
    return resources.files("fieldapp.divisions").joinpath("data/divisions_binzhou.csv").read_text("utf-8")


def children(parent_code: str, level: str | None = None) -> list[Division]:
    stmt = select(Division).where(Division.parent_code == parent_code).order_by(Division.code)
    if level:
        stmt = stmt.where(Division.level == level)
    return list(db.session.execute(stmt).scalars())
