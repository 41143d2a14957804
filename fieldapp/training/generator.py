"""Synthetic demo households for training: plausible families in real Binzhou villages.

Everything is drawn from one ``random.Random(seed)`` in a fixed order, and ages are
counted from ``REFERENCE_DATE`` rather than today, so a seed always gives the same
household numbers, people and ID numbers. Apart from the planted problems, every
household is consistent with itself, so the data checks find what was planted.
"""

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select

from fieldapp import idnumbers
from fieldapp.divisions.models import Division
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.register.models import Household, Member

HOUSEHOLD_NO_PREFIX = "DEMO"
MIN_HOUSEHOLDS = 20
REFERENCE_DATE = date(2025, 6, 30)

# Townships the demo households live in: 劳店镇 and 水落坡镇 of 阳信县, 胡集镇 of 惠民县.
TOWNSHIPS = ("371622107000", "371622106000", "371621104000")
VILLAGES_PER_TOWNSHIP = 8

# Rough centres (latitude, longitude, WGS-84) for placing registered points: the county
# seat moved by a few kilometres per township. They are not surveyed positions.
TOWNSHIP_CENTRES = {
    "371622107000": (37.68, 117.50),
    "371622106000": (37.58, 117.61),
    "371621104000": (37.54, 117.57),
}
VILLAGE_SPREAD_DEG = 0.03  # about 3 km between a village and its township centre
HOUSEHOLD_SPREAD_DEG = 0.002  # about 200 m between a house and its village point

SURNAMES = "王张李刘陈杨孙赵徐马高于朱郭宋董韩魏田崔吕任商邢"
GIVEN_NAMES = {
    # Names common among people born before about 1975 and after, by sex.
    ("男", "older"): ["建国", "国强", "志强", "建华", "立新", "永刚", "德明", "长林", "金海", "洪亮",
                     "庆云", "树森", "福田", "春生", "玉柱"],
    ("男", "younger"): ["伟", "磊", "涛", "浩然", "子轩", "宇航", "俊杰", "明辉", "博文", "家豪",
                       "晨阳", "思远", "一鸣", "天佑", "梓豪"],
    ("女", "older"): ["秀英", "桂英", "玉兰", "秀兰", "凤英", "淑珍", "桂兰", "翠花", "素芳", "玉梅",
                     "金凤", "春梅", "美华", "爱华", "月娥"],
    ("女", "younger"): ["丽", "静", "敏", "艳", "娜", "芳", "晓燕", "欣怡", "梓涵", "雨桐",
                       "诗涵", "佳琪", "思雨", "可馨", "若曦"],
}
WORK_PLACES = ["乡镇内", "县内乡外", "省内县外", "省外"]
HELP_MEASURES = ["产业帮扶", "就业帮扶", "公益岗位帮扶", "金融帮扶", "社会帮扶"]
LABOURERS = ("普通劳动力", "技能劳动力")


@dataclass(frozen=True)
class PlantedProblem:
    """A mistake put into the demo register on purpose, named by the check rule that finds it."""

    rule_id: str
    household_no: str
    member_position: int | None = None  # None for a problem of the whole household


@dataclass
class GeneratedRegister:
    households: list[Household]
    planted: list[PlantedProblem] = field(default_factory=list)
    village_count: int = 0


def generate(count: int, seed: int) -> GeneratedRegister:
    """Build ``count`` demo households (not yet added to the session) and plant problems in them."""
    check_count(count)
    rng = random.Random(seed)
    villages = _choose_villages(rng)
    generator = _HouseholdGenerator(rng)
    households = []
    per_village: dict[str, int] = {}
    for _index in range(count):
        village, county, township, point = rng.choice(villages)
        per_village[village.code] = per_village.get(village.code, 0) + 1
        number = f"{HOUSEHOLD_NO_PREFIX}{village.code}{per_village[village.code]:03d}"
        households.append(generator.household(number, village, county, township, point))
    households.sort(key=lambda household: household.household_no)
    planted = _plant_problems(rng, households)
    return GeneratedRegister(households, planted, len(per_village))


def check_count(count: int) -> None:
    if count < MIN_HOUSEHOLDS:
        raise FieldError("households", _("At least %(minimum)d demo households are needed to plant every "
                                         "problem; got %(count)d.", minimum=MIN_HOUSEHOLDS, count=count))


