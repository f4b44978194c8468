"""Seminar pages: a cohort's jadwal seminar (organizers and the institution's admin), the
seminar panel on the case page (schedule, attendance, presentation), the calendar file and
the presentation download. Every change goes through perform() (workflow/services/seminars.py
holds the activities); these routes load scoped to the user, read the form and render.
"""

from __future__ import annotations

import io

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from workflow.extensions import db
from workflow.models import Case
from workflow.models._base import utcnow
from workflow.models.seminars import Seminar
from workflow.permissions import get_case_for, roles_on_case
from workflow.services import WorkflowError, definition_of, perform
from workflow.services import documents as docs
from workflow.services import seminars as svc
from workflow.services.cohorts import cohort_for, is_organizer

from .cases import done_notice, load_case, status_context

bp = Blueprint("seminars", __name__)

SCHEDULE_FIELDS = ("date", "start", "end", "room", "online_link", *svc.PANEL_FIELDS.values())


def user():
    return current_user._get_current_object()


def _schedule_data() -> dict:
    return {name: request.form.get(name, "") for name in SCHEDULE_FIELDS}


def _failure(exc: WorkflowError, form: str, typed: dict) -> dict:
    fields = {k: str(v) for k, v in exc.fields.items()}
    return {
        "form": form,
        "message": str(exc.message),
        "reasons": [str(r) for r in exc.reasons if str(r) not in fields.values()],
        "fields": fields,
        "typed": typed,
    }


# ---------------------------------------------------------------- the cohort's schedule


def _load_cohort(cohort_id: int):
    cohort = cohort_for(user(), cohort_id)
    if cohort is None:
        abort(404)
    return cohort


def _schedule_page(cohort, failure: dict | None = None, status: int = 200):
    view = request.args.get("view", "day")
    plan = svc.schedule(cohort, view)
    return (
        render_template(
            "seminars/schedule.html",
            cohort=cohort,
            plan=plan,
            can_schedule=is_organizer(user(), cohort),
            failure=failure,
            svc=svc,
        ),
        status,
    )


@bp.get("/cohorts/<int:cohort_id>/seminars")
@login_required
def cohort_schedule(cohort_id: int):
    return _schedule_page(_load_cohort(cohort_id))


@bp.post("/cohorts/<int:cohort_id>/seminars")
@login_required
def cohort_schedule_post(cohort_id: int):
    cohort = _load_cohort(cohort_id)
    data = _schedule_data()
    typed = {**data, "case_id": request.form.get("case_id", "")}
    raw_case = request.form.get("case_id", "").strip()
    known = raw_case.isascii() and raw_case.isdigit() and len(raw_case) < 10
    case = db.session.get(Case, int(raw_case)) if known else None
    if case is None or case.cohort_id != cohort.id:
        message = _("Choose a trainee of this cohort.")
        failure = {
            "form": "schedule",
            "message": message,
            "reasons": [],
            "fields": {"case_id": message},
            "typed": typed,
        }
        return _schedule_page(cohort, failure, 422)
    try:
        event = perform(case, "schedule_seminar", user(), data=data)
    except WorkflowError as exc:
        return _schedule_page(cohort, _failure(exc, "schedule", typed), exc.status)
    flash(done_notice(definition_of(case), "schedule_seminar", event), "success")
    return redirect(url_for("seminars.cohort_schedule", cohort_id=cohort.id))


# ---------------------------------------------------------------- the case page


@bp.app_template_global("seminar_panel")
def seminar_panel(case: Case) -> dict | None:
    """What the case page's seminar panel shows: None when the case has never had and is
    not now in a seminar state."""
    definition = definition_of(case)
    kind = definition.state(case.state).seminar
    seminars = svc.seminars_of(case)
    if kind is None and not seminars:
        return None
    me = user()
    roles = roles_on_case(me, case)
    current = next(
        (s for s in seminars if s.kind == kind and s.status != "cancelled" and not s.outcome),
        None,
    )
    shown = current or (seminars[0] if seminars else None)

    def allowed(key: str) -> bool:
        spec = definition.activity(key)
        return spec is not None and case.state in spec.states and bool(roles & set(spec.roles))

    held_now = current is not None and current.status == "held"
    can_schedule = kind is not None and allowed("schedule_seminar") and not held_now
    zone = svc.zone_of(case.cohort)
    return {
        "kind": kind,
        "seminar": shown,
        "current": current,
        "history": [s for s in seminars if s is not shown],
        "zone": zone,
        "zone_label": svc._zone_label(zone),
        "roles": roles,
        "can_schedule": can_schedule,
        "choices": svc.panel_choices(case.cohort) if can_schedule else {},
        "defaults": svc.default_panel(case) if can_schedule else {},
        "values": svc.local_form_values(current, zone) if current is not None else {},
        "can_record": current is not None
        and allowed("record_attendance")
        and ("organizer" in roles or svc.on_panel(current, me)),
        "started": current is not None and utcnow() >= current.starts_at,
        "can_upload": current is not None and allowed("upload_presentation"),
        "may_download": shown is not None
        and shown.presentation_id is not None
        and svc.may_download_presentation(me, shown),
        "examiner_next": held_now and "examiner" in roles,
    }


