"""Register files for the tests, in the shape of the monitoring system's member export."""

import csv
import io
import zipfile
from typing import NamedTuple

import xlsxwriter

from fieldapp.register.sheet_size import column_letters
from tests import factories

HEADERS = [
    "序号", "省(区、市)", "市(地、州、盟)", "县(市、区、旗)", "乡(镇)", "行政村", "行政区划代码", "户编号",
    "户类型", "监测对象类别", "脱贫年度", "风险是否消除", "致贫返贫风险1", "致贫返贫风险2", "家庭人口数",
    "年人均纯收入(元)", "工资性收入(元)", "生产经营性收入(元)", "财产性收入(元)", "转移性收入(元)",
    "生产经营性支出(元)", "合规自付支出(元)", "是否危房户", "是否解决安全饮用水", "是否有卫生厕所",
    "户联系电话", "帮扶责任人", "帮扶措施", "经度", "纬度", "姓名", "证件类型", "证件号码", "与户主关系",
    "性别", "出生日期", "民族", "文化程度", "在校生状况", "义务教育阶段未上学原因", "健康状况", "劳动技能",
    "务工时间(月)", "务工地点", "是否参加城乡居民基本医疗保险", "是否参加大病保险",
    "是否参加城乡居民基本养老保险", "是否享受低保", "是否特困供养",
]

TITLE = "全国防止返贫监测信息系统 家庭成员信息导出（数据截至 2026年11月30日）"

VILLAGE = factories.LAODIAN_VILLAGE  # 崔寨村村民委员会, 劳店镇, 阳信县
OTHER_VILLAGE = factories.SHUIWAN_VILLAGE  # 水落坡镇, 阳信县
HUIMIN_VILLAGE = factories.HUIMIN_VILLAGE  # 惠民县

_TOWNSHIPS = {
    VILLAGE: ("阳信县", "劳店镇", "崔寨村村民委员会"),
    OTHER_VILLAGE: ("阳信县", "水落坡镇", "水落坡村"),
    HUIMIN_VILLAGE: ("惠民县", "孙武街道", "惠民村"),
}

RELATIONSHIPS = ["户主", "配偶", "之子", "之女", "之孙子", "之孙女"]


def household_rows(number: int, *, village: str = VILLAGE, members: int = 3,
                   **household_fields) -> list[dict]:
    """Rows of one household: the household columns repeated, one member per row."""
    county, township, village_name = _TOWNSHIPS.get(village, ("阳信县", "劳店镇", "某村"))
    household = {
        "省(区、市)": "山东省", "市(地、州、盟)": "滨州市", "县(市、区、旗)": county, "乡(镇)": township,
        "行政村": village_name, "行政区划代码": village, "户编号": f"{village}{number:05d}",
        "户类型": "脱贫户", "监测对象类别": "", "脱贫年度": 2017.0, "风险是否消除": "",
        "致贫返贫风险1": "", "致贫返贫风险2": "", "家庭人口数": float(members),
        "年人均纯收入(元)": 16237.0, "工资性收入(元)": 29226.0, "生产经营性收入(元)": 9742.0,
        "财产性收入(元)": 0.0, "转移性收入(元)": 9742.0, "生产经营性支出(元)": 0.0, "合规自付支出(元)": 0.0,
        "是否危房户": "否", "是否解决安全饮用水": "是", "是否有卫生厕所": "是",
        "户联系电话": "13800007368", "帮扶责任人": "程国佳", "帮扶措施": "教育帮扶、社会帮扶、健康帮扶",
        "经度": 117.610023, "纬度": 37.570927,
    }
    household.update(household_fields)
    rows = []
    for index in range(members):
        sex_digit = 1 if index % 2 == 0 else 2
        birth = f"{1950 + index * 10}0{1 + index % 9}15"
        sequence = (number * 7 + index * 2 + sex_digit) % 1000
        rows.append({
            **household,
            "姓名": f"成员{number}-{index}", "证件类型": "居民身份证",
            "证件号码": factories.id_number(birth, sequence, village[:6]),
            "与户主关系": RELATIONSHIPS[index % len(RELATIONSHIPS)],
            "性别": "男" if sex_digit % 2 else "女", "出生日期": birth, "民族": "汉族", "文化程度": "初中",
            "在校生状况": "", "义务教育阶段未上学原因": "", "健康状况": "健康", "劳动技能": "普通劳动力",
            "务工时间(月)": 6.0, "务工地点": "县内", "是否参加城乡居民基本医疗保险": "是",
            "是否参加大病保险": "是",
            "是否参加城乡居民基本养老保险": "是", "是否享受低保": "否", "是否特困供养": "否",
        })
    return rows


