"""Typed SQLAlchemy 2 models, one module per aggregate."""

from . import followup, forms, showcase, similarity  # noqa: F401, E402  (their tables)
from .campaigns import Campaign, CampaignMember, CaseAssignment
from .cases import Case, Milestone
from .evaluation import MilestoneRating, Score, ScoreSheet
from .events import Approval, AuditEvent, Notification, StateVisit
from .forms import FormEntry, FormRevision
from .implementation import FinalReport, MilestoneReport, Reminder, UnitCoverage
from .jobs import job_data, job_schedule, job_tasks
from .people import Agency, Institution, InstitutionHoliday, OneTimeToken, Region, User
from .programs import Cohort, CohortMember, Group, ImportBatch, Program
from .proposals import Comment, Delegation, Document, ProposalSnapshot
from .seminars import Seminar, SeminarPanelist

__all__ = [
    "Campaign",
    "CampaignMember",
    "CaseAssignment",
    "FormEntry",
    "FormRevision",
    "job_data",
    "job_schedule",
    "job_tasks",
    "Approval",
    "Seminar",
    "SeminarPanelist",
    "ImportBatch",
    "MilestoneRating",
    "OneTimeToken",
    "ScoreSheet",
    "StateVisit",
    "UnitCoverage",
    "Reminder",
    "MilestoneReport",
    "FinalReport",
    "Agency",
    "AuditEvent",
    "Case",
    "Cohort",
    "Comment",
    "Delegation",
    "Document",
    "CohortMember",
    "Group",
    "Institution",
    "InstitutionHoliday",
    "Milestone",
    "Notification",
    "Program",
    "ProposalSnapshot",
    "Region",
    "Score",
    "User",
]
