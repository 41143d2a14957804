"""Check runs and registry imports in background threads, failures and runs left unfinished."""

import io
import threading
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import delete, func, select

from fieldapp.audit.models import AuditRecord
from fieldapp.auth.models import User
from fieldapp.checks import jobs, problem_store, services
from fieldapp.checks.models import CheckRun, RegistryBatch, RegistryRecord, SuspectedProblem
from fieldapp.db_types import utcnow
from fieldapp.extensions import db
from fieldapp.register.models import Household
from tests.checks.builders import vehicle_file
from tests.checks.support import problems
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
                     created_at=utcnow() - timedelta(hours=2))
    db.session.add(stale)
    db.session.flush()

    run, is_new = jobs.queue_run(admin, locale="en")

    assert is_new
    assert run.id != stale.id
    assert stale.status == "failed"
    assert stale.message


def test_demo_run_ignores_real_runs(ctx, make):
    admin = make.user("admin", [make.YANGXIN])
    db.session.add(CheckRun(is_demo=False, status="running", source="page", started_by_id=admin.id))
    db.session.flush()
    demo_admin = make.user("admin", [make.YANGXIN], is_demo=True)
    run, is_new = jobs.queue_run(demo_admin, locale="en")
    assert is_new
    assert run.is_demo is True


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
