import pytest

from fieldapp.reports.geo import out_of_china, wgs84_to_gcj02

# Reference pairs (WGS-84 -> GCJ-02) published with the eviltransform library's tests
# (github.com/googollee/eviltransform): Shanghai, Shenzhen and Beijing.
REFERENCE = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),
]


@pytest.mark.parametrize("wgs, gcj", REFERENCE)
def test_reference_values(wgs, gcj):
    latitude, longitude = wgs84_to_gcj02(*wgs)
    assert latitude == pytest.approx(gcj[0], abs=1e-9)
    assert longitude == pytest.approx(gcj[1], abs=1e-9)


def test_binzhou_offset_plausible():
    latitude, longitude = wgs84_to_gcj02(37.62, 117.58)
    # GCJ-02 shifts points in Shandong by a few hundred metres, mostly eastwards.
    assert 0 < (latitude - 37.62) * 111_000 < 400
    assert 300 < (longitude - 117.58) * 88_000 < 700


@pytest.mark.parametrize("point", [(48.8566, 2.3522), (0.0, 0.0), (35.681236, 139.767125), (-33.87, 151.21)])
def test_outside_china_unchanged(point):
    assert out_of_china(*point)
    assert wgs84_to_gcj02(*point) == point
