"""Who may see and do what. Every list of cases starts from cases_visible_to()."""

from __future__ import annotations

from sqlalchemy import Select, and_, false, or_, select

from .engine import registry
from .models import Case, Cohort, CohortMember, Group, Program, User


def _organizer_cohorts(user_id: int, role: str = "organizer"):
    return select(CohortMember.cohort_id).where(
        CohortMember.user_id == user_id, CohortMember.role == role
    )


def _role_clause(user: User, role: str):
    """SQL condition: `user` holds `role` on the case row."""
    uid = user.id
    if role == "trainee":
        return Case.trainee_id == uid
    if role == "mentor":
        return Case.mentor_id == uid
    if role == "executive":
        return Case.executive_id == uid
    if role in ("coach", "examiner"):
        column = Group.coach_id if role == "coach" else Group.examiner_id
        return or_(
            Case.group_id.in_(select(Group.id).where(column == uid)),
            Case.cohort_id.in_(_organizer_cohorts(uid, role)),
        )
    if role == "organizer":
        return Case.cohort_id.in_(_organizer_cohorts(uid))
    raise ValueError(role)


ROLES = ("trainee", "mentor", "executive", "coach", "examiner", "organizer")


def cases_visible_to(user: User) -> Select:
    """The one scoped query for cases; anything outside it answers 404."""
    clauses = [_role_clause(user, role) for role in ROLES]
    if user.is_admin and user.institution_id is not None:
        clauses.append(
            Case.cohort_id.in_(
                select(Cohort.id)
                .join(Program, Program.id == Cohort.program_id)
                .where(Program.institution_id == user.institution_id)
            )
        )
    return select(Case).where(or_(*clauses))


def cases_awaiting(user: User) -> Select:
    """Cases in a state whose owner role this user holds on the case."""
    clauses = []
    for definition in registry.all():
        for role in ROLES:
            states = definition.states_owned_by(role)
            if states:
                clauses.append(
                    and_(
                        Case.definition_key == definition.key,
                        Case.definition_version == definition.version,
                        Case.state.in_(states),
                        _role_clause(user, role),
                    )
                )
    return select(Case).where(or_(*clauses) if clauses else false())


def roles_on_case(user: User | None, case: Case, among: set[str] | None = None) -> set[str]:
    """The roles `user` holds on `case`. With `among`, only those roles are looked for, so
    the group and cohort lookups are skipped when no role asked for needs them."""
    if user is None or not getattr(user, "id", None):
        return set()
    wanted = set(ROLES) if among is None else set(among)
    roles = set()
    if case.trainee_id == user.id:
        roles.add("trainee")
    if case.mentor_id == user.id:
        roles.add("mentor")
    if case.executive_id == user.id:
        roles.add("executive")
    if wanted & {"coach", "examiner"}:
        group = case.group
        if group is not None:
            if group.coach_id == user.id:
                roles.add("coach")
            if group.examiner_id == user.id:
                roles.add("examiner")
    if wanted & set(CohortMember.ROLES):
        cohort_roles = CohortMember.query.filter_by(
            cohort_id=case.cohort_id, user_id=user.id
        ).all()
        roles.update(m.role for m in cohort_roles)
    return roles if among is None else roles & wanted


def get_case_for(user: User, case_id: int) -> Case | None:
    """Load a case through the scoped query: None when it is not this user's to see."""
    from .extensions import db

    return db.session.scalar(cases_visible_to(user).where(Case.id == case_id))
