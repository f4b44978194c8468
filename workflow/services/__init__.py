"""The operations. Services change state and never render; perform() is the one door."""

from .errors import Blocked, Conflict, Forbidden, Missing, NotAvailable, WorkflowError
from .workflow import definition_of, perform, start_case

__all__ = [
    "Blocked",
    "Conflict",
    "Forbidden",
    "Missing",
    "NotAvailable",
    "WorkflowError",
    "definition_of",
    "perform",
    "start_case",
]
