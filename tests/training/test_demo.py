import os
from datetime import date

import pytest
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from fieldapp import idnumbers
from fieldapp.audit.models import AuditRecord
from fieldapp.auth.models import User
from fieldapp.checks.models import SuspectedProblem
from fieldapp.divisions.models import Division
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.register.models import Household, Member, RegisterImport
from fieldapp.review.models import Finding
from fieldapp.review.services import open_finding
from fieldapp.sampling.models import SampledHousehold, SamplingRound
from fieldapp.training import demo, generator
from fieldapp.visits.models import Photo, Questionnaire, Visit
from fieldapp.visits.photos import photo_path

SMALL = 40  # households in tests that do not depend on the default size


def demo_households():
    return db.session.scalars(
        select(Household).where(Household.is_demo.is_(True)).order_by(Household.household_no)
    ).all()


def fingerprint():
    """Household numbers and member ID numbers of the demo data, in a stable order."""
    return [
        (household.household_no, [member.id_number for member in household.members])
        for household in demo_households()
    ]


def count(model, *conditions):
    return db.session.scalar(select(func.count()).select_from(model).where(*conditions))


def test_generate_same_seed_same_people(ctx):
    first = generator.generate(SMALL, seed=7)
    second = generator.generate(SMALL, seed=7)

    def people(register):
        return [(h.household_no, [(m.name, m.id_number, m.birth_date) for m in h.members])
                for h in register.households]

    assert people(first) == people(second)
    assert first.planted == second.planted
    assert people(generator.generate(SMALL, seed=8)) != people(first)


def test_seed_deterministic_in_database(ctx):
    demo.seed_demo(SMALL, seed=11)
    first = fingerprint()
    demo.delete_demo_data()
    assert fingerprint() == []

    demo.seed_demo(SMALL, seed=11)

    assert fingerprint() == first


def test_seed_default_size(ctx):
    summary = demo.seed_demo()

    assert summary.households == demo.DEFAULT_HOUSEHOLDS
    assert count(Household, Household.is_demo.is_(True)) == 120
    assert summary.members == count(Member)


def test_seed_creates_demo_accounts(ctx):
    summary = demo.seed_demo(SMALL, seed=1)

    assert summary.accounts_created == 7
    users = db.session.scalars(select(User).order_by(User.username)).all()
    assert [user.username for user in users] == sorted(account.username for account in demo.DEMO_ACCOUNTS)
    expected = {account.username: account for account in demo.DEMO_ACCOUNTS}
    for user in users:
        assert user.is_demo is True
        assert user.role == expected[user.username].role
        assert user.division_codes == sorted(expected[user.username].division_codes)
        assert check_password_hash(user.password_hash, demo.DEMO_PASSWORD)
    roles = [user.role for user in users]
    assert roles.count("admin") == 1
    assert roles.count("supervisor") == 2
    assert roles.count("inspector") == 4


def test_demo_accounts_scoped(ctx):
    divisions = {account.username: account.division_codes for account in demo.DEMO_ACCOUNTS}

    assert divisions["demo-supervisor1"] == ("371622000000",)  # 阳信县
    assert divisions["demo-supervisor2"] == ("371621000000",)  # 惠民县
    for number in range(1, 5):
        for code in divisions[f"demo-inspector{number}"]:
            assert db.session.get(Division, code).level == "township"


def test_households_in_demo_villages(ctx):
    demo.seed_demo(SMALL, seed=3)

    households = demo_households()
    assert len(households) == SMALL
    for household in households:
        assert household.household_no.startswith("DEMO")
        assert household.is_demo is True
        village = db.session.get(Division, household.division_code)
        assert village.level == "village"
        assert village.parent_code in generator.TOWNSHIPS
        assert household.township_code == village.parent_code
        assert household.village == village.name
        centre_lat, centre_lon = generator.TOWNSHIP_CENTRES[household.township_code]
        assert abs(household.latitude - centre_lat) < 0.05
        assert abs(household.longitude - centre_lon) < 0.05
        assert household.size == len(household.members)
        assert 9000 <= household.per_capita_net_income <= 25000


def test_members_consistent_except_planted(ctx):
    summary = demo.seed_demo(SMALL, seed=5)
    planted = {(p.household_no, p.member_position): p.rule_id for p in summary.planted}

    for household in demo_households():
        for member in household.members:
            rule = planted.get((household.household_no, member.position))
            number = member.id_number
            assert number[:6] == household.county_code[:6]
            assert (idnumbers.check_character(number[:17]) == number[17]) is (rule != "id_check_character")
            assert (idnumbers.birth_date(number) == member.birth_date) is (rule != "id_birth_date_mismatch")
            assert (idnumbers.sex(number) == member.sex) is (rule != "id_sex_mismatch")
            assert member.birth_date <= date(2025, 6, 30)


