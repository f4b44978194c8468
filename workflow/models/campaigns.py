from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import utcnow
from .people import Institution, Region, User


class Campaign(db.Model):
    """An institution's drive over region units (every pekon of a regency fills its profil
    pekon by a date): one case per unit, on one definition whose subject is a region unit."""

    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    definition_key: Mapped[str] = mapped_column(String(80))
    definition_version: Mapped[int]
    # The area it covers (e.g. Kabupaten Lampung Barat): its units are inside it.
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    deadline: Mapped[date]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Closed campaigns no longer keep another campaign of the definition off their units.
    closed_at: Mapped[datetime | None]

    institution: Mapped[Institution] = relationship()
    region: Mapped[Region] = relationship()
    members: Mapped[list[CampaignMember]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="CampaignMember.id"
    )

    def phase_date(self, name: str) -> date:
        """A named date, as a definition's SLA refers to it (`until: deadline`)."""
        if name != "deadline":
            raise KeyError(name)
        return self.deadline


class CampaignMember(db.Model):
    """Who holds a region-assigned role in a campaign, and over which region: the operator
    of one pekon, the camat's office of a kecamatan, the DPMP validators of the regency.
    `region_code` repeats the region's official code so that "this unit is inside the
    member's region" is a string prefix test in SQL, with no walk up the region tree."""

    __tablename__ = "campaign_members"
    __table_args__ = (
        UniqueConstraint("campaign_id", "role", "user_id", "region_id"),
        Index("ix_campaign_members_user_role", "user_id", "role"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    region_code: Mapped[str] = mapped_column(String(40))

    campaign: Mapped[Campaign] = relationship(back_populates="members")
    user: Mapped[User] = relationship()
    region: Mapped[Region] = relationship()


class CaseAssignment(db.Model):
    """A person named for a case-assigned role of a definition on one case."""

    __tablename__ = "case_assignments"
    __table_args__ = (
        UniqueConstraint("case_id", "role", "user_id"),
        Index("ix_case_assignments_user_role", "user_id", "role"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()
