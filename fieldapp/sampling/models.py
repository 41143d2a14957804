"""Sampling rounds, the households they drew and who visits each."""

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldapp.db_types import created_timestamp, int_pk, timestamp
from fieldapp.extensions import db


class SamplingRound(db.Model):
    __tablename__ = "sampling_rounds"

    id: Mapped[int_pk]
    name: Mapped[str] = mapped_column(String(100))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # e.g. "stratified_srs"; the sampling service maps it to a draw function.
    method: Mapped[str] = mapped_column(String(40))
    # Everything the draw read besides the data: divisions, size, stratum level, allocation.
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
    created_by = relationship("User")


class SampledHousehold(db.Model):
    __tablename__ = "sampled_households"
    __table_args__ = (
        UniqueConstraint("sampling_round_id", "household_id"),
        CheckConstraint("draw_order >= 0", name="draw_order"),
    )

    id: Mapped[int_pk]
    sampling_round_id: Mapped[int] = mapped_column(
        ForeignKey("sampling_rounds.id", ondelete="CASCADE"), index=True
    )
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    # Division code of the stratum the household was drawn in.
    stratum_code: Mapped[str] = mapped_column(String(12))
    draw_order: Mapped[int] = mapped_column(Integer)
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    assigned_at: Mapped[timestamp | None]

    sampling_round: Mapped[SamplingRound] = relationship(back_populates="sampled_households")
    household = relationship("Household")
    inspector = relationship("User")
    visits = relationship("Visit", back_populates="sampled_household", order_by="Visit.received_at")
