"""WGS-84 to GCJ-02 conversion, for drawing stored positions on tiles that use GCJ-02.

Positions are stored in WGS-84, as phones report them. Tiles of Chinese providers (高德, 腾讯)
are drawn in GCJ-02, which shifts points by a few hundred metres, so points are converted
when, and only when, the configured tiles use it. The transform is the widely published
reconstruction of GCJ-02 (Krasovsky 1940 ellipsoid), as in the eviltransform library;
points outside the rectangle around China are not shifted.
"""

import math

# Krasovsky 1940 ellipsoid: semi-major axis in metres and first eccentricity squared.
KRASOVSKY_A = 6378245.0
KRASOVSKY_EE = 0.00669342162296594323

# Longitude and latitude bounds inside which GCJ-02 applies, as used by the published transform.
CHINA_LONGITUDE = (72.004, 137.8347)
CHINA_LATITUDE = (0.8293, 55.8271)


def out_of_china(latitude: float, longitude: float) -> bool:
    return not (
        CHINA_LONGITUDE[0] <= longitude <= CHINA_LONGITUDE[1]
        and CHINA_LATITUDE[0] <= latitude <= CHINA_LATITUDE[1]
    )


def _offset_latitude(x: float, y: float) -> float:
    result = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    result += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    result += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    result += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return result


def _offset_longitude(x: float, y: float) -> float:
    result = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    result += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    result += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    result += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return result


def wgs84_to_gcj02(latitude: float, longitude: float) -> tuple[float, float]:
    """Return the GCJ-02 (latitude, longitude) of a WGS-84 position, unchanged outside China."""
    if out_of_china(latitude, longitude):
        return latitude, longitude
    x, y = longitude - 105.0, latitude - 35.0
    radians = latitude / 180.0 * math.pi
    magic = 1 - KRASOVSKY_EE * math.sin(radians) ** 2
    sqrt_magic = math.sqrt(magic)
    d_latitude = (_offset_latitude(x, y) * 180.0) / (
        (KRASOVSKY_A * (1 - KRASOVSKY_EE)) / (magic * sqrt_magic) * math.pi
    )
    d_longitude = (_offset_longitude(x, y) * 180.0) / (KRASOVSKY_A / sqrt_magic * math.cos(radians) * math.pi)
    return latitude + d_latitude, longitude + d_longitude
