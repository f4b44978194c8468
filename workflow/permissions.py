"""Who may see and do what. Every list of cases starts from cases_visible_to()."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, exists, false, literal, or_, select, union

from .engine import registry
from .models import (
    Campaign,
    CampaignMember,
    Case,
    CaseAssignment,
    Cohort,
    CohortMember,
    Delegation,
    Group,
    Institution,
    Program,
    User,
)
from .models._base import utcnow
from .models.events import Approval
from .models.people import ZONE_LABELS

# Roles another user may hold for a while as Plt./Plh./Pj. (acting official): every role
# that acts on a case but the trainee's own.
DELEGABLE = ("mentor", "executive", "coach", "examiner", "organizer")
DEFAULT_ZONE = "Asia/Jakarta"


def _organizer_cohorts(user_id: int, role: str = "organizer"):
    return select(CohortMember.cohort_id).where(
        CohortMember.user_id == user_id, CohortMember.role == role
    )


def _local_today(zone: str, now: datetime | None = None) -> date:
    moment = (now or utcnow()).replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(ZoneInfo(zone)).date()


def _principals_active_on(delegate_id: int, role: str, day: date):
    """Subquery: whom `delegate_id` acts for as `role` on `day` (inclusive range)."""
    return select(Delegation.principal_id).where(
        Delegation.delegate_id == delegate_id,
        Delegation.role == role,
        Delegation.revoked_at.is_(None),
        Delegation.starts_on <= day,
        Delegation.ends_on >= day,
    )


def inside_member_region(code):
    """SQL condition: the unit `code` (a column, or an official code) is the campaign
    member's region or lies inside it; codes nest (18.04 ⊃ 18.04.11 ⊃ 18.04.11.2001)."""
    unit = literal(code) if isinstance(code, str) else code
    return or_(
        unit == CampaignMember.region_code,
        unit.like(CampaignMember.region_code.concat(".%")),
    )


def _in_member_region():
    return inside_member_region(Case.region_code)


def _data_role_held(role: str, principals) -> object:
    """SQL condition on Case: one of `principals` holds the declared role `role` on it."""
    if registry.role_assignment(role) == "case":
        return Case.id.in_(
            select(CaseAssignment.case_id).where(
                CaseAssignment.role == role, CaseAssignment.user_id.in_(principals)
            )
        )
    # The uncorrelated IN first: computed once, it rules out every case outside the
    # principals' campaigns (all participants' cases) before the per-row region test.
    return and_(
        Case.campaign_id.in_(
            select(CampaignMember.campaign_id).where(
                CampaignMember.role == role, CampaignMember.user_id.in_(principals)
            )
        ),
        exists().where(
            CampaignMember.campaign_id == Case.campaign_id,
            CampaignMember.role == role,
            CampaignMember.user_id.in_(principals),
            _in_member_region(),
        ),
    )


def delegable_roles() -> tuple[str, ...]:
    """DELEGABLE, and every declared role a definition lets an acting official hold."""
    return DELEGABLE + registry.delegable_roles()


def held_by(role: str, principals) -> object:
    """SQL condition on Case: one of `principals` (ids: a subquery or a list) holds `role` on
    the case in their own right (the group's coach or examiner, or a cohort-wide one)."""
    if role not in ROLES:
        return _data_role_held(role, principals)
    if role == "mentor":
        return Case.mentor_id.in_(principals)
    if role == "executive":
        return Case.executive_id.in_(principals)
    members = select(CohortMember.cohort_id).where(
        CohortMember.role == role, CohortMember.user_id.in_(principals)
    )
    if role in ("coach", "examiner"):
        column = Group.coach_id if role == "coach" else Group.examiner_id
        return or_(
            Case.group_id.in_(select(Group.id).where(column.in_(principals))),
            Case.cohort_id.in_(members),
        )
    if role == "organizer":
        return Case.cohort_id.in_(members)
    raise ValueError(role)


