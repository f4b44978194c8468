"""Reminders before a deadline and escalations after it, mailed as one daily digest per person.

`flask aksi remind` (cron; every minute is fine) runs collect() and then send_digests().

Who gets what. N = REMIND_DAYS_BEFORE; days are counted in the calendar of the case's
institution (its zone, weekends, national holidays and its extra days off):

- A case's deadline (an open case's due date for its current state):
  * `due_soon` to whoever holds an owner role of the state (draft: the trainee,
    mentor_review: the mentor, evaluation: examiner, coach and mentor, ...) on any day from
    N working days before the due date up to the due date itself. A window, not one exact
    day: a cron that did not run that day still reminds, and the unique key keeps it once.
  * `overdue`, from the day after the due date: to the owners (their task is late) and, as
    an escalation, to the case's mentor and the cohort's organizers.
- A milestone's deadline (cases in a state where milestone activities run, milestones not
  closed): next_due(m) is due_role(m)'s, the trainee's (target date, or the fix date after
  a return) or the mentor's (verify by, once reported). `due_soon` and `overdue` as above,
  to whoever's turn it is; the escalation goes to the mentor, unless the mentor is the one
  late, and to the organizers.

- A campaign's case (a region unit: the profil pekon of one pekon): its state's deadline
  as above, to whoever holds the owner role over the unit (the pekon's operator, the
  kecamatan's camat, DPMP); the escalation goes to the roles that act in the later phases
  of the flow (a late operator: the camat and DPMP; a late camat: DPMP) and, at the last
  step, to whoever launched the campaign. A closed campaign's cases are not reminded.

- A follow-up round's deadline (cases closed as passed, on a definition with `follow_up:`;
  services/followup.py): the alumnus's (report due after a horizon, or the fix after a
  return) or the confirmer's (once reported: the mentor, or who stands in once the mentor
  has moved). `due_soon` and `overdue` to whoever's turn it is; the escalation goes to the
  cohort's organizers. Subject "followup:<case>:<horizon>".

A person is reminded once per deadline and kind, whatever roles they hold (the owner's
role wins). An extended deadline is another due date, so it is reminded of again.

Digests: a person's pending reminders go out together, at most one digest a day (their
local day), not before REMIND_HOUR local time (the zone of the person's institution, else
of the case). Rows are claimed (sent_at, digest_day) and committed before anything is sent,
like mail.py: at most once. A temporary failure releases them for the next run; a reminder
whose deadline moved on before its digest (approved, extended, verified) is dropped unsent.
Each digest is also an in-app notification (kind "reminder").
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale, format_date, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, false, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import aliased, joinedload, selectinload

from ..engine import registry
from ..engine.definitions import Definition
from ..extensions import db
from ..models import (
    Campaign,
    CampaignMember,
    Case,
    CaseAssignment,
    Cohort,
    CohortMember,
    Institution,
    InstitutionHoliday,
    Milestone,
    Notification,
    Program,
    Region,
    Reminder,
    User,
)
from ..models._base import utcnow
from ..permissions import ROLE_LABELS
from . import followup, mail, notifications
from .calendar import add_working_days, working_days_between
from .milestones import due_role, next_due
from .workflow import awaited_roles, signed_roles

DUE_SOON, OVERDUE = "due_soon", "overdue"
ESCALATE_TO = ("mentor", "organizer")
# A campaign case late at the last step escalates to whoever launched the campaign.
LAUNCHER = "admin"
ESCALATION = _l("Escalation: the deadline has passed and %(who)s has not acted yet.")
BATCH_SIZE = 200
INSERT_CHUNK = 500  # rows per INSERT: well under SQLite's bound-parameter limit
RETRIES = 3


def _log() -> logging.Logger:
    logger = logging.getLogger("aksi.reminders")
    logger.disabled = False  # an in-process migration (alembic's fileConfig) disables it
    return logger


# ---------------------------------------------------------------- settings and time


def settings() -> tuple[int, int]:
    """(REMIND_DAYS_BEFORE, REMIND_HOUR), checked: a bad value is a clear ValueError."""
    config = current_app.config
    days, hour = config.get("REMIND_DAYS_BEFORE", 2), config.get("REMIND_HOUR", 7)
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 60:
        raise ValueError(f"REMIND_DAYS_BEFORE must be a whole number from 0 to 60, not {days!r}")
    if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
        raise ValueError(f"REMIND_HOUR must be a whole number from 0 to 23, not {hour!r}")
    return days, hour


def _utc(now: datetime | None) -> datetime:
    """Naive UTC, as stored."""
    if now is None:
        return utcnow()
    if now.tzinfo is not None:
        return now.astimezone(UTC).replace(tzinfo=None)
    return now


def _local(now: datetime, zone: str) -> datetime:
    return now.replace(tzinfo=UTC).astimezone(ZoneInfo(zone))


# ---------------------------------------------------------------- what is owed


@dataclass(frozen=True)
class Due:
    """One reminder owed to one person: the values of a Reminder row."""

    user_id: int
    case_id: int
    milestone_id: int | None
    subject: str
    kind: str
    role: str
    due_date: date

    @property
    def key(self) -> tuple:
        return (self.user_id, self.subject, self.kind, self.due_date)


@dataclass
class Calendar:
    """An institution's today and the last due date that counts as "due soon" today."""

    today: date
    soon_until: date
    days_off: frozenset[date]


