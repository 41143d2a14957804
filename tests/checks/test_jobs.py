"""Check runs and registry imports in background threads, failures and runs left unfinished."""

import io
import threading
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import delete, func, select

from fieldapp.audit.models import AuditRecord
from fieldapp.auth.models import User
from fieldapp.checks import jobs, problem_store, registries, services
from fieldapp.checks.models import CheckRun, RegistryBatch, RegistryRecord, SuspectedProblem
from fieldapp.checks.rules.base import BatchInUse
from fieldapp.db_types import utcnow
from fieldapp.extensions import db
from fieldapp.register.models import Household
from tests.checks.builders import vehicle_file
from tests.checks.support import problems, running_run
from tests.conftest import login


def wait_for(client, url: str) -> dict:
    deadline = time.monotonic() + 30
    state = client.get(url).get_json()
    while not state["finished"] and time.monotonic() < deadline:
        time.sleep(0.1)
        state = client.get(url).get_json()
    return state


@pytest.mark.committing
def test_run_and_import_in_threads(app, client, make, tmp_path, monkeypatch):
    """The real path: each request returns at once and a thread does the work and reports progress."""
    monkeypatch.setitem(app.config, "REGISTRY_IMPORT_FOLDER", str(tmp_path / "registries"))
    with app.app_context():
        last_audit_id = db.session.execute(select(func.max(AuditRecord.id))).scalar() or 0
        admin = make.user("admin", [make.YANGXIN], username="checks-thread-admin")
        household = make.household(household_no="CHECKSTHREAD0001")
        household.members[0].birth_date = date(1979, 5, 5)
        owner = household.members[1]
        path = vehicle_file(tmp_path / "车辆.xlsx", [(owner.name, owner.id_number)])
        db.session.commit()
        admin_id, household_id = admin.id, household.id
    try:
        login(client, admin)
        data = {"kind": "车辆", "file": (io.BytesIO(open(path, "rb").read()), "车辆.xlsx")}
        upload = client.post("/checks/registries", content_type="multipart/form-data", data=data)
        assert upload.status_code == 302
        assert wait_for(client, upload.headers["Location"] + "/status.json")["status"] == "done"

        started = client.post("/checks/run")
        assert started.status_code == 302
        state = wait_for(client, started.headers["Location"] + "/status.json")
        assert state["status"] == "done"
        assert state["rows_read"] == state["rows_total"]
        with app.app_context():
            rules = set(db.session.scalars(
                select(SuspectedProblem.rule_id).where(SuspectedProblem.household_id == household_id)))
            assert rules == {"id_birth_date_mismatch", "cross_vehicle"}
    finally:
        with app.app_context():
            db.session.execute(delete(SuspectedProblem).where(SuspectedProblem.household_id == household_id))
            db.session.execute(delete(Household).where(Household.id == household_id))
            batches = select(RegistryBatch.id).where(RegistryBatch.imported_by_id == admin_id)
            db.session.execute(delete(RegistryRecord).where(RegistryRecord.batch_id.in_(batches)))
            db.session.execute(delete(RegistryBatch).where(RegistryBatch.imported_by_id == admin_id))
            db.session.execute(delete(CheckRun).where(CheckRun.started_by_id == admin_id))
            db.session.execute(delete(AuditRecord).where(AuditRecord.id > last_audit_id))
            db.session.execute(delete(User).where(User.id == admin_id))
            db.session.commit()


def test_failed_run_recorded(en_client, make, sync_jobs, monkeypatch):
    make.household().members[0].birth_date = date(1979, 5, 5)
    db.session.flush()

    def broken(**options):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "run_checks", broken)
    login(en_client, make.user("admin", [make.YANGXIN]))

    response = en_client.post("/checks/run")

    run = db.session.scalars(select(CheckRun)).one()
    assert run.status == "failed"
    assert run.finished_at is not None
    assert "failed" in en_client.get(response.headers["Location"]).get_data(as_text=True)
    assert problems() == []


def test_stale_run_does_not_block(ctx, make):
    admin = make.user("admin", [make.YANGXIN])
    stale = CheckRun(is_demo=False, status="running", source="page", started_by_id=admin.id,
                     division_prefixes=[make.YANGXIN[:6]], created_at=utcnow() - timedelta(hours=2),
                     progress_at=utcnow() - timedelta(minutes=4))
    db.session.add(stale)
    db.session.flush()

    queued = jobs.queue_run(admin, locale="en")

    assert queued.is_new
    assert queued.run.id != stale.id
    assert queued.stopped is stale
    assert stale.status == "failed"
    assert stale.message


