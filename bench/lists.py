"""Time the findings list, the dashboard and the ledger export at city scale.

Run with ``.venv/bin/python bench/lists.py`` (SQLite in a temporary folder), or with
``--database-uri postgresql+psycopg://postgres@127.0.0.1:5432/NAME --wipe`` for an empty
PostgreSQL database that the script may wipe. The script

1. inserts, with SQLAlchemy Core bulk inserts, 100,000 households across Binzhou's villages
   (one head each), 100,000 sampled households in 10 rounds, 200,000 visits (two per sampled
   household, with a satisfaction answer) and 50,000 findings (half pending, spread over a
   year, a third of the open ones overdue), each with its first history event;
2. requests pages through the Flask test client as a city administrator, as a browser would,
   and reports the 95th percentile of ``--runs`` requests of: the findings list filtered to
   pending findings (newest first, 50 rows) on page 1 and on page 400, the same unfiltered,
   and the dashboard;
3. runs the full rectification ledger export (XLSX) as the export job does, timing it, then
   runs it again under ``tracemalloc`` for its peak Python memory; the visits export of all
   200,000 visits is timed too.

Goals: both findings list pages under 300 ms at the 95th percentile. The ratio of page 400 to
page 1 shows what the page's position costs.
"""

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from fieldapp import create_app  # noqa: E402
from fieldapp.auth.models import User, UserDivision  # noqa: E402
from fieldapp.divisions import services as division_services  # noqa: E402
from fieldapp.divisions.models import Division  # noqa: E402
from fieldapp.extensions import db  # noqa: E402
from fieldapp.register.models import Household, Member  # noqa: E402
from fieldapp.reports import jobs  # noqa: E402
from fieldapp.reports.models import ExportJob  # noqa: E402
from fieldapp.review.models import Finding, FindingEvent  # noqa: E402
from fieldapp.sampling.models import SampledHousehold, SamplingRound  # noqa: E402
from fieldapp.visits import questionnaires  # noqa: E402
from fieldapp.visits.models import Visit  # noqa: E402

SEED = 20261204
HOUSEHOLDS = 100_000
ROUNDS = 10
VISITS_PER_SAMPLED = 2
FINDINGS = 50_000
PAGE_GOAL_MS = 300
PASSWORD = "bench-password-1"
CHUNK = 10_000
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
SATISFACTION = ("satisfied",) * 9 + ("not_satisfied", "unsure")
STATUSES = ("pending",) * 5 + ("in_progress",) * 2 + ("corrected",) * 2 + ("closed",)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-uri", help="an empty database to use instead of a temporary SQLite file")
    parser.add_argument("--wipe", action="store_true", help="drop everything in --database-uri first")
    parser.add_argument("--runs", type=int, default=30, help="requests per measured page (default 30)")
    parser.add_argument("--skip-visits-export", action="store_true", help="do not time the visits export")
    return parser.parse_args()


def make_app(folder: str, uri: str | None):
    return create_app({
        "SECRET_KEY": "bench-secret",
        "SQLALCHEMY_DATABASE_URI": uri or "sqlite:///" + os.path.join(folder, "bench.sqlite3"),
        "UPLOAD_FOLDER": os.path.join(folder, "uploads"),
        "EXPORT_FOLDER": os.path.join(folder, "exports"),
        "EXPORT_SYNC": True,
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": "localhost.localdomain",
    })


def bulk(model, rows: list[dict]) -> None:
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(model), rows[start:start + CHUNK])


