"""Cohort set-up by its organizers (and the admins of its institution): create a cohort,
import participants (upload → preview → confirm), groups and who is in them.

Thin routes: load the cohort scoped to the user (another's cohort is a 404), call a
service in workflow.services.cohorts / imports, render. Refusals re-render the page with
the message beside the field and what the user typed.
"""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import defer

from workflow.extensions import db
from workflow.models import Case, Cohort, ImportBatch
from workflow.services import WorkflowError, definition_of, imports
from workflow.services import cohorts as service
from workflow.services.documents import max_upload_bytes

from ._web import label
from .errors import error_response

bp = Blueprint("cohorts", __name__, url_prefix="/cohorts")

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UPLOAD_ACCEPT = f".csv,.xlsx,text/csv,{XLSX_TYPE}"
MEMBER_ROLES = {"organizer": _l("Organizer"), "coach": _l("Coach"), "examiner": _l("Examiner")}
RECENT_BATCHES = 10


def user():
    return current_user._get_current_object()


def load_cohort(cohort_id: int) -> Cohort:
    cohort = service.cohort_for(user(), cohort_id)
    if cohort is None:
        abort(404)
    return cohort


def dashboard_path(cohort: Cohort) -> str:
    return f"/dashboard/cohorts/{cohort.id}"


# ---------------------------------------------------------------- list and create


@bp.get("")
@login_required
def index():
    cohorts = db.session.scalars(
        service.cohorts_for(user()).order_by(Cohort.start_date.desc(), Cohort.id.desc())
    ).all()
    return render_template(
        "cohorts/index.html",
        cohorts=cohorts,
        can_create=service.can_create(user()),
    )


