from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import utcnow
from .people import User
from .programs import Cohort

if TYPE_CHECKING:
    from .cases import Case
    from .proposals import Document


class Seminar(db.Model):
    """One trainee presenting to a panel at a set time: the seminar rancangan (kind
    "proposal") or the seminar laporan (kind "report"); the state that holds it names the
    kind in the definition (`seminar:`)."""

    __tablename__ = "seminars"
    __table_args__ = (
        Index("ix_seminars_cohort_start", "cohort_id", "starts_at"),
        Index("ix_seminars_case_kind", "case_id", "kind"),
    )
    STATUSES = ("scheduled", "held", "cancelled")
    OUTCOMES = ("passed", "passed_with_fixes", "failed")
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    # Naive UTC like every stored time; shown in the institution's zone.
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    room: Mapped[str] = mapped_column(String(120), default="")
    online_link: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    trainee_attended: Mapped[bool | None]
    outcome: Mapped[str | None] = mapped_column(String(30))
    notes: Mapped[str] = mapped_column(Text, default="")
    presentation_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id", ondelete="SET NULL")
    )
    # The calendar invitation's UID and SEQUENCE: a reschedule updates the same event.
    uid: Mapped[str] = mapped_column(String(80), unique=True)
    sequence: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None]

    cohort: Mapped[Cohort] = relationship()
    case: Mapped[Case] = relationship()
    presentation: Mapped[Document | None] = relationship()
    panel: Mapped[list[SeminarPanelist]] = relationship(
        back_populates="seminar",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="SeminarPanelist.id",
    )


class SeminarPanelist(db.Model):
    """A member of a seminar's panel (penguji, coach, mentor): attendance and signature."""

    __tablename__ = "seminar_panelists"
    __table_args__ = (UniqueConstraint("seminar_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    seminar_id: Mapped[int] = mapped_column(ForeignKey("seminars.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    attended: Mapped[bool | None]

    seminar: Mapped[Seminar] = relationship(back_populates="panel")
    user: Mapped[User] = relationship()
