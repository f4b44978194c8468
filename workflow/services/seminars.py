"""Seminars (seminar rancangan, seminar laporan): scheduling, invitations, attendance.

A seminar is a row of its own (Seminar, with its panel of penguji, coach and mentor), but
every change to it is an activity of the case and goes through perform(): scheduling and
rescheduling (`schedule_seminar`, the organizer), the presentation (`upload_presentation`,
the trainee) and the attendance that marks it held (`record_attendance`, the panel or the
organizer). The outcome is a transition of the case (seminar_passed / _with_fixes /
_failed) whose effect writes it on the seminar (engine/guards.py).

Times are stored naive UTC and entered and shown in the institution's zone (WIB/WITA/WIT).
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from flask import current_app
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select, text
from sqlalchemy.orm import joinedload, selectinload

from ..engine.activities import ActivityContext, ActivityResult, activity
from ..engine.definitions import Definition, Labels
from ..extensions import db
from ..models import Case, Cohort, CohortMember, Group, Notification, Program, User
from ..models._base import utcnow
from ..models.seminars import Seminar, SeminarPanelist
from ..permissions import DEFAULT_ZONE, ROLE_LABELS, is_institution_admin, roles_on_case
from . import documents, mail, notifications
from .calendar import is_working_day
from .errors import Blocked, Forbidden, NotAvailable
from .workflow import definition_of, extra_days_off

PANEL_ROLES = ("examiner", "coach", "mentor")
PANEL_FIELDS = {role: f"{role}_id" for role in PANEL_ROLES}
ROOM_MAX = 120
LINK_MAX = 500
NOTES_MAX = 5000
PRESENTATION_TYPES = ("pdf", "pptx", "odp")
PRESENTATION_ACCEPT = ".pdf,.pptx,.odp,application/pdf," + ",".join(
    documents.TYPES[t].content_type for t in ("pptx", "odp")
)
VIEWS = ("day", "room", "examiner")

INVALID = _l("Some fields need your attention.")
# What a seminar is called: in the invitation (SUMMARY) and on the pages. Data rather than
# msgids, so the calendar entry reads Indonesian whatever the catalogue holds.
KIND_LABELS = {
    "proposal": Labels(id="Seminar rancangan", en="Proposal seminar"),
    "report": Labels(id="Seminar laporan", en="Report seminar"),
}
STATUS_LABELS = {
    "scheduled": _l("Scheduled"),
    "held": _l("Held"),
    "cancelled": _l("Cancelled"),
}
OUTCOME_LABELS = {
    "proposal": {
        "passed": _l("Feasible"),
        "passed_with_fixes": _l("Feasible with fixes"),
        "failed": _l("Not feasible"),
    },
    "report": {
        "passed": _l("Passed"),
        "passed_with_fixes": _l("Passed"),
        "failed": _l("Not passed"),
    },
}


def kind_label(kind: str, lang: str | None = None) -> str:
    labels = KIND_LABELS.get(kind)
    return labels.get(lang or _lang()) if labels else kind


def outcome_label(seminar: Seminar) -> str:
    if not seminar.outcome:
        return ""
    labels = OUTCOME_LABELS.get(seminar.kind, OUTCOME_LABELS["proposal"])
    return str(labels.get(seminar.outcome, seminar.outcome))


def status_label(seminar: Seminar) -> str:
    return str(STATUS_LABELS.get(seminar.status, seminar.status))


def _lang() -> str:
    return str(get_locale() or "id")


def _role_name(role: str, definition: Definition | None = None) -> str:
    if definition is not None:
        own = definition.role_label(role, _lang())
        if own:
            return own
    return str(ROLE_LABELS.get(role, role))


# ---------------------------------------------------------------- reading


def seminar_kind(case: Case, definition: Definition | None = None) -> str | None:
    """The kind of seminar the case's current state holds (`seminar:`), or None."""
    definition = definition or definition_of(case)
    return definition.state(case.state).seminar


def open_seminar(case: Case, kind: str) -> Seminar | None:
    """The latest seminar of `kind` not cancelled and without an outcome (what the
    `seminar_held` guard looks at)."""
    return db.session.scalar(
        select(Seminar)
        .where(
            Seminar.case_id == case.id,
            Seminar.kind == kind,
            Seminar.status != "cancelled",
            Seminar.outcome.is_(None),
            Seminar.created_at >= case.state_entered_at,  # of this stay
        )
        .order_by(Seminar.starts_at.desc(), Seminar.id.desc())
        .limit(1)
    )


