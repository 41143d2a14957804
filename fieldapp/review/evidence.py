"""Evidence of corrections: photos and documents supervisors upload, and re-inspection photos.

Photos go through the visits feature's photo processing (pixel limit, upright, re-encoded
without metadata) and are stored beside visit photos. Documents (PDF, Word, Excel, WPS and
OpenDocument files) are checked by their first bytes as well as their extension, kept at most
``EVIDENCE_MAX_BYTES`` long and stored under generated names in ``UPLOAD_FOLDER/evidence/``.
Every file is served only through a route that checks the viewer's scope.
"""

import hashlib
import io
import logging
import os
import re
import uuid
import zipfile
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, select

from fieldapp.audit.services import record
from fieldapp.db_types import utcnow
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.review.models import Finding, FindingEvidence, ReinspectionItem, ReinspectionTask
from fieldapp.review.services import MAX_COMMENT_LENGTH, add_event, flush_changes
from fieldapp.stored_files import remove_stored_file
from fieldapp.visits import photos

logger = logging.getLogger(__name__)

PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".avif", ".gif")

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class DocumentType:
    content_type: str
    # "pdf", "ole" (legacy Office and WPS), "ooxml" with the folder its parts live in, or "odf".
    container: str
    part: str = ""


DOCUMENT_TYPES = {
    ".pdf": DocumentType("application/pdf", "pdf"),
    ".doc": DocumentType("application/msword", "ole"),
    ".xls": DocumentType("application/vnd.ms-excel", "ole"),
    ".wps": DocumentType("application/vnd.ms-works", "ole"),
    ".et": DocumentType("application/vnd.ms-excel", "ole"),
    ".docx": DocumentType("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                          "ooxml", "word/"),
    ".xlsx": DocumentType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                          "ooxml", "xl/"),
    ".odt": DocumentType("application/vnd.oasis.opendocument.text", "odf"),
    ".ods": DocumentType("application/vnd.oasis.opendocument.spreadsheet", "odf"),
}


@dataclass
class EvidenceUpload:
    filename: str
    data: bytes
    note: str = ""


@dataclass
class EvidenceResult:
    evidence: FindingEvidence
    # Files written for this upload, to delete if the transaction is rolled back.
    written_files: list[str] = field(default_factory=list)


def accepted_extensions() -> list[str]:
    return sorted(PHOTO_EXTENSIONS + tuple(DOCUMENT_TYPES))


def add_evidence(finding: Finding, upload: EvidenceUpload, *, user) -> EvidenceResult:
    """Check and store ``upload`` as evidence of ``finding``. Writes the files and flushes, no commit.

    Raises ``FieldError("file", ...)`` for an empty, too large, unknown or damaged file and
    ``FieldError("note", ...)`` for a note over 500 characters. The caller deletes
    ``written_files`` when the transaction fails.
    """
    if finding.status == "closed":
        raise FieldError("file", _("Finding %(id)d is closed, so its evidence can no longer change.",
                                   id=finding.id))
    note = (upload.note or "").strip()
    if len(note) > 500:
        raise FieldError("note", _("The note is %(length)d characters long: shorten it to at most %(max)d.",
                                   length=len(note), max=500))
    name = _display_name(upload.filename)
    _check_size(upload.data, name)
    extension = os.path.splitext(name)[1].lower()
    if extension in PHOTO_EXTENSIONS:
        evidence, written = _store_photo(upload.data, name)
    elif extension in DOCUMENT_TYPES:
        evidence, written = _store_document(upload.data, name, extension)
    else:
        raise FieldError("file", _(
            "%(file)s is not a file type accepted as evidence. Send a photo (JPEG, PNG, HEIC) or a "
            "document (%(types)s).", file=name, types=", ".join(sorted(DOCUMENT_TYPES)),
        ))
    try:
        evidence.note = note
        evidence.uploaded_by_id = getattr(user, "id", None)
        _attach(finding, evidence, user, comment=note)
    except Exception:
        remove_files(written)
        raise
    record("finding.evidence", finding, user=user, kind=evidence.kind, size_bytes=evidence.size_bytes)
    return EvidenceResult(evidence, written)


def link_visit_photos(finding: Finding, visit, *, user) -> list[FindingEvidence]:
    """Add the photos of ``visit`` as evidence of ``finding``, skipping those already linked. Flushes."""
    linked = set(db.session.scalars(
        select(FindingEvidence.photo_id).where(FindingEvidence.finding_id == finding.id,
                                               FindingEvidence.photo_id.is_not(None))
    ))
    added = []
    for photo in visit.photos:
        if photo.id in linked:
            continue
        evidence = FindingEvidence(
            kind="visit_photo", photo_id=photo.id, original_name=f"visit-{visit.id}-photo-{photo.id}.jpg",
            content_type="image/jpeg", size_bytes=photo.stored_bytes, sha256=photo.upload_sha256,
            width=photo.width, height=photo.height, uploaded_by_id=getattr(user, "id", None),
        )
        _attach(finding, evidence, user, comment="")
        added.append(evidence)
    if added:
        record("finding.evidence", finding, user=user, kind="visit_photo", count=len(added))
    return added


def _attach(finding: Finding, evidence: FindingEvidence, user, *, comment: str) -> None:
    now = utcnow()
    finding.evidence.append(evidence)
    finding.evidence_count = (finding.evidence_count or 0) + 1
    finding.updated_at = now
    add_event(finding, user, kind="evidence", at=now, changes={"evidence": [None, evidence.original_name]},
               comment=comment[:MAX_COMMENT_LENGTH])
    flush_changes(finding, None)