def test_id_numbers_unique(ctx):
    demo.seed_demo(SMALL, seed=5)

    numbers = db.session.scalars(select(Member.id_number)).all()
    assert len(numbers) == len(set(numbers))


def test_planted_problems_listed(ctx):
    summary = demo.seed_demo(SMALL, seed=9)

    kinds = [problem.rule_id for problem in summary.planted]
    assert kinds.count("id_check_character") == 3
    assert kinds.count("id_birth_date_mismatch") == 2
    assert kinds.count("id_sex_mismatch") == 2
    assert kinds.count("head_missing") == 1
    assert kinds.count("head_multiple") == 1
    assert len({problem.household_no for problem in summary.planted}) == len(summary.planted)


@pytest.mark.parametrize("seed", [2026, 1, 99])
def test_checks_find_planted_problems(ctx, seed):
    summary = demo.seed_demo(SMALL, seed=seed)

    rows = db.session.execute(
        select(SuspectedProblem.rule_id, Household.household_no, Member.position)
        .join(Household, SuspectedProblem.household_id == Household.id)
        .outerjoin(Member, SuspectedProblem.member_id == Member.id)
        .where(SuspectedProblem.status == "open")
    ).all()
    found = {(rule_id, household_no, position) for rule_id, household_no, position in rows}
    planted = {(p.rule_id, p.household_no, p.member_position) for p in summary.planted}
    assert found == planted
    assert summary.problems_opened == len(planted)


def test_round_assigned_to_covering_inspectors(ctx):
    summary = demo.seed_demo(SMALL, seed=4)

    sampling_round = summary.sampling_round
    assert sampling_round.is_demo is True
    assert sampling_round.name == demo.ROUND_NAME
    assert summary.sampled == SMALL // 4
    inspectors_used = set()
    for sampled in sampling_round.sampled_households:
        assert sampled.household.is_demo is True
        inspector = sampled.inspector
        assert inspector is not None, sampled.household.household_no
        assert inspector.is_demo is True
        assert any(sampled.household.division_code.startswith(code[:9]) for code in inspector.division_codes)
        inspectors_used.add(inspector.username)
    assert len(inspectors_used) >= 3


def test_seed_twice_rejected(ctx):
    demo.seed_demo(SMALL, seed=1)

    with pytest.raises(FieldError) as raised:
        demo.seed_demo(SMALL, seed=1)
    assert "reset-demo" in raised.value.message


def test_seed_too_few_households(ctx):
    with pytest.raises(FieldError) as raised:
        demo.seed_demo(5, seed=1)
    assert raised.value.field == "households"
    assert count(User) == 0


def test_seed_refuses_real_account_with_demo_name(ctx, make):
    make.user("admin", [make.CITY], username="demo-admin")

    with pytest.raises(FieldError) as raised:
        demo.seed_demo(SMALL, seed=1)
    assert "demo-admin" in raised.value.message


def add_visit_with_photo(app, sampled, inspector):
    questionnaire = db.session.scalars(select(Questionnaire)).first()
    visit = Visit(client_uuid="0f6c2a4e-1111-4c8e-9a51-2d6b5c1e9f00", content_sha256="0" * 64,
                  sampled_household_id=sampled.id, household_id=sampled.household_id,
                  inspector_id=inspector.id, questionnaire_id=questionnaire.id)
    db.session.add(visit)
    db.session.flush()
    names = ("ab/" + "a" * 32 + ".jpg", "ab/" + "a" * 32 + "_thumb.jpg")
    for name in names:
        path = photo_path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(b"jpeg")
    db.session.add(Photo(client_uuid="0f6c2a4e-2222-4c8e-9a51-2d6b5c1e9f00", visit_id=visit.id,
                         stored_name=names[0], thumbnail_name=names[1], width=10, height=10,
                         original_format="JPEG", original_bytes=4, stored_bytes=4, upload_sha256="0" * 64))
    db.session.flush()
    return visit, [photo_path(name) for name in names]


def test_delete_demo_data(app, ctx, make):
    summary = demo.seed_demo(SMALL, seed=2)
    sampled = summary.sampling_round.sampled_households[0]
    inspector = sampled.inspector
    visit, paths = add_visit_with_photo(app, sampled, inspector)
    open_finding(sampled.household, source="on_site", category="住房安全", description="屋顶漏雨",
                 user=inspector, visit=visit, sampled_household=sampled)
    trainee = make.user("inspector", [make.LAODIAN], is_demo=True, username="trainee")
    real = make.household(make.LAODIAN_VILLAGE)
    audit_before = count(AuditRecord)

    deleted = demo.delete_demo_data()
    demo.remove_deleted_files(deleted)

    assert (deleted.households, deleted.rounds, deleted.visits, deleted.photos, deleted.findings) == (
        SMALL, 1, 1, 1, 1)
    assert count(Household, Household.is_demo.is_(True)) == 0
    assert count(SamplingRound) == 0
    assert count(SampledHousehold) == 0
    assert count(Visit) == 0
    assert count(Photo) == 0
    assert count(Finding) == 0
    assert count(SuspectedProblem) == 0
    assert count(Member) == len(real.members)
    assert db.session.get(Household, real.id) is not None
    assert not any(os.path.exists(path) for path in paths)
    assert db.session.get(User, trainee.id).is_active_account is False
    assert db.session.get(User, inspector.id).is_active_account is True
    assert count(AuditRecord) == audit_before + 1  # kept, plus the deletion itself