def _choose_villages(rng: random.Random) -> list[tuple[Division, Division, Division, tuple[float, float]]]:
    """Pick villages (村民委员会 codes 200-499) of each demo township, each with a point near its township."""
    chosen = []
    for township_code in TOWNSHIPS:
        township = db.session.get(Division, township_code)
        if township is None:
            raise FieldError("divisions", _(
                "Township %(code)s is not in the division list; run `flask --app fieldapp import-divisions` "
                "first.", code=township_code))
        county = db.session.get(Division, township.parent_code)
        villages = db.session.execute(
            select(Division)
            .where(Division.parent_code == township_code, Division.level == "village")
            .order_by(Division.code)
        ).scalars().all()
        villages = [village for village in villages if 200 <= int(village.code[9:]) < 500]
        centre_lat, centre_lon = TOWNSHIP_CENTRES[township_code]
        for village in sorted(rng.sample(villages, min(VILLAGES_PER_TOWNSHIP, len(villages))),
                              key=lambda v: v.code):
            point = (centre_lat + rng.uniform(-VILLAGE_SPREAD_DEG, VILLAGE_SPREAD_DEG),
                     centre_lon + rng.uniform(-VILLAGE_SPREAD_DEG, VILLAGE_SPREAD_DEG))
            chosen.append((village, county, township, point))
    return chosen


