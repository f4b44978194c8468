"""Acting officials (Plt./Plh.): a mentor or executive lends their authority to another
user for a date range. permissions.py grants the role; perform() records on_behalf_of."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import Case, CohortMember, Delegation, User
from ..models._base import utcnow
from ..permissions import DEFAULT_ZONE, case_zone
from ..permissions import ROLE_LABELS as CASE_ROLE_LABELS
from .calendar import local_date
from .errors import Blocked, Forbidden, NotAvailable

KIND_LABELS = {"plt": _l("Plt. (acting official)"), "plh": _l("Plh. (daily acting official)")}
KIND_ABBREVIATIONS = {"plt": "Plt.", "plh": "Plh."}
ROLE_LABELS = {role: CASE_ROLE_LABELS[role] for role in ("mentor", "executive")}
REASON_MAX = 1000
MAX_DAYS = 366

INVALID = _l("Some fields need your attention.")


def zone_of(user: User | None) -> str:
    institution = getattr(user, "institution", None)
    return institution.timezone if institution is not None else DEFAULT_ZONE


def today_for(user: User | None) -> date:
    """Today in the user's institution's zone (Asia/Jakarta when they have none)."""
    return local_date(utcnow(), zone_of(user))


def _role_column(role: str):
    return Case.mentor_id if role == "mentor" else Case.executive_id


def holds_role(user: User, role: str) -> bool:
    """The user is the mentor or executive of at least one case in their own right."""
    return bool(db.session.scalar(select(exists().where(_role_column(role) == user.id))))


def organizes_principal(organizer: User, principal: User, role: str) -> bool:
    """`organizer` runs a cohort in which `principal` is `role` of some case."""
    cohorts = select(CohortMember.cohort_id).where(
        CohortMember.user_id == organizer.id, CohortMember.role == "organizer"
    )
    return bool(
        db.session.scalar(
            select(exists().where(Case.cohort_id.in_(cohorts), _role_column(role) == principal.id))
        )
    )


def principals_organized_by(organizer: User) -> list[tuple[User, str]]:
    """(person, role) pairs an organizer may set a delegation for, by name."""
    cohorts = select(CohortMember.cohort_id).where(
        CohortMember.user_id == organizer.id, CohortMember.role == "organizer"
    )
    pairs: list[tuple[User, str]] = []
    for role in Delegation.ROLES:
        column = _role_column(role)
        people = db.session.scalars(
            select(User)
            .where(User.id.in_(select(column).where(Case.cohort_id.in_(cohorts))))
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


def create_delegation(
    principal: User | None,
    delegate: User | None,
    role: str,
    kind: str,
    starts_on,
    ends_on,
    reason: str | None,
    created_by: User,
) -> Delegation:
    """Let `delegate` act as `principal`'s `role` from `starts_on` to `ends_on` (inclusive).

    The principal may delegate a role they hold on some case; an organizer may do it for a
    principal who holds that role in one of their cohorts. A refusal writes nothing: Blocked
    carries a message per field, Forbidden when the creator has no say over the principal.
    """
    fields: dict[str, str] = {}
    if role not in Delegation.ROLES:
        fields["role"] = str(_l("Choose mentor or executive."))
    if kind not in Delegation.KINDS:
        fields["kind"] = str(_l("Choose Plt. or Plh."))
    if principal is None:
        fields["principal"] = str(_l("Choose the person to act for."))
    if delegate is None or not delegate.active:
        fields["delegate"] = str(_l("There is no active user with this username."))
    elif principal is not None and delegate.id == principal.id:
        fields["delegate"] = str(_l("A person cannot act for themselves."))
    start, end = parse_day(starts_on), parse_day(ends_on)
    if start is None:
        fields["starts_on"] = str(_l("Enter the first day as a date (YYYY-MM-DD)."))
    if end is None:
        fields["ends_on"] = str(_l("Enter the last day as a date (YYYY-MM-DD)."))
    if start and end:
        if end < start:
            fields["ends_on"] = str(_l("The last day must not be before the first day."))
        elif end < today_for(principal or created_by):
            fields["ends_on"] = str(_l("The last day must not be in the past."))
        elif (end - start).days + 1 > MAX_DAYS:
            fields["ends_on"] = str(
                _l("A delegation lasts at most %(days)d days; make a new one after.", days=MAX_DAYS)
            )
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX:
        fields["reason"] = str(
            _l("The reason is too long (at most %(n)d characters).", n=REASON_MAX)
        )
    if "\x00" in reason or not _encodable(reason):
        fields["reason"] = str(_l("The reason contains characters that are not allowed."))

    if principal is not None and "role" not in fields:
        if created_by.id == principal.id:
            if not holds_role(principal, role):
                fields["role"] = str(
                    _l("You are not the %(role)s of any case.", role=ROLE_LABELS[role])
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
    organized = or_(
        *[
            and_(
                Delegation.role == role,
                Delegation.principal_id.in_(
                    select(_role_column(role)).where(Case.cohort_id.in_(cohorts))
                ),
            )
            for role in Delegation.ROLES
        ]
    )
    return select(Delegation).where(
        or_(
            Delegation.principal_id == user.id,
            Delegation.delegate_id == user.id,
            Delegation.created_by_id == user.id,
            organized,
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
    """The abbreviation (Plt. or Plh.) for an event taken on someone's behalf, else empty."""
    delegation = delegation_of_event(event, case)
    return KIND_ABBREVIATIONS[delegation.kind] if delegation is not None else ""
