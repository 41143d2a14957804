"""Importing a register file: read, check, then insert or update households and members.

Households are matched by 户编号 within the demo or real world, members by
ID number within their household. Importing the same file twice changes
nothing. A household in the file loses the members the file no longer lists.
Households absent from the file are kept, because an export often covers only
some counties.
"""

import hashlib
import itertools
import logging
import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from fieldapp.audit import services as audit
from fieldapp.checks.models import SuspectedProblem
from fieldapp.db_types import utcnow
from fieldapp.divisions.models import Division
from fieldapp.errors import ImportRejected, RowsRejected, shown_value
from fieldapp.extensions import db
from fieldapp.gc_pause import paused_collector
from fieldapp.register import bulk_insert, columns, parsing, reader, report, sheet_size
from fieldapp.register.models import Household, Member, RegisterImport
from fieldapp.register.parsing import ParsedRegister, ParsedRow, Rejection

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]

# Rejections listed in a message and kept on the import record; the workbook has them all.
MESSAGE_REJECTIONS = 50
STORED_REJECTIONS = 1000
# Household numbers per IN (...) list when loading existing households.
LOAD_CHUNK = 500
# Households between two "writing" progress calls.
WRITE_PROGRESS_HOUSEHOLDS = 1000


@dataclass
class ImportCounts:
    households_added: int = 0
    households_updated: int = 0
    households_unchanged: int = 0
    members_added: int = 0
    members_updated: int = 0
    members_unchanged: int = 0
    members_removed: int = 0


@paused_collector()
def import_register(
    path: str,
    *,
    filename: str | None = None,
    is_demo: bool = False,
    skip_rejected: bool = False,
    user=None,
    allowed_prefixes: list[str] | None = None,
    report_path: str | None = None,
    progress: Progress | None = None,
    register_import: RegisterImport | None = None,
) -> RegisterImport:
    """Import the register file at ``path``; flushes, does not commit.

    Any rejected row raises ``ImportRejected`` listing every rejection, and nothing is written,
    unless ``skip_rejected`` is set: then the other households are imported and the rejected rows
    are written to ``report_path`` (default ``<input>.rejected.xlsx``). ``allowed_prefixes``
    limits the households an uploader may write to their own divisions. ``register_import`` is
    the job record of an upload; without one a new record is added.

    ``progress(stage, done, total)`` is called with stage "reading" every few hundred rows, "read"
    once when every row is checked and nothing is written yet, and "writing" every thousand
    households and after the last.
    """
    max_rows = current_app.config["REGISTER_MAX_ROWS"]
    table = reader.open_table(path, header_aliases(), cell_limit=sheet_size.max_cells(max_rows))
    parsed = parsing.parse_table(
        table,
        max_rows=max_rows,
        allowed_prefixes=allowed_prefixes,
        progress=progress,
    )
    if parsed.rows_read == 0:
        raise ImportRejected(
            _("The file has a header row but no member rows below it; check that this is the right file.")
        )
    if progress is not None:
        progress("read", parsed.rows_read, parsed.rows_read)
    _reject_unknown_divisions(parsed)
    existing = _load_households(list(parsed.households), is_demo)
    if allowed_prefixes is not None:
        _reject_households_outside(parsed, existing, allowed_prefixes)

    report_name = None
    if parsed.rejections:
        if not skip_rejected:
            raise RowsRejected(rejection_message(parsed.rejections), parsed.rejections)
        report_path = report_path or default_report_path(path)
        report.write_rejections(report_path, parsed.header.headers, parsed.rejections, parsed.rejected_cells)
        report_name = os.path.basename(report_path)

    record = register_import or RegisterImport(status="writing")
    record.filename = filename or record.filename or os.path.basename(path)
    record.sha256 = record.sha256 or file_sha256(path)
    record.export_date = parsed.export_date
    record.is_demo = is_demo
    record.is_skip_rejected = skip_rejected
    record.imported_by_id = getattr(user, "id", None) or record.imported_by_id
    record.report_name = report_name
    db.session.add(record)
    db.session.flush()

    counts = _write(parsed, existing, is_demo=is_demo, register_import=record, progress=progress)
    _record_result(record, parsed, counts)
    db.session.flush()
    audit.record(
        "register.import", record, user=user,
        households_added=counts.households_added, households_updated=counts.households_updated,
        members_added=counts.members_added, members_updated=counts.members_updated,
        members_removed=counts.members_removed, rows_rejected=record.rows_rejected, is_demo=is_demo,
    )
    return record


