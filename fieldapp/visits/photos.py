"""Photo intake: size check before decoding, upright from EXIF, re-encoded JPEG without metadata.

The GPS position and capture time from the EXIF block are kept in the ``Photo`` row; the stored
files carry no metadata. Files are stored under generated names in ``UPLOAD_FOLDER/photos/``,
never under the name the phone sent.
"""

import hashlib
import io
import logging
import math
import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pi_heif
from flask import current_app
from flask_babel import gettext as _
from PIL import ExifTags, Image, ImageCms, ImageOps, UnidentifiedImageError

from fieldapp.errors import FieldError
from fieldapp.stored_files import remove_stored_file
from fieldapp.visits.models import Photo

logger = logging.getLogger(__name__)

# Formats a phone camera or gallery produces; Pillow's other decoders are never tried.
ACCEPTED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "HEIF", "AVIF", "GIF")
# Local time assumed for an EXIF capture time without a time zone.
CAMERA_TIMEZONE = ZoneInfo("Asia/Shanghai")

_openers_registered = False


@dataclass
class ProcessedPhoto:
    """A decoded, upright, re-encoded photo with the position and time read from its EXIF block."""

    full_jpeg: bytes
    thumb_jpeg: bytes
    width: int
    height: int
    original_format: str
    original_bytes: int
    upload_sha256: str
    taken_at: datetime | None = None
    exif_latitude: float | None = None
    exif_longitude: float | None = None


@dataclass(frozen=True)
class PhotoLimits:
    max_pixels: int
    max_long_side: int
    thumb_long_side: int
    jpeg_quality: int

    @classmethod
    def from_config(cls, config) -> "PhotoLimits":
        return cls(
            max_pixels=int(config["PHOTO_MAX_PIXELS"]),
            max_long_side=int(config["PHOTO_MAX_LONG_SIDE"]),
            thumb_long_side=int(config["PHOTO_THUMB_LONG_SIDE"]),
            jpeg_quality=int(config["PHOTO_JPEG_QUALITY"]),
        )


def _register_openers(max_pixels: int) -> None:
    """Register the HEIF decoder and set Pillow's decompression-bomb limit, once per process."""
    global _openers_registered
    if not _openers_registered:
        pi_heif.register_heif_opener()
        Image.init()
        _openers_registered = True
    # Pillow warns above this many pixels and raises DecompressionBombError above twice as many,
    # in Image.open and in crop. The header check in process_photo rejects anything above it first.
    Image.MAX_IMAGE_PIXELS = max_pixels


def process_photo(data: bytes, filename: str, field: str, limits: PhotoLimits) -> ProcessedPhoto:
    """Decode ``data`` and return the stored versions; raise ``FieldError(field, ...)`` for a bad image.

    The pixel count is read from the header and checked before any pixel data is decoded.
    """
    _register_openers(limits.max_pixels)
    name = os.path.basename(filename or "") or _("(no file name)")
    image = _open_header(data, name, field, limits.max_pixels)
    original_format = image.format or "?"
    image = _decode(image, name, field, limits.max_long_side)
    # Read after decoding: a PNG may keep its EXIF chunk after the pixel data.
    exif = _read_exif(image, name)
    taken_at = exif_capture_time(exif, name)
    latitude, longitude = exif_gps_position(exif, name)
    image = _upright(image, name)
    image = _to_srgb(image, name)
    image.thumbnail((limits.max_long_side, limits.max_long_side), Image.Resampling.LANCZOS)
    thumb = image.copy()
    thumb.thumbnail((limits.thumb_long_side, limits.thumb_long_side), Image.Resampling.LANCZOS)
    return ProcessedPhoto(
        full_jpeg=_encode_jpeg(image, limits.jpeg_quality),
        thumb_jpeg=_encode_jpeg(thumb, limits.jpeg_quality),
        width=image.width,
        height=image.height,
        original_format=original_format,
        original_bytes=len(data),
        upload_sha256=hashlib.sha256(data).hexdigest(),
        taken_at=taken_at,
        exif_latitude=latitude,
        exif_longitude=longitude,
    )