def milestone_states(definition: Definition) -> set[str]:
    """States where milestone activities run (implementation)."""
    return {s for a in definition.activities if a.scope == "milestone" for s in a.states}


def _follow_up_states() -> set[str]:
    return {d.follow_up.state for d in registry.all() if d.follow_up is not None}


def followup_subject(case_id: int, horizon: int) -> str:
    return f"followup:{case_id}:{horizon}"


def _followup_key(subject: str) -> tuple[int, int] | None:
    """(case id, horizon) of a follow-up reminder's subject, else None."""
    kind, _, rest = subject.partition(":")
    if kind != "followup":
        return None
    case_id, _, horizon = rest.partition(":")
    return int(case_id), int(horizon)


def _followup_rows(cases: list[Case]) -> dict[int, dict]:
    """{case id: {horizon: round}} for the follow-up rounds of `cases`, in one query."""
    from ..models.followup import FollowUpRound

    out: dict[int, dict] = {}
    ids = sorted({c.id for c in cases})
    if ids:
        for row in db.session.scalars(select(FollowUpRound).where(FollowUpRound.case_id.in_(ids))):
            out.setdefault(row.case_id, {})[row.horizon] = row
    return out


def owner_roles(
    definition: Definition, case: Case, milestone: Milestone | None, signed: set | None = None
) -> tuple:
    """Whose task the deadline is: the state's owners (less who has signed: `signed` from
    signed_roles() for a batch), or the milestone's due role."""
    if milestone is not None:
        role = due_role(milestone)
        return (role,) if role else ()
    return awaited_roles(case, definition, signed)


def _open_cases(now: datetime | None = None):
    """Cases that may have a deadline: a non-terminal state with a due date, a state in
    which milestones are reported, or followed up after a passed result (while a round may
    still be open: up to two years after the last horizon)."""
    clauses = []
    now = now or utcnow()
    for d in registry.all():
        rules = d.follow_up
        if rules is not None:
            since = followup.add_months(now.date(), -(rules.horizons[-1] + 24))
            clauses.append(
                and_(
                    Case.definition_key == d.key,
                    Case.definition_version == d.version,
                    Case.state == rules.state,
                    Case.state_entered_at >= datetime.combine(since, datetime.min.time()),
                )
            )
        open_states = [s.key for s in d.states if not s.terminal]
        with_milestones = sorted(milestone_states(d) & set(open_states))
        if open_states:
            clauses.append(
                and_(
                    Case.definition_key == d.key,
                    Case.definition_version == d.version,
                    Case.state.in_(open_states),
                    or_(Case.due_date.is_not(None), Case.state.in_(with_milestones)),
                )
            )
    closed = select(Campaign.id).where(Campaign.closed_at.is_not(None))
    return select(Case).where(
        or_(*clauses) if clauses else false(),
        or_(Case.campaign_id.is_(None), Case.campaign_id.not_in(closed)),
    )


def escalation_roles(definition: Definition, state: str) -> tuple[str, ...]:
    """Who hears that a region unit's deadline passed: the roles owning states of the
    flow's later phases, else (the last step is late) the campaign's launcher."""
    if definition.subject != "region_unit":
        return ESCALATE_TO
    phases = [p.key for p in definition.phases]
    here = phases.index(definition.state(state).phase)
    later: list[str] = []
    for s in definition.states:
        if phases.index(s.phase) > here:
            later += [r for r in s.owners if r not in later]
    owners = definition.state(state).owners
    later = [r for r in later if r not in owners]
    return tuple(later) or (LAUNCHER,)


