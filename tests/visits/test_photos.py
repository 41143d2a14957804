import io
import math
import re
import struct
from datetime import UTC, datetime

import pillow_heif
import pytest
from PIL import ExifTags, Image

from fieldapp.errors import FieldError
from fieldapp.visits.photos import PhotoLimits, process_photo
from tests.visits.support import gps_exif, jpeg_bytes, png_header_only

LIMITS = PhotoLimits(max_pixels=50_000_000, max_long_side=2048, thumb_long_side=320, jpeg_quality=85)
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
WIDTH, HEIGHT = 40, 20


def marked_jpeg(orientation: int) -> bytes:
    """Return a 40 x 20 blue JPEG with an orientation tag, red top-left and green top-right as stored."""
    image = Image.new("RGB", (WIDTH, HEIGHT), BLUE)
    image.paste(RED, (0, 0, 8, 8))
    image.paste(GREEN, (WIDTH - 8, 0, WIDTH, 8))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, exif=exif)
    return buffer.getvalue()


def colour_at(jpeg: bytes, corner: str) -> tuple:
    image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    x = 3 if "left" in corner else image.width - 4
    y = 3 if "top" in corner else image.height - 4
    return image.getpixel((x, y))


def nearest(colour) -> tuple:
    def distance(reference):
        return sum((a - b) ** 2 for a, b in zip(colour, reference, strict=True))

    return min((RED, GREEN, BLUE), key=distance)


# Where the stored top-left (red) and top-right (green) corners must appear once upright.
ORIENTATIONS = {
    2: ("top-right", "top-left", (40, 20)),
    3: ("bottom-right", "bottom-left", (40, 20)),
    4: ("bottom-left", "bottom-right", (40, 20)),
    5: ("top-left", "bottom-left", (20, 40)),
    6: ("top-right", "bottom-right", (20, 40)),
    7: ("bottom-right", "top-right", (20, 40)),
    8: ("bottom-left", "top-left", (20, 40)),
}


@pytest.mark.parametrize("orientation", sorted(ORIENTATIONS))
def test_photo_turned_upright(orientation):
    red_corner, green_corner, size = ORIENTATIONS[orientation]
    processed = process_photo(marked_jpeg(orientation), "IMG_1.jpg", "house_photo", LIMITS)
    assert (processed.width, processed.height) == size
    assert Image.open(io.BytesIO(processed.full_jpeg)).size == size
    assert nearest(colour_at(processed.full_jpeg, red_corner)) == RED
    assert nearest(colour_at(processed.full_jpeg, green_corner)) == GREEN


def test_stored_photo_has_no_metadata():
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] = "N"
    processed = process_photo(jpeg_bytes(exif=exif), "IMG_2.jpg", "photos", LIMITS)
    for content in (processed.full_jpeg, processed.thumb_jpeg):
        stored = Image.open(io.BytesIO(content))
        assert stored.format == "JPEG"
        assert "exif" not in stored.info
        assert len(stored.getexif()) == 0
        assert b"PhoneMaker" not in content


def test_photo_downscaled_and_thumbnail():
    limits = PhotoLimits(max_pixels=50_000_000, max_long_side=100, thumb_long_side=32, jpeg_quality=85)
    processed = process_photo(jpeg_bytes(size=(400, 300)), "big.jpg", "photos", limits)
    assert (processed.width, processed.height) == (100, 75)
    assert Image.open(io.BytesIO(processed.thumb_jpeg)).size == (32, 24)
    assert processed.original_bytes > 0
    assert len(processed.upload_sha256) == 64


def test_huge_png_rejected_before_decoding():
    data = png_header_only(14000, 14000)
    assert len(data) < 1000
    with pytest.raises(FieldError) as raised:
        process_photo(data, "/sdcard/DCIM/huge.png", "house_photo", LIMITS)
    # Decoding would have failed on the missing pixel data with another message.
    assert raised.value.field == "house_photo"
    assert "huge.png" in raised.value.message
    assert "196,000,000" in raised.value.message
    assert "50,000,000" in raised.value.message


