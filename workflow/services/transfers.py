"""A trainee's mentor changed mid-course, through the one door."""

from __future__ import annotations

from ..engine.activities import ActivityContext, ActivityResult, activity
from .errors import NotAvailable


@activity("transfer_mentor")
def transfer_mentor(ctx: ActivityContext) -> ActivityResult:
    raise NotAvailable("not built yet")
