"""Campaigns over region units: launch (one case per unit, in one transaction), members and
case assignments, and oversight by region (per district counts, drill-down, bulk remind,
exports).

A campaign's units are the regions at its definition's `unit_level` inside its area, found
by code prefix (18.04 holds 18.04.11 and 18.04.11.2001). Every read here is a fixed number
of SQL statements whatever the number of units: counts are GROUP BY queries, names come
from one windowed query, never one query per unit.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from types import SimpleNamespace

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import aliased

from ..engine import registry
from ..engine.definitions import Definition
from ..extensions import db
from ..models import (
    AuditEvent,
    Campaign,
    CampaignMember,
    Case,
    CaseAssignment,
    Institution,
    Region,
    User,
)
from ..models._base import utcnow
from ..permissions import cases_visible_to, inside_member_region, is_institution_admin
from .audit import chain_event, event_hash
from .calendar import add_working_days, local_date
from .errors import Blocked, Forbidden, NotAvailable
from .workflow import CONFLICT, extra_days_off, versioned_write

NAME_MAX = 200
# Names listed in one message before "and n more".
NAMES_SHOWN = 5
INSERT_CHUNK = 1000  # rows per executemany batch (well inside SQLite's parameter limit)
# What a level's units are called in messages ("This area has no villages").
UNIT_NOUNS = {
    "province": _l("provinces"),
    "regency": _l("regencies or cities"),
    "district": _l("districts (kecamatan)"),
    "village": _l("villages (desa/kelurahan)"),
}
LAUNCHED = "launched"
ASSIGNED = "assigned"


# ---------------------------------------------------------------- helpers


def region_definitions() -> list[Definition]:
    """The newest version of each definition whose cases are region units."""
    latest: dict[str, Definition] = {}
    for d in registry.all():
        if d.subject != "region_unit":
            continue
        if d.key not in latest or d.version > latest[d.key].version:
            latest[d.key] = d
    return sorted(latest.values(), key=lambda d: d.key)


def definition_of_campaign(campaign: Campaign) -> Definition:
    return registry.get(campaign.definition_key, campaign.definition_version)


def inside(code: str, area_code: str) -> bool:
    """Is the region `code` the area itself or inside it (a code-prefix test)?"""
    return code == area_code or code.startswith(area_code + ".")


def _prefix_clause(column, code: str):
    """SQL: `column` holds `code` or a code inside it."""
    return or_(column == code, column.like(code + ".%"))


def _names(names: list[str], total: int | None = None) -> str:
    total = len(names) if total is None else total
    shown = ", ".join(names[:NAMES_SHOWN])
    if total > NAMES_SHOWN:
        shown += " " + str(_l("and %(n)d more", n=total - NAMES_SHOWN))
    return shown


def can_launch(user: User | None, institution: Institution | None) -> bool:
    return bool(
        user is not None
        and institution is not None
        and is_institution_admin(user)
        and user.institution_id == institution.id
    )


def institution_today(institution: Institution) -> date:
    return local_date(utcnow(), institution.timezone)


@dataclass
class Holder:
    """Who is to hold a region-assigned role, and over which region (by default the
    region their office serves)."""

    role: str
    user: User
    region: Region | None = None


# ---------------------------------------------------------------- launch


def _check_holders(
    definition: Definition, area: Region, holders: list[Holder], institution: Institution
) -> tuple[list[tuple[str, User, Region]], list[str]]:
    """(role, user, region) triples, deduplicated, and the problems found."""
    problems: list[str] = []
    found: dict[tuple[str, int, int], tuple[str, User, Region]] = {}
    for h in holders:
        spec = definition.role_spec(h.role)
        if spec is None:
            problems.append(str(_l("%(role)s is not a role of this flow.", role=h.role or "—")))
            continue
        role_name = spec.labels.get(_lang())
        if spec.assignment != "region":
            problems.append(
                str(
                    _l(
                        "%(role)s is named per case, not per region: assign it on each case.",
                        role=role_name,
                    )
                )
            )
            continue
        user = h.user
        if user is None or not user.active:
            problems.append(str(_l("%(role)s: the account is not active.", role=role_name)))
            continue
        if user.institution_id != institution.id:
            problems.append(
                str(
                    _l(
                        "%(name)s does not belong to %(institution)s.",
                        name=user.name,
                        institution=institution.name,
                    )
                )
            )
            continue
        region = h.region if h.region is not None else user.office_region
        if region is None or not region.code:
            problems.append(
                str(
                    _l(
                        "%(name)s (%(role)s) has no office region: choose the region they serve.",
                        name=user.name,
                        role=role_name,
                    )
                )
            )
            continue
        # A member may serve part of the area or a region that holds it (DPMP of the
        # regency over a campaign of one kecamatan); a region apart from it is a mistake.
        if not (inside(region.code, area.code) or inside(area.code, region.code)):
            problems.append(
                str(
                    _l(
                        "%(name)s (%(role)s): %(region)s is outside %(area)s.",
                        name=user.name,
                        role=role_name,
                        region=region.name,
                        area=area.name,
                    )
                )
            )
            continue
        found.setdefault((h.role, user.id, region.id), (h.role, user, region))
    return list(found.values()), problems


def _lang() -> str:
    from flask_babel import get_locale

    return str(get_locale() or "id")


def _uncovered(
    definition: Definition, units: list[tuple[int, str, str]], members: list[tuple]
) -> dict[str, list[str]]:
    """Per region-assigned role owning a state: the units nobody holds it over."""
    owning = []
    for s in definition.states:
        for role in s.owners:
            spec = definition.role_spec(role)
            if spec is not None and spec.assignment == "region" and role not in owning:
                owning.append(role)
    out: dict[str, list[str]] = {}
    for role in owning:
        codes = {region.code for r, _user, region in members if r == role}
        missing = []
        for _id, code, name in units:
            parts = code.split(".")
            if not any(".".join(parts[:i]) in codes for i in range(1, len(parts) + 1)):
                missing.append(name)
        if missing:
            out[role] = missing
    return out


def launch(
    institution: Institution,
    actor: User,
    definition_key: str,
    name: str,
    area_code: str,
    deadline: date | str | None,
    holders: list[Holder] | list[tuple],
    *,
    allow_unassigned: bool = False,
    today: date | None = None,
) -> Campaign:
    """A campaign over every unit of the definition's level inside the area, one case per
    unit (in its initial state, audited "launched"), and its members; all in one
    transaction. A refusal raises Blocked with a message per field and writes nothing.

    Units nobody holds an owner role over (no operator for a pekon yet) are refused unless
    `allow_unassigned`: a case nobody is asked to act on would only go quietly overdue, but
    an office launching before every account exists can say so and add the members later."""
    if not can_launch(actor, institution):
        raise Forbidden(_l("Only an administrator of the institution launches campaigns."))
    errors: dict[str, str] = {}
    definition = None
    try:
        definition = registry.latest((definition_key or "").strip())
    except LookupError:
        errors["definition"] = str(_l("Unknown flow %(key)s.", key=definition_key or "—"))
    if definition is not None and definition.subject != "region_unit":
        errors["definition"] = str(
            _l("%(flow)s is not a flow over region units.", flow=definition.labels.get(_lang()))
        )
        definition = None
    name = (name or "").strip()
    if not name:
        errors["name"] = str(_l("Give the campaign a name."))
    elif len(name) > NAME_MAX:
        errors["name"] = str(_l("The name is too long (at most %(n)d characters).", n=NAME_MAX))
    area_code = (area_code or "").strip()
    area = None
    if not area_code:
        errors["area"] = str(_l("Choose the area the campaign covers."))
    else:
        area = db.session.scalar(select(Region).where(Region.code == area_code))
        if area is None:
            errors["area"] = str(_l("There is no region with the code %(code)s.", code=area_code))
    if isinstance(deadline, str):
        try:
            deadline = date.fromisoformat(deadline.strip())
        except ValueError:
            errors["deadline"] = str(_l("The deadline must be a date (YYYY-MM-DD)."))
            deadline = None
    today = today or institution_today(institution)
    if deadline is None and "deadline" not in errors:
        errors["deadline"] = str(_l("Give the deadline."))
    elif deadline is not None and deadline < today:
        errors["deadline"] = str(_l("The deadline has passed: choose today or a later date."))
    units: list[tuple[int, str, str]] = []
    if definition is not None and area is not None:
        units = list(
            db.session.execute(
                select(Region.id, Region.code, Region.name)
                .where(
                    Region.level == definition.unit_level,
                    _prefix_clause(Region.code, area.code),
                )
                .order_by(Region.code)
            ).all()
        )
        if not units:
            errors["area"] = str(
                _l("This area has no %(units)s.", units=UNIT_NOUNS[definition.unit_level])
            )
    members: list[tuple[str, User, Region]] = []
    if definition is not None and area is not None:
        pairs = [h if isinstance(h, Holder) else Holder(*h) for h in holders or []]
        loaded = _load_offices(pairs)  # noqa: F841  (kept alive while checked)
        members, problems = _check_holders(definition, area, pairs, institution)
        if problems:
            errors["holders"] = " ".join(problems)
    if units:
        taken = _already_in_open_campaign(definition.key, [u[0] for u in units])
        if taken:
            errors["area"] = " ".join(
                str(_l("%(unit)s is already in the campaign %(campaign)s.", unit=u, campaign=c))
                for u, c in taken[:NAMES_SHOWN]
            )
            if len(taken) > NAMES_SHOWN:
                errors["area"] += " " + str(_l("And %(n)d more units.", n=len(taken) - NAMES_SHOWN))
    if units and not errors and not allow_unassigned:
        missing = _uncovered(definition, units, members)
        if missing:
            errors["holders"] = " ".join(
                str(
                    _l(
                        "No %(role)s for %(n)d units: %(names)s.",
                        role=definition.role_label(role, _lang()),
                        n=len(names),
                        names=_names(names),
                    )
                )
                for role, names in missing.items()
            )
    if errors:
        db.session.rollback()
        raise Blocked(_l("The campaign was not launched."), list(errors.values()), errors)
    return _write(institution, actor, definition, name, area, deadline, units, members)


def _load_offices(pairs: list[Holder]) -> list:
    """The holders and their office regions in a few queries, not one lazy load per person
    (the people may come expired from an earlier commit). The caller keeps the returned
    rows while it works: the session's identity map holds them only weakly."""
    kept: list = []
    ids = sorted(
        {
            sa_inspect(h.user).identity[0]
            for h in pairs
            if h.user is not None and sa_inspect(h.user).identity is not None
        }
    )
    offices: set[int] = set()
    for start in range(0, len(ids), INSERT_CHUNK):
        offices.update(
            r
            for r in db.session.scalars(
                select(User.office_region_id).where(User.id.in_(ids[start : start + INSERT_CHUNK]))
            )
            if r is not None
        )
        # Loading the rows refreshes the expired people in the identity map.
        kept += db.session.scalars(
            select(User).where(User.id.in_(ids[start : start + INSERT_CHUNK]))
        ).all()
    wanted = sorted(offices)
    for start in range(0, len(wanted), INSERT_CHUNK):
        kept += db.session.scalars(
            select(Region).where(Region.id.in_(wanted[start : start + INSERT_CHUNK]))
        ).all()
    return kept


