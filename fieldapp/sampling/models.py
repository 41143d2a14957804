"""Sampling rounds, the households they drew, their reserve lists, teams and who visits each."""

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldapp.db_types import created_timestamp, int_pk, timestamp
from fieldapp.extensions import db

# A sampled household is "active" until a supervisor records that it cannot be visited.
SAMPLED_STATUSES = ("active", "cannot_visit")
# Reasons a sampled household cannot be visited.
CANNOT_VISIT_REASONS = ("moved", "nobody_home", "refused", "other")


class SamplingRound(db.Model):
    __tablename__ = "sampling_rounds"

    id: Mapped[int_pk]
    name: Mapped[str] = mapped_column(String(100))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # The draw within each stratum, e.g. "stratified_srs"; ``methods.METHODS`` maps it to a function.
    method: Mapped[str] = mapped_column(String(40))
    # Everything the draw read besides the data: divisions, size, stratum level, allocation rule,
    # minimum, control share, exclusions, reserves, the per-stratum figures and a fingerprint
    # of the sampling frame.
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    seed: Mapped[int] = mapped_column(Integer)
    # When the population was read, so the draw can be explained later.
    snapshot_at: Mapped[created_timestamp]
    population_size: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[created_timestamp]

    sampled_households: Mapped[list["SampledHousehold"]] = relationship(
        back_populates="sampling_round", cascade="all, delete-orphan", order_by="SampledHousehold.draw_order"
    )
    reserves: Mapped[list["ReserveHousehold"]] = relationship(
        back_populates="sampling_round", cascade="all, delete-orphan",
        order_by=lambda: [ReserveHousehold.stratum_code, ReserveHousehold.reserve_order],
    )
    created_by = relationship("User")


class Team(db.Model):
    """Inspectors who work an area together; an inspector belongs to at most one team."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("is_demo", "name"),)

    id: Mapped[int_pk]
    name: Mapped[str] = mapped_column(String(100))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # The county or township the team works in; only administrators whose divisions include it see it.
    division_code: Mapped[str] = mapped_column(ForeignKey("divisions.code"))
    created_at: Mapped[created_timestamp]

    members: Mapped[list["TeamMember"]] = relationship(
        back_populates="team", cascade="all, delete-orphan", order_by="TeamMember.user_id"
    )
    division = relationship("Division")


class TeamMember(db.Model):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    # Unique on its own: an inspector is in one team at a time.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
                                         unique=True)

    team: Mapped[Team] = relationship(back_populates="members")
    user = relationship("User")


class SampledHousehold(db.Model):
    __tablename__ = "sampled_households"
    __table_args__ = (
        UniqueConstraint("sampling_round_id", "household_id"),
        CheckConstraint("draw_order >= 0", name="draw_order"),
        CheckConstraint("status IN ('active', 'cannot_visit')", name="status"),
        CheckConstraint(
            "status = 'active' OR (cannot_visit_reason IS NOT NULL AND cannot_visit_at IS NOT NULL)",
            name="cannot_visit_has_reason",
        ),
        CheckConstraint(
            "cannot_visit_reason IS NULL "
            "OR cannot_visit_reason IN ('moved', 'nobody_home', 'refused', 'other')",
            name="cannot_visit_reason",
        ),
    )

    id: Mapped[int_pk]
    sampling_round_id: Mapped[int] = mapped_column(
        ForeignKey("sampling_rounds.id", ondelete="CASCADE"), index=True
    )
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    # Division code of the stratum the household was drawn in.
    stratum_code: Mapped[str] = mapped_column(String(12))
    # 1..n in the order of the draw; a reserve that replaced a household gets the next free number.
    draw_order: Mapped[int] = mapped_column(Integer)
    # Drawn from the households without an open suspected problem, as an ordinary household.
    is_control: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    # Set on a household that came from the reserve list: the household it replaced.
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("sampled_households.id"), unique=True)
    cannot_visit_reason: Mapped[str | None] = mapped_column(String(20))
    cannot_visit_note: Mapped[str] = mapped_column(Text, default="")
    cannot_visit_at: Mapped[timestamp | None]
    cannot_visit_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    assigned_at: Mapped[timestamp | None]

    sampling_round: Mapped[SamplingRound] = relationship(back_populates="sampled_households")
    household = relationship("Household")
    inspector = relationship("User", foreign_keys=[inspector_id])
    cannot_visit_by = relationship("User", foreign_keys=[cannot_visit_by_id])
    team = relationship("Team")
    replaces = relationship("SampledHousehold", remote_side="SampledHousehold.id", foreign_keys=[replaces_id],
                            back_populates="replaced_by")
    replaced_by = relationship("SampledHousehold", foreign_keys=[replaces_id], back_populates="replaces",
                               uselist=False)
    visits = relationship("Visit", back_populates="sampled_household", order_by="Visit.received_at")


class ReserveHousehold(db.Model):
    """One place on a stratum's ordered reserve list.

    A used reserve points at the sampled household made from it, which in turn points
    at the household it replaced. Replacement takes only unused reserves, and the
    unique ``sampled_household_id`` lets no two reserves claim the same household.
    """

    __tablename__ = "reserve_households"
    __table_args__ = (
        UniqueConstraint("sampling_round_id", "household_id"),
        UniqueConstraint("sampling_round_id", "stratum_code", "reserve_order"),
        CheckConstraint("reserve_order >= 1", name="reserve_order"),
        CheckConstraint("(used_at IS NULL) = (sampled_household_id IS NULL)", name="used_has_household"),
    )

    id: Mapped[int_pk]
    sampling_round_id: Mapped[int] = mapped_column(
        ForeignKey("sampling_rounds.id", ondelete="CASCADE"), index=True
    )
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    stratum_code: Mapped[str] = mapped_column(String(12))
    # 1, 2, ... within the stratum: the order in which reserves replace households.
    reserve_order: Mapped[int] = mapped_column(Integer)
    # A control reserve replaces only a control household, and a main reserve only a main one.
    is_control: Mapped[bool] = mapped_column(Boolean, default=False)
    used_at: Mapped[timestamp | None]
    sampled_household_id: Mapped[int | None] = mapped_column(
        ForeignKey("sampled_households.id", ondelete="CASCADE"), unique=True
    )

    sampling_round: Mapped[SamplingRound] = relationship(back_populates="reserves")
    household = relationship("Household")
    sampled_household = relationship("SampledHousehold")
