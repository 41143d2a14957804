"""Records and form data that the visit tests share."""

import io
import itertools
import struct
import zlib

from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from fieldapp.checks.models import SuspectedProblem
from fieldapp.extensions import db
from fieldapp.sampling.models import SampledHousehold, SamplingRound
from fieldapp.visits import questionnaires

_counter = itertools.count(1)

# Registered point of the test households: 阳信县城, WGS-84.
HOUSEHOLD_LATITUDE = 37.6411
HOUSEHOLD_LONGITUDE = 117.5786


def sample(household, inspector, *, name="第一批") -> SampledHousehold:
    """Draw ``household`` in a new sampling round and assign it to ``inspector``."""
    sampling_round = SamplingRound(name=name, method="stratified_srs", seed=7, is_demo=household.is_demo)
    sampled = SampledHousehold(
        sampling_round=sampling_round,
        household=household,
        stratum_code=household.township_code,
        draw_order=next(_counter),
        inspector_id=inspector.id if inspector else None,
    )
    db.session.add(sampled)
    db.session.flush()
    return sampled


def problem(household, *, rule_id="id_check_character",
            detail="证件号码校验位应为 X，实为 3") -> SuspectedProblem:
    record = SuspectedProblem(
        key=f"{rule_id}:{household.id}:{next(_counter)}",
        rule_id=rule_id,
        severity=2,
        household_id=household.id,
        detail=detail,
        status="open",
    )
    db.session.add(record)
    db.session.flush()
    return record


def jpeg_bytes(size=(40, 20), colour=(30, 90, 200), exif=None) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", size, colour)
    if exif is not None:
        image.save(buffer, "JPEG", quality=95, exif=exif)
    else:
        image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def gps_exif(latitude_ref="N", longitude_ref="E", with_gps_time=True) -> Image.Exif:
    """Return EXIF data with a GPS position near 阳信县 (37.6411 N, 117.5786 E) and capture times.

    The GPS time says 02:03:04 UTC on 2026-05-01; DateTimeOriginal says 10:03:00 local time.
    """
    exif = Image.Exif()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = latitude_ref
    gps[ExifTags.GPS.GPSLatitude] = (IFDRational(37), IFDRational(38), IFDRational(2796, 100))
    gps[ExifTags.GPS.GPSLongitudeRef] = longitude_ref
    gps[ExifTags.GPS.GPSLongitude] = (IFDRational(117), IFDRational(34), IFDRational(4296, 100))
    if with_gps_time:
        gps[ExifTags.GPS.GPSDateStamp] = "2026:05:01"
        gps[ExifTags.GPS.GPSTimeStamp] = (IFDRational(2), IFDRational(3), IFDRational(4))
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2026:05:01 10:03:00"
    return exif


def png_header_only(width: int, height: int) -> bytes:
    """Return a PNG that declares ``width`` x ``height`` but carries almost no pixel data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


# Answers to every question a household of adults is asked, as the form sends them.
HOUSEHOLD_ANSWERS = {
    "member_list_correct": "yes",
    "resident_count": "2",
    "away_count": "0",
    "food_enough": "yes",
    "protein_frequency": "weekly",
    "seasonal_clothes": "yes",
    "winter_bedding": "yes",
    "has_chronic_or_serious_illness": "no",
    "out_of_pocket_medical": "0",
    "house_count": "1",
    "house_structure": "brick_concrete",
    "has_cracks_or_leaks": "no",
    "safety_rating": "A",
    "safety_assurance": "appraised",
    "water_source": "piped",
    "water_quantity_ok": "yes",
    "water_quality_ok": "yes",
    "water_convenient": "yes",
    "water_interruption_days": "0",
    "toilet_type": "flush",
    "has_electricity": "yes",
    "wage_income": "12000",
    "business_income": "0",
    "property_income": "0",
    "transfer_income": "3000",
    "business_expense": "0",
    "sudden_hardship": "no",
    "owns_commercial_housing": "no",
    "owns_vehicle": "no",
    "has_business": "no",
    "relative_on_payroll": "no",
    "knows_helper": "yes",
    "helper_visit_frequency": "monthly",
    "satisfaction": "satisfied",
    "household_signed": "yes",
}

MEMBER_ANSWERS = {
    "is_resident": "yes",
    "health": "健康",
    "labour_skill": "普通劳动力",
    "school_status": "非在校生",
    "months_worked": "6",
    "has_medical_insurance": "yes",
    "has_serious_illness_insurance": "yes",
}


def visit_form(household, client_uuid: str, *, photo: bytes | None = None, **overrides) -> dict:
    """Return the multipart data of a complete, valid visit form.

    ``overrides`` replace values, and a None override drops the field.
    """
    data = {
        "client_uuid": client_uuid,
        "questionnaire_id": str(questionnaires.current().id),
        "latitude": str(HOUSEHOLD_LATITUDE + 0.0005),
        "longitude": str(HOUSEHOLD_LONGITUDE),
        "accuracy_m": "12.5",
        "fixed_at": "2026-05-01T02:00:00Z",
        "started_at": "2026-05-01T01:40:00Z",
        "submitted_at": "2026-05-01T02:01:00Z",
        **HOUSEHOLD_ANSWERS,
    }
    for member in household.members:
        for key, value in MEMBER_ANSWERS.items():
            data[f"member_checks.{member.id}.{key}"] = value
    data["house_photo"] = (io.BytesIO(photo if photo is not None else jpeg_bytes()), "IMG_0001.jpg")
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data