def _batches(batch_size: int, now: datetime | None = None) -> Iterator[list[Case]]:
    """Open cases by id, `batch_size` at a time, with what the rules read loaded alongside:
    a fixed number of queries per batch however many cases, milestones or people."""
    last = 0
    while True:
        cases = list(
            db.session.scalars(
                _open_cases(now)
                .where(Case.id > last)
                .order_by(Case.id)
                .limit(batch_size)
                .options(
                    joinedload(Case.cohort)
                    .joinedload(Cohort.program)
                    .joinedload(Program.institution),
                    joinedload(Case.campaign).joinedload(Campaign.institution),
                    joinedload(Case.group),
                    selectinload(Case.milestones),
                    # Who confirms a follow-up depends on these people (active, agency).
                    joinedload(Case.trainee),
                    joinedload(Case.mentor),
                    joinedload(Case.executive),
                )
            ).unique()
        )
        if not cases:
            return
        last = cases[-1].id  # before the caller's commit expires it
        yield cases


class _Context:
    """What the rules need besides the cases, loaded once per batch for the cases in it and
    kept across batches: cohort-wide roles and each institution's calendar."""

    def __init__(self, now: datetime, days_before: int):
        self.now = now
        self.days_before = days_before
        self.members: dict[int, dict[str, set[int]]] = {}
        # Per campaign: (role, region code) -> the members holding the role over it.
        self.campaign_members: dict[int, dict[tuple[str, str], set[int]]] = {}
        self.launchers: dict[int, int | None] = {}
        self.assigned: dict[tuple[int, str], set[int]] = {}
        self.calendars: dict[int, Calendar] = {}

    def load(self, cases: list[Case]) -> None:
        self.signed = signed_roles(cases)
        self.rounds = _followup_rows([c for c in cases if c.state in _follow_up_states()])
        self._load_campaigns(cases)
        cohorts = {c.cohort_id for c in cases if c.cohort_id is not None} - self.members.keys()
        for cid in cohorts:
            self.members[cid] = defaultdict(set)
        if cohorts:
            for cid, role, uid in db.session.execute(
                select(CohortMember.cohort_id, CohortMember.role, CohortMember.user_id).where(
                    CohortMember.cohort_id.in_(cohorts)
                )
            ):
                self.members[cid][role].add(uid)
        institutions = {c.institution for c in cases}
        new = {i.id: i for i in institutions if i.id not in self.calendars}
        if new:
            days_off = defaultdict(set)
            for iid, day in db.session.execute(
                select(InstitutionHoliday.institution_id, InstitutionHoliday.day).where(
                    InstitutionHoliday.institution_id.in_(new)
                )
            ):
                days_off[iid].add(day)
            for iid, institution in new.items():
                off = frozenset(days_off[iid])
                today = _local(self.now, institution.timezone).date()
                # Due soon while at most N working days remain: up to the day before the
                # (N+1)th working day after today.
                until = add_working_days(today, self.days_before + 1, off) - timedelta(days=1)
                self.calendars[iid] = Calendar(today, until, off)

    def _load_campaigns(self, cases: list[Case]) -> None:
        """The members of the batch's campaigns (once per campaign, kept across batches)
        and the people named on its cases: two queries per batch at most."""
        new = {c.campaign_id for c in cases if c.campaign_id is not None}
        new -= self.campaign_members.keys()
        for cid in new:
            self.campaign_members[cid] = defaultdict(set)
        if new:
            for cid, role, code, uid in db.session.execute(
                select(
                    CampaignMember.campaign_id,
                    CampaignMember.role,
                    CampaignMember.region_code,
                    CampaignMember.user_id,
                ).where(CampaignMember.campaign_id.in_(new))
            ):
                self.campaign_members[cid][(role, code)].add(uid)
            for cid, uid in db.session.execute(
                select(Campaign.id, Campaign.created_by_id).where(Campaign.id.in_(new))
            ):
                self.launchers[cid] = uid
        self.assigned = defaultdict(set)
        ids = [c.id for c in cases if c.campaign_id is not None]
        if ids and any(registry.role_assignment(r) == "case" for r in registry.roles()):
            for case_id, role, uid in db.session.execute(
                select(CaseAssignment.case_id, CaseAssignment.role, CaseAssignment.user_id).where(
                    CaseAssignment.case_id.in_(ids)
                )
            ):
                self.assigned[(case_id, role)].add(uid)

    def _declared_holders(self, case: Case, role: str) -> set[int]:
        """notifications.declared_holders() from what load() read: the members whose region
        is the unit or holds it (each prefix of its code), or the people named on it."""
        if role == LAUNCHER:
            uid = self.launchers.get(case.campaign_id)
            return {uid} if uid else set()
        if registry.role_assignment(role) == "case":
            return set(self.assigned.get((case.id, role), set()))
        members = self.campaign_members.get(case.campaign_id)
        if not members or not case.region_code:
            return set()
        parts = case.region_code.split(".")
        ids: set[int] = set()
        for i in range(1, len(parts) + 1):
            ids |= members.get((role, ".".join(parts[:i])), set())
        return ids

    def holders(self, case: Case, role: str) -> set[int]:
        """notifications.holders() without a query per case: the cohort's members are loaded
        for the whole batch."""
        if case.campaign_id is not None:
            return self._declared_holders(case, role)
        if role in ("trainee", "mentor", "executive"):
            uid = getattr(case, f"{role}_id")
            return {uid} if uid else set()
        ids: set[int] = set()
        if role in ("coach", "examiner") and case.group is not None:
            uid = getattr(case.group, f"{role}_id")
            if uid:
                ids.add(uid)
        return ids | self.members[case.cohort_id].get(role, set())

    def owed(self, case: Case) -> list[Due]:
        definition = registry.get(case.definition_key, case.definition_version)
        calendar = self.calendars[case.institution.id]
        out: list[Due] = []
        if case.due_date is not None and not definition.state(case.state).terminal:
            out += self._deadline(
                case,
                None,
                case.due_date,
                owner_roles(definition, case, None, self.signed.get(case.id, set())),
                calendar,
                escalate_to=escalation_roles(definition, case.state),
            )
        if case.state in milestone_states(definition):
            for m in case.milestones:
                due = next_due(m)
                if due is not None:
                    out += self._deadline(case, m, due, owner_roles(definition, case, m), calendar)
        rules = definition.follow_up
        if rules is not None and case.state == rules.state:
            out += self._follow_up(case, rules, calendar)
        return out

    def _follow_up(self, case: Case, rules, calendar: Calendar) -> list[Due]:
        zone = case.cohort.program.institution.timezone
        rounds = followup.plan_rounds(
            rules,
            followup.completed_on(case, zone),
            self.rounds.get(case.id, {}),
            calendar.today,
            calendar.days_off,
        )
        out: list[Due] = []
        for rnd in rounds:
            if rnd.turn is None or rnd.due is None:
                continue
            role = "trainee" if rnd.turn == "trainee" else followup.confirmer_role(case)
            out += self._deadline(
                case,
                None,
                rnd.due,
                (role,),
                calendar,
                subject=followup_subject(case.id, rnd.horizon),
                escalate_to=("organizer",),
            )
        return out

    def _deadline(
        self,
        case,
        milestone,
        due: date,
        owners: tuple,
        calendar: Calendar,
        subject: str | None = None,
        escalate_to: tuple = ESCALATE_TO,
    ):
        if due < calendar.today:
            kind = OVERDUE
        elif due <= calendar.soon_until:
            kind = DUE_SOON
        else:
            return []
        people: dict[int, str] = {}
        for role in owners:
            for uid in sorted(self.holders(case, role)):
                people.setdefault(uid, role)
        if kind == OVERDUE:
            for role in escalate_to:
                for uid in sorted(self.holders(case, role)):
                    people.setdefault(uid, role)
        if subject is None:
            subject = f"milestone:{milestone.id}" if milestone is not None else f"case:{case.id}"
        return [
            Due(
                user_id=uid,
                case_id=case.id,
                milestone_id=milestone.id if milestone is not None else None,
                subject=subject,
                kind=kind,
                role=role,
                due_date=due,
            )
            for uid, role in people.items()
        ]