def header_aliases() -> dict[str, columns.Column]:
    """Return the header lookup with the names configured in ``REGISTER_HEADER_ALIASES`` added."""
    return columns.alias_table(current_app.config.get("REGISTER_HEADER_ALIASES"))


def recent_imports(user, limit: int) -> list[RegisterImport]:
    """Return the user's latest imports, newest first."""
    stmt = (
        select(RegisterImport)
        .where(RegisterImport.imported_by_id == user.id, RegisterImport.is_demo == user.is_demo)
        .order_by(RegisterImport.id.desc())
        .limit(limit)
    )
    return list(db.session.execute(stmt).scalars())


def run_checks_after_import(record: RegisterImport, division_prefixes: list[str] | None = None):
    """Re-run the data checks so that suspected problems match the imported data; flushes.

    ``division_prefixes`` limits the run to the divisions the import could change (an
    uploader's); None runs it over every division. The import record is linked to the check
    run, which its page shows.
    """
    from fieldapp.checks.services import run_checks

    summary = run_checks(is_demo=record.is_demo, division_prefixes=division_prefixes, source="import")
    record.check_run_id = summary.check_run_id
    db.session.flush()
    return summary


def default_report_path(path: str) -> str:
    return os.path.splitext(path)[0] + ".rejected.xlsx"


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_households(numbers: list[str], is_demo: bool) -> dict[str, Household]:
    """Load the households with these numbers and their members, in a few IN queries."""
    found: dict[str, Household] = {}
    for start in range(0, len(numbers), LOAD_CHUNK):
        chunk = numbers[start:start + LOAD_CHUNK]
        stmt = (
            select(Household)
            .where(Household.is_demo == is_demo, Household.household_no.in_(chunk))
            .options(selectinload(Household.members))
        )
        for household in db.session.execute(stmt).scalars():
            found[household.household_no] = household
    return found


def _reject_unknown_divisions(parsed: ParsedRegister) -> None:
    """Reject every row of a household whose division code is not in the division list.

    Pages and scopes find households by their division, so such a household would be stored
    but seen by no one.
    """
    codes = sorted({rows[0].household["division_code"] for rows in parsed.households.values()})
    known = set()
    for start in range(0, len(codes), LOAD_CHUNK):
        chunk = codes[start:start + LOAD_CHUNK]
        known.update(db.session.scalars(select(Division.code).where(Division.code.in_(chunk))))
    reasons = {}
    for household_no, rows in parsed.households.items():
        code = rows[0].household["division_code"]
        if code not in known:
            reasons[household_no] = _("Division code %(code)s is not in the division list. Check the code; "
                                      "if it is right, import a division list that contains it first (flask "
                                      "import-divisions).", code=code)
    parsing.reject_households(parsed, reasons, "division_code")


def _reject_households_outside(
    parsed: ParsedRegister, existing: dict[str, Household], prefixes: list[str]
) -> None:
    """Reject a household already registered outside the uploader's divisions."""
    reasons = {}
    for number, household in existing.items():
        if number in parsed.households and not any(household.division_code.startswith(p) for p in prefixes):
            reasons[number] = _(
                "Household %(household_no)s is already registered in division %(code)s, outside your "
                "divisions; ask an administrator of that division to import it.",
                household_no=number, code=household.division_code,
            )
    parsing.reject_households(parsed, reasons)