def _case_page_failure(case: Case, failure: dict, status: int):
    return render_template("cases/show.html", **status_context(case), seminar_error=failure), status


def _act(case: Case, trigger: str, form: str, data: dict, typed: dict, files=None):
    version = request.form.get("version", type=int)
    try:
        event = perform(
            case, trigger, user(), data=data, expected_version=version, files=files or []
        )
    except WorkflowError as exc:
        return _case_page_failure(case, _failure(exc, form, typed), exc.status)
    flash(done_notice(definition_of(case), trigger, event), "success")
    return redirect(url_for("cases.show", case_id=case.id) + "#seminar-panel")


@bp.post("/cases/<int:case_id>/seminar")
@login_required
def schedule_for_case(case_id: int):
    case = load_case(case_id)
    data = _schedule_data()
    return _act(case, "schedule_seminar", "schedule", data, data)


@bp.post("/cases/<int:case_id>/seminar/attendance")
@login_required
def attendance(case_id: int):
    case = load_case(case_id)
    attended = set(request.form.getlist("attended"))
    members = request.form.getlist("member")
    data = {
        "seminar_id": request.form.get("seminar_id", ""),
        "panel": {m: m in attended for m in members},
        "trainee_attended": request.form.get("trainee_attended"),
        "notes": request.form.get("notes", ""),
    }
    typed = {
        "attended": attended,
        "trainee_attended": request.form.get("trainee_attended", ""),
        "notes": data["notes"],
    }
    return _act(case, "record_attendance", "attendance", data, typed)


@bp.post("/cases/<int:case_id>/seminar/presentation")
@login_required
def presentation_upload(case_id: int):
    case = load_case(case_id)
    data = {"seminar_id": request.form.get("seminar_id", "")}
    return _act(
        case, "upload_presentation", "presentation", data, {}, files=request.files.getlist("file")
    )


# ---------------------------------------------------------------- files


def _load_seminar(seminar_id: int) -> Seminar:
    seminar = db.session.get(Seminar, seminar_id)
    if seminar is None or get_case_for(user(), seminar.case_id) is None:
        abort(404)
    return seminar


@bp.get("/seminars/<int:seminar_id>.ics")
@login_required
def calendar_file(seminar_id: int):
    seminar = _load_seminar(seminar_id)
    lang = current_user.locale if current_user.locale in ("id", "en") else "id"
    response = send_file(
        io.BytesIO(svc.ics(seminar, lang)),
        mimetype="text/calendar",
        as_attachment=True,
        download_name=svc.ics_name(seminar),
        max_age=0,
    )
    response.headers["Content-Type"] = "text/calendar; charset=utf-8; method=REQUEST"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/seminars/<int:seminar_id>/presentation")
@login_required
def presentation(seminar_id: int):
    seminar = _load_seminar(seminar_id)
    doc = seminar.presentation
    if doc is None or not svc.may_download_presentation(user(), seminar):
        abort(404)
    path = docs.path_of(doc)
    if not path.is_file():
        abort(404)
    response = send_file(
        io.BytesIO(path.read_bytes()),
        mimetype=doc.content_type,
        as_attachment=True,
        download_name=doc.original_name,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def init_app(app) -> None:
    app.jinja_env.globals.update(
        seminar_kind_label=svc.kind_label,
        seminar_span=svc.span_text,
        seminar_status=svc.status_label,
        seminar_outcome=svc.outcome_label,
        seminar_accept=svc.PRESENTATION_ACCEPT,
    )