def _existing(case_ids: Iterable[int]) -> set[tuple]:
    """Keys of the reminders already queued for these cases (on ix_reminders_case_id)."""
    ids = sorted(set(case_ids))
    if not ids:
        return set()
    return {
        tuple(row)
        for row in db.session.execute(
            select(Reminder.user_id, Reminder.subject, Reminder.kind, Reminder.due_date).where(
                Reminder.case_id.in_(ids)
            )
        )
    }


def _new_in(cases: list[Case], context: _Context) -> list[Due]:
    owed = [d for case in cases for d in context.owed(case)]
    have = _existing(d.case_id for d in owed)
    return [d for d in owed if d.key not in have]


def plan(now: datetime | None = None, *, batch_size: int = BATCH_SIZE) -> list[Due]:
    """The reminders collect() would queue now; writes nothing."""
    days_before, _hour = settings()
    context = _Context(_utc(now), days_before)
    planned = []
    for cases in _batches(batch_size, context.now):
        context.load(cases)
        planned += _new_in(cases, context)
    return planned


def collect(now: datetime | None = None, *, batch_size: int = BATCH_SIZE) -> int:
    """Queue the reminders owed now and not queued yet; returns how many were queued. Safe
    to run any number of times, also two at once: the unique key (user, subject, kind, due
    date) is the arbiter and a duplicate is skipped, never an error. Commits once per batch;
    call it with no other work pending."""
    days_before, _hour = settings()
    now = _utc(now)
    context = _Context(now, days_before)
    queued = 0
    for cases in _batches(batch_size, context.now):
        context.load(cases)
        new = _new_in(cases, context)
        db.session.commit()  # end the read before writing (SQLite takes its lock then)
        for attempt in range(RETRIES):
            try:
                queued += _insert(new, now)
                db.session.commit()
                break
            except (IntegrityError, OperationalError) as exc:
                # Another run got there first (a dialect without ON CONFLICT) or holds
                # SQLite's write lock: look again at what is queued and try once more.
                db.session.rollback()
                lost_race = isinstance(exc, IntegrityError) or "locked" in str(exc.orig).lower()
                if not lost_race or attempt == RETRIES - 1:
                    raise
                _log().info("reminders: retrying a batch after %s", type(exc).__name__)
                time.sleep(0.2 * (attempt + 1))
                have = _existing(d.case_id for d in new)
                new = [d for d in new if d.key not in have]
    return queued


