"""The implementation phase: progress reports per milestone, covered units, the final
report, and the reminders already sent."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import utcnow
from .people import User

if TYPE_CHECKING:
    from .proposals import Document


class MilestoneReport(db.Model):
    """One progress report of a trainee on one milestone, and the mentor's decision on it.
    Reports are never edited: each new one is added, so the history stays."""

    __tablename__ = "milestone_reports"
    __table_args__ = (UniqueConstraint("milestone_id", "number"),)
    STATUSES = ("in_progress", "reported", "not_achieved")
    DECISIONS = ("verified", "returned")
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    milestone_id: Mapped[int] = mapped_column(
        ForeignKey("milestones.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("audit_events.id"))
    status: Mapped[str] = mapped_column(String(20))
    achieved_quantity: Mapped[float | None]
    narrative: Mapped[str] = mapped_column(Text, default="")
    report_date: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The mentor's decision on this report (reports of status "reported" only).
    decision: Mapped[str | None] = mapped_column(String(20))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_comment: Mapped[str] = mapped_column(Text, default="")
    decision_event_id: Mapped[int | None] = mapped_column(ForeignKey("audit_events.id"))

    author: Mapped[User] = relationship(foreign_keys=[author_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    documents: Mapped[list[Document]] = relationship(
        back_populates="report", order_by="Document.id"
    )


class UnitCoverage(db.Model):
    """One unit of a coverage milestone (e.g. kecamatan Sukau) marked covered."""

    __tablename__ = "unit_coverages"
    __table_args__ = (UniqueConstraint("milestone_id", "unit"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    milestone_id: Mapped[int] = mapped_column(
        ForeignKey("milestones.id", ondelete="CASCADE"), index=True
    )
    unit: Mapped[str] = mapped_column(String(300))
    covered_on: Mapped[date]
    note: Mapped[str] = mapped_column(Text, default="")
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("audit_events.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    document: Mapped[Document | None] = relationship()


class FinalReport(db.Model):
    """The laporan aksi perubahan: drafted during implementation, submitted with
    submit_report. `results` maps a milestone id (as text) to the result against its target."""

    __tablename__ = "final_reports"
    TEXT_FIELDS = (
        "executive_summary",
        "implementation",
        "lessons_learned",
        "continuation_medium",
        "continuation_long",
        "sponsor_commitment",
        "video_link",
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    executive_summary: Mapped[str] = mapped_column(Text, default="")
    implementation: Mapped[str] = mapped_column(Text, default="")
    results: Mapped[dict] = mapped_column(JSON, default=dict)
    lessons_learned: Mapped[str] = mapped_column(Text, default="")
    continuation_medium: Mapped[str] = mapped_column(Text, default="")
    continuation_long: Mapped[str] = mapped_column(Text, default="")
    sponsor_commitment: Mapped[str] = mapped_column(Text, default="")
    video_link: Mapped[str] = mapped_column(String(500), default="")
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None]

    __mapper_args__ = {"version_id_col": version}


class Reminder(db.Model):
    """A reminder or escalation owed to one person about one deadline. The unique key makes
    `flask aksi remind` idempotent: the same deadline never yields the same reminder twice;
    an extended deadline (another due date) is a new one. Sent in one daily digest."""

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("user_id", "subject", "kind", "due_date"),
        Index("ix_reminders_pending", "user_id", "sent_at"),
    )
    KINDS = ("due_soon", "overdue")
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    milestone_id: Mapped[int | None] = mapped_column(
        ForeignKey("milestones.id", ondelete="CASCADE")
    )
    # "case:<id>" or "milestone:<id>": what the deadline belongs to.
    subject: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    # The role the recipient holds for it: trainee/mentor (their own task) or
    # mentor/organizer receiving an escalation.
    role: Mapped[str] = mapped_column(String(20))
    due_date: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # The local day of the digest it went out in: at most one digest per person per day.
    digest_day: Mapped[date | None]

    user: Mapped[User] = relationship()