def _delegated_clause(user: User, role: str, now: datetime | None = None):
    """SQL condition: `user` acts for one who holds `role` on the case, today in the local
    date of the case's institution. Today is computed for Indonesia's three zones (WIB,
    WITA, WIT); when they all agree (22 hours a day) no join is needed. An institution in
    any other zone is compared with the date in Asia/Jakarta here; roles_on_case(), which
    perform() relies on, re-checks with the institution's own zone."""
    # Never on one's own case: a trainee acting for their mentor would approve themselves.
    not_own = or_(Case.trainee_id.is_(None), Case.trainee_id != user.id)
    by_day: dict[date, list[str]] = {}
    for zone in ZONE_LABELS:
        by_day.setdefault(_local_today(zone, now), []).append(zone)
    if len(by_day) == 1:
        (day,) = by_day
        return and_(not_own, held_by(role, _principals_active_on(user.id, role, day)))
    fallback = _local_today(DEFAULT_ZONE, now)
    clauses = []
    for day, zones in by_day.items():
        in_zone = Institution.timezone.in_(zones)
        if day == fallback:
            in_zone = or_(in_zone, Institution.timezone.not_in(list(ZONE_LABELS)))
        cohorts = (
            select(Cohort.id)
            .join(Program, Program.id == Cohort.program_id)
            .join(Institution, Institution.id == Program.institution_id)
            .where(in_zone)
        )
        campaigns = (
            select(Campaign.id)
            .join(Institution, Institution.id == Campaign.institution_id)
            .where(in_zone)
        )
        clauses.append(
            and_(
                or_(Case.cohort_id.in_(cohorts), Case.campaign_id.in_(campaigns)),
                held_by(role, _principals_active_on(user.id, role, day)),
            )
        )
    return and_(not_own, or_(*clauses))


def role_conditions(user: User, role: str) -> list:
    """SQL conditions, any of which makes `user` hold `role` on the case row: in their own
    right or as the acting official (Plt./Plh./Pj.) today of one who holds it.
    Kept apart so an EXISTS per condition can use its own index (an OR of them makes
    SQLite scan every case)."""
    uid = user.id
    if role == "trainee":
        return [Case.trainee_id == uid]
    if role == "mentor":
        return [Case.mentor_id == uid, _delegated_clause(user, role)]
    if role == "executive":
        return [Case.executive_id == uid, _delegated_clause(user, role)]
    if role in ("coach", "examiner"):
        column = Group.coach_id if role == "coach" else Group.examiner_id
        return [
            Case.group_id.in_(select(Group.id).where(column == uid)),
            Case.cohort_id.in_(_organizer_cohorts(uid, role)),
            _delegated_clause(user, role),
        ]
    if role == "organizer":
        return [Case.cohort_id.in_(_organizer_cohorts(uid)), _delegated_clause(user, role)]
    if registry.role_assignment(role) is None:
        raise ValueError(role)
    own = _data_role_held(role, [uid])
    if role in delegable_roles():
        return [own, _delegated_clause(user, role)]
    return [own]


def _role_clause(user: User, role: str):
    return or_(*role_conditions(user, role))


ROLES = ("trainee", "mentor", "executive", "coach", "examiner", "organizer")
ROLE_LABELS = {
    "trainee": _l("Trainee"),
    "mentor": _l("Mentor"),
    "executive": _l("Executive"),
    "coach": _l("Coach"),
    "examiner": _l("Examiner"),
    "organizer": _l("Organizer"),
}


def institution_cohorts(institution_id: int) -> Select:
    """Subquery: the ids of an institution's cohorts (what its admin oversees)."""
    return (
        select(Cohort.id)
        .join(Program, Program.id == Cohort.program_id)
        .where(Program.institution_id == institution_id)
    )


def is_institution_admin(user: User) -> bool:
    return bool(user.is_admin and user.institution_id is not None)


def institution_campaigns(institution_id: int) -> Select:
    """Subquery: the ids of an institution's campaigns."""
    return select(Campaign.id).where(Campaign.institution_id == institution_id)


