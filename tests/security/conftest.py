"""Records in 阳信县 劳店镇 that the security tests request, and users inside and outside their scope."""

from dataclasses import dataclass

import pytest

from fieldapp.extensions import db
from tests.security.records import (
    make_finding,
    make_photo,
    make_problem,
    make_register_import,
    make_round,
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
    finding: object
    register_import: object
    # Users who must not reach the records, by a description of who they are.
    outsiders: dict

    @property
    def secrets(self) -> list[str]:
        return [self.household.household_no, SECRET_MEMBER_NAME, SECRET_DESCRIPTION, SECRET_ROUND_NAME]


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
    photo = make_photo(visit)
    finding = make_finding(
        household, supervisor, description=SECRET_DESCRIPTION, visit=visit, sampled_household=sampled,
        suspected_problem=problem,
    )
    register_import = make_register_import(admin)
    outsiders = {
        "inspector of another township": make.user("inspector", [make.SHUIWAN]),
        "supervisor of another county": make.user("supervisor", [make.HUIMIN]),
        "demo administrator": make.user("admin", [make.CITY], is_demo=True),
    }
    db.session.flush()
    return World(
        admin=admin, supervisor=supervisor, inspector=inspector, household=household, member=member,
        problem=problem, sampling_round=sampling_round, sampled=sampled, visit=visit, photo=photo,
        finding=finding, register_import=register_import, outsiders=outsiders,
    )


@pytest.fixture(autouse=True)
def import_folder(app, tmp_path, monkeypatch):
    """Keep register files written by these tests out of the instance folder."""
    monkeypatch.setitem(app.config, "REGISTER_IMPORT_FOLDER", str(tmp_path / "imports"))


@pytest.fixture
def world(make) -> World:
    return build_world(make)
