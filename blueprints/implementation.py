"""Implementation phase pages: milestone progress, coverage, evidence, verification.

Every change goes through perform() (activities report_progress, cover_unit, uncover_unit,
verify_milestone, return_milestone). With htmx a form swaps its milestone card (plus the
few page parts that summarise milestones, out of band); without JavaScript it posts and
redirects back to the case page. A refusal re-renders the card with the error's status,
the messages beside the fields and what the user typed.
"""

from __future__ import annotations

from dataclasses import dataclass

from babel.numbers import format_decimal
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
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

from workflow.extensions import db
from workflow.models import Case, Document, Milestone
from workflow.permissions import get_case_for, roles_on_case
from workflow.services import Conflict, WorkflowError, definition_of, perform, progress
from workflow.services import documents as docs
from workflow.services.milestones import MAX_FILES, STATUS_LABELS
from workflow.services.workflow import zone_and_days_off

from ._web import is_htmx, lang
from .cases import status_context
from .errors import error_response

bp = Blueprint("implementation", __name__, url_prefix="/cases/<int:case_id>")


@dataclass(frozen=True)
class Spec:
    """One form of a milestone card: the activity it fires and what it sends."""

    activity: str
    fields: tuple[str, ...] = ()
    files: bool = False
    comment: bool = False


ACTIONS = {
    "report": Spec(
        "report_progress", ("status", "achieved_quantity", "narrative", "report_date"), True
    ),
    "cover": Spec("cover_unit", ("unit", "covered_on", "note"), True),
    "uncover": Spec("uncover_unit", ("unit",)),
    "verify": Spec("verify_milestone", comment=True),
    "return": Spec("return_milestone", comment=True),
}
ACTION_OF = {spec.activity: name for name, spec in ACTIONS.items()}

# The statuses a trainee reports, as the form offers them.
REPORT_CHOICES = (
    ("in_progress", _l("In progress — an update, no verification yet")),
    ("reported", _l("Done — ask the mentor to verify")),
    ("not_achieved", _l("Not achieved — close it with an explanation")),
)
# A past report's status in the history (the milestone's own labels speak of "now").
REPORT_LABELS = {
    "in_progress": _l("In progress"),
    "reported": _l("Done, submitted for verification"),
    "not_achieved": _l("Not achieved"),
}
TERM_LABELS = {"short": _l("Short term"), "medium": _l("Medium term"), "long": _l("Long term")}
FILES_AGAIN = _l(
    "Choose your files again: for your safety the browser does not keep them after a refusal."
)


def load_case(case_id: int) -> Case:
    """Scoped to the user: another person's case is a 404, never a 403."""
    case = get_case_for(current_user, case_id)
    if case is None:
        abort(404)
    return case


def milestone_of(case: Case, milestone_id: int) -> Milestone:
    milestone = next((m for m in case.milestones if m.id == milestone_id), None)
    if milestone is None:
        abort(404)
    return milestone


# ---------------------------------------------------------------- the view


def is_active(case: Case, definition) -> bool:
    """Implementation or later: the phase of a state where progress is reported, or after
    (not for a case withdrawn before it ever got there)."""
    report = definition.activity("report_progress")
    if report is None:
        return False
    keys = [p.key for p in definition.phases]
    start = min(keys.index(definition.state(s).phase) for s in report.states)
    state = definition.state(case.state)
    if keys.index(state.phase) < start:
        return False
    if state.terminal:  # closed: only if implementation ever started (not withdrawn before)
        return any(m.status != "planned" for m in case.milestones)
    return True


def upload_limits() -> dict:
    per_file = docs.max_upload_bytes()
    total = current_app.config.get("MAX_CONTENT_LENGTH") or per_file * MAX_FILES
    return {
        "accept": docs.EVIDENCE_ACCEPT,
        "max_bytes": per_file,
        "max_mb": f"{per_file / 1024 / 1024:g}",
        "max_files": MAX_FILES,
        # All files of one request together (the server refuses a larger request whole).
        "max_total_bytes": total,
        "max_total_mb": f"{total / 1024 / 1024:.0f}",
    }


