from sqlalchemy import func, select

from fieldapp.auth.models import User
from fieldapp.extensions import db
from fieldapp.register.models import Household
from fieldapp.sampling.models import SamplingRound


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def demo_household_numbers():
    return db.session.scalars(
        select(Household.household_no).where(Household.is_demo.is_(True)).order_by(Household.household_no)
    ).all()


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_seed_demo_command(app):
    result = run(app, "seed-demo", "--households", "30", "--seed", "5")

    assert result.exit_code == 0, result.output
    assert "Seeded 30 demo households" in result.output
    assert "9 problems planted, 9 suspected problems found by the checks" in result.output
    assert "password demo-training-2026" in result.output
    assert len(demo_household_numbers()) == 30
    assert count(User) == 7
    assert count(SamplingRound) == 1


def test_seed_demo_if_missing_idempotent(app):
    first = run(app, "seed-demo", "--if-missing", "--households", "30")
    numbers = demo_household_numbers()

    second = run(app, "seed-demo", "--if-missing", "--households", "30")

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "Demo data exists already; nothing to do." in second.output
    assert demo_household_numbers() == numbers
    assert count(User) == 7
    assert count(SamplingRound) == 1


def test_seed_demo_twice_fails(app):
    run(app, "seed-demo", "--households", "30")

    result = run(app, "seed-demo", "--households", "30")

    assert result.exit_code == 1
    assert "Demo data exists already; run `flask --app fieldapp reset-demo` to replace it." in result.output
    assert len(demo_household_numbers()) == 30


def test_seed_demo_too_few_households(app):
    result = run(app, "seed-demo", "--households", "5")

    assert result.exit_code == 2
    assert "--households" in result.output
    assert count(User) == 0


def test_reset_demo_command(app, make):
    run(app, "seed-demo", "--households", "30", "--seed", "8")
    numbers = demo_household_numbers()
    real = make.household(make.LAODIAN_VILLAGE)
    db.session.commit()

    result = run(app, "reset-demo", "--households", "30", "--seed", "8")

    assert result.exit_code == 0, result.output
    assert "Deleted demo data: households 30, sampling rounds 1, visits 0" in result.output
    assert "Demo accounts (0 created, 7 restored)" in result.output
    assert demo_household_numbers() == numbers
    assert db.session.get(Household, real.id) is not None
    assert count(SamplingRound) == 1


def test_reset_demo_other_seed(app):
    run(app, "seed-demo", "--households", "30", "--seed", "8")
    numbers = demo_household_numbers()

    result = run(app, "reset-demo", "--households", "40", "--seed", "9")

    assert result.exit_code == 0, result.output
    assert len(demo_household_numbers()) == 40
    assert demo_household_numbers() != numbers


def test_deactivate_demo_accounts(app, make):
    trainee = make.user("inspector", is_demo=True, username="trainee")
    real = make.user("admin", username="real-admin")
    run(app, "seed-demo", "--households", "30", "--seed", "5")

    result = run(app, "deactivate-demo")

    assert result.exit_code == 0, result.output
    assert "8 demo accounts deactivated" in result.output
    active_demo = select(func.count()).where(User.is_demo.is_(True), User.is_active_account.is_(True))
    assert db.session.scalar(active_demo) == 0
    assert not trainee.is_active_account
    assert real.is_active_account

    run(app, "reset-demo", "--households", "30", "--seed", "5")
    assert db.session.scalar(active_demo) == 7