class FormulaError(NamedTuple):
    """A formula cell whose stored result is an Excel error, as Excel saves a failed VLOOKUP."""

    error: str  # "#N/A", "#VALUE!", ...
    formula: str = "=VLOOKUP(A1,Z:Z,2,FALSE)"


def write_formula_error(sheet, line: int, column: int, cell: FormulaError) -> None:
    sheet.write_formula(line, column, cell.formula, None, cell.error)


def numbered(rows: list[dict]) -> list[dict]:
    return [{**row, "序号": float(index)} for index, row in enumerate(rows, start=1)]


def write_xlsx(path, rows: list[dict], *, headers: list[str] | None = None, title_rows: tuple = (TITLE,),
               numeric_ids: bool = False) -> str:
    """Write an export: the title rows, the header, then one row per member.

    Floats are written as numbers and everything else as text, as the system exports. With
    ``numeric_ids`` the ID numbers are written as numbers, as Excel does to a column not formatted as text.
    """
    headers = headers or HEADERS
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False})
    sheet = workbook.add_worksheet("监测对象信息")
    line = 0
    for title in title_rows:
        if title:
            sheet.write_string(line, 0, title)
        line += 1
    for column, header in enumerate(headers):
        sheet.write_string(line, column, header)
    for row in rows:
        line += 1
        for column, header in enumerate(headers):
            value = row.get(header, "")
            is_id = header in ("证件号码", "身份证号码")
            if numeric_ids and is_id and isinstance(value, str) and value.isdigit():
                value = float(value)
            if isinstance(value, FormulaError):
                write_formula_error(sheet, line, column, value)
            elif isinstance(value, float | int):
                sheet.write_number(line, column, value)
            elif value != "":
                sheet.write_string(line, column, str(value))
    workbook.close()
    return str(path)


def csv_text(rows: list[dict], *, headers: list[str] | None = None, title_rows: tuple = (TITLE,)) -> str:
    headers = headers or HEADERS
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for title in title_rows:
        writer.writerow([title] if title else [])
    writer.writerow(headers)
    for row in rows:
        writer.writerow([_csv_cell(row.get(header, "")) for header in headers])
    return buffer.getvalue()


def _csv_cell(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def write_csv(path, rows: list[dict], *, encoding: str = "utf-8", bom: bool = False, **options) -> str:
    data = csv_text(rows, **options).encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    with open(path, "wb") as handle:
        handle.write(data)
    return str(path)


def write_duration_overflow(path, header: list[str], row: list[str]) -> str:
    """Write a sheet whose second row ends with a cell calamine cannot read: 1e10 formatted as a duration."""
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("成员")
    sheet.write_row(0, 0, header)
    sheet.write_row(1, 0, row)
    sheet.write_number(1, len(row), 1e10, workbook.add_format({"num_format": "[h]:mm:ss"}))
    workbook.close()
    return str(path)


# -- files written part by part, for inputs no spreadsheet program writes ------

_RELATIONSHIPS_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def sheet_xml(rows_xml: str) -> str:
    """Return a worksheet part whose sheetData contains ``rows_xml``."""
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="{_MAIN_NS}" '
            f'xmlns:r="{_RELATIONSHIPS_NS}"><sheetData>{rows_xml}</sheetData></worksheet>')