def build_view(
    case: Case, *, error: dict | None = None, notice: dict | None = None, version_before=None
) -> dict:
    """Everything the implementation section of the case page shows, for the current user."""
    definition = definition_of(case)
    if not is_active(case, definition):
        return {"active": False}
    zone, days_off = zone_and_days_off(case.cohort)
    today = progress.today_in(zone)
    roles = roles_on_case(current_user, case)
    offered = {
        a.key
        for a in definition.activities_in(case.state, "milestone")
        if roles & set(a.roles) and a.key in ACTION_OF
    }
    cards = progress.cards_of(case, today, days_off)
    can = {}
    for card in cards:
        m = card.milestone
        open_ = m.status != "verified"
        can[m.id] = {
            "report": "report_progress" in offered and open_,
            "cover": "cover_unit" in offered and open_ and bool(m.remaining_units),
            "uncover": "uncover_unit" in offered and open_,
            "verify": "verify_milestone" in offered and m.status == "reported",
            "return": "return_milestone" in offered and m.status in ("reported", "not_achieved"),
        }
    returned = [c for c in cards if c.milestone.status == "returned"]
    closed, total = progress.short_term_summary(c.milestone for c in cards)
    milestones = [c.milestone for c in cards]
    return {
        "active": True,
        "case": case,
        "definition": definition,
        "cards": cards,
        "can": can,
        "roles": roles,
        "is_trainee": "trainee" in roles,
        "returned": returned,
        "steps": next_steps(cards, can, "trainee" in roles),
        "closed": closed,
        "total": total,
        "has_short": any(m.term == "short" for m in milestones),
        "today": today,
        "error": error,
        "notice": notice,
        "version_before": version_before,
        "report_choices": REPORT_CHOICES,
        "report_labels": REPORT_LABELS,
        "term_labels": TERM_LABELS,
        "labels": {k: definition.activity(s.activity) for k, s in ACTIONS.items()},
        **upload_limits(),
    }


def next_steps(cards, can, is_trainee: bool) -> list[dict]:
    """The milestone work waiting for this user, most urgent first, each linking to a card."""
    steps = []

    def add(found, text, late=False):
        if found:
            steps.append({"milestone_id": found[0].milestone.id, "text": text, "late": late})

    returned = [
        c for c in cards if c.milestone.status == "returned" and can[c.milestone.id]["report"]
    ]
    late = [
        c for c in cards if c.overdue and c.due_role == "trainee" and can[c.milestone.id]["report"]
    ]
    verify = [c for c in cards if can[c.milestone.id]["verify"]]
    add(
        returned,
        _("Milestones returned by your mentor: %(n)d. Fix and report again.", n=len(returned)),
    )
    add(late, _("Milestones past their due date: %(n)d.", n=len(late)), late=True)
    add(verify, _("Milestones awaiting your verification: %(n)d.", n=len(verify)))
    if is_trainee and not steps:
        todo = [c for c in cards if c.milestone.status in ("planned", "in_progress")]
        todo = [c for c in todo if can[c.milestone.id]["report"]]
        add(todo, _("Report progress on your milestones, with evidence."))
    return steps


def card_of(impl: dict, milestone: Milestone):
    return next(c for c in impl["cards"] if c.milestone.id == milestone.id)


def _card_response(case: Case, milestone: Milestone, status: int = 200, **view):
    """The card, and out of band what summarises the milestones (banner, count, status)."""
    impl = build_view(case, **view)
    context = status_context(case)
    context.update(impl=impl, card=card_of(impl, milestone), oob=True)
    response = make_response(render_template("implementation/_card_response.html", **context))
    response.status_code = status
    response.vary.add("HX-Request")
    return response


def _full_page(case: Case, status: int, **view):
    context = status_context(case)
    context["impl_view"] = build_view(case, **view)
    return render_template("cases/show.html", **context), status


def _refused(case: Case, milestone: Milestone, status: int, error: dict):
    """The card (htmx) or the case page with the card's error; before implementation there
    is no card to show it on (e.g. a report on a draft): the plain error page says it."""
    if not is_active(case, definition_of(case)):
        return error_response(status, error["message"])
    if is_htmx():
        return _card_response(case, milestone, status, error=error)
    return _full_page(case, status, error=error)


# ---------------------------------------------------------------- actions


def _notice(action: str, status: str | None, unit: str) -> str:
    if action == "report":
        if status == "reported":
            return _("Report sent. Your mentor has been asked to verify it.")
        if status == "not_achieved":
            return _("The milestone is closed as not achieved, with your explanation.")
        return _("Progress saved.")
    if action == "cover":
        return _("%(unit)s is marked covered.", unit=unit)
    if action == "uncover":
        return _("%(unit)s is no longer marked covered.", unit=unit)
    if action == "verify":
        return _("The milestone is verified.")
    return _("The milestone is returned to the trainee with your comment.")