def _already_in_open_campaign(key: str, unit_ids: list[int]) -> list[tuple[str, str]]:
    """(unit name, campaign name) of units already in an open campaign of the flow."""
    found = []
    for start in range(0, len(unit_ids), INSERT_CHUNK):
        chunk = unit_ids[start : start + INSERT_CHUNK]
        found += db.session.execute(
            select(Region.name, Campaign.name)
            .select_from(Case)
            .join(Campaign, Campaign.id == Case.campaign_id)
            .join(Region, Region.id == Case.region_id)
            .where(
                Campaign.definition_key == key,
                Campaign.closed_at.is_(None),
                Case.region_id.in_(chunk),
            )
            .order_by(Region.code)
        ).all()
    return [tuple(r) for r in found]


def _lock_definition(key: str) -> None:
    """PostgreSQL: one launch of a flow at a time, so two launches cannot both find a unit
    free (SQLite has one writer at a time anyway)."""
    if db.session.get_bind().dialect.name == "postgresql":
        digest = int.from_bytes(hashlib.sha256(f"campaign:{key}".encode()).digest()[:8], "big")
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": digest - (1 << 63)})


def _first_due(definition: Definition, campaign: Campaign, now: datetime) -> date | None:
    sla = definition.state(definition.initial).sla
    if sla is None:
        return None
    if sla.until:
        return campaign.phase_date(sla.until)
    institution = campaign.institution
    start = local_date(now, institution.timezone)
    return add_working_days(start, sla.working_days, extra_days_off(institution.id))


