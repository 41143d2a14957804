"""Builders for rectification tests: evidence files and corrected findings."""

import io
import zipfile

from PIL import Image

from fieldapp.review.evidence import EvidenceUpload, add_evidence
from fieldapp.review.services import change_status

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def jpeg_bytes(width=64, height=48, colour=(40, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def docx_bytes() -> bytes:
    """Return a minimal ZIP with the parts that mark a Word document."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    return buffer.getvalue()


def add_photo_evidence(finding, user, note="屋顶已修缮"):
    return add_evidence(finding, EvidenceUpload("roof.jpg", jpeg_bytes(), note), user=user)


def corrected_finding(finding, user, *, evidence=True):
    """Move ``finding`` to corrected, with one photo as evidence unless ``evidence`` is False."""
    change_status(finding, "corrected", comment="已整改", user=user)
    if evidence:
        add_photo_evidence(finding, user)
    return finding