def _open_header(data: bytes, name: str, field: str, max_pixels: int) -> Image.Image:
    formats = [fmt for fmt in ACCEPTED_FORMATS if fmt in Image.OPEN]
    try:
        image = Image.open(io.BytesIO(data), formats=formats)
    except Image.DecompressionBombError as error:
        match = re.search(r"\((\d+) pixels\)", str(error))
        pixels = int(match.group(1)) if match else None
        raise FieldError(field, _(
            "%(file)s has %(pixels)s pixels; photos may have at most %(max)s pixels. "
            "Take the photo again at a lower resolution.",
            file=name, pixels=f"{pixels:,}" if pixels else _("too many"), max=f"{max_pixels:,}",
        )) from error
    except (UnidentifiedImageError, OSError, ValueError) as error:
        logger.info("upload %s rejected: not a readable image (%s)", name, error)
        raise FieldError(field, _(
            "%(file)s is not a photo this server can read; send a JPEG, PNG, WebP or HEIC image.",
            file=name,
        )) from error
    width, height = image.size
    if width < 1 or height < 1 or width * height > max_pixels:
        raise FieldError(field, _(
            "%(file)s is %(width)d x %(height)d pixels (%(pixels)s pixels); photos may have at most "
            "%(max)s pixels. Take the photo again at a lower resolution.",
            file=name, width=width, height=height, pixels=f"{width * height:,}", max=f"{max_pixels:,}",
        ))
    return image


def _decode(image: Image.Image, name: str, field: str, max_long_side: int) -> Image.Image:
    """Load the pixels, letting a JPEG decoder scale down on the way when the photo is large."""
    ratio = max_long_side / max(image.size)
    if ratio < 1 and image.format in ("JPEG", "MPO"):
        image.draft("RGB", (math.ceil(image.width * ratio), math.ceil(image.height * ratio)))
    try:
        image.load()
    except (OSError, ValueError, SyntaxError) as error:
        logger.info("upload %s rejected: damaged image data (%s)", name, error)
        raise FieldError(field, _(
            "%(file)s is damaged or incomplete and cannot be read. Send the photo again.", file=name,
        )) from error
    return image


def _read_exif(image: Image.Image, name: str) -> Image.Exif | None:
    try:
        return image.getexif()
    except Exception as error:  # noqa: BLE001 - a malformed EXIF block must not reject the photo
        logger.info("photo %s: EXIF block unreadable, ignored (%s)", name, error)
        return None


def _upright(image: Image.Image, name: str) -> Image.Image:
    """Apply the EXIF orientation (all of 2-8, mirrored ones included)."""
    try:
        upright = ImageOps.exif_transpose(image)
    except Exception as error:  # noqa: BLE001 - a malformed EXIF block must not reject the photo
        logger.info("photo %s: EXIF orientation unreadable, kept as stored (%s)", name, error)
        return image
    return upright if upright is not None else image