def _refusal(
    action: str, milestone: Milestone, exc: WorkflowError, typed: dict, had_files: bool
) -> dict:
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
    return {
        "milestone_id": milestone.id,
        "action": action,
        "unit": typed.get("unit", ""),
        "message": message,
        "reasons": reasons,
        "fields": fields,
        "typed": typed,
        "had_files": had_files,
    }


@bp.post("/milestones/<int:milestone_id>/<action>")
@login_required
def act(case_id: int, milestone_id: int, action: str):
    spec = ACTIONS.get(action)
    if spec is None:
        abort(404)
    case = load_case(case_id)
    milestone = milestone_of(case, milestone_id)
    version = request.form.get("version", type=int)
    if version is None:
        abort(400)
    typed = {name: request.form.get(name, "") for name in spec.fields}
    comment = request.form.get("comment", "") if spec.comment else None
    if spec.comment:
        typed["comment"] = comment
    files = request.files.getlist("files") if spec.files else []
    had_files = any(f.filename for f in files)
    data = {k: v for k, v in typed.items() if k != "comment"}
    data["milestone_id"] = milestone.id
    try:
        perform(
            case,
            spec.activity,
            current_user,
            comment=comment,
            data=data,
            expected_version=version,
            files=files,
        )
    except WorkflowError as exc:
        return _refused(
            case, milestone, exc.status, _refusal(action, milestone, exc, typed, had_files)
        )
    text = _notice(action, typed.get("status"), typed.get("unit", ""))
    if is_htmx():
        notice = {"milestone_id": milestone.id, "text": text}
        return _card_response(case, milestone, notice=notice, version_before=version)
    flash(text, "success")
    return redirect(url_for("cases.show", case_id=case.id, _anchor=f"milestone-{milestone.id}"))


@bp.errorhandler(413)
def too_large(exc):
    """A request above MAX_CONTENT_LENGTH cannot even be read (its form is lost with it):
    answer on the card, in words, rather than with a bare error page."""
    args = request.view_args or {}
    if not getattr(current_user, "is_authenticated", False) or "milestone_id" not in args:
        return error_response(413)
    # No abort() here: an error raised inside an error handler would become a 500.
    case = get_case_for(current_user, args["case_id"])
    milestone = (
        next((m for m in case.milestones if m.id == args["milestone_id"]), None) if case else None
    )
    if milestone is None:
        return error_response(404)
    limits = upload_limits()
    message = _(
        "The files together are too large to send at once (at most %(mb)s MB). "
        "Send fewer or smaller photos per report.",
        mb=limits["max_total_mb"],
    )
    error = {
        "milestone_id": milestone.id,
        "action": args.get("action", ""),
        "unit": "",
        "message": message,
        "reasons": [str(FILES_AGAIN)],
        "fields": {"files": message},
        "typed": {},
        "had_files": True,
    }
    return _refused(case, milestone, 413, error)


# ---------------------------------------------------------------- evidence


@bp.get("/evidence/<int:document_id>/thumbnail")
@login_required
def thumbnail(case_id: int, document_id: int):
    """Our own re-encoded small JPEG of an image (never the upload itself), inline."""
    case = load_case(case_id)
    doc = db.session.get(Document, document_id)
    if doc is None or doc.case_id != case.id or not doc.thumb_name:
        abort(404)
    path = docs.thumb_path_of(doc)
    if path is None or not path.is_file():
        abort(404)
    response = make_response(path.read_bytes())
    response.mimetype = "image/jpeg"
    response.headers["Content-Disposition"] = "inline"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Private: evidence is not for shared caches. The name never changes its content.
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


# ---------------------------------------------------------------- templates


def filesize(size: int | None) -> str:
    if not size:
        return "0 KB"
    if size < 1024 * 1024:
        return f"{format_decimal(max(size / 1024, 1), '#,##0', locale=lang())} KB"
    return f"{format_decimal(size / 1024 / 1024, '#,##0.0', locale=lang())} MB"


def quantity(value) -> str:
    return "" if value is None else f"{value:g}"


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        implementation_view=build_view,
        filesize=filesize,
        quantity=quantity,
        milestone_status_label=lambda status: str(STATUS_LABELS.get(status, status)),
    )
