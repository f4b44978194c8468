"""Campaigns in the web UI: the list, the launch form (institution admins), the dashboard
per district ("n dari m dikirim / diverifikasi / divalidasi", overdue units named), the
drill-down to the units of a district with bulk remind, a region tree coloured by status,
and the tables as CSV/XLSX.

A campaign the user neither oversees nor takes part in is a 404; rows are scoped to the
cases the user may see (a camat sees their kecamatan). Reads come from
services.campaigns; reminders go through perform() on each case.
"""

from __future__ import annotations

import io

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request
from flask import url_for as flask_url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from workflow.engine.definitions import BUILTIN_ROLES
from workflow.extensions import db
from workflow.models import Campaign, Region, User
from workflow.models._base import utcnow
from workflow.permissions import is_institution_admin
from workflow.services import WorkflowError, campaign_people
from workflow.services import campaigns as svc
from workflow.services.calendar import local_date
from workflow.services.exports import slug

from ._web import is_htmx, lang, user_roles

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
LEVELS = ("village", "district", "regency", "province")
PER_PAGE = 100


def me() -> User:
    return current_user._get_current_object()


def _campaign_or_404(campaign_id: int) -> Campaign:
    found = svc.campaign_for(me(), campaign_id)
    if found is None:
        abort(404)
    return found


def _flag(name: str) -> bool:
    return request.args.get(name) in ("1", "on", "yes")


# ---------------------------------------------------------------- list


@bp.get("")
@login_required
def index():
    campaigns = db.session.scalars(
        svc.campaigns_visible_to(me()).order_by(Campaign.created_at.desc(), Campaign.id.desc())
    ).all()
    labels = {}
    for c in campaigns:
        try:
            labels[c.id] = svc.definition_of_campaign(c).labels.get(lang())
        except LookupError:
            labels[c.id] = c.definition_key
    return render_template(
        "campaigns/index.html",
        campaigns=campaigns,
        flow_labels=labels,
        can_launch=svc.can_launch(me(), me().institution),
    )


# ---------------------------------------------------------------- launch


def _staff(user: User) -> list[User]:
    """The institution's active people with an office region, by region code."""
    return list(
        db.session.scalars(
            select(User)
            .join(Region, Region.id == User.office_region_id)
            .where(User.institution_id == user.institution_id, User.active.is_(True))
            .order_by(Region.code, User.name)
        )
    )


def _region_roles(definition) -> list:
    return [r for r in definition.roles if r.assignment == "region"] if definition else []


def _new_page(typed: dict, errors: dict | None = None, message=None, status: int = 200):
    definitions = svc.region_definitions()
    chosen = next((d for d in definitions if d.key == typed.get("definition")), None)
    if chosen is None and len(definitions) == 1:
        chosen = definitions[0]
    area = None
    if typed.get("area"):
        area = db.session.scalar(select(Region).where(Region.code == typed["area"]))
    response = make_response(
        render_template(
            "campaigns/new.html",
            typed=typed,
            errors=errors or {},
            message=message,
            definitions=definitions,
            chosen=chosen,
            roles=_region_roles(chosen),
            staff=_staff(me()),
            area=area,
            levels=LEVELS,
        ),
        status,
    )
    return response


def _typed() -> dict:
    form = request.form
    typed = {
        name: (form.get(name) or "").strip()
        for name in ("definition", "name", "area", "deadline", "allow_unassigned")
    }
    for key in form:
        if key.startswith("level-"):
            typed[key] = (form.get(key) or "").strip()
        if key.startswith("pick-"):
            typed[key] = form.getlist(key)
    return typed


