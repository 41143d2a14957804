"""Time the register import, the registry imports and the data checks at city scale.

Run with ``.venv/bin/python bench/checks.py`` (SQLite in a temporary folder), or with
``--database-uri postgresql+psycopg://postgres@127.0.0.1:5432/NAME --wipe`` for an empty
PostgreSQL database that the script may wipe. The script takes four steps.

1. It writes a register export of 100,000 households and 240,000 members in the shape of
   the monitoring system's member export, with problems planted at known rates. It also
   writes six registries (房产, 车辆, 低保, 工商登记, 财政供养, 死亡人员) of 50,000 rows each,
   in which a known set of members is planted, some with a lower-case x or full-width digits.
2. It imports them with the application's importers (``register.services.import_register``
   and ``checks.registries.import_registry``). As the baseline of each file it measures, in
   the same run, reading the file with python-calamine and inserting the same rows with the
   standard library's ``sqlite3.executemany`` into one table in a temporary SQLite file. Each
   file is read once, untimed, before either. A registry and its baseline are timed three
   times each and the fastest times count; the register, which takes 20 s, once.
3. It runs the cross-check rules alone (writing their problems), then every rule and
   cross-check (writing every problem), then every rule again (nothing changed). One bare
   SQL join of the members to the registry records, the fastest of three, is the baseline
   of the cross-checks. On PostgreSQL the tables are analysed first, as autovacuum would.
   The first run is also shown in its two parts: the cross-check steps, and saving the
   problems. Beside them, an executemany of the same problem rows into an empty copy of
   their table shows what writing those rows costs with nothing else done.
4. It checks that every planted cross-check hit was found, and prints each step's time and
   the ratios. Goals: each import at most 2 times its baseline, the cross-checks at most 3
   times the bare join, a whole check run under 10 s.
"""

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import xlsxwriter  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from python_calamine import CalamineWorkbook  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from fieldapp import create_app, idnumbers  # noqa: E402
from fieldapp.checks import batch_use, registries, services  # noqa: E402
from fieldapp.checks import settings as check_settings  # noqa: E402
from fieldapp.checks.models import RegistryRecord, SuspectedProblem  # noqa: E402
from fieldapp.checks.rules import RULES, RunContext  # noqa: E402
from fieldapp.divisions import services as division_services  # noqa: E402
from fieldapp.extensions import db  # noqa: E402
from fieldapp.register import services as register_services  # noqa: E402
from fieldapp.register.models import Member  # noqa: E402

SEED = 20261130
HOUSEHOLDS = 100_000
REGISTRY_ROWS = 50_000
EXPORT_DATE = date(2026, 11, 30)
IMPORT_GOAL, CROSS_GOAL, RUN_GOAL_S = 2.0, 3.0, 10.0
# Timings of each registry import and of its baseline; the fastest counts.
REGISTRY_REPEATS = 3

HEADERS = [
    "序号", "省(区、市)", "市(地、州、盟)", "县(市、区、旗)", "乡(镇)", "行政村", "行政区划代码", "户编号",
    "户类型", "监测对象类别", "脱贫年度", "风险是否消除", "致贫返贫风险1", "致贫返贫风险2", "家庭人口数",
    "年人均纯收入(元)", "工资性收入(元)", "生产经营性收入(元)", "财产性收入(元)", "转移性收入(元)",
    "生产经营性支出(元)", "合规自付支出(元)", "是否危房户", "是否解决安全饮用水", "是否有卫生厕所",
    "户联系电话", "帮扶责任人", "帮扶措施", "经度", "纬度", "姓名", "证件类型", "证件号码", "与户主关系",
    "性别", "出生日期", "民族", "文化程度", "在校生状况", "义务教育阶段未上学原因", "健康状况", "劳动技能",
    "务工时间(月)", "务工地点", "是否参加城乡居民基本医疗保险", "是否参加大病保险",
    "是否参加城乡居民基本养老保险", "是否享受低保", "是否特困供养",
]
TITLE = f"全国防止返贫监测信息系统 家庭成员信息导出（数据截至 {EXPORT_DATE:%Y年%m月%d日}）"
# Household sizes drawn in turn; their mean is 2.4, so 100,000 households have 240,000 members.
SIZES = (1, 2, 2, 3, 2, 3, 4, 2, 3, 2)
RISKS = ("", "因病", "因残", "因学", "缺劳动力", "因务工就业不稳", "因意外事故")
RELATIONS = ("户主", "配偶", "之子", "之女", "之孙子", "之孙女")
LABOUR = ("普通劳动力", "技能劳动力", "弱劳动力或半劳动力")
SURNAMES, GIVEN_NAMES = ("张", "王", "李", "赵"), ("伟", "芳", "娜", "强", "磊")

