"""perform(): the one door through which every case changes state."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from ..engine import Outcome, evaluate, registry
from ..engine.activities import ACTIVITIES, ActivityContext
from ..engine.definitions import Activity, Definition, Transition
from ..engine.guards import EFFECTS, GUARDS
from ..engine.machine import approval_step
from ..extensions import db
from ..models import (
    Approval,
    AuditEvent,
    Campaign,
    Case,
    Institution,
    InstitutionHoliday,
    Program,
    Seminar,
    StateVisit,
    User,
)
from ..models._base import utcnow
from ..permissions import roles_and_principals
from . import mail, notifications
from .audit import chain_event
from .calendar import add_working_days, local_date, working_days_between
from .errors import Blocked, Conflict, Forbidden, NotAvailable

FIELD_ERRORS = {
    "required": _l("%(field)s is required."),
    "too_long": _l("%(field)s is too long."),
    "bad_date": _l("%(field)s must be a date (YYYY-MM-DD)."),
    "bad_number": _l("%(field)s must be a number."),
    "bad_choice": _l("%(field)s has an unknown choice."),
}
COMMENT_MAX = 5000
CONFLICT = _l("Someone else changed this case meanwhile. Reload it and try again.")


@contextmanager
def versioned_write(conflict_message):
    """Commit what the block wrote to a versioned case, or roll all of it back: a lost race
    (the version moved, or SQLite's "database is locked") becomes Conflict."""
    try:
        yield
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(conflict_message) from None
    except OperationalError as exc:
        db.session.rollback()
        if "locked" in str(exc.orig).lower():
            raise Conflict(conflict_message) from None
        raise
    except Exception:
        db.session.rollback()
        raise


def definition_of(case: Case) -> Definition:
    return registry.get(case.definition_key, case.definition_version)


def cohort_definition(cohort) -> Definition:
    """The version of its definition a cohort's new cases start on (the newest if unset)."""
    if cohort.definition_version is None:
        return registry.latest(cohort.definition_key)
    return registry.get(cohort.definition_key, cohort.definition_version)


def start_case(cohort, trainee: User, **attrs) -> Case:
    """A new case on the cohort's version of its definition. The caller commits."""
    definition = cohort_definition(cohort)
    case = Case(
        cohort=cohort,
        trainee=trainee,
        definition_key=definition.key,
        definition_version=definition.version,
        state=definition.initial,
        state_entered_at=utcnow(),
        **attrs,
    )
    case.due_date = due_date_for(case, definition, definition.initial, case.state_entered_at)
    db.session.add(case)
    return case


def extra_days_off(institution_id: int) -> frozenset[date]:
    return frozenset(
        db.session.scalars(
            db.select(InstitutionHoliday.day).where(
                InstitutionHoliday.institution_id == institution_id
            )
        )
    )


def due_date_for(
    case: Case,
    definition: Definition,
    state: str,
    entered: datetime,
    calendar: tuple[str, frozenset[date]] | None = None,
) -> date | None:
    sla = definition.state(state).sla
    if sla is None:
        return None
    if sla.until:
        return case.container.phase_date(sla.until)
    zone, days_off = calendar or zone_and_days_off(case.container)
    return add_working_days(local_date(entered, zone), sla.working_days, days_off)


def leave_state(
    case: Case, now: datetime, calendar: tuple[str, frozenset[date]] | None = None
) -> StateVisit:
    """The finished stay in the case's current state, in working days of its cohort."""
    zone, days_off = calendar or zone_and_days_off(case.container)
    days = working_days_between(
        local_date(case.state_entered_at, zone), local_date(now, zone), days_off
    )
    return StateVisit(
        case_id=case.id,
        cohort_id=case.cohort_id,
        state=case.state,
        entered_at=case.state_entered_at,
        left_at=now,
        working_days=max(days, 0),
    )


def zone_and_days_off(cohort) -> tuple[str, frozenset[date]]:
    """The cohort's (or campaign's) institution's zone and extra days off, in one query
    rather than loading the program, the institution and then its holidays (three)."""
    if isinstance(cohort, Campaign):
        institution = cohort.institution
        return institution.timezone, extra_days_off(institution.id)
    if cohort.program_id is not None:
        rows = db.session.execute(
            db.select(Institution.timezone, InstitutionHoliday.day)
            .select_from(Program)
            .join(Institution, Institution.id == Program.institution_id)
            .outerjoin(InstitutionHoliday, InstitutionHoliday.institution_id == Institution.id)
            .where(Program.id == cohort.program_id)
        ).all()
        if rows:
            return rows[0].timezone, frozenset(r.day for r in rows if r.day is not None)
    institution = cohort.program.institution  # not flushed yet: walk the objects
    return institution.timezone, extra_days_off(institution.id)


def check_input(
    transition: Transition, comment: str | None, data: dict | None
) -> tuple[str, dict, dict[str, str]]:
    """Clean the comment and collected fields; returns (comment, data, field errors)."""
    errors: dict[str, str] = {}
    comment = (comment or "").strip()
    if transition.comment == "required" and not comment:
        errors["comment"] = str(_l("A comment is required for this action."))
    if len(comment) > COMMENT_MAX:
        errors["comment"] = str(
            _l("The comment is too long (at most %(n)d characters).", n=COMMENT_MAX)
        )
    if transition.comment == "none":
        comment = ""
    data = data if isinstance(data, dict) else {}
    cleaned = {}
    from flask_babel import get_locale

    lang = str(get_locale() or "id")
    for spec in transition.fields:
        value, problem = spec.clean(data.get(spec.name), lang)
        if problem:
            errors[spec.name] = str(FIELD_ERRORS[problem] % {"field": spec.labels.get(lang)})
        elif value is not None:
            cleaned[spec.name] = value
    return comment, cleaned, errors


def checked_input(spec: Transition | Activity, comment, data) -> tuple[str, dict]:
    """The clean comment and fields, or Blocked with a message beside each bad field."""
    clean_comment, clean_data, field_errors = check_input(spec, comment, data)
    if field_errors:
        raise Blocked(
            _l("Some fields need your attention."), list(field_errors.values()), field_errors
        )
    return clean_comment, clean_data


def blocking_reasons(case: Case, definition: Definition, transition: Transition) -> list:
    """The reasons of the first guard that blocks. Guards run in their declared order and a
    later one may rely on the earlier ones (no "below the pass mark" while scores are missing)."""
    for name in transition.guards:
        reasons = GUARDS[name](case, definition)
        if reasons:
            return list(reasons)
    return []


def choose(case: Case, definition: Definition, candidates: list[Transition]):
    """The first candidate whose guards all pass, else the fewest reasons that block."""
    best: list | None = None
    for t in candidates:
        reasons = blocking_reasons(case, definition, t)
        if not reasons:
            return t, []
        if best is None or len(reasons) < len(best):
            best = reasons
    return None, best or []


def perform(
    case: Case,
    trigger: str,
    actor: User,
    *,
    comment: str | None = None,
    data: dict | None = None,
    expected_version: int | None = None,
    files: list | None = None,
) -> AuditEvent:
    """Fire `trigger` on `case` as `actor`, or raise a typed refusal having written nothing.
    A trigger may also name an activity of the definition (an action that keeps the state):
    it passes the same checks and leaves the same audit trail."""
    definition = definition_of(case)
    activity = definition.activity(trigger)
    if activity is not None:
        return _perform_activity(
            case, definition, activity, actor, comment, data, expected_version, files or []
        )
    # Only the roles this trigger admits matter here; looking for no others saves queries.
    admitted = {r for t in definition.candidates(case.state, trigger) for r in t.roles}
    own, acting = roles_and_principals(actor, case, among=admitted)
    roles = own | set(acting)
    outcome = evaluate(definition, case.state, trigger, roles)
    if outcome is Outcome.NOT_AVAILABLE:
        raise NotAvailable(_l("This action is not available in the current state."))
    if outcome is Outcome.FORBIDDEN:
        raise Forbidden(_l("You may not take this action on this case."))
    if expected_version is not None and expected_version != case.version:
        raise Conflict(CONFLICT)
    candidates = [t for t in definition.candidates(case.state, trigger) if roles & set(t.roles)]
    clean_comment, clean_data = checked_input(candidates[0], comment, data)
    reasons_form = definition.form(candidates[0].form_reasons or "")
    if reasons_form is not None:
        from . import forms as data_forms

        # Returned with a reason beside each field that needs fixing (Blocked when none).
        clean_data["reasons"] = data_forms.clean_reasons(reasons_form, data)
    transition, reasons = choose(case, definition, candidates)
    if transition is None:
        raise Blocked(_l("This action is blocked."), reasons)
    # Acting as Plt./Plh. only when no role of one's own admits this transition.
    on_behalf_of_id = None
    if not own & set(transition.roles):
        on_behalf_of_id = next(acting[r] for r in transition.roles if r in acting)
    if transition.approval == "all":
        mine, waiting = approval_step(transition, set(approvals_so_far(case, transition)), roles)
        if not mine:
            raise NotAvailable(_l("You have already approved; the others have not yet."))
        if waiting:
            return _record_approval(
                case, transition, actor, on_behalf_of_id, mine, waiting, clean_comment, clean_data
            )
    # The last signature of an all-roles step is kept as a signature too.
    signing = mine if transition.approval == "all" else set()

    machine = registry.machine(case.definition_key, case.definition_version)
    source = case.state
    now = utcnow()
    with versioned_write(CONFLICT):
        # No autoflush while the case changes: the queries below (holidays, scores) would
        # otherwise flush a half-changed case, UPDATE it twice and bump its version twice.
        with db.session.no_autoflush:
            dest = machine.fire(source, transition)
            calendar = zone_and_days_off(case.container)
            due = due_date_for(case, definition, dest, now, calendar)
            for name in transition.effects:
                EFFECTS[name](case, definition)
            visit = leave_state(case, now, calendar)
            # Taken before the move: they belong to the stay that ends here.
            signatures = _signatures(case, transition.trigger, signing)
            case.state = dest
            case.state_entered_at = now
            case.due_date = due
            event = chain_event(
                case,
                AuditEvent(
                    actor_id=actor.id,
                    on_behalf_of_id=on_behalf_of_id,
                    trigger=trigger,
                    from_state=source,
                    to_state=dest,
                    comment=clean_comment,
                    data=clean_data,
                    created_at=now,
                ),
            )
        # The versioned UPDATE goes first, alone: a lost race fails here as StaleDataError
        # (after waiting on the winner's lock) instead of on the event's (case, seq) key.
        db.session.flush()
        db.session.add_all([event, visit])
        for row in signatures:
            row.event = event
            row.created_at = now
        db.session.add_all(signatures)
        db.session.flush()
        if reasons_form is not None:
            data_forms.record_reasons(case, reasons_form, clean_data["reasons"], actor, now)
        seminar_kind = definition.state(source).seminar
        if seminar_kind and dest != source:
            _cancel_unheld_seminars(case, seminar_kind, now)
        notes = notifications.queue_for_event(case, definition, event, actor, transition)
        event_id = event.id
    if notes:
        # After the commit, so a mail never announces an action that did not happen;
        # best effort, so a mail problem never fails the action.
        mail.deliver_for_event(event_id)
    return event


def _cancel_unheld_seminars(case: Case, kind: str, now: datetime) -> None:
    """A case that leaves its seminar state (withdrawn, report returned, deferred) before the
    seminar is held frees the room and the panel: the seminar is cancelled."""
    db.session.execute(
        db.update(Seminar)
        .where(
            Seminar.case_id == case.id,
            Seminar.kind == kind,
            Seminar.status == "scheduled",
            Seminar.outcome.is_(None),
        )
        .values(status="cancelled", updated_at=now)
        .execution_options(synchronize_session="fetch")
    )


def approvals_so_far(case: Case, transition: Transition) -> dict[str, AuditEvent]:
    """Who has signed an all-roles transition during the case's current stay in its state:
    role → the signature's audit event."""
    rows = db.session.execute(
        db.select(Approval.role, AuditEvent)
        .join(AuditEvent, AuditEvent.id == Approval.event_id)
        .where(
            Approval.case_id == case.id,
            Approval.state == case.state,
            Approval.entered_at == case.state_entered_at,
            Approval.trigger == transition.trigger,
        )
        .order_by(AuditEvent.seq)
    ).all()
    return {role: event for role, event in rows}


def signed_roles(cases) -> dict[int, set[str]]:
    """For many cases at once (one query): the roles that have signed an all-roles step in
    each case's current stay."""
    by_id = {c.id: c for c in cases if c.id is not None}
    out: dict[int, set[str]] = {i: set() for i in by_id}
    if not by_id:
        return out
    rows = db.session.execute(
        db.select(Approval.case_id, Approval.state, Approval.entered_at, Approval.role).where(
            Approval.case_id.in_(list(by_id))
        )
    )
    for case_id, state, entered_at, role in rows:
        case = by_id[case_id]
        if state == case.state and entered_at == case.state_entered_at:
            out[case_id].add(role)
    return out


def awaited_roles(
    case: Case, definition: Definition | None = None, signed: set[str] | None = None
) -> tuple[str, ...]:
    """Who must act now: the state's owners, less any whose signature on an all-roles step
    of this stay is already given (the coach who approved waits for the mentor). `signed`:
    from signed_roles(), when many cases are looked at."""
    definition = definition or definition_of(case)
    owners = definition.state(case.state).owners
    if case.id is None or not any(
        t.approval == "all" for t in definition.transitions_from(case.state)
    ):
        return tuple(owners)
    if signed is None:
        signed = signed_roles([case])[case.id]
    return tuple(r for r in owners if r not in signed)


def _signatures(case: Case, trigger: str, roles: set[str]) -> list[Approval]:
    """Signature rows for `roles` in the case's current stay (link the event before adding)."""
    return [
        Approval(
            case_id=case.id,
            trigger=trigger,
            state=case.state,
            entered_at=case.state_entered_at,
            role=role,
        )
        for role in sorted(roles)
    ]


@dataclass(frozen=True)
class ApprovalStatus:
    """Where an all-roles step stands: who approved (role → event) and who is awaited."""

    transition: Transition
    approved: dict
    waiting: tuple[str, ...]


def approval_status(case: Case) -> list[ApprovalStatus]:
    definition = definition_of(case)
    found = []
    for t in definition.transitions_from(case.state):
        if t.approval == "all":
            approved = approvals_so_far(case, t)
            waiting = tuple(r for r in t.roles if r not in approved)
            found.append(ApprovalStatus(t, approved, waiting))
    return found


def _record_approval(
    case: Case,
    transition: Transition,
    actor: User,
    on_behalf_of_id: int | None,
    roles: set[str],
    waiting: set[str],
    comment: str,
    data: dict,
) -> AuditEvent:
    """One signature of several: recorded and audited; the case keeps its state."""
    order = list(transition.roles)
    with versioned_write(CONFLICT):
        event = chain_event(
            case,
            AuditEvent(
                actor_id=actor.id,
                on_behalf_of_id=on_behalf_of_id,
                trigger=transition.trigger,
                from_state=case.state,
                to_state=case.state,
                comment=comment,
                data={
                    **data,
                    "approved_as": sorted(roles, key=order.index),
                    "awaiting": sorted(waiting, key=order.index),
                },
                created_at=utcnow(),
            ),
        )
        # The versioned case UPDATE first, alone, as in perform(); the unique signature
        # rows then refuse a role signing twice in a race.
        db.session.flush()
        db.session.add(event)
        signatures = _signatures(case, transition.trigger, roles)
        for row in signatures:
            row.event = event
            row.created_at = event.created_at
        db.session.add_all(signatures)
        db.session.flush()
    return event


@dataclass(frozen=True)
class MigrationStep:
    """What moving one case to another version of its definition would do."""

    case: Case
    from_version: int
    to_version: int
    from_state: str
    to_state: str | None
    blocked: list

    @property
    def ok(self) -> bool:
        return not self.blocked


def plan_migration(case: Case, target: Definition) -> MigrationStep:
    """Where `case` would land on `target`, through each version's `migrates_from`, and
    the reasons (guards of the mapping) that keep it where it is."""
    source = definition_of(case)
    state, reasons = case.state, []
    path: list[Definition] = []
    step = target
    while step.version > case.definition_version:
        path.append(step)
        m = step.migrates_from
        if m is None:
            break
        try:
            step = registry.get(case.definition_key, m.version)
        except LookupError:
            break
    if not path or step.version != case.definition_version:
        reasons.append(
            _l(
                "Version %(to)d has no way from version %(from)d.",
                to=target.version,
                **{"from": case.definition_version},
            )
        )
        return MigrationStep(case, source.version, target.version, state, None, reasons)
    for d in reversed(path):
        move = d.migrates_from.states[state]
        for name in move.guards:
            reasons.extend(GUARDS[name](case, source))
        state = move.to
    return MigrationStep(case, source.version, target.version, case.state, state, reasons)


def migrate_case(
    case: Case, target: Definition, actor: User | None = None, expected_version=None
) -> AuditEvent:
    """Move a running case to `target` (a later version of its definition) as its mapping
    says: audited as "migrated"; a blocked case is left untouched."""
    if case.definition_key != target.key or target.version <= case.definition_version:
        raise NotAvailable(_l("This case cannot move to that version."))
    if expected_version is not None and expected_version != case.version:
        raise Conflict(CONFLICT)
    step = plan_migration(case, target)
    if step.blocked:
        raise Blocked(_l("This case cannot move to the new version yet."), step.blocked)
    now = utcnow()
    with versioned_write(CONFLICT):
        with db.session.no_autoflush:
            visit = None
            if step.to_state != case.state:
                calendar = zone_and_days_off(case.container)
                visit = leave_state(case, now, calendar)
                case.state_entered_at = now
                case.due_date = due_date_for(case, target, step.to_state, now, calendar)
            case.state = step.to_state
            case.definition_version = target.version
            event = chain_event(
                case,
                AuditEvent(
                    actor_id=actor.id if actor else None,
                    trigger="migrated",
                    from_state=step.from_state,
                    to_state=step.to_state,
                    data={"from_version": step.from_version, "to_version": target.version},
                    created_at=now,
                ),
            )
        db.session.flush()
        db.session.add(event)
        if visit is not None:
            db.session.add(visit)
        db.session.flush()
    return event


@dataclass(frozen=True)
class _Audience:
    notify: tuple[str, ...]


def _perform_activity(
    case: Case,
    definition: Definition,
    activity: Activity,
    actor: User,
    comment: str | None,
    data: dict | None,
    expected_version: int | None,
    files: list,
) -> AuditEvent:
    own, acting = roles_and_principals(actor, case, among=set(activity.roles))
    roles = own | set(acting)
    if case.state not in activity.states:
        raise NotAvailable(_l("This action is not available in the current state."))
    if not roles:
        raise Forbidden(_l("You may not take this action on this case."))
    if expected_version is not None and expected_version != case.version:
        raise Conflict(CONFLICT)
    clean_comment, clean_data = checked_input(activity, comment, data)
    on_behalf_of_id = None if own else next(iter(acting.values()))
    context = ActivityContext(
        case=case,
        definition=definition,
        activity=activity,
        actor=actor,
        roles=roles,
        comment=clean_comment,
        data=clean_data,
        raw=data if isinstance(data, dict) else {},
        files=files,
    )
    now = utcnow()
    try:
        with versioned_write(CONFLICT):
            # Claim the case first: a racing writer fails here as a version conflict,
            # before the handler's rows could collide on their own unique keys.
            flag_modified(case, "audit_head")
            db.session.flush()
            with db.session.no_autoflush:
                result = ACTIVITIES[activity.key](context)
                event = chain_event(
                    case,
                    AuditEvent(
                        actor_id=actor.id,
                        on_behalf_of_id=on_behalf_of_id,
                        trigger=activity.key,
                        from_state=case.state,
                        to_state=case.state,
                        comment=clean_comment,
                        data=result.data,
                        created_at=now,
                    ),
                )
            # As in perform(): the versioned case UPDATE first, then the event.
            db.session.flush()
            db.session.add(event)
            db.session.flush()
            for row, attribute in result.link:
                setattr(row, attribute, event.id)
            notes = []
            audience = activity if result.notify_roles is None else _Audience(result.notify_roles)
            if result.notify and audience.notify:
                notes = notifications.queue_for_event(case, definition, event, actor, audience)
            event_id = event.id
    except BaseException:
        # Nothing was recorded, so nothing may stay on disk either.
        for path in context.written:
            path.unlink(missing_ok=True)
        raise
    if notes:
        mail.deliver_for_event(event_id)
    return event
