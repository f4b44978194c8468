"""Typed SQLAlchemy 2 models, one module per aggregate."""

from .cases import Case, Milestone
from .evaluation import Score
from .events import AuditEvent, Notification
from .people import Agency, Institution, InstitutionHoliday, Region, User
from .programs import Cohort, CohortMember, Group, Program

__all__ = [
    "Agency",
    "AuditEvent",
    "Case",
    "Cohort",
    "CohortMember",
    "Group",
    "Institution",
    "InstitutionHoliday",
    "Milestone",
    "Notification",
    "Program",
    "Region",
    "Score",
    "User",
]
