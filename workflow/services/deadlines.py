"""Deadlines: the organizer extends one case's due date, with a reason, through perform()."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..engine.activities import ActivityContext, ActivityResult, activity
from .errors import Blocked
from .milestones import today_for


@activity("extend_deadline")
def extend_deadline(ctx: ActivityContext) -> ActivityResult:
    case = ctx.case
    new = ctx.data.get("due_date")  # cleaned by the definition's date field (ISO text)
    from datetime import date

    day = date.fromisoformat(new)
    today = today_for(case)
    floor = max(today, case.due_date) if case.due_date else today
    if day <= floor:
        message = _l("The new due date must be after %(day)s.", day=floor.isoformat())
        raise Blocked(message, [message], {"due_date": message})
    previous = case.due_date
    case.due_date = day
    return ActivityResult(
        data={
            "due_date": day.isoformat(),
            "previous_due_date": previous.isoformat() if previous else None,
        }
    )