# Registry kind -> (headers, members planted at the full size).
REGISTRY_SPECS = {
    "房产": (["姓名", "证件号码", "坐落地址", "建筑面积(平方米)", "登记日期"], 6000),
    "车辆": (["所有人姓名", "身份证明号码", "号牌号码", "车辆类型", "初次登记日期"], 6000),
    "低保": (["姓名", "身份证号码", "保障类别", "月保障金额(元)", "保障起始日期"], 5000),
    "工商登记": (["姓名", "证件号码", "市场主体名称", "统一社会信用代码", "人员身份"], 3000),
    "财政供养": (["姓名", "身份证号", "单位名称", "人员类别"], 2000),
    "死亡人员": (["姓名", "公民身份号码", "死亡日期", "户籍状态"], 1000),
}


# -- generating the files ----------------------------------------------------


def make_id(region: str, born: date, sequence: int) -> str:
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    return first17 + idnumbers.check_character(first17)


def villages_of(counties: tuple[str, ...]) -> list[tuple[str, str, str, str]]:
    """Return (code, county, township, village) of each village of ``counties`` in the bundled list."""
    rows = division_services.read_division_rows(division_services.bundled_divisions_text())
    names = {row["code"]: row["name"] for row in rows}
    return [
        (row["code"], names[row["code"][:6] + "000000"], names[row["code"][:9] + "000"], row["name"])
        for row in rows
        if row["level"] == "village" and row["code"][:6] in counties
    ]


def generate_register(path: str, generator: random.Random, households: int) -> dict:
    """Write the register export; return its members as (id number, is dibao) and the planted counts."""
    villages = villages_of(("371621", "371622", "371623", "371625", "371681"))
    sizes = [SIZES[index % len(SIZES)] for index in range(households)]
    generator.shuffle(sizes)
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_numbers": False})
    sheet = workbook.add_worksheet("监测对象信息")
    sheet.write_string(0, 0, TITLE)
    for column, header in enumerate(HEADERS):
        sheet.write_string(1, column, header)

    used: set[str] = set()
    members: list[tuple[str, bool]] = []
    planted = {"check_character": 0, "birth_date": 0, "sex": 0, "head_missing": 0, "duplicate": 0}
    row_no = 2
    for number, size in enumerate(sizes):
        code, county, township, village = villages[generator.randrange(len(villages))]
        risk = generator.choice(RISKS)
        low_income = generator.random() < 0.01
        income = generator.randint(1000, 9000) if low_income else generator.randint(9000, 26000)
        household = [
            "山东省", "滨州市", county, township, village, code, f"{code}{number:05d}",
            generator.choice(("脱贫户", "脱贫户", "监测对象")), "", 2017 + number % 6, "", risk, "", size,
            income, income * size * 1.2, income * size * 0.3, 0, income * size * 0.2, 0, 0,
            "是" if generator.random() < 0.002 else "否", "否" if generator.random() < 0.002 else "是",
            "否" if generator.random() < 0.002 else "是", f"138{number:08d}", "程国佳", "产业帮扶、健康帮扶",
            117.5, 37.5,
        ]
        no_head = generator.random() < 0.003
        planted["head_missing"] += no_head
        for index in range(size):
            born = date(1940, 1, 1) + timedelta(days=generator.randrange(30_000))
            sex = generator.choice(("男", "女"))
            while True:
                sequence = generator.randrange(1, 500) * 2 - (1 if sex == "男" else 0)
                id_number = make_id(code[:6], born, sequence)
                if id_number not in used:
                    break
            used.add(id_number)
            recorded_born, recorded_sex = born, sex
            roll = generator.random()
            if roll < 0.003:
                id_number = id_number[:17] + ("0" if id_number[17] != "0" else "1")
                planted["check_character"] += 1
            elif roll < 0.006:
                recorded_born = born + timedelta(days=40)
                planted["birth_date"] += 1
            elif roll < 0.009:
                recorded_sex = "女" if sex == "男" else "男"
                planted["sex"] += 1
            elif roll < 0.011 and members:
                id_number = members[generator.randrange(len(members))][0]
                planted["duplicate"] += 1
            age = EXPORT_DATE.year - born.year
            school = ""
            if 6 <= age <= 15 and generator.random() < 0.97:
                school = "小学" if age <= 11 else "七年级"
            relation = "之子" if no_head and index == 0 else RELATIONS[min(index, len(RELATIONS) - 1)]
            dibao = len(members) % 60 == 0
            name = generator.choice(SURNAMES) + generator.choice(GIVEN_NAMES)
            labour = "无劳动力" if school else generator.choice(LABOUR)
            member = [
                name, "居民身份证", id_number, relation, recorded_sex, f"{recorded_born:%Y%m%d}", "汉族",
                "初中", school, "", "健康" if generator.random() < 0.95 else "长期慢性病", labour,
                0 if school else generator.randint(0, 12), "县内",
                "否" if generator.random() < 0.003 else "是", "是", "是", "是" if dibao else "否", "否",
            ]
            members.append((id_number, dibao))
            sheet.write_row(row_no, 0, [row_no - 1, *household, *member])
            row_no += 1
    workbook.close()
    return {"members": members, "planted": planted}