def latest_seminar(case: Case, kind: str) -> Seminar | None:
    return db.session.scalar(
        select(Seminar)
        .where(Seminar.case_id == case.id, Seminar.kind == kind, Seminar.status != "cancelled")
        .order_by(Seminar.id.desc())
        .limit(1)
    )


def seminars_of(case: Case) -> list[Seminar]:
    return list(
        db.session.scalars(
            select(Seminar)
            .where(Seminar.case_id == case.id)
            .options(
                selectinload(Seminar.panel).joinedload(SeminarPanelist.user),
                joinedload(Seminar.presentation),
            )
            .order_by(Seminar.starts_at.desc(), Seminar.id.desc())
        ).unique()
    )


def zone_of(cohort: Cohort) -> str:
    program = cohort.program
    if program is not None and program.institution is not None:
        return program.institution.timezone or DEFAULT_ZONE
    return DEFAULT_ZONE


def to_local(moment: datetime, zone: str) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(ZoneInfo(zone))


def span_text(seminar, zone: str, lang: str | None = None) -> str:
    """'10 Des 2026 09.00–11.00 WITA': the seminar's time in its institution's zone."""
    lang = lang or _lang()
    start, end = to_local(seminar.starts_at, zone), to_local(seminar.ends_at, zone)
    label = _zone_label(zone)
    day = format_date(start.date(), "d MMM yyyy", locale=lang)
    return f"{day} {start:%H:%M}–{end:%H:%M} {label}".strip()


def _zone_label(zone: str) -> str:
    from ..models.people import ZONE_LABELS

    return ZONE_LABELS.get(zone, zone)


def place_text(seminar) -> str:
    return " · ".join(p for p in (seminar.room, seminar.online_link) if p)


def panel_choices(cohort: Cohort) -> dict[str, list[User]]:
    """Who may sit on a panel of this cohort, per role: the examiners and coaches of its
    groups and those named on the cohort; the mentors of its trainees."""
    ids: dict[str, set[int]] = {role: set() for role in PANEL_ROLES}
    for examiner_id, coach_id in db.session.execute(
        select(Group.examiner_id, Group.coach_id).where(Group.cohort_id == cohort.id)
    ):
        if examiner_id:
            ids["examiner"].add(examiner_id)
        if coach_id:
            ids["coach"].add(coach_id)
    for user_id, role in db.session.execute(
        select(CohortMember.user_id, CohortMember.role).where(
            CohortMember.cohort_id == cohort.id, CohortMember.role.in_(("examiner", "coach"))
        )
    ):
        ids[role].add(user_id)
    ids["mentor"].update(
        db.session.scalars(
            select(Case.mentor_id).where(Case.cohort_id == cohort.id, Case.mentor_id.is_not(None))
        )
    )
    everyone = set().union(*ids.values())
    users = {
        u.id: u for u in db.session.scalars(select(User).where(User.id.in_(everyone), User.active))
    }
    return {
        role: sorted((users[i] for i in found if i in users), key=lambda u: (u.name, u.id))
        for role, found in ids.items()
    }


def default_panel(case: Case) -> dict[str, int | None]:
    """The panel a seminar of this case gets unless the organizer chooses otherwise: the
    group's examiner and coach (else the cohort's, if it names one), the case's mentor."""
    group = case.group
    found: dict[str, int | None] = {
        "examiner": group.examiner_id if group is not None else None,
        "coach": group.coach_id if group is not None else None,
        "mentor": case.mentor_id,
    }
    missing = [r for r in ("examiner", "coach") if found[r] is None]
    if missing:
        for user_id, role in db.session.execute(
            select(CohortMember.user_id, CohortMember.role)
            .where(CohortMember.cohort_id == case.cohort_id, CohortMember.role.in_(missing))
            .order_by(CohortMember.id)
        ):
            if found[role] is None:
                found[role] = user_id
    return found


# ---------------------------------------------------------------- clashes


@dataclass
class Booking:
    """What two seminars at the same time must not share: people and a room."""

    id: int | None
    starts_at: datetime
    ends_at: datetime
    room: str
    online_link: str
    institution_id: int | None
    trainee: str
    # user id → (name, role in this seminar: trainee / examiner / coach / mentor)
    people: dict[int, tuple[str, str]]

    @classmethod
    def of(cls, seminar: Seminar) -> Booking:
        case = seminar.case
        people = {p.user_id: (p.user.name, p.role) for p in seminar.panel}
        people[case.trainee_id] = (case.trainee.name, "trainee")
        return cls(
            id=seminar.id,
            starts_at=seminar.starts_at,
            ends_at=seminar.ends_at,
            room=seminar.room,
            online_link=seminar.online_link,
            institution_id=seminar.cohort.program.institution_id,
            trainee=case.trainee.name,
            people=people,
        )

    def overlaps(self, other: Booking) -> bool:
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at