def cases_visible_to(user: User) -> Select:
    """The one scoped query for cases; anything outside it answers 404."""
    clauses = [_role_clause(user, role) for role in registry.roles()]
    if is_institution_admin(user):
        clauses.append(Case.cohort_id.in_(institution_cohorts(user.institution_id)))
        clauses.append(Case.campaign_id.in_(institution_campaigns(user.institution_id)))
    return select(Case).where(or_(*clauses))


def oversight_clause(user: User):
    """SQL condition on Case: the cases the user oversees as organizer, coach or
    institution admin (the dashboards' scope). Its terms are those of cases_visible_to()
    for these roles, so it only narrows it. The whole-cohort terms are one IN over a UNION
    and the group coach one more: SQLite walks two indexes, where an OR of four terms read
    every case four times (130 → 57 ms for per-province counts over 50,000 cases)."""
    cohorts = select(CohortMember.cohort_id).where(
        CohortMember.user_id == user.id, CohortMember.role.in_(("organizer", "coach"))
    )
    if is_institution_admin(user):
        cohorts = union(cohorts, institution_cohorts(user.institution_id))
    return or_(
        Case.cohort_id.in_(cohorts),
        Case.group_id.in_(select(Group.id).where(Group.coach_id == user.id)),
    )


def cases_awaiting(user: User) -> Select:
    """Cases in a state whose owner role this user holds on the case, less those where the
    role's signature on an all-roles step of this stay is already given (the coach who
    approved waits for the mentor, and is not asked again)."""
    clauses = []
    for definition in registry.all():
        for role in definition.role_keys:
            plain, signing = [], []
            for state in definition.states_owned_by(role):
                steps = [
                    t.trigger
                    for t in definition.transitions_from(state)
                    if t.approval == "all" and role in t.roles
                ]
                (signing if steps else plain).append((state, steps))
            if not plain and not signing:
                continue
            by_state = [Case.state.in_([state for state, _ in plain])] if plain else []
            by_state += [
                and_(Case.state == state, ~_signed(role, steps)) for state, steps in signing
            ]
            clauses.append(
                and_(
                    Case.definition_key == definition.key,
                    Case.definition_version == definition.version,
                    or_(*by_state),
                    _role_clause(user, role),
                )
            )
    return select(Case).where(or_(*clauses) if clauses else false())


def _signed(role: str, steps: list[str]):
    """The role has signed one of `steps` during the case's current stay in its state."""
    return exists().where(
        Approval.case_id == Case.id,
        Approval.state == Case.state,
        Approval.entered_at == Case.state_entered_at,
        Approval.role == role,
        Approval.trigger.in_(steps),
    )


def roles_on_case(user: User | None, case: Case, among: set[str] | None = None) -> set[str]:
    """The roles `user` holds on `case`, in their own right or as an acting official. With
    `among`, only those roles are looked for, so the group and cohort lookups are skipped
    when no role asked for needs them."""
    roles, acting = roles_and_principals(user, case, among)
    return roles | set(acting)


def roles_and_principals(
    user: User | None, case: Case, among: set[str] | None = None
) -> tuple[set[str], dict[str, int]]:
    """(roles held in one's own right, {delegated role: principal id}). A role held in one's
    own right is never also reported as delegated: then nobody is acted for."""
    own = _own_roles(user, case, among)
    if user is None or not getattr(user, "id", None):
        return own, {}
    wanted = set(registry.roles()) if among is None else set(among)
    return own, acting_for(user, case, (wanted & set(delegable_roles())) - own)


def case_zone(case: Case) -> str:
    campaign = case.campaign
    if campaign is not None and campaign.institution is not None:
        return campaign.institution.timezone or DEFAULT_ZONE
    cohort = case.cohort
    if cohort is not None and cohort.program is not None and cohort.program.institution:
        return cohort.program.institution.timezone or DEFAULT_ZONE
    return DEFAULT_ZONE


