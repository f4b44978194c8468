"""Mentor transfer: the organizer of the case's cohort hands the trainee to a new mentor
(with a reason) from the case page. The change goes through perform() (the
`transfer_mentor` activity, workflow/services/transfers.py); this route loads the case
scoped to the user, reads the form and renders."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from workflow.models import Case
from workflow.permissions import roles_on_case
from workflow.services import WorkflowError, definition_of, perform
from workflow.services import transfers as svc
from workflow.services.delegations import find_user

from ._web import is_htmx
from .cases import done_notice, load_case, status_context

bp = Blueprint("transfers", __name__)
TRIGGER = "transfer_mentor"


def _allowed(case: Case) -> bool:
    spec = definition_of(case).activity(TRIGGER)
    if spec is None or case.state not in spec.states:
        return False
    return bool(roles_on_case(current_user, case, among=set(spec.roles)))


@bp.app_template_global("transfer_panel")
def transfer_panel(case: Case, failure: dict | None = None) -> dict | None:
    """What the case page's "change mentor" form shows; None when it is not for this user
    (not the organizer of the cohort, or a state where the flow does not allow it)."""
    if not _allowed(case):
        return None
    failure = failure or {}
    return {
        "choices": svc.mentor_choices(case),
        "typed": failure.get("typed", {}),
        "fields": failure.get("fields", {}),
        "message": failure.get("message"),
    }


@bp.post("/cases/<int:case_id>/transfer-mentor")
@login_required
def transfer_mentor(case_id: int):
    case = load_case(case_id)
    typed = {
        "mentor": request.form.get("mentor", "").strip(),
        "comment": request.form.get("comment", ""),
    }
    # Chosen by username from the suggestions; the activity takes the user's id.
    new = find_user(typed["mentor"])
    try:
        event = perform(
            case,
            TRIGGER,
            current_user._get_current_object(),
            comment=typed["comment"],
            data={"mentor_id": new.id if new is not None else None},
            expected_version=request.form.get("version", type=int),
        )
    except WorkflowError as exc:
        failure = {
            "message": str(exc.message),
            "fields": {k: str(v) for k, v in exc.fields.items()},
            "typed": typed,
        }
        if is_htmx():
            panel = transfer_panel(case, failure)
            html = render_template("transfers/_case_form.html", case=case, tp=panel)
            return html, exc.status, {"Vary": "HX-Request"}
        return (
            render_template("cases/show.html", **status_context(case), transfer_failure=failure),
            exc.status,
        )
    flash(done_notice(definition_of(case), TRIGGER, event), "success")
    return redirect(url_for("cases.show", case_id=case.id))