def seed(rng: random.Random) -> dict:
    """Insert the records and return the administrator's user name."""
    started = time.perf_counter()
    division_services.import_divisions(division_services.bundled_divisions_text())
    questionnaire = questionnaires.load_bundled()[0]
    villages = db.session.scalars(
        select(Division).where(Division.level == "village").order_by(Division.code)
    ).all()
    admin = User(username="bench-admin", display_name="Bench admin", role="admin",
                 password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"),
                 divisions=[UserDivision(division_code="371600000000")])
    inspector = User(username="bench-inspector", display_name="Bench inspector", role="inspector",
                     password_hash=admin.password_hash,
                     divisions=[UserDivision(division_code="371600000000")])
    db.session.add_all([admin, inspector])
    db.session.flush()

    households, members = [], []
    for number in range(1, HOUSEHOLDS + 1):
        village = villages[number % len(villages)]
        code = village.code
        households.append({
            "id": number, "household_no": f"{code}{number:06d}", "is_demo": False, "province": "山东省",
            "city": "滨州市", "county": "", "township": "", "village": village.name, "division_code": code,
            "county_code": code[:6] + "000000", "township_code": code[:9] + "000", "household_type": "脱贫户",
            "latitude": 37.3 + rng.random() * 0.6, "longitude": 117.5 + rng.random() * 0.8,
        })
        birth = date(1950, 1, 1) + timedelta(days=rng.randrange(20_000))
        first17 = f"{code[:6]}{birth:%Y%m%d}{number % 1000:03d}"
        members.append({"household_id": number, "position": 0, "name": f"户主{number}",
                        "id_number": first17 + "X",
                        "relationship_to_head": "户主"})
    bulk(Household, households)
    bulk(Member, members)

    rounds = [{"id": index + 1, "name": f"第{index + 1}批", "method": "stratified_srs", "seed": index,
               "is_demo": False} for index in range(ROUNDS)]
    bulk(SamplingRound, rounds)
    sampled = [{"id": number, "sampling_round_id": number % ROUNDS + 1, "household_id": number,
                "stratum_code": households[number - 1]["township_code"], "draw_order": number,
                "inspector_id": inspector.id} for number in range(1, HOUSEHOLDS + 1)]
    bulk(SampledHousehold, sampled)

    visits = []
    for number in range(1, HOUSEHOLDS * VISITS_PER_SAMPLED + 1):
        household = households[(number - 1) % HOUSEHOLDS]
        received = NOW - timedelta(minutes=rng.randrange(365 * 24 * 60))
        visits.append({
            "client_uuid": str(uuid.UUID(int=rng.getrandbits(128))), "content_sha256": "0" * 64,
            "sampled_household_id": household["id"], "household_id": household["id"],
            "inspector_id": inspector.id, "questionnaire_id": questionnaire.id,
            "answers": {"satisfaction": rng.choice(SATISFACTION), "resident_count": rng.randrange(1, 6),
                        "problems_and_needs": "希望改善道路"},
            "received_at": received, "submitted_at": received, "latitude": household["latitude"],
            "longitude": household["longitude"], "accuracy_m": 10.0, "distance_m": 20.0, "location_flags": [],
        })
    bulk(Visit, visits)

    findings, events = [], []
    today = NOW.date()
    for number in range(1, FINDINGS + 1):
        household = households[rng.randrange(HOUSEHOLDS)]
        created = NOW - timedelta(minutes=rng.randrange(365 * 24 * 60))
        status = rng.choice(STATUSES)
        deadline = created.date() + timedelta(days=rng.randrange(30, 400))
        row = {
            "id": number, "household_id": household["id"], "sampled_household_id": household["id"],
            "source": rng.choice(("check_rule", "cross_check", "on_site")), "category": "住房安全",
            "description": f"问题描述{number}", "status": status, "responsible_unit": "镇人民政府",
            "deadline": deadline if status != "pending" or number % 3 else today - timedelta(days=5),
            "created_at": created, "updated_at": created, "version": 1, "evidence_count": 0,
        }
        if status in ("corrected", "closed"):
            row["corrected_at"] = created + timedelta(days=10)
        if status == "closed":
            row.update(closed_at=created + timedelta(days=20), rechecked_at=created + timedelta(days=20),
                       rechecked_by_id=admin.id, recheck_method="supervisor", evidence_count=1)
        findings.append(row)
        events.append({"finding_id": number, "user_id": admin.id, "at": created, "kind": "status",
                       "from_status": None, "to_status": "pending", "changes": {}, "comment": "",
                       "version": 1})
    bulk(Finding, findings)
    bulk(FindingEvent, events)
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    else:
        db.session.execute(text("ANALYZE"))
    print(f"seeded {HOUSEHOLDS:,} households, {len(sampled):,} sampled, {len(visits):,} visits, "
          f"{FINDINGS:,} findings in {time.perf_counter() - started:.1f} s")
    return {"admin": admin.username}


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[-1]


