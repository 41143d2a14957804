"""Register column headers: the names exports use for each field, and finding the header row.

Exports of the national monitoring system and of local systems name the same
field differently (``县(市、区、旗)`` or ``县(市、区)``, ``证件号码`` or
``身份证号码``), put the unit in brackets or not, and mix full-width and ASCII
brackets. Headers are compared after ``normalize_header`` and looked up in
``ALIASES``; ``REGISTER_HEADER_ALIASES`` in the configuration adds local names.
"""

import re
from dataclasses import dataclass

# Kinds of value a column holds; fieldapp.register.parsing converts each kind.
TEXT, CODE, INTEGER, MONEY, DECIMAL, BOOLEAN, DATE, LIST, ID_NUMBER, RISK = (
    "text", "code", "integer", "money", "decimal", "boolean", "date", "list", "id_number", "risk",
)


@dataclass(frozen=True)
class Column:
    field: str  # attribute of Household or Member
    level: str  # "household" or "member"
    kind: str
    names: tuple[str, ...]  # header names, already normalised; the first is the canonical one


def _household(field: str, kind: str, *names: str) -> Column:
    return Column(field, "household", kind, names)


def _member(field: str, kind: str, *names: str) -> Column:
    return Column(field, "member", kind, names)


COLUMNS = (
    _household("province", TEXT, "省(区、市)", "省", "省份", "省(自治区、直辖市)", "省(区)"),
    _household("city", TEXT, "市(地、州、盟)", "市", "地市", "市(州)", "市(地、州)", "市(州、盟)"),
    _household("county", TEXT, "县(市、区、旗)", "县(市、区)", "县", "县区", "县(区)", "县(市、区、旗、场)"),
    _household("township", TEXT, "乡(镇)", "乡镇", "乡(镇、街道)", "乡镇(街道)"),
    _household("village", TEXT, "行政村", "村", "村(社区)", "行政村(社区)"),
    _household("division_code", CODE, "行政区划代码", "区划代码", "行政区划编码", "村行政区划代码",
               "行政区划"),
    _household("household_no", CODE, "户编号", "户编码", "农户编号"),
    _household("household_type", TEXT, "户类型", "户属性"),
    _household("monitoring_category", TEXT, "监测对象类别", "监测类型", "监测对象类型"),
    _household("exit_year", INTEGER, "脱贫年度", "脱贫年份", "脱贫时间"),
    _household("is_risk_eliminated", BOOLEAN, "风险是否消除", "是否风险消除"),
    _household("risks", RISK, "致贫返贫风险", "主要致贫返贫风险", "致贫原因", "风险类型",
               *(f"致贫返贫风险{n}" for n in range(1, 6))),
    _household("size", INTEGER, "家庭人口数", "家庭人口", "人口数", "户人口数"),
    _household("per_capita_net_income", MONEY, "年人均纯收入", "人均纯收入", "家庭年人均纯收入"),
    _household("wage_income", MONEY, "工资性收入"),
    _household("business_income", MONEY, "生产经营性收入"),
    _household("property_income", MONEY, "财产性收入"),
    _household("transfer_income", MONEY, "转移性收入"),
    _household("business_expense", MONEY, "生产经营性支出"),
    _household("out_of_pocket_medical", MONEY, "合规自付支出", "合规自付医疗支出", "医疗合规自付支出"),
    _household("is_unsafe_house", BOOLEAN, "是否危房户", "是否危房"),
    _household("has_safe_water", BOOLEAN, "是否解决安全饮用水", "是否安全饮水", "是否解决安全饮水"),
    _household("has_sanitary_toilet", BOOLEAN, "是否有卫生厕所", "有无卫生厕所"),
    _household("phone", CODE, "户联系电话", "联系电话", "户主联系电话"),
    _household("helper_name", TEXT, "帮扶责任人", "帮扶人", "帮扶责任人姓名"),
    _household("help_measures", LIST, "帮扶措施", "落实帮扶措施"),
    _household("longitude", DECIMAL, "经度"),
    _household("latitude", DECIMAL, "纬度"),
    _member("name", TEXT, "姓名", "成员姓名"),
    _member("id_type", TEXT, "证件类型"),
    _member("id_number", ID_NUMBER, "证件号码", "身份证号码", "身份证号", "公民身份号码", "证件号",
            "身份证件号码"),
    _member("relationship_to_head", TEXT, "与户主关系"),
    _member("sex", TEXT, "性别"),
    _member("birth_date", DATE, "出生日期"),
    _member("ethnicity", TEXT, "民族"),
    _member("education", TEXT, "文化程度"),
    _member("school_status", TEXT, "在校生状况", "在校生情况", "在校状况"),
    _member("out_of_school_reason", TEXT, "义务教育阶段未上学原因", "未上学原因", "义务教育阶段失学辍学原因"),
    _member("health", TEXT, "健康状况"),
    _member("labour_skill", TEXT, "劳动技能", "劳动能力"),
    _member("months_worked", INTEGER, "务工时间(月)", "务工时间", "务工月数"),
    _member("work_place", TEXT, "务工地点", "务工区域"),
    _member("has_medical_insurance", BOOLEAN, "是否参加城乡居民基本医疗保险", "是否参加基本医疗保险",
            "是否参加城乡居民基本医疗保险(新农合)"),
    _member("has_serious_illness_insurance", BOOLEAN, "是否参加大病保险", "是否参加城乡居民大病保险"),
    _member("has_pension_insurance", BOOLEAN, "是否参加城乡居民基本养老保险", "是否参加基本养老保险"),
    _member("receives_dibao", BOOLEAN, "是否享受低保", "是否享受农村最低生活保障", "是否低保"),
    _member("receives_extreme_poverty_support", BOOLEAN, "是否特困供养", "是否享受特困供养", "是否特困"),
)

