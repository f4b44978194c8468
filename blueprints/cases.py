"""The case page and its actions. Every action goes through services.perform()."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from workflow.engine.definitions import Labels
from workflow.extensions import db
from workflow.models import AuditEvent, Case
from workflow.permissions import get_case_for, roles_on_case
from workflow.services import Conflict, WorkflowError, definition_of, perform
from workflow.services.actions import available_actions, is_overdue
from workflow.services.evaluation import score_event_filter
from workflow.services.milestones import STATUS_LABELS
from workflow.services.notifications import case_subject, unit_chain
from workflow.services.workflow import approval_status, awaited_roles

from ._web import is_htmx, label, localdate, localtime, page_or_fragment, role_label

bp = Blueprint("cases", __name__, url_prefix="/cases")

# Event data keys recorded by activities, as the timeline shows them.
DATA_LABELS = {
    "horizon": _l("Follow-up (months)"),
    "running": _l("Still running"),
    "milestone": _l("Milestone"),
    "status": _l("Status"),
    "achieved_quantity": _l("Achieved"),
    "unit": _l("Unit"),
    "covered_on": _l("Date"),
    "report_date": _l("Date"),
    "files": _l("Evidence"),
    "previous_due_date": _l("Previous due date"),
    "role": _l("As"),
    "subtotal": _l("Points"),
    "group": _l("Group"),
    "previous_group": _l("Previous group"),
    "approved_as": _l("Approved as"),
    "awaiting": _l("Still awaited"),
    "from_version": _l("From version"),
    "to_version": _l("To version"),
    "reminded": _l("Reminded"),
    # Seminars (schedule_seminar, record_attendance, upload_presentation).
    "starts_at": _l("Starts"),
    "ends_at": _l("Ends"),
    "room": _l("Room"),
    "online_link": _l("Online link"),
    "examiner": _l("Examiner"),
    "coach": _l("Coach"),
    "mentor": _l("Mentor"),
    "previous_starts_at": _l("Previously starting"),
    "previous_ends_at": _l("Previously ending"),
    "previous_room": _l("Previous room"),
    "previous_online_link": _l("Previous online link"),
    "present": _l("Present"),
    "absent": _l("Absent"),
    "trainee_attended": _l("Trainee present"),
    "notes": _l("Notes"),
    "presentation": _l("Presentation"),
    # A mentor transfer (transfer_mentor).
    "from_mentor": _l("Previous mentor"),
    "to_mentor": _l("New mentor"),
}
# The event of a case moved to a newer version of its flow (flask aksi migrate-cases).
MIGRATED = Labels(id="Dipindahkan ke versi baru alur", en="Moved to the new version of the flow")
HIDDEN_DATA = {
    "results",
    "milestone_id",
    "report_id",
    "coverage_id",
    "document_ids",
    "scores",
    "ratings",
    "seminar_id",
    "kind",
    "sequence",
    "rescheduled",
    "from_mentor_id",
    "to_mentor_id",
}
DATE_KEYS = {"covered_on", "report_date", "due_date", "previous_due_date"}
TIME_KEYS = {"starts_at", "ends_at", "previous_starts_at", "previous_ends_at"}


def shown_value(key: str, value, spec=None, institution=None):
    """An event's recorded value as a reader wants it: labels, local dates and times, plain
    numbers, yes/no, lists joined; None (or an empty list) when there is nothing to show."""
    if value is None or value == [] or value == "":
        return None
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if key in TIME_KEYS and institution is not None:
        try:
            moment = datetime.fromisoformat(str(value).removesuffix("Z"))
        except ValueError:
            return value
        return localtime(moment.replace(tzinfo=None), institution)
    if key == "status":
        return STATUS_LABELS.get(value, value)
    if key in ("role", "reminded", "approved_as", "awaiting"):
        return ", ".join(role_label(r) for r in ([value] if isinstance(value, str) else value))
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    if (spec is not None and spec.type == "date") or key in DATE_KEYS:
        try:
            return localdate(date.fromisoformat(str(value)))
        except ValueError:
            return value
    return value


def _from_case_page(case: Case) -> bool:
    """Whether an htmx request came from the case page (which holds the assessment panel),
    not from a page that shows only the status card (the mentor's review)."""
    current = urlsplit(request.headers.get("HX-Current-URL", "")).path
    return current == url_for("cases.show", case_id=case.id)


def load_case(case_id: int) -> Case:
    """Scoped to the user: another person's case is a 404, never a 403."""
    case = get_case_for(current_user, case_id)
    if case is None:
        abort(404)
    return case


def phases_of(definition, state_key: str) -> list[dict]:
    current = definition.state(state_key).phase
    keys = [p.key for p in definition.phases]
    index = keys.index(current)
    terminal = definition.state(state_key).terminal
    return [
        {
            "phase": p,
            "status": "done"
            if i < index or (terminal and i == index)
            else ("current" if i == index else "todo"),
        }
        for i, p in enumerate(definition.phases)
    ]


def timeline(case: Case, definition) -> list[dict]:
    # Assessment values stay hidden from those who may not read that sheet yet.
    data_of = score_event_filter(case, current_user)
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.case_id == case.id)
        .options(selectinload(AuditEvent.actor), selectinload(AuditEvent.on_behalf_of))
        .order_by(AuditEvent.seq.desc())
    ).all()
    institution = case.institution
    rows = []
    for e in events:
        labels = MIGRATED if e.trigger == "migrated" else definition.labels_of(e.trigger)
        specs = definition.fields_of(e.trigger)
        data = []
        for k, v in data_of(e).items():
            value = None if k in HIDDEN_DATA else shown_value(k, v, specs.get(k), institution)
            if value is not None:
                name = label(specs[k].labels) if k in specs else DATA_LABELS.get(k, k)
                data.append((name, value))
        rows.append(
            {
                "event": e,
                "action": label(labels) if labels else e.trigger,
                "from": label(definition.state(e.from_state).labels)
                if e.from_state and definition.has_state(e.from_state)
                else e.from_state,
                "to": label(definition.state(e.to_state).labels)
                if definition.has_state(e.to_state)
                else e.to_state,
                "data": data,
            }
        )
    return rows