@dataclass(frozen=True)
class Clash:
    """One thing two overlapping seminars share: a person (`user_id`, their role in the
    first) or the room (`user_id` None)."""

    role: str | None
    user_id: int | None
    message: str


def _room_key(room: str) -> str:
    return " ".join(room.casefold().split())


def clashes_between(mine: Booking, other: Booking, zone: str) -> list[Clash]:
    if mine.id is not None and mine.id == other.id or not mine.overlaps(other):
        return []
    found = []
    when = span_text(other, zone)
    where = place_text(other) or "—"
    for user_id, (name, role) in mine.people.items():
        if user_id in other.people:
            found.append(
                Clash(
                    role,
                    user_id,
                    _(
                        "%(name)s is also in the seminar of %(trainee)s on %(time)s (%(place)s).",
                        name=name,
                        trainee=other.trainee,
                        time=when,
                        place=where,
                    ),
                )
            )
    if (
        mine.room
        and _room_key(mine.room) == _room_key(other.room)
        and mine.institution_id == other.institution_id
    ):
        found.append(
            Clash(
                None,
                None,
                _(
                    "%(room)s is already booked for the seminar of %(trainee)s on %(time)s.",
                    room=other.room,
                    trainee=other.trainee,
                    time=when,
                ),
            )
        )
    return found


def _loaded(query):
    return query.options(
        joinedload(Seminar.case).joinedload(Case.trainee),
        joinedload(Seminar.cohort).joinedload(Cohort.program),
        selectinload(Seminar.panel).joinedload(SeminarPanelist.user),
    )


# Bookings of different cases lock different case rows: without one lock they share, two
# organizers could both find a room free and both take it. SQLite writes one at a time.
BOOKING_LOCK = 0x41534D4E


def _serialise_bookings() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": BOOKING_LOCK})


def overlapping(starts_at: datetime, ends_at: datetime, exclude_id: int | None = None):
    """Seminars (not cancelled) overlapping the span, with what a clash check reads."""
    query = select(Seminar).where(
        Seminar.status != "cancelled", Seminar.starts_at < ends_at, Seminar.ends_at > starts_at
    )
    if exclude_id is not None:
        query = query.where(Seminar.id != exclude_id)
    return list(db.session.scalars(_loaded(query)).unique())


# ---------------------------------------------------------------- scheduling


@dataclass
class Slot:
    starts_at: datetime
    ends_at: datetime
    room: str
    online_link: str
    panel: dict[str, User]


def _text(raw, limit: int, name: str, errors: dict) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        errors[name] = str(_l("Must be text."))
        return ""
    value = raw.strip()
    if len(value) > limit:
        errors[name] = str(_l("Too long (at most %(n)d characters).", n=limit))
    return value


def _day(raw, errors: dict) -> date | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        errors["date"] = str(_l("Choose the date of the seminar."))
        return None
    if isinstance(raw, str):
        try:
            day = date.fromisoformat(raw.strip())
        except ValueError:
            pass
        else:
            # Year 1 or 9999 would overflow the time-zone conversion; none is a seminar.
            if 1900 <= day.year <= 9998:
                return day
    errors["date"] = str(_l("The date must be a date (YYYY-MM-DD)."))
    return None


def _clock(raw, name: str, errors: dict) -> time | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        errors[name] = str(
            _l("Give the start time.") if name == "start" else _l("Give the end time.")
        )
        return None
    if isinstance(raw, str):
        text = raw.strip().replace(".", ":")
        parts = text.split(":")
        if len(parts) == 2 and all(p.isascii() and p.isdigit() and len(p) <= 2 for p in parts):
            hour, minute = int(parts[0]), int(parts[1])
            if hour < 24 and minute < 60:
                return time(hour, minute)
    errors[name] = str(_l("The time must be hours and minutes (HH:MM)."))
    return None


def _link(raw, errors: dict) -> str:
    value = _text(raw, LINK_MAX, "online_link", errors)
    if not value or "online_link" in errors:
        return value
    parts = urlsplit(value)
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or any(ch.isspace() or ord(ch) < 32 for ch in value)
    ):
        errors["online_link"] = str(
            _l("The online link must be a web address starting with http:// or https://.")
        )
    return value


