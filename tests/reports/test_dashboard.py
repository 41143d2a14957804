import re
from datetime import date, timedelta

import pytest

from fieldapp.db_types import utcnow
from fieldapp.extensions import db
from fieldapp.reports import dashboard
from fieldapp.review.services import change_status
from tests.conftest import login


def by_code(figures):
    return {row.code: row for row in figures.rows}


def test_township_rows_for_county_supervisor(area, make):
    figures = dashboard.build(area.supervisor, today=date.today())
    assert figures.level == "township"
    rows = by_code(figures)
    assert set(rows) == {make.LAODIAN, make.SHUIWAN}
    laodian = rows[make.LAODIAN]
    assert laodian.name == "劳店镇"
    assert (laodian.sampled, laodian.visited, laodian.not_visited) == (3, 2, 1)
    assert laodian.findings == {"pending": 1, "in_progress": 1, "corrected": 1, "closed": 0}
    assert laodian.overdue == 1
    assert laodian.corrected_rate == pytest.approx(1 / 3)
    # Household 1 is satisfied; household 2's latest answer is "unsure".
    assert (laodian.surveyed, laodian.satisfied) == (2, 1)
    shuiwan = rows[make.SHUIWAN]
    assert (shuiwan.sampled, shuiwan.visited, shuiwan.findings["closed"], shuiwan.satisfied) == (1, 1, 1, 1)
    total = figures.total
    assert (total.sampled, total.findings_total, total.corrected, total.overdue) == (4, 4, 2, 1)
    assert total.satisfaction_rate == pytest.approx(2 / 3)


def test_county_rows_for_city_admin(area, make):
    figures = dashboard.build(area.admin, today=date.today())
    assert figures.level == "county"
    rows = by_code(figures)
    assert set(rows) == {make.YANGXIN, make.HUIMIN}
    assert rows[make.HUIMIN].name == "惠民县"
    assert rows[make.HUIMIN].findings["pending"] == 1
    assert (rows[make.HUIMIN].surveyed, rows[make.HUIMIN].satisfied) == (1, 0)
    drilled = dashboard.build(area.admin, county_code=make.YANGXIN, today=date.today())
    assert drilled.level == "township"
    assert set(by_code(drilled)) == {make.LAODIAN, make.SHUIWAN}


def test_not_visitable_household_not_counted(area, make):
    unvisited = next(sampled for sampled in area.sampling_round.sampled_households if not sampled.visits)
    unvisited.status, unvisited.cannot_visit_reason = "cannot_visit", "moved"
    unvisited.cannot_visit_at = utcnow()
    db.session.flush()

    laodian = by_code(dashboard.build(area.supervisor, today=date.today()))[make.LAODIAN]
    assert (laodian.sampled, laodian.visited, laodian.not_visited) == (2, 2, 0)


def test_round_filter(area, make):
    empty = dashboard.build(area.supervisor, round_id=area.sampling_round.id + 1000, today=date.today())
    assert empty.rows == []
    same = dashboard.build(area.supervisor, round_id=area.sampling_round.id, today=date.today())
    assert same.total.sampled == 4


def test_trend_weeks(area):
    today = date.today()
    weeks = dashboard.trend(area.supervisor, today=today)
    assert len(weeks) == dashboard.TREND_WEEKS
    assert weeks[-1].start == today - timedelta(days=today.weekday())
    # Yangxin visits: three received today or 8 days ago, one 20 days ago.
    assert sum(week.visits for week in weeks) == 4
    assert sum(week.opened for week in weeks) == 4
    assert sum(week.corrected for week in weeks) == 2
    assert weeks[-1].visits >= 2


def test_page_table_and_charts(area, client, make):
    client.set_cookie("lang", "en", domain="localhost.localdomain")
    login(client, area.supervisor)
    response = client.get("/reports/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    row = re.search(rf'<tr data-division="{make.LAODIAN}">(.*?)</tr>', html, re.S).group(1)
    numbers = re.findall(r'<td class="num">([^<]*)</td>', row)
    assert numbers == ["3", "2", "1", "3", "1", "1", "1", "0", "1", "33.3%", "2", "1", "50.0%"]
    assert 'data-figure="overdue">1<' in html
    assert "/static/vendor/chartjs/chart.umd.min.js" in html
    assert 'id="dashboard-data"' in html
    assert "惠民县" not in html


def test_numbers_change_after_correction(area, client):
    login(client, area.supervisor)
    before = client.get("/reports/").get_data(as_text=True)
    assert 'data-figure="corrected">2<' in before
    change_status(area.findings["in_progress"], "corrected", comment="", user=area.supervisor)
    after = client.get("/reports/").get_data(as_text=True)
    assert 'data-figure="corrected">3<' in after


def test_page_access(area, client, make):
    login(client, area.inspector)
    assert client.get("/reports/").status_code == 404
    outsider = make.user("supervisor", [make.HUIMIN])
    other = client.application.test_client()
    login(other, outsider)
    html = other.get("/reports/").get_data(as_text=True)
    assert "劳店镇" not in html
    assert other.get(f"/reports/?county={make.YANGXIN}").status_code == 404