def _insert(rows: list[Due], now: datetime) -> int:
    """Insert, skipping rows another run inserted meanwhile (ON CONFLICT DO NOTHING)."""
    if not rows:
        return 0
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as insert_into
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as insert_into
    else:  # another database: a duplicate raises IntegrityError and collect() retries
        insert_into = insert
    inserted = 0
    for start in range(0, len(rows), INSERT_CHUNK):
        values = [
            {
                "user_id": d.user_id,
                "case_id": d.case_id,
                "milestone_id": d.milestone_id,
                "subject": d.subject,
                "kind": d.kind,
                "role": d.role,
                "due_date": d.due_date,
                "created_at": now,
            }
            for d in rows[start : start + INSERT_CHUNK]
        ]
        statement = insert_into(Reminder).values(values)
        if dialect in ("postgresql", "sqlite"):
            statement = statement.on_conflict_do_nothing()
        inserted += len(db.session.execute(statement.returning(Reminder.id)).all())
    return inserted


# ---------------------------------------------------------------- digests


@dataclass
class DigestOutcome(mail.Outcome):
    """Digests (sent/logged/failed/refused count digests, not reminders)."""

    in_app: int = 0  # digests for people without an address: the inbox only
    items: int = 0  # reminders that went out in a digest
    dropped: int = 0  # reminders whose deadline moved on before their digest: not sent


@dataclass
class RunOutcome:
    queued: int
    digests: DigestOutcome


@dataclass
class _Item:
    """One line of a digest, as plain values: they outlive the commit of the claim."""

    id: int
    kind: str
    due_date: date
    case_id: int
    title: str
    trainee_id: int | None
    trainee_name: str | None
    definition: Definition | None
    state: str
    milestone_status: str | None
    milestone_activity: str
    escalation: bool
    current: bool
    institution_id: int
    today: date  # in the case's institution
    # A follow-up round's reminder: its horizon, and whose turn ("trainee" or the confirmer's
    # role) and the round's status.
    followup_horizon: int | None = None
    followup_role: str | None = None
    followup_status: str | None = None


@dataclass
class _Digest:
    user_id: int
    name: str
    email: str | None
    lang: str
    active: bool
    zone: str
    items: list[_Item] = field(default_factory=list)


def _definition(case: Case) -> Definition | None:
    try:
        return registry.get(case.definition_key, case.definition_version)
    except LookupError:  # a definition no longer loaded
        return None


def _current(reminder: Reminder, case: Case, milestone, definition, today: date) -> bool:
    """Is the reminder's deadline still the one in force, and still of its kind?"""
    if definition is None or definition.state(case.state).terminal:
        return False
    if reminder.milestone_id is not None:
        if milestone is None or case.state not in milestone_states(definition):
            return False
        due = next_due(milestone)
    else:
        due = case.due_date
    if due != reminder.due_date:
        return False
    return reminder.kind == OVERDUE or due >= today


