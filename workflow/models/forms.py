from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import utcnow


class FormEntry(db.Model):
    """What has been filled in one data form of a case (the profil pekon), as
    {field: value} with rows as lists of {field: value}. `version` is the autosave's
    optimistic lock, as the proposal editor's."""

    __tablename__ = "form_entries"
    __table_args__ = (UniqueConstraint("case_id", "form_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    form_key: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    # The reasons of the last return, per field: {field: {"reason", "by", "at"}}; a field's
    # reason goes once the field is changed.
    notes: Mapped[dict] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime | None]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __mapper_args__ = {"version_id_col": version}

    revisions: Mapped[list[FormRevision]] = relationship(
        order_by="FormRevision.number", cascade="all, delete-orphan", passive_deletes=True
    )


class FormRevision(db.Model):
    """The form's data as it stood after one save: its history."""

    __tablename__ = "form_revisions"
    __table_args__ = (UniqueConstraint("entry_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("form_entries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