def _principal_terms(case: Case, roles: set[str]) -> list:
    """SQL conditions on Delegation: its principal holds its role on `case` in their own
    right. Subqueries rather than lookups, so acting_for() stays one query whatever roles."""
    terms = []
    for role, pid in (("mentor", case.mentor_id), ("executive", case.executive_id)):
        if role in roles and pid is not None:
            terms.append(and_(Delegation.role == role, Delegation.principal_id == pid))
    for role in ("coach", "examiner", "organizer"):
        if role not in roles:
            continue
        members = select(CohortMember.user_id).where(
            CohortMember.cohort_id == case.cohort_id, CohortMember.role == role
        )
        held = [Delegation.principal_id.in_(members)]
        if role != "organizer" and case.group_id is not None:
            column = Group.coach_id if role == "coach" else Group.examiner_id
            held.append(
                Delegation.principal_id.in_(select(column).where(Group.id == case.group_id))
            )
        terms.append(and_(Delegation.role == role, or_(*held)))
    for role in roles - set(ROLES):
        if registry.role_assignment(role) == "case":
            holders = select(CaseAssignment.user_id).where(
                CaseAssignment.case_id == case.id, CaseAssignment.role == role
            )
        else:
            code = case.region_code or ""
            holders = select(CampaignMember.user_id).where(
                CampaignMember.campaign_id == case.campaign_id,
                CampaignMember.role == role,
                inside_member_region(code),
            )
        terms.append(and_(Delegation.role == role, Delegation.principal_id.in_(holders)))
    return terms


def acting_for(user: User, case: Case, roles: set[str], on: date | None = None) -> dict[str, int]:
    """{role: principal id} for each of `roles` that `user` holds on `case` through a
    delegation active on `on` (default: today in the case's institution's zone). One query."""
    from .extensions import db

    terms = _principal_terms(case, set(roles) & set(delegable_roles()))
    if not terms or case.trainee_id == user.id:
        return {}
    day = on or _local_today(case_zone(case))
    rows = db.session.execute(
        select(Delegation.role, Delegation.principal_id)
        .where(
            Delegation.delegate_id == user.id,
            Delegation.principal_id != user.id,
            Delegation.revoked_at.is_(None),
            Delegation.starts_on <= day,
            Delegation.ends_on >= day,
            or_(*terms),
        )
        .order_by(Delegation.id.desc())
    ).all()
    # Of two delegations in one role (the group's coach and a cohort coach), the newest.
    return {row.role: row.principal_id for row in reversed(rows)}


def _own_roles(user: User | None, case: Case, among: set[str] | None = None) -> set[str]:
    if user is None or not getattr(user, "id", None):
        return set()
    wanted = set(registry.roles()) if among is None else set(among)
    roles = set()
    declared = wanted - set(ROLES)
    if declared:
        roles |= _own_declared_roles(user, case, declared)
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
    if wanted & set(CohortMember.ROLES) and case.cohort_id is not None:
        cohort_roles = CohortMember.query.filter_by(cohort_id=case.cohort_id, user_id=user.id).all()
        roles.update(m.role for m in cohort_roles)
    return roles if among is None else roles & wanted


def _own_declared_roles(user: User, case: Case, roles: set[str]) -> set[str]:
    """The declared roles of `roles` that `user` holds on `case`: one query each kind."""
    from .extensions import db

    found: set[str] = set()
    by_case = [r for r in roles if registry.role_assignment(r) == "case"]
    by_region = [r for r in roles if registry.role_assignment(r) == "region"]
    if by_case and case.id is not None:
        found.update(
            db.session.scalars(
                select(CaseAssignment.role).where(
                    CaseAssignment.case_id == case.id,
                    CaseAssignment.user_id == user.id,
                    CaseAssignment.role.in_(by_case),
                )
            )
        )
    if by_region and case.campaign_id is not None and case.region_code:
        code = case.region_code
        found.update(
            db.session.scalars(
                select(CampaignMember.role).where(
                    CampaignMember.campaign_id == case.campaign_id,
                    CampaignMember.user_id == user.id,
                    CampaignMember.role.in_(by_region),
                    inside_member_region(code),
                )
            )
        )
    return found


def get_case_for(user: User, case_id: int) -> Case | None:
    """Load a case through the scoped query: None when it is not this user's to see."""
    from .extensions import db

    return db.session.scalar(cases_visible_to(user).where(Case.id == case_id))