def _launch_hash(case_id: int, actor_id: int, initial: str, data: dict, at: datetime) -> str:
    """The audit hash of a case's first event, by audit.event_hash, from plain values: no
    ORM object per case for ten thousand of them."""
    return event_hash(
        SimpleNamespace(
            case_id=case_id,
            seq=1,
            actor_id=actor_id,
            on_behalf_of_id=None,
            trigger=LAUNCHED,
            from_state=None,
            to_state=initial,
            comment="",
            data=data,
            created_at=at,
            prev_hash="",
        )
    )


def _write(institution, actor, definition, name, area, deadline, units, members) -> Campaign:
    now = utcnow()
    cases_t, events_t = Case.__table__, AuditEvent.__table__
    try:
        _lock_definition(definition.key)
        # Looked at again under the lock: another launch may have taken a unit meanwhile.
        taken = _already_in_open_campaign(definition.key, [u[0] for u in units])
        if taken:
            message = str(
                _l(
                    "%(unit)s is already in the campaign %(campaign)s.",
                    unit=taken[0][0],
                    campaign=taken[0][1],
                )
            )
            raise Blocked(_l("The campaign was not launched."), [message], {"area": message})
        campaign = Campaign(
            institution=institution,
            name=name,
            definition_key=definition.key,
            definition_version=definition.version,
            region=area,
            deadline=deadline,
            created_by_id=actor.id,
            created_at=now,
        )
        db.session.add(campaign)
        db.session.flush()
        if members:
            db.session.execute(
                insert(CampaignMember),
                [
                    {
                        "campaign_id": campaign.id,
                        "role": role,
                        "user_id": user.id,
                        "region_id": region.id,
                        "region_code": region.code,
                    }
                    for role, user, region in members
                ],
            )
        due = _first_due(definition, campaign, now)
        # Core executemany: one INSERT per chunk, no ORM object per unit.
        rows = [
            {
                "campaign_id": campaign.id,
                "region_id": unit_id,
                "region_code": code,
                "definition_key": definition.key,
                "definition_version": definition.version,
                "state": definition.initial,
                "version": 1,
                "state_entered_at": now,
                "due_date": due,
                "audit_head": "",
                "event_count": 0,
                "created_at": now,
            }
            for unit_id, code, _name in units
        ]
        for start in range(0, len(rows), INSERT_CHUNK):
            db.session.execute(insert(cases_t), rows[start : start + INSERT_CHUNK])
        ids = db.session.execute(
            select(cases_t.c.id).where(cases_t.c.campaign_id == campaign.id)
        ).scalars()
        # Every case starts its audit trail with the launch, so each has a history.
        data = {"campaign_id": campaign.id}
        events = [
            {
                "case_id": cid,
                "seq": 1,
                "actor_id": actor.id,
                "on_behalf_of_id": None,
                "trigger": LAUNCHED,
                "from_state": None,
                "to_state": definition.initial,
                "comment": "",
                "data": data,
                "created_at": now,
                "prev_hash": "",
                "hash": _launch_hash(cid, actor.id, definition.initial, data, now),
            }
            for cid in ids
        ]
        for start in range(0, len(events), INSERT_CHUNK):
            db.session.execute(insert(events_t), events[start : start + INSERT_CHUNK])
        # The heads in one statement: each case's only event so far.
        first = (
            select(events_t.c.hash)
            .where(events_t.c.case_id == cases_t.c.id, events_t.c.seq == 1)
            .scalar_subquery()
        )
        db.session.execute(
            update(cases_t)
            .where(cases_t.c.campaign_id == campaign.id)
            .values(audit_head=first, event_count=1)
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return campaign


def close(campaign: Campaign, actor: User | None = None) -> Campaign:
    """Close a campaign: its units are free for another campaign of the flow; its cases
    stay as they are (and are no longer reminded)."""
    if actor is not None and not can_launch(actor, campaign.institution):
        raise Forbidden(_l("Only an administrator of the institution closes campaigns."))
    if campaign.closed_at is not None:
        raise NotAvailable(_l("This campaign is already closed."))
    campaign.closed_at = utcnow()
    db.session.commit()
    return campaign


# ---------------------------------------------------------------- members and assignments


def add_member(
    campaign: Campaign, actor: User, role: str, user: User | None, region_code: str | None
) -> CampaignMember:
    """One more holder of a region-assigned role (an operator whose account came late)."""
    if not can_launch(actor, campaign.institution):
        raise Forbidden(_l("Only an administrator of the institution changes the members."))
    if campaign.closed_at is not None:
        raise NotAvailable(_l("This campaign is closed."))
    definition = definition_of_campaign(campaign)
    errors: dict[str, str] = {}
    if user is None:
        errors["username"] = str(_l("No active account with that username."))
    region = None
    if region_code:
        region = db.session.scalar(select(Region).where(Region.code == region_code.strip()))
        if region is None:
            errors["region"] = str(
                _l("There is no region with the code %(code)s.", code=region_code)
            )
    if errors:
        raise Blocked(_l("The member was not added."), list(errors.values()), errors)
    members, problems = _check_holders(
        definition, campaign.region, [Holder(role, user, region)], campaign.institution
    )
    if problems:
        key = "role" if definition.role_spec(role) is None else "region"
        raise Blocked(_l("The member was not added."), problems, {key: " ".join(problems)})
    role, user, region = members[0]
    existing = db.session.scalar(
        select(CampaignMember).where(
            CampaignMember.campaign_id == campaign.id,
            CampaignMember.role == role,
            CampaignMember.user_id == user.id,
            CampaignMember.region_id == region.id,
        )
    )
    if existing is not None:
        return existing
    member = CampaignMember(
        campaign_id=campaign.id,
        role=role,
        user_id=user.id,
        region_id=region.id,
        region_code=region.code,
    )
    db.session.add(member)
    db.session.commit()
    return member


def assign(case: Case, actor: User, role: str, user: User | None) -> CaseAssignment:
    """Name a person for a case-assigned role of the case's flow; audited on the case."""
    from .workflow import definition_of

    campaign = case.campaign
    if campaign is None or not can_launch(actor, campaign.institution):
        raise Forbidden(_l("Only an administrator of the campaign's institution assigns roles."))
    definition = definition_of(case)
    spec = definition.role_spec(role)
    errors = {}
    if spec is None:
        errors["role"] = str(_l("%(role)s is not a role of this flow.", role=role or "—"))
    elif spec.assignment != "case":
        errors["role"] = str(
            _l(
                "%(role)s is held over a region: add a campaign member instead.",
                role=spec.labels.get(_lang()),
            )
        )
    if user is None or not user.active:
        errors["username"] = str(_l("No active account with that username."))
    if errors:
        raise Blocked(_l("Nobody was assigned."), list(errors.values()), errors)
    existing = db.session.scalar(
        select(CaseAssignment).where(
            CaseAssignment.case_id == case.id,
            CaseAssignment.role == role,
            CaseAssignment.user_id == user.id,
        )
    )
    if existing is not None:
        return existing
    now = utcnow()
    with versioned_write(CONFLICT):
        with db.session.no_autoflush:
            event = chain_event(
                case,
                AuditEvent(
                    actor_id=actor.id,
                    trigger=ASSIGNED,
                    from_state=case.state,
                    to_state=case.state,
                    data={"role": role, "user_id": user.id},
                    created_at=now,
                ),
            )
        # The versioned case UPDATE first, as perform() does.
        db.session.flush()
        assignment = CaseAssignment(case_id=case.id, role=role, user_id=user.id, created_at=now)
        db.session.add_all([event, assignment])
        db.session.flush()
    return assignment


# ---------------------------------------------------------------- who sees what


def campaigns_visible_to(user: User):
    """Select of the campaigns the user oversees or takes part in: the institution's (its
    admins), those where the user is a member, or holds a role on one of its cases."""
    clauses = [
        Campaign.id.in_(
            select(CampaignMember.campaign_id).where(CampaignMember.user_id == user.id)
        ),
        Campaign.id.in_(
            select(Case.campaign_id)
            .join(CaseAssignment, CaseAssignment.case_id == Case.id)
            .where(CaseAssignment.user_id == user.id)
        ),
    ]
    if is_institution_admin(user):
        clauses.append(Campaign.institution_id == user.institution_id)
    return select(Campaign).where(or_(*clauses))


def campaign_for(user: User, campaign_id: int) -> Campaign | None:
    return db.session.scalar(campaigns_visible_to(user).where(Campaign.id == campaign_id))


def _sees_all(user: User, campaign: Campaign) -> bool:
    """The institution's admin, or a member whose region holds the whole area, sees every
    unit: no per-case visibility test is needed (the common case, and the cheap one)."""
    if can_launch(user, campaign.institution):
        return True
    area = campaign.region.code
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    CampaignMember.campaign_id == campaign.id,
                    CampaignMember.user_id == user.id,
                    inside_member_region(area),
                )
            )
        )
    )


