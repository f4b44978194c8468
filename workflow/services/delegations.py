"""Acting officials (Plt./Plh./Pj.): one who acts on cases (mentor, executive, coach,
examiner, organizer, and a definition's declared delegable roles such as the camat) lends
their authority to another user for a date range, by a decree (SK) with its number and
date. permissions.py grants the role; perform() records on_behalf_of."""

from __future__ import annotations

from datetime import date, timedelta

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, exists, false, not_, or_, select, union
from sqlalchemy.orm import joinedload

from ..engine import registry
from ..extensions import db
from ..models import (
    Campaign,
    CampaignMember,
    Case,
    CaseAssignment,
    CohortMember,
    Delegation,
    Group,
    User,
)
from ..models._base import utcnow
from ..permissions import (
    DEFAULT_ZONE,
    DELEGABLE,
    case_zone,
    delegable_roles,
    held_by,
    is_institution_admin,
)
from ..permissions import ROLE_LABELS as CASE_ROLE_LABELS
from .calendar import local_date
from .dashboards import terminal_clause
from .errors import Blocked, Forbidden, NotAvailable

KINDS = ("plt", "plh", "pj")
KIND_LABELS = {
    "plt": _l("Plt. (acting official)"),
    "plh": _l("Plh. (daily acting official)"),
    "pj": _l("Pj. (interim official)"),
}
KIND_ABBREVIATIONS = {"plt": "Plt.", "plh": "Plh.", "pj": "Pj."}
# A Plt. or a Pj. is appointed by a decree; a Plh. often by a letter of assignment only.
SK_REQUIRED = ("plt", "pj")
ROLE_LABELS = {role: CASE_ROLE_LABELS[role] for role in DELEGABLE}


def role_label(role: str, lang: str | None = None) -> str:
    """A delegable role's name: the built-in label, or the one its definition declares."""
    if role in ROLE_LABELS:
        return str(ROLE_LABELS[role])
    lang = lang or str(get_locale() or "id")
    for definition in registry.all():
        if role in definition.role_keys:
            own = definition.role_label(role, lang)
            if own:
                return own
    return role


def role_labels() -> dict[str, str]:
    """Every role an acting official may hold, with its name in the current language."""
    return {role: role_label(role) for role in delegable_roles()}


def _declared(role: str) -> bool:
    return role not in DELEGABLE and registry.role_assignment(role) is not None


REASON_MAX = 1000
SK_NUMBER_MAX = 100
MAX_DAYS = 366
# A decree is dated when signed: one dated more than this after today is a typing error.
SK_AHEAD_DAYS = 31

INVALID = _l("Some fields need your attention.")


def zone_of(user: User | None) -> str:
    institution = getattr(user, "institution", None)
    return institution.timezone if institution is not None else DEFAULT_ZONE


def today_for(user: User | None) -> date:
    """Today in the user's institution's zone (Asia/Jakarta when they have none)."""
    return local_date(utcnow(), zone_of(user))


def _holders(role: str, cohorts) -> list:
    """Subqueries of the ids of those who hold `role` in their own right in `cohorts` (a
    subquery of cohort ids): on a case, in a group, or cohort-wide."""
    if role in ("mentor", "executive"):
        column = Case.mentor_id if role == "mentor" else Case.executive_id
        return [select(column).where(Case.cohort_id.in_(cohorts))]
    members = select(CohortMember.user_id).where(
        CohortMember.cohort_id.in_(cohorts), CohortMember.role == role
    )
    if role in ("coach", "examiner"):
        column = Group.coach_id if role == "coach" else Group.examiner_id
        return [select(column).where(Group.cohort_id.in_(cohorts)), members]
    return [members]


def _declared_holders(role: str, campaigns) -> list:
    """Subqueries of the ids of those who hold the declared `role` in `campaigns` (a
    subquery of campaign ids): campaign members over a region, or named on a case."""
    if registry.role_assignment(role) == "case":
        return [
            select(CaseAssignment.user_id)
            .join(Case, Case.id == CaseAssignment.case_id)
            .where(CaseAssignment.role == role, Case.campaign_id.in_(campaigns))
        ]
    return [
        select(CampaignMember.user_id).where(
            CampaignMember.role == role, CampaignMember.campaign_id.in_(campaigns)
        )
    ]


