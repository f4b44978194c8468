from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import utcnow
from .campaigns import Campaign
from .evaluation import ScoreSheet
from .implementation import FinalReport, MilestoneReport, UnitCoverage
from .people import Institution, Region, User
from .programs import Cohort, Group
from .proposals import ProposalSnapshot


class Case(db.Model):
    """One change action of one trainee (in a cohort), or one region unit of a campaign,
    moving through its workflow definition."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_cohort_state", "cohort_id", "state"),
        Index("ix_cases_due", "due_date"),
        Index("ix_cases_cohort_ndh", "cohort_id", "ndh", unique=True),
        Index("ix_cases_campaign_region", "campaign_id", "region_id", unique=True),
        Index("ix_cases_campaign_state", "campaign_id", "state"),
        Index("ix_cases_region_code", "region_code"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # A participant's case has a cohort and a trainee; a region unit's a campaign and a unit.
    cohort_id: Mapped[int | None] = mapped_column(ForeignKey("cohorts.id"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"), index=True)
    trainee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    # The unit's official code, kept here for the region-scoped role test (see CampaignMember).
    region_code: Mapped[str | None] = mapped_column(String(40))
    mentor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    executive_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Nomor daftar hadir: the trainee's number in the cohort's attendance list.
    ndh: Mapped[int | None]

    # The definition a case started on stays its definition, whatever ships later.
    definition_key: Mapped[str] = mapped_column(String(80))
    definition_version: Mapped[int]
    state: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(default=1)
    state_entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_date: Mapped[date | None]
    audit_head: Mapped[str] = mapped_column(String(64), default="")
    event_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # The proposal (rancangan aksi perubahan).
    title: Mapped[str] = mapped_column(Text, default="")
    background_current: Mapped[str] = mapped_column(Text, default="")
    background_ideal: Mapped[str] = mapped_column(Text, default="")
    core_issue: Mapped[str] = mapped_column(Text, default="")
    objective_short: Mapped[str] = mapped_column(Text, default="")
    objective_medium: Mapped[str] = mapped_column(Text, default="")
    objective_long: Mapped[str] = mapped_column(Text, default="")
    benefits: Mapped[str] = mapped_column(Text, default="")
    scope: Mapped[str] = mapped_column(Text, default="")
    innovation: Mapped[str] = mapped_column(Text, default="")
    resources: Mapped[str] = mapped_column(Text, default="")
    # Lists of small records: [{"name", "kind": internal|external, "role", "influence",
    # "interest", "strategy"}], [{"name", "role"}], [{"risk", "mitigation"}].
    stakeholders: Mapped[list] = mapped_column(JSON, default=list)
    team: Mapped[list] = mapped_column(JSON, default=list)
    risks: Mapped[list] = mapped_column(JSON, default=list)

    # Filled when evaluation is finalized.
    final_score: Mapped[float | None]
    predicate: Mapped[str | None] = mapped_column(String(40))

    # Optimistic locking: an UPDATE that finds another version raises StaleDataError.
    __mapper_args__ = {"version_id_col": version}

    cohort: Mapped[Cohort | None] = relationship()
    group: Mapped[Group | None] = relationship()
    trainee: Mapped[User | None] = relationship(foreign_keys=[trainee_id])
    campaign: Mapped[Campaign | None] = relationship()
    region: Mapped[Region | None] = relationship()
    mentor: Mapped[User | None] = relationship(foreign_keys=[mentor_id])
    executive: Mapped[User | None] = relationship(foreign_keys=[executive_id])
    milestones: Mapped[list[Milestone]] = relationship(
        back_populates="case", order_by="Milestone.position", cascade="all, delete-orphan"
    )

    final_report: Mapped[FinalReport | None] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )

    # Declared so the unit of work writes the versioned case UPDATE before a snapshot INSERT.
    snapshots: Mapped[list[ProposalSnapshot]] = relationship(
        back_populates="case",
        order_by="ProposalSnapshot.number",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    score_sheets: Mapped[list[ScoreSheet]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="ScoreSheet.id"
    )

    PROPOSAL_TEXT_FIELDS = (
        "title",
        "background_current",
        "background_ideal",
        "core_issue",
        "objective_short",
        "objective_medium",
        "objective_long",
        "benefits",
        "scope",
        "innovation",
        "resources",
    )
    PROPOSAL_LIST_FIELDS = ("stakeholders", "team", "risks")

    @property
    def container(self) -> Cohort | Campaign:
        """What sets its dates and calendar: the cohort, or the campaign."""
        return self.cohort if self.cohort is not None else self.campaign

    @property
    def institution(self) -> Institution | None:
        if self.campaign is not None:
            return self.campaign.institution
        return self.cohort.program.institution if self.cohort is not None else None

    def proposal_content(self) -> dict:
        """The proposal as plain data: what a submission snapshots and a diff compares."""
        content: dict = {f: getattr(self, f) or "" for f in self.PROPOSAL_TEXT_FIELDS}
        for f in self.PROPOSAL_LIST_FIELDS:
            content[f] = list(getattr(self, f) or [])
        content["milestones"] = [m.as_dict() for m in self.milestones]
        return content


class Milestone(db.Model):
    """A tahapan of the proposal; implementation reports progress against it."""

    __tablename__ = "milestones"
    TERMS = ("short", "medium", "long")
    STATUSES = ("planned", "in_progress", "reported", "verified", "returned", "not_achieved")
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    term: Mapped[str] = mapped_column(String(10), default="short")
    activity: Mapped[str] = mapped_column(Text, default="")
    output: Mapped[str] = mapped_column(Text, default="")
    target_date: Mapped[date | None]
    target_quantity: Mapped[float | None]
    target_unit: Mapped[str] = mapped_column(String(80), default="")
    # Optional units to cover, e.g. the 15 kecamatan of Lampung Barat.
    units: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="planned")
    achieved_quantity: Mapped[float | None]
    closing_note: Mapped[str] = mapped_column(Text, default="")
    # The next deadline of whoever must act on it: the trainee (target date, or the fix
    # date after a return) or the mentor (verify by). None once closed.
    due_date: Mapped[date | None]
    # The mentor's comment when returned, shown on top of the trainee's page until fixed.
    return_comment: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime | None]

    case: Mapped[Case] = relationship(back_populates="milestones")
    reports: Mapped[list[MilestoneReport]] = relationship(
        order_by="MilestoneReport.number", cascade="all, delete-orphan", passive_deletes=True
    )
    coverages: Mapped[list[UnitCoverage]] = relationship(
        order_by="UnitCoverage.covered_on, UnitCoverage.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    def as_dict(self) -> dict:
        return {
            "term": self.term,
            "activity": self.activity,
            "output": self.output,
            "target_date": self.target_date.isoformat() if self.target_date else None,
            "target_quantity": self.target_quantity,
            "target_unit": self.target_unit,
            "units": list(self.units or []),
        }

    @property
    def covered_units(self) -> list[str]:
        return [c.unit for c in self.coverages]

    @property
    def remaining_units(self) -> list[str]:
        covered = set(self.covered_units)
        return [u for u in (self.units or []) if u not in covered]

    @property
    def is_closed(self) -> bool:
        """Verified, or closed as not achieved with an explanation."""
        return self.status == "verified" or (
            self.status == "not_achieved" and bool(self.closing_note.strip())
        )