def _whole(raw) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        return int(raw.strip()) if len(raw.strip()) <= 12 else None
    return None


def _panel(ctx: ActivityContext, errors: dict) -> dict[str, User]:
    """The chosen panel, each member checked; a member left blank comes from the case."""
    case, definition = ctx.case, ctx.definition
    defaults = default_panel(case)
    choices = panel_choices(case.cohort)
    chosen: dict[str, User] = {}
    for role in PANEL_ROLES:
        name = PANEL_FIELDS[role]
        raw = ctx.raw.get(name)
        blank = raw is None or (isinstance(raw, str) and not raw.strip())
        user_id = defaults[role] if blank else _whole(raw)
        allowed = {u.id: u for u in choices[role]}
        if blank and user_id is not None and user_id not in allowed:
            allowed[user_id] = db.session.get(User, user_id)
        if user_id is None and blank:
            errors[name] = _(
                "The panel has no %(role)s: choose one.", role=_role_name(role, definition)
            )
        elif user_id not in allowed or allowed[user_id] is None:
            errors[name] = _(
                "Choose one of the listed people as %(role)s.", role=_role_name(role, definition)
            )
        else:
            chosen[role] = allowed[user_id]
    seen: dict[int, str] = {}
    for role, user in list(chosen.items()):
        if user.id == case.trainee_id:
            errors[PANEL_FIELDS[role]] = _("The trainee cannot sit on their own panel.")
        elif user.id in seen:
            errors[PANEL_FIELDS[role]] = _(
                "%(name)s is already on the panel as %(role)s.",
                name=user.name,
                role=_role_name(seen[user.id], definition),
            )
        seen.setdefault(user.id, role)
    return chosen


def check_slot(ctx: ActivityContext, zone: str, exclude: Seminar | None) -> Slot:
    """The schedule asked for, every field checked, clashes included; Blocked with a
    message per field otherwise."""
    raw = ctx.raw
    errors: dict[str, str] = {}
    day = _day(raw.get("date"), errors)
    start = _clock(raw.get("start"), "start", errors)
    end = _clock(raw.get("end"), "end", errors)
    room = _text(raw.get("room"), ROOM_MAX, "room", errors)
    link = _link(raw.get("online_link"), errors)
    if not room and not link and "room" not in errors and "online_link" not in errors:
        errors["room"] = str(_l("Give a room or an online link (or both)."))
    panel = _panel(ctx, errors)
    starts_at = ends_at = None
    if day is not None and start is not None and end is not None:
        local = ZoneInfo(zone)
        starts_at = datetime.combine(day, start, local).astimezone(UTC).replace(tzinfo=None)
        ends_at = datetime.combine(day, end, local).astimezone(UTC).replace(tzinfo=None)
        cohort = ctx.case.cohort
        if end <= start:
            errors["end"] = str(_l("The seminar must end after it starts."))
        if starts_at <= utcnow():
            errors["date"] = str(_l("The seminar cannot be scheduled in the past."))
        elif (cohort.start_date and day < cohort.start_date) or (
            cohort.end_date and day > cohort.end_date
        ):
            errors["date"] = _(
                "The seminar must fall within the cohort's training (%(start)s – %(end)s).",
                start=format_date(cohort.start_date, "d MMM yyyy", locale=_lang()),
                end=format_date(cohort.end_date, "d MMM yyyy", locale=_lang()),
            )
        elif not is_working_day(day, extra_days_off(cohort.program.institution_id)):
            # Weekends, holidays, cuti bersama and the institution's own days off.
            errors["date"] = _(
                "%(day)s is not a working day: choose another date.",
                day=format_date(day, "EEEE, d MMMM yyyy", locale=_lang()),
            )
    if errors:
        raise Blocked(INVALID, list(errors.values()), errors)
    case = ctx.case
    mine = Booking(
        id=exclude.id if exclude is not None else None,
        starts_at=starts_at,
        ends_at=ends_at,
        room=room,
        online_link=link,
        institution_id=case.cohort.program.institution_id,
        trainee=case.trainee.name,
        people={
            **{u.id: (u.name, role) for role, u in panel.items()},
            case.trainee_id: (case.trainee.name, "trainee"),
        },
    )
    reasons = []
    _serialise_bookings()
    for other in overlapping(starts_at, ends_at, mine.id):
        for clash in clashes_between(mine, Booking.of(other), zone):
            reasons.append(clash.message)
            name = "room" if clash.role is None else PANEL_FIELDS.get(clash.role, "start")
            errors.setdefault(name, clash.message)
    if errors:
        raise Blocked(_l("The seminar clashes with another one."), reasons, errors)
    return Slot(starts_at, ends_at, room, link, panel)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="minutes") + "Z"


