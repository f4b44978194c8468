"""Typed SQLAlchemy 2 models, one module per aggregate."""

from .cases import Case, Milestone
from .evaluation import Score
from .events import AuditEvent, Notification
from .implementation import FinalReport, MilestoneReport, Reminder, UnitCoverage
from .people import Agency, Institution, InstitutionHoliday, Region, User
from .programs import Cohort, CohortMember, Group, Program
from .proposals import Comment, Delegation, Document, ProposalSnapshot

__all__ = [
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
