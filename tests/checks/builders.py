"""Registry files for the tests, with the column names departments use."""

import csv

import xlsxwriter

from tests.register.builders import FormulaError, write_formula_error

VEHICLE_HEADERS = ["所有人姓名", "身份证明号码", "号牌号码", "车辆类型", "初次登记日期"]


def write_xlsx(path, rows: list[list], *, title: str | None = None) -> str:
    """Write ``rows`` (the header first) to an xlsx file, every text cell as text.

    A ``FormulaError`` is written as a formula whose result is that Excel error.
    """
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False})
    sheet = workbook.add_worksheet("registry")
    offset = 0
    if title:
        sheet.write_string(0, 0, title)
        offset = 1
    for line, row in enumerate(rows):
        for column, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, FormulaError):
                write_formula_error(sheet, line + offset, column, value)
            elif isinstance(value, str):
                sheet.write_string(line + offset, column, value)
            else:
                sheet.write_number(line + offset, column, value)
    workbook.close()
    return str(path)


def write_csv(path, rows: list[list]) -> str:
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return str(path)


def vehicle_file(path, owners: list[tuple[str, str]], *, plate_start: int = 12345) -> str:
    """A 车辆 registry with one car per (name, ID number), first registered 2023-05-11."""
    rows = [VEHICLE_HEADERS]
    for offset, (name, id_number) in enumerate(owners):
        rows.append([name, id_number, f"鲁M{plate_start + offset}", "小型轿车", "2023-05-11"])
    return write_xlsx(path, rows)
