"""Training mode: demo accounts, demo households, and resetting them.

Demo records carry ``is_demo=True``: demo accounts see only demo households and
rounds, real accounts never see them (``fieldapp.scope`` filters on the flag).
Seeding writes the accounts and the households, runs the data checks over them,
draws a sampling round and assigns it to the demo inspectors, so a trainee can
work through the whole chain.
"""

import logging
import os
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import delete, exists, select, update
from werkzeug.security import generate_password_hash

from fieldapp.audit.services import record
from fieldapp.auth import services as auth_services
from fieldapp.auth.models import User, UserDivision
from fieldapp.checks.models import (
    CheckRuleSetting,
    CheckRun,
    CheckThreshold,
    RegistryBatch,
    RegistryRecord,
    SuspectedProblem,
)
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.register.jobs import imports_folder
from fieldapp.register.models import Household, Member, RegisterImport
from fieldapp.review import evidence
from fieldapp.review.models import Finding, FindingEvent
from fieldapp.sampling.models import ReserveHousehold, SampledHousehold, SamplingRound, Team, TeamMember
from fieldapp.stored_files import remove_stored_file
from fieldapp.training import generator
from fieldapp.training.generator import PlantedProblem
from fieldapp.visits.models import Photo, VerificationOutcome, Visit
from fieldapp.visits.photos import remove_photo_files

logger = logging.getLogger(__name__)

# Shared password of every demo account. The README publishes it, because demo accounts see
# only synthetic demo data.
DEMO_PASSWORD = "demo-training-2026"
DEFAULT_HOUSEHOLDS = 120
DEFAULT_SEED = 2026
ROUND_NAME = "培训抽样批次"
MAX_ROUND_SIZE = 30


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    division_codes: tuple[str, ...]
    display_name: str


DEMO_ACCOUNTS = (
    DemoAccount("demo-admin", "admin", ("371600000000",), "培训管理员"),
    DemoAccount("demo-supervisor1", "supervisor", ("371622000000",), "培训督导员一（阳信县）"),
    DemoAccount("demo-supervisor2", "supervisor", ("371621000000",), "培训督导员二（惠民县）"),
    DemoAccount("demo-inspector1", "inspector", ("371622107000",), "培训核查员一（劳店镇）"),
    DemoAccount("demo-inspector2", "inspector", ("371622106000",), "培训核查员二（水落坡镇）"),
    DemoAccount("demo-inspector3", "inspector", ("371621104000",), "培训核查员三（胡集镇）"),
    DemoAccount("demo-inspector4", "inspector", ("371622106000", "371622107000"),
                "培训核查员四（劳店镇、水落坡镇）"),
)


@dataclass
class SeedSummary:
    households: int = 0
    members: int = 0
    villages: int = 0
    accounts_created: int = 0
    accounts_restored: int = 0
    planted: list[PlantedProblem] = field(default_factory=list)
    problems_opened: int = 0
    sampling_round: SamplingRound | None = None
    sampled: int = 0


@dataclass
class DeleteSummary:
    households: int = 0
    rounds: int = 0
    visits: int = 0
    photos: int = 0
    findings: int = 0
    accounts_deactivated: int = 0
    # Stored names (full size and thumbnail) of the deleted photos' files.
    photo_names: list[str] = field(default_factory=list)
    # Paths of uploaded demo register files and their rejected-rows reports.
    import_paths: list[str] = field(default_factory=list)
    # Stored names of the deleted findings' evidence files.
    evidence_names: list[str] = field(default_factory=list)


def demo_data_exists() -> bool:
    return db.session.execute(select(exists().where(Household.is_demo.is_(True)))).scalar()


