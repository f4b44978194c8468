from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import utcnow
from .people import User


class AuditEvent(db.Model):
    """Append-only. Each row carries the hash of the previous event of its case."""

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    seq: Mapped[int]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    trigger: Mapped[str] = mapped_column(String(60))
    from_state: Mapped[str | None] = mapped_column(String(40))
    to_state: Mapped[str] = mapped_column(String(40))
    comment: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    prev_hash: Mapped[str] = mapped_column(String(64), default="")
    hash: Mapped[str] = mapped_column(String(64))

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    on_behalf_of: Mapped[User | None] = relationship(foreign_keys=[on_behalf_of_id])


class Notification(db.Model):
    """An in-app message; `emailed_at` is set once a mail for it went out."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_unread", "user_id", "read_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("audit_events.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
    emailed_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class StateVisit(db.Model):
    """A finished stay of a case in one state, written by perform() when the case leaves
    it: where time goes, per state and cohort, without replaying the audit trail."""

    __tablename__ = "state_visits"
    __table_args__ = (Index("ix_state_visits_cohort_state", "cohort_id", "state"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    # Copied from the case so per-cohort statistics need no join.
    # None for a campaign's case (its stays are counted per campaign from the cases).
    cohort_id: Mapped[int | None] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(40))
    entered_at: Mapped[datetime]
    left_at: Mapped[datetime]
    # Working days in the cohort institution's calendar (weekends, holidays off).
    working_days: Mapped[int]


class Approval(db.Model):
    """One role's signature on a step that needs several (`approval: all`), during one stay
    of the case in the state: the unique key stops a role signing twice, even in a race,
    and lets the queues leave out whoever has already signed."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("case_id", "state", "entered_at", "trigger", "role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(60))
    state: Mapped[str] = mapped_column(String(40))
    # The case's state_entered_at when signed: which stay in the state it belongs to.
    entered_at: Mapped[datetime]
    role: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("audit_events.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    event: Mapped[AuditEvent | None] = relationship()
