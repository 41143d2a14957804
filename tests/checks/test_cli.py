from datetime import date

import pytest
from sqlalchemy import select

from fieldapp.checks import settings as check_settings
from fieldapp.checks.models import RegistryBatch, SuspectedProblem
from fieldapp.checks.rules import RULES
from fieldapp.extensions import db
from tests.checks.builders import vehicle_file, write_xlsx


def test_run_checks_prints_counts(app, make):
    inside = make.household(make.LAODIAN_VILLAGE)
    outside = make.household(make.SHUIWAN_VILLAGE)
    for household in (inside, outside):
        household.members[0].birth_date = date(1979, 5, 5)
    db.session.flush()

    result = app.test_cli_runner().invoke(args=["run-checks", "--division", make.LAODIAN])

    assert result.exit_code == 0, result.output
    assert "id_birth_date_mismatch" in result.output
    # Each table line ends in the count and the rule id; the rule's name before them has spaces.
    counts = {line.split()[-1]: line.split()[-2] for line in result.output.splitlines()
              if line.split() and line.split()[-1].startswith("id_")}
    assert "Birth date differs from ID number" in result.output
    assert counts["id_birth_date_mismatch"] == "1"
    assert counts["id_check_character"] == "0"
    assert "1 opened" in result.output
    household_ids = db.session.scalars(select(SuspectedProblem.household_id)).all()
    assert household_ids == [inside.id]


def test_run_checks_unknown_division(app):
    result = app.test_cli_runner().invoke(args=["run-checks", "--division", "371622999000"])
    assert result.exit_code == 1
    assert "371622999000" in result.output


def test_import_registry_command(app, make, tmp_path):
    member = make.household().members[0]
    path = vehicle_file(tmp_path / "车辆.xlsx", [(member.name, member.id_number)])

    result = app.test_cli_runner().invoke(args=["import-registry", "vehicle", path, "--date", "2026-06-30"])

    assert result.exit_code == 0, result.output
    assert "车辆: 1 record imported from 1 row, data as of 2026-06-30" in result.output
    assert "身份证明号码" in result.output
    batch = db.session.scalars(select(RegistryBatch)).one()
    assert (batch.kind, batch.records_count) == ("车辆", 1)


