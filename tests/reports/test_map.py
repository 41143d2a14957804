import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from fieldapp.reports.geo import wgs84_to_gcj02
from tests.conftest import login
from tests.reports.conftest import HOME

STATIC = Path(__file__).resolve().parents[2] / "static"


@pytest.fixture
def supervisor_client(area, client):
    client.set_cookie("lang", "en", domain="localhost.localdomain")
    login(client, area.supervisor)
    return client


def referenced_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url\(([^)]+)\)", html)


def test_map_page_references_no_other_host(supervisor_client):
    html = supervisor_client.get("/reports/map").get_data(as_text=True)
    for url in referenced_urls(html):
        assert not urlsplit(url).netloc, url
        assert not url.startswith("//"), url
    assert "http://" not in html
    assert "https://" not in html
    assert "/static/vendor/leaflet/leaflet.js" in html
    # The scripts and styles the page loads reference no other host either.
    for name in ("js/map.js", "css/reports.css", "vendor/leaflet/leaflet.css"):
        content = re.sub(r"/\*.*?\*/", "", (STATIC / name).read_text(encoding="utf-8"), flags=re.S)
        assert "http://" not in content, name
        assert "https://" not in content, name
        for url in re.findall(r"url\(([^)]+)\)", content):
            assert not urlsplit(url.strip("'\"")).netloc, (name, url)
    pattern = r'<script type="application/json" id="map-settings">(.*?)</script>'
    settings = re.search(pattern, html, re.S).group(1)
    assert '"tile_url": null' in settings


def test_map_points(area, supervisor_client):
    response = supervisor_client.get("/reports/map/points.json")
    assert response.status_code == 200
    data = response.get_json()
    assert data["coordinates"] == "wgs84"
    households = {point["id"]: point for point in data["households"]}
    laodian = area.households["laodian"]
    # The Huimin household is outside the supervisor's scope; the Shuiwan one has no position.
    assert set(households) == {h.id for h in laodian}
    assert households[laodian[0].id]["state"] == "overdue"
    assert households[laodian[0].id]["findings"] == 2
    assert households[laodian[1].id]["state"] == "corrected"
    assert households[laodian[2].id]["state"] == "none"
    assert households[laodian[0].id]["position"] == [HOME[0], HOME[1]]

    visits = {point["id"]: point for point in data["visits"]}
    assert set(visits) == {area.visits["satisfied"].id, area.visits["unsure"].id}
    far = visits[area.visits["satisfied"].id]
    assert far["is_far"] is True
    assert far["household"] == [HOME[0], HOME[1]]
    assert far["distance_m"] == 300
    assert far["url"] == f"/review/visits/{area.visits['satisfied'].id}"
    assert visits[area.visits["unsure"].id]["is_far"] is False
    assert visits[area.visits["unsure"].id]["household"] is None


def test_map_points_township_filter(area, supervisor_client, make):
    data = supervisor_client.get(f"/reports/map/points.json?township={make.SHUIWAN}").get_json()
    assert data["households"] == []
    assert data["visits"] == []
    outside = supervisor_client.get(f"/reports/map/points.json?township={make.HUIMIN_TOWNSHIP}")
    assert outside.status_code == 404


def test_gcj02_tiles_convert_points(app, area, supervisor_client, monkeypatch):
    # Tiles from a local route, so nothing leaves the test.
    monkeypatch.setitem(app.config, "MAP_TILE_URL", "/static/vendor/leaflet/images/layers.png?{z}/{x}/{y}")
    monkeypatch.setitem(app.config, "MAP_TILE_COORDINATES", "gcj02")
    data = supervisor_client.get("/reports/map/points.json").get_json()
    assert data["coordinates"] == "gcj02"
    point = next(p for p in data["households"] if p["id"] == area.households["laodian"][0].id)
    expected = wgs84_to_gcj02(*HOME)
    assert point["position"] == [round(expected[0], 6), round(expected[1], 6)]
    html = supervisor_client.get("/reports/map").get_data(as_text=True)
    assert "/static/vendor/leaflet/images/layers.png?{z}/{x}/{y}" in html


def test_wgs84_tiles_keep_points(app, area, supervisor_client, monkeypatch):
    monkeypatch.setitem(app.config, "MAP_TILE_URL", "/static/vendor/leaflet/images/layers.png?{z}/{x}/{y}")
    data = supervisor_client.get("/reports/map/points.json").get_json()
    assert data["coordinates"] == "wgs84"
    point = next(p for p in data["households"] if p["id"] == area.households["laodian"][0].id)
    assert point["position"] == [HOME[0], HOME[1]]


def test_gcj02_setting_without_tiles_keeps_points(app, area, supervisor_client, monkeypatch):
    monkeypatch.setitem(app.config, "MAP_TILE_COORDINATES", "gcj02")
    data = supervisor_client.get("/reports/map/points.json").get_json()
    assert data["coordinates"] == "wgs84"


def test_map_access(area, client):
    login(client, area.inspector)
    assert client.get("/reports/map").status_code == 404
    assert client.get("/reports/map/points.json").status_code == 404
