"""Notifications for whoever must hear of an event. Queued in the same transaction as the
event; the text is rendered when read, in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased, joinedload

from ..engine import registry
from ..engine.definitions import Definition
from ..extensions import db
from ..models import (
    AuditEvent,
    CampaignMember,
    Case,
    CaseAssignment,
    CohortMember,
    Notification,
    User,
)
from ..models._base import utcnow
from ..permissions import inside_member_region

LANGS = ("id", "en")

# The word before a region's name ("Pekon Tanjung Raya", "Kec. Sukau"): from its kind, else
# its level. Administrative designations, the same in both languages.
KIND_WORDS = {"kecamatan": "Kec."}
LEVEL_WORDS = {"province": "Provinsi", "district": "Kec.", "village": "Desa"}


def unit_name(region) -> str:
    """A region as officials write it: "Pekon Tanjung Raya", "Kec. Sukau", "Kabupaten
    Lampung Barat" (a name that already starts with its kind keeps it as it is)."""
    if region is None:
        return ""
    name = (region.name or "").strip()
    kind = (region.kind or "").strip()
    word = KIND_WORDS.get(kind.lower(), kind[:1].upper() + kind[1:]) if kind else ""
    word = word or LEVEL_WORDS.get(region.level, "")
    lowered = name.lower()
    if not word or any(lowered.startswith(w.lower().rstrip(".") + " ") for w in (word, kind) if w):
        return name
    return f"{word} {name}"


def unit_chain(region, *, stop: str = "regency") -> list[str]:
    """The unit and its parents up to the `stop` level: ["Pekon Tanjung Raya", "Kec.
    Sukau", "Kabupaten Lampung Barat"]. Walks the parents (a query each on a cold session):
    for one case's page, not for lists."""
    names: list[str] = []
    node = region
    while node is not None:
        names.append(unit_name(node))
        if node.level == stop:
            break
        node = node.parent
    return names


def case_subject(case) -> tuple[str, str]:
    """(who or what the case is about, where it belongs): the trainee and the cohort, or
    the unit and the campaign. Reads only relations a list loads with its rows."""
    if case.region_id is not None or case.campaign_id is not None:
        campaign = case.campaign
        return unit_name(case.region), campaign.name if campaign is not None else ""
    trainee, cohort = case.trainee, case.cohort
    return (trainee.name if trainee else ""), (cohort.name if cohort else "")


def declared_holders(case: Case, role: str) -> set[int]:
    """User ids holding a role a definition declares on `case` (named on the case, or a
    campaign member whose region holds the case's unit)."""
    if registry.role_assignment(role) == "case":
        return set(
            db.session.scalars(
                select(CaseAssignment.user_id).where(
                    CaseAssignment.case_id == case.id, CaseAssignment.role == role
                )
            )
        )
    if case.campaign_id is None or not case.region_code:
        return set()
    code = case.region_code
    return set(
        db.session.scalars(
            select(CampaignMember.user_id).where(
                CampaignMember.campaign_id == case.campaign_id,
                CampaignMember.role == role,
                inside_member_region(code),
            )
        )
    )


def holders(case: Case, role: str) -> set[int]:
    """User ids holding `role` on `case`."""
    if registry.role_assignment(role) is not None:
        return declared_holders(case, role)
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


def recipients_of(case: Case, definition: Definition, event, actor: User, transition=None):
    """Who hears of `event`: the roles the transition names (by default the owners of the
    new state), each person once however many of those roles they hold, the actor never."""
    roles = (
        transition.notify
        if transition is not None and transition.notify is not None
        else (definition.state(event.to_state).owners)
    )
    people: set[int] = set()
    for role in roles:
        people |= holders(case, role)
    people.discard(actor.id)
    return sorted(people)


def queue_for_event(
    case: Case, definition: Definition, event, actor: User, transition=None
) -> list[Notification]:
    """One notification per person per event. There is no unique (user, event) key in the
    schema, so the set above and the check against rows already queued keep it at one."""
    wanted = recipients_of(case, definition, event, actor, transition)
    if not wanted:
        return []
    # Rows already queued for this event (a repeated call): user_id leads the unread
    # index, so this reads a few rows of these users, never the whole table.
    queued = set(
        db.session.scalars(
            select(Notification.user_id).where(
                Notification.user_id.in_(wanted), Notification.event_id == event.id
            )
        )
    )
    notes = [
        Notification(user_id=uid, case_id=case.id, event_id=event.id, kind=event.trigger)
        for uid in wanted
        if uid not in queued
    ]
    db.session.add_all(notes)
    return notes