class _HouseholdGenerator:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.id_numbers: set[str] = set()

    def household(self, number: str, village: Division, county: Division, township: Division,
                  point: tuple[float, float]) -> Household:
        rng = self.rng
        members = self._family(county.code[:6])
        household = Household(
            household_no=number,
            is_demo=True,
            province="山东省",
            city="滨州市",
            county=county.name,
            township=township.name,
            village=village.name,
            division_code=village.code,
            county_code=county.code,
            township_code=township.code,
            latitude=round(point[0] + rng.uniform(-HOUSEHOLD_SPREAD_DEG, HOUSEHOLD_SPREAD_DEG), 6),
            longitude=round(point[1] + rng.uniform(-HOUSEHOLD_SPREAD_DEG, HOUSEHOLD_SPREAD_DEG), 6),
            is_unsafe_house=False,
            has_safe_water=True,
            has_sanitary_toilet=True,
            phone="1" + rng.choice(["38", "39", "58", "59", "87", "36"]) + f"{rng.randrange(10**8):08d}",
            helper_name=self._name(rng.choice("男女"), "older"),
            members=members,
            size=len(members),
            extra={},
        )
        self._classify(household)
        self._incomes(household)
        household.help_measures = self._help_measures(household)
        return household

    # -- people ---------------------------------------------------------------

    def _family(self, region: str) -> list[Member]:
        """Draw a family around its head: spouse, children or grandchildren, sometimes a parent."""
        rng = self.rng
        head_age = rng.randint(28, 82)
        head_sex = "男" if rng.random() < 0.85 else "女"
        surname = rng.choice(SURNAMES)
        plan = [("户主", head_sex, head_age, surname)]
        if rng.random() < (0.8 if head_age < 75 else 0.5):
            spouse_age = max(20, head_age + rng.randint(-5, 3))
            plan.append(("配偶", _other(head_sex), spouse_age, rng.choice(SURNAMES)))
        if head_age < 60:
            for _child in range(rng.choice([0, 1, 1, 2, 2, 3])):
                age = head_age - rng.randint(22, 36)
                if age >= 0:
                    sex = rng.choice("男女")
                    plan.append(("之子" if sex == "男" else "之女", sex, age, surname))
        else:
            if rng.random() < 0.4:
                plan.append(("之子", "男", head_age - rng.randint(24, 32), surname))
                plan.append(("之儿媳", "女", head_age - rng.randint(24, 32), rng.choice(SURNAMES)))
            for _child in range(rng.choice([0, 1, 1, 2])):
                sex = rng.choice("男女")
                plan.append(("之孙子" if sex == "男" else "之孙女", sex, rng.randint(1, 17), surname))
        if head_age < 48 and rng.random() < 0.4:
            sex = rng.choice("男女")
            plan.append(("之父" if sex == "男" else "之母", sex, head_age + rng.randint(22, 30), surname))
        return [self._member(position, *entry, region) for position, entry in enumerate(plan[:7])]

    def _member(self, position: int, relationship: str, sex: str, age: int, surname: str,
                region: str) -> Member:
        rng = self.rng
        born = REFERENCE_DATE - timedelta(days=age * 365 + rng.randint(0, 364))
        age = _age(born)
        health = self._health(age)
        school_status = self._school_status(age)
        labour_skill = self._labour_skill(age, health, school_status)
        months = self._months_worked(labour_skill)
        is_adult = age >= 16 and not school_status
        return Member(
            position=position,
            name=surname + self._name(sex, "older" if born.year < 1975 else "younger"),
            id_type="居民身份证",
            id_number=self._id_number(region, born, sex),
            relationship_to_head=relationship,
            sex=sex,
            birth_date=born,
            ethnicity="汉族",
            education=_education(age, school_status, rng),
            school_status=school_status,
            health=health,
            labour_skill=labour_skill,
            months_worked=months,
            work_place=rng.choice(WORK_PLACES) if months else "",
            has_medical_insurance=True,
            has_serious_illness_insurance=True,
            has_pension_insurance=is_adult,
            receives_dibao=False,
            receives_extreme_poverty_support=False,
            extra={},
        )

    def _name(self, sex: str, era: str) -> str:
        return self.rng.choice(GIVEN_NAMES[(sex, era)])

    def _id_number(self, region: str, born: date, sex: str) -> str:
        """Return a new valid ID number: odd sequence for men, even for women."""
        while True:
            sequence = self.rng.randint(1, 499) * 2 - (1 if sex == "男" else 0)
            first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
            number = first17 + idnumbers.check_character(first17)
            if number not in self.id_numbers:
                self.id_numbers.add(number)
                return number

    def _health(self, age: int) -> str:
        roll = self.rng.random()
        if age >= 10 and roll < 0.03:
            return "残疾"
        if age < 50:
            return "健康"
        # Shares of healthy and chronically ill people among the 50-69 and the over-70.
        healthy, chronic = (0.7, 0.25) if age < 70 else (0.4, 0.5)
        if roll < healthy:
            return "健康"
        if roll < healthy + chronic:
            return "长期慢性病"
        return "患有大病"

    def _school_status(self, age: int) -> str:
        """Blank for a non-student; school stages follow age as in the national register's codes."""
        if 3 <= age <= 5:
            return "学前教育"
        if 6 <= age <= 11:
            return "小学"
        if 12 <= age <= 14:
            return ("七年级", "八年级", "九年级")[age - 12]
        if 15 <= age <= 17:
            grade = ("一", "二", "三")[age - 15]
            return f"普通高中{grade}年级" if self.rng.random() < 0.7 else f"中职{grade}年级"
        if 18 <= age <= 21 and self.rng.random() < 0.35:
            return "大学本科" if self.rng.random() < 0.5 else "高职高专"
        return ""

    def _labour_skill(self, age: int, health: str, school_status: str) -> str:
        if school_status or age < 16:
            return "无劳动力"
        if health in ("患有大病", "残疾"):
            return "丧失劳动力"
        if age > 75:
            return "无劳动力"
        if health == "长期慢性病" or age > 60:
            return "弱劳动力或半劳动力"
        return "技能劳动力" if self.rng.random() < 0.2 else "普通劳动力"

    def _months_worked(self, labour_skill: str) -> int:
        if labour_skill in LABOURERS:
            return self.rng.choice([0, 3, 6, 8, 10, 12])
        if labour_skill == "弱劳动力或半劳动力":
            return self.rng.choice([0, 0, 0, 3, 4])
        return 0

    # -- household fields -----------------------------------------------------

    def _classify(self, household: Household) -> None:
        """Set the household type, monitoring category, exit year and risks consistent with the members."""
        rng = self.rng
        if rng.random() < 0.8:
            household.household_type = "脱贫户"
            household.exit_year = rng.randint(2016, 2020)
            household.monitoring_category = "脱贫不稳定户" if rng.random() < 0.15 else ""
        else:
            household.household_type = "监测对象"
            household.monitoring_category = rng.choice(["边缘易致贫户", "突发严重困难户"])
        if household.monitoring_category:
            household.risks = _risks(household.members)
            household.is_risk_eliminated = rng.random() < 0.5
        else:
            household.risks = []

    def _incomes(self, household: Household) -> None:
        """Set yearly incomes in yuan; the net income per head lands between 9,000 and 25,000."""
        rng = self.rng
        members = household.members
        size = len(members)
        wage = sum((member.months_worked or 0) * rng.randint(18, 32) * 100 for member in members)
        business = rng.randint(30, 150) * 100 if rng.random() < 0.6 else 0
        expense = business * rng.randint(25, 45) // 100
        property_income = rng.choice([0, 0, 500, 1200, 2000])
        pensioners = sum(1 for member in members if _age(member.birth_date) >= 60)
        transfer = pensioners * rng.randint(1800, 2600)
        net = wage + business - expense + property_income + transfer
        floor = size * rng.randint(9000, 11000)
        if net < floor:
            # Subsidies and assistance make up the rest, as they do for households with few workers.
            transfer += floor - net
            net = floor
        ceiling = size * 25000
        if net > ceiling:
            wage -= net - ceiling
            net = ceiling
        household.wage_income = Decimal(wage)
        household.business_income = Decimal(business)
        household.business_expense = Decimal(expense)
        household.property_income = Decimal(property_income)
        household.transfer_income = Decimal(transfer)
        household.per_capita_net_income = (Decimal(net) / size).quantize(Decimal("0.01"))
        household.out_of_pocket_medical = Decimal(
            rng.randint(5, 60) * 100 if any(m.health != "健康" for m in members) else 0
        )

    def _help_measures(self, household: Household) -> list[str]:
        measures = set(self.rng.sample(HELP_MEASURES, self.rng.randint(1, 2)))
        if any(member.health in ("长期慢性病", "患有大病", "残疾") for member in household.members):
            measures.add("健康帮扶")
        if any(member.school_status for member in household.members):
            measures.add("教育帮扶")
        return sorted(measures)


