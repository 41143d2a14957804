"""Re-running the checks: stable problem rows, resolution by the data, reopening and scope."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from fieldapp.audit.models import AuditRecord
from fieldapp.checks import registries
from fieldapp.checks import settings as check_settings
from fieldapp.checks.models import CheckRun, SuspectedProblem
from fieldapp.checks.rules import RULES
from fieldapp.checks.rules.base import BatchInUse
from fieldapp.checks.services import RegistryChanged, _check_batches_kept, division_prefixes_for, run_checks
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from tests.checks.builders import vehicle_file


def problems():
    return db.session.scalars(select(SuspectedProblem).order_by(SuspectedProblem.id)).all()


def break_birth_date(household):
    household.members[0].birth_date = date(1979, 5, 5)
    db.session.flush()


def test_rerun_keeps_rows(ctx, make):
    break_birth_date(make.household())
    first = run_checks()
    [before] = problems()
    problem_id, first_seen, last_seen = before.id, before.first_seen_at, before.last_seen_at

    second = run_checks()

    [after] = problems()
    assert (first.opened, first.kept, first.resolved) == (1, 0, 0)
    assert (second.opened, second.kept, second.resolved, second.updated) == (0, 1, 0, 0)
    assert after.id == problem_id
    assert after.first_seen_at == first_seen
    assert after.last_seen_at >= last_seen
    assert after.status == "open"


def test_fixed_data_resolves_problem(ctx, make):
    household = make.household()
    break_birth_date(household)
    run_checks()

    household.members[0].birth_date = date(1980, 1, 1)
    db.session.flush()
    summary = run_checks()

    [problem] = problems()
    assert summary.resolved == 1
    assert problem.status == "resolved_by_data"
    assert problem.resolved_at is not None

    # A third run leaves the resolved problem as it is.
    resolved_at = problem.resolved_at
    again = run_checks()
    assert (again.opened, again.kept, again.resolved) == (0, 0, 0)
    assert problem.resolved_at == resolved_at


def test_returning_problem_reopens(ctx, make):
    household = make.household()
    break_birth_date(household)
    run_checks()
    [problem] = problems()
    problem_id, first_seen = problem.id, problem.first_seen_at
    household.members[0].birth_date = date(1980, 1, 1)
    db.session.flush()
    run_checks()

    household.members[0].birth_date = date(1981, 3, 3)
    db.session.flush()
    summary = run_checks()

    [problem] = problems()
    assert (summary.opened, summary.reopened) == (1, 1)
    assert problem.id == problem_id
    assert problem.first_seen_at == first_seen
    assert problem.status == "open"
    assert problem.resolved_at is None
    assert problem.detail_values == {"recorded": "1981-03-03", "from_id": "19800101"}


def test_township_run_touches_only_township(ctx, make):
    laodian = make.household(make.LAODIAN_VILLAGE)
    shuiwan = make.household(make.SHUIWAN_VILLAGE)
    break_birth_date(laodian)
    break_birth_date(shuiwan)
    run_checks()
    assert len(problems()) == 2

    for household in (laodian, shuiwan):
        household.members[0].birth_date = date(1980, 1, 1)
    laodian.members[1].sex = "男"
    shuiwan.members[1].sex = "男"
    db.session.flush()
    summary = run_checks(division_prefixes=division_prefixes_for([make.LAODIAN]))

    status = {(p.household_id, p.rule_id): p.status for p in problems()}
    assert status == {
        (laodian.id, "id_birth_date_mismatch"): "resolved_by_data",
        (shuiwan.id, "id_birth_date_mismatch"): "open",
        (laodian.id, "id_sex_mismatch"): "open",
    }
    assert (summary.opened, summary.resolved) == (1, 1)


def test_demo_and_real_kept_apart(ctx, make):
    real = make.household()
    demo = make.household(is_demo=True)
    break_birth_date(real)
    break_birth_date(demo)

    run_checks(is_demo=True)
    assert [p.household_id for p in problems()] == [demo.id]

    real.members[0].birth_date = date(1980, 1, 1)
    db.session.flush()
    summary = run_checks(is_demo=False)
    assert summary.opened == 0
    assert [p.status for p in problems()] == ["open"]


def test_empty_prefix_list_checks_nothing(ctx, make):
    break_birth_date(make.household())
    summary = run_checks(division_prefixes=[])
    assert summary.opened == 0
    assert problems() == []


def test_run_is_audited(ctx, make):
    break_birth_date(make.household())
    run_checks(division_prefixes=["371622"])
    entry = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "checks.run")).one()
    assert entry.detail["opened"] == 1
    assert entry.detail["divisions"] == ["371622"]
    assert entry.detail["by_rule"]["id_birth_date_mismatch"] == 1


def test_division_prefixes_for(ctx, make):
    assert division_prefixes_for([make.LAODIAN, make.HUIMIN]) == ["371621", "371622107"]


def test_division_prefixes_unknown_code(ctx):
    try:
        division_prefixes_for(["371622999000"])
    except FieldError as error:
        assert error.field == "divisions"
        assert "371622999000" in error.message
    else:
        raise AssertionError("an unknown division code was accepted")


def test_rerun_of_every_kind_updates_nothing(ctx, make, tmp_path):
    """Stored values compare equal to fresh ones for text, numbers, dates and registry rows."""
    household = make.household(members=3, per_capita_net_income=Decimal("1234.5"), size=4)
    break_birth_date(household)
    owner = household.members[1]
    registries.import_registry(vehicle_file(tmp_path / "车辆.xlsx", [(owner.name, owner.id_number)]), "车辆")
    first = run_checks()

    second = run_checks()

    assert first.opened >= 4
    assert (second.kept, second.updated, second.opened) == (first.opened, 0, 0)


def test_changed_detail_updates_row(ctx, make):
    household = make.household()
    break_birth_date(household)
    run_checks()
    household.members[0].birth_date = date(1979, 6, 6)
    db.session.flush()

    summary = run_checks()

    [problem] = problems()
    assert (summary.kept, summary.updated) == (1, 1)
    assert problem.detail_values["recorded"] == "1979-06-06"
    assert "1979-06-06" in problem.detail


def test_last_seen_refreshed_once_a_day(ctx, make):
    break_birth_date(make.household())
    run_checks()
    [problem] = problems()
    same_day = problem.last_seen_at
    run_checks()
    db.session.refresh(problem)
    assert problem.last_seen_at == same_day

    problem.last_seen_at = same_day - timedelta(days=1)
    db.session.flush()
    run_checks()
    db.session.refresh(problem)
    assert problem.last_seen_at > same_day


def test_pending_changes_checked(ctx, make):
    household = make.household()
    household.members[0].birth_date = date(1979, 5, 5)  # not flushed
    run_checks()
    assert [p.rule_id for p in problems()] == ["id_birth_date_mismatch"]


def test_run_records_problems_set_aside(ctx, make):
    break_birth_date(make.household())
    run_checks()
    check_settings.save({}, set(), list(RULES), is_demo=False, user=None)

    summary = run_checks()

    check_run = db.session.get(CheckRun, summary.check_run_id)
    assert (check_run.disabled, check_run.opened, check_run.kept) == (1, 0, 0)
    assert check_run.by_rule == {}
    assert check_run.steps_done == check_run.steps_total == 1


def test_deleted_registry_stops_the_saving(ctx, make, tmp_path):
    owner = make.household().members[1]
    batch = registries.import_registry(vehicle_file(tmp_path / "车辆.xlsx", [(owner.name, owner.id_number)]),
                                       "车辆")
    in_use = BatchInUse(batch.id, "车辆", batch.data_date, None)
    registries.delete_batch(batch, user=None)

    with pytest.raises(RegistryChanged, match="车辆 was deleted while the checks ran"):
        _check_batches_kept({"车辆": [in_use]})
    _check_batches_kept({})