# ---------------------------------------------------------------- reading


@dataclass
class Item:
    """A notification with what its text needs, ready to render in one language."""

    note: Notification
    event: AuditEvent | None
    actor: User | None
    case: Case | None

    def text(self, lang: str) -> dict:
        return describe(self, lang)


def _rows(query) -> list[Item]:
    return [Item(n, e, a, c) for n, e, a, c in db.session.execute(query).all()]


def _joined():
    actor = aliased(User)
    return (
        select(Notification, AuditEvent, actor, Case)
        .outerjoin(AuditEvent, AuditEvent.id == Notification.event_id)
        .outerjoin(actor, actor.id == AuditEvent.actor_id)
        .outerjoin(Case, Case.id == Notification.case_id)
        # A region unit's case is named by its unit: loaded with the row, no query each.
        .options(joinedload(Case.region), joinedload(Case.campaign))
    )


def items_for(user_id: int, *, unread_only: bool = False):
    """The user's notifications with their event, actor and case, newest first (a Select)."""
    query = _joined().where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return query.order_by(Notification.created_at.desc(), Notification.id.desc())


def page_of(user_id: int, *, page: int, per_page: int, unread_only: bool = False):
    """(items, total) for one page."""
    where = [Notification.user_id == user_id]
    if unread_only:
        where.append(Notification.read_at.is_(None))
    total = db.session.scalar(select(func.count(Notification.id)).where(*where))
    rows = _rows(
        items_for(user_id, unread_only=unread_only).limit(per_page).offset((page - 1) * per_page)
    )
    return rows, total


def item(user_id: int, note_id: int) -> Item | None:
    """One of the user's notifications; another person's is None (a 404 to them)."""
    rows = _rows(_joined().where(Notification.id == note_id, Notification.user_id == user_id))
    return rows[0] if rows else None


def unread_count(user_id: int) -> int:
    """One query on ix_notifications_user_unread (user_id, read_at)."""
    return db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )


def mark_read(note: Notification, now: datetime | None = None) -> None:
    if note.read_at is None:
        note.read_at = now or utcnow()


def mark_all_read(user_id: int) -> int:
    """Marks every unread notification of the user; returns how many. The caller commits."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def _transition_of(definition: Definition, event: AuditEvent):
    matching = [t for t in definition.transitions if t.trigger == event.trigger]
    for t in matching:
        if t.dest == event.to_state and (event.from_state in t.sources or not event.from_state):
            return t
    return matching[0] if matching else None


def describe(item: Item, lang: str) -> dict:
    """Words for one notification in `lang`, from the event and the definition's labels:
    {actor, action, title, state, summary, comment}."""
    lang = lang if lang in LANGS else "id"
    note, event, case = item.note, item.event, item.case
    with force_locale(lang):
        title = (case.title or "").strip() if case is not None else ""
        if case is not None and case.region_id is not None:
            # A region unit's case has no title: its unit and campaign name it.
            unit, campaign = case_subject(case)
            title = f"{unit} · {campaign}" if campaign else unit
        if not title and case is not None:
            title = _("Case %(id)s", id=case.id)
        actor = item.actor.name if item.actor is not None else _("Someone")
        action, state = note.kind, ""
        definition = None
        if case is not None:
            try:
                definition = registry.get(case.definition_key, case.definition_version)
            except LookupError:  # a definition no longer loaded: fall back to the keys
                definition = None
        if event is not None and definition is not None:
            transition = definition.activity(event.trigger) or _transition_of(definition, event)
            if transition is not None:
                action = transition.labels.get(lang)
            if (event.data or {}).get("milestone"):
                action = f"{action}: {event.data['milestone']}"
            if definition.has_state(event.to_state):
                state = definition.state(event.to_state).labels.get(lang)
        elif event is not None:
            state = event.to_state
        if event is None and note.message:
            summary = note.message
        elif event is not None and event.trigger == "remind":
            # Sent to whoever must act: say so, rather than "<organizer> Send a reminder".
            summary = _(
                "Reminder from %(actor)s: “%(title)s” is waiting for you.", actor=actor, title=title
            )
        else:
            summary = f"{actor} {action} — {title}"
        return {
            "actor": actor,
            "action": action,
            "title": title,
            "state": state,
            "summary": summary,
            "comment": (event.comment or "") if event is not None else "",
        }
