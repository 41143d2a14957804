"""Small factories for the records tests need. Each flushes and returns the new object."""

import itertools
from datetime import date

from werkzeug.security import generate_password_hash

from fieldapp import idnumbers
from fieldapp.auth.models import User, UserDivision
from fieldapp.extensions import db
from fieldapp.register.models import Household, Member

PASSWORD = "correct-horse-9"
# Hashing with the production scrypt parameters takes about 0.1 s; tests share one hash.
_PASSWORD_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")

# Real Binzhou divisions from the bundled list.
CITY = "371600000000"
HUIMIN = "371621000000"
YANGXIN = "371622000000"
LAODIAN = "371622107000"  # 劳店镇, 阳信县
LAODIAN_VILLAGE = "371622107215"  # 崔寨村村民委员会
SHUIWAN = "371622106000"  # 水落坡镇, 阳信县
SHUIWAN_VILLAGE = "371622106272"  # 水落坡村村民委员会
HUIMIN_TOWNSHIP = "371621104000"  # 胡集镇, 惠民县
HUIMIN_VILLAGE = "371621104300"  # 胡集联村村民委员会

_counter = itertools.count(1)


def user(role="admin", divisions=(CITY,), *, is_demo=False, username=None) -> User:
    n = next(_counter)
    account = User(
        username=username or f"{role}{n}",
        display_name=f"{role} {n}",
        password_hash=_PASSWORD_HASH,
        role=role,
        is_demo=is_demo,
        divisions=[UserDivision(division_code=code) for code in divisions],
    )
    db.session.add(account)
    db.session.flush()
    return account


def id_number(birth: str = "19800101", sequence: int = 1, region: str = "371622") -> str:
    first17 = f"{region}{birth}{sequence:03d}"
    return first17 + idnumbers.check_character(first17)


def household(village=LAODIAN_VILLAGE, *, members=2, is_demo=False, household_no=None, **fields) -> Household:
    n = next(_counter)
    record = Household(
        household_no=household_no or f"{village}{n:05d}",
        is_demo=is_demo,
        province="山东省",
        city="滨州市",
        county="阳信县",
        township="劳店镇",
        village="崔寨村村民委员会",
        division_code=village,
        county_code=village[:6] + "000000",
        township_code=village[:9] + "000",
        household_type=fields.pop("household_type", "脱贫户"),
        **fields,
    )
    relationships = ["户主", "配偶", "之子", "之女", "之孙子", "之孙女"]
    for index in range(members):
        sex_digit = 1 if index % 2 == 0 else 2
        record.members.append(
            Member(
                position=index,
                name=f"成员{n}-{index}",
                id_type="居民身份证",
                id_number=id_number("19800101", (n * 10 + index * 2 + sex_digit) % 1000, village[:6]),
                relationship_to_head=relationships[index % len(relationships)],
                sex="男" if sex_digit % 2 else "女",
                birth_date=date(1980, 1, 1),
                health="健康",
                labour_skill="普通劳动力",
            )
        )
    db.session.add(record)
    db.session.flush()
    return record