def _admin_campaigns(user: User):
    """Subquery: the campaigns whose people an institution admin may set acting officials
    for (their institution's); none for anybody else."""
    if not is_institution_admin(user):
        return select(Campaign.id).where(false())
    return select(Campaign.id).where(Campaign.institution_id == user.institution_id)


def _organized_cohorts(organizer: User):
    return select(CohortMember.cohort_id).where(
        CohortMember.user_id == organizer.id, CohortMember.role == "organizer"
    )


def holds_role(user: User, role: str) -> bool:
    """The user holds `role` in their own right somewhere: on a case (mentor, executive),
    in a group (coach, examiner), as a cohort's member (coach, examiner, organizer), or a
    declared role as a campaign member or named on a case."""
    if _declared(role):
        if registry.role_assignment(role) == "case":
            held = exists().where(CaseAssignment.user_id == user.id, CaseAssignment.role == role)
        else:
            held = exists().where(CampaignMember.user_id == user.id, CampaignMember.role == role)
        return bool(db.session.scalar(select(held)))
    if role in ("mentor", "executive"):
        column = Case.mentor_id if role == "mentor" else Case.executive_id
        return bool(db.session.scalar(select(exists().where(column == user.id))))
    member = exists().where(CohortMember.user_id == user.id, CohortMember.role == role)
    if role in ("coach", "examiner"):
        column = Group.coach_id if role == "coach" else Group.examiner_id
        member = or_(member, exists().where(column == user.id))
    return bool(db.session.scalar(select(member)))


def organizes_principal(organizer: User, principal: User, role: str) -> bool:
    """`organizer` runs a cohort in which `principal` holds `role` (or, for a declared role,
    is the admin of the institution whose campaign gives it)."""
    if _declared(role):
        holders = _declared_holders(role, _admin_campaigns(organizer))
        held = or_(*[User.id.in_(q) for q in holders])
        return bool(db.session.scalar(select(exists().where(User.id == principal.id, held))))
    cohorts = _organized_cohorts(organizer)
    held = or_(*[User.id.in_(q) for q in _holders(role, cohorts)])
    return bool(db.session.scalar(select(exists().where(User.id == principal.id, held))))


def principals_organized_by(organizer: User) -> list[tuple[User, str]]:
    """(person, role) pairs an organizer may set a delegation for, by name."""
    cohorts = _organized_cohorts(organizer)
    pairs: list[tuple[User, str]] = []
    for role in DELEGABLE:
        people = db.session.scalars(
            select(User)
            .where(or_(*[User.id.in_(q) for q in _holders(role, cohorts)]))
            .order_by(User.name)
        ).all()
        pairs.extend((p, role) for p in people)
    declared = [r for r in delegable_roles() if _declared(r)]
    if declared and is_institution_admin(organizer):
        campaigns = _admin_campaigns(organizer)
        for role in declared:
            people = db.session.scalars(
                select(User)
                .where(or_(*[User.id.in_(q) for q in _declared_holders(role, campaigns)]))
                .order_by(User.name)
            ).all()
            pairs.extend((p, role) for p in people)
    return sorted(pairs, key=lambda pair: (pair[0].name, pair[1]))


def is_organizer(user: User) -> bool:
    return bool(
        db.session.scalar(
            select(
                exists().where(CohortMember.user_id == user.id, CohortMember.role == "organizer")
            )
        )
    )


