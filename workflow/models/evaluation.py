from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import utcnow
from .people import User


class ScoreSheet(db.Model):
    """One evaluator's assessment of one case in one role (examiner, coach, mentor):
    aspect scores and milestone ratings. A draft until `submitted_at` is set; others
    see it only once they have submitted their own."""

    __tablename__ = "score_sheets"
    __table_args__ = (UniqueConstraint("case_id", "role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    # Who wrote it; an acting official (Plt./Plh.) scores on behalf of the principal.
    evaluator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    rubric_key: Mapped[str] = mapped_column(String(80))
    note: Mapped[str] = mapped_column(Text, default="")
    # Weighted contribution of this sheet (sum of value × weight / 100), set on submit.
    subtotal: Mapped[float | None]
    submitted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    evaluator: Mapped[User] = relationship(foreign_keys=[evaluator_id])
    on_behalf_of: Mapped[User | None] = relationship(foreign_keys=[on_behalf_of_id])
    scores: Mapped[list[Score]] = relationship(
        back_populates="sheet", cascade="all, delete-orphan", order_by="Score.id"
    )
    ratings: Mapped[list[MilestoneRating]] = relationship(
        back_populates="sheet", cascade="all, delete-orphan", order_by="MilestoneRating.id"
    )

    @property
    def is_submitted(self) -> bool:
        return self.submitted_at is not None


class Score(db.Model):
    """A score (0–100 on the rubric's scale) on one aspect, with the evaluator's note."""

    __tablename__ = "scores"
    __table_args__ = (UniqueConstraint("sheet_id", "aspect"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    sheet_id: Mapped[int] = mapped_column(ForeignKey("score_sheets.id", ondelete="CASCADE"))
    aspect: Mapped[str] = mapped_column(String(60))
    value: Mapped[float | None]
    note: Mapped[str] = mapped_column(Text, default="")

    sheet: Mapped[ScoreSheet] = relationship(back_populates="scores")


class MilestoneRating(db.Model):
    """An evaluator's rating of one short-term milestone: kurang, sesuai or melampaui."""

    __tablename__ = "milestone_ratings"
    __table_args__ = (UniqueConstraint("sheet_id", "milestone_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    sheet_id: Mapped[int] = mapped_column(ForeignKey("score_sheets.id", ondelete="CASCADE"))
    milestone_id: Mapped[int] = mapped_column(
        ForeignKey("milestones.id", ondelete="CASCADE"), index=True
    )
    rating: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")

    sheet: Mapped[ScoreSheet] = relationship(back_populates="ratings")