@activity("schedule_seminar")
def schedule_seminar(ctx: ActivityContext) -> ActivityResult:
    case = ctx.case
    kind = seminar_kind(case, ctx.definition)
    if kind is None:
        raise NotAvailable(_l("No seminar is held in this state."))
    zone = zone_of(case.cohort)
    latest = latest_seminar(case, kind)
    current = None
    if latest is not None and latest.outcome is None:
        if latest.status == "scheduled":
            current = latest
        elif latest.status == "held" and latest.starts_at >= case.state_entered_at:
            message = _l("The seminar was held: the examiner records its outcome now.")
            raise Blocked(message, [message])
    slot = check_slot(ctx, zone, current)
    now = utcnow()
    data: dict = {}
    if current is not None:
        before = {
            "starts_at": current.starts_at,
            "ends_at": current.ends_at,
            "room": current.room,
            "online_link": current.online_link,
            "panel": {p.role: p.user_id for p in current.panel},
        }
        after_panel = {role: u.id for role, u in slot.panel.items()}
        if (
            before["starts_at"] == slot.starts_at
            and before["ends_at"] == slot.ends_at
            and before["room"] == slot.room
            and before["online_link"] == slot.online_link
            and before["panel"] == after_panel
        ):
            message = _l("The seminar already has this schedule: nothing to change.")
            raise Blocked(message, [message])
        seminar = current
        if before["panel"] != after_panel:
            # Rows go first: a member may move to another role (unique per seminar).
            seminar.panel.clear()
            db.session.flush()
            seminar.panel.extend(
                SeminarPanelist(user_id=u.id, role=role) for role, u in slot.panel.items()
            )
        seminar.sequence += 1
        seminar.updated_at = now
        data.update(
            {
                "rescheduled": True,
                "previous_starts_at": _iso(before["starts_at"]),
                "previous_ends_at": _iso(before["ends_at"]),
                "previous_room": before["room"],
                "previous_online_link": before["online_link"],
            }
        )
    else:
        seminar = Seminar(
            cohort_id=case.cohort_id,
            case_id=case.id,
            kind=kind,
            status="scheduled",
            uid=f"{secrets.token_hex(16)}@aksi",
            sequence=0,
            created_by_id=ctx.actor.id,
            created_at=now,
            panel=[SeminarPanelist(user_id=u.id, role=role) for role, u in slot.panel.items()],
        )
        db.session.add(seminar)
    seminar.starts_at, seminar.ends_at = slot.starts_at, slot.ends_at
    seminar.room, seminar.online_link = slot.room, slot.online_link
    db.session.flush()
    data = {
        "seminar_id": seminar.id,
        "kind": kind,
        "starts_at": _iso(seminar.starts_at),
        "ends_at": _iso(seminar.ends_at),
        "room": seminar.room,
        "online_link": seminar.online_link,
        **{role: u.name for role, u in slot.panel.items()},
        "sequence": seminar.sequence,
        **data,
    }
    return ActivityResult(data=data, link=_invite_others(ctx, slot.panel))


def _invite_others(ctx: ActivityContext, panel: dict[str, User]) -> list:
    """Panel members the activity's roles do not reach (an examiner of another group)
    still get the invitation: their notification joins the event once it has an id."""
    reached: set[int] = {ctx.actor.id}
    for role in ctx.activity.notify or ():
        reached |= notifications.holders(ctx.case, role)
    notes = []
    for user in panel.values():
        if user.id not in reached:
            reached.add(user.id)
            note = Notification(user_id=user.id, case_id=ctx.case.id, kind=ctx.activity.key)
            db.session.add(note)
            notes.append((note, "event_id"))
    return notes


# ---------------------------------------------------------------- attendance


def _flag(raw) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        value = raw.strip().lower()
        if value in ("1", "true", "yes", "on", "ya"):
            return True
        if value in ("0", "false", "no", "off", "tidak"):
            return False
    return None


def on_panel(seminar: Seminar, user: User) -> bool:
    return any(p.user_id == user.id for p in seminar.panel)


def _the_open_seminar(ctx: ActivityContext) -> Seminar:
    kind = seminar_kind(ctx.case, ctx.definition)
    seminar = open_seminar(ctx.case, kind) if kind else None
    if seminar is None:
        message = _l("No seminar is scheduled yet.")
        raise Blocked(message, [message])
    wanted = ctx.raw.get("seminar_id")
    if wanted is not None and _whole(wanted) != seminar.id:
        raise NotAvailable(_l("This seminar is closed: its outcome is recorded."))
    return seminar