def test_seed_restores_demo_accounts(ctx):
    demo.seed_demo(SMALL, seed=1)
    admin = db.session.scalars(select(User).where(User.username == "demo-admin")).one()
    admin.role = "inspector"
    admin.is_active_account = False
    admin.password_hash = "changed"
    demo.delete_demo_data()

    summary = demo.seed_demo(SMALL, seed=1)

    assert (summary.accounts_created, summary.accounts_restored) == (0, 7)
    db.session.refresh(admin)
    assert admin.role == "admin"
    assert admin.is_active_account is True
    assert check_password_hash(admin.password_hash, demo.DEMO_PASSWORD)


def test_delete_removes_uploaded_demo_registers(app, ctx, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTER_IMPORT_FOLDER", str(tmp_path))
    files = {name: tmp_path / name for name in ("upload.xlsx", "upload.rejected.xlsx", "real.xlsx")}
    for path in files.values():
        path.write_bytes(b"xlsx")
    db.session.add_all([
        RegisterImport(filename="demo.xlsx", sha256="0" * 64, is_demo=True, stored_name="upload.xlsx",
                       report_name="upload.rejected.xlsx"),
        # Imported on the command line: the report lies beside the user's own file and stays.
        RegisterImport(filename="cli.xlsx", sha256="1" * 64, is_demo=True, report_name="real.xlsx"),
        RegisterImport(filename="real.xlsx", sha256="2" * 64, is_demo=False, stored_name="real.xlsx"),
    ])
    db.session.flush()

    deleted = demo.delete_demo_data()
    demo.remove_deleted_files(deleted)

    assert not files["upload.xlsx"].exists()
    assert not files["upload.rejected.xlsx"].exists()
    assert files["real.xlsx"].exists()
    assert db.session.scalars(select(RegisterImport.filename)).all() == ["real.xlsx"]


# Tables that delete_demo_data clears; users are deactivated instead, and the audit log is kept.
CLEARED_BY_RESET = {
    "households", "members", "register_imports", "suspected_problems", "sampling_rounds",
    "sampled_households", "visits", "photos", "verification_outcomes", "findings", "finding_events",
    "finding_evidence", "reinspection_tasks", "reinspection_items", "reserve_households",
    "registry_batches", "registry_records", "check_runs", "check_rule_settings", "check_thresholds",
    "teams", "team_members",
}


# Tables that point at a demo table without a foreign key constraint.
UNCONSTRAINED_REFERENCES = {"registry_records"}


def test_reset_covers_every_demo_table():
    """A new table holding demo data, or pointing at it, must be added to delete_demo_data."""
    tables = db.metadata.tables
    demo_tables = {name for name, table in tables.items() if "is_demo" in table.c and name != "users"}
    demo_tables |= UNCONSTRAINED_REFERENCES
    changed = True
    while changed:
        referring = {
            name for name, table in tables.items()
            if any(key.column.table.name in demo_tables for key in table.foreign_keys)
        }
        changed = not referring <= demo_tables
        demo_tables |= referring

    assert demo_tables == CLEARED_BY_RESET


def test_delete_removes_demo_registries_and_teams(make):
    from fieldapp.checks.models import RegistryBatch, RegistryRecord
    from fieldapp.sampling.models import Team, TeamMember

    inspector = make.user("inspector", [make.LAODIAN], is_demo=True)
    real_team = Team(name="real", is_demo=False, division_code=make.LAODIAN)
    demo_team = Team(name="demo", is_demo=True, division_code=make.LAODIAN)
    demo_team.members.append(TeamMember(user_id=inspector.id))
    batches = [
        RegistryBatch(
            kind="车辆", is_demo=is_demo, data_date=date(2026, 1, 1), filename="v.xlsx", sha256="0" * 64
        )
        for is_demo in (False, True)
    ]
    db.session.add_all([real_team, demo_team, *batches])
    db.session.flush()

    demo.delete_demo_data()

    assert db.session.scalars(select(Team.name)).all() == ["real"]
    assert db.session.scalar(select(func.count()).select_from(TeamMember)) == 0
    assert db.session.scalars(select(RegistryBatch.is_demo)).all() == [False]
    assert db.session.scalar(select(func.count()).select_from(RegistryRecord)) == 0
