from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import utcnow
from .people import User

if TYPE_CHECKING:
    from .cases import Case
    from .implementation import MilestoneReport


class ProposalSnapshot(db.Model):
    """The proposal as it stood at one submission; diffs compare consecutive snapshots."""

    __tablename__ = "proposal_snapshots"
    __table_args__ = (UniqueConstraint("case_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    number: Mapped[int]
    event_id: Mapped[int | None] = mapped_column(ForeignKey("audit_events.id"))
    content: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(back_populates="snapshots")


class Comment(db.Model):
    """A remark on a proposal, optionally attached to one section (e.g. "core_issue")."""

    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_case_section", "case_id", "section"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(20))
    section: Mapped[str] = mapped_column(String(40), default="")
    snapshot_number: Mapped[int | None]
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[User] = relationship()


class Delegation(db.Model):
    """Plt./Plh./Pj.: `delegate` holds `principal`'s authority as `role` for a date range,
    by a decree (SK) with its number and date."""

    __tablename__ = "delegations"
    __table_args__ = (Index("ix_delegations_delegate", "delegate_id", "starts_on", "ends_on"),)
    KINDS = ("plt", "plh", "pj")
    ROLES = ("mentor", "executive", "coach", "examiner", "organizer")
    id: Mapped[int] = mapped_column(primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    delegate_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(4), default="plh")
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    reason: Mapped[str] = mapped_column(Text, default="")
    sk_number: Mapped[str] = mapped_column(String(100), default="", server_default=text("''"))
    sk_date: Mapped[date | None]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    principal: Mapped[User] = relationship(foreign_keys=[principal_id])
    delegate: Mapped[User] = relationship(foreign_keys=[delegate_id])


class Document(db.Model):
    """An uploaded file (signed letter, evidence), stored under a generated name."""

    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("audit_events.id"))
    kind: Mapped[str] = mapped_column(String(30))
    # Evidence belongs to a milestone, and to the report (or covered unit) it came with.
    milestone_id: Mapped[int | None] = mapped_column(
        ForeignKey("milestones.id", ondelete="CASCADE"), index=True
    )
    report_id: Mapped[int | None] = mapped_column(
        ForeignKey("milestone_reports.id", ondelete="CASCADE"), index=True
    )
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    # A small JPEG we rendered ourselves from image evidence (never the upload itself).
    thumb_name: Mapped[str | None] = mapped_column(String(80))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    report: Mapped[MilestoneReport | None] = relationship(back_populates="documents")

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")
