"""Records in 阳信县 劳店镇 that the security tests request, and users inside and outside their scope."""

from dataclasses import dataclass, field

import pytest

from fieldapp.extensions import db
from tests.security.records import (
    jpeg_bytes,
    make_check_run,
    make_corrected_finding,
    make_evidence,
    make_export_job,
    make_finding,
    make_photo,
    make_problem,
    make_register_import,
    make_registry_batch,
    make_reinspection_task,
    make_round,
    make_team,
    make_visit,
)

# Text that appears only in the records below, so a page that shows it has leaked them.
SECRET_MEMBER_NAME = "保密户主甲"
SECRET_DESCRIPTION = "保密问题描述乙"
SECRET_ROUND_NAME = "保密抽样批次丙"


@dataclass
class World:
    admin: object
    supervisor: object
    inspector: object
    household: object
    member: object
    problem: object
    sampling_round: object
    sampled: object
    visit: object
    photo: object
    photo_bytes: bytes
    finding: object
    corrected_finding: object
    evidence: object
    reinspection_task: object
    register_import: object
    check_run: object
    registry_batch: object
    export_job: object
    team: object
    # Users who must not reach the records, by a description of who they are.
    outsiders: dict
    # Sync tokens issued so far, by user id.
    tokens: dict = field(default_factory=dict)

    @property
    def secrets(self) -> list[str]:
        return [self.household.household_no, SECRET_MEMBER_NAME, SECRET_DESCRIPTION, SECRET_ROUND_NAME]

    def token(self, user) -> str:
        """Return a sync token for ``user``, issued through the API's token service on first use."""
        from fieldapp.api import tokens

        if user.id not in self.tokens:
            self.tokens[user.id], _row = tokens.issue(user, user_agent="security tests")
        return self.tokens[user.id]


def build_world(make) -> World:
    admin = make.user("admin", [make.CITY])
    supervisor = make.user("supervisor", [make.YANGXIN])
    inspector = make.user("inspector", [make.LAODIAN])
    household = make.household(make.LAODIAN_VILLAGE, members=2, latitude=37.62, longitude=117.58)
    member = household.members[0]
    member.name = SECRET_MEMBER_NAME
    problem = make_problem(household, member)

    sampling_round = make_round(SECRET_ROUND_NAME, [household], inspector, admin)
    sampled = sampling_round.sampled_households[0]
    visit = make_visit(sampled, inspector, latitude=37.621, longitude=117.581)
    photo_bytes = jpeg_bytes()
    photo = make_photo(visit, photo_bytes)
    links = {"visit": visit, "sampled_household": sampled}
    finding = make_finding(
        household, supervisor, description=SECRET_DESCRIPTION, suspected_problem=problem, **links
    )
    corrected_finding = make_corrected_finding(household, supervisor, **links)

    outsiders = {
        "inspector of another township": make.user("inspector", [make.SHUIWAN]),
        "supervisor of another county": make.user("supervisor", [make.HUIMIN]),
        "demo administrator": make.user("admin", [make.CITY], is_demo=True),
        "demo inspector of the same township": make.user("inspector", [make.LAODIAN], is_demo=True),
    }
    world = World(
        admin=admin, supervisor=supervisor, inspector=inspector, household=household, member=member,
        problem=problem, sampling_round=sampling_round, sampled=sampled, visit=visit, photo=photo,
        photo_bytes=photo_bytes, finding=finding, corrected_finding=corrected_finding,
        evidence=make_evidence(finding, supervisor),
        reinspection_task=make_reinspection_task(corrected_finding, inspector, supervisor),
        register_import=make_register_import(admin),
        check_run=make_check_run(admin),
        registry_batch=make_registry_batch(admin),
        export_job=make_export_job(admin),
        team=make_team("劳店镇核查一组", make.LAODIAN, [inspector], admin),
        outsiders=outsiders,
    )
    db.session.flush()
    return world


@pytest.fixture(autouse=True)
def jobs_in_request(app, tmp_path, monkeypatch):
    """Run imports, check runs and exports inside the request, and keep their files in ``tmp_path``.

    A background thread would use the test's connection, whose transaction is rolled back.
    """
    monkeypatch.setitem(app.config, "CHECK_JOBS_SYNC", True)
    monkeypatch.setitem(app.config, "REGISTER_IMPORT_SYNC", True)
    monkeypatch.setitem(app.config, "EXPORT_SYNC", True)
    monkeypatch.setitem(app.config, "REGISTER_IMPORT_FOLDER", str(tmp_path / "imports"))
    monkeypatch.setitem(app.config, "EXPORT_FOLDER", str(tmp_path / "exports"))


@pytest.fixture
def world(make) -> World:
    return build_world(make)