def test_run_with_recent_progress_is_alive(ctx, make):
    """Staleness counts from the last progress, not from the start: a long run that still moves is kept."""
    admin = make.user("admin", [make.YANGXIN])
    started = utcnow() - timedelta(hours=2)
    alive = CheckRun(is_demo=False, status="running", source="page", started_by_id=admin.id,
                     division_prefixes=[make.YANGXIN[:6]], created_at=started, started_at=started,
                     progress_at=utcnow() - jobs.STALE_RUN + timedelta(seconds=30))
    db.session.add(alive)
    db.session.flush()

    queued = jobs.queue_run(admin, locale="en")

    assert (queued.run, queued.is_new, queued.stopped) == (alive, False, None)
    assert alive.status == "running"


def test_stale_limit_leaves_room_for_a_slow_step():
    # The slowest step at city scale takes about 2 s, and a step may first wait for the SQLite write lock
    # for up to the busy timeout.
    assert jobs.STALE_RUN >= 10 * timedelta(seconds=2 + 10)
    assert jobs.STALE_RUN <= timedelta(minutes=5)


def test_progress_commits_move_progress_time(ctx, make):
    admin = make.user("admin", [make.YANGXIN])
    run = CheckRun(is_demo=False, status="running", source="page", started_by_id=admin.id,
                   progress_at=utcnow() - timedelta(minutes=2))
    db.session.add(run)
    db.session.flush()
    before = utcnow()

    jobs._RunProgress(run)("id_sex_mismatch", 3, 40)

    assert run.progress_at >= before
    assert (run.current_rule, run.steps_done) == ("id_sex_mismatch", 3)


def test_supervisor_not_attached_to_admin_run(ctx, make):
    """A supervisor cannot open an administrator's run, so their own run starts instead."""
    admin = make.user("admin", [make.YANGXIN])
    admin_run = running_run(admin, [make.YANGXIN[:6]])
    supervisor = make.user("supervisor", [make.LAODIAN])

    queued = jobs.queue_run(supervisor, locale="en")

    assert queued.is_new
    assert queued.run.division_prefixes == [make.LAODIAN[:9]]
    assert admin_run.status == "running"


def test_admin_not_attached_to_township_run(ctx, make):
    """An administrator's city-wide run is not replaced by a supervisor's narrower run in progress."""
    supervisor = make.user("supervisor", [make.LAODIAN])
    running_run(supervisor, [make.LAODIAN[:9]])
    admin = make.user("admin", [make.YANGXIN])

    queued = jobs.queue_run(admin, locale="en")

    assert queued.is_new
    assert queued.run.division_prefixes == [make.YANGXIN[:6]]


def test_admin_joins_same_scope_run(ctx, make):
    first = make.user("admin", [make.YANGXIN])
    running = CheckRun(is_demo=False, status="queued", source="page", started_by_id=first.id,
                       division_prefixes=[make.YANGXIN[:6]], progress_at=utcnow())
    db.session.add(running)
    db.session.flush()

    queued = jobs.queue_run(make.user("admin", [make.YANGXIN]), locale="en")

    assert (queued.run, queued.is_new) == (running, False)


def test_supervisor_not_attached_to_other_supervisors_run(ctx, make):
    """Two supervisors of one township each see only their own runs, so each gets one."""
    other = make.user("supervisor", [make.LAODIAN])
    db.session.add(CheckRun(is_demo=False, status="running", source="page", started_by_id=other.id,
                            division_prefixes=[make.LAODIAN[:9]], progress_at=utcnow()))
    db.session.flush()

    queued = jobs.queue_run(make.user("supervisor", [make.LAODIAN]), locale="en")

    assert queued.is_new


def test_registry_delete_refused_while_run_in_progress(ctx, make, tmp_path):
    admin = make.user("admin", [make.YANGXIN])
    batch = registries.import_registry(vehicle_file(tmp_path / "车辆.xlsx", [("张三", "11010519491231002X")]),
                                       "车辆")
    supervisor = make.user("supervisor", [make.LAODIAN])
    db.session.add(CheckRun(is_demo=False, status="running", source="page", started_by_id=supervisor.id,
                            division_prefixes=[make.LAODIAN[:9]], progress_at=utcnow()))
    db.session.flush()

    with pytest.raises(jobs.RunInProgress, match="Wait until it has finished"):
        jobs.delete_registry_batch(batch, user=admin)

    assert db.session.get(RegistryBatch, batch.id) is not None
    assert db.session.scalars(select(RegistryRecord)).all() != []


