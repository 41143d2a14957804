"""Time a 6,000-household sampling round over 100,000 households, against a numpy weighted draw.

Run with ``.venv/bin/python bench/sampling.py``; numpy comes with the test extras. The script
builds a temporary SQLite database (migrated like the application's), fills it by direct
inserts with 100,000 households spread over Binzhou's villages and about 70,000 open
suspected problems whose density differs from township to township, then times:

- the whole round: ``create_round`` with probability proportional to the problem score,
  strata by township and allocation by score, from reading the weights to writing the
  6,000 households and their reserve lists, and the commit;
- the draw alone (``methods.draw`` on the frame already read);
- the same weighted random keys over the unstratified frame, and
  ``numpy.random.Generator.choice(..., replace=False, p=...)`` drawing the same number of
  households from the same weights, both measured in this run.

Each figure is the median of ``--repeat`` runs (default 5). The goal for the whole round is
under one second.
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from fieldapp import create_app  # noqa: E402
from fieldapp.checks.models import SuspectedProblem  # noqa: E402
from fieldapp.divisions import services as division_services  # noqa: E402
from fieldapp.divisions.models import Division  # noqa: E402
from fieldapp.extensions import db  # noqa: E402
from fieldapp.register.models import Household  # noqa: E402
from fieldapp.sampling import methods, services  # noqa: E402
from fieldapp.sampling.population import Exclusions, read_frame  # noqa: E402

HOUSEHOLDS = 100_000
SAMPLE = 6_000
SEED = 20240601
GOAL_SECONDS = 1.0


def fill(households: int, generator: random.Random) -> list[Division]:
    """Insert the households and their suspected problems; return the counties sampled."""
    villages = db.session.execute(
        select(Division.code).where(Division.level == "village").order_by(Division.code)
    ).scalars().all()
    townships = sorted({code[:9] for code in villages})
    # Problem density differs by township: the mean number of problems a household has.
    density = {township: generator.choice((0.2, 0.4, 0.7, 1.2, 2.0)) for township in townships}
    now = datetime.now(UTC)

    household_rows = []
    for number in range(1, households + 1):
        village = villages[generator.randrange(len(villages))]
        household_rows.append({
            "id": number, "household_no": f"B{number:08d}", "is_demo": False, "division_code": village,
            "county_code": village[:6] + "000000", "township_code": village[:9] + "000",
            "household_type": generator.choice(("脱贫户", "脱贫户", "监测对象")), "village": village,
            "risks": [], "help_measures": [], "extra": {},
        })
    db.session.execute(insert(Household), household_rows)

    problem_rows = []
    for row in household_rows:
        mean = density[row["division_code"][:9]]
        count = sum(1 for _ in range(5) if generator.random() < mean / 5)
        for index in range(count):
            problem_rows.append({
                "key": f"bench:{row['id']}:{index}", "rule_id": "bench", "severity": generator.randint(1, 3),
                "household_id": row["id"], "detail": "", "detail_values": {}, "status": "open",
                "first_seen_at": now, "last_seen_at": now,
            })
    db.session.execute(insert(SuspectedProblem), problem_rows)
    db.session.commit()
    print(f"filled {households} households, {len(problem_rows)} open suspected problems, "
          f"{len(townships)} townships")
    return list(db.session.execute(select(Division).where(Division.level == "county")).scalars())


def timed(function, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=HOUSEHOLDS)
    parser.add_argument("--size", type=int, default=SAMPLE)
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fieldapp-bench-") as folder:
        app = create_app({
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.sqlite3",
            "SECRET_KEY": "bench-only",
            "UPLOAD_FOLDER": f"{folder}/uploads",
        })
        with app.app_context():
            upgrade()
            division_services.import_divisions(division_services.bundled_divisions_text())
            db.session.commit()
            counties = fill(arguments.households, random.Random(1))
            run(counties, arguments.size, arguments.repeat)


def run(counties: list[Division], size: int, repeat: int) -> None:
    options = services.RoundOptions(stratum_level="township", allocation="score", reserves=5)
    codes = [county.code for county in counties]
    rounds = iter(range(1, repeat + 1))

    def whole_round():
        sampling_round = services.create_round(f"bench {next(rounds)}", codes, size, SEED, user=None,
                                               method="stratified_pps", options=options)
        db.session.commit()
        return sampling_round

    round_seconds, sampling_round = timed(whole_round, repeat)

    def read():
        return read_frame(counties, "township", Exclusions(), user=None, is_demo=False,
                          as_of=datetime.now(UTC))

    read_seconds, frame = timed(read, repeat)
    spec = methods.DrawSpec(size=size, method="stratified_pps", allocation="score", reserves=5)
    draw_seconds, drawn = timed(lambda: methods.draw(frame.units, spec, SEED), repeat)

    units = [unit for stratum in frame.units.values() for unit in stratum]
    keys_seconds, _ = timed(lambda: methods.order_by_weighted_keys(random.Random(SEED), units, size), repeat)
    scored = numpy.array([unit.score for unit in units if unit.score > 0], dtype=float)
    probabilities = scored / scored.sum()
    rng = numpy.random.default_rng(SEED)
    numpy_seconds, _ = timed(lambda: rng.choice(len(scored), size=size, replace=False, p=probabilities),
                             repeat)

    households = len(sampling_round.sampled_households)
    print(f"round: {households} households and {len(sampling_round.reserves)} reserves drawn from "
          f"{frame.eligible} households in {len(frame.units)} townships (median of {repeat})")
    print(f"whole round (read weights, draw, write, commit): {round_seconds * 1000:8.1f} ms  "
          f"goal < {GOAL_SECONDS * 1000:.0f} ms: {'met' if round_seconds < GOAL_SECONDS else 'NOT met'}")
    print(f"  reading the frame and weights:                 {read_seconds * 1000:8.1f} ms")
    print(f"  stratified draw (allocation, keys, reserves):  {draw_seconds * 1000:8.1f} ms")
    print(f"weighted keys, one stratum of {len(units)}:         {keys_seconds * 1000:8.1f} ms")
    print(f"numpy Generator.choice, same size and weights:   {numpy_seconds * 1000:8.1f} ms  "
          f"(weighted keys / numpy = {keys_seconds / numpy_seconds:.1f}; "
          f"stratified draw / numpy = {draw_seconds / numpy_seconds:.1f})")
    coverage = sampling_round.parameters
    print(f"problems covered: {coverage['problems_drawn']} of {coverage['problems_total']}; "
          f"uniform sample of the same size: {coverage['problems_uniform']:.0f} expected; "
          f"{len(drawn.households)} households in the draw alone")


if __name__ == "__main__":
    main()