def _new_page(typed: dict, errors: dict | None = None, message=None, status: int = 200):
    me = user()
    programs = service.programs_for(me)
    staff = {}
    for institution_id in {p.institution_id for p in programs}:
        staff[institution_id] = service.staff_of(institution_id, keep=(me.id,))
    return (
        render_template(
            "cohorts/new.html",
            programs=programs,
            staff=staff,
            typed=typed,
            errors=errors or {},
            message=message,
            date_labels=service.DATE_LABELS,
        ),
        status,
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    me = user()
    if not service.can_create(me):
        abort(403)
    if request.method == "GET":
        programs = service.programs_for(me)
        typed = {"year": str(date.today().year), "quota": "40", "organizers": []}
        if len(programs) == 1:
            typed["program_id"] = str(programs[0].id)
        return _new_page(typed)
    typed = {name: (request.form.get(name) or "").strip() for name in service.FORM_FIELDS}
    typed["organizers"] = request.form.getlist("organizers")
    try:
        cohort = service.create_cohort(me, typed, typed["organizers"])
    except WorkflowError as exc:
        db.session.rollback()
        if exc.status == 403:
            abort(403)
        return _new_page(typed, exc.fields, str(exc.message), exc.status)
    flash(_("Cohort %(name)s created.", name=cohort.name), "success")
    return redirect(url_for("cohorts.show", cohort_id=cohort.id))


# ---------------------------------------------------------------- the cohort page


def _show(cohort: Cohort, status: int = 200, **problems):
    me = user()
    view = service.overview(cohort)
    organizer = any(o.id == me.id for o in view.organizers)
    groups_by_id = {group.id: group for group in view.groups}
    organizer_ids = {o.id for o in view.organizers}
    batches = _recent_batches(cohort)
    context = {
        "cohort": cohort,
        "program": cohort.program,
        "view": view,
        "groups_by_id": groups_by_id,
        "can_assign": organizer,
        "assignable": {c.id: service.assignable(c) for c in view.cases},
        "state_labels": {c.id: label(definition_of(c).state(c.state).labels) for c in view.cases},
        "organizer_candidates": [u for u in view.staff if u.id not in organizer_ids],
        "batches": batches,
        "dashboard_path": dashboard_path(cohort),
        "date_labels": service.DATE_LABELS,
        "member_roles": MEMBER_ROLES,
        "group_form": problems.get("group_form"),  # {"id", "typed", "errors", "message"}
        "assign_error": problems.get("assign_error"),  # {"case_id", "message"}
        "evenly_error": problems.get("evenly_error"),
        "organizer_error": problems.get("organizer_error"),
    }
    return render_template("cohorts/show.html", **context), status


@bp.get("/<int:cohort_id>")
@login_required
def show(cohort_id: int):
    return _show(load_cohort(cohort_id))


@bp.post("/<int:cohort_id>/organizers")
@login_required
def add_organizer(cohort_id: int):
    cohort = load_cohort(cohort_id)
    try:
        person = service.add_organizer(cohort, user(), request.form.get("organizer"))
    except WorkflowError as exc:
        db.session.rollback()
        return _show(cohort, exc.status, organizer_error=str(exc.message))
    flash(_("%(name)s now organizes this cohort.", name=person.name), "success")
    return redirect(url_for("cohorts.show", cohort_id=cohort.id, _anchor="members"))


def _save_group(cohort: Cohort, group=None):
    typed = {k: (request.form.get(k) or "").strip() for k in ("name", "coach_id", "examiner_id")}
    try:
        saved = service.save_group(
            cohort, typed["name"], typed["coach_id"], typed["examiner_id"], group
        )
    except WorkflowError as exc:
        db.session.rollback()
        form = {
            "id": group.id if group is not None else None,
            "typed": typed,
            "errors": {k: str(v) for k, v in exc.fields.items()},
            "message": str(exc.message),
        }
        return _show(cohort, exc.status, group_form=form)
    text = _("Group %(name)s saved.", name=saved.name)
    flash(text, "success")
    return redirect(url_for("cohorts.show", cohort_id=cohort.id, _anchor="groups"))


@bp.post("/<int:cohort_id>/groups")
@login_required
def create_group(cohort_id: int):
    return _save_group(load_cohort(cohort_id))


@bp.post("/<int:cohort_id>/groups/<int:group_id>")
@login_required
def edit_group(cohort_id: int, group_id: int):
    cohort = load_cohort(cohort_id)
    group = service.group_of(cohort, group_id)
    if group is None:
        abort(404)
    return _save_group(cohort, group)


@bp.post("/<int:cohort_id>/assign")
@login_required
def assign(cohort_id: int):
    cohort = load_cohort(cohort_id)
    case_id = request.form.get("case_id", "")
    group_id = (request.form.get("group_id") or "").strip()
    # A number past any id is no group (and would overflow the query): refused as such.
    if not (group_id.isascii() and group_id.isdigit() and len(group_id) < 10):
        group_id = ""
    try:
        service.assign(cohort, user(), case_id, group_id)
    except WorkflowError as exc:
        db.session.rollback()
        if exc.status == 404:
            abort(404)
        message = str(exc.fields.get("group_id") or exc.message)
        return _show(cohort, exc.status, assign_error={"case_id": case_id, "message": message})
    flash(_("The trainee is assigned to the group."), "success")
    return redirect(url_for("cohorts.show", cohort_id=cohort.id, _anchor=f"case-{case_id}"))


@bp.post("/<int:cohort_id>/assign-evenly")
@login_required
def assign_evenly(cohort_id: int):
    cohort = load_cohort(cohort_id)
    include_assigned = request.form.get("scope") == "all"
    try:
        result = service.assign_evenly(cohort, user(), include_assigned=include_assigned)
    except WorkflowError as exc:
        db.session.rollback()
        return _show(cohort, exc.status, evenly_error=str(exc.message))
    if result.moved:
        flash(_("%(n)d trainees were assigned to groups.", n=result.moved), "success")
    else:
        flash(_("No trainee needed to move: the groups are already even."), "info")
    for case, message in result.failed:
        flash(_("%(name)s: %(message)s", name=case.trainee.name, message=message), "error")
    return redirect(url_for("cohorts.show", cohort_id=cohort.id, _anchor="groups"))


# ---------------------------------------------------------------- import


def _recent_batches(cohort: Cohort) -> list[ImportBatch]:
    """The latest uploads, by name and date: their rows (up to 2,000 each) stay unread."""
    return db.session.scalars(
        select(ImportBatch)
        .where(ImportBatch.cohort_id == cohort.id)
        .options(defer(ImportBatch.rows), defer(ImportBatch.summary))
        .order_by(ImportBatch.created_at.desc(), ImportBatch.id.desc())
        .limit(RECENT_BATCHES)
    ).all()


def _upload_page(cohort: Cohort, error=None, status: int = 200):
    batches = _recent_batches(cohort)
    limit = max_upload_bytes()
    return (
        render_template(
            "cohorts/import.html",
            cohort=cohort,
            error=error,
            batches=batches,
            columns=imports.COLUMNS,
            accept=UPLOAD_ACCEPT,
            max_bytes=limit,
            max_mb=f"{limit / 1024 / 1024:g}",
            max_rows=imports.MAX_ROWS,
        ),
        status,
    )


@bp.route("/<int:cohort_id>/import", methods=["GET", "POST"])
@login_required
def upload(cohort_id: int):
    cohort = load_cohort(cohort_id)
    if request.method == "GET":
        return _upload_page(cohort)
    try:
        batch = imports.create_batch(cohort, user(), request.files.get("file"))
    except WorkflowError as exc:
        db.session.rollback()
        return _upload_page(cohort, str(exc.message), exc.status)
    return redirect(url_for("cohorts.preview", cohort_id=cohort.id, batch_id=batch.id))


def load_batch(cohort: Cohort, batch_id: int) -> ImportBatch:
    batch = db.session.get(ImportBatch, batch_id)
    if batch is None or batch.cohort_id != cohort.id:
        abort(404)
    return batch


def _preview(cohort: Cohort, batch: ImportBatch, message=None, status: int = 200):
    if message is None and batch.imported_at is None:
        message = imports.failure_of(batch)
    page = request.args.get("page", 1, type=int) or 1
    only_errors = request.args.get("show") == "errors"
    rows, pages = imports.page_of(batch.rows, page, only_errors)
    page = min(max(page, 1), pages)
    counts = imports.counts(batch.rows)
    trainees_now = db.session.scalar(cohort_case_count(cohort))
    new_trainees = sum(1 for r in batch.rows if not r["errors"] and imports.role_of(r) == "trainee")
    return (
        render_template(
            "cohorts/preview.html",
            cohort=cohort,
            batch=batch,
            rows=rows,
            page=page,
            pages=pages,
            only_errors=only_errors,
            counts=counts,
            columns=imports.COLUMNS,
            message=message,
            over_quota=trainees_now + new_trainees > cohort.quota,
            running=imports.running(batch),
            trainees_after=trainees_now + new_trainees,
        ),
        status,
    )


def cohort_case_count(cohort: Cohort):
    return select(func.count(Case.id)).where(Case.cohort_id == cohort.id)


@bp.get("/<int:cohort_id>/import/<int:batch_id>")
@login_required
def preview(cohort_id: int, batch_id: int):
    cohort = load_cohort(cohort_id)
    return _preview(cohort, load_batch(cohort, batch_id))


@bp.post("/<int:cohort_id>/import/<int:batch_id>")
@login_required
def confirm(cohort_id: int, batch_id: int):
    cohort = load_cohort(cohort_id)
    batch = load_batch(cohort, batch_id)
    skip = request.form.get("skip_errors") == "1"
    try:
        summary = imports.confirm(batch, user(), skip_errors=skip)
    except WorkflowError as exc:
        db.session.rollback()
        return _preview(cohort, batch, str(exc.message), exc.status)
    if summary.get("again"):
        flash(_("This list was already imported; nothing was imported again."), "info")
    elif summary.get("queued"):
        flash(_("The import has started; this page shows the result when it is done."), "info")
    else:
        flash(
            _(
                "Imported: %(cases)d trainees, %(created)d new accounts, %(reused)d existing "
                "accounts; %(skipped)d rows skipped.",
                cases=summary["cases"],
                created=summary["created"],
                reused=summary["reused"],
                skipped=summary["skipped"],
            ),
            "success",
        )
    return redirect(url_for("cohorts.preview", cohort_id=cohort.id, batch_id=batch.id))


def _download(data: bytes, name: str, mimetype: str):
    response = make_response(data)
    response.mimetype = mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/import-template.xlsx")
@login_required
def template_xlsx():
    return _download(imports.template_xlsx(), "templat-peserta.xlsx", XLSX_TYPE)


@bp.get("/import-template.csv")
@login_required
def template_csv():
    return _download(imports.template_csv(), "templat-peserta.csv", "text/csv")


@bp.errorhandler(413)
def too_large(exc):
    """A request above MAX_CONTENT_LENGTH loses its form: say so on the upload page."""
    args = request.view_args or {}
    cohort = None
    if getattr(current_user, "is_authenticated", False) and "cohort_id" in args:
        cohort = service.cohort_for(user(), args["cohort_id"])
    if cohort is None:
        return error_response(413)
    mb = current_app.config.get("MAX_UPLOAD_MB", 10)
    return _upload_page(cohort, _("The file is too large (at most %(mb)s MB).", mb=f"{mb:g}"), 413)


def sets_up_cohorts() -> bool:
    """For the navigation: whether the cohorts page is for the current user (one query a
    request, however often a template asks)."""
    if "_aksi_cohorts_nav" not in g:
        g._aksi_cohorts_nav = service.sets_up_cohorts(current_user)
    return g._aksi_cohorts_nav


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        sets_up_cohorts=sets_up_cohorts,
        program_label=lambda program: f"{program.code} · {program.institution.name}",
    )

    @app.before_request
    def _forget_cohorts_nav():
        # Tests keep one app context (and `g`) across requests: never reuse another's answer.
        g.pop("_aksi_cohorts_nav", None)