@activity("record_attendance")
def record_attendance(ctx: ActivityContext) -> ActivityResult:
    seminar = _the_open_seminar(ctx)
    if "organizer" not in ctx.roles and not on_panel(seminar, ctx.actor):
        raise Forbidden(_l("Only the seminar's panel and the organizers record attendance."))
    now = utcnow()
    if now < seminar.starts_at:
        message = _(
            "The seminar has not started yet: attendance can be recorded from %(time)s.",
            time=span_text(seminar, zone_of(ctx.case.cohort)),
        )
        raise Blocked(message, [message], {"attendance": message})
    errors: dict[str, str] = {}
    raw_panel = ctx.raw.get("panel")
    if raw_panel is None:
        raw_panel = {}
    if not isinstance(raw_panel, dict):
        errors["panel"] = str(_l("Say for each member of the panel whether they attended."))
        raw_panel = {}
    members = {p.user_id: p for p in seminar.panel}
    present: dict[int, bool] = {}
    for key, value in raw_panel.items():
        user_id, flag = _whole(key), _flag(value)
        if user_id not in members or flag is None:
            errors["panel"] = str(_l("Say for each member of the panel whether they attended."))
            break
        present[user_id] = flag
    trainee = _flag(ctx.raw.get("trainee_attended"))
    if trainee is None:
        errors["trainee_attended"] = str(_l("Say whether the trainee attended."))
    notes = _text(ctx.raw.get("notes"), NOTES_MAX, "notes", errors)
    if errors:
        raise Blocked(INVALID, list(errors.values()), errors)
    for user_id, member in members.items():
        member.attended = present.get(user_id, False)
    seminar.trainee_attended = trainee
    seminar.notes = notes
    seminar.status = "held"
    seminar.updated_at = now
    return ActivityResult(
        data={
            "seminar_id": seminar.id,
            "present": [m.user.name for m in seminar.panel if m.attended],
            "absent": [m.user.name for m in seminar.panel if not m.attended],
            "trainee_attended": trainee,
            "notes": notes,
        }
    )


# ---------------------------------------------------------------- presentation


@activity("upload_presentation")
def upload_presentation(ctx: ActivityContext) -> ActivityResult:
    seminar = _the_open_seminar(ctx)
    files = [f for f in ctx.files if f is not None and getattr(f, "filename", "")]
    if len(files) != 1:
        message = str(
            _l("Choose a file to upload.") if not files else _l("Upload one file at a time.")
        )
        raise Blocked(message, [message], {"file": message})
    try:
        upload = documents.read_evidence(files[0])
    except documents.UploadRejected as exc:
        raise Blocked(exc.message, [exc.message], {"file": str(exc.message)}) from None
    _data, name, ftype = upload
    if ftype.ext not in PRESENTATION_TYPES:
        message = _("“%(name)s” is not a PDF, PowerPoint (pptx) or Impress (odp) file.", name=name)
        raise Blocked(message, [message], {"file": message})
    document = documents.stage_evidence(ctx.case, ctx.actor, upload, ctx.written)
    document.kind = "presentation"
    seminar.presentation = document
    seminar.updated_at = utcnow()
    db.session.flush()
    return ActivityResult(data={"seminar_id": seminar.id, "presentation": name})


def may_download_presentation(user: User, seminar: Seminar) -> bool:
    """The trainee, the panel, the cohort's organizers and the institution's admin."""
    if on_panel(seminar, user):
        return True
    if roles_on_case(user, seminar.case, among={"trainee", "organizer"}):
        return True
    return is_institution_admin(user) and (
        seminar.cohort.program.institution_id == user.institution_id
    )


# ---------------------------------------------------------------- the cohort's schedule


@dataclass
class Row:
    seminar: Seminar
    start: datetime  # local, aware
    end: datetime
    clashes: list[str] = field(default_factory=list)

    @property
    def day(self) -> date:
        return self.start.date()


@dataclass
class Schedule:
    cohort: Cohort
    zone: str
    view: str
    rows: list[Row]
    groups: list[tuple[str, list[Row]]]
    waiting: list[Case]
    choices: dict[str, list[User]]

    @property
    def zone_label(self) -> str:
        return _zone_label(self.zone)

    @property
    def clash_count(self) -> int:
        return sum(1 for r in self.rows if r.clashes)


