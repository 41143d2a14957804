"""Command-line errors: each FieldApp command prints "Error:" in the default locale before its message."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fieldapp.terminal import CommandError
from tests import factories

ROOT = Path(__file__).resolve().parent.parent


def failing_commands(tmp_path) -> dict[str, list[str]]:
    """Return, by command, arguments that make it fail with its own error message."""
    bad_register = tmp_path / "register.csv"
    bad_register.write_text("名称,数量\n苹果,3\n", encoding="utf-8")
    bad_divisions = tmp_path / "divisions.csv"
    bad_divisions.write_text("code,name\n371622107901,新村\n", encoding="utf-8")
    registry = tmp_path / "registry.csv"
    registry.write_text("姓名,证件号码\n张三,11010519491231002X\n", encoding="utf-8")
    return {
        "create-user": ["create-user", "li.qiang", "--role", "supervisor", "--division", "371699000000",
                        "--password", "field-admin-2026"],
        "import-divisions": ["import-divisions", str(bad_divisions)],
        "import-register": ["import-register", str(bad_register)],
        "import-registry": ["import-registry", "车俩", str(registry)],
        "run-checks": ["run-checks", "--division", "371622999000"],
        "sample": ["sample", "--division", factories.LAODIAN, "--size", "1", "--seed", "1",
                   "--assign-to", "nobody"],
    }


COMMANDS = ["create-user", "import-divisions", "import-register", "import-registry", "run-checks", "sample"]


@pytest.mark.parametrize("command", COMMANDS)
def test_error_prefix_chinese_by_default(app, tmp_path, monkeypatch, command):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "zh_CN")

    result = app.test_cli_runner().invoke(args=failing_commands(tmp_path)[command])

    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("错误："), result.stderr
    assert "Error:" not in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_error_prefix_english(app, tmp_path, command):
    result = app.test_cli_runner().invoke(args=failing_commands(tmp_path)[command])

    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: "), result.stderr


def test_error_message_kept_whole(app, monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "zh_CN")

    error = CommandError("第一行\n第二行 100%")

    assert error.message == "第一行\n第二行 100%"
    assert error.line == "错误：第一行\n第二行 100%"



def test_flask_command_prints_chinese_prefix(tmp_path):
    # The real entry point, as an administrator types it, in the default locale.
    bad_register = tmp_path / "bad.csv"
    bad_register.write_text("名称,数量\n苹果,3\n", encoding="utf-8")
    environment = {
        **os.environ,
        "FIELDAPP_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "FIELDAPP_SECRET_KEY": "test-secret-key-for-the-command-line",
    }
    environment.pop("FIELDAPP_BABEL_DEFAULT_LOCALE", None)
    command = [sys.executable, "-m", "flask", "--app", "fieldapp", "import-register", str(bad_register)]

    result = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert result.stderr.startswith("错误：未找到表头行"), result.stderr
    assert "Error:" not in result.stderr