def seed_demo(households: int = DEFAULT_HOUSEHOLDS, seed: int = DEFAULT_SEED) -> SeedSummary:
    """Write the demo accounts and households, run the checks, draw and assign a round.

    Raises ``FieldError`` when demo households exist already; ``flask reset-demo`` replaces them.
    Flushes, does not commit.
    """
    generator.check_count(households)
    if demo_data_exists():
        raise FieldError("households", _("Demo data exists already; run `flask --app fieldapp reset-demo` "
                                         "to replace it."))
    summary = SeedSummary()
    accounts = _ensure_accounts(summary)

    register = generator.generate(households, seed)
    db.session.add_all(register.households)
    db.session.flush()
    summary.households = len(register.households)
    summary.members = sum(len(household.members) for household in register.households)
    summary.villages = register.village_count
    summary.planted = register.planted

    _prepare_round(accounts, seed, summary)
    record("training.seed", object_type="Demo", seed=seed, households=summary.households,
           planted=len(summary.planted))
    logger.info("demo data seeded: %d households, %d members, seed %d",
                summary.households, summary.members, seed)
    return summary


def _ensure_accounts(summary: SeedSummary) -> dict[str, User]:
    """Create the demo accounts, or restore their role, divisions, password and active flag."""
    accounts = {}
    for account in DEMO_ACCOUNTS:
        user = db.session.execute(select(User).where(User.username == account.username)).scalar_one_or_none()
        if user is None:
            user = auth_services.create_user(
                account.username, DEMO_PASSWORD, account.role, list(account.division_codes),
                display_name=account.display_name, is_demo=True,
            )
            summary.accounts_created += 1
        elif not user.is_demo:
            raise FieldError("username", _("User %(name)s exists and is not a training account; rename it "
                                           "before seeding demo data.", name=account.username))
        else:
            _restore_account(user, account)
            summary.accounts_restored += 1
        accounts[account.username] = user
    return accounts


def _restore_account(user: User, account: DemoAccount) -> None:
    user.role = account.role
    user.display_name = account.display_name
    user.is_active_account = True
    user.password_hash = generate_password_hash(DEMO_PASSWORD, method=auth_services.PASSWORD_METHOD)
    if sorted(user.division_codes) != sorted(account.division_codes):
        user.divisions = [UserDivision(division_code=code) for code in account.division_codes]
    db.session.flush()
    record("training.restore_account", user, role=user.role, divisions=list(account.division_codes))