def _display_name(filename: str | None) -> str:
    """Return the file's own name without folders or control characters, at most 200 characters."""
    name = os.path.basename((filename or "").replace("\\", "/"))
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return name[-200:] or _("(no file name)")


def _check_size(data: bytes, name: str) -> None:
    limit = int(current_app.config["EVIDENCE_MAX_BYTES"])
    if not data:
        raise FieldError("file", _("%(file)s is empty. Choose the file again.", file=name))
    if len(data) > limit:
        raise FieldError("file", _(
            "%(file)s is %(size)s MB; evidence files may be at most %(max)s MB. Send a smaller file, "
            "e.g. a PDF scanned at a lower resolution.",
            file=name, size=f"{len(data) / 1048576:.1f}", max=f"{limit / 1048576:.0f}",
        ))


def _store_photo(data: bytes, name: str) -> tuple[FindingEvidence, list[str]]:
    processed = photos.process_photo(data, name, "file", photos.PhotoLimits.from_config(current_app.config))
    stored_name, thumbnail_name = photos.write_photo_files(processed)
    evidence = FindingEvidence(
        kind="photo", stored_name=stored_name, thumbnail_name=thumbnail_name, original_name=name,
        content_type="image/jpeg", size_bytes=len(processed.full_jpeg), sha256=processed.upload_sha256,
        width=processed.width, height=processed.height,
    )
    return evidence, [stored_name, thumbnail_name]


def _store_document(data: bytes, name: str, extension: str) -> tuple[FindingEvidence, list[str]]:
    document_type = DOCUMENT_TYPES[extension]
    if not _content_matches(data, document_type):
        logger.info("evidence %s rejected: content is not %s", name, extension)
        raise FieldError("file", _(
            "%(file)s does not contain a %(type)s document; it may be damaged or renamed. Save it "
            "again from the program that made it.", file=name, type=extension.lstrip(".").upper(),
        ))
    token = uuid.uuid4().hex
    stored_name = f"{token[:2]}/{token}{extension}"
    path = document_path(stored_name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.{uuid.uuid4().hex}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
    evidence = FindingEvidence(
        kind="document", stored_name=stored_name, original_name=name, content_type=document_type.content_type,
        size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
    )
    return evidence, [stored_name]


def _content_matches(data: bytes, document_type: DocumentType) -> bool:
    """Check the file's first bytes, and for ZIP-based formats the parts it contains."""
    if document_type.container == "pdf":
        return data[:1024].lstrip().startswith(b"%PDF-")
    if document_type.container == "ole":
        return data.startswith(OLE_MAGIC)
    if not data.startswith(ZIP_MAGIC):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if document_type.container == "ooxml":
                return "[Content_Types].xml" in names and any(n.startswith(document_type.part) for n in names)
            return "mimetype" in names and archive.read("mimetype").startswith(b"application/vnd.oasis")
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        return False


# Files on disk.


def evidence_folder() -> str:
    return os.path.join(current_app.config["UPLOAD_FOLDER"], "evidence")


def document_path(stored_name: str) -> str:
    """Return the file path of a stored document name, refusing names that leave the evidence folder."""
    if not re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{32}\.[a-z]{2,4}", stored_name):
        raise ValueError(f"not a generated evidence name: {stored_name!r}")
    return os.path.join(evidence_folder(), stored_name)


def file_path(evidence: FindingEvidence, size: str) -> str:
    """Return the path of an uploaded evidence file; ``size`` is "full" or "thumb" for photos."""
    if evidence.kind == "photo":
        return photos.photo_path(evidence.thumbnail_name if size == "thumb" else evidence.stored_name)
    if evidence.kind == "document":
        return document_path(evidence.stored_name)
    raise ValueError(f"evidence {evidence.id} of kind {evidence.kind} has no file of its own")


def remove_files(names: list[str]) -> None:
    """Delete written files, e.g. after the transaction that referred to them failed."""
    photo_names = [name for name in names if name.endswith(".jpg")]
    photos.remove_photo_files(photo_names)
    for name in names:
        if name in photo_names:
            continue
        remove_stored_file(document_path(name), "evidence file")


def delete_for_households(household_ids) -> list[str]:
    """Delete the evidence of the findings of ``household_ids`` and the households' re-inspection tasks.

    ``household_ids`` is a list or a SELECT of household ids. Returns the stored names of the
    deleted evidence files, for ``remove_files`` once the transaction has committed. Flushes.
    """
    findings = select(Finding.id).where(Finding.household_id.in_(household_ids))
    stored = db.session.execute(
        select(FindingEvidence.stored_name, FindingEvidence.thumbnail_name)
        .where(FindingEvidence.finding_id.in_(findings), FindingEvidence.stored_name.is_not(None))
    ).all()
    tasks = select(ReinspectionTask.id).where(ReinspectionTask.household_id.in_(household_ids))
    db.session.execute(delete(ReinspectionItem).where(
        ReinspectionItem.task_id.in_(tasks) | ReinspectionItem.finding_id.in_(findings)
    ))
    db.session.execute(delete(ReinspectionTask).where(ReinspectionTask.household_id.in_(household_ids)))
    db.session.execute(delete(FindingEvidence).where(FindingEvidence.finding_id.in_(findings)))
    return [name for row in stored for name in row if name]