def _holders(typed: dict, definition, area: Region | None, staff: list[User]) -> list:
    """Who holds each role: everyone of the institution whose office is at the chosen level
    inside (or over) the area, and the people ticked one by one."""
    holders = []
    for spec in _region_roles(definition):
        level = typed.get(f"level-{spec.key}")
        if level in LEVELS and area is not None:
            for u in staff:
                office = u.office_region
                if office.level == level and (
                    svc.inside(office.code or "", area.code)
                    or svc.inside(area.code, office.code or "")
                ):
                    holders.append(svc.Holder(spec.key, u))
        picked = {v for v in typed.get(f"pick-{spec.key}", []) if v.isdigit()}
        holders += [svc.Holder(spec.key, u) for u in staff if str(u.id) in picked]
    return holders


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    user = me()
    if not svc.can_launch(user, user.institution):
        abort(403)
    if request.method == "GET":
        typed = {}
        definitions = svc.region_definitions()
        if len(definitions) == 1:
            d = definitions[0]
            typed["definition"] = d.key
            # The role that fills in: the people whose office is a unit of the campaign.
            for role in d.state(d.initial).owners:
                typed[f"level-{role}"] = d.unit_level
        if user.institution.region is not None:
            typed["area"] = user.institution.region.code or ""
        return _new_page(typed)
    typed = _typed()
    if request.form.get("step") == "refresh":
        return _new_page(typed)
    definition = next((d for d in svc.region_definitions() if d.key == typed["definition"]), None)
    area = db.session.scalar(select(Region).where(Region.code == typed["area"]))
    holders = _holders(typed, definition, area, _staff(user))
    try:
        campaign = svc.launch(
            user.institution,
            user,
            typed["definition"],
            typed["name"],
            typed["area"],
            typed["deadline"] or None,
            holders,
            allow_unassigned=typed.get("allow_unassigned") == "1",
        )
    except WorkflowError as exc:
        db.session.rollback()
        if exc.status == 403:
            abort(403)
        return _new_page(typed, exc.fields, str(exc.message), exc.status)
    flash(_("Campaign %(name)s launched.", name=campaign.name), "success")
    return redirect(flask_url_for("campaigns.show", campaign_id=campaign.id))


# ---------------------------------------------------------------- dashboard


def _sort_args(allowed) -> tuple[str, bool]:
    sort = request.args.get("sort", "name")
    if sort not in allowed:
        sort = "name"
    return sort, request.args.get("dir") == "desc"


