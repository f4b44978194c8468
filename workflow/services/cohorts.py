"""Cohort set-up: groups (kelompok) and who is in them.

Moving a case into a group goes through perform() (`assign_group`), so every assignment,
one by hand or forty at once, is audited per case and heard by the people concerned.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..engine.activities import ActivityContext, ActivityResult, activity
from ..extensions import db
from ..models import Group
from .errors import Blocked


@activity("assign_group")
def assign_group(ctx: ActivityContext) -> ActivityResult:
    case = ctx.case
    raw = ctx.raw.get("group_id")
    try:
        group_id = int(raw)
    except (TypeError, ValueError):
        group_id = None
    group = db.session.get(Group, group_id) if group_id is not None else None
    if group is None or group.cohort_id != case.cohort_id:
        message = _l("Choose one of this cohort's groups.")
        raise Blocked(message, [message], {"group_id": message})
    if case.group_id == group.id:
        message = _l("The case is already in group %(name)s.", name=group.name)
        raise Blocked(message, [message], {"group_id": message})
    previous = case.group.name if case.group is not None else None
    case.group = group
    return ActivityResult(
        data={"group": group.name, "previous_group": previous},
        # The trainee and the group's coach and examiner (the new ones) hear of it.
        notify_roles=("trainee", "coach", "examiner"),
    )
