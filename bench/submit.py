"""Measure visit uploads through the sync API against a bare endpoint of the same app.

Run with ``.venv/bin/python bench/submit.py`` (SQLite in a temporary folder), or with
``--database-uri postgresql+psycopg://postgres@127.0.0.1:5432/NAME --wipe`` for an empty
PostgreSQL database that the script may wipe. The script

1. creates an inspector with 200 sampled households and a sync token;
2. serves the app with ``fieldapp.server.serve`` (waitress, 8 threads), as ``make run`` does, in a
   child process on 127.0.0.1, with one extra route ``/bench/constant`` that returns a
   constant;
3. sends visit uploads (``POST /api/v1/visits``: JSON with 49 answers, the questionnaire
   version and one declared photo, whose bytes are not sent, as the phone's outbox sends
   them) from 16 concurrent clients for 10 s, each visit with a new UUID, then
   ``GET /bench/constant`` from 16 concurrent clients for 10 s;
4. prints both throughputs, their ratio, the latency percentiles and the errors. Goals: visits
   at least 10 % of the bare endpoint's throughput, p99 latency under 100 ms, no errors.

The clients keep their connections open (HTTP/1.1 keep-alive) and run in this process, so
they share its CPU time; on a 2-core machine the server and the clients each get about one.
"""

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fieldapp.server import DEFAULT_THREADS  # noqa: E402

HOUSEHOLDS = 200
CLIENTS = 16
DURATION_S = 10.0
RATIO_GOAL, P99_GOAL_MS = 0.10, 100.0
SECRET_KEY = "bench-secret-key-not-for-production"


def make_app(database_uri: str, folder: str):
    from fieldapp import create_app

    return create_app({
        "SECRET_KEY": SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "UPLOAD_FOLDER": os.path.join(folder, "uploads"),
    })