@bp.get("/<int:campaign_id>")
@login_required
def show(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    sort, descending = _sort_args(svc.SORTS)
    show_ = request.args.get("show", "all")
    if show_ not in svc.SHOWS:
        show_ = "all"
    summ = svc.summary(campaign, me(), sort=sort, descending=descending, show=show_)

    def link(**changes) -> str:
        args = {"sort": sort, "dir": "desc" if descending else "asc", "show": show_}
        args.update(changes)
        return flask_url_for("campaigns.show", campaign_id=campaign.id, **args)

    roles = svc.roles_in(me(), campaign)
    response = make_response(
        render_template(
            "campaigns/show.html",
            campaign=campaign,
            summary=summ,
            sort=sort,
            descending=descending,
            show=show_,
            shows=svc.SHOWS,
            link=link,
            is_admin="admin" in roles,
            lang=lang(),
        )
    )
    response.vary.add("HX-Request")
    return response


def _district_or_404(campaign: Campaign, code: str) -> Region:
    district = svc.district_of(campaign, code)
    if district is None:
        abort(404)
    return district


def _district_context(campaign, district, *, results=None, typed=None, errors=None) -> dict:
    definition = svc.definition_of_campaign(campaign)
    sort, descending = _sort_args(svc.UNIT_SORTS)
    state = request.args.get("state") or None
    if state is not None and not definition.has_state(state):
        state = None
    overdue = _flag("overdue")
    page = request.args.get("page", "1")
    page = int(page) if page.isascii() and page.isdigit() and 0 < len(page) < 7 else 1
    rows, total = svc.units(
        campaign,
        me(),
        district=district.code,
        state=state,
        overdue_only=overdue,
        sort=sort,
        descending=descending,
        limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE,
    )
    if total == 0 and state is None and not overdue:
        abort(404)  # none of this district's units is the user's to see

    def link(**changes) -> str:
        args = {
            "sort": sort,
            "dir": "desc" if descending else "asc",
            "state": state or "",
            "overdue": "1" if overdue else "",
            "page": page,
        }
        args.update(changes)
        args = {k: v for k, v in args.items() if v not in ("", None)}
        return flask_url_for(
            "campaigns.district", campaign_id=campaign.id, code=district.code, **args
        )

    roles = svc.roles_in(me(), campaign)
    return {
        "campaign": campaign,
        "definition": definition,
        "district": district,
        "rows": rows,
        "total": total,
        "page": page,
        "pages": max(1, (total + PER_PAGE - 1) // PER_PAGE),
        "state": state,
        "overdue": overdue,
        "sort": sort,
        "descending": descending,
        "link": link,
        "can_remind": bool(roles & svc.remind_roles(definition)),
        "results": results,
        "typed": typed or {},
        "errors": errors or {},
        "bulk_max": svc.BULK_MAX,
        "lang": lang(),
    }


def _render_district(status: int = 200, **context):
    template = "campaigns/_units.html" if is_htmx() else "campaigns/district.html"
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


@bp.get("/<int:campaign_id>/districts/<code>")
@login_required
def district(campaign_id: int, code: str):
    campaign = _campaign_or_404(campaign_id)
    found = _district_or_404(campaign, code)
    return _render_district(**_district_context(campaign, found))


@bp.post("/<int:campaign_id>/districts/<code>/remind")
@login_required
def remind(campaign_id: int, code: str):
    """Remind whoever must act on the ticked units: each case through perform()."""
    campaign = _campaign_or_404(campaign_id)
    found = _district_or_404(campaign, code)
    definition = svc.definition_of_campaign(campaign)
    if not svc.roles_in(me(), campaign) & svc.remind_roles(definition):
        abort(403)
    ids = []
    for raw in request.form.getlist("case_id"):
        raw = raw.strip()
        if raw.isascii() and raw.isdigit() and 0 < len(raw) < 10:
            ids.append(int(raw))
    ids = list(dict.fromkeys(ids))
    message = (request.form.get("message") or "").strip()
    typed = {"message": message, "selected": set(ids)}
    errors = {}
    if not ids:
        errors["case_id"] = _("Select at least one unit.")
    elif len(ids) > svc.BULK_MAX:
        errors["case_id"] = _("At most %(n)d units at once.", n=svc.BULK_MAX)
    if len(message) > 5000:
        errors["message"] = _("The message is too long (at most %(n)d characters).", n=5000)
    if errors:
        context = _district_context(campaign, found, typed=typed, errors=errors)
        return _render_district(422, **context)
    results = svc.bulk_remind(me(), campaign, ids, message)
    status = 200 if any(o.ok for o in results) else 422
    context = _district_context(campaign, found, results=results, typed=typed)
    return _render_district(status, **context)


@bp.get("/<int:campaign_id>/tree")
@login_required
def tree(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    definition = svc.definition_of_campaign(campaign)
    ranks = {s.key: i for i, s in enumerate(definition.states)}
    # One url_for, not one per unit (10,000 links).
    case_base = flask_url_for("cases.show", case_id=1)[:-1]
    return render_template(
        "campaigns/tree.html",
        case_base=case_base,
        final={s.key for s in definition.states if s.terminal},
        campaign=campaign,
        definition=definition,
        groups=svc.tree(campaign, me()),
        ranks=ranks,
        lang=lang(),
    )


@bp.post("/<int:campaign_id>/close")
@login_required
def close(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    try:
        svc.close(campaign, me())
    except WorkflowError as exc:
        db.session.rollback()
        if exc.status == 403:
            abort(403)
        flash(str(exc.message), "error")
    else:
        flash(_("Campaign %(name)s closed.", name=campaign.name), "success")
    return redirect(flask_url_for("campaigns.show", campaign_id=campaign.id))


# ---------------------------------------------------------------- people from a file


def _people_page(campaign, *, error=None, rows=None, status: int = 200):
    from workflow.services.documents import max_upload_bytes

    max_bytes = max_upload_bytes()
    return make_response(
        render_template(
            "campaigns/people.html",
            campaign=campaign,
            columns=campaign_people.COLUMNS,
            roles=campaign_people.region_roles(campaign),
            error=error,
            rows=rows or [],
            labels={c.key: c.label for c in campaign_people.COLUMNS},
            max_bytes=max_bytes,
            max_mb=f"{max_bytes / (1024 * 1024):g}",
            max_rows=campaign_people.imports.MAX_ROWS,
            lang=lang(),
        ),
        status,
    )


@bp.route("/<int:campaign_id>/people", methods=["GET", "POST"])
@login_required
def people(campaign_id: int):
    """The campaign's operators, camat offices and DPMP validators from a CSV/XLSX file:
    accounts made or found, members added, new accounts invited."""
    campaign = _campaign_or_404(campaign_id)
    if not svc.can_launch(me(), campaign.institution):
        abort(403)
    if request.method == "GET":
        return _people_page(campaign)
    try:
        out = campaign_people.import_people(campaign, me(), request.files.get("file"))
    except campaign_people.RowsRefused as exc:
        db.session.rollback()
        return _people_page(campaign, error=str(exc.message), rows=exc.rows, status=422)
    except WorkflowError as exc:
        db.session.rollback()
        if exc.status == 403:
            abort(403)
        return _people_page(campaign, error=str(exc.message), status=exc.status)
    flash(
        _(
            "Accounts created: %(created)d; existing accounts linked: %(linked)d; "
            "members added: %(added)d.",
            created=out.created,
            linked=out.linked,
            added=out.added,
        )
        + (" " + _("Already members: %(n)d.", n=out.skipped) if out.skipped else "")
        + (" " + _("Invitations being sent: %(n)d.", n=out.invited) if out.invited else ""),
        "success",
    )
    return redirect(flask_url_for("campaigns.people", campaign_id=campaign.id))


# ---------------------------------------------------------------- exports


def _send(content: bytes, fmt: str, parts: list[str], zone: str):
    from flask import send_file

    day = local_date(utcnow(), zone)
    name = "-".join([p for p in (slug(x) for x in parts) if p] + [day.isoformat()]) + "." + fmt
    response = send_file(
        io.BytesIO(content),
        mimetype=FORMATS[fmt],
        as_attachment=True,
        download_name=name,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/<int:campaign_id>/export.<any(csv, xlsx):fmt>")
@login_required
def export(campaign_id: int, fmt: str):
    """The district table (CSV), or the district table and every unit (XLSX)."""
    campaign = _campaign_or_404(campaign_id)
    sort, descending = _sort_args(svc.SORTS)
    show_ = request.args.get("show", "all")
    show_ = show_ if show_ in svc.SHOWS else "all"
    summ = svc.summary(campaign, me(), sort=sort, descending=descending, show=show_)
    rows = svc.units(campaign, me(), sort="code")[0] if fmt == "xlsx" else []
    content = svc.export_file(summ, rows, fmt, lang())
    return _send(content, fmt, ["kampanye", campaign.name], campaign.institution.timezone)


@bp.get("/<int:campaign_id>/districts/<code>/export.<any(csv, xlsx):fmt>")
@login_required
def district_export(campaign_id: int, code: str, fmt: str):
    campaign = _campaign_or_404(campaign_id)
    found = _district_or_404(campaign, code)
    rows, _total = svc.units(campaign, me(), district=found.code, sort="code")
    content = svc.units_file(rows, fmt, lang())
    return _send(content, fmt, [campaign.name, found.name], campaign.institution.timezone)


def campaigns_link() -> bool:
    """For the navigation: may the user launch a campaign, or do they hold a role a
    definition declares (operator, camat, DPMP) on some case? The roles come from the
    navigation's own per-request lookup: no query of its own."""
    if not getattr(current_user, "is_authenticated", False):
        return False
    user = me()
    declared = set(user_roles(user)) - set(BUILTIN_ROLES) - {"admin"}
    # An institution's admin launches campaigns for it (svc.can_launch).
    return bool(declared) or is_institution_admin(user)


def init_app(app) -> None:
    app.jinja_env.globals.update(campaigns_link=campaigns_link)
