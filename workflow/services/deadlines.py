"""Deadlines: the organizer extends one case's due date, with a reason; organizers and
coaches remind whoever must act. Both through perform(), so each is audited per case."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..engine.activities import ActivityContext, ActivityResult, activity
from ..extensions import db
from ..models import AuditEvent
from ..models._base import utcnow
from .errors import Blocked, NotAvailable
from .milestones import today_for
from .workflow import awaited_roles


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


# A case is reminded at most once in this window, however many people press the button.
REMIND_INTERVAL = timedelta(hours=20)


@activity("remind")
def remind(ctx: ActivityContext) -> ActivityResult:
    """Notify (in the inbox, and by mail) whoever owns the case's current state."""
    case = ctx.case
    owners = awaited_roles(case, ctx.definition)
    if not owners:
        raise NotAvailable(_l("Nobody has to act on this case now."))
    last = db.session.scalar(
        select(AuditEvent.created_at)
        .where(AuditEvent.case_id == case.id, AuditEvent.trigger == "remind")
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )
    if last is not None and utcnow() - last < REMIND_INTERVAL:
        message = _l("This case was already reminded today.")
        raise Blocked(message, [message])
    return ActivityResult(
        data={
            "reminded": list(owners),
            "due_date": case.due_date.isoformat() if case.due_date else None,
        },
        notify_roles=tuple(owners),
    )
