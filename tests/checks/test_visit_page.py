"""The inspector's visit form lists the problems of every kind of rule with their readable detail."""

from datetime import date

from fieldapp.checks import registries
from fieldapp.checks.services import run_checks
from fieldapp.extensions import db
from tests.checks.builders import vehicle_file
from tests.checks.support import born, set_birth, set_thresholds
from tests.conftest import login
from tests.visits.support import sample


def test_visit_form_shows_new_rules(en_client, make, tmp_path):
    set_thresholds(reference_date="2026-11-30")
    household = make.household(members=3, risks=["因病"])
    owner, child = household.members[1], household.members[2]
    set_birth(child, born(9))
    child.labour_skill = "无劳动力"
    db.session.flush()
    registries.import_registry(vehicle_file(tmp_path / "车辆.xlsx", [(owner.name, owner.id_number)]), "车辆",
                               data_date=date(2026, 6, 30))
    run_checks()
    inspector = make.user("inspector", [make.LAODIAN])
    sampled = sample(household, inspector)
    login(en_client, inspector)

    text = en_client.get(f"/visits/households/{sampled.id}/new").get_data(as_text=True)

    assert "Owns a vehicle" in text
    assert "车辆: 鲁M12345 小型轿车 2023-05-11" in text
    assert "Child of compulsory-school age not in school" in text
    assert "Aged 9, not a student, and no reason is given." in text
    assert "Risk of illness but everyone healthy" in text
    assert "Risk 因病, and all 3 members are recorded as healthy." in text