def _prepare_round(accounts: dict[str, User], seed: int, summary: SeedSummary) -> None:
    """Run the checks over the demo households, then draw a round and assign it to the inspectors."""
    from fieldapp.checks.services import run_checks
    from fieldapp.sampling.services import auto_assign, create_round

    admin = accounts["demo-admin"]
    summary.problems_opened = run_checks(is_demo=True).opened
    size = min(MAX_ROUND_SIZE, max(1, summary.households // 4))
    sampling_round = create_round(ROUND_NAME, list(generator.TOWNSHIPS), size, seed, user=admin, is_demo=True)
    inspectors = [user for user in accounts.values() if user.role == "inspector"]
    auto_assign(sampling_round, inspectors, user=admin)
    db.session.flush()
    summary.sampling_round = sampling_round
    summary.sampled = len(sampling_round.sampled_households)


def delete_demo_data() -> DeleteSummary:
    """Delete every demo household and all work on it; keep the audit log and the accounts.

    Extra demo accounts (made by trainees) are deactivated rather than deleted, because
    the audit log refers to them. Call ``remove_deleted_files`` once the transaction has
    committed. Flushes, does not commit.
    """
    summary = DeleteSummary()
    demo_households = select(Household.id).where(Household.is_demo.is_(True))
    demo_visits = select(Visit.id).where(Visit.household_id.in_(demo_households))
    demo_findings = select(Finding.id).where(Finding.household_id.in_(demo_households))
    demo_rounds = select(SamplingRound.id).where(SamplingRound.is_demo.is_(True))

    photo_names = select(Photo.stored_name, Photo.thumbnail_name).where(Photo.visit_id.in_(demo_visits))
    for names in db.session.execute(photo_names):
        summary.photo_names.extend(names)

    summary.evidence_names = evidence.delete_for_households(demo_households)
    db.session.execute(delete(FindingEvent).where(FindingEvent.finding_id.in_(demo_findings)))
    summary.findings = _delete(Finding, Finding.id.in_(demo_findings))
    db.session.execute(delete(VerificationOutcome).where(VerificationOutcome.visit_id.in_(demo_visits)))
    summary.photos = _delete(Photo, Photo.visit_id.in_(demo_visits))
    summary.visits = _delete(Visit, Visit.id.in_(demo_visits))
    db.session.execute(delete(ReserveHousehold).where(
        ReserveHousehold.sampling_round_id.in_(demo_rounds)
        | ReserveHousehold.household_id.in_(demo_households)
    ))
    db.session.execute(delete(SampledHousehold).where(
        SampledHousehold.sampling_round_id.in_(demo_rounds)
        | SampledHousehold.household_id.in_(demo_households)
    ))
    summary.rounds = _delete(SamplingRound, SamplingRound.is_demo.is_(True))
    db.session.execute(delete(SuspectedProblem).where(SuspectedProblem.household_id.in_(demo_households)))
    _delete_demo_checks_and_teams()
    db.session.execute(delete(Member).where(Member.household_id.in_(demo_households)))
    summary.households = _delete(Household, Household.is_demo.is_(True))
    summary.import_paths = _uploaded_import_paths()
    db.session.execute(delete(RegisterImport).where(RegisterImport.is_demo.is_(True)))

    standard = [account.username for account in DEMO_ACCOUNTS]
    summary.accounts_deactivated = db.session.execute(
        update(User)
        .where(User.is_demo.is_(True), User.username.not_in(standard), User.is_active_account.is_(True))
        .values(is_active_account=False)
    ).rowcount
    db.session.expire_all()
    record("training.delete", object_type="Demo", households=summary.households, rounds=summary.rounds,
           visits=summary.visits, photos=summary.photos, findings=summary.findings,
           accounts_deactivated=summary.accounts_deactivated)
    logger.info("demo data deleted: %d households, %d rounds, %d visits, %d findings",
                summary.households, summary.rounds, summary.visits, summary.findings)
    return summary


def _delete_demo_checks_and_teams() -> None:
    """Delete demo registries, check runs, rule settings and teams; settings return to defaults."""
    demo_batches = select(RegistryBatch.id).where(RegistryBatch.is_demo.is_(True))
    db.session.execute(delete(RegistryRecord).where(RegistryRecord.batch_id.in_(demo_batches)))
    for model in (RegistryBatch, CheckRun, CheckRuleSetting, CheckThreshold):
        _delete(model, model.is_demo.is_(True))
    demo_teams = select(Team.id).where(Team.is_demo.is_(True))
    db.session.execute(delete(TeamMember).where(TeamMember.team_id.in_(demo_teams)))
    _delete(Team, Team.is_demo.is_(True))


def _delete(model, condition) -> int:
    return db.session.execute(delete(model).where(condition)).rowcount


def _uploaded_import_paths() -> list[str]:
    """Return the files of demo registers uploaded in the browser; files named on the command line stay."""
    uploaded = select(RegisterImport.stored_name, RegisterImport.report_name).where(
        RegisterImport.is_demo.is_(True), RegisterImport.stored_name.is_not(None)
    )
    names = [name for row in db.session.execute(uploaded) for name in row if name]
    if not names:
        return []  # imports_folder() would create the folder
    folder = imports_folder()
    return [os.path.join(folder, name) for name in names]


def remove_deleted_files(summary: DeleteSummary) -> None:
    """Remove the photo and upload files of deleted demo records; call after the commit."""
    remove_photo_files(summary.photo_names)
    evidence.remove_files(summary.evidence_names)
    for path in summary.import_paths:
        remove_stored_file(path, "demo register file")


def deactivate_demo_accounts() -> int:
    """Deactivate every demo account, the standard ones included; flushes and returns how many."""
    active = User.is_demo.is_(True) & User.is_active_account.is_(True)
    count = db.session.execute(update(User).where(active).values(is_active_account=False)).rowcount
    db.session.expire_all()
    record("training.deactivate_accounts", object_type="Demo", accounts=count)
    logger.info("%d demo accounts deactivated", count)
    return count