def test_registry_delete_after_stopped_run(ctx, make, tmp_path):
    admin = make.user("admin", [make.YANGXIN])
    batch = registries.import_registry(vehicle_file(tmp_path / "车辆.xlsx", [("张三", "11010519491231002X")]),
                                       "车辆")
    stopped = CheckRun(is_demo=False, status="running", source="page", started_by_id=admin.id,
                       progress_at=utcnow() - timedelta(hours=1))
    demo_run = CheckRun(is_demo=True, status="running", source="page", progress_at=utcnow())
    db.session.add_all([stopped, demo_run])
    db.session.flush()

    jobs.delete_registry_batch(batch, user=admin)

    assert db.session.scalars(select(RegistryBatch)).all() == []
    assert stopped.status == "failed"


def test_run_fails_clearly_when_its_registry_is_deleted(en_client, make, sync_jobs, tmp_path, monkeypatch):
    """A batch deleted between the rules and the saving step fails the run with a message, not a crash."""
    owner = make.household().members[1]
    batch = registries.import_registry(vehicle_file(tmp_path / "车辆.xlsx", [(owner.name, owner.id_number)]),
                                       "车辆")
    def delete_first(*args, **kwargs):
        registries.delete_batch(batch, user=None)
        services._check_batches_kept({"车辆": [BatchInUse(batch.id, "车辆", batch.data_date, None)]})

    monkeypatch.setattr(services, "_save_problems", delete_first)
    login(en_client, make.user("admin", [make.YANGXIN]))

    response = en_client.post("/checks/run")

    run = db.session.scalars(select(CheckRun)).one()
    assert run.status == "failed"
    assert "车辆 was deleted while the checks ran" in run.message
    page = en_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "deleted while the checks ran" in page
    assert problems() == []


def test_demo_run_ignores_real_runs(ctx, make):
    admin = make.user("admin", [make.YANGXIN])
    db.session.add(CheckRun(is_demo=False, status="running", source="page", started_by_id=admin.id))
    db.session.flush()
    demo_admin = make.user("admin", [make.YANGXIN], is_demo=True)
    queued = jobs.queue_run(demo_admin, locale="en")
    assert queued.is_new
    assert queued.run.is_demo is True


@pytest.mark.committing
def test_two_runs_saving_at_once(app, make, monkeypatch):
    """A run that saves while another has new problems not yet committed waits, then finds them."""
    with app.app_context():
        last_audit_id = db.session.execute(select(func.max(AuditRecord.id))).scalar() or 0
        last_run_id = db.session.execute(select(func.max(CheckRun.id))).scalar() or 0
        household = make.household(household_no="CHECKSTWORUNS0001")
        household.members[0].birth_date = date(1979, 5, 5)
        db.session.commit()
        household_id = household.id
    original_apply = problem_store._apply
    first_saved = threading.Event()

    def slow_apply(*args, **kwargs):
        counts = original_apply(*args, **kwargs)
        if not first_saved.is_set():
            first_saved.set()
            time.sleep(1.0)  # the other run saves meanwhile
        return counts

    monkeypatch.setattr(problem_store, "_apply", slow_apply)
    errors: list[str] = []

    def run() -> None:
        with app.app_context():
            try:
                services.run_checks()
                db.session.commit()
            except Exception as error:  # noqa: BLE001  (reported by the assert below)
                errors.append(repr(error))
                db.session.rollback()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    try:
        threads[0].start()
        assert first_saved.wait(timeout=30)
        threads[1].start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        with app.app_context():
            keys = db.session.scalars(
                select(SuspectedProblem.key).where(SuspectedProblem.household_id == household_id)).all()
        assert keys
        assert len(keys) == len(set(keys))
    finally:
        with app.app_context():
            db.session.execute(delete(SuspectedProblem).where(SuspectedProblem.household_id == household_id))
            db.session.execute(delete(Household).where(Household.id == household_id))
            db.session.execute(delete(CheckRun).where(CheckRun.id > last_run_id))
            db.session.execute(delete(AuditRecord).where(AuditRecord.id > last_audit_id))
            db.session.commit()