def _scope(user: User, campaign: Campaign, sees_all: bool | None = None):
    """SQL condition on Case: the campaign's cases this user may see."""
    own = Case.campaign_id == campaign.id
    if sees_all is None:
        sees_all = _sees_all(user, campaign)
    if sees_all:
        return own
    return and_(own, cases_visible_to(user).whereclause)


def roles_in(user: User, campaign: Campaign) -> set[str]:
    """The roles the user holds as a member of the campaign (anywhere in it)."""
    roles = set(
        db.session.scalars(
            select(CampaignMember.role).where(
                CampaignMember.campaign_id == campaign.id, CampaignMember.user_id == user.id
            )
        )
    )
    if can_launch(user, campaign.institution):
        roles.add("admin")
    return roles


# ---------------------------------------------------------------- oversight


@dataclass(frozen=True)
class Stage:
    """A column of the dashboard: units past a phase ("Filling in done")."""

    key: str
    index: int
    phase: object  # the phase's Labels

    def label(self, lang: str) -> str:
        from flask_babel import force_locale, gettext

        with force_locale(lang):
            return gettext("%(phase)s done", phase=self.phase.get(lang))


def stages(definition: Definition) -> list[Stage]:
    """One column per phase boundary: units whose state lies in a later phase. For the
    profil pekon: filling done (sent), verification done, validation done. A returned unit
    is back in the first phase: not counted as sent until it is sent again."""
    phases = [p.key for p in definition.phases]
    used = sorted({phases.index(s.phase) for s in definition.states})
    return [Stage(definition.phases[i].key, i, definition.phases[i].labels) for i in used[:-1]]


