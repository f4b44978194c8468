"""A trainee's mentor changed mid-course, through the one door (perform() runs the
`transfer_mentor` activity: the organizer of the cohort, with a reason).

What the open work does when the mentor changes:
- a draft mentor score sheet is the role's (ScoreSheet is unique per case and role), so
  the new mentor continues it; nothing moves;
- reported milestones awaiting verification are found through case.mentor_id, so they
  are in the new mentor's queue at once;
- an approval the old mentor already gave on an all-roles step (e.g. proposal_review's
  "approve", recorded as the role "mentor") stands: it was given while they were the
  mentor, and the step does not ask the mentor twice. The new mentor signs what is still
  awaited.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update

from ..engine.activities import ActivityContext, ActivityResult, activity
from ..extensions import db
from ..models import Notification, User
from ..models._base import MAX_ID
from ..models.seminars import Seminar, SeminarPanelist
from ..permissions import roles_on_case
from .errors import Blocked

INVALID = _l("Some fields need your attention.")
CHOOSE = _l("Choose the new mentor among the active users.")
SAME = _l("This person is already the trainee's mentor.")
TRAINEE = _l("A trainee cannot be their own mentor.")
PANEL = _l(
    "This person is the trainee's coach or examiner: the mentor must be someone else, "
    "or one signature would count twice."
)


def _user(raw) -> User | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str):
        raw = raw.strip()
        if not (raw.isascii() and raw.isdigit() and len(raw) < 11):
            return None
        raw = int(raw)
    if not isinstance(raw, int) or not 1 <= raw <= MAX_ID:
        return None
    return db.session.get(User, raw)


def check_new_mentor(case, raw) -> tuple[User | None, dict[str, str]]:
    """The user chosen as the case's new mentor, or the message beside the field."""
    new = _user(raw)
    if new is None or not new.active:
        return None, {"mentor_id": str(CHOOSE)}
    if new.id == case.mentor_id:
        return None, {"mentor_id": str(SAME)}
    if new.id == case.trainee_id:
        return None, {"mentor_id": str(TRAINEE)}
    if not _may_mentor(case, new):
        return None, {"mentor_id": str(CHOOSE)}
    if roles_on_case(new, case, among={"coach", "examiner"}):
        return None, {"mentor_id": str(PANEL)}
    return new, {}


def _reach(case) -> list:
    """Who may take a trainee over: the institution's people and the trainee's agency's."""
    clauses = [User.institution_id == case.cohort.program.institution_id]
    if case.trainee is not None and case.trainee.agency_id is not None:
        clauses.append(User.agency_id == case.trainee.agency_id)
    return clauses


def _may_mentor(case, user: User) -> bool:
    return user.institution_id == case.cohort.program.institution_id or (
        case.trainee is not None
        and case.trainee.agency_id is not None
        and user.agency_id == case.trainee.agency_id
    )


@activity("transfer_mentor")
def transfer_mentor(ctx: ActivityContext) -> ActivityResult:
    """data {"mentor_id": id of the new mentor}; the reason is the comment."""
    case = ctx.case
    new, errors = check_new_mentor(case, ctx.raw.get("mentor_id"))
    if errors:
        raise Blocked(INVALID, list(errors.values()), errors)
    old = case.mentor
    case.mentor = new
    if old is not None:
        # A seminar still to be held gets the new mentor on its panel.
        db.session.execute(
            update(SeminarPanelist)
            .where(
                SeminarPanelist.role == "mentor",
                SeminarPanelist.user_id == old.id,
                SeminarPanelist.seminar_id.in_(
                    select(Seminar.id).where(
                        Seminar.case_id == case.id,
                        Seminar.status == "scheduled",
                        Seminar.outcome.is_(None),
                    )
                ),
            )
            .values(user_id=new.id)
            .execution_options(synchronize_session="fetch")
        )
    link = []
    # The activity notifies "mentor", which is now the new one: the old mentor hears of it
    # through a notification of their own, tied to the same event.
    if old is not None and old.id != ctx.actor.id:
        note = Notification(user_id=old.id, case_id=case.id, kind=ctx.activity.key)
        db.session.add(note)
        link.append((note, "event_id"))
    return ActivityResult(
        data={
            "from_mentor_id": old.id if old is not None else None,
            "to_mentor_id": new.id,
            "from_mentor": old.name if old is not None else "",
            "to_mentor": new.name,
        },
        link=link,
    )


def mentor_choices(case, limit: int = 500) -> list[User]:
    """Active users of the case's institution (and of the trainee's agency), the current
    mentor and the trainee left out: who may take the trainee over."""
    clauses = _reach(case)
    excluded = [i for i in (case.mentor_id, case.trainee_id) if i is not None]
    return list(
        db.session.scalars(
            select(User)
            .where(or_(*clauses), User.active.is_(True), User.id.not_in(excluded))
            .order_by(User.name)
            .limit(limit)
        )
    )