def _write(
    parsed: ParsedRegister,
    existing: dict[str, Household],
    *,
    is_demo: bool,
    register_import: RegisterImport,
    progress: Progress | None,
) -> ImportCounts:
    counts = ImportCounts()
    now = utcnow()
    total = len(parsed.households)
    new_households: list[tuple[dict, list[ParsedRow]]] = []
    for done, (number, rows) in enumerate(parsed.households.items(), start=1):
        values, differing = parsing.household_values(rows, parsed.header)
        if differing:
            parsed.warnings.append(
                _("Household %(household_no)s: rows %(rows)s disagree on %(columns)s; the first row's values "
                  "were kept.", household_no=number, rows=", ".join(str(row.row) for row in rows),
                  columns=", ".join(differing))
            )
        household = existing.get(number)
        if household is None:
            new_households.append((values, rows))
            counts.households_added += 1
            counts.members_added += len(rows)
        else:
            changed = _assign(household, _with_derived_codes(values))
            changed = _sync_members(household, rows, parsed, counts) or changed
            if changed:
                household.updated_at = now
                household.register_import_id = register_import.id
                counts.households_updated += 1
            else:
                counts.households_unchanged += 1
        if progress is not None and (done % WRITE_PROGRESS_HOUSEHOLDS == 0 or done == total):
            progress("writing", done, total)
    db.session.flush()
    _insert_households(new_households, is_demo=is_demo, register_import_id=register_import.id)
    return counts


def _with_derived_codes(values: dict) -> dict:
    values = dict(values)
    code = values["division_code"]
    values["county_code"] = code[:6] + "000000"
    values["township_code"] = code[:9] + "000"
    return values


def _insert_households(new_households: list[tuple[dict, list[ParsedRow]]], *, is_demo: bool,
                       register_import_id: int) -> None:
    """Insert new households and their members, column by column with ``bulk_insert``.

    The unit of work would insert them one object at a time, and a Core ``insert()`` executemany
    builds and processes a parameter dict per row. Every household dict has the same keys, and so
    has every member dict, because they come from the same header.
    """
    if not new_households:
        return
    households, members = Household.__table__, Member.__table__
    ids = bulk_insert.reserve_ids(households, len(new_households))
    columns = {name: [values[name] for values, _rows in new_households] for name in new_households[0][0]}
    codes = columns["division_code"]
    columns["county_code"] = [code[:6] + "000000" for code in codes]
    columns["township_code"] = [code[:9] + "000" for code in codes]
    columns["id"] = ids
    bulk_insert.insert_columns(households, columns,
                               {"is_demo": is_demo, "register_import_id": register_import_id})

    member_rows: list[ParsedRow] = []
    positions: list[int] = []
    household_ids: list[int] = []
    for household_id, (_values, rows) in zip(ids, new_households, strict=True):
        member_rows.extend(rows)
        positions.extend(range(len(rows)))
        household_ids.extend(itertools.repeat(household_id, len(rows)))
    columns = {name: [row.member[name] for row in member_rows] for name in member_rows[0].member}
    columns["extra"] = [row.extra for row in member_rows]
    columns["position"] = positions
    columns["source_row"] = [row.row for row in member_rows]
    columns["household_id"] = household_ids
    bulk_insert.insert_columns(members, columns)


def _assign(record, values: dict) -> bool:
    """Set the attributes that differ; return whether any did."""
    changed = False
    for key, value in values.items():
        if getattr(record, key) != value:
            setattr(record, key, value)
            changed = True
    return changed


