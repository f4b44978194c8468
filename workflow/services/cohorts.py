"""Cohort set-up: the cohort itself, its organizers, groups (kelompok) and who is in them.

Moving a case into a group goes through perform() (`assign_group`), so every assignment,
one by hand or forty at once, is audited per case and heard by the people concerned.
Who may set a cohort up: its organizers, and the admins of its institution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ..engine import registry
from ..engine.activities import ActivityContext, ActivityResult, activity
from ..extensions import db
from ..models import Case, Cohort, CohortMember, Group, Program, User
from ..models._base import MAX_ID
from . import mail
from .errors import Blocked, Conflict, Forbidden, Missing, WorkflowError
from .workflow import definition_of, perform

INVALID = _l("Some fields need your attention.")
REQUIRED = _l("Required.")
TOO_LONG = _l("Too long (at most %(n)d characters).")
NAME_MAX = 200
GROUP_NAME_MAX = 80
QUOTA_MAX = 1000
YEARS = (2000, 2100)

DATE_LABELS = {
    "start_date": _l("Start of the training"),
    "proposal_deadline": _l("Proposal deadline"),
    "implementation_start": _l("Start of implementation"),
    "implementation_end": _l("End of implementation"),
    "evaluation_date": _l("Evaluation (seminar)"),
    "end_date": _l("End of the training"),
}
FORM_FIELDS = ("program_id", "name", "year", "quota", *Cohort.PHASE_DATES)


def _fmt(message, **params) -> str:
    return str(message) % params


# ---------------------------------------------------------------- who may


def _organized(user_id: int):
    return select(CohortMember.cohort_id).where(
        CohortMember.user_id == user_id, CohortMember.role == "organizer"
    )


def _managed_clause(user: User):
    """SQL condition on Cohort: `user` organizes it or is an admin of its institution."""
    clauses = [Cohort.id.in_(_organized(user.id))]
    if user.is_admin and user.institution_id is not None:
        clauses.append(
            Cohort.program_id.in_(
                select(Program.id).where(Program.institution_id == user.institution_id)
            )
        )
    return or_(*clauses)


def cohorts_for(user: User) -> Select:
    """The cohorts a user sets up: those they organize; an admin: all of their institution."""
    return (
        select(Cohort)
        .where(_managed_clause(user))
        .options(joinedload(Cohort.program).joinedload(Program.institution))
    )


def cohort_for(user: User, cohort_id: int) -> Cohort | None:
    """A cohort scoped to the user: None (a 404) when it is not theirs to set up."""
    if not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(cohorts_for(user).where(Cohort.id == cohort_id))


def is_organizer(user: User, cohort: Cohort) -> bool:
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    CohortMember.cohort_id == cohort.id,
                    CohortMember.user_id == user.id,
                    CohortMember.role == "organizer",
                )
            )
        )
    )


def institution_ids_for(user: User) -> set[int]:
    """Institutions where the user may create cohorts: their own as an admin, and those
    of the cohorts they organize."""
    ids = set(
        db.session.scalars(
            select(Program.institution_id)
            .join(Cohort, Cohort.program_id == Program.id)
            .where(Cohort.id.in_(_organized(user.id)))
        )
    )
    if user.is_admin and user.institution_id is not None:
        ids.add(user.institution_id)
    return ids


def programs_for(user: User) -> list[Program]:
    ids = institution_ids_for(user)
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(Program)
            .where(Program.institution_id.in_(ids))
            .options(joinedload(Program.institution))
            .order_by(Program.institution_id, Program.code)
        )
    )


def can_create(user: User) -> bool:
    return bool(institution_ids_for(user))


def sets_up_cohorts(user: User) -> bool:
    """Whether the cohorts page is for this user (for the navigation link): one query."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_admin and user.institution_id is not None:
        return True
    return bool(db.session.scalar(select(exists(_organized(user.id)))))


def staff_of(institution_id: int, keep: tuple[int | None, ...] = ()) -> list[User]:
    """People of an institution who may organize, coach or examine: its active accounts
    that are not trainees, mentors or executives of a case (and `keep`, those chosen now)."""
    in_a_case = or_(
        exists().where(Case.trainee_id == User.id),
        exists().where(Case.mentor_id == User.id),
        exists().where(Case.executive_id == User.id),
    )
    staff = and_(User.institution_id == institution_id, User.active.is_(True), ~in_a_case)
    kept = [k for k in keep if k is not None]
    condition = or_(staff, User.id.in_(kept)) if kept else staff
    return list(db.session.scalars(select(User).where(condition).order_by(User.name, User.id)))


