"""Questionnaire definitions, visits, their photos and on-site verification outcomes."""

from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldapp.db_types import UTCDateTime, created_timestamp, int_pk, timestamp
from fieldapp.extensions import db

OUTCOMES = ("confirmed", "not_confirmed", "explained")


class Questionnaire(db.Model):
    """A versioned form definition; a visit keeps the version it was filled with."""

    __tablename__ = "questionnaires"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int_pk]
    code: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[created_timestamp]


class Visit(db.Model):
    __tablename__ = "visits"
    __table_args__ = (
        CheckConstraint("accuracy_m IS NULL OR accuracy_m >= 0", name="accuracy"),
    )

    id: Mapped[int_pk]
    # Made on the phone; a retried submission with the same UUID returns the stored visit.
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    # SHA-256 of the submitted content, to tell a retry from a different visit under the same UUID.
    content_sha256: Mapped[str] = mapped_column(String(64))
    sampled_household_id: Mapped[int] = mapped_column(ForeignKey("sampled_households.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"))
    answers: Mapped[dict] = mapped_column(JSON, default=dict)
    started_at: Mapped[timestamp | None]
    submitted_at: Mapped[timestamp | None]
    received_at: Mapped[created_timestamp]

    # Location fix as the phone reported it, WGS-84.
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    fixed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Geodesic distance to the household's registered point, when both are known.
    distance_m: Mapped[float | None] = mapped_column(Float)
    location_flags: Mapped[list] = mapped_column(JSON, default=list)

    # Photos the phone declared for this visit; the visit is complete when all have arrived.
    photos_expected: Mapped[int] = mapped_column(Integer, default=0)
    # One entry per declared photo: its client UUID, SHA-256, form field, position in the field,
    # question key and the EXIF capture time and position the phone read. A photo is stored only
    # when its bytes match the declared SHA-256.
    photo_manifest: Mapped[list] = mapped_column(JSON, default=list)

    sampled_household = relationship("SampledHousehold", back_populates="visits")
    household = relationship("Household")
    inspector = relationship("User")
    questionnaire = relationship("Questionnaire")
    photos: Mapped[list["Photo"]] = relationship(back_populates="visit", order_by="Photo.id")
    outcomes: Mapped[list["VerificationOutcome"]] = relationship(
        back_populates="visit", cascade="all, delete-orphan", order_by="VerificationOutcome.id"
    )

    @property
    def is_complete(self) -> bool:
        """Tell whether every declared photo has arrived."""
        return len(self.photos) >= self.photos_expected


class Photo(db.Model):
    __tablename__ = "photos"
    __table_args__ = (CheckConstraint("width > 0 AND height > 0", name="size"),)

    id: Mapped[int_pk]
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    # The questionnaire question the photo answers, or None for a photo of the whole visit.
    question_key: Mapped[str | None] = mapped_column(String(60))
    # Generated file names under the upload folder; never the name the phone sent.
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    thumbnail_name: Mapped[str] = mapped_column(String(80), unique=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    original_format: Mapped[str] = mapped_column(String(10))
    original_bytes: Mapped[int] = mapped_column(Integer)
    stored_bytes: Mapped[int] = mapped_column(Integer)
    # SHA-256 of the bytes as uploaded, for retries and integrity checks.
    upload_sha256: Mapped[str] = mapped_column(String(64))
    # From the image's EXIF block, when it had one.
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    exif_latitude: Mapped[float | None] = mapped_column(Float)
    exif_longitude: Mapped[float | None] = mapped_column(Float)
    received_at: Mapped[created_timestamp]

    visit: Mapped[Visit] = relationship(back_populates="photos")


class VerificationOutcome(db.Model):
    """The inspector's verdict on one suspected problem during a visit."""

    __tablename__ = "verification_outcomes"
    __table_args__ = (
        UniqueConstraint("visit_id", "suspected_problem_id"),
        CheckConstraint("outcome IN ('confirmed', 'not_confirmed', 'explained')", name="outcome"),
    )

    id: Mapped[int_pk]
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    suspected_problem_id: Mapped[int] = mapped_column(ForeignKey("suspected_problems.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")

    visit: Mapped[Visit] = relationship(back_populates="outcomes")
    suspected_problem = relationship("SuspectedProblem")
