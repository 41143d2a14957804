import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from fieldapp.audit.models import AuditRecord
from fieldapp.auth.models import User
from fieldapp.extensions import db

PASSWORD = "field-admin-2026"


def run_create_user(app, *args, password_input=f"{PASSWORD}\n{PASSWORD}\n"):
    return app.test_cli_runner().invoke(args=["create-user", *args], input=password_input)


def user_named(username):
    return db.session.scalars(select(User).where(User.username == username)).one_or_none()


def test_create_user_prompts_password(app):
    result = run_create_user(app, "wang.fang", "--role", "admin", "--division", "371600000000",
                             "--name", "王芳")

    assert result.exit_code == 0, result.output
    assert "Created the account wang.fang (Administrator) for divisions 371600000000." in result.output
    user = user_named("wang.fang")
    assert user.role == "admin"
    assert user.display_name == "王芳"
    assert user.is_demo is False
    assert user.division_codes == ["371600000000"]
    assert check_password_hash(user.password_hash, PASSWORD)
    entry = db.session.scalars(select(AuditRecord).where(AuditRecord.object_id == str(user.id))).one()
    assert entry.action == "user.create"
    assert entry.user_id is None


def test_create_user_several_divisions_demo(app):
    result = run_create_user(app, "trainee", "--role", "inspector", "--division", "371622107000",
                             "--division", "371622106000", "--demo")

    assert result.exit_code == 0, result.output
    user = user_named("trainee")
    assert user.division_codes == ["371622106000", "371622107000"]
    assert user.is_demo is True
    assert user.display_name == "trainee"


def test_create_user_password_mismatch_prompts_again(app):
    result = run_create_user(app, "li.qiang", "--role", "supervisor", "--division", "371622000000",
                             password_input=f"{PASSWORD}\nsomething-else\n{PASSWORD}\n{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert check_password_hash(user_named("li.qiang").password_hash, PASSWORD)


def test_create_user_unknown_division(app):
    result = run_create_user(app, "li.qiang", "--role", "supervisor", "--division", "371699000000")

    assert result.exit_code == 1
    assert "--division 371699000000 is not in the division list." in result.output
    assert '"flask --app fieldapp import-divisions FILE"' in result.output
    assert user_named("li.qiang") is None


@pytest.mark.parametrize("code", ["3716", "37160000000X", "３７１６００００００００"])
def test_create_user_division_not_twelve_digits(app, code):
    # No password input: the code is checked before the password prompt.
    result = run_create_user(app, "li.qiang", "--role", "supervisor", "--division", code, password_input="")

    assert result.exit_code == 1
    assert f"--division {code} is not a division code: give all 12 digits" in result.output
    assert "import" not in result.output
    assert "Password" not in result.output
    assert user_named("li.qiang") is None


def test_create_user_duplicate_name(app, make):
    make.user("inspector", [make.LAODIAN], username="li.qiang")
    db.session.commit()  # the command rolls back its own work on error, not this user

    result = run_create_user(app, "li.qiang", "--role", "supervisor", "--division", "371622000000")

    assert result.exit_code == 1
    assert "The user name li.qiang is taken; choose another." in result.output
    assert db.session.scalar(select(db.func.count()).select_from(User)) == 1


def test_create_user_short_password(app):
    result = run_create_user(app, "li.qiang", "--role", "supervisor", "--division", "371622000000",
                             "--password", "short")

    assert result.exit_code == 1
    assert "at least 8 characters" in result.output
    assert user_named("li.qiang") is None


def test_create_user_unknown_role(app):
    result = run_create_user(app, "li.qiang", "--role", "owner", "--division", "371622000000")

    assert result.exit_code == 2
    assert "Invalid value for '--role'" in result.output