def _rank(definition: Definition) -> dict[str, int]:
    phases = [p.key for p in definition.phases]
    return {s.key: phases.index(s.phase) for s in definition.states}


@dataclass
class DistrictRow:
    """One group of units (the kecamatan of a pekon campaign) and where its units stand."""

    id: int | None
    code: str
    name: str
    total: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    passed: list[int] = field(default_factory=list)  # per stage
    overdue: int = 0
    overdue_names: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.passed[-1] if self.passed else 0

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.done == self.total

    def percent(self, i: int) -> int:
        return round(100 * self.passed[i] / self.total) if self.total else 0


@dataclass
class Summary:
    campaign: Campaign
    definition: Definition
    stages: list[Stage]
    rows: list[DistrictRow]
    total: DistrictRow
    today: date

    @property
    def districts_done(self) -> int:
        return sum(1 for r in self.rows if r.complete)

    @property
    def districts_left(self) -> list[str]:
        return [r.name for r in self.rows if not r.complete]


SORTS = ("name", "code", "total", "overdue", "stage0", "stage1", "stage2", "stage3")
SHOWS = ("all", "open", "done", "overdue")


def summary(
    campaign: Campaign,
    user: User,
    *,
    sort: str = "name",
    descending: bool = False,
    show: str = "all",
    today: date | None = None,
) -> Summary:
    """Per group of units (the unit's parent region: the kecamatan of a pekon), how many
    units there are, how many are past each phase, the overdue ones by name. Two queries
    for the numbers whatever the number of units."""
    definition = definition_of_campaign(campaign)
    today = today or institution_today(campaign.institution)
    scope = _scope(user, campaign)
    unit, parent = aliased(Region), aliased(Region)
    open_states = [s.key for s in definition.states if not s.terminal]
    late = and_(Case.due_date < today, Case.state.in_(open_states))
    counts = db.session.execute(
        select(
            parent.id,
            parent.code,
            parent.name,
            Case.state,
            func.count(Case.id),
            func.sum(case((late, 1), else_=0)),
        )
        .select_from(Case)
        .join(unit, unit.id == Case.region_id)
        .outerjoin(parent, parent.id == unit.parent_id)
        .where(scope)
        .group_by(parent.id, parent.code, parent.name, Case.state)
    ).all()
    ranks = _rank(definition)
    cols = stages(definition)
    rows: dict[int | None, DistrictRow] = {}
    total = DistrictRow(None, "", "", passed=[0] * len(cols))
    for pid, code, name, state, n, n_late in counts:
        row = rows.get(pid)
        if row is None:
            row = rows[pid] = DistrictRow(pid, code or "", name or "—", passed=[0] * len(cols))
        for target in (row, total):
            target.total += n
            target.by_state[state] = target.by_state.get(state, 0) + n
            target.overdue += int(n_late or 0)
            for i, st in enumerate(cols):
                if ranks.get(state, 0) > st.index:
                    target.passed[i] += n
    # Asked even when nothing is late, so the statements do not depend on the data.
    _name_overdue(rows, scope, late, unit)
    listed = [r for r in rows.values() if _shown(r, show)]
    listed.sort(key=_sort_key(sort), reverse=descending)
    return Summary(campaign, definition, cols, listed, total, today)