def done_notice(definition, trigger: str, event) -> str:
    """What happened, as a sentence: the definition's `done` text, or for a signature that
    others must still give, who is awaited."""
    awaiting = (event.data or {}).get("awaiting") if event.from_state == event.to_state else None
    if awaiting:
        names = ", ".join(role_label(r, definition) for r in awaiting)
        return _("Your approval is recorded. Still awaited: %(roles)s.", roles=names)
    spec = definition.activity(trigger) or next(
        (t for t in definition.candidates(event.from_state, trigger) if t.dest == event.to_state),
        None,
    )
    if spec is not None and spec.done is not None:
        return label(spec.done)
    labels = definition.labels_of(trigger)
    return _("Done: %(action)s.", action=label(labels) if labels else trigger)


def subject_context(case: Case, definition) -> dict:
    """What the case page's header names for a region unit: the unit with its parents and
    the campaign (its data forms come with forms/_summary.html)."""
    if definition.subject != "region_unit":
        return {}
    return {"unit_chain": unit_chain(case.region), "campaign": case.campaign}


def form_reasons_spec(definition, state: str, trigger: str):
    """The data form whose fields `trigger` takes a reason for, from this state (or None)."""
    for t in definition.candidates(state, trigger):
        if t.form_reasons:
            return definition.form(t.form_reasons)
    return None


def typed_reasons(form) -> dict[str, str]:
    """The reason boxes as typed (`reasons-<field>`), the blank ones left out."""
    typed = {}
    for name in form.all_fields():
        text = request.form.get(f"reasons-{name}") or ""
        if text.strip():
            typed[name] = text
    return typed


@bp.app_template_global("case_subject")
def _case_subject(case: Case) -> tuple[str, str]:
    """(trainee or unit, cohort or campaign) for a list row."""
    return case_subject(case)


def status_context(case: Case, *, error: dict | None = None, notice: str | None = None) -> dict:
    definition = definition_of(case)
    state = definition.state(case.state)
    approvals = approval_status(case)
    awaited = awaited_roles(case, definition)
    return {
        "case": case,
        "definition": definition,
        "state": state,
        "phases": phases_of(definition, case.state),
        "overdue": is_overdue(case),
        "institution": case.institution,
        "actions": available_actions(case, current_user),
        "approvals": approvals,
        "awaited": awaited,
        "my_turn": bool(roles_on_case(current_user, case) & set(awaited)),
        "events": timeline(case, definition),
        "error": error,
        "notice": notice,
    }


@bp.get("/<int:case_id>")
@login_required
def show(case_id: int):
    case = load_case(case_id)
    return page_or_fragment(
        "cases/show.html",
        "cases/_status.html",
        **status_context(case),
        **subject_context(case, definition_of(case)),
    )


@bp.post("/<int:case_id>/actions/<trigger>")
@login_required
def act(case_id: int, trigger: str):
    case = load_case(case_id)
    version = request.form.get("version", type=int)
    if version is None:
        abort(400)
    definition = definition_of(case)
    specs = definition.fields_of(trigger)
    comment = request.form.get("comment")
    data = {name: request.form.get(name, "") for name in specs}
    reasons_form = form_reasons_spec(definition, case.state, trigger)
    if reasons_form is not None:
        data["reasons"] = typed_reasons(reasons_form)
    try:
        event = perform(
            case, trigger, current_user, comment=comment, data=data, expected_version=version
        )
    except WorkflowError as exc:
        message = str(exc.message)
        if isinstance(exc, Conflict):
            message = _("Someone else changed this case meanwhile. Here is its current state.")
        shown = {str(v) for v in exc.fields.values()}
        error = {
            "trigger": trigger,
            "message": message,
            "reasons": [str(r) for r in exc.reasons if str(r) not in shown],
            "field_errors": exc.fields,
            "typed": {
                "comment": comment or "",
                **data,
                # As the reason boxes are named (forms/_reasons_fields.html).
                **{f"reasons-{k}": v for k, v in (data.get("reasons") or {}).items()},
            },
        }
        return page_or_fragment(
            "cases/show.html",
            "cases/_act_response.html",
            exc.status,
            on_case_page=_from_case_page(case),
            **status_context(case, error=error),
            **subject_context(case, definition),
        )
    notice = done_notice(definition, trigger, event)
    if is_htmx():
        return page_or_fragment(
            "cases/show.html",
            "cases/_act_response.html",
            on_case_page=_from_case_page(case),
            **status_context(case, notice=notice),
            **subject_context(case, definition),
        )
    flash(notice, "success")
    return redirect(url_for("cases.show", case_id=case.id))