def test_png_over_limit_names_size():
    limits = PhotoLimits(max_pixels=1000, max_long_side=2048, thumb_long_side=320, jpeg_quality=85)
    with pytest.raises(FieldError) as raised:
        process_photo(png_header_only(40, 30), "wide.png", "photos", limits)
    assert "wide.png" in raised.value.message
    assert re.search(r"40 [x×] 30", raised.value.message)
    assert "1,200" in raised.value.message


def test_non_image_rejected():
    with pytest.raises(FieldError) as raised:
        process_photo(b"%PDF-1.4 not a photo", "scan.pdf", "photos", LIMITS)
    assert raised.value.field == "photos"
    assert "scan.pdf" in raised.value.message


def test_truncated_jpeg_rejected():
    data = jpeg_bytes(size=(64, 64))[:300]
    with pytest.raises(FieldError) as raised:
        process_photo(data, "cut.jpg", "photos", LIMITS)
    assert "cut.jpg" in raised.value.message


def test_heic_accepted():
    image = Image.new("RGB", (64, 48), RED)
    buffer = io.BytesIO()
    pillow_heif.from_pillow(image).save(buffer, quality=90)
    assert buffer.getvalue()[4:12] == b"ftypheic"
    processed = process_photo(buffer.getvalue(), "IMG_5195.HEIC", "photos", LIMITS)
    assert processed.original_format == "HEIF"
    assert (processed.width, processed.height) == (64, 48)
    assert nearest(colour_at(processed.full_jpeg, "top-left")) == RED


def test_exif_gps_stored_as_decimal_degrees():
    processed = process_photo(jpeg_bytes(exif=gps_exif()), "gps.jpg", "photos", LIMITS)
    assert math.isclose(processed.exif_latitude, 37 + 38 / 60 + 27.96 / 3600, abs_tol=1e-9)
    assert math.isclose(processed.exif_longitude, 117 + 34 / 60 + 42.96 / 3600, abs_tol=1e-9)


def test_exif_gps_south_and_west_negative():
    processed = process_photo(jpeg_bytes(exif=gps_exif("S", "W")), "gps.jpg", "photos", LIMITS)
    assert processed.exif_latitude < -37.6
    assert processed.exif_longitude < -117.5


def test_exif_gps_time_preferred_as_utc():
    processed = process_photo(jpeg_bytes(exif=gps_exif()), "gps.jpg", "photos", LIMITS)
    assert processed.taken_at == datetime(2026, 5, 1, 2, 3, 4, tzinfo=UTC)


def test_exif_local_time_taken_as_shanghai():
    processed = process_photo(jpeg_bytes(exif=gps_exif(with_gps_time=False)), "t.jpg", "photos", LIMITS)
    assert processed.taken_at == datetime(2026, 5, 1, 2, 3, 0, tzinfo=UTC)


def test_exif_offset_time_respected():
    exif = Image.Exif()
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.DateTimeOriginal] = "2021:04:11 15:47:53"
    details[ExifTags.Base.OffsetTimeOriginal] = "-05:00"
    processed = process_photo(jpeg_bytes(exif=exif), "t.jpg", "photos", LIMITS)
    assert processed.taken_at == datetime(2021, 4, 11, 20, 47, 53, tzinfo=UTC)


def test_malformed_exif_is_not_an_error():
    plain = jpeg_bytes(size=(30, 10))
    garbage = b"Exif\x00\x00MM\x00\x2a\x00\x00\xff\xff" + b"\xde\xad" * 20
    segment = b"\xff\xe1" + struct.pack(">H", len(garbage) + 2) + garbage
    data = plain[:2] + segment + plain[2:]
    processed = process_photo(data, "odd.jpg", "photos", LIMITS)
    assert (processed.width, processed.height) == (30, 10)
    assert processed.taken_at is None
    assert processed.exif_latitude is None
