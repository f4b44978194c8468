"""Follow-up after graduation: per case and horizon (6, 12, 24 months after a passed result)
one round, the alumnus's reports on it (never edited: each new one is added) with a line
per followed milestone and evidence, and the confirmer's decision on each report.

A round has a row only once reported: before that its state (upcoming, due, missed) follows
from the completion date and the definition's `follow_up:` rules (services/followup.py).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import utcnow
from .people import User
from .proposals import Document


class FollowUpRound(db.Model):
    """One horizon of one case's follow-up, once the alumnus has reported on it."""

    __tablename__ = "followup_rounds"
    __table_args__ = (
        UniqueConstraint("case_id", "horizon"),
        Index("ix_followup_rounds_status", "status", "case_id"),
    )
    STATUSES = ("reported", "returned", "confirmed")
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    # Months after the case closed as passed.
    horizon: Mapped[int]
    status: Mapped[str] = mapped_column(String(20))
    # Whose deadline is next: the confirmer's (reported) or the alumnus's (returned).
    due_date: Mapped[date | None]
    # The change action still running, as the latest report says (confirmed or not).
    running: Mapped[bool]
    confirmed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    reports: Mapped[list[FollowUpReport]] = relationship(
        back_populates="round",
        order_by="FollowUpReport.number",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    @property
    def latest(self) -> FollowUpReport | None:
        return self.reports[-1] if self.reports else None


class FollowUpReport(db.Model):
    """The alumnus's report at one horizon, and the confirmer's decision on it."""

    __tablename__ = "followup_reports"
    __table_args__ = (UniqueConstraint("round_id", "number"),)
    DECISIONS = ("confirmed", "returned")
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(
        ForeignKey("followup_rounds.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("audit_events.id"))
    running: Mapped[bool]
    narrative: Mapped[str] = mapped_column(Text, default="")
    report_date: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decision: Mapped[str | None] = mapped_column(String(20))
    # The role the decision was taken in: mentor, or the executive/organizer standing in.
    decided_as: Mapped[str | None] = mapped_column(String(20))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_comment: Mapped[str] = mapped_column(Text, default="")
    decision_event_id: Mapped[int | None] = mapped_column(ForeignKey("audit_events.id"))

    round: Mapped[FollowUpRound] = relationship(back_populates="reports")
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    results: Mapped[list[FollowUpResult]] = relationship(
        order_by="FollowUpResult.id", cascade="all, delete-orphan", passive_deletes=True
    )
    documents: Mapped[list[Document]] = relationship(
        secondary="followup_evidence", order_by="Document.id", viewonly=True
    )


class FollowUpResult(db.Model):
    """Where one medium- or long-term milestone stands in a follow-up report."""

    __tablename__ = "followup_results"
    __table_args__ = (UniqueConstraint("report_id", "milestone_id"),)
    STATUSES = ("running", "achieved", "stopped")
    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("followup_reports.id", ondelete="CASCADE"))
    milestone_id: Mapped[int] = mapped_column(
        ForeignKey("milestones.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20))
    achieved_quantity: Mapped[float | None]
    note: Mapped[str] = mapped_column(Text, default="")


class FollowUpEvidence(db.Model):
    """A document (stored by services/documents.stage_evidence) that came with a report."""

    __tablename__ = "followup_evidence"
    report_id: Mapped[int] = mapped_column(
        ForeignKey("followup_reports.id", ondelete="CASCADE"), primary_key=True
    )
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True, index=True
    )

    report: Mapped[FollowUpReport] = relationship()
    document: Mapped[Document] = relationship()