def _pending(now: datetime) -> list[_Digest]:
    """Every pending reminder with its case, milestone and the zones, by person: one query."""
    trainee, user_institution = aliased(User), aliased(Institution)
    # A participant's case reaches its institution through the cohort, a region unit's
    # through the campaign; the unit's name stands for the title it does not have.
    rows = db.session.execute(
        select(
            Reminder,
            User,
            Case,
            Milestone,
            trainee.name,
            Institution.id,
            Institution.timezone,
            user_institution.timezone,
            Region.name,
        )
        .join(User, User.id == Reminder.user_id)
        .join(Case, Case.id == Reminder.case_id)
        .outerjoin(trainee, trainee.id == Case.trainee_id)
        .outerjoin(Cohort, Cohort.id == Case.cohort_id)
        .outerjoin(Program, Program.id == Cohort.program_id)
        .outerjoin(Campaign, Campaign.id == Case.campaign_id)
        .join(
            Institution,
            Institution.id == func.coalesce(Program.institution_id, Campaign.institution_id),
        )
        .outerjoin(Region, Region.id == Case.region_id)
        .outerjoin(Milestone, Milestone.id == Reminder.milestone_id)
        .outerjoin(user_institution, user_institution.id == User.institution_id)
        .where(Reminder.sent_at.is_(None))
        .order_by(Reminder.user_id, Reminder.due_date, Reminder.id)
        .options(joinedload(Case.mentor), joinedload(Case.executive), joinedload(Case.trainee))
    ).all()
    digests: dict[int, _Digest] = {}
    signed = signed_roles({row[2] for row in rows})
    following = [row for row in rows if _followup_key(row[0].subject)]
    rounds = _followup_rows([row[2] for row in following])
    days_off = _days_off({row[5] for row in following})
    for reminder, user, case, milestone, trainee_name, iid, case_zone, user_zone, unit in rows:
        digest = digests.get(user.id)
        if digest is None:
            digest = digests[user.id] = _Digest(
                user_id=user.id,
                name=user.name,
                email=user.email,
                lang=user.locale if user.locale in notifications.LANGS else "id",
                active=user.active,
                zone=user_zone or case_zone,
            )
        definition = _definition(case)
        today = _local(now, case_zone).date()
        key = _followup_key(reminder.subject)
        extra = {}
        if key is not None:
            rnd = _followup_round(case, definition, key[1], rounds, today, days_off[iid], case_zone)
            role = None
            if rnd is not None and rnd.turn is not None:
                role = "trainee" if rnd.turn == "trainee" else followup.confirmer_role(case)
            current = (
                rnd is not None
                and role is not None
                and rnd.due == reminder.due_date
                and (reminder.kind == OVERDUE or rnd.due >= today)
            )
            owners = (role,) if current else ()
            extra = {
                "followup_horizon": key[1],
                "followup_role": role or "trainee",
                "followup_status": rnd.status if rnd is not None else None,
            }
        else:
            current = _current(reminder, case, milestone, definition, today)
            owners = owner_roles(definition, case, milestone, signed[case.id]) if current else ()
        digest.items.append(
            _Item(
                id=reminder.id,
                kind=reminder.kind,
                due_date=reminder.due_date,
                case_id=case.id,
                title=(case.title or "").strip() or (unit or ""),
                trainee_id=case.trainee_id,
                trainee_name=trainee_name,
                definition=definition,
                state=case.state,
                milestone_status=milestone.status if milestone is not None else None,
                milestone_activity=milestone.activity if milestone is not None else "",
                escalation=reminder.kind == OVERDUE and reminder.role not in owners,
                current=current,
                institution_id=iid,
                today=today,
                **extra,
            )
        )
    return list(digests.values())


def _followup_round(case, definition, horizon, rounds, today, days_off, zone):
    """The case's follow-up round at `horizon` as it stands today, or None."""
    if definition is None or definition.follow_up is None:
        return None
    rules = definition.follow_up
    if case.state != rules.state:
        return None
    plan = followup.plan_rounds(
        rules, followup.completed_on(case, zone), rounds.get(case.id, {}), today, days_off
    )
    return next((r for r in plan if r.horizon == horizon), None)


