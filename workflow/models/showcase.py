"""(issue 12) The repository of change actions and the public showcase.

`RepositoryEntry` is the search index of one case: the words of its title, problem and
results and the facets the repository filters on, rewritten by services.repository
whenever the case (or its milestones, final report) changes. The database keeps the
full-text index in step with it: SQLite's FTS5 table `repository_fts` (external content,
triggers) and PostgreSQL's `search_vector` (a trigger fills it; GIN index). Both are made
by migration b2c0f0110012.

`ShowcaseConsent` records each consent to publish a completed case (the trainee's, the
institution's) with who gave it and when, and who withdrew it and when; rows are never
deleted, so the history stays. `ShowcasePhoto` is an evidence image the trainee chose.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import utcnow
from .people import User

# Filled by a trigger on PostgreSQL; unused (NULL) on SQLite, where FTS5 indexes the text.
SEARCH_VECTOR = Text().with_variant(TSVECTOR(), "postgresql")


class RepositoryEntry(db.Model):
    __tablename__ = "repository_entries"
    __table_args__ = (
        Index("ix_repository_entries_scope", "listed", "institution_id", "year"),
        Index("ix_repository_entries_search", "search_vector", postgresql_using="gin"),
    )
    RESULTS = ("passed", "not_passed", "ongoing")

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    # Shown in the repository: the proposal passed approval, and it was not withdrawn.
    listed: Mapped[bool] = mapped_column(default=False)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"), index=True)
    program_code: Mapped[str] = mapped_column(String(20), default="")
    year: Mapped[int]
    # Where the change action was carried out: the trainee's agency and its region
    # (regency/city and province), kept once the case is closed.
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    province_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    state: Mapped[str] = mapped_column(String(40))
    result: Mapped[str] = mapped_column(String(12), default="ongoing")
    predicate: Mapped[str] = mapped_column(String(40), default="")
    # services.followup.sustainability_of(): running, stopped, "" (not reported yet).
    sustainability: Mapped[str] = mapped_column(String(10), default="")
    title: Mapped[str] = mapped_column(Text, default="")
    problem: Mapped[str] = mapped_column(Text, default="")
    results: Mapped[str] = mapped_column(Text, default="")
    indexed_at: Mapped[datetime] = mapped_column(default=utcnow)
    search_vector: Mapped[str | None] = mapped_column(SEARCH_VECTOR)


class ShowcaseConsent(db.Model):
    __tablename__ = "showcase_consents"
    __table_args__ = (Index("ix_showcase_consents_case", "case_id", "party", "withdrawn_at"),)
    PARTIES = ("trainee", "institution")

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    party: Mapped[str] = mapped_column(String(20))
    given_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    given_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawn_at: Mapped[datetime | None]

    given_by: Mapped[User] = relationship(foreign_keys=[given_by_id])
    withdrawn_by: Mapped[User | None] = relationship(foreign_keys=[withdrawn_by_id])


class ShowcasePhoto(db.Model):
    __tablename__ = "showcase_photos"
    __table_args__ = (UniqueConstraint("case_id", "document_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    chosen_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    chosen_at: Mapped[datetime] = mapped_column(default=utcnow)