def time_get(client, url: str, runs: int) -> tuple[float, float]:
    """Return the median and 95th percentile in milliseconds of ``runs`` GET requests, after one warm-up."""
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"GET {url} returned HTTP {response.status_code}; the benchmark needs 200")
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, url
    return statistics.median(samples), p95(samples)


def run_export(app, admin_id: int, kind: str, *, traced: bool) -> tuple[float, float | None, int, int]:
    """Run one export job; return seconds, peak traced MiB (or None), rows and file size."""
    with app.test_request_context():
        job = ExportJob(user_id=admin_id, kind=kind, format="xlsx", filters={}, locale="zh_CN")
        db.session.add(job)
        db.session.commit()
        if traced:
            tracemalloc.start()
        started = time.perf_counter()
        jobs.run_job(job.id)
        elapsed = time.perf_counter() - started
        peak = None
        if traced:
            peak = tracemalloc.get_traced_memory()[1] / 1048576
            tracemalloc.stop()
        job = db.session.get(ExportJob, job.id)
        if job.status != "done":
            raise SystemExit(f"export {kind} failed: {job.message}")
        result = (elapsed, peak, job.rows_done, job.size_bytes)
        os.remove(jobs.job_path(job))
        db.session.remove()
    return result


def main() -> None:
    args = parse_args()
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory(prefix="fieldapp-bench-lists-") as folder:
        app = make_app(folder, args.database_uri)
        with app.app_context():
            if args.wipe and db.engine.dialect.name == "postgresql":
                with db.engine.begin() as connection:
                    connection.execute(text("DROP SCHEMA public CASCADE"))
                    connection.execute(text("CREATE SCHEMA public"))
            upgrade()
            users = seed(rng)
            admin_id = db.session.scalar(select(User.id).where(User.username == users["admin"]))
            db.session.remove()

        client = app.test_client()
        response = client.post("/login", data={"username": users["admin"], "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)[:300]

        results = {}
        pages = {
            "findings, pending, page 1": "/review/findings?status=pending",
            "findings, pending, page 400": "/review/findings?status=pending&page=400",
            "findings, all, page 1": "/review/findings",
            "findings, all, page 400": "/review/findings?page=400",
            "dashboard": "/reports/",
        }
        for name, url in pages.items():
            results[name] = time_get(client, url, args.runs)

        print(f"\n{'request':32} {'median ms':>10} {'p95 ms':>10}")
        for name, (median, high) in results.items():
            print(f"{name:32} {median:10.1f} {high:10.1f}")
        for kind in ("pending", "all"):
            first, deep = results[f"findings, {kind}, page 1"][1], results[f"findings, {kind}, page 400"][1]
            verdict = "ok" if max(first, deep) < PAGE_GOAL_MS else "OVER GOAL"
            print(f"findings {kind}: page 400 / page 1 = {deep / first:.2f} (goal: both < {PAGE_GOAL_MS} ms: "
                  f"{verdict})")

        elapsed, _peak, rows, size = run_export(app, admin_id, "ledger", traced=False)
        _elapsed, peak, _rows, _size = run_export(app, admin_id, "ledger", traced=True)
        print(f"\nledger export: {rows:,} rows, {size / 1048576:.1f} MiB XLSX in {elapsed:.1f} s; "
              f"peak traced Python memory {peak:.1f} MiB")
        if not args.skip_visits_export:
            elapsed, _peak, rows, size = run_export(app, admin_id, "visits", traced=False)
            print(f"visits export: {rows:,} rows, {size / 1048576:.1f} MiB XLSX in {elapsed:.1f} s")
        print(json.dumps({"database": app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0]}))


if __name__ == "__main__":
    main()
