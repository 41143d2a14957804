"""Importing again: the same file changes nothing, a newer export updates by 户编号 and ID number."""

import time
from decimal import Decimal

from sqlalchemy import event, func, select

from fieldapp.audit.models import AuditRecord
from fieldapp.checks.models import SuspectedProblem
from fieldapp.checks.services import run_checks
from fieldapp.extensions import db
from fieldapp.register import services
from fieldapp.register.models import Household, Member
from fieldapp.visits.models import VerificationOutcome
from tests import factories
from tests.register import builders
from tests.review.conftest import make_round, make_visit


def household_by_no(number: str) -> Household:
    return db.session.execute(select(Household).where(Household.household_no == number)).scalar_one()


def test_reimport_changes_nothing(tmp_path, english):
    rows = builders.household_rows(1, members=3) + builders.household_rows(2, members=2)
    rows[0]["备注"] = "低保边缘"
    path = builders.write_xlsx(tmp_path / "same.xlsx", rows, headers=builders.HEADERS + ["备注"])
    first = services.import_register(path)
    member_ids = set(db.session.execute(select(Member.id)).scalars())

    second = services.import_register(path)

    assert (first.households_added, first.members_added) == (2, 5)
    assert (second.households_added, second.households_updated, second.households_unchanged) == (0, 0, 2)
    assert (second.members_added, second.members_updated, second.members_unchanged) == (0, 0, 5)
    assert second.members_removed == 0
    assert db.session.execute(select(func.count(Household.id))).scalar_one() == 2
    assert set(db.session.execute(select(Member.id)).scalars()) == member_ids
    assert household_by_no(f"{builders.VILLAGE}00001").register_import_id == first.id


def test_newer_export_updates(tmp_path, english):
    old = builders.household_rows(3, members=3) + builders.household_rows(4, members=2)
    services.import_register(builders.write_xlsx(tmp_path / "old.xlsx", old))
    original = household_by_no(f"{builders.VILLAGE}00003")
    original_member_ids = [member.id for member in original.members]

    new = builders.household_rows(3, members=3, **{"年人均纯收入(元)": 18000.5})
    new[1]["健康状况"] = "长期慢性病"
    removed = new.pop(2)
    newcomer = {**new[0], "姓名": "新生儿", "证件号码": factories.id_number("20250101", 11),
                "与户主关系": "之孙子"}
    new.append(newcomer)
    new += builders.household_rows(4, members=2)
    new += builders.household_rows(5, members=1)
    record = services.import_register(builders.write_xlsx(tmp_path / "new.xlsx", new,
                                                          title_rows=("（数据截至 2026年10月31日）",)))

    assert (record.households_added, record.households_updated, record.households_unchanged) == (1, 1, 1)
    assert (record.members_added, record.members_updated, record.members_unchanged) == (2, 1, 3)
    assert record.members_removed == 1
    household = household_by_no(f"{builders.VILLAGE}00003")
    assert household.id == original.id
    assert household.per_capita_net_income == Decimal("18000.50")
    assert household.updated_at is not None
    assert household.register_import_id == record.id
    by_id = {member.id_number: member for member in household.members}
    assert removed["证件号码"] not in by_id
    assert by_id[new[1]["证件号码"]].health == "长期慢性病"
    assert by_id[new[1]["证件号码"]].id == original_member_ids[1]
    assert by_id[newcomer["证件号码"]].name == "新生儿"
    assert [member.name for member in household.members] == ["成员3-0", "成员3-1", "新生儿"]
    assert household_by_no(f"{builders.VILLAGE}00004").updated_at is None
    summary = services.summary_lines(record)
    assert "1 removed" in summary[1]
    assert "2026-10-31" in summary[2]


def test_member_with_verdict_removed(tmp_path, english):
    rows = builders.household_rows(7, members=2)
    services.import_register(builders.write_xlsx(tmp_path / "a.xlsx", rows))
    household = household_by_no(f"{builders.VILLAGE}00007")
    leaving = household.members[1]
    leaving_name = leaving.name
    problem = SuspectedProblem(key=f"id_sex_mismatch:{household.id}:{leaving.id}", rule_id="id_sex_mismatch",
                               household=household, member=leaving, detail="性别与证件号码不符")
    db.session.add(problem)
    db.session.flush()
    visit = make_visit(make_round("第一批", [household]).sampled_households[0], factories.user("inspector"))
    visit.outcomes.append(VerificationOutcome(suspected_problem_id=problem.id, outcome="confirmed"))
    db.session.flush()

    record = services.import_register(builders.write_xlsx(tmp_path / "b.xlsx", rows[:1]))
    run_checks()

    assert record.members_removed == 1
    db.session.expire_all()
    stored = db.session.get(SuspectedProblem, problem.id)
    assert stored.member_id is None
    assert stored.former_member_name == leaving_name
    assert stored.member_name == leaving_name
    assert stored.status == "resolved_by_data"
    assert [outcome.suspected_problem_id for outcome in visit.outcomes] == [problem.id]


