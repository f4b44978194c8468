"""Oversight dashboards for organizers, coaches and institution admins: the overview of
everything overseen, one cohort (funnel, time in state, the trainee table with filters,
search, sort, pages and bulk actions) and the table as CSV/XLSX.

Who oversees nothing (a trainee, a mentor) gets a friendly page at /dashboard and 404 for
any cohort; a cohort the user does not oversee is a 404 too. Reads come from
services.dashboards; bulk actions send each case through perform().
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

from babel.numbers import format_decimal
from flask import Blueprint, abort, g, make_response, render_template, request, send_file
from flask import url_for as flask_url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.routing import BuildError

from workflow.extensions import db
from workflow.models import Group
from workflow.models._base import utcnow
from workflow.services import dashboards as dash
from workflow.services import exports
from workflow.services.calendar import local_date
from workflow.services.dashboards import TableQuery
from workflow.services.workflow import cohort_definition

from ._web import is_htmx, lang

bp = Blueprint("dashboard", __name__)

# The cohort table has no cohort column or filter: it is one cohort.
COHORT_SORTS = tuple(s for s in dash.SORTS if s != "cohort")
# Which field holds the comment of each bulk action.
COMMENT_FIELD = {"remind": "message", "extend_deadline": "reason"}
FORM_FIELDS = ("action", "message", "reason", "due_date", "group_id")


def optional_url(endpoint: str, **values) -> str | None:
    """A link to a page another part of the app serves, or None while it does not exist."""
    try:
        return flask_url_for(endpoint, **values)
    except BuildError:
        return None


def number(value, digits: int = 1) -> str:
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "#" * digits if digits else "")
    return format_decimal(round(value, digits), format=pattern, locale=lang())


def _wants_fragment() -> bool:
    # htmx restoring history after a cache miss wants the whole page.
    return is_htmx() and request.headers.get("HX-History-Restore-Request") != "true"


def _render(page: str, fragment: str, status: int = 200, **context):
    partial = _wants_fragment()
    response = make_response(
        render_template(fragment if partial else page, fragment=partial, **context), status
    )
    response.vary.add("HX-Request")
    return response


def _table_links(endpoint: str, values: dict, query: TableQuery, export_endpoint: str) -> dict:
    """URL makers for the table's template: the same table with some parameters changed,
    a state of the funnel, the table as a file (its filters and sort, every page)."""

    def link(**changes) -> str:
        return flask_url_for(endpoint, **values, **query.args(**changes))

    def state_url(state: str) -> str:
        kept = {"group": query.group} if query.group is not None else {}
        return flask_url_for(endpoint, **values, **TableQuery(state=state, **kept).args())

    def export_link(fmt: str) -> str:
        args = query.args(page=1, per_page=dash.DEFAULT_PER_PAGE)
        return flask_url_for(export_endpoint, fmt=fmt, **values, **args)

    return {
        "link": link,
        "state_url": state_url,
        "export_link": export_link,
        "per_page_choices": dash.PER_PAGE_CHOICES,
    }


def _cohort_or_404(cohort_id: int):
    cohort = dash.cohort_for(current_user, cohort_id)
    if cohort is None:
        abort(404)
    return cohort


def _query(sorts=dash.SORTS) -> tuple[TableQuery, dict[str, str]]:
    args = request.args
    if sorts is COHORT_SORTS:
        args = {k: v for k, v in request.args.items() if k != "cohort"}
    return dash.parse_table_query(args, sorts)


def _page_arg(name: str) -> int:
    raw = request.args.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 8 else 1


# ---------------------------------------------------------------- the time-in-state chart


@dataclass
class Bar:
    label: str
    visits: int
    median: float
    p90: float
    y: float
    width: float
    p90_x: float


@dataclass
class Chart:
    bars: list[Bar]
    width: int
    height: int
    left: int
    right: int
    scale: float
    ticks: list[tuple[float, float]] = field(default_factory=list)


def chart(times: list[dash.StateTime], width: int = 720, left: int = 230) -> Chart:
    """Geometry of a horizontal bar chart: a bar to the median, a marker at the 90th
    percentile, per state; the scale rounded up to a multiple of 5 working days."""
    row, top, axis = 30, 10, 28
    right = width - 90  # room for the numbers right of the bars
    biggest = max((t.p90 for t in times), default=0)
    scale = max(5, math.ceil(biggest / 5) * 5)
    span = right - left
    bars = []
    for i, t in enumerate(times):
        bars.append(
            Bar(
                label=t.state.labels.get(lang()),
                visits=t.visits,
                median=t.median,
                p90=t.p90,
                y=top + i * row,
                width=round(span * t.median / scale, 1),
                p90_x=round(left + span * t.p90 / scale, 1),
            )
        )
    ticks = [(round(left + span * f, 1), scale * f) for f in (0, 0.25, 0.5, 0.75, 1)]
    height = top + len(times) * row + axis
    return Chart(bars, width, height, left, right, scale, ticks)


# ---------------------------------------------------------------- overview


@dataclass
class BulkForm:
    """What the user sent, to show again with the messages."""

    typed: dict = field(default_factory=dict)
    selected: set[int] = field(default_factory=set)
    all_matching: bool = False
    errors: dict[str, str] = field(default_factory=dict)


@bp.get("/dashboard")
@login_required
def index():
    overview = dash.overview(current_user, _page_arg("cohorts_page"))

    def state_url(state: str) -> str:
        return flask_url_for("dashboard.trainees", state=state)

    # Bases the count cells append "state=…" to: one url_for a row, not one a cell.
    cohort_base = flask_url_for("dashboard.cohort", cohort_id=0).rsplit("/", 1)[0] + "/"

    def cohort_count_base(row) -> str:
        return f"{cohort_base}{row.id}?"

    def province_count_base(row) -> str | None:
        if row.id is None:
            return None
        return flask_url_for("dashboard.trainees", province=row.id) + "&"

    return render_template(
        "dashboard/index.html",
        overview=overview,
        nothing=overview.cohort_total == 0,
        number=number,
        state_url=state_url,
        cohort_count_base=cohort_count_base,
        province_count_base=province_count_base,
    )


@bp.get("/dashboard/trainees")
@login_required
def trainees():
    """Every trainee overseen, across cohorts, in one table."""
    tq, problems = _query()
    page = dash.table_page(current_user, tq)
    context = {
        "table": page,
        "problems": problems,
        "cohort": None,
        "offered": [],
        "results": None,
        "form": BulkForm(),
        "number": number,
        "table_endpoint": "dashboard.trainees",
        "table_values": {},
        "funnel": dash.funnel(current_user),
        **_table_links("dashboard.trainees", {}, page.query, "dashboard.export"),
    }
    if not _wants_fragment():
        context["choices"] = dash.filter_choices(current_user)
    context["nothing"] = not page.total and not context["funnel"].states
    return _render("dashboard/trainees.html", "dashboard/_trainees.html", **context)


# ---------------------------------------------------------------- one cohort


def _cohort_context(cohort, tq: TableQuery, problems: dict, **extra) -> dict:
    roles = dash.cohort_roles(current_user, cohort)
    definition = cohort_definition(cohort)
    page = dash.table_page(current_user, tq, cohort)
    context = {
        "cohort": cohort,
        "roles": roles,
        "offered": dash.offered_actions(roles, definition),
        "table": page,
        "problems": problems,
        "funnel": dash.funnel(current_user, cohort, tq.group),
        "number": number,
        "table_endpoint": "dashboard.cohort",
        "table_values": {"cohort_id": cohort.id},
        "bulk_max": dash.BULK_MAX,
        "bulk_url": flask_url_for("dashboard.bulk", cohort_id=cohort.id, **page.query.args()),
        **_table_links(
            "dashboard.cohort", {"cohort_id": cohort.id}, page.query, "dashboard.cohort_export"
        ),
        "results": None,
        "form": BulkForm(),
        "groups": [],
        **extra,
    }
    if not _wants_fragment() or context["offered"]:
        context["choices"] = dash.filter_choices(current_user, cohort)
        context["groups"] = context["choices"].groups
    if not _wants_fragment():
        times = dash.time_in_state(current_user, cohort, context["funnel"].states)
        context["times"] = times
        context["chart"] = chart(times)
        oversees_all = bool(roles & {"organizer", "admin"})
        context["setup_url"] = (
            optional_url("cohorts.show", cohort_id=cohort.id) if oversees_all else None
        )
        recaps = []
        if oversees_all:
            recaps = [
                (_("Score recap"), optional_url("results.cohort_recap", cohort_id=cohort.id)),
                (
                    _("Score recap (Excel)"),
                    optional_url("results.cohort_recap_xlsx", cohort_id=cohort.id),
                ),
            ]
        context["recap_urls"] = [(text, url) for text, url in recaps if url]
    return context


@bp.get("/dashboard/cohorts/<int:cohort_id>")
@login_required
def cohort(cohort_id: int):
    found = _cohort_or_404(cohort_id)
    tq, problems = _query(COHORT_SORTS)
    context = _cohort_context(found, tq, problems)
    return _render("dashboard/cohort.html", "dashboard/_trainees.html", **context)


def _selected_ids() -> list[int]:
    ids = []
    for raw in request.form.getlist("case_id"):
        raw = raw.strip()
        if raw.isascii() and raw.isdigit() and 0 < len(raw) < 10:
            ids.append(int(raw))
    return list(dict.fromkeys(ids))


@bp.post("/dashboard/cohorts/<int:cohort_id>/bulk")
@login_required
def bulk(cohort_id: int):
    """One action on the selected rows (or every row the filters match): each case through
    perform() on its own, each reported. A form problem performs nothing."""
    found = _cohort_or_404(cohort_id)
    tq, problems = _query(COHORT_SORTS)
    roles = dash.cohort_roles(current_user, found)
    offered = dash.offered_actions(roles, cohort_definition(found))
    if not offered:
        abort(403)
    typed = {name: request.form.get(name, "") for name in FORM_FIELDS}
    form = BulkForm(
        typed=typed,
        selected=set(_selected_ids()),
        all_matching=request.form.get("all_matching") == "1",
    )
    act = next((a for a in offered if a.key == typed["action"]), None)
    if act is None:
        form.errors["action"] = _("Choose one of the actions.")
    if form.all_matching:
        ids = dash.matching_ids(current_user, tq, found, dash.BULK_MAX + 1)
    else:
        ids = list(form.selected)
    if not ids:
        form.errors["case_id"] = _("Select at least one trainee.")
    elif len(ids) > dash.BULK_MAX:
        form.errors["case_id"] = _(
            "At most %(n)d trainees at once: narrow the filters or select fewer.",
            n=dash.BULK_MAX,
        )
    comment, data = "", {}
    if act is not None:
        comment_field = COMMENT_FIELD.get(act.key)
        raw_comment = typed[comment_field] if comment_field else None
        raw_data = {}
        if any(f.name == "due_date" for f in act.fields):
            raw_data["due_date"] = typed["due_date"]
        if act.key == "assign_group":
            raw_data["group_id"] = typed["group_id"]
        group_ids = set()
        if act.key == "assign_group":
            # Read to the end now: a cursor left open keeps SQLite's read lock, and the
            # commits below would wait on it.
            group_ids = set(db.session.scalars(select(Group.id).where(Group.cohort_id == found.id)))
        comment, data, errors = dash.check_bulk_form(act, raw_comment, raw_data, group_ids)
        for name, message in errors.items():
            form.errors[comment_field if name == "comment" and comment_field else name] = message
    if form.errors:
        context = _cohort_context(found, tq, problems, form=form)
        return _render("dashboard/cohort.html", "dashboard/_trainees.html", 422, **context)
    outcomes = dash.bulk_act(current_user, found, act, ids, comment=comment, data=data)
    status = 200 if any(o.ok for o in outcomes) else 422
    context = _cohort_context(found, tq, problems, results=outcomes, done_action=act)
    return _render("dashboard/cohort.html", "dashboard/_trainees.html", status, **context)


# ---------------------------------------------------------------- exports


def _send(rows, fmt: str, name: str | None, zone: str):
    content = exports.trainees_file(rows, fmt, lang())
    day = local_date(utcnow(), zone)
    response = send_file(
        io.BytesIO(content),
        mimetype=exports.FORMATS[fmt],
        as_attachment=True,
        download_name=exports.filename(name, day, fmt),
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/dashboard/cohorts/<int:cohort_id>/export.<any(csv, xlsx):fmt>")
@login_required
def cohort_export(cohort_id: int, fmt: str):
    found = _cohort_or_404(cohort_id)
    tq, _problems = _query(COHORT_SORTS)
    rows = dash.table_rows(current_user, tq, found)
    return _send(rows, fmt, found.name, found.program.institution.timezone)


@bp.get("/dashboard/export.<any(csv, xlsx):fmt>")
@login_required
def export(fmt: str):
    """Every trainee overseen, with the table's filters and sort."""
    if not dash.oversees_anything(current_user):
        abort(404)
    tq, _problems = _query()
    rows = dash.table_rows(current_user, tq)
    zone = current_user.institution.timezone if current_user.institution else "Asia/Jakarta"
    return _send(rows, fmt, None, zone)


def oversees() -> bool:
    """For the navigation: does the current user oversee any cohort or group? One small
    query, once a request (remembered with the user it was asked for)."""
    if not getattr(current_user, "is_authenticated", False):
        return False
    cached = g.get("_aksi_oversees")
    if cached is None or cached[0] != current_user.id:
        cached = g._aksi_oversees = (current_user.id, dash.oversees_anything(current_user))
    return cached[1]


def init_app(app) -> None:
    app.jinja_env.globals.update(oversees=oversees)

    @app.before_request
    def _forget_oversight():
        # Tests keep one `g` across requests: a new request asks again.
        g.pop("_aksi_oversees", None)
