"""Column-wise inserts: defaults, type conversion and reserved ids, on SQLite and PostgreSQL."""

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.register import bulk_insert
from fieldapp.register.models import Household, Member
from tests import factories


def test_insert_columns_converts_and_defaults(app):
    ids = bulk_insert.reserve_ids(Household.__table__, 2)
    bulk_insert.insert_columns(Household.__table__, {
        "id": ids,
        "household_no": ["H1", "H2"],
        "division_code": ["371622107215"] * 2,
        "county_code": ["371622000000"] * 2,
        "township_code": ["371622107000"] * 2,
        "per_capita_net_income": [Decimal("16237.50"), None],
        "is_unsafe_house": [True, None],
        "risks": [["因病", "因学"], []],
    }, {"is_demo": False})
    bulk_insert.insert_columns(Member.__table__, {
        "household_id": ids,
        "name": ["张三", "李四"],
        "id_number": [factories.id_number("19800101", 11), factories.id_number("19900101", 12)],
        "birth_date": [date(1980, 1, 1), None],
        "extra": [{"备注": "低保边缘"}, {}],
    })

    first, second = db.session.scalars(select(Household).where(Household.id.in_(ids)).order_by(Household.id))
    assert (first.household_no, second.household_no) == ("H1", "H2")
    assert first.per_capita_net_income == Decimal("16237.50")
    assert second.per_capita_net_income is None
    assert (first.is_unsafe_house, second.is_unsafe_house) == (True, None)
    assert (first.risks, second.risks) == (["因病", "因学"], [])
    assert (first.province, first.phone, first.help_measures, first.extra) == ("", "", [], {})
    assert first.created_at is not None
    assert first.created_at.tzinfo is not None
    assert first.updated_at is None
    assert first.members[0].birth_date == date(1980, 1, 1)
    assert first.members[0].extra == {"备注": "低保边缘"}
    assert (first.members[0].id_type, first.members[0].position) == ("", 0)
    assert second.members[0].extra == {}


def test_reserved_ids_unused_afterwards(app):
    ids = bulk_insert.reserve_ids(Household.__table__, 3)
    bulk_insert.insert_columns(Household.__table__, {
        "id": ids, "household_no": ["R1", "R2", "R3"], "division_code": ["371622107215"] * 3,
        "county_code": ["371622000000"] * 3, "township_code": ["371622107000"] * 3,
    })
    later = Household(household_no="R4", division_code="371622107215", county_code="371622000000",
                      township_code="371622107000")
    db.session.add(later)
    db.session.flush()

    assert len(set(ids)) == 3
    assert later.id not in ids
    assert bulk_insert.reserve_ids(Household.__table__, 1)[0] not in [*ids, later.id]
