"""Registry batches covering some divisions: which batch the cross-checks read, and who may change it."""

from datetime import date

from sqlalchemy import select

from fieldapp.checks import batch_use, registries
from fieldapp.checks.models import RegistryBatch
from fieldapp.checks.rules.base import BatchInUse
from fieldapp.checks.services import run_checks
from fieldapp.extensions import db
from tests.checks.builders import vehicle_file, write_xlsx
from tests.checks.support import hits
from tests.conftest import login

# A car owner who is in no household of the tests.
NOBODY = [("某人", "11010519491231002X")]


def county_import(path, kind: str, user, data_date: date) -> RegistryBatch:
    """Import a registry as an administrator uploads it: the batch covers the user's divisions."""
    return registries.import_registry(path, kind, data_date=data_date, user=user)


def city_import(path, data_date: date | None = None) -> RegistryBatch:
    """Import a 车辆 registry as the command line does: the batch covers every division."""
    return registries.import_registry(path, "车辆", data_date=data_date)


def test_county_batch_replaces_city_there(ctx, make, tmp_path):
    huimin_admin = make.user("admin", [make.HUIMIN])
    city = city_import(vehicle_file(tmp_path / "city.xlsx", NOBODY), date(2026, 1, 1))
    path = vehicle_file(tmp_path / "county.xlsx", NOBODY)
    county = county_import(path, "车辆", huimin_admin, date(2026, 2, 1))

    in_use = batch_use.batches_in_use(False)["车辆"]

    assert in_use == [BatchInUse(county.id, "车辆", date(2026, 2, 1), ("371621",)),
                      BatchInUse(city.id, "车辆", date(2026, 1, 1), None, ("371621",))]


def test_newer_city_batch_replaces_county_batch(ctx, make, tmp_path):
    huimin_admin = make.user("admin", [make.HUIMIN])
    county_import(vehicle_file(tmp_path / "county.xlsx", NOBODY), "车辆", huimin_admin, date(2026, 1, 1))
    city = city_import(vehicle_file(tmp_path / "city.xlsx", NOBODY), date(2026, 2, 1))

    assert batch_use.ids_in_use(False) == {city.id}


def test_county_upload_keeps_other_hits(ctx, make, tmp_path):
    yangxin = make.household(make.LAODIAN_VILLAGE).members[1]
    huimin = make.household(make.HUIMIN_VILLAGE).members[1]
    owners = [(yangxin.name, yangxin.id_number), (huimin.name, huimin.id_number)]
    city_import(vehicle_file(tmp_path / "city.xlsx", owners), date(2026, 1, 1))
    run_checks()
    assert len(hits("cross_vehicle")) == 2

    # 惠民县's own, newer file lists neither member: only 惠民县's problem is resolved.
    huimin_admin = make.user("admin", [make.HUIMIN])
    county_import(vehicle_file(tmp_path / "county.xlsx", NOBODY), "车辆", huimin_admin, date(2026, 2, 1))
    run_checks()

    assert hits("cross_vehicle") == [(yangxin.household_id, yangxin.id)]


def test_county_dibao_judges_own_households(ctx, make, tmp_path):
    yangxin = make.household(make.LAODIAN_VILLAGE).members[0]
    huimin = make.household(make.HUIMIN_VILLAGE).members[0]
    yangxin.receives_dibao = huimin.receives_dibao = True
    huimin_admin = make.user("admin", [make.HUIMIN])
    rows = [["姓名", "身份证号码"], ["某人", make.id_number(sequence=7)]]
    county_import(write_xlsx(tmp_path / "低保.xlsx", rows), "低保", huimin_admin, date(2026, 2, 1))

    run_checks()

    assert hits("cross_dibao_register_only") == [(huimin.household_id, huimin.id)]


def test_city_batch_not_deletable_by_county(en_client, make, tmp_path):
    make.household(make.LAODIAN_VILLAGE)
    city = city_import(vehicle_file(tmp_path / "city.xlsx", [("张三", make.id_number())]))
    login(en_client, make.user("admin", [make.HUIMIN]))

    page = en_client.get(f"/checks/registries/{city.id}").get_data(as_text=True)

    assert "Every division" in page
    assert "Delete this batch" not in page
    assert en_client.post(f"/checks/registries/{city.id}/delete").status_code == 404
    assert db.session.get(RegistryBatch, city.id) is not None


def test_county_admin_deletes_own_batch(en_client, make, tmp_path):
    admin = make.user("admin", [make.HUIMIN])
    own = county_import(vehicle_file(tmp_path / "county.xlsx", [("张三", make.id_number())]), "车辆", admin,
                        date(2026, 2, 1))
    login(en_client, admin)

    page = en_client.get(f"/checks/registries/{own.id}").get_data(as_text=True)
    assert "惠民县" in page
    en_client.post(f"/checks/registries/{own.id}/delete")

    assert db.session.scalars(select(RegistryBatch)).all() == []


def test_other_county_batch_hidden(en_client, make, tmp_path):
    huimin_admin = make.user("admin", [make.HUIMIN])
    path = vehicle_file(tmp_path / "county.xlsx", [("张三", make.id_number())])
    own = county_import(path, "车辆", huimin_admin, date(2026, 2, 1))
    login(en_client, make.user("admin", [make.YANGXIN]))

    assert en_client.get(f"/checks/registries/{own.id}").status_code == 404
    assert "county.xlsx" not in en_client.get("/checks/registries").get_data(as_text=True)


def test_city_admin_deletes_cli_batch(en_client, make, tmp_path):
    make.household(make.LAODIAN_VILLAGE)
    batch = city_import(vehicle_file(tmp_path / "city.xlsx", [("张三", make.id_number())]))
    login(en_client, make.user("admin", [make.CITY]))

    en_client.post(f"/checks/registries/{batch.id}/delete")

    assert db.session.scalars(select(RegistryBatch)).all() == []
