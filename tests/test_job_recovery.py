"""Jobs that a stopped server left unfinished are marked when the next server starts."""

from datetime import date

from fieldapp.checks.models import CheckRun, RegistryBatch
from fieldapp.extensions import db
from fieldapp.job_recovery import fail_abandoned_jobs
from fieldapp.register.models import RegisterImport
from fieldapp.reports.models import ExportJob


def registry_batch(status: str, stored_name: str | None = None) -> RegistryBatch:
    return RegistryBatch(kind="车辆", data_date=date(2026, 1, 1), filename="车辆.xlsx", sha256="0" * 64,
                         status=status, stored_name=stored_name)


def test_unfinished_jobs_marked(app, ctx, make, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTRY_IMPORT_FOLDER", str(tmp_path))
    (tmp_path / "stopped.xlsx").write_bytes(b"registry rows")
    (tmp_path / "waiting.xlsx").write_bytes(b"registry rows")
    (tmp_path / "orphan.xlsx").write_bytes(b"saved by an upload that a stop cut off")
    reading = RegisterImport(filename="a.xlsx", sha256="0" * 64, status="reading")
    checking = RegisterImport(filename="b.xlsx", sha256="1" * 64, status="checking")
    done = RegisterImport(filename="c.xlsx", sha256="2" * 64, status="done")
    stopped_batch = registry_batch("reading", "stopped.xlsx")
    waiting_batch = registry_batch("needs_column", "waiting.xlsx")
    run = CheckRun(is_demo=False, status="running", source="page")
    export = ExportJob(user_id=make.user().id, kind="problems", format="xlsx", status="running")
    db.session.add_all([reading, checking, done, stopped_batch, waiting_batch, run, export])
    db.session.flush()

    assert fail_abandoned_jobs("en") == 5

    assert reading.status == "failed"
    assert "The server stopped before this job finished" in reading.message
    assert checking.status == "done"
    assert "run the checks again" in checking.message
    assert done.status == "done"
    assert stopped_batch.status == "failed"
    assert not (tmp_path / "stopped.xlsx").exists()
    assert waiting_batch.status == "needs_column"
    assert (tmp_path / "waiting.xlsx").exists()
    assert not (tmp_path / "orphan.xlsx").exists()
    assert run.status == "failed"
    assert export.status == "failed"