def _sync_members(
    household: Household, rows: list[ParsedRow], parsed: ParsedRegister, counts: ImportCounts
) -> bool:
    """Match the file's rows to stored members by ID number; return whether any member changed.

    The n-th row with an ID number matches the n-th stored member with it, so an ID listed twice
    in one household (a data problem the checks report) stays two members.
    """
    stored = defaultdict(list)
    for member in household.members:
        stored[member.id_number].append(member)
    unknown_labels = set(parsed.header.unknown.values())
    changed = False
    for position, row in enumerate(rows):
        candidates = stored.get(row.member["id_number"])
        if not candidates:
            household.members.append(
                Member(**row.member, extra=dict(row.extra), position=position, source_row=row.row)
            )
            counts.members_added += 1
            changed = True
            continue
        member = candidates.pop(0)
        extra = {key: value for key, value in (member.extra or {}).items() if key not in unknown_labels}
        extra.update(row.extra)
        if _assign(member, {**row.member, "extra": extra}):
            counts.members_updated += 1
            changed = True
        else:
            counts.members_unchanged += 1
        # Order and source row follow the latest file but are not counted as changes.
        member.position = position
        member.source_row = row.row
    for leftovers in stored.values():
        for member in leftovers:
            _keep_name_on_problems(member)
            household.members.remove(member)
            counts.members_removed += 1
            changed = True
    return changed


def _keep_name_on_problems(member: Member) -> None:
    """Copy a member's name onto their suspected problems before the member row is deleted.

    Deleting the member empties the problems' ``member_id``, and their verdicts and findings
    would no longer name the person they concern. The update runs without flushing, so the deletion,
    which the next flush writes, comes after it.
    """
    with db.session.no_autoflush:
        db.session.execute(
            update(SuspectedProblem).where(SuspectedProblem.member_id == member.id)
            .values(former_member_name=member.name)
        )


def _record_result(record: RegisterImport, parsed: ParsedRegister, counts: ImportCounts) -> None:
    for key, value in vars(counts).items():
        setattr(record, key, value)
    record.status = "done"
    record.finished_at = utcnow()
    record.rows_total = parsed.rows_read
    record.rows_read = parsed.rows_read
    record.rows_written = sum(len(rows) for rows in parsed.households.values())
    record.rows_rejected = len({rejection.row for rejection in parsed.rejections})
    record.rejections = [rejection._asdict() for rejection in parsed.rejections[:STORED_REJECTIONS]]
    record.message = "\n".join(parsed.warnings[:MESSAGE_REJECTIONS])


def summary_lines(record: RegisterImport) -> list[str]:
    """Describe what an import changed, in the current locale."""
    lines = [
        _("Households: %(added)d added, %(updated)d updated, %(unchanged)d unchanged.",
          added=record.households_added, updated=record.households_updated,
          unchanged=record.households_unchanged),
        _("Members: %(added)d added, %(updated)d updated, %(unchanged)d unchanged, %(removed)d removed "
          "(no longer listed in their household).",
          added=record.members_added, updated=record.members_updated,
          unchanged=record.members_unchanged, removed=record.members_removed),
    ]
    if record.export_date:
        lines.append(_("Data as of %(date)s.", date=record.export_date.isoformat()))
    if record.rows_rejected:
        lines.append(ngettext("%(num)d row was rejected and not imported.",
                              "%(num)d rows were rejected and not imported.", record.rows_rejected))
    return lines


def rejection_line(rejection: Rejection) -> str:
    return _("Row %(row)d, column %(column)s, value \"%(value)s\": %(reason)s",
             row=rejection.row, column=rejection.column, value=shown_value(rejection.value),
             reason=rejection.reason)


def rejection_message(rejections: list[Rejection], limit: int = MESSAGE_REJECTIONS) -> str:
    """Return the message of a rejected import; its first line is worded for the upload page."""
    rows = len({rejection.row for rejection in rejections})
    first = ngettext("%(num)d row of the register file cannot be imported; nothing was imported. Fix the "
                     "rows below and import again, or import with the rejected rows skipped.",
                     "%(num)d rows of the register file cannot be imported; nothing was imported. Fix the "
                     "rows below and import again, or import with the rejected rows skipped.", rows)
    return "\n".join([first, *rejection_lines(rejections, limit)])


def rejection_lines(rejections: list[Rejection], limit: int = MESSAGE_REJECTIONS) -> list[str]:
    """Return one line per rejection, for the first ``limit``, then how many more there are."""
    lines = [rejection_line(rejection) for rejection in rejections[:limit]]
    if len(rejections) > limit:
        lines.append(_("… and %(count)d more.", count=len(rejections) - limit))
    return lines
