"""Masking ID numbers and phone numbers for pages, messages and exports."""

import pytest

from fieldapp import idnumbers

ID = "371622198001010012"


@pytest.mark.parametrize(("text", "shown"), [
    (f"配偶身份证号：{ID}，电话 13800007368", "配偶身份证号：371622********0012，电话 138****7368"),
    ("旧证号 371622800101001 已换发", "旧证号 371622*****1001 已换发"),
    ("卡号 6222021234567890123456", "卡号 6222021234567890123456"),
    ("坐落 黄河3路82号 96.99", "坐落 黄河3路82号 96.99"),
    (f"{ID[:-1]}x", "371622********001x"),
    (f"残疾证号{ID}11", "残疾证号371622**********1211"),
    ("371622 19800101 0012", "371622**********0012"),
    ("电话 +8613800007368", "电话 +86*******7368"),
    ("电话 8613912345678", "电话 861******5678"),
    ("138-0000-7368 或 138 0000 7368", "138******7368 或 138******7368"),
    ("登记 2023-05-11 面积 120", "登记 2023-05-11 面积 120"),
    ("户主身份证３７１６２２１９８００１０１００１２", "户主身份证371622********0012"),
    ("电话１３８－００００－７３６８", "电话138******7368"),
])
def test_numbers_in_text_masked(text, shown):
    assert idnumbers.mask_numbers_in_text(text) == shown
    assert idnumbers.has_number_in_text(text) is ("*" in shown)


@pytest.mark.parametrize(("value", "shown"), [
    ("3.71622E+17", "3.71622E+17"),
    ("张三", "张三"),
    ("abc", "abc"),
    ("3716221980", "**********"),
    ("371-622-1980-0101-0011", idnumbers.mask("371-622-1980-0101-0011")),
    (ID + ".0", idnumbers.mask(ID + ".0")),
])
def test_rejected_value_masked_when_identifying(value, shown):
    assert idnumbers.mask_rejected_value(value) == shown
