"""Follow-up pages: the case page's follow-up panel (what is due when, the alumnus's report
form, the confirmer's confirm/return), its form posts, and the sustainability table of the
dashboards (per cohort and institution).

Every change goes through perform() (activities report_follow_up, confirm_follow_up,
return_follow_up). With htmx a form swaps the panel; without JavaScript it posts and
redirects back to the case page. A refusal re-renders the panel with the error's status,
the messages beside the fields and what the user typed.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from workflow.permissions import get_case_for, roles_on_case
from workflow.services import Conflict, WorkflowError, perform
from workflow.services import dashboards as dash
from workflow.services import followup as fu

from ._web import is_htmx
from .cases import status_context
from .errors import error_response
from .implementation import upload_limits

bp = Blueprint("followup", __name__)

ACTIONS = {
    "report": "report_follow_up",
    "confirm": "confirm_follow_up",
    "return": "return_follow_up",
}
FILES_AGAIN = _l(
    "Choose your files again: for your safety the browser does not keep them after a refusal."
)
RUNNING_CHOICES = (
    ("yes", _l("Yes, it is still running")),
    ("no", _l("No, it has stopped")),
)


def load_case(case_id: int):
    """Scoped to the user: another person's case is a 404, never a 403."""
    case = get_case_for(current_user, case_id)
    if case is None:
        abort(404)
    return case


def build_view(case, *, error: dict | None = None, notice: str | None = None) -> dict:
    """What the follow-up panel shows the current user; {"active": False} when the case is
    not followed up."""
    follow = fu.follow_up_of(case)
    if follow is None:
        return {"active": False}
    roles = roles_on_case(current_user, case)
    is_alumnus = "trainee" in roles
    may_confirm = follow.confirmer in roles
    return {
        "active": True,
        "case": case,
        "follow": follow,
        "is_alumnus": is_alumnus,
        "may_confirm": may_confirm,
        "confirmer_label": fu.ROLE_LABELS.get(follow.confirmer, follow.confirmer),
        "mentor_moved": follow.confirmer != "mentor",
        "round_labels": fu.ROUND_LABELS,
        "result_labels": fu.RESULT_LABELS,
        "term_labels": fu.TERM_LABELS,
        "running_choices": RUNNING_CHOICES,
        "result_field": fu.result_field,
        "by_id": {m.id: m for m in case.milestones},
        "error": error,
        "notice": notice,
        **upload_limits(),
    }


def _panel(case, status: int = 200, **view):
    context = status_context(case)
    context.update(fu_view=build_view(case, **view), oob=True)
    response = make_response(render_template("followup/_panel_response.html", **context), status)
    response.vary.add("HX-Request")
    return response


def _typed_form(action: str, follow) -> tuple[dict, dict, str | None]:
    """(data for perform, what the user typed, comment) from the posted form."""
    form = request.form
    if action != "report":
        comment = form.get("comment", "")
        return {}, {"comment": comment}, comment
    results = {}
    typed = {
        "running": form.get("running", ""),
        "narrative": form.get("narrative", ""),
        "report_date": form.get("report_date", ""),
    }
    for m in follow.milestones if follow else ():
        line = {
            "status": form.get(fu.result_field(m.id, "status"), ""),
            "achieved_quantity": form.get(fu.result_field(m.id, "achieved_quantity"), ""),
            "note": form.get(fu.result_field(m.id, "note"), ""),
        }
        results[str(m.id)] = line
        for key, value in line.items():
            typed[fu.result_field(m.id, key)] = value
    return (
        {**{k: typed[k] for k in ("running", "narrative", "report_date")}, "results": results},
        (typed),
        None,
    )


@bp.post("/cases/<int:case_id>/follow-up/<int:horizon>/<action>")
@login_required
def act(case_id: int, horizon: int, action: str):
    trigger = ACTIONS.get(action)
    if trigger is None:
        abort(404)
    case = load_case(case_id)
    version = request.form.get("version", type=int)
    if version is None:
        abort(400)
    follow = fu.follow_up_of(case)
    data, typed, comment = _typed_form(action, follow)
    data["horizon"] = horizon
    files = request.files.getlist("files") if action == "report" else []
    had_files = any(f.filename for f in files)
    try:
        perform(
            case,
            trigger,
            current_user,
            comment=comment,
            data=data,
            expected_version=version,
            files=files,
        )
    except WorkflowError as exc:
        fields = {k: str(v) for k, v in exc.fields.items()}
        message = str(exc.message)
        if isinstance(exc, Conflict):
            message = _(
                "Someone else changed this case meanwhile. Here is its current state: "
                "check it and try again."
            )
        reasons = [str(r) for r in exc.reasons if str(r) not in fields.values()]
        if had_files:
            reasons.append(str(FILES_AGAIN))
        error = {
            "horizon": horizon,
            "action": action,
            "message": message,
            "reasons": reasons,
            "fields": fields,
            "typed": typed,
        }
        view = build_view(case, error=error)
        if not view["active"]:  # not followed up: no panel to show it on
            return error_response(exc.status, message)
        if is_htmx():
            return _panel(case, exc.status, error=error)
        context = status_context(case)
        context["fu_view_data"] = view
        return render_template("cases/show.html", **context), exc.status
    text = {
        "report": _("Follow-up report sent. It awaits confirmation."),
        "confirm": _("The follow-up report is confirmed."),
        "return": _("The follow-up report is returned to the alumnus with your reason."),
    }[action]
    if is_htmx():
        return _panel(case, notice=text)
    flash(text, "success")
    return redirect(url_for("cases.show", case_id=case.id, _anchor="follow-up"))


# ---------------------------------------------------------------- sustainability


@bp.get("/dashboard/sustainability")
@login_required
def sustainability():
    """Per cohort and institution: the share of change actions still running at 12 and 24
    months, by kind of result. A fragment for htmx (the dashboards load it), else a page."""
    cohort = None
    raw = request.args.get("cohort", "")
    if raw:
        if not (raw.isascii() and raw.isdigit() and len(raw) < 10):
            abort(404)
        cohort = dash.cohort_for(current_user, int(raw))
        if cohort is None:
            abort(404)
    table = dash.sustainability(current_user, cohort)
    template = "dashboard/_sustainability.html" if is_htmx() else "dashboard/sustainability.html"
    response = make_response(render_template(template, table=table, cohort=cohort))
    response.vary.add("HX-Request")
    return response


# ---------------------------------------------------------------- templates


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        followup_view=build_view,
        followup_todos=fu.todos_for,
        followup_round_label=lambda status: str(fu.ROUND_LABELS.get(status, status)),
    )
