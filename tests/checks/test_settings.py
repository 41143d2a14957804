"""Thresholds and rule switches: stored per world, checked before saving, read by the run."""

from datetime import date
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from fieldapp.audit.models import AuditRecord
from fieldapp.checks import settings
from fieldapp.checks.models import CheckThreshold
from fieldapp.checks.rules import RULES
from fieldapp.checks.services import run_checks
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.register.models import RegisterImport
from tests.checks.support import problems


def save(values, enabled=None, is_demo=False):
    return settings.save(values, set(RULES) if enabled is None else enabled, list(RULES), is_demo=is_demo,
                         user=None)


def test_defaults(ctx):
    loaded = settings.load(False)
    assert loaded["income_line"] == Decimal("7000")
    assert loaded["school_age_min"] == 6
    assert loaded.reference_source == "today"
    assert all(loaded.is_enabled(rule_id) for rule_id in RULES)


def test_save_and_load(ctx):
    changed = save({"income_line": "7600.5", "student_max_age": "35", "reference_date": "2026-06-30"})
    loaded = settings.load(False)
    assert sorted(changed) == ["income_line", "reference_date", "student_max_age"]
    assert loaded["income_line"] == Decimal("7600.5")
    assert loaded["student_max_age"] == 35
    assert (loaded.reference_date, loaded.reference_source) == (date(2026, 6, 30), "setting")
    entry = db.session.scalars(
        select(AuditRecord).where(AuditRecord.action == "checks.settings_update")
    ).one()
    assert sorted(entry.detail["changed"]) == sorted(changed)


def test_unchanged_value_not_saved(ctx):
    assert save({"income_line": "7000"}) == []
    assert db.session.scalars(select(CheckThreshold)).all() == []


def test_worlds_apart(ctx):
    save({"income_line": "9000"}, is_demo=True)
    assert settings.load(True)["income_line"] == Decimal("9000")
    assert settings.load(False)["income_line"] == Decimal("7000")


@pytest.mark.parametrize(("name", "value", "words"), [
    ("income_line", "abc", "not valid"),
    ("income_line", "-1", "between"),
    ("school_age_min", "6.5", "not valid"),
    ("reference_date", "2026/13/01", "not valid"),
    ("reference_date", "0001-01-01", "between 2000-01-01 and"),
    ("reference_date", "1999-12-31", "between"),
    ("reference_date", "9999-12-31", "between"),
    ("income_line", "7_000", "not valid"),
    ("income_line", "7e3", "not valid"),
    ("school_age_min", "\u0666", "not valid"),
    ("income_line", "0.000000001", "not valid"),
    ("reference_date", "20261130", "not valid"),
    ("reference_date", "2026-W48-1", "not valid"),
    ("student_max_age", "", "Enter a value"),
])
def test_invalid_value(ctx, name, value, words):
    with force_locale("en"), pytest.raises(FieldError) as raised:
        save({"income_line": "8000", name: value})
    assert raised.value.field == name
    assert words in raised.value.message
    assert db.session.scalars(select(CheckThreshold)).all() == []


def test_bounds_in_order(ctx):
    with pytest.raises(FieldError) as raised:
        save({"income_min": "5000", "income_max": "1000"})
    assert raised.value.field == "income_max"


def test_reference_date_from_export(ctx):
    db.session.add(RegisterImport(filename="a.xlsx", sha256="0" * 64, export_date=date(2026, 11, 30),
                                  status="done"))
    db.session.add(RegisterImport(filename="b.xlsx", sha256="1" * 64, export_date=date(2026, 12, 31),
                                  status="rejected"))
    db.session.flush()
    loaded = settings.load(False)
    assert (loaded.reference_date, loaded.reference_source) == (date(2026, 11, 30), "export_date")
    assert settings.load(True).reference_source == "today"


def test_reference_date_of_import_being_checked(ctx):
    db.session.add(RegisterImport(filename="a.xlsx", sha256="0" * 64, export_date=date(2026, 11, 30),
                                  status="done"))
    db.session.add(RegisterImport(filename="b.xlsx", sha256="1" * 64, export_date=date(2026, 12, 31),
                                  status="checking"))
    db.session.flush()
    assert settings.load(False).reference_date == date(2026, 12, 31)


def test_older_export_keeps_reference_date(ctx):
    for name, export_date in (("a.xlsx", date(2026, 11, 30)), ("b.xlsx", date(2024, 1, 1))):
        db.session.add(RegisterImport(filename=name, sha256="0" * 64, export_date=export_date, status="done"))
    db.session.flush()
    assert settings.load(False).reference_date == date(2026, 11, 30)


def test_switched_off_rule_not_run(ctx, make):
    household = make.household()
    household.members[0].birth_date = date(1979, 5, 5)
    db.session.flush()
    run_checks()
    [problem] = problems("id_birth_date_mismatch")

    save({}, enabled=set(RULES) - {"id_birth_date_mismatch"})
    summary = run_checks()

    assert "id_birth_date_mismatch" not in summary.by_rule
    assert summary.disabled == 1
    db.session.refresh(problem)
    assert problem.status == "rule_disabled"
    assert problem.resolved_at is not None

    save({}, enabled=set(RULES))
    summary = run_checks()
    db.session.refresh(problem)
    assert problem.status == "open"
    assert summary.reopened == 1


def test_switched_off_rule_fixed_meanwhile(ctx, make):
    household = make.household()
    household.members[0].birth_date = date(1979, 5, 5)
    db.session.flush()
    run_checks()
    save({}, enabled=set(RULES) - {"id_birth_date_mismatch"})
    run_checks()
    household.members[0].birth_date = date(1980, 1, 1)
    db.session.flush()
    save({}, enabled=set(RULES))
    summary = run_checks()
    [problem] = problems("id_birth_date_mismatch")
    assert problem.status == "resolved_by_data"
    assert (summary.opened, summary.resolved) == (0, 0)