def _other(sex: str) -> str:
    return "女" if sex == "男" else "男"


def _age(born: date) -> int:
    had_birthday = (REFERENCE_DATE.month, REFERENCE_DATE.day) >= (born.month, born.day)
    return REFERENCE_DATE.year - born.year - (0 if had_birthday else 1)


def _education(age: int, school_status: str, rng: random.Random) -> str:
    """Return the highest level reached; a student's is the stage they are in."""
    if age < 6:
        return "学龄前儿童"
    if school_status == "小学":
        return "小学"
    if school_status in ("七年级", "八年级", "九年级"):
        return "初中"
    if school_status.startswith(("普通高中", "中职")):
        return "高中"
    if school_status:
        return "大专"
    if age >= 65:
        return rng.choice(["文盲或半文盲", "小学", "小学"])
    if age >= 45:
        return rng.choice(["小学", "初中", "初中"])
    return rng.choice(["初中", "初中", "高中", "大专"])


def _risks(members: list[Member]) -> list[str]:
    risks = []
    if any(member.health in ("长期慢性病", "患有大病") for member in members):
        risks.append("因病")
    if any(member.health == "残疾" for member in members):
        risks.append("因残")
    if any(member.school_status.startswith(("普通高中", "中职", "大学", "高职")) for member in members):
        risks.append("因学")
    if not any(member.labour_skill in LABOURERS for member in members):
        risks.append("缺劳动力")
    return risks or ["因务工就业不稳"]


# -- planted problems ---------------------------------------------------------

# How many households get each planted problem; each problem goes to a different household.
PLANTED_COUNTS = {
    "id_check_character": 3,
    "id_birth_date_mismatch": 2,
    "id_sex_mismatch": 2,
    "head_missing": 1,
    "head_multiple": 1,
}


def _plant_problems(rng: random.Random, households: list[Household]) -> list[PlantedProblem]:
    """Put the mistakes of ``PLANTED_COUNTS`` into distinct households and list them."""
    # A second head needs a household of two or more, so that household is chosen first.
    second_head = rng.choice([household for household in households if len(household.members) >= 2])
    kinds = [kind for kind, count in PLANTED_COUNTS.items() if kind != "head_multiple" for _n in range(count)]
    others = rng.sample([household for household in households if household is not second_head], len(kinds))
    planted = [_plant_head_multiple(rng, second_head)]
    for kind, household in zip(kinds, others, strict=True):
        planted.append(_PLANTERS[kind](rng, household))
    return planted


def _plant_check_character(rng: random.Random, household: Household) -> PlantedProblem:
    member = rng.choice(household.members)
    wrong = [character for character in idnumbers.CHECK_CHARACTERS if character != member.id_number[17]]
    member.id_number = member.id_number[:17] + rng.choice(wrong)
    return PlantedProblem("id_check_character", household.household_no, member.position)


def _plant_birth_date(rng: random.Random, household: Household) -> PlantedProblem:
    member = rng.choice(household.members)
    member.birth_date = member.birth_date - timedelta(days=rng.choice([10, 31, 365]))
    return PlantedProblem("id_birth_date_mismatch", household.household_no, member.position)


def _plant_sex(rng: random.Random, household: Household) -> PlantedProblem:
    member = rng.choice(household.members)
    member.sex = _other(member.sex)
    return PlantedProblem("id_sex_mismatch", household.household_no, member.position)


def _plant_head_missing(rng: random.Random, household: Household) -> PlantedProblem:
    household.members[0].relationship_to_head = "其他"
    return PlantedProblem("head_missing", household.household_no)


def _plant_head_multiple(rng: random.Random, household: Household) -> PlantedProblem:
    household.members[1].relationship_to_head = "户主"
    return PlantedProblem("head_multiple", household.household_no)


_PLANTERS = {
    "id_check_character": _plant_check_character,
    "id_birth_date_mismatch": _plant_birth_date,
    "id_sex_mismatch": _plant_sex,
    "head_missing": _plant_head_missing,
}