def test_households_missing_from_file_kept(tmp_path, english):
    services.import_register(builders.write_xlsx(tmp_path / "a.xlsx", builders.household_rows(6, members=1)))

    services.import_register(builders.write_xlsx(tmp_path / "b.xlsx", builders.household_rows(7, members=1)))

    assert household_by_no(f"{builders.VILLAGE}00006").members[0].name == "成员6-0"


def test_duplicate_id_in_household_kept(tmp_path, english):
    rows = builders.household_rows(8, members=3)
    rows[2]["证件号码"] = rows[1]["证件号码"]
    path = builders.write_xlsx(tmp_path / "twice.xlsx", rows)

    services.import_register(path)
    again = services.import_register(path)

    members = household_by_no(f"{builders.VILLAGE}00008").members
    assert [member.name for member in members] == ["成员8-0", "成员8-1", "成员8-2"]
    assert members[1].id_number == members[2].id_number
    assert (again.members_unchanged, again.members_added, again.members_removed) == (3, 0, 0)


def test_demo_and_real_kept_apart(tmp_path, english):
    path = builders.write_xlsx(tmp_path / "both.xlsx", builders.household_rows(9, members=1))

    services.import_register(path)
    demo = services.import_register(path, is_demo=True)

    assert demo.households_added == 1
    flags = db.session.execute(select(Household.is_demo).where(
        Household.household_no == f"{builders.VILLAGE}00009")).scalars().all()
    assert sorted(flags) == [False, True]


def test_unknown_column_update(tmp_path, english):
    headers = builders.HEADERS + ["备注"]
    rows = builders.household_rows(10, members=1)
    rows[0]["备注"] = "旧"
    services.import_register(builders.write_xlsx(tmp_path / "a.xlsx", rows, headers=headers))
    rows[0]["备注"] = "新"

    record = services.import_register(builders.write_xlsx(tmp_path / "b.xlsx", rows, headers=headers))

    assert record.members_updated == 1
    assert household_by_no(f"{builders.VILLAGE}00010").members[0].extra == {"备注": "新"}


def test_import_audited(tmp_path, english):
    record = services.import_register(builders.write_xlsx(tmp_path / "a.xlsx", builders.household_rows(11)))

    stmt = select(AuditRecord).where(AuditRecord.action == "register.import")
    entry = db.session.execute(stmt).scalar_one()
    assert entry.object_id == str(record.id)
    assert entry.detail["households_added"] == 1
    assert "成员11-0" not in str(entry.detail)


def test_cli_runs_checks(app, tmp_path):
    rows = builders.household_rows(12, members=2)
    rows[1]["证件号码"] = rows[1]["证件号码"][:17] + ("0" if rows[1]["证件号码"][17] != "0" else "1")
    path = builders.write_xlsx(tmp_path / "checks.xlsx", rows)

    result = app.test_cli_runner().invoke(args=["import-register", path])

    assert result.exit_code == 0, result.output
    assert "1" in result.output
    household = household_by_no(f"{builders.VILLAGE}00012")
    rules = db.session.execute(select(SuspectedProblem.rule_id).where(
        SuspectedProblem.household_id == household.id)).scalars().all()
    assert "id_check_character" in rules


def test_bulk_import_queries(tmp_path, english):
    """1,500 households with 5,000 members: a few SELECTs in all, and a few seconds."""
    rows = []
    for number in range(1500):
        village = builders.VILLAGE if number % 2 else builders.OTHER_VILLAGE
        rows += builders.household_rows(number, village=village, members=4 if number < 500 else 3)
    assert len(rows) == 5000
    path = builders.write_xlsx(tmp_path / "bulk.xlsx", rows)
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        started = time.monotonic()
        services.import_register(path)
        first = time.monotonic() - started
        statements.clear()
        started = time.monotonic()
        again = services.import_register(path)
        second = time.monotonic() - started
    finally:
        event.remove(engine, "before_cursor_execute", count)

    selects = [statement for statement in statements if statement.lstrip().upper().startswith("SELECT")]
    assert again.members_unchanged == 5000
    # Households in chunks of 500 and their members in one selectin query per chunk.
    assert len(selects) <= 8, selects
    # Bounds far above the 0.8 s each takes on a 2-core AMD EPYC virtual machine, for slower CI machines.
    assert first < 15
    assert second < 15