def _to_srgb(image: Image.Image, name: str) -> Image.Image:
    """Convert to 8-bit RGB, through the embedded colour profile when there is one."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        if image.info.get("icc_profile"):
            background.info["icc_profile"] = image.info["icc_profile"]
        image = background
    profile = image.info.get("icc_profile")
    if profile and image.mode in ("RGB", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            return ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError) as error:
            logger.info("photo %s: colour profile unusable, colours kept as stored (%s)", name, error)
    return image.convert("RGB")


def _encode_jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    # No exif or icc_profile argument: the stored file carries no metadata.
    image.save(buffer, "JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


# EXIF position and time.


def exif_gps_position(exif: Image.Exif | None, name: str = "") -> tuple[float | None, float | None]:
    """Return the EXIF GPS position as decimal WGS-84 degrees (south and west negative), or (None, None)."""
    if exif is None:
        return None, None
    try:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        latitude = _degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), "NS")
        longitude = _degrees(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef), "EW")
    except Exception as error:  # noqa: BLE001 - a malformed GPS block is ignored, not an error
        logger.info("photo %s: EXIF GPS block unreadable, ignored (%s)", name, error)
        return None, None
    if latitude is None or longitude is None or abs(latitude) > 90 or abs(longitude) > 180:
        return None, None
    return latitude, longitude


def _degrees(value, ref, hemispheres: str) -> float | None:
    """Turn (degrees, minutes, seconds) rationals and an N/S or E/W reference into signed degrees."""
    if value is None or ref is None:
        return None
    parts = [float(part) for part in (value if isinstance(value, tuple | list) else (value,))]
    if not parts or len(parts) > 3 or not all(math.isfinite(part) and part >= 0 for part in parts):
        return None
    degrees = sum(part / 60**index for index, part in enumerate(parts))
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    ref = str(ref).strip("\x00 ").upper()
    if ref not in hemispheres:
        return None
    return -degrees if ref == hemispheres[1] else degrees


def exif_capture_time(exif: Image.Exif | None, name: str = "") -> datetime | None:
    """Return when the photo was taken, in UTC.

    GPSDateStamp with GPSTimeStamp is UTC by definition and wins when present. Otherwise
    DateTimeOriginal is local time: with OffsetTimeOriginal when the camera wrote one, else
    taken as ``CAMERA_TIMEZONE``.
    """
    if exif is None:
        return None
    try:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        taken = _gps_time(gps.get(ExifTags.GPS.GPSDateStamp), gps.get(ExifTags.GPS.GPSTimeStamp))
        if taken is not None:
            return taken
        details = exif.get_ifd(ExifTags.IFD.Exif)
        return _local_time(
            details.get(ExifTags.Base.DateTimeOriginal), details.get(ExifTags.Base.OffsetTimeOriginal)
        )
    except Exception as error:  # noqa: BLE001 - a malformed time is ignored, not an error
        logger.info("photo %s: EXIF capture time unreadable, ignored (%s)", name, error)
        return None


def _gps_time(date_stamp, time_stamp) -> datetime | None:
    if not date_stamp or not time_stamp:
        return None
    day = datetime.strptime(_text(date_stamp), "%Y:%m:%d")
    hours, minutes, seconds = (float(part) for part in time_stamp)
    if not all(math.isfinite(part) for part in (hours, minutes, seconds)):
        return None
    return day.replace(tzinfo=UTC) + timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _local_time(stamp, offset) -> datetime | None:
    if not stamp:
        return None
    text = _text(stamp)
    if text.startswith("0000"):
        return None
    local = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    zone = CAMERA_TIMEZONE
    match = re.fullmatch(r"([+-])(\d{2}):(\d{2})", _text(offset)) if offset else None
    if match:
        sign = 1 if match.group(1) == "+" else -1
        zone = timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
    return local.replace(tzinfo=zone).astimezone(UTC)


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value).strip("\x00 ")


# Storage.


def photo_folder() -> str:
    return os.path.join(current_app.config["UPLOAD_FOLDER"], "photos")


def photo_path(stored_name: str) -> str:
    """Return the file path of a stored name, refusing names that leave the photo folder."""
    if not re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{32}(_thumb)?\.jpg", stored_name):
        raise ValueError(f"not a generated photo name: {stored_name!r}")
    return os.path.join(photo_folder(), stored_name)


def write_photo_files(processed: ProcessedPhoto) -> tuple[str, str]:
    """Write the full-size and thumbnail JPEGs under new generated names; return (stored, thumbnail) names."""
    token = uuid.uuid4().hex
    stored_name = f"{token[:2]}/{token}.jpg"
    thumbnail_name = f"{token[:2]}/{token}_thumb.jpg"
    for name, content in ((stored_name, processed.full_jpeg), (thumbnail_name, processed.thumb_jpeg)):
        path = photo_path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.{uuid.uuid4().hex}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(content)
        os.replace(temporary, path)
    return stored_name, thumbnail_name


def remove_photo_files(names: list[str]) -> None:
    """Delete stored files, e.g. after the transaction that referred to them failed."""
    for name in names:
        remove_stored_file(photo_path(name), "photo file")


def new_photo_row(processed: ProcessedPhoto, *, client_uuid: str, question_key: str | None,
                  stored_name: str, thumbnail_name: str) -> Photo:
    return Photo(
        client_uuid=client_uuid,
        question_key=question_key,
        stored_name=stored_name,
        thumbnail_name=thumbnail_name,
        width=processed.width,
        height=processed.height,
        original_format=processed.original_format[:10],
        original_bytes=processed.original_bytes,
        stored_bytes=len(processed.full_jpeg),
        upload_sha256=processed.upload_sha256,
        taken_at=processed.taken_at,
        exif_latitude=processed.exif_latitude,
        exif_longitude=processed.exif_longitude,
    )