def _name_overdue(rows: dict, scope, late, unit) -> None:
    """The first overdue units of each group by name, and no more: one windowed query."""
    numbered = (
        select(
            unit.parent_id.label("pid"),
            unit.name.label("name"),
            func.row_number()
            .over(partition_by=unit.parent_id, order_by=(unit.name, unit.code))
            .label("n"),
        )
        .select_from(Case)
        .join(unit, unit.id == Case.region_id)
        .where(scope, late)
        .subquery()
    )
    for pid, name in db.session.execute(
        select(numbered.c.pid, numbered.c.name)
        .where(numbered.c.n <= NAMES_SHOWN)
        .order_by(numbered.c.pid, numbered.c.n)
    ):
        if pid in rows:
            rows[pid].overdue_names.append(name)


def _shown(row: DistrictRow, show: str) -> bool:
    if show == "open":
        return not row.complete
    if show == "done":
        return row.complete
    if show == "overdue":
        return row.overdue > 0
    return True


def _sort_key(sort: str):
    if sort == "code":
        return lambda r: r.code
    if sort == "total":
        return lambda r: (r.total, r.name.lower())
    if sort == "overdue":
        return lambda r: (r.overdue, r.name.lower())
    if sort.startswith("stage") and sort[5:].isdigit():
        i = int(sort[5:])
        return lambda r: (r.percent(i) if i < len(r.passed) else 0, r.name.lower())
    return lambda r: (r.name.lower(), r.code)


