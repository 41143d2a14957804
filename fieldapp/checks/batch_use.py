"""Registry batches in use by the cross-checks, and the administrators who may see or change a batch.

A batch covers the divisions of the administrator who uploaded it, or every division
when it was imported from the command line. For each household the cross-checks read
the newest batch of each kind that covers it, so a county's own 车辆 file replaces the
city's in that county only.
"""


from flask_babel import gettext as _
from sqlalchemy import select

from fieldapp import scope
from fieldapp.checks.models import RegistryBatch
from fieldapp.checks.rules.base import BatchInUse
from fieldapp.divisions.models import Division
from fieldapp.extensions import db


def batches_in_use(is_demo: bool) -> dict[str, list[BatchInUse]]:
    """Return, by kind, the finished batches that are the newest for at least one division."""
    rows = db.session.execute(
        select(RegistryBatch.id, RegistryBatch.kind, RegistryBatch.data_date, RegistryBatch.division_prefixes)
        .where(RegistryBatch.is_demo == is_demo, RegistryBatch.status == "done")
        .order_by(RegistryBatch.kind, RegistryBatch.data_date.desc(), RegistryBatch.id.desc())
    ).all()
    in_use: dict[str, list[BatchInUse]] = {}
    newer: dict[str, list[str] | None] = {}  # by kind: the prefixes newer batches cover; None: all
    for batch_id, kind, data_date, prefixes in rows:
        covered = newer.setdefault(kind, [])
        if covered is None:
            continue
        if prefixes is None:
            in_use.setdefault(kind, []).append(BatchInUse(batch_id, kind, data_date, None, tuple(covered)))
            newer[kind] = None
            continue
        remaining = [prefix for prefix in prefixes if not scope.lies_within(prefix, covered)]
        if not remaining:
            continue
        replaced = tuple(prefix for prefix in covered if scope.lies_within(prefix, remaining))
        in_use.setdefault(kind, []).append(BatchInUse(batch_id, kind, data_date, tuple(remaining), replaced))
        covered.extend(remaining)
    return in_use


def ids_in_use(is_demo: bool) -> set[int]:
    return {batch.id for batches in batches_in_use(is_demo).values() for batch in batches}


def can_see(batch: RegistryBatch, user) -> bool:
    """Test whether the batch covers any of the user's divisions, in the user's world."""
    if batch.is_demo != user.is_demo:
        return False
    if batch.division_prefixes is None:
        return True
    return scope.overlaps(scope.division_prefixes(user), batch.division_prefixes)


def can_change(batch: RegistryBatch, user) -> bool:
    """Test whether every division the batch covers is one of the user's, so the user may delete it."""
    return batch.is_demo == user.is_demo and scope.covers_divisions(user, batch.division_prefixes)


def visible(batches: list[RegistryBatch], user) -> list[RegistryBatch]:
    return [batch for batch in batches if can_see(batch, user)]


def area_names(prefixes: list[str] | None) -> str:
    """Return the names of the divisions a batch covers, joined for display."""
    if prefixes is None:
        return _("Every division")
    # A division's code is its prefix followed by zeros: 371621 is the county 371621000000.
    codes = [prefix.ljust(12, "0") for prefix in prefixes]
    rows = db.session.execute(select(Division.code, Division.name).where(Division.code.in_(codes)))
    names = dict(rows.all())
    return "、".join(names.get(code, code) for code in codes)
