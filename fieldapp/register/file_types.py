"""Telling what a file is from its first bytes, so that a file renamed to another ending gets a clear message.

An import picks its reader by the file's ending. Exports are often renamed (an .xlsx saved as
.csv) or are something else under an Excel ending (a web page saved as .xls, as some systems
export tables). A reader given the wrong kind of file can only report that it cannot read it.
"""

import codecs
import os
import zipfile

from flask_babel import gettext as _

from fieldapp.errors import ImportRejected
from fieldapp.register import xls_scan

XLSX, XLS, ODS, ENCRYPTED, HTML, XML_SPREADSHEET, TEXT, OTHER = (
    "xlsx", "xls", "ods", "encrypted", "html", "xml_spreadsheet", "text", "other",
)
# The kind of content each ending names.
KIND_OF_EXTENSION = {".xlsx": XLSX, ".xlsm": XLSX, ".xls": XLS, ".ods": ODS, ".csv": TEXT, ".txt": TEXT}
# The ending to give a file of each kind.
EXTENSION_OF_KIND = {XLSX: ".xlsx", XLS: ".xls", ODS: ".ods", TEXT: ".csv"}

_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
_HEAD_BYTES = 4096


def detect(path: str) -> str:
    """Return the kind of the file at ``path``: one of the constants XLSX to OTHER above.

    ENCRYPTED is a password-protected Excel workbook, which Excel stores as a Compound File.
    """
    with open(path, "rb") as handle:
        head = handle.read(_HEAD_BYTES)
    if head.startswith(_ZIP_SIGNATURES):
        return _zip_kind(path)
    if head.startswith(xls_scan.SIGNATURE):
        return _compound_kind(path)
    return _text_kind(head)


def check_csv(path: str) -> None:
    """Raise ``ImportRejected`` when the file at ``path``, named as a CSV file, is a workbook."""
    kind = detect(path)
    if kind in (XLSX, XLS, ODS, ENCRYPTED):
        raise wrong_kind(kind, os.path.splitext(path)[1].lower())


def check_workbook(path: str) -> None:
    """Raise ``ImportRejected`` unless the file at ``path`` is the kind of workbook its ending names."""
    extension = os.path.splitext(path)[1].lower()
    expected = KIND_OF_EXTENSION.get(extension)
    kind = detect(path)
    if kind != expected:
        raise wrong_kind(kind, extension)


def wrong_kind(kind: str, extension: str) -> ImportRejected:
    """Return the rejection of a file of ``kind`` whose name ends in ``extension``."""
    if kind == ENCRYPTED:
        return ImportRejected(_("The file could not be read: the workbook is protected with a password. Open "
                                "it in Excel or WPS, remove the password, save it and import it again."))
    if kind in (HTML, XML_SPREADSHEET):
        return ImportRejected(
            _("The file could not be read: it is a web page or an XML spreadsheet saved with the ending "
              "%(extension)s, as some systems export tables, and not an Excel workbook. Open it in Excel or "
              "WPS, save it as an .xlsx workbook and import that file.", extension=extension)
        )
    if kind in EXTENSION_OF_KIND:
        return ImportRejected(
            _("The file could not be read: it is %(kind)s, but its name ends in %(extension)s. Rename it to "
              "end in %(expected)s, or open it in Excel or WPS and save it as an .xlsx workbook, and import "
              "it again.",
              kind=_kind_description(kind), extension=extension, expected=EXTENSION_OF_KIND[kind])
        )
    return ImportRejected(
        _("The file could not be read: it is not a valid Excel workbook. It may be empty, damaged, or a file "
          "of another type renamed to %(extension)s. Open it in Excel or WPS and save it as an .xlsx "
          "workbook, or give a CSV file the ending .csv, and import it again.", extension=extension)
    )


def _kind_description(kind: str) -> str:
    return {
        XLSX: _("an Excel workbook (.xlsx)"),
        XLS: _("an Excel 97-2003 workbook (.xls)"),
        ODS: _("an OpenDocument spreadsheet (.ods)"),
        TEXT: _("a text file, probably CSV"),
    }[kind]


def _zip_kind(path: str) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = {name.lower() for name in archive.namelist()}
            if "xl/workbook.xml" in names:
                return XLSX
            if "content.xml" in names and "mimetype" in names:
                if b"spreadsheet" in archive.read(_original_name(archive, "mimetype"))[:200]:
                    return ODS
    except (zipfile.BadZipFile, OSError, KeyError):
        pass
    return OTHER


def _original_name(archive: zipfile.ZipFile, lower_name: str) -> str:
    return next(name for name in archive.namelist() if name.lower() == lower_name)


def _compound_kind(path: str) -> str:
    try:
        names = xls_scan.stream_names(path)
    except (xls_scan.DamagedFile, OSError, ValueError):
        return OTHER
    if "EncryptedPackage" in names:
        return ENCRYPTED
    if "Workbook" in names or "Book" in names:
        return XLS
    return OTHER


def _text_kind(head: bytes) -> str:
    """Return HTML, XML_SPREADSHEET, TEXT or OTHER for a file that is neither a zip nor a Compound File."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                          (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            head = head[len(bom):].decode(encoding, "ignore").encode("utf-8")
            break
    start = head.lstrip()[:1000].lower()
    if start.startswith((b"<!doctype html", b"<html", b"<table", b"<meta")):
        return HTML
    if start.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in head:
        return XML_SPREADSHEET
    if start.startswith(b"<?xml") and b"<html" in start:
        return HTML
    return TEXT if head.strip() and _is_text(head) else OTHER


def _is_text(head: bytes) -> bool:
    """Return whether the bytes read as text: few control characters other than line ends and tabs."""
    controls = sum(1 for byte in head if byte < 9 or 13 < byte < 32)
    return controls <= len(head) // 100