# ---------------------------------------------------------------- creating a cohort


def parse_day(value) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        return None


def _whole(value) -> int | None:
    text = str(value if value is not None else "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def _ids(values) -> list[int]:
    ids = []
    for value in values or ():
        number = _whole(value)
        if number is None:
            ids.append(-1)  # refused below as not one of the institution's people
        elif number not in ids:
            ids.append(number)
    return ids


def check_dates(form: dict) -> tuple[dict[str, date], dict[str, str]]:
    """Each phase date a real date, in order; a message beside each wrong one."""
    days: dict[str, date] = {}
    errors: dict[str, str] = {}
    previous: str | None = None
    for name in Cohort.PHASE_DATES:
        raw = str(form.get(name) or "").strip()
        day = parse_day(raw)
        if not raw:
            errors[name] = str(REQUIRED)
        elif day is None:
            errors[name] = str(_l("Enter a date (YYYY-MM-DD)."))
        else:
            if previous is not None:
                before = days[previous]
                if name == "implementation_end" and previous == "implementation_start":
                    if day <= before:
                        errors[name] = _fmt(
                            _l("Must be after %(label)s (%(date)s)."),
                            label=str(DATE_LABELS[previous]).lower(),
                            date=before.isoformat(),
                        )
                elif day < before:
                    errors[name] = _fmt(
                        _l("Must not be before %(label)s (%(date)s)."),
                        label=str(DATE_LABELS[previous]).lower(),
                        date=before.isoformat(),
                    )
            days[name] = day
            if name not in errors:
                previous = name
    return days, errors


def create_cohort(actor: User, form: dict, organizer_ids=()) -> Cohort:
    """A new cohort from the form's values (strings) with its organizers, committed; or
    Blocked with a message per field, having written nothing.

    An admin creates cohorts of their institution and names at least one organizer; an
    organizer of a cohort of the institution creates one and organizes it (others may be
    named too)."""
    programs = {p.id: p for p in programs_for(actor)}
    if not programs:
        raise Forbidden(_l("You may not create cohorts."))
    errors: dict[str, str] = {}
    program = programs.get(_whole(form.get("program_id")))
    if program is None:
        errors["program_id"] = str(_l("Choose a program."))
    else:
        try:
            registry.latest(program.definition_key)
        except LookupError:
            errors["program_id"] = str(_l("This program's workflow definition is not loaded."))
    name = " ".join(str(form.get("name") or "").split())
    if not name:
        errors["name"] = str(REQUIRED)
    elif len(name) > NAME_MAX:
        errors["name"] = _fmt(TOO_LONG, n=NAME_MAX)
    year = _whole(form.get("year"))
    if year is None or not YEARS[0] <= year <= YEARS[1]:
        errors["year"] = str(_l("Enter a year such as 2026."))
    quota = _whole(form.get("quota"))
    if quota is None or not 1 <= quota <= QUOTA_MAX:
        errors["quota"] = _fmt(_l("Enter a whole number from 1 to %(n)d."), n=QUOTA_MAX)
    days, date_errors = check_dates(form)
    errors.update(date_errors)

    organizers: list[User] = []
    if program is not None:
        wanted = _ids(organizer_ids)
        staff = {u.id: u for u in staff_of(program.institution_id, keep=(actor.id,))}
        if any(i not in staff for i in wanted):
            errors["organizers"] = str(_l("Choose organizers among the institution's people."))
        organizers = [staff[i] for i in wanted if i in staff]
        if not actor_admin_of(actor, program) and actor.id not in wanted:
            organizers.insert(0, actor)  # an organizer organizes the cohort they create
        if not organizers and "organizers" not in errors:
            errors["organizers"] = str(_l("Name at least one organizer."))
        if "name" not in errors and "year" not in errors:
            clash = db.session.scalar(
                select(
                    exists().where(
                        Cohort.program_id == program.id,
                        Cohort.year == year,
                        func.lower(Cohort.name) == name.lower(),
                    )
                )
            )
            if clash:
                errors["name"] = str(
                    _l("This program already has a cohort with this name in that year.")
                )
    if errors:
        raise Blocked(INVALID, list(errors.values()), errors)

    cohort = Cohort(
        program=program,
        name=name,
        year=year,
        quota=quota,
        definition_key=program.definition_key,
        # Fixed now: later versions reach this cohort only by migrating its cases.
        definition_version=registry.latest(program.definition_key).version,
        **days,
    )
    db.session.add(cohort)
    for person in organizers:
        db.session.add(CohortMember(cohort=cohort, user=person, role="organizer"))
    db.session.commit()
    return cohort


def actor_admin_of(user: User, program: Program) -> bool:
    return bool(user.is_admin and user.institution_id == program.institution_id)


def add_organizer(cohort: Cohort, actor: User, user_id) -> User:
    """Name another organizer of the cohort (its organizers and admins may)."""
    institution_id = cohort.program.institution_id
    person_id = _whole(user_id)
    staff = {u.id: u for u in staff_of(institution_id)}
    person = staff.get(person_id)
    if person is None:
        message = str(_l("Choose organizers among the institution's people."))
        raise Blocked(message, [message], {"organizer": message})
    already = db.session.scalar(
        select(
            exists().where(
                CohortMember.cohort_id == cohort.id,
                CohortMember.user_id == person.id,
                CohortMember.role == "organizer",
            )
        )
    )
    if already:
        message = _fmt(_l("%(name)s already organizes this cohort."), name=person.name)
        raise Blocked(message, [message], {"organizer": message})
    db.session.add(CohortMember(cohort_id=cohort.id, user_id=person.id, role="organizer"))
    db.session.commit()
    return person


# ---------------------------------------------------------------- groups


def save_group(cohort: Cohort, name, coach_id, examiner_id, group: Group | None = None) -> Group:
    """Create a group of the cohort, or rename it and change its coach and examiner.
    Blocked with a message per field, having written nothing."""
    errors: dict[str, str] = {}
    name = " ".join(str(name or "").split())
    if not name:
        errors["name"] = str(REQUIRED)
    elif len(name) > GROUP_NAME_MAX:
        errors["name"] = _fmt(TOO_LONG, n=GROUP_NAME_MAX)
    else:
        clash = db.session.scalar(
            select(
                exists().where(
                    Group.cohort_id == cohort.id,
                    func.lower(Group.name) == name.lower(),
                    Group.id != (group.id if group is not None else -1),
                )
            )
        )
        if clash:
            errors["name"] = str(_l("This cohort already has a group with this name."))
    keep = (group.coach_id, group.examiner_id) if group is not None else ()
    staff = {u.id: u for u in staff_of(cohort.program.institution_id, keep=keep)}
    chosen = {}
    for key, raw in (("coach_id", coach_id), ("examiner_id", examiner_id)):
        text = str(raw or "").strip()
        person = staff.get(_whole(text)) if text else None
        if text and person is None:
            errors[key] = str(_l("Choose a person of this institution."))
        chosen[key] = person
    coach, examiner = chosen["coach_id"], chosen["examiner_id"]
    if coach is not None and examiner is not None and coach.id == examiner.id:
        errors["examiner_id"] = str(_l("The coach and the examiner must be different people."))
    if errors:
        raise Blocked(INVALID, list(errors.values()), errors)
    if group is None:
        group = Group(cohort_id=cohort.id)
        db.session.add(group)
    group.name = name
    group.coach_id = coach.id if coach else None
    group.examiner_id = examiner.id if examiner else None
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        message = str(_l("This cohort already has a group with this name."))
        raise Conflict(message, [message], {"name": message}) from None
    return group


def group_of(cohort: Cohort, group_id: int) -> Group | None:
    group = db.session.get(Group, group_id)
    return group if group is not None and group.cohort_id == cohort.id else None


def assignable(case: Case) -> bool:
    """The case's state admits a group assignment (not a finished case)."""
    spec = definition_of(case).activity("assign_group")
    return spec is not None and case.state in spec.states


def assign(cohort: Cohort, actor: User, case_id, group_id):
    """Put one case of the cohort into one of its groups, through perform()."""
    number = _whole(case_id)
    case = db.session.get(Case, number) if number is not None else None
    if case is None or case.cohort_id != cohort.id:
        raise Missing(_l("This case is not part of this cohort."))
    return perform(case, "assign_group", actor, data={"group_id": group_id})


@dataclass
class Distribution:
    moved: int = 0
    failed: list[tuple[Case, str]] = field(default_factory=list)


def plan_even(
    group_ids: list[int], cases: list[Case], include_assigned: bool = False
) -> list[tuple[Case, int]]:
    """(case, group id) moves that balance the groups: cases without a group go one by one
    to the smallest group (ties: the first); with `include_assigned` the groups are evened
    out too, moving as few cases as possible."""
    if not group_ids:
        return []
    order = {gid: i for i, gid in enumerate(group_ids)}
    members: dict[int, list[Case]] = {gid: [] for gid in group_ids}
    loose: list[Case] = []
    for case in sorted(cases, key=lambda c: c.id):
        (members[case.group_id] if case.group_id in members else loose).append(case)
    if include_assigned:
        base, extra = divmod(len(cases), len(group_ids))
        # The spare places go to the groups that are biggest now: fewer cases move.
        ranked = sorted(group_ids, key=lambda g: (-len(members[g]), order[g]))
        target = {gid: base + (1 if i < extra else 0) for i, gid in enumerate(ranked)}
        for gid in group_ids:
            loose.extend(members[gid][target[gid] :])
            members[gid] = members[gid][: target[gid]]
    else:
        target = None
    sizes = {gid: len(m) for gid, m in members.items()}
    plan = []
    for case in sorted(loose, key=lambda c: c.id):
        open_ = [g for g in group_ids if target is None or sizes[g] < target[g]]
        gid = min(open_, key=lambda g: (sizes[g], order[g]))
        sizes[gid] += 1
        plan.append((case, gid))
    return plan


def assign_evenly(cohort: Cohort, actor: User, include_assigned: bool = False) -> Distribution:
    """Spread the cohort's cases over its groups, each move through perform() (audited and
    notified per case). Finished cases stay where they are and do not count."""
    if not is_organizer(actor, cohort):
        raise Forbidden(_l("Only the cohort's organizers assign trainees to groups."))
    group_ids = list(
        db.session.scalars(
            select(Group.id).where(Group.cohort_id == cohort.id).order_by(Group.name, Group.id)
        )
    )
    if not group_ids:
        message = str(_l("Create the groups first."))
        raise Blocked(message, [message])
    cases = db.session.scalars(select(Case).where(Case.cohort_id == cohort.id)).all()
    cases = [c for c in cases if assignable(c)]
    result = Distribution()
    with mail.batched_delivery():
        for case, gid in plan_even(group_ids, cases, include_assigned):
            try:
                perform(case, "assign_group", actor, data={"group_id": gid})
            except WorkflowError as exc:
                result.failed.append((case, str(exc.message)))
            else:
                result.moved += 1
    return result


# ---------------------------------------------------------------- the cohort page


@dataclass
class Overview:
    cohort: Cohort
    organizers: list[User]
    members: list[CohortMember]
    groups: list[Group]
    sizes: dict[int, int]
    cases: list[Case]
    staff: list[User]

    @property
    def without_group(self) -> list[Case]:
        return [c for c in self.cases if c.group_id is None]


def overview(cohort: Cohort) -> Overview:
    """Everything the cohort page shows, in a fixed number of queries."""
    members = list(
        db.session.scalars(
            select(CohortMember)
            .where(CohortMember.cohort_id == cohort.id)
            .options(joinedload(CohortMember.user))
            .order_by(CohortMember.role, CohortMember.id)
        )
    )
    groups = list(
        db.session.scalars(
            select(Group)
            .where(Group.cohort_id == cohort.id)
            .options(joinedload(Group.coach), joinedload(Group.examiner))
            .order_by(Group.name, Group.id)
        ).unique()
    )
    sizes = dict(
        db.session.execute(
            select(Case.group_id, func.count(Case.id))
            .where(Case.cohort_id == cohort.id, Case.group_id.is_not(None))
            .group_by(Case.group_id)
        ).all()
    )
    cases = list(
        db.session.scalars(
            select(Case)
            .where(Case.cohort_id == cohort.id)
            .options(
                joinedload(Case.trainee).joinedload(User.agency),
                joinedload(Case.mentor),
                joinedload(Case.executive),
            )
            .join(User, User.id == Case.trainee_id)
            .order_by(User.name, Case.id)
        ).unique()
    )
    keep = tuple(g.coach_id for g in groups) + tuple(g.examiner_id for g in groups)
    staff = staff_of(cohort.program.institution_id, keep=keep)
    return Overview(
        cohort=cohort,
        organizers=[m.user for m in members if m.role == "organizer"],
        members=members,
        groups=groups,
        sizes=sizes,
        cases=cases,
        staff=staff,
    )


@activity("assign_group")
def assign_group(ctx: ActivityContext) -> ActivityResult:
    case = ctx.case
    raw = ctx.raw.get("group_id")
    try:
        group_id = int(raw)
    except (TypeError, ValueError):
        group_id = None
    if group_id is not None and not 1 <= group_id <= MAX_ID:
        group_id = None  # beyond a 32-bit key nothing exists (and PostgreSQL would raise)
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