def text_cell(reference: str, text: str) -> str:
    return f'<c r="{reference}" t="inlineStr"><is><t>{text}</t></is></c>'


def write_parts_xlsx(path, sheets: list[tuple[str, str]], *, hidden: tuple[str, ...] = (),
                     shared_strings: str | None = None) -> str:
    """Write an xlsx file from its sheet parts: ``sheets`` is a list of (name, worksheet XML)."""
    content_types = "".join(
        f'<Override PartName="/xl/worksheets/sheet{number}.xml" ContentType="application/'
        f'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for number in range(1, len(sheets) + 1))
    states = {name: ' state="hidden"' for name in hidden}
    sheet_entries = "".join(
        f'<sheet name="{name}" sheetId="{number}"{states.get(name, "")} r:id="rId{number}"/>'
        for number, (name, _xml) in enumerate(sheets, start=1))
    relationships = "".join(
        f'<Relationship Id="rId{number}" Type="{_RELATIONSHIPS_NS}/worksheet" '
        f'Target="worksheets/sheet{number}.xml"/>' for number in range(1, len(sheets) + 1))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/'
            '2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
            'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'{content_types}</Types>'))
        archive.writestr("_rels/.rels", (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            f'package/2006/relationships"><Relationship Id="rId1" Type="{_RELATIONSHIPS_NS}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'))
        archive.writestr("xl/workbook.xml", (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_MAIN_NS}" '
            f'xmlns:r="{_RELATIONSHIPS_NS}"><sheets>{sheet_entries}</sheets></workbook>'))
        archive.writestr("xl/_rels/workbook.xml.rels", (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            f'package/2006/relationships">{relationships}</Relationships>'))
        if shared_strings is not None:
            archive.writestr("xl/sharedStrings.xml", shared_strings)
        for number, (_name, xml) in enumerate(sheets, start=1):
            archive.writestr(f"xl/worksheets/sheet{number}.xml", xml)
    return str(path)


def register_rows_xml(rows: list[dict], *, first_row: int = 1, headers: list[str] | None = None) -> str:
    """Return the sheetData rows of a header row and ``rows``, every cell as an inline text."""
    headers = headers or HEADERS
    lines = [headers, *[[_csv_cell(row.get(header, "")) for header in headers] for row in rows]]
    return "".join(
        f'<row r="{number}">' + "".join(text_cell(f"{column_letters(column)}{number}", value)
                                        for column, value in enumerate(line, start=1) if value != "")
        + "</row>" for number, line in enumerate(lines, start=first_row))


def write_ods(path, tables_xml: str) -> str:
    """Write an OpenDocument spreadsheet whose body contains ``tables_xml`` (one or more table:table)."""
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content '
               'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
               f'<office:body><office:spreadsheet>{tables_xml}</office:spreadsheet></office:body>'
               '</office:document-content>')
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                '<manifest:file-entry manifest:full-path="/" '
                'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                '</manifest:manifest>')
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", manifest)
    return str(path)


def ods_cell(text: str, *, repeated: int = 1) -> str:
    repeat = f' table:number-columns-repeated="{repeated}"' if repeated > 1 else ""
    return f'<table:table-cell{repeat} office:value-type="string"><text:p>{text}</text:p></table:table-cell>'


def ods_register_table(rows: list[dict], *, name: str = "成员", extra_rows: str = "") -> str:
    """Return a table:table of a header row and ``rows``, with ``extra_rows`` (raw XML) after them."""
    lines = [HEADERS, *[[_csv_cell(row.get(header, "")) for header in HEADERS] for row in rows]]
    body = "".join("<table:table-row>" + "".join(ods_cell(value) if value != "" else "<table:table-cell/>"
                                                 for value in line) + "</table:table-row>" for line in lines)
    return f'<table:table table:name="{name}">{body}{extra_rows}</table:table>'
