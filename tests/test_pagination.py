"""The page argument of the lists: page numbers, and the notice for a page past the end or not a number."""

import pytest
from flask_babel import force_locale

from fieldapp.pagination import page_notice, page_number, requested_page


@pytest.mark.parametrize(("text", "number"), [
    ("1", 1), ("5", 5), (" 12 ", 12), ("５", 5), ("007", 7), ("1234567890123", 10 ** 9),
    (None, None), ("", None), ("0", None), ("-1", None), ("+2", None), ("1.5", None), ("5_0", None),
    ("abc", None), ("²", None), ("1e3", None),
])
def test_page_number(text, number):
    assert page_number(text) == number


@pytest.mark.parametrize(("query", "page"), [("", 1), ("?page=3", 3), ("?page=abc", 1), ("?page=0", 1)])
def test_requested_page(app, query, page):
    with app.test_request_context(f"/checks/problems{query}"):
        assert requested_page() == page


@pytest.mark.parametrize(("query", "shown", "pages", "notice"), [
    ("", 1, 1, ""),
    ("?page=2", 2, 5, ""),
    ("?page=99", 5, 5, "Page 99 does not exist; the list has 5 pages. Showing page 5."),
    ("?page=2", 1, 1, "Page 2 does not exist; the list has 1 page. Showing page 1."),
    ("?page=abc", 1, 5,
     "\"abc\" is not a page number; a page number is a whole number from 1. Showing page 1."),
    ("?page=" + "9" * 30, 5, 5, f"Page {'9' * 20}… does not exist; the list has 5 pages. Showing page 5."),
])
def test_page_notice(app, query, shown, pages, notice):
    with app.test_request_context(f"/checks/problems{query}"), force_locale("en"):
        assert page_notice(shown, pages) == notice


def test_page_notice_in_chinese(app):
    with app.test_request_context("/checks/problems?page=99"), force_locale("zh_CN"):
        assert page_notice(5, 5) == "第 99 页不存在，共 5 页；显示第 5 页。"
    with app.test_request_context("/checks/problems?page=abc"), force_locale("zh_CN"):
        assert page_notice(1, 5) == "页码“abc”无效，页码应为从 1 开始的整数；显示第 1 页。"
