from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ._base import utcnow


class Score(db.Model):
    """One evaluator's score (0–100) on one aspect of one case."""

    __tablename__ = "scores"
    __table_args__ = (UniqueConstraint("case_id", "evaluator_id", "aspect"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    evaluator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(20))
    aspect: Mapped[str] = mapped_column(String(60), default="overall")
    value: Mapped[float]
    note: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime | None] = mapped_column(default=utcnow)
