"""The imported register: households, their members and the imports that wrote them."""

from datetime import date
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldapp.db_types import created_timestamp, int_pk, timestamp
from fieldapp.extensions import db

Money = Numeric(14, 2)

# Life of an import: queued (uploaded, waiting for its thread), reading (rows parsed and
# checked), writing (the database transaction), checking (data checks after the commit),
# then done, rejected (nothing written) or failed (an unexpected error, nothing written).
IMPORT_STATUSES = ("queued", "reading", "writing", "checking", "done", "rejected", "failed")
FINISHED_STATUSES = ("done", "rejected", "failed")


class RegisterImport(db.Model):
    """One register file imported, with what it changed."""

    __tablename__ = "register_imports"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'reading', 'writing', 'checking', 'done', 'rejected', 'failed')",
            name="status",
        ),
    )

    id: Mapped[int_pk]
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # The "data as of" date from the export's title row, when it has one.
    export_date: Mapped[date | None] = mapped_column(Date)
    imported_at: Mapped[created_timestamp]
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    households_added: Mapped[int] = mapped_column(Integer, default=0)
    households_updated: Mapped[int] = mapped_column(Integer, default=0)
    households_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    members_added: Mapped[int] = mapped_column(Integer, default=0)
    members_updated: Mapped[int] = mapped_column(Integer, default=0)
    members_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    # Members of a household in the file whose ID number the file no longer lists.
    members_removed: Mapped[int] = mapped_column(Integer, default=0)

    # Job state of an upload, kept in the database so that any request thread can read it.
    status: Mapped[str] = mapped_column(String(20), default="done", index=True)
    is_skip_rejected: Mapped[bool] = mapped_column(Boolean, default=False)
    # Generated file name under the imports folder; None for a file imported from the command line.
    stored_name: Mapped[str | None] = mapped_column(String(255))
    # Generated name of the rejected-rows workbook beside the stored file, when one was written.
    report_name: Mapped[str | None] = mapped_column(String(255))
    # Locale of the uploader, so that messages written by the background thread are in their language.
    locale: Mapped[str] = mapped_column(String(10), default="")
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_written: Mapped[int] = mapped_column(Integer, default=0)
    # Readable summary, or the reason the import was rejected or failed.
    message: Mapped[str] = mapped_column(Text, default="")
    # The first rejected rows as {"row", "column", "value", "reason"}; ``rows_rejected`` has the count.
    rejections: Mapped[list] = mapped_column(JSON, default=list)
    finished_at: Mapped[timestamp | None]
    # The data checks run after the import; None before they ran, or when they failed.
    check_run_id: Mapped[int | None] = mapped_column(ForeignKey("check_runs.id", ondelete="SET NULL"))
    check_run = relationship("CheckRun")


