from datetime import date

from sqlalchemy import select

from fieldapp.checks.models import SuspectedProblem
from fieldapp.extensions import db


def test_run_checks_prints_counts(app, make):
    inside = make.household(make.LAODIAN_VILLAGE)
    outside = make.household(make.SHUIWAN_VILLAGE)
    for household in (inside, outside):
        household.members[0].birth_date = date(1979, 5, 5)
    db.session.flush()

    result = app.test_cli_runner().invoke(args=["run-checks", "--division", make.LAODIAN])

    assert result.exit_code == 0, result.output
    assert "id_birth_date_mismatch" in result.output
    counts = dict(line.split()[:2] for line in result.output.splitlines() if line.startswith("id_"))
    assert counts["id_birth_date_mismatch"] == "1"
    assert counts["id_check_character"] == "0"
    assert "1 opened" in result.output
    household_ids = db.session.scalars(select(SuspectedProblem.household_id)).all()
    assert household_ids == [inside.id]


def test_run_checks_unknown_division(app):
    result = app.test_cli_runner().invoke(args=["run-checks", "--division", "371622999000"])
    assert result.exit_code == 1
    assert "371622999000" in result.output