def generate_registries(folder: str, members: list[tuple[str, bool]], generator: random.Random,
                        scale: float) -> dict:
    """Write the six registries; return the planted member ID numbers of each kind.

    Three quarters of the members the register marks as receiving 低保 are listed in the 低保 registry.
    """
    planted: dict[str, set[str]] = {}
    register_dibao = [id_number for id_number, dibao in members if dibao]
    listed_dibao = register_dibao[: len(register_dibao) * 3 // 4]
    rows_per_registry = int(REGISTRY_ROWS * scale)
    others = [id_number for id_number, _ in members]
    outside = 0
    for kind, (headers, hits) in REGISTRY_SPECS.items():
        chosen = set(generator.sample(others, int(hits * scale)))
        if kind == "低保":
            chosen |= set(listed_dibao)
        planted[kind] = chosen
        rows = []
        for id_number in chosen:
            written = id_number
            roll = generator.random()
            if roll < 0.01 and written.endswith("X"):
                written = written[:-1] + "x"
            elif roll < 0.02:
                written = written.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
            rows.append(written)
        while len(rows) < rows_per_registry:
            outside += 1
            born = date(1950, 1, 1) + timedelta(days=outside % 20_000)
            rows.append(make_id("371602", born, outside // 20_000 * 2 + 1))
        generator.shuffle(rows)
        path = os.path.join(folder, f"{kind}.xlsx")
        workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_numbers": False})
        sheet = workbook.add_worksheet(kind)
        sheet.write_row(0, 0, headers)
        for line, id_number in enumerate(rows, start=1):
            details = [f"{kind}{line}", round(generator.uniform(50, 150), 2), f"2023-0{line % 9 + 1}-15"]
            sheet.write_row(line, 0, ["张三", id_number, *details[: len(headers) - 2]])
        workbook.close()
    return planted


def generate_files(workdir: str, generator: random.Random, households: int, scale: float):
    """Write the register and the registries, or reuse those a run with the same size left in ``workdir``."""
    manifest = os.path.join(workdir, f"planted-{households}.json")
    if os.path.exists(manifest):
        with open(manifest, encoding="utf-8") as handle:
            saved = json.load(handle)
        planted = {kind: set(id_numbers) for kind, id_numbers in saved["planted"].items()}
        members = [tuple(member) for member in saved["members"]]
        return {"members": members, "planted": saved["register"]}, planted
    generated = generate_register(os.path.join(workdir, "register.xlsx"), generator, households)
    planted = generate_registries(workdir, generated["members"], generator, scale)
    with open(manifest, "w", encoding="utf-8") as handle:
        json.dump({"members": generated["members"], "register": generated["planted"],
                   "planted": {kind: sorted(id_numbers) for kind, id_numbers in planted.items()}}, handle)
    return generated, planted


# -- baselines ---------------------------------------------------------------


def baseline_import(path: str, header_row: int) -> float:
    """Read the file with calamine and insert its rows with sqlite3 executemany; return the seconds."""
    started = time.perf_counter()
    workbook = CalamineWorkbook.from_path(path)
    rows = workbook.get_sheet_by_name(workbook.sheet_names[0]).iter_rows()
    for _ in range(header_row):
        header = next(rows)
    width = len(header)
    names = [f"c{index}" for index in range(width)]
    create = "CREATE TABLE t (id INTEGER PRIMARY KEY, " + ", ".join(f"{name} TEXT" for name in names) + ")"
    # The names are generated above, not taken from input.
    insert = "INSERT INTO t (" + ", ".join(names) + ") VALUES (" + ", ".join("?" for _ in names) + ")"  # noqa: S608
    with tempfile.TemporaryDirectory() as folder:
        connection = sqlite3.connect(os.path.join(folder, "baseline.sqlite3"))
        connection.execute(create)
        values = ([None if value == "" else value for value in row[:width]] for row in rows)
        connection.executemany(insert, values)
        connection.commit()
        connection.close()
    return time.perf_counter() - started


def bare_join_seconds(repeats: int = 3) -> tuple[float, int]:
    """Time one join of every member to every registry record by ID number; return seconds and rows.

    The join is timed ``repeats`` times and the fastest time is the baseline.
    """
    stmt = (
        select(Member.id, RegistryRecord.id)
        .join(RegistryRecord, RegistryRecord.id_number == Member.id_number)
    )
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        rows = db.session.execute(stmt).all()
        times.append(time.perf_counter() - started)
    return min(times), len(rows)


def raw_insert_seconds(rule_ids: set[str]) -> tuple[float, int]:
    """Time inserting the stored problems of ``rule_ids`` again, as plain rows, into an empty copy.

    The copy has the same columns, constraints, indexes and foreign keys. The rows are
    read first, untimed, as the driver gives them, and inserted with the driver's
    executemany. This is what writing the new problems of a run costs with nothing else
    done. Returns the seconds and the rows.
    """
    source = SuspectedProblem.__table__
    copy = source.to_metadata(db.metadata, name="bench_problems")
    # Constraint and index names are unique in a PostgreSQL schema and a SQLite database.
    for item in (*copy.constraints, *copy.indexes):
        if isinstance(item.name, str):
            item.name = item.name.replace(source.name, copy.name)
    connection = db.session.connection()
    postgres = connection.dialect.name == "postgresql"
    names = [column.name for column in source.columns if column.name != "id"]
    quoted = [f'"{name}"' for name in names]
    # JSON as text, as the run writes it. The names and rule ids are the application's constants.
    as_text = {'"detail_values"'} if postgres else set()
    selected = ", ".join(f"{name}::text" if name in as_text else name for name in quoted)
    rule_list = ", ".join(f"'{rule_id}'" for rule_id in sorted(rule_ids))
    rows = connection.exec_driver_sql(
        f"SELECT {selected} FROM {source.name} WHERE rule_id IN ({rule_list}) "  # noqa: S608
        "ORDER BY household_id, member_id"
    ).all()
    marker = "%s" if postgres else "?"
    insert = (f"INSERT INTO {copy.name} ({', '.join(quoted)}) "  # noqa: S608
              f"VALUES ({', '.join(marker for _ in names)})")
    copy.create(connection)
    try:
        started = time.perf_counter()
        connection.exec_driver_sql(insert, [tuple(row) for row in rows])
        db.session.commit()
        elapsed = time.perf_counter() - started
    finally:
        copy.drop(db.session.connection())
        db.session.commit()
        db.metadata.remove(copy)
    return elapsed, len(rows)


def cross_query_seconds(repeats: int = 3) -> float:
    """Time the queries of the cross-check rules alone, as the run builds them, fetching every row.

    Rules with a shared query are found by that query once, as the run does. Like the bare
    join, the queries are timed ``repeats`` times and the fastest time is returned.
    """
    context = RunContext(scope=services.scope_clause(False, None), is_demo=False,
                         settings=check_settings.load(False), batches=batch_use.batches_in_use(False))
    cross = [rule for rule in RULES.values() if rule.is_cross_check]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        shared_done = set()
        for rule in cross:
            if rule.shared_query is None:
                db.session.connection().execute(rule.query(context)).all()
            elif rule.shared_query not in shared_done:
                shared_done.add(rule.shared_query)
                group = [other for other in cross if other.shared_query is rule.shared_query]
                db.session.connection().execute(rule.shared_query(context, group)).all()
        times.append(time.perf_counter() - started)
    return min(times)


# -- the run -----------------------------------------------------------------


class RuleTimer:
    """Record how long each rule of a run took, from the progress calls."""

    def __init__(self):
        self.times: dict[str, float] = {}
        self.current, self.started = None, None

    def __call__(self, step: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if self.current is not None:
            self.times[self.current] = now - self.started
        self.current, self.started = step, now

    def finish(self) -> None:
        self(None, 0, 0)


def timed_run() -> tuple[float, services.CheckRunSummary, RuleTimer]:
    """Run every enabled rule over every division and commit; return the seconds, summary and rule times."""
    timer = RuleTimer()
    started = time.perf_counter()
    summary = services.run_checks(progress=timer)
    db.session.commit()
    elapsed = time.perf_counter() - started
    timer.finish()
    return elapsed, summary, timer


def set_enabled(rule_ids: set[str]) -> None:
    check_settings.save({}, rule_ids, list(RULES), is_demo=False, user=None)
    db.session.commit()


def prepare_database(app, wipe: bool) -> None:
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            if not wipe:
                raise SystemExit("Pass --wipe to let the benchmark drop and recreate the schema of that "
                                 "database.")
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        upgrade()
        division_services.import_divisions(division_services.bundled_divisions_text())
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-uri",
                        help="Database to fill (default: a SQLite file in a temporary folder).")
    parser.add_argument("--wipe", action="store_true",
                        help="Allow dropping the schema of a PostgreSQL database.")
    parser.add_argument("--workdir", help="Folder for the generated files (default: a temporary folder); a "
                                          "later run with the same --households reuses them.")
    parser.add_argument("--households", type=int, default=HOUSEHOLDS,
                        help="Households in the register (default 100000); members, registry rows and "
                             "planted hits scale with it.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temporary:
        workdir = args.workdir or temporary
        os.makedirs(workdir, exist_ok=True)
        uri = args.database_uri or "sqlite:///" + os.path.join(temporary, "bench.sqlite3")
        run(uri, workdir, args.wipe, args.households)


def run(uri: str, workdir: str, wipe: bool, households: int) -> None:
    scale = households / HOUSEHOLDS
    generator = random.Random(SEED)
    register_path = os.path.join(workdir, "register.xlsx")
    started = time.perf_counter()
    generated, planted = generate_files(workdir, generator, households, scale)
    members, registry_rows = len(generated["members"]), int(REGISTRY_ROWS * scale)
    print(f"{households} households, {members} members and 6 registries of {registry_rows} rows ready "
          f"in {time.perf_counter() - started:.1f} s (not part of any ratio)")

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "bench", "REGISTER_MAX_ROWS": 1_000_000})
    prepare_database(app, wipe)
    results: list[tuple[str, float, float | None, float | None]] = []
    with app.app_context():
        print(f"database: {db.engine.dialect.name}")
        import_files(register_path, workdir, members, registry_rows, results)
        if db.engine.dialect.name == "postgresql":
            # A PostgreSQL server analyses new tables through autovacuum, which may be off on a test
            # server. Without statistics the bare join sorted both tables on disk and took 3 to 5
            # times as long, a baseline that no installation would see.
            db.session.execute(text("ANALYZE"))
            db.session.commit()

        cross = {rule_id for rule_id, rule in RULES.items() if rule.is_cross_check}
        set_enabled(cross)
        cross_seconds, _, cross_timer = timed_run()
        join_seconds, join_rows = bare_join_seconds()
        results.append(("cross-checks alone, first run (writes their problems)", cross_seconds, join_seconds,
                        CROSS_GOAL))
        steps = sum(seconds for step, seconds in cross_timer.times.items() if step in cross)
        saving = cross_timer.times[services.SAVING_STEP]
        insert_seconds, inserted = raw_insert_seconds(cross)
        results += [
            ("  of which the cross-check steps (queries and hits)", steps, join_seconds, CROSS_GOAL),
            ("  of which saving their problems", saving, None, None),
            (f"  for comparison: executemany of those {inserted} rows", insert_seconds, None, None),
        ]
        set_enabled(set(RULES))
        first_seconds, first, first_timer = timed_run()
        results.append(("every rule, first run (writes the other problems)", first_seconds, None, RUN_GOAL_S))
        second_seconds, second, second_timer = timed_run()
        results.append(("every rule, re-run (nothing changed)", second_seconds, None, RUN_GOAL_S))
        cross_steps = sum(seconds for rule_id, seconds in second_timer.times.items() if rule_id in cross)
        results.append(("cross-check steps within the re-run (queries and hits)", cross_steps, join_seconds,
                        CROSS_GOAL))
        results.append(("cross-check queries alone (every row fetched)", cross_query_seconds(), join_seconds,
                        CROSS_GOAL))

        report(results, first, second, first_timer, join_rows)
        print(f"planted in the register: {generated['planted']}")
        verify(planted, {id_number for id_number, dibao in generated["members"] if dibao})


def read_untimed(path: str) -> None:
    """Read a file's first sheet with calamine once, so that neither timed read of it is the first.

    After the baseline's read of the register, the next read of a registry took 0.1 s longer than
    the reads after it, whether the import or the baseline made it.
    """
    workbook = CalamineWorkbook.from_path(path)
    workbook.get_sheet_by_name(workbook.sheet_names[0]).to_python()


def import_files(register_path: str, workdir: str, members: int, registry_rows: int, results: list) -> None:
    read_untimed(register_path)
    started = time.perf_counter()
    register_services.import_register(register_path)
    db.session.commit()
    elapsed = time.perf_counter() - started
    results.append((f"register import ({members} rows)", elapsed, baseline_import(register_path, 2),
                    IMPORT_GOAL))
    for kind in REGISTRY_SPECS:
        path = os.path.join(workdir, f"{kind}.xlsx")
        read_untimed(path)
        # A registry import takes about 0.5 s, so one timing moved its ratio by a fifth between runs. Like
        # the bare join, the import and its baseline are timed REGISTRY_REPEATS times and the fastest
        # counts. The earlier batches are deleted, untimed, so the checks read one batch of each kind.
        times, batches = [], []
        for _ in range(REGISTRY_REPEATS):
            started = time.perf_counter()
            batches.append(registries.import_registry(path, kind))
            db.session.commit()
            times.append(time.perf_counter() - started)
        for batch in batches[:-1]:
            registries.delete_batch(batch, user=None)
        db.session.commit()
        baseline = min(baseline_import(path, 1) for _ in range(REGISTRY_REPEATS))
        results.append((f"registry import {kind} ({registry_rows} rows)", min(times), baseline, IMPORT_GOAL))


def report(results, first, second, timer: RuleTimer, join_rows: int) -> None:
    print()
    print(f"{'step':<58} {'seconds':>8} {'baseline':>9} {'ratio':>6}  goal")
    for label, seconds, baseline, goal in results:
        if baseline is None:
            # Without a baseline the goal, if any, is a time in seconds.
            goal_text = "" if goal is None else f"< {goal:.0f} s {'met' if seconds < goal else 'MISSED'}"
            print(f"{label:<58} {seconds:8.2f} {'':>9} {'':>6}  {goal_text}".rstrip())
            continue
        ratio = seconds / baseline
        print(f"{label:<58} {seconds:8.2f} {baseline:9.2f} {ratio:6.2f}  <= {goal:.0f}x "
              f"{'met' if ratio <= goal else 'MISSED'}")
    print(f"(baseline of the cross-checks: one join of members to registry records, {join_rows} rows)")
    print()
    print(f"first run: {first.opened} problems opened; re-run: {second.kept} kept, {second.opened} opened, "
          f"{second.resolved} resolved")
    slowest = sorted(timer.times.items(), key=lambda item: -item[1])[:8]
    steps = ", ".join(f"{step} {seconds:.2f} s" for step, seconds in slowest)
    print(f"slowest steps of the first full run: {steps}")


def verify(planted: dict[str, set[str]], register_dibao: set[str]) -> None:
    """Check that every planted registry hit became a suspected problem of its kind."""
    kind_rules = {rule.registry_kind: rule_id for rule_id, rule in RULES.items()
                  if rule.is_cross_check and rule_id != "cross_dibao_register_only"}
    for kind, id_numbers in planted.items():
        rule_id = kind_rules[kind]
        found = set(db.session.execute(
            select(Member.id_number)
            .join(SuspectedProblem, SuspectedProblem.member_id == Member.id)
            .where(SuspectedProblem.rule_id == rule_id, SuspectedProblem.status == "open")
        ).scalars())
        if kind == "低保":
            expected = id_numbers - register_dibao
        else:
            expected = id_numbers
        missing = len(expected - found)
        print(f"{kind}: {len(expected)} planted, {len(found & expected)} found, {missing} missing, "
              f"{len(found - expected)} not planted")
    register_only = db.session.execute(
        select(func.count()).select_from(SuspectedProblem)
        .where(SuspectedProblem.rule_id == "cross_dibao_register_only")
    ).scalar_one()
    listed = planted["低保"] & register_dibao
    print(f"低保 in the register, not in the registry: {register_only} found, "
          f"{len(register_dibao - listed)} planted")


if __name__ == "__main__":
    main()