class Household(db.Model):
    __tablename__ = "households"
    __table_args__ = (UniqueConstraint("is_demo", "household_no"),)

    id: Mapped[int_pk]
    household_no: Mapped[str] = mapped_column(String(40))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, index=True)

    province: Mapped[str] = mapped_column(String(50), default="")
    city: Mapped[str] = mapped_column(String(50), default="")
    county: Mapped[str] = mapped_column(String(50), default="")
    township: Mapped[str] = mapped_column(String(50), default="")
    village: Mapped[str] = mapped_column(String(100), default="")
    # 12-digit code of the village; county and township codes are derived from it for grouping.
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    county_code: Mapped[str] = mapped_column(String(12), index=True)
    township_code: Mapped[str] = mapped_column(String(12), index=True)

    household_type: Mapped[str] = mapped_column(String(30), default="")
    monitoring_category: Mapped[str] = mapped_column(String(30), default="")
    exit_year: Mapped[int | None] = mapped_column(Integer)
    is_risk_eliminated: Mapped[bool | None] = mapped_column(Boolean)
    risks: Mapped[list] = mapped_column(JSON, default=list)
    size: Mapped[int | None] = mapped_column(Integer)

    per_capita_net_income: Mapped[Decimal | None] = mapped_column(Money)
    wage_income: Mapped[Decimal | None] = mapped_column(Money)
    business_income: Mapped[Decimal | None] = mapped_column(Money)
    property_income: Mapped[Decimal | None] = mapped_column(Money)
    transfer_income: Mapped[Decimal | None] = mapped_column(Money)
    business_expense: Mapped[Decimal | None] = mapped_column(Money)
    out_of_pocket_medical: Mapped[Decimal | None] = mapped_column(Money)

    is_unsafe_house: Mapped[bool | None] = mapped_column(Boolean)
    has_safe_water: Mapped[bool | None] = mapped_column(Boolean)
    has_sanitary_toilet: Mapped[bool | None] = mapped_column(Boolean)
    phone: Mapped[str] = mapped_column(String(40), default="")
    helper_name: Mapped[str] = mapped_column(String(100), default="")
    help_measures: Mapped[list] = mapped_column(JSON, default=list)

    # Registered position, WGS-84; most registers have none.
    longitude: Mapped[float | None]
    latitude: Mapped[float | None]

    # Columns the importer does not map, by their header, so nothing in the file is lost.
    extra: Mapped[dict] = mapped_column(JSON, default=dict)
    register_import_id: Mapped[int | None] = mapped_column(ForeignKey("register_imports.id"))
    created_at: Mapped[created_timestamp]
    updated_at: Mapped[timestamp | None]

    members: Mapped[list["Member"]] = relationship(
        back_populates="household", cascade="all, delete-orphan", order_by="Member.position"
    )

    @property
    def head(self) -> "Member | None":
        for member in self.members:
            if member.relationship_to_head == "户主":
                return member
        return None


class Member(db.Model):
    __tablename__ = "members"
    # The cross-checks find members by ID number and read these columns of each match. With them in
    # the index, SQLite reads no member row, which took 0.04 s off the 0.32 s cross-check query.
    __table_args__ = (Index("ix_members_id_number", "id_number", "household_id", "receives_dibao", "name"),)

    id: Mapped[int_pk]
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    # Order within the household as read from the file.
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(100))
    id_type: Mapped[str] = mapped_column(String(30), default="")
    # Normalised (ASCII, upper-case X) but not validated: a wrong check character is data to flag.
    id_number: Mapped[str] = mapped_column(String(32))
    relationship_to_head: Mapped[str] = mapped_column(String(20), default="")
    sex: Mapped[str] = mapped_column(String(4), default="")
    birth_date: Mapped[date | None] = mapped_column(Date)
    ethnicity: Mapped[str] = mapped_column(String(30), default="")
    education: Mapped[str] = mapped_column(String(30), default="")
    school_status: Mapped[str] = mapped_column(String(30), default="")
    out_of_school_reason: Mapped[str] = mapped_column(String(100), default="")
    health: Mapped[str] = mapped_column(String(30), default="")
    labour_skill: Mapped[str] = mapped_column(String(30), default="")
    months_worked: Mapped[int | None] = mapped_column(Integer)
    work_place: Mapped[str] = mapped_column(String(100), default="")
    has_medical_insurance: Mapped[bool | None] = mapped_column(Boolean)
    has_serious_illness_insurance: Mapped[bool | None] = mapped_column(Boolean)
    has_pension_insurance: Mapped[bool | None] = mapped_column(Boolean)
    receives_dibao: Mapped[bool | None] = mapped_column(Boolean)
    receives_extreme_poverty_support: Mapped[bool | None] = mapped_column(Boolean)
    extra: Mapped[dict] = mapped_column(JSON, default=dict)
    # 1-based row of the source file this member was last read from.
    source_row: Mapped[int | None] = mapped_column(Integer)

    household: Mapped[Household] = relationship(back_populates="members")