def prepare(database_uri: str, folder: str, wipe: bool) -> dict:
    """Create the schema, the reference data, an inspector, households and a token; return the work."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from fieldapp.api import tokens
    from fieldapp.extensions import db
    from fieldapp.visits import questionnaires
    from tests import factories
    from tests.api.conftest import visit_fields
    from tests.conftest import load_reference_data
    from tests.visits.support import HOUSEHOLD_LATITUDE, HOUSEHOLD_LONGITUDE, sample

    app = make_app(database_uri, folder)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            if not wipe:
                sys.exit("Pass --wipe to let the script empty the PostgreSQL database.")
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        upgrade()
        load_reference_data()
        inspector = factories.user("inspector", [factories.LAODIAN], username="bench-inspector")
        work = []
        for _ in range(HOUSEHOLDS):
            household = factories.household(members=2, latitude=HOUSEHOLD_LATITUDE,
                                            longitude=HOUSEHOLD_LONGITUDE)
            sampled = sample(household, inspector)
            work.append({"sampled_household_id": sampled.id, "fields": visit_fields(household)})
        questionnaire_id = questionnaires.current().id
        token, _row = tokens.issue(inspector, user_agent="bench/submit.py")
        db.session.commit()
        db.session.remove()
    answers = sum(1 for name in work[0]["fields"] if name not in (
        "latitude", "longitude", "accuracy_m", "fixed_at", "started_at", "submitted_at"))
    return {"token": token, "households": work, "answers": answers, "questionnaire_id": questionnaire_id}


def serve(database_uri: str, folder: str, port: int, threads: int) -> None:
    """Child process: serve the app and the constant endpoint as ``make run`` does, until killed."""
    from fieldapp.server import serve as production_serve

    app = make_app(database_uri, folder)

    @app.get("/bench/constant")
    def constant():
        return "ok"

    production_serve(app, host="127.0.0.1", port=port, threads=threads)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_server(port: int, child: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if child.poll() is not None:
            sys.exit(f"The server exited with status {child.returncode} before accepting connections.")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"The server did not accept connections on 127.0.0.1:{port} within 30 s.")


class Connection:
    """A keep-alive HTTP/1.1 connection that sends prepared requests and reads the status."""

    def __init__(self, port: int):
        self.port = port
        self.sock = None
        self.buffer = b""

    def request(self, raw: bytes) -> int:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        self.sock.sendall(raw)
        while b"\r\n\r\n" not in self.buffer:
            self._receive()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        closing = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                closing = True
        while len(self.buffer) < length:
            self._receive()
        self.buffer = self.buffer[length:]
        if closing:
            self.close()
        return status

    def _receive(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None


def visit_request(token: str, questionnaire_id: int, household: dict, photo_sha256: str) -> bytes:
    body = json.dumps({
        "client_uuid": str(uuid.uuid4()),
        "sampled_household_id": household["sampled_household_id"],
        "questionnaire_id": questionnaire_id,
        "fields": household["fields"],
        "photos": [{"client_uuid": str(uuid.uuid4()), "sha256": photo_sha256, "field": "house_photo"}],
    }).encode()
    head = (
        "POST /api/v1/visits HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nAccept-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


BARE_REQUEST = b"GET /bench/constant HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\n\r\n"


def load(port: int, make_request, expected: set[int]) -> dict:
    """Send requests from CLIENTS threads for DURATION_S; return the count, latencies and errors."""
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
    errors: list[list[str]] = [[] for _ in range(CLIENTS)]
    barrier = threading.Barrier(CLIENTS + 1)
    stop = threading.Event()

    def client(number: int):
        connection = Connection(port)
        counter = number
        barrier.wait()
        while not stop.is_set():
            raw = make_request(counter)
            counter += CLIENTS
            started = time.perf_counter()
            try:
                status = connection.request(raw)
            except (OSError, ValueError, IndexError) as error:
                errors[number].append(repr(error))
                connection.close()
                continue
            latencies[number].append(time.perf_counter() - started)
            if status not in expected:
                errors[number].append(f"HTTP {status}")
        connection.close()

    threads = [threading.Thread(target=client, args=(number,)) for number in range(CLIENTS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    time.sleep(DURATION_S)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    every = sorted(value for values in latencies for value in values)
    return {
        "requests": len(every),
        "per_second": len(every) / elapsed,
        "p50_ms": percentile(every, 0.50) * 1000,
        "p99_ms": percentile(every, 0.99) * 1000,
        "errors": [error for values in errors for error in values],
    }


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def report(name: str, result: dict) -> None:
    print(f"{name:<28} {result['requests']:>7} requests  {result['per_second']:>8.1f}/s  "
          f"p50 {result['p50_ms']:6.1f} ms  p99 {result['p99_ms']:6.1f} ms  errors {len(result['errors'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-uri", help="database to use (default: SQLite in a temporary folder)")
    parser.add_argument("--wipe", action="store_true", help="allow emptying the PostgreSQL database")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help=f"waitress threads (default {DEFAULT_THREADS}, as make run)")
    parser.add_argument("--serve", nargs=2, metavar=("FOLDER", "PORT"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()

    if arguments.serve:
        serve(arguments.database_uri, arguments.serve[0], int(arguments.serve[1]), arguments.threads)
        return

    with tempfile.TemporaryDirectory(prefix="fieldapp-bench-submit-") as folder:
        database_uri = arguments.database_uri or "sqlite:///" + os.path.join(folder, "bench.sqlite3")
        work = prepare(database_uri, folder, arguments.wipe)
        port = free_port()
        command = [sys.executable, __file__, "--serve", folder, str(port), "--database-uri", database_uri,
                   "--threads", str(arguments.threads)]
        child = subprocess.Popen(command, cwd=ROOT)
        try:
            wait_for_server(port, child)
            photo_sha256 = hashlib.sha256(b"photo sent later").hexdigest()
            households = work["households"]
            visits = load(port, lambda n: visit_request(work["token"], work["questionnaire_id"],
                                                        households[n % len(households)],
                                                        photo_sha256), expected={201})
            bare = load(port, lambda n: BARE_REQUEST, expected={200})
        finally:
            child.terminate()
            child.wait(timeout=10)

    database = "PostgreSQL" if database_uri.startswith("postgresql") else "SQLite"
    print(f"\nVisit uploads vs a bare endpoint: {CLIENTS} clients, {DURATION_S:.0f} s each, waitress with "
          f"{arguments.threads} threads, {database}, {work['answers']} answers per visit, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    report("POST /api/v1/visits", visits)
    report("GET /bench/constant (bare)", bare)
    ratio = visits["per_second"] / bare["per_second"] if bare["per_second"] else float("nan")
    print(f"ratio visits / bare: {ratio:.1%} (goal at least {RATIO_GOAL:.0%})")
    print(f"p99 latency of visits: {visits['p99_ms']:.1f} ms (goal under {P99_GOAL_MS:.0f} ms)")
    print(f"errors: {len(visits['errors']) + len(bare['errors'])} (goal none)")
    for error in sorted(set(visits["errors"] + bare["errors"]))[:10]:
        print(f"  {error}")
    met = (ratio >= RATIO_GOAL and visits["p99_ms"] < P99_GOAL_MS
           and not visits["errors"] and not bare["errors"])
    print("all goals met" if met else "GOALS NOT MET")


if __name__ == "__main__":
    main()