def _claim(ids: list[int], day: date, users: list[int], now: datetime) -> list[int]:
    """Mark the rows as sent in the digest of `day` unless one of their persons had a digest
    that day already; committed by the caller before anything is sent. The persons' rows are
    locked first (PostgreSQL), so two runs at once cannot both send someone a digest today."""
    if not ids:
        return []
    db.session.execute(
        select(User.id).where(User.id.in_(users)).order_by(User.id).with_for_update(key_share=True)
    ).all()
    earlier = aliased(Reminder)
    return list(
        db.session.scalars(
            update(Reminder)
            .where(
                Reminder.id.in_(ids),
                Reminder.sent_at.is_(None),
                ~exists().where(earlier.user_id == Reminder.user_id, earlier.digest_day == day),
            )
            .values(sent_at=now, digest_day=day)
            .returning(Reminder.id)
            .execution_options(synchronize_session=False)
        )
    )


def _drop(ids: list[int], now: datetime) -> int:
    """Reminders no longer due are marked sent in no digest (digest_day stays empty)."""
    if not ids:
        return 0
    result = db.session.execute(
        update(Reminder)
        .where(Reminder.id.in_(ids), Reminder.sent_at.is_(None))
        .values(sent_at=now, digest_day=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def _release(ids: list[int]) -> None:
    if ids:
        db.session.execute(
            update(Reminder)
            .where(Reminder.id.in_(ids))
            .values(sent_at=None, digest_day=None)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()


def send_digests(now: datetime | None = None) -> DigestOutcome:
    """Mail each person with pending reminders one digest, if they had none today and it is
    REMIND_HOUR or later where they are. Commits its own claims; call it with no other work
    pending."""
    _days_before, hour = settings()
    now = _utc(now)
    outcome = DigestOutcome()
    digests = _pending(now)
    if not digests:
        return outcome
    ready: list[tuple[_Digest, date]] = []
    stale: list[int] = []
    for digest in digests:
        if not digest.active:
            stale += [i.id for i in digest.items]
            continue
        stale += [i.id for i in digest.items if not i.current]
        digest.items = [i for i in digest.items if i.current]
        local = _local(now, digest.zone)
        if digest.items and local.hour >= hour:
            ready.append((digest, local.date()))
    outcome.dropped = _drop(stale, now)
    by_day: dict[date, list[_Digest]] = defaultdict(list)
    for digest, day in ready:
        by_day[day].append(digest)
    claimed: set[int] = set()
    for day, group in sorted(by_day.items()):
        ids = [i.id for d in group for i in d.items]
        claimed.update(_claim(ids, day, sorted(d.user_id for d in group), now))
    db.session.commit()
    sending = []
    for digest, _day in ready:
        digest.items = [i for i in digest.items if i.id in claimed]
        if digest.items:
            sending.append(digest)
    if not sending:
        return outcome
    done: set[int] = set()
    try:
        _send(sending, now, outcome, done)
    finally:
        # Whatever was claimed and not delivered (a dead server, a bug) goes back to pending.
        failed = [d for d in sending if d.user_id not in done]
        outcome.failed = len(failed)
        if failed:
            db.session.rollback()
            _release([i.id for d in failed for i in d.items])
    return outcome


def _send(sending: list[_Digest], now: datetime, outcome: DigestOutcome, done: set[int]) -> None:
    days_off = _days_off({i.institution_id for d in sending for i in d.items})
    messages = []
    for digest in sending:
        if not digest.email:
            outcome.in_app += 1
            done.add(digest.user_id)
            continue
        try:
            body, subject = compose(digest, days_off)
            message = mail.new_message(digest.email, subject, body, digest.lang)
        except Exception as exc:  # noqa: BLE001 - e.g. an address the header parser chokes on
            _log().warning(
                "reminder digest of user %d not composed, dropped: %s", digest.user_id, exc
            )
            outcome.refused += 1
            done.add(digest.user_id)
            continue
        messages.append((digest.user_id, message))
    for user_id, result in mail.send_messages(messages, "the reminder digest of user").items():
        if result == mail.SENT:
            outcome.sent += 1
        elif result == mail.LOGGED:
            outcome.logged += 1
        elif result == mail.REFUSED:
            outcome.refused += 1
        if result != mail.FAILED:
            done.add(user_id)
    # The inbox has each digest too; emailed_at is set, the digest having been the mail.
    # One executemany, not an ORM flush of one INSERT per person.
    notes = []
    for digest in sending:
        if digest.user_id in done:
            outcome.items += len(digest.items)
            cases = {i.case_id for i in digest.items}
            notes.append(
                {
                    "user_id": digest.user_id,
                    "case_id": cases.pop() if len(cases) == 1 else None,
                    "event_id": None,
                    "kind": "reminder",
                    "message": summary(digest.items, digest.lang),
                    "created_at": now,
                    "emailed_at": now,
                }
            )
    if notes:
        db.session.execute(insert(Notification), notes)
    db.session.commit()


def _days_off(institution_ids: set[int]) -> dict[int, frozenset[date]]:
    days: dict[int, set[date]] = defaultdict(set)
    if institution_ids:
        for iid, day in db.session.execute(
            select(InstitutionHoliday.institution_id, InstitutionHoliday.day).where(
                InstitutionHoliday.institution_id.in_(institution_ids)
            )
        ):
            days[iid].add(day)
    return {iid: frozenset(days[iid]) for iid in institution_ids}


def summary(items: list[_Item], lang: str) -> str:
    """One line for the subject and the in-app notification, in `lang`."""
    with force_locale(lang):
        text = _("Deadline reminder (%(n)d)", n=len(items))
        if any(i.escalation for i in items):
            text += " — " + _("Escalation")
    return text


def _what(item: _Item, lang: str) -> str:
    if item.followup_horizon is not None:
        n = item.followup_horizon
        if item.followup_role != "trainee":
            return _("Follow-up report to confirm: %(n)d months after graduation", n=n)
        if item.followup_status == "returned":
            return _("Follow-up report returned for correction: %(n)d months", n=n)
        return _("Follow-up report due: %(n)d months after graduation", n=n)
    if item.milestone_status is None:
        state = item.definition.state(item.state).labels.get(lang)
        return _("Status: %(state)s", state=state)
    activity = item.milestone_activity
    if item.milestone_status == "reported":
        return _("Milestone report to verify: %(activity)s", activity=activity)
    if item.milestone_status == "returned":
        return _("Milestone returned for correction: %(activity)s", activity=activity)
    return _("Milestone to report on: %(activity)s", activity=activity)


def _when(due: date, today: date, days_off: frozenset[date]) -> str:
    if due > today:
        n = working_days_between(today, due, days_off)
        return ngettext("in %(num)d working day", "in %(num)d working days", n)
    if due == today:
        return _("today")
    n = working_days_between(due, today, days_off)
    if n < 1:  # past a due date on a weekend or holiday: no working day lost yet
        return _("past due")
    return ngettext("%(num)d working day late", "%(num)d working days late", n)


def _who(item: _Item) -> str:
    """The role(s) whose turn it was, for the escalation line."""
    if item.followup_horizon is not None:
        roles = (item.followup_role,)
    elif item.milestone_status is not None:
        roles = ("mentor",) if item.milestone_status == "reported" else ("trainee",)
    else:
        roles = item.definition.state(item.state).owners
    lang = str(get_locale() or "id")
    definition = item.definition
    return ", ".join(
        definition.role_label(r, lang)
        if definition is not None and definition.role_spec(r) is not None
        else str(ROLE_LABELS.get(r, r))
        for r in roles
    )


def compose(digest: _Digest, days_off: dict) -> tuple[str, str]:
    """(body, subject) of one digest, in the person's language: escalations and overdue
    first, then by due date."""
    items = sorted(
        digest.items, key=lambda i: (i.kind != OVERDUE, not i.escalation, i.due_date, i.id)
    )
    with force_locale(digest.lang):
        lines = [
            _("Hello %(name)s,", name=digest.name),
            "",
            _("These deadlines need your attention:"),
        ]
        for number, item in enumerate(items, 1):
            title = item.title or _("Case %(id)s", id=item.case_id)
            when = _when(item.due_date, item.today, days_off.get(item.institution_id, frozenset()))
            lines += ["", f"{number}. {title}"]
            if item.trainee_id is not None and item.trainee_id != digest.user_id:
                lines.append("   " + _("Trainee: %(name)s", name=item.trainee_name))
            lines.append("   " + _what(item, digest.lang))
            lines.append(f"   {_('Due')}: {format_date(item.due_date, 'long')} ({when})")
            if item.escalation:
                lines.append("   " + str(ESCALATION % {"who": _who(item)}))
            lines.append("   " + mail.case_url(item.case_id))
        lines += [
            "",
            "-- ",
            _("Aksi · this message was sent automatically; replies are not read."),
        ]
        subject = "[Aksi] " + summary(items, digest.lang)
    return "\n".join(lines) + "\n", subject


def run(now: datetime | None = None, *, batch_size: int = BATCH_SIZE) -> RunOutcome:
    """collect() then send_digests(): what `flask aksi remind` does."""
    now = _utc(now)
    queued = collect(now, batch_size=batch_size)
    return RunOutcome(queued=queued, digests=send_digests(now))
