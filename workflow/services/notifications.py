"""Notifications for whoever must act next. Queued in the same transaction as the event."""

from __future__ import annotations

from sqlalchemy import select

from ..engine.definitions import Definition
from ..extensions import db
from ..models import Case, CohortMember, Notification, User


def holders(case: Case, role: str) -> set[int]:
    """User ids holding `role` on `case`."""
    if role in ("trainee", "mentor", "executive"):
        uid = getattr(case, f"{role}_id")
        return {uid} if uid else set()
    ids: set[int] = set()
    if role in ("coach", "examiner") and case.group is not None:
        uid = getattr(case.group, f"{role}_id")
        if uid:
            ids.add(uid)
    ids.update(
        db.session.scalars(
            select(CohortMember.user_id).where(
                CohortMember.cohort_id == case.cohort_id, CohortMember.role == role
            )
        )
    )
    return ids


def queue_for_event(
    case: Case, definition: Definition, event, actor: User, transition=None
) -> list[Notification]:
    """One notification per person the transition names (by default the owners of the new
    state), the actor excepted."""
    roles = transition.notify if transition is not None and transition.notify is not None else (
        definition.state(event.to_state).owners
    )
    recipients: set[int] = set()
    for role in roles:
        recipients |= holders(case, role)
    recipients.discard(actor.id)
    notes = [
        Notification(user_id=uid, case_id=case.id, event_id=event.id, kind=event.trigger)
        for uid in sorted(recipients)
    ]
    db.session.add_all(notes)
    return notes