@dataclass
class UnitRow:
    case_id: int
    code: str
    name: str
    district: str
    state: str
    state_label_id: str
    state_label_en: str
    due_date: date | None
    overdue: bool
    owners: list[str]
    version: int

    def state_label(self, lang: str) -> str:
        return self.state_label_en if lang == "en" else self.state_label_id


def district_of(campaign: Campaign, code: str) -> Region | None:
    """A group of units of the campaign (a kecamatan inside its area), by code."""
    if not inside(code, campaign.region.code) and not inside(campaign.region.code, code):
        return None
    return db.session.scalar(select(Region).where(Region.code == code))


UNIT_SORTS = ("name", "code", "state", "due", "overdue")


def units(
    campaign: Campaign,
    user: User,
    *,
    district: str | None = None,
    state: str | None = None,
    overdue_only: bool = False,
    sort: str = "name",
    descending: bool = False,
    today: date | None = None,
    limit: int | None = None,
    offset: int = 0,
    with_owners: bool = True,
) -> tuple[list[UnitRow], int]:
    """The units (cases) the user sees, of one group (`district` code) or all, with their
    state, due date and who must act now. (rows, total). Four queries."""
    definition = definition_of_campaign(campaign)
    today = today or institution_today(campaign.institution)
    unit, parent = aliased(Region), aliased(Region)
    where = [_scope(user, campaign)]
    if district:
        where.append(Case.region_code.like(district + ".%"))
    if state:
        where.append(Case.state == state)
    open_states = [s.key for s in definition.states if not s.terminal]
    late = and_(Case.due_date < today, Case.state.in_(open_states))
    if overdue_only:
        where.append(late)
    total = db.session.scalar(select(func.count(Case.id)).where(*where))
    order = {
        "code": [unit.code],
        "state": [Case.state, unit.name],
        "due": [Case.due_date, unit.name],
        "overdue": [case((late, 1), else_=0), unit.name],
    }.get(sort, [unit.name, unit.code])
    order = [o.desc() if descending else o.asc() for o in order]
    query = (
        select(
            Case.id,
            Case.region_code,
            unit.name,
            parent.name,
            Case.state,
            Case.due_date,
            Case.version,
        )
        .select_from(Case)
        .join(unit, unit.id == Case.region_id)
        .outerjoin(parent, parent.id == unit.parent_id)
        .where(*where)
        .order_by(*order, Case.id)
    )
    if limit is not None:
        query = query.limit(limit).offset(offset)
    found = db.session.execute(query).all()
    owners = _owners(campaign, definition, found, district) if with_owners else {}
    rows = []
    for cid, code, name, dname, st, due, version in found:
        spec = definition.state(st)
        rows.append(
            UnitRow(
                case_id=cid,
                code=code or "",
                name=name,
                district=dname or "",
                state=st,
                state_label_id=spec.labels.id,
                state_label_en=spec.labels.en,
                due_date=due,
                overdue=bool(due is not None and due < today and not spec.terminal),
                owners=owners.get(cid, []),
                version=version,
            )
        )
    return rows, total or 0


def _owners(campaign, definition, found, district: str | None) -> dict[int, list[str]]:
    """Names of who must act on each listed case: the holders of its state's owner roles
    (members whose region holds the unit; people named on the case). Two queries."""
    if not found:
        return {}
    wanted = {r for s in definition.states for r in s.owners}
    members = select(CampaignMember.role, CampaignMember.region_code, User.name).join(
        User, User.id == CampaignMember.user_id
    )
    members = members.where(
        CampaignMember.campaign_id == campaign.id, CampaignMember.role.in_(wanted)
    )
    if district:
        # Members inside the group, or over a region that holds it.
        members = members.where(
            or_(
                _prefix_clause(CampaignMember.region_code, district),
                literal(district).like(CampaignMember.region_code.concat(".%")),
            )
        )
    by_code: dict[tuple[str, str], list[str]] = defaultdict(list)
    for role, code, name in db.session.execute(members):
        by_code[(role, code)].append(name)
    ids = [row[0] for row in found]
    named: dict[tuple[int, str], list[str]] = defaultdict(list)
    if any(registry.role_assignment(r) == "case" for r in wanted):
        for start in range(0, len(ids), INSERT_CHUNK):
            for cid, role, name in db.session.execute(
                select(CaseAssignment.case_id, CaseAssignment.role, User.name)
                .join(User, User.id == CaseAssignment.user_id)
                .where(CaseAssignment.case_id.in_(ids[start : start + INSERT_CHUNK]))
            ):
                named[(cid, role)].append(name)
    out: dict[int, list[str]] = {}
    for cid, code, _name, _dname, st, _due, _v in found:
        people: list[str] = []
        parts = (code or "").split(".")
        prefixes = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
        for role in definition.state(st).owners:
            if registry.role_assignment(role) == "case":
                people += named.get((cid, role), [])
            else:
                for p in prefixes:
                    people += by_code.get((role, p), [])
        out[cid] = sorted(dict.fromkeys(people))
    return out