def parse_day(value) -> date | None:
    """A date from a date or an ISO string; None when absent or not a date."""
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _encodable(text: str) -> bool:
    """False for lone surrogates (possible in JSON), which no database column stores."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def find_user(username: str | None) -> User | None:
    username = (username or "").strip()
    if not username:
        return None
    return db.session.scalar(select(User).where(User.username == username))


def _text_problem(text: str, limit: int, too_long) -> str | None:
    if len(text) > limit:
        return str(too_long)
    if "\x00" in text or not _encodable(text):
        return str(_l("This field contains characters that are not allowed."))
    return None


def _trainee_of_principal(delegate: User, principal: User, role: str) -> bool:
    """The delegate is the trainee of a case on which the principal holds `role`: a mentor
    making their own trainee their Plh. would let the trainee approve themselves."""
    return bool(
        db.session.scalar(
            select(exists().where(Case.trainee_id == delegate.id, held_by(role, [principal.id])))
        )
    )


def _cohorts_where(principal: User, role: str):
    """Subquery: the cohorts in which `principal` holds `role` in their own right."""
    if role in ("mentor", "executive"):
        column = Case.mentor_id if role == "mentor" else Case.executive_id
        return select(Case.cohort_id).where(column == principal.id)
    members = select(CohortMember.cohort_id).where(
        CohortMember.user_id == principal.id, CohortMember.role == role
    )
    if role in ("coach", "examiner"):
        column = Group.coach_id if role == "coach" else Group.examiner_id
        return union(select(Group.cohort_id).where(column == principal.id), members)
    return members


def _trainee_among_principals_cases(delegate: User, principal: User, role: str) -> bool:
    """The delegate is still in training (a case not finished) in a cohort where the principal
    holds `role`: as the acting official they would approve or score their classmates."""
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    Case.trainee_id == delegate.id,
                    Case.cohort_id.in_(_cohorts_where(principal, role)),
                    not_(terminal_clause()),
                )
            )
        )
    )


def _not_of_the_office(delegate: User, principal: User, role: str) -> str | None:
    """Why `delegate` cannot hold `principal`'s office of `role`, or None. An acting official
    must be one who may hold that office over these cases: never a trainee under it."""
    if _trainee_of_principal(delegate, principal, role):
        return str(
            _l(
                "%(name)s is a trainee whose %(role)s is %(principal)s, and cannot act for them.",
                name=delegate.name,
                role=role_label(role),
                principal=principal.name,
            )
        )
    if _trainee_among_principals_cases(delegate, principal, role):
        return str(
            _l(
                "%(name)s is a trainee in a cohort where %(principal)s is %(role)s, and "
                "cannot act for them while their own change action is in progress.",
                name=delegate.name,
                role=role_label(role),
                principal=principal.name,
            )
        )
    return None


def create_delegation(
    principal: User | None,
    delegate: User | None,
    role: str,
    kind: str,
    starts_on,
    ends_on,
    reason: str | None,
    created_by: User,
    *,
    sk_number: str | None = None,
    sk_date=None,
) -> Delegation:
    """Let `delegate` act as `principal`'s `role` from `starts_on` to `ends_on` (inclusive),
    as Plt., Plh. or Pj. under a decree (SK number and date: required for Plt. and Pj.).

    The principal may delegate a role they hold; an organizer may do it for a principal who
    holds that role in one of their cohorts. A refusal writes nothing: Blocked carries a
    message per field, Forbidden when the creator has no say over the principal.
    """
    fields: dict[str, str] = {}
    if role not in delegable_roles():
        fields["role"] = str(
            _l(
                "Choose a role: %(roles)s.",
                roles=", ".join(role_label(r) for r in delegable_roles()),
            )
        )
    if kind not in KINDS:
        fields["kind"] = str(_l("Choose Plt., Plh. or Pj."))
    if principal is None:
        fields["principal"] = str(_l("Choose the person to act for."))
    if delegate is None or not delegate.active:
        fields["delegate"] = str(_l("There is no active user with this username."))
    elif principal is not None and delegate.id == principal.id:
        fields["delegate"] = str(_l("A person cannot act for themselves."))
    elif principal is not None and "role" not in fields:
        problem = _not_of_the_office(delegate, principal, role)
        if problem:
            fields["delegate"] = problem
    start, end = parse_day(starts_on), parse_day(ends_on)
    if start is None:
        fields["starts_on"] = str(_l("Enter the first day as a date (YYYY-MM-DD)."))
    if end is None:
        fields["ends_on"] = str(_l("Enter the last day as a date (YYYY-MM-DD)."))
    today = today_for(principal or created_by)
    if start and end:
        if end < start:
            fields["ends_on"] = str(_l("The last day must not be before the first day."))
        elif end < today:
            fields["ends_on"] = str(_l("The last day must not be in the past."))
        elif (end - start).days + 1 > MAX_DAYS:
            fields["ends_on"] = str(
                _l("A delegation lasts at most %(days)d days; make a new one after.", days=MAX_DAYS)
            )
    reason = (reason or "").strip()
    problem = _text_problem(
        reason, REASON_MAX, _l("The reason is too long (at most %(n)d characters).", n=REASON_MAX)
    )
    if problem:
        fields["reason"] = problem

    sk_number = " ".join((sk_number or "").split())
    sk_text = sk_date.isoformat() if isinstance(sk_date, date) else (sk_date or "").strip()
    sk_day = parse_day(sk_text) if sk_text else None
    problem = _text_problem(
        sk_number,
        SK_NUMBER_MAX,
        _l("The decree number is too long (at most %(n)d characters).", n=SK_NUMBER_MAX),
    )
    needs_sk = kind in SK_REQUIRED
    abbreviation = KIND_ABBREVIATIONS.get(kind, "")
    if problem:
        fields["sk_number"] = problem
    elif needs_sk and not sk_number:
        fields["sk_number"] = str(
            _l("A %(kind)s is appointed by a decree: enter its number.", kind=abbreviation)
        )
    if sk_text and sk_day is None:
        fields["sk_date"] = str(_l("Enter the decree's date as a date (YYYY-MM-DD)."))
    elif needs_sk and sk_day is None:
        fields["sk_date"] = str(
            _l("A %(kind)s is appointed by a decree: enter its date.", kind=abbreviation)
        )
    elif sk_day is not None and end is not None and "ends_on" not in fields and sk_day > end:
        fields["sk_date"] = str(
            _l("The decree cannot be dated after the last day of the acting period.")
        )
    elif sk_day is not None and sk_day > today + timedelta(days=SK_AHEAD_DAYS):
        fields["sk_date"] = str(
            _l("The decree's date is too far in the future; a decree is dated when signed.")
        )

    if principal is not None and "role" not in fields:
        if created_by.id == principal.id:
            if not holds_role(principal, role):
                fields["role"] = str(
                    _l("You do not hold the role %(role)s anywhere.", role=role_label(role))
                )
        elif not organizes_principal(created_by, principal, role):
            raise Forbidden(_l("You may not set a delegation for this person in this role."))

    if not fields and principal is not None:
        clash = db.session.scalar(
            select(Delegation).where(
                Delegation.principal_id == principal.id,
                Delegation.role == role,
                Delegation.revoked_at.is_(None),
                Delegation.starts_on <= end,
                Delegation.ends_on >= start,
            )
        )
        if clash is not None:
            fields["starts_on"] = str(
                _l(
                    "%(name)s already acts in this role from %(start)s to %(end)s; "
                    "revoke that delegation first.",
                    name=clash.delegate.name,
                    start=clash.starts_on.isoformat(),
                    end=clash.ends_on.isoformat(),
                )
            )
    if fields:
        raise Blocked(INVALID, list(fields.values()), fields)

    delegation = Delegation(
        principal_id=principal.id,
        delegate_id=delegate.id,
        role=role,
        kind=kind,
        starts_on=start,
        ends_on=end,
        reason=reason,
        sk_number=sk_number,
        sk_date=sk_day,
        created_by_id=created_by.id,
    )
    db.session.add(delegation)
    db.session.commit()
    return delegation


def can_manage(user: User, delegation: Delegation) -> bool:
    """The principal, whoever created it, and the organizers over the principal."""
    if user.id in (delegation.principal_id, delegation.created_by_id):
        return True
    return organizes_principal(user, delegation.principal, delegation.role)


def revoke_delegation(delegation: Delegation, by: User) -> Delegation:
    """End a delegation now. The delegate loses the role at once."""
    if not can_manage(by, delegation):
        raise Forbidden(_l("You may not revoke this delegation."))
    if delegation.revoked_at is not None:
        raise NotAvailable(_l("This delegation has already been revoked."))
    delegation.revoked_at = utcnow()
    db.session.commit()
    return delegation


def active_delegations(user: User, on: date | None = None) -> list[Delegation]:
    """Delegations `user` acts under on `on` (default: today in their institution's zone)."""
    day = on or today_for(user)
    return list(
        db.session.scalars(
            select(Delegation)
            .where(
                Delegation.delegate_id == user.id,
                Delegation.revoked_at.is_(None),
                Delegation.starts_on <= day,
                Delegation.ends_on >= day,
            )
            .options(joinedload(Delegation.principal))
            .order_by(Delegation.ends_on, Delegation.id)
        )
    )


def delegations_visible_to(user: User) -> Select:
    """Given by the user, received, created by them, or over principals they organize."""
    cohorts = select(CohortMember.cohort_id).where(
        CohortMember.user_id == user.id, CohortMember.role == "organizer"
    )
    organized = [
        and_(
            Delegation.role == role,
            or_(*[Delegation.principal_id.in_(q) for q in _holders(role, cohorts)]),
        )
        for role in DELEGABLE
    ]
    if is_institution_admin(user):
        campaigns = _admin_campaigns(user)
        organized += [
            and_(
                Delegation.role == role,
                or_(*[Delegation.principal_id.in_(q) for q in _declared_holders(role, campaigns)]),
            )
            for role in delegable_roles()
            if _declared(role)
        ]
    return select(Delegation).where(
        or_(
            Delegation.principal_id == user.id,
            Delegation.delegate_id == user.id,
            Delegation.created_by_id == user.id,
            *organized,
        )
    )


def get_delegation_for(user: User, delegation_id: int) -> Delegation | None:
    return db.session.scalar(delegations_visible_to(user).where(Delegation.id == delegation_id))


def status_of(delegation: Delegation, today: date) -> str:
    if delegation.revoked_at is not None:
        return "revoked"
    if today < delegation.starts_on:
        return "upcoming"
    if today > delegation.ends_on:
        return "ended"
    return "active"


STATUS_LABELS = {
    "revoked": _l("Revoked"),
    "upcoming": _l("Upcoming"),
    "ended": _l("Ended"),
    "active": _l("Active"),
}


def candidates_for(user: User, limit: int = 200) -> list[User]:
    """Active users of the same institution or agency: suggestions for the delegate."""
    clauses = []
    if user.institution_id is not None:
        clauses.append(User.institution_id == user.institution_id)
    if user.agency_id is not None:
        clauses.append(User.agency_id == user.agency_id)
    if not clauses:
        return []
    return list(
        db.session.scalars(
            select(User)
            .where(or_(*clauses), User.active.is_(True), User.id != user.id)
            .order_by(User.name)
            .limit(limit)
        )
    )


def delegation_of_event(event, case: Case) -> Delegation | None:
    """The delegation an event was taken under (None when the actor acted in their own
    right). Looked up by who, for whom and when, as the event stores only the principal."""
    if event.on_behalf_of_id is None or event.actor_id is None:
        return None
    day = local_date(event.created_at, case_zone(case))
    candidates = db.session.scalars(
        select(Delegation)
        .where(
            Delegation.delegate_id == event.actor_id,
            Delegation.principal_id == event.on_behalf_of_id,
            Delegation.starts_on <= day,
            Delegation.ends_on >= day,
        )
        .order_by(Delegation.id.desc())
    ).all()
    for d in candidates:
        if d.revoked_at is None or d.revoked_at > event.created_at:
            return d
    return None


def acting_abbreviation(event, case: Case) -> str:
    """The abbreviation (Plt., Plh. or Pj.) for an event taken on someone's behalf, else empty."""
    delegation = delegation_of_event(event, case)
    return KIND_ABBREVIATIONS[delegation.kind] if delegation is not None else ""