BY_FIELD = {column.field: column for column in COLUMNS}

# Headers read and dropped: the running row number of the export, and the two columns
# that the rejected-rows workbook adds in front of the original ones.
# The sheet and the two added columns of the rejected-rows workbook, named like the register's own columns.
REJECTED_SHEET_NAME = "退回的行"
SOURCE_ROW_HEADER = "源文件行号"
REASONS_HEADER = "退回原因"
IGNORED = ("序号", "编号", SOURCE_ROW_HEADER, REASONS_HEADER)

# The fields a row cannot be stored without, in the order their absence is reported.
REQUIRED_FIELDS = ("household_no", "name", "id_number")

# How many rows from the top are searched for the header row.
HEADER_SEARCH_ROWS = 30

_FULL_WIDTH = str.maketrans("（）【】［］，：", "()[][],:")
_SPACES = re.compile(r"[\s\u3000]+")
# Units written after a header: "(元)", "(月)" is kept because "务工时间(月)" is a name in its own right.
_MONEY_UNIT = re.compile(r"\((元|万元)\)$")


def normalize_header(value) -> str:
    """Strip spaces and a money unit, and turn full-width brackets into ASCII ones."""
    text = _SPACES.sub("", str(value if value is not None else "").translate(_FULL_WIDTH))
    return _MONEY_UNIT.sub("", text)


def alias_table(extra_aliases: dict[str, str] | None = None) -> dict[str, Column]:
    """Return the lookup from normalised header to column, with configured local names added.

    ``extra_aliases`` maps a header as it appears in a file to a field name such as ``"size"``.
    """
    table = {name: column for column in COLUMNS for name in column.names}
    for header, field in (extra_aliases or {}).items():
        if field not in BY_FIELD:
            raise ValueError(
                f"REGISTER_HEADER_ALIASES maps {header!r} to unknown field {field!r}; "
                f"use one of {', '.join(sorted(BY_FIELD))}"
            )
        table[normalize_header(header)] = BY_FIELD[field]
    return table


@dataclass
class HeaderMap:
    """The columns of one file: the cell index of each field, and the unknown columns."""

    row_index: int  # 0-based index of the header row in the rows read
    headers: list[str]  # header cells as written in the file
    fields: dict[str, list[int]]  # field -> cell indexes (several for the numbered risk columns)
    unknown: dict[int, str]  # cell index -> header, for Member.extra
    duplicates: list[str]  # known headers that appear more than once

    @property
    def missing_required(self) -> list[str]:
        return [field for field in REQUIRED_FIELDS if field not in self.fields]


def map_header(row_index: int, cells: list, aliases: dict[str, Column]) -> HeaderMap:
    headers = [str(cell).strip() if cell is not None else "" for cell in cells]
    fields: dict[str, list[int]] = {}
    unknown: dict[int, str] = {}
    seen: dict[str, int] = {}
    duplicates: list[str] = []
    for index, header in enumerate(headers):
        key = normalize_header(header)
        if not key or key in IGNORED:
            continue
        column = aliases.get(key)
        if column is None:
            label = header if header not in seen else f"{header} ({seen[header] + 1})"
            seen[header] = seen.get(header, 0) + 1
            unknown[index] = label
            continue
        if column.field in fields and column.kind != RISK:
            duplicates.append(header)
            continue
        fields.setdefault(column.field, []).append(index)
    return HeaderMap(row_index, headers, fields, unknown, duplicates)


def find_header(rows: list[list], aliases: dict[str, Column]) -> HeaderMap | None:
    """Return the first row among the top ``HEADER_SEARCH_ROWS`` that names every required column."""
    for index, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        mapped = map_header(index, cells, aliases)
        if not mapped.missing_required:
            return mapped
    return None