def tree(campaign: Campaign, user: User) -> list[tuple[DistrictRow, list[UnitRow]]]:
    """Every unit the user sees, grouped by its parent region, for the status tree."""
    summ = summary(campaign, user, sort="code")
    rows, _total = units(campaign, user, sort="code", with_owners=False)
    by_district: dict[str, list[UnitRow]] = defaultdict(list)
    for r in rows:
        by_district[r.code.rsplit(".", 1)[0]].append(r)
    return [(d, by_district.get(d.code, [])) for d in summ.rows]


# ---------------------------------------------------------------- bulk remind


@dataclass
class RemindOutcome:
    case_id: int
    name: str
    ok: bool
    status: int = 200
    message: str = ""


BULK_MAX = 500


def remind_roles(definition: Definition) -> set[str]:
    act = definition.activity("remind")
    return set(act.roles) if act is not None else set()


def bulk_remind(
    user: User, campaign: Campaign, case_ids: list[int], message: str = ""
) -> list[RemindOutcome]:
    """Remind whoever must act on each selected unit: the definition's `remind` activity
    through perform(), on each case on its own (audited; the owners of the current state
    get it in their inbox and by mail). A case the user may not see is "not found"."""
    from . import mail
    from .errors import WorkflowError
    from .workflow import perform

    wanted = list(dict.fromkeys(case_ids))[:BULK_MAX]
    unit = aliased(Region)
    loaded = db.session.execute(
        select(Case, unit.name)
        .join(unit, unit.id == Case.region_id)
        .where(_scope(user, campaign), Case.id.in_(wanted))
    ).all()
    by_id = {c.id: (c, name) for c, name in loaded}
    out = []
    with mail.batched_delivery():
        for cid in wanted:
            found = by_id.get(cid)
            if found is None:
                out.append(RemindOutcome(cid, "", False, 404, str(_l("Not found."))))
                continue
            case_, name = found
            try:
                perform(case_, "remind", user, comment=message)
            except WorkflowError as exc:
                db.session.rollback()
                out.append(RemindOutcome(cid, name, False, exc.status, str(exc.message)))
                continue
            out.append(RemindOutcome(cid, name, True))
    return out


# ---------------------------------------------------------------- exports


def district_table(summ: Summary, lang: str) -> tuple[list[str], list[list]]:
    headers = [
        str(_l("Code")),
        str(_l("District")),
        str(_l("Units")),
        *[s.label(lang) for s in summ.stages],
        str(_l("Overdue")),
        str(_l("Overdue units")),
    ]
    body = [
        [r.code, r.name, r.total, *r.passed, r.overdue, ", ".join(r.overdue_names)]
        for r in summ.rows
    ]
    return headers, body


def unit_table(rows: list[UnitRow], lang: str, as_text: bool) -> tuple[list[str], list[list]]:
    headers = [
        str(_l("Code")),
        str(_l("Region unit")),
        str(_l("District")),
        str(_l("State")),
        str(_l("Due date")),
        str(_l("Overdue")),
        str(_l("To act")),
    ]
    body = []
    for r in rows:
        due = r.due_date.isoformat() if (as_text and r.due_date) else r.due_date
        body.append(
            [
                r.code,
                r.name,
                r.district,
                r.state_label(lang),
                due,
                str(_l("Yes")) if r.overdue else str(_l("No")),
                ", ".join(r.owners),
            ]
        )
    return headers, body


def export_file(summ: Summary, unit_rows: list[UnitRow], fmt: str, lang: str) -> bytes:
    """CSV: the district table; XLSX: the district table and every unit, two sheets."""
    from .spreadsheets import csv_bytes, xlsx_bytes

    if fmt == "csv":
        return csv_bytes(*district_table(summ, lang))
    d_headers, d_body = district_table(summ, lang)
    u_headers, u_body = unit_table(unit_rows, lang, as_text=False)
    return xlsx_bytes(
        [
            (str(_l("Districts")), d_headers, d_body),
            (str(_l("Units")), u_headers, u_body),
        ]
    )


def units_file(rows: list[UnitRow], fmt: str, lang: str) -> bytes:
    from .spreadsheets import csv_bytes, xlsx_bytes

    if fmt == "csv":
        return csv_bytes(*unit_table(rows, lang, as_text=True))
    headers, body = unit_table(rows, lang, as_text=False)
    return xlsx_bytes([(str(_l("Units")), headers, body)])