def _others_sharing(cohort: Cohort, seminars: list[Seminar]) -> list[Seminar]:
    """Seminars of other cohorts at the same times that share a person, or a room of the
    same institution, with this cohort's: one query whatever their number."""
    live = [s for s in seminars if s.status != "cancelled"]
    if not live:
        return []
    people = {p.user_id for s in live for p in s.panel} | {s.case.trainee_id for s in live}
    rooms = {s.room for s in live if s.room}
    institution_id = cohort.program.institution_id
    shares = [
        Seminar.case_id.in_(select(Case.id).where(Case.trainee_id.in_(people))),
        Seminar.id.in_(
            select(SeminarPanelist.seminar_id).where(SeminarPanelist.user_id.in_(people))
        ),
    ]
    if rooms:
        shares.append(
            and_(
                Seminar.room.in_(rooms),
                Seminar.cohort_id.in_(
                    select(Cohort.id)
                    .join(Program, Program.id == Cohort.program_id)
                    .where(Program.institution_id == institution_id)
                ),
            )
        )
    query = select(Seminar).where(
        Seminar.cohort_id != cohort.id,
        Seminar.status != "cancelled",
        Seminar.starts_at < max(s.ends_at for s in live),
        Seminar.ends_at > min(s.starts_at for s in live),
        or_(*shares),
    )
    return list(db.session.scalars(_loaded(query)).unique())


def flag_clashes(rows: list[Row], others: list[Seminar], zone: str) -> None:
    """Each row gets the messages of what it shares with an overlapping seminar."""
    mine = [(r, Booking.of(r.seminar)) for r in rows if r.seminar.status != "cancelled"]
    every = [b for _r, b in mine] + [Booking.of(s) for s in others]
    every.sort(key=lambda b: b.starts_at)
    for row, booking in mine:
        for other in every:
            if other.starts_at >= booking.ends_at:
                break
            for clash in clashes_between(booking, other, zone):
                if clash.message not in row.clashes:
                    row.clashes.append(clash.message)


def waiting_cases(cohort: Cohort, seminars: list[Seminar]) -> list[Case]:
    """The cohort's cases in a seminar state with no seminar of that kind open."""
    open_ = {(s.case_id, s.kind) for s in seminars if s.status != "cancelled" and not s.outcome}
    cases = db.session.scalars(
        select(Case)
        .where(Case.cohort_id == cohort.id)
        .options(joinedload(Case.trainee))
        .order_by(Case.ndh.is_(None), Case.ndh, Case.id)
    ).all()
    found = []
    for case in cases:
        kind = seminar_kind(case)
        if kind is not None and (case.id, kind) not in open_:
            found.append(case)
    return found


def schedule(cohort: Cohort, view: str = "day") -> Schedule:
    """Everything the cohort's jadwal seminar shows, in a fixed number of queries."""
    view = view if view in VIEWS else "day"
    zone = zone_of(cohort)
    seminars = list(
        db.session.scalars(
            _loaded(select(Seminar).where(Seminar.cohort_id == cohort.id))
            .options(joinedload(Seminar.presentation))
            .order_by(Seminar.starts_at, Seminar.id)
        ).unique()
    )
    rows = [Row(s, to_local(s.starts_at, zone), to_local(s.ends_at, zone)) for s in seminars]
    flag_clashes(rows, _others_sharing(cohort, seminars), zone)
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        if view == "room":
            keys = [row.seminar.room or _("Online")]
        elif view == "examiner":
            keys = [p.user.name for p in row.seminar.panel if p.role == "examiner"] or ["—"]
        else:
            keys = [format_date(row.day, "EEEE, d MMMM yyyy", locale=_lang())]
        for key in keys:
            groups[key].append(row)
    ordered = list(groups.items())
    if view != "day":
        ordered.sort(key=lambda item: item[0].casefold())
    return Schedule(
        cohort=cohort,
        zone=zone,
        view=view,
        rows=rows,
        groups=ordered,
        waiting=waiting_cases(cohort, seminars),
        choices=panel_choices(cohort),
    )


# ---------------------------------------------------------------- the case page


def local_form_values(seminar: Seminar, zone: str) -> dict[str, str]:
    """A seminar's schedule as the form shows it (local date and times, panel ids)."""
    start, end = to_local(seminar.starts_at, zone), to_local(seminar.ends_at, zone)
    return {
        "date": start.date().isoformat(),
        "start": f"{start:%H:%M}",
        "end": f"{end:%H:%M}",
        "room": seminar.room,
        "online_link": seminar.online_link,
        **{PANEL_FIELDS[p.role]: str(p.user_id) for p in seminar.panel},
    }


