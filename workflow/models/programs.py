from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import utcnow
from .people import Institution, User


class Program(db.Model):
    """PKA, PKP, PKN II at one institution."""

    __tablename__ = "programs"
    __table_args__ = (UniqueConstraint("institution_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    definition_key: Mapped[str] = mapped_column(String(80))

    institution: Mapped[Institution] = relationship()


class Cohort(db.Model):
    """An angkatan with its phase dates; picks the workflow definition its cases start on."""

    __tablename__ = "cohorts"
    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    year: Mapped[int]
    quota: Mapped[int] = mapped_column(default=40)
    definition_key: Mapped[str] = mapped_column(String(80))
    # The version its cases start on, fixed when the cohort is set up (None: the newest);
    # `flask aksi migrate-cases` moves it with its cases.
    definition_version: Mapped[int | None]
    start_date: Mapped[date]
    proposal_deadline: Mapped[date]
    implementation_start: Mapped[date]
    implementation_end: Mapped[date]
    evaluation_date: Mapped[date]
    end_date: Mapped[date]

    program: Mapped[Program] = relationship()
    groups: Mapped[list[Group]] = relationship(back_populates="cohort", order_by="Group.name")
    members: Mapped[list[CohortMember]] = relationship(back_populates="cohort")

    @property
    def institution(self) -> Institution:
        return self.program.institution

    def phase_date(self, name: str) -> date:
        """A named phase date, as a definition's SLA refers to it."""
        if name not in self.PHASE_DATES:
            raise KeyError(name)
        return getattr(self, name)

    PHASE_DATES = (
        "start_date",
        "proposal_deadline",
        "implementation_start",
        "implementation_end",
        "evaluation_date",
        "end_date",
    )


class Group(db.Model):
    """A kelompok: one coach, one examiner, about ten trainees."""

    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("cohort_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    coach_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    examiner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)

    cohort: Mapped[Cohort] = relationship(back_populates="groups")
    coach: Mapped[User | None] = relationship(foreign_keys=[coach_id])
    examiner: Mapped[User | None] = relationship(foreign_keys=[examiner_id])


class CohortMember(db.Model):
    """A cohort-wide role: organizer, or a coach/examiner who serves the whole cohort."""

    __tablename__ = "cohort_members"
    __table_args__ = (UniqueConstraint("cohort_id", "user_id", "role"),)
    ROLES = ("organizer", "coach", "examiner")
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))

    cohort: Mapped[Cohort] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class ImportBatch(db.Model):
    """An uploaded participant list between preview and confirmation: the parsed rows
    with their errors, so confirming imports exactly what the organizer saw."""

    __tablename__ = "import_batches"
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), index=True)
    organizer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(255))
    # [{"line": 2, "values": {...}, "errors": {column: message}}]
    rows: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    imported_at: Mapped[datetime | None]
    # {"created": n, "skipped": n, "cases": n}
    summary: Mapped[dict] = mapped_column(JSON, default=dict)

    cohort: Mapped[Cohort] = relationship()
