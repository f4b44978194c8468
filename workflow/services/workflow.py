"""perform(): the one door through which every case changes state."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.exc import StaleDataError

from ..engine import Outcome, evaluate, registry
from ..engine.definitions import Definition, Transition
from ..engine.guards import EFFECTS, GUARDS
from ..extensions import db
from ..models import AuditEvent, Case, InstitutionHoliday, User
from ..models._base import utcnow
from ..permissions import roles_on_case
from . import notifications
from .audit import append_event
from .calendar import add_working_days, local_date
from .errors import Blocked, Conflict, Forbidden, NotAvailable

FIELD_ERRORS = {
    "required": _l("%(field)s is required."),
    "too_long": _l("%(field)s is too long."),
    "bad_date": _l("%(field)s must be a date (YYYY-MM-DD)."),
    "bad_number": _l("%(field)s must be a number."),
    "bad_choice": _l("%(field)s has an unknown choice."),
}
COMMENT_MAX = 5000


def definition_of(case: Case) -> Definition:
    return registry.get(case.definition_key, case.definition_version)


def start_case(cohort, trainee: User, **attrs) -> Case:
    """A new case on the newest version of the cohort's definition. The caller commits."""
    definition = registry.latest(cohort.definition_key)
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


def due_date_for(case: Case, definition: Definition, state: str, entered: datetime) -> date | None:
    sla = definition.state(state).sla
    if sla is None:
        return None
    if sla.until:
        return case.cohort.phase_date(sla.until)
    institution = case.cohort.program.institution
    start = local_date(entered, institution.timezone)
    return add_working_days(start, sla.working_days, extra_days_off(institution.id))


def check_input(
    transition: Transition, comment: str | None, data: dict | None
) -> tuple[str, dict, dict[str, str]]:
    """Clean the comment and collected fields; returns (comment, data, field errors)."""
    errors: dict[str, str] = {}
    comment = (comment or "").strip()
    if transition.comment == "required" and not comment:
        errors["comment"] = str(_l("A comment is required for this action."))
    if len(comment) > COMMENT_MAX:
        errors["comment"] = str(_l("The comment is too long (at most %(n)d characters).", n=COMMENT_MAX))
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


def choose(case: Case, definition: Definition, candidates: list[Transition]):
    """The first candidate whose guards all pass, else the fewest reasons that block."""
    best: list | None = None
    for t in candidates:
        reasons = [r for g in t.guards for r in GUARDS[g](case, definition)]
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
) -> AuditEvent:
    """Fire `trigger` on `case` as `actor`, or raise a typed refusal having written nothing."""
    definition = definition_of(case)
    roles = roles_on_case(actor, case)
    outcome = evaluate(definition, case.state, trigger, roles)
    if outcome is Outcome.NOT_AVAILABLE:
        raise NotAvailable(_l("This action is not available in the current state."))
    if outcome is Outcome.FORBIDDEN:
        raise Forbidden(_l("You may not take this action on this case."))
    if expected_version is not None and expected_version != case.version:
        raise Conflict(_l("Someone else changed this case meanwhile. Reload it and try again."))
    candidates = [t for t in definition.candidates(case.state, trigger) if roles & set(t.roles)]
    clean_comment, clean_data, field_errors = check_input(candidates[0], comment, data)
    if field_errors:
        raise Blocked(
            _l("Some fields need your attention."), list(field_errors.values()), field_errors
        )
    transition, reasons = choose(case, definition, candidates)
    if transition is None:
        raise Blocked(_l("This action is blocked."), reasons)

    machine = registry.machine(case.definition_key, case.definition_version)
    source = case.state
    now = utcnow()
    try:
        for name in transition.effects:
            EFFECTS[name](case, definition)
        case.state = machine.fire(source, transition)
        case.state_entered_at = now
        case.due_date = due_date_for(case, definition, case.state, now)
        event = append_event(
            case,
            AuditEvent(
                actor_id=actor.id,
                trigger=trigger,
                from_state=source,
                to_state=case.state,
                comment=clean_comment,
                data=clean_data,
                created_at=now,
            ),
        )
        db.session.flush()
        notifications.queue_for_event(case, definition, event, actor)
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(
            _l("Someone else changed this case meanwhile. Reload it and try again.")
        ) from None
    except Exception:
        db.session.rollback()
        raise
    return event
