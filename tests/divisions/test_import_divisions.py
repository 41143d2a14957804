"""``flask import-divisions``: bad rows named by row and column, and importing twice changes nothing."""

import re

from sqlalchemy import func, select

from fieldapp.divisions.models import Division
from fieldapp.extensions import db

HEADER = "code,name,level,parent_code\n"


def division_count() -> int:
    return db.session.execute(select(func.count()).select_from(Division)).scalar_one()


def test_bad_row_named(app, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER
                    + "371622107901,新村,village,371622107000\n"
                    + "3716221079,短码村,village,371622107000\n"
                    + "371622107902,某村,hamlet,371622107000\n", encoding="utf-8")
    before = division_count()

    result = app.test_cli_runner().invoke(args=["import-divisions", str(path)])

    assert result.exit_code == 1
    assert "3716221079" in result.output
    assert "hamlet" in result.output
    lines = [line for line in result.output.splitlines() if "3716221079" in line or "hamlet" in line]
    assert len(lines) == 2
    # Row numbers count the header as row 1; a lone number, not a digit of the code.
    assert re.search(r"(?<!\d)3(?!\d)", lines[0])
    assert "code" in lines[0]
    assert re.search(r"(?<!\d)4(?!\d)", lines[1])
    assert "level" in lines[1]
    assert division_count() == before
    assert db.session.get(Division, "371622107901") is None


def test_missing_column_named(app, tmp_path):
    path = tmp_path / "columns.csv"
    path.write_text("code,name\n371622107901,新村\n", encoding="utf-8")

    result = app.test_cli_runner().invoke(args=["import-divisions", str(path)])

    assert result.exit_code == 1
    assert "level" in result.output
    assert "parent_code" in result.output


def test_bundled_import_idempotent(app):
    before = division_count()

    result = app.test_cli_runner().invoke(args=["import-divisions"])

    assert result.exit_code == 0, result.output
    assert "0 added, 0 updated" in result.output
    assert division_count() == before


def test_file_import_idempotent(app, tmp_path):
    path = tmp_path / "new.csv"
    path.write_bytes((HEADER + "371622107901,新村村民委员会,village,371622107000\n").encode("gb18030"))
    runner = app.test_cli_runner()

    first = runner.invoke(args=["import-divisions", str(path)])
    second = runner.invoke(args=["import-divisions", str(path)])

    assert first.exit_code == 0, first.output
    assert "1 added, 0 updated" in first.output
    assert "0 added, 0 updated, 1 unchanged" in second.output
    division = db.session.get(Division, "371622107901")
    assert division.name == "新村村民委员会"
    assert (division.level, division.parent_code) == ("village", "371622107000")


def test_changed_name_updated(app, tmp_path):
    path = tmp_path / "renamed.csv"
    path.write_text(HEADER + "371622107215,崔寨村,village,371622107000\n", encoding="utf-8")

    result = app.test_cli_runner().invoke(args=["import-divisions", str(path)])

    assert result.exit_code == 0, result.output
    assert "0 added, 1 updated, 0 unchanged" in result.output
    assert db.session.get(Division, "371622107215").name == "崔寨村"