def format_clock(moment: datetime, lang: str | None = None) -> str:
    return format_time(moment, "HH:mm", locale=lang or _lang())


# ---------------------------------------------------------------- the invitation (.ics)


def _ics_escape(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _ics_fold(line: str) -> bytes:
    """RFC 5545 3.1: lines of at most 75 octets, continued after CRLF and one space;
    never inside a UTF-8 sequence."""
    data = line.encode("utf-8")
    parts = []
    limit = 75
    while len(data) > limit:
        cut = limit
        while cut > 1 and (data[cut] & 0xC0) == 0x80:
            cut -= 1
        parts.append(data[:cut])
        data = b" " + data[cut:]
        limit = 75
    parts.append(data)
    return b"\r\n".join(parts)


def _ics_time(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _param(value: str) -> str:
    # A parameter value cannot hold a DQUOTE; quoting keeps ; , : inside it.
    return '"' + value.replace('"', "'") + '"'


def ics(seminar: Seminar, lang: str = "id") -> bytes:
    """The seminar as an iCalendar invitation (METHOD:REQUEST): the same UID on every
    reschedule, with a higher SEQUENCE, so calendars update the one entry."""
    case = seminar.case
    base = current_app.config.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    sender = current_app.config.get("MAIL_FROM") or "aksi@localhost"
    address = sender.rpartition("<")[2].rstrip(">").strip() or sender
    institution = seminar.cohort.program.institution
    with force_locale(lang):
        title = (case.title or "").strip()
        summary = f"{kind_label(seminar.kind, lang)}: {case.trainee.name}"
        description = [f"{summary}", title] if title else [summary]
        definition = definition_of(case)
        for member in seminar.panel:
            description.append(f"{_role_name(member.role, definition)}: {member.user.name}")
        if seminar.online_link:
            description.append(seminar.online_link)
        description.append(f"{base}/cases/{case.id}")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Aksi//Seminar//ID",
        "CALSCALE:GREGORIAN",
        "METHOD:REQUEST",
        "BEGIN:VEVENT",
        f"UID:{seminar.uid}",
        f"SEQUENCE:{seminar.sequence}",
        f"DTSTAMP:{_ics_time(seminar.updated_at or seminar.created_at or utcnow())}",
        f"DTSTART:{_ics_time(seminar.starts_at)}",
        f"DTEND:{_ics_time(seminar.ends_at)}",
        f"SUMMARY:{_ics_escape(summary)}",
        f"LOCATION:{_ics_escape(place_text(seminar))}",
        f"DESCRIPTION:{_ics_escape(chr(10).join(description))}",
        f"URL:{base}/cases/{case.id}",
        f"ORGANIZER;CN={_param(institution.name)}:mailto:{address}",
    ]
    people = [(m.user, "REQ-PARTICIPANT") for m in seminar.panel] + [
        (case.trainee, "REQ-PARTICIPANT")
    ]
    for user, role in people:
        if user.email:
            lines.append(f"ATTENDEE;CN={_param(user.name)};ROLE={role}:mailto:{user.email}")
    lines += [
        "STATUS:CONFIRMED" if seminar.status != "cancelled" else "STATUS:CANCELLED",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return b"\r\n".join(_ics_fold(line) for line in lines) + b"\r\n"


def ics_name(seminar: Seminar) -> str:
    return f"seminar-{seminar.id}.ics"


@mail.extra_for("schedule_seminar")
def _invitation(item: notifications.Item, user: User, lang: str) -> mail.MailExtra | None:
    """The mail of a (re)scheduled seminar: when and where, and the calendar entry."""
    seminar_id = (item.event.data or {}).get("seminar_id") if item.event is not None else None
    seminar = db.session.get(Seminar, seminar_id) if seminar_id else None
    if seminar is None:
        return None
    zone = zone_of(seminar.cohort)
    with force_locale(lang):
        when = span_text(seminar, zone, lang)
        lines = [_("%(kind)s: %(time)s", kind=kind_label(seminar.kind, lang), time=when)]
        if seminar.room:
            lines.append(_("Room: %(room)s", room=seminar.room))
        if seminar.online_link:
            lines.append(_("Online: %(link)s", link=seminar.online_link))
    return mail.MailExtra(
        lines=lines,
        attachments=[
            mail.Attachment(
                filename=ics_name(seminar),
                maintype="text",
                subtype="calendar",
                data=ics(seminar, lang),
                params={"method": "REQUEST", "charset": "utf-8"},
            )
        ],
    )