def test_import_registry_without_id_column(app, tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", [["名称", "号码"], ["张三", "11010519491231002X"]])
    runner = app.test_cli_runner()

    result = runner.invoke(args=["import-registry", "房产", path])

    assert result.exit_code == 1
    assert "名称、号码" in result.output
    assert "--id-column" in result.output
    assert db.session.scalars(select(RegistryBatch)).all() == []

    chosen = runner.invoke(args=["import-registry", "房产", path, "--id-column", "号码",
                                 "--name-column", "名称"])
    assert chosen.exit_code == 0, chosen.output
    assert "1 record imported from 1 row" in chosen.output


def test_import_registry_unknown_kind(app, tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", [["姓名", "证件号码"], ["张三", "11010519491231002X"]])
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import-registry", "车俩", path])
    assert result.exit_code == 1
    assert "Unknown registry kind 车俩" in result.output
    assert "or add --custom to import it as a kind of its own." in result.output
    assert runner.invoke(args=["import-registry", "车俩", path, "--custom"]).exit_code == 0


def test_import_registry_rejected_rows(app, tmp_path):
    rows = [["姓名", "证件号码"], ["张三", "11010519491231002X"], ["李四", "123"]]
    path = write_xlsx(tmp_path / "r.xlsx", rows)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import-registry", "房产", path])
    assert result.exit_code == 1
    assert "Row 3, column 证件号码" in result.output
    assert "or add --skip-rejected to import the other rows." in result.output
    assert "rejected rows skipped" not in result.output
    skipped = runner.invoke(args=["import-registry", "房产", path, "--skip-rejected"])
    assert skipped.exit_code == 0, skipped.output
    assert "房产: 1 record imported from 2 rows" in skipped.output
    assert "Row 3, column 证件号码" in skipped.output
    assert "1 row skipped." in skipped.output


def test_import_registry_wrong_id_column(app, tmp_path):
    rows = [["户主", "号码"], ["张三", "11010519491231002X"], ["李四", "110105194912310021"]]
    path = write_xlsx(tmp_path / "r.xlsx", rows)
    result = app.test_cli_runner().invoke(args=["import-registry", "房产", path, "--id-column", "户主"])
    assert result.exit_code == 1
    first_line = next(line for line in result.output.splitlines() if line.startswith("Error: "))
    assert "most values in the column 户主 are not ID numbers" in first_line
    assert first_line.endswith("Give it with --id-column.")
    assert 'Row 2, column 户主, value "张三"' in result.output


@pytest.mark.parametrize(("options", "command"), [
    ([], "flask --app fieldapp run-checks"),
    (["--demo"], "flask --app fieldapp run-checks --demo"),
])
def test_import_registry_names_run_checks_command(app, tmp_path, options, command):
    path = vehicle_file(tmp_path / "车辆.xlsx", [("张三", "11010519491231002X")])
    result = app.test_cli_runner().invoke(args=["import-registry", "车辆", path, *options])
    assert result.exit_code == 0, result.output
    assert f'Run "{command}" to cross-check the members against it.' in result.output


def test_run_checks_progress(app, make):
    make.household()
    result = app.test_cli_runner().invoke(args=["run-checks"])
    assert result.exit_code == 0, result.output
    assert "rule 1/" in result.output
    assert "Reference date for ages:" in result.output


def test_run_checks_chinese_by_default(app, make, monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "zh_CN")
    make.household().members[0].birth_date = date(1979, 5, 5)
    db.session.flush()

    result = app.test_cli_runner().invoke(args=["run-checks"])

    assert result.exit_code == 0, result.output
    assert "校验规则 1/" in result.output
    assert "正在保存疑似问题 " in result.output
    assert "年龄计算基准日期：" in result.output
    assert ("疑似问题：新增 1 个（其中重新出现 0 个），保留 0 个，"
            "重新校验后不再发现 0 个，因规则停用搁置 0 个。") in result.output
    assert "已完成，用时 " in result.output
    assert "opened" not in result.output
    assert "Done in" not in result.output


def test_import_registry_chinese_by_default(app, make, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "zh_CN")
    member = make.household().members[0]
    rows = [["姓名", "证件号码"], [member.name, member.id_number], ["李四", "123"]]
    path = write_xlsx(tmp_path / "r.xlsx", rows)

    result = app.test_cli_runner().invoke(args=["import-registry", "房产", path, "--date", "2026-06-30",
                                                "--skip-rejected"])

    assert result.exit_code == 0, result.output
    assert ("房产：从 2 行中导入 1 条记录，数据截至 2026-06-30；证件号码取自“证件号码”列，姓名取自“姓名”列。"
            in result.output)
    assert "已跳过 1 行。" in result.output
    assert "运行“flask --app fieldapp run-checks”命令" in result.output
    assert "records" not in result.output
    assert "Done in" not in result.output

    no_id = write_xlsx(tmp_path / "no-id.xlsx", [["名称", "号码"], ["张三", member.id_number]])
    failed = app.test_cli_runner().invoke(args=["import-registry", "房产", no_id])
    assert failed.exit_code == 1
    assert "名称、号码" in failed.output
    assert "可用 --id-column 选项指定。" in failed.output


def test_run_checks_with_every_rule_switched_off(app, make):
    make.household().members[0].birth_date = date(1979, 5, 5)
    db.session.flush()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["run-checks"]).exit_code == 0
    check_settings.save({}, set(), list(RULES), is_demo=False, user=None)

    result = runner.invoke(args=["run-checks"])

    assert result.exit_code == 0, result.output
    assert "Every rule is switched off, so no rule was run." in result.output
    assert "1 set aside because their rule is switched off" in result.output
    assert "Traceback" not in result.output
