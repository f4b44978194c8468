"""Data forms of a case (the profil pekon): the autosaving form (htmx, and a plain POST
without JavaScript), its read-only view, its history, and the export of one form over every
case the user may see.

Inputs are named `d-<field>` and, for a cell of a table of rows, `d-<field>-<i>-<cell>`, with
`rows-<field>` giving how many rows the page holds, so that the whole form posts as one and
what was typed can be shown again exactly as typed. Messages sit in `m-<dom id>` slots beside
their boxes; an autosave answers the status line and every slot (out of band), never the boxes
themselves, so nothing the user is typing is replaced.
"""

from __future__ import annotations

import io
import json
import re

from babel.numbers import format_decimal
from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import and_, select

from workflow.engine import registry
from workflow.engine.forms import FormField, FormSpec
from workflow.extensions import db
from workflow.models import Campaign, Case, Region, User
from workflow.models._base import utcnow
from workflow.models.forms import FormEntry
from workflow.permissions import cases_visible_to, get_case_for
from workflow.services import Conflict, WorkflowError, definition_of
from workflow.services import forms as F
from workflow.services.calendar import local_date
from workflow.services.exports import FORMATS, slug
from workflow.services.spreadsheets import csv_bytes, xlsx_bytes

from ._web import is_htmx, lang, localdate, localtime

bp = Blueprint("forms", __name__)

MAX_POSTED_ROWS = 500


# ---------------------------------------------------------------- naming


def dom_id(path: str) -> str:
    """ "facilities[2].name" → "facilities-2-name" (ids and input names of the page)."""
    return path.replace("].", "-").replace("[", "-").replace("]", "")


def input_name(path: str) -> str:
    return "d-" + dom_id(path)


def _institution(case: Case):
    return case.institution


def unit_name(case: Case) -> str:
    if case.region is not None:
        return case.region.name
    return case.title or f"#{case.id}"


# ---------------------------------------------------------------- values as shown


def box_value(f: FormField, value) -> str:
    """A stored value as its input shows it."""
    if value is None:
        return ""
    if f.type == "number":
        return F.number_text(value, lang())
    if f.type == "boolean":
        return "yes" if value is True else ("no" if value is False else str(value))
    return str(value)


def box_values(form: FormSpec, data: dict) -> dict:
    values: dict = {}
    for f in form.all_fields().values():
        value = data.get(f.name)
        if f.type == "rows":
            rows = value if isinstance(value, list) else []
            values[f.name] = [
                {c.name: box_value(c, row.get(c.name)) for c in f.fields}
                for row in rows
                if isinstance(row, dict)
            ]
        else:
            values[f.name] = box_value(f, value)
    return values


def read_value(f: FormField, value) -> str:
    """A stored value as a reader reads it (labels, local dates, units)."""
    if value is None or value == "":
        return ""
    here = lang()
    if f.type == "number":
        text = format_decimal(value, format="#,##0.######", locale=here)
        return f"{text} {f.unit.get(here)}" if f.unit is not None else text
    if f.type == "boolean":
        return _("Yes") if value is True else _("No")
    if f.type == "choice":
        choice = next((c for c in f.choices if c.value == value), None)
        return choice.labels.get(here) if choice else str(value)
    if f.type == "date":
        try:
            from datetime import date

            return localdate(date.fromisoformat(str(value)))
        except ValueError:
            return str(value)
    return str(value)


# ---------------------------------------------------------------- what was posted


def posted(form: FormSpec) -> tuple[dict, dict]:
    """(typed: what the page shows again, raw: what is checked) from the posted form."""
    typed: dict = {}
    raw: dict = {}
    for f in form.all_fields().values():
        if f.type == "rows":
            count_key = f"rows-{f.name}"
            if count_key not in request.form:
                continue
            count = min(request.form.get(count_key, type=int) or 0, MAX_POSTED_ROWS)
            rows = []
            for i in range(max(count, 0)):
                row = {}
                for c in f.fields:
                    key = input_name(f"{f.name}[{i}].{c.name}")
                    if key in request.form:
                        row[c.name] = request.form.get(key, "")
                rows.append(row)
            typed[f.name] = rows
        else:
            key = input_name(f.name)
            if key in request.form:
                typed[f.name] = request.form.get(key, "")
    for name, value in typed.items():
        raw[name] = [dict(r) for r in value] if isinstance(value, list) else value
    return typed, raw


def row_action(form: FormSpec) -> tuple[str, str, int | None] | None:
    """("add", field, None) or ("remove", field, index) from the row buttons, or None."""
    fields = form.all_fields()
    add = request.form.get("add_row")
    if add:
        if add not in fields or fields[add].type != "rows":
            abort(400)
        return "add", add, None
    remove = request.form.get("remove_row")
    if remove:
        match = re.fullmatch(r"([a-z][a-z0-9_]*)-(\d{1,3})", remove)
        if not match or match.group(1) not in fields or fields[match.group(1)].type != "rows":
            abort(400)
        return "remove", match.group(1), int(match.group(2))
    return None


# ---------------------------------------------------------------- page context


def load_case(case_id: int) -> Case:
    """Scoped to the user: another person's case is a 404, never a 403."""
    case = get_case_for(current_user, case_id)
    if case is None:
        abort(404)
    return case


def load_form(case: Case, form_key: str) -> FormSpec:
    form = definition_of(case).form(form_key)
    if form is None:
        abort(404)
    return form


def _note_rows(form: FormSpec, notes: dict) -> dict:
    """{field: {"reason", "by" (name), "at" (local time)}} for the fields of the form."""
    notes = {k: v for k, v in (notes or {}).items() if isinstance(v, dict)}
    ids = {v.get("by") for v in notes.values() if isinstance(v.get("by"), int)}
    names = {}
    if ids:
        names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())
    return {
        name: {
            "reason": note.get("reason", ""),
            "by": names.get(note.get("by"), ""),
            "at": note.get("at", ""),
        }
        for name, note in notes.items()
    }


def slots_of(form: FormSpec, values: dict) -> list[str]:
    """Every message slot of the form as the page holds it (paths)."""
    slots = []
    for f in form.all_fields().values():
        slots.append(f.name)
        if f.type == "rows":
            for i, _row in enumerate(values.get(f.name) or []):
                slots.append(f"{f.name}[{i}]")
                slots.extend(f"{f.name}[{i}].{c.name}" for c in f.fields)
    return slots


def page_context(
    case: Case,
    form: FormSpec,
    *,
    entry: FormEntry | None = None,
    typed: dict | None = None,
    errors: dict | None = None,
    message: str | None = None,
    version: int | None = None,
    loaded: bool = False,
) -> dict:
    if not loaded:
        entry = F.entry_of(case, form.key)
    data = dict(entry.data or {}) if entry is not None else {}
    values = box_values(form, data)
    values.update(typed or {})
    problems = F.problems(form, data, lang())
    filled, required = F.required_counts(form, data)
    rules = F.failing_checks(form, data, lang())
    return {
        "case": case,
        "form": form,
        "definition": definition_of(case),
        "unit": unit_name(case),
        "institution": _institution(case),
        "entry": entry,
        "data": data,
        "values": values,
        "errors": errors or {},
        "warnings": {k: v for k, v in rules.items() if k not in (errors or {})},
        "notes": _note_rows(form, entry.notes if entry is not None else {}),
        "message": message,
        "version": F.version_of(entry) if version is None else version,
        "editable": F.can_edit(case, form, current_user),
        "filled": filled,
        "required": required,
        "problem_count": len([p for p in problems if p.kind != "missing"]),
        "slots": slots_of(form, values),
        "dom_id": dom_id,
        "input_name": input_name,
        "read_value": read_value,
    }


def _with_version(response, version: int):
    # forms.js sets the form's hidden `version` from this event, so the next autosave does
    # not meet a false conflict.
    response.headers["HX-Trigger"] = json.dumps({"aksiFormVersion": {"value": version}})
    response.vary.add("HX-Request")
    return response


def _status(case: Case, **context) -> str:
    return render_template("forms/_status.html", case=case, **context)


# ---------------------------------------------------------------- the form


@bp.route("/cases/<int:case_id>/forms/<form_key>", methods=["GET", "POST"])
@login_required
def page(case_id: int, form_key: str):
    case = load_case(case_id)
    form = load_form(case, form_key)
    if request.method == "GET":
        return render_template("forms/page.html", **page_context(case, form))
    return save(case, form)


def save(case: Case, form: FormSpec):
    typed, raw = posted(form)
    action = row_action(form)
    if action is not None and action[0] == "remove":
        name, index = action[1], action[2]
        rows = typed.get(name) or []
        if index >= len(rows):
            abort(400)
        del rows[index]
        raw[name] = [dict(r) for r in rows]
    version = request.form.get("version", type=int)
    try:
        result = F.save(case, form.key, raw, current_user, version, lang=lang())
    except WorkflowError as exc:
        db.session.rollback()
        return failure(case, form, exc, typed, version)
    if action is not None and action[0] == "add":
        rows = typed.setdefault(action[1], [])
        if len(rows) < form.all_fields()[action[1]].max_rows:
            rows.append({})
    entry = F.entry_of(case, form.key)
    context = page_context(case, form, entry=entry, typed=typed, errors=result.errors, loaded=True)
    saved_at = localtime(utcnow(), _institution(case)).split(" ", 3)[-1]
    status = {"state": "saved", "saved_at": saved_at, "bad": len(result.errors)}
    if is_htmx():
        if action is not None:
            body = render_template(
                "forms/_rows_response.html", field=action[1], status=status, **context
            )
        else:
            body = render_template("forms/_autosave.html", status=status, **context)
        return _with_version(make_response(body), context["version"])
    if action is not None or result.errors:
        code = 422 if result.errors else 200
        return make_response(render_template("forms/page.html", status=status, **context), code)
    flash(_("Saved."), "success")
    return redirect(url_for("forms.page", case_id=case.id, form_key=form.key))


def failure(case: Case, form: FormSpec, exc: WorkflowError, typed: dict, version):
    """Refused (wrong role, wrong state, stale version): nothing was written. htmx: the
    status line says why; without JavaScript the page again, with what was typed."""
    state = "conflict" if isinstance(exc, Conflict) else "error"
    status = {"state": state, "message": str(exc.message)}
    if is_htmx():
        response = make_response(_status(case, form=form, status=status), exc.status)
        response.headers["HX-Retarget"] = "#form-status"
        response.headers["HX-Reswap"] = "outerHTML"
        response.vary.add("HX-Request")
        return response
    context = page_context(
        case,
        form,
        typed=typed,
        errors={str(k): str(v) for k, v in exc.fields.items()},
        message=str(exc.message),
        version=version if isinstance(exc, Conflict) else None,
    )
    return make_response(render_template("forms/page.html", status=status, **context), exc.status)


# ---------------------------------------------------------------- history


@bp.get("/cases/<int:case_id>/forms/<form_key>/history")
@login_required
def history(case_id: int, form_key: str):
    case = load_case(case_id)
    form = load_form(case, form_key)
    entry = F.entry_of(case, form.key)
    items = F.history(entry)
    ids = {i["revision"].created_by_id for i in items if i["revision"].created_by_id}
    names = {}
    if ids:
        names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())
    fields = form.all_fields()
    rows = [
        {
            "number": i["revision"].number,
            "at": localtime(i["revision"].created_at, _institution(case)),
            "by": names.get(i["revision"].created_by_id, ""),
            "changed": [fields[n].labels.get(lang()) if n in fields else n for n in i["changed"]],
        }
        for i in items
    ]
    return render_template(
        "forms/history.html", case=case, form=form, unit=unit_name(case), rows=rows
    )


# ---------------------------------------------------------------- template globals


@bp.app_template_global("form_summaries")
def form_summaries(case: Case) -> list[dict]:
    """For the case page: per data form of the case's definition, how far it is filled, its
    problems, the reasons of the last return, and where to fill or read it."""
    definition = definition_of(case)
    if not definition.forms:
        return []
    entries = F.entries_of(case)
    here = lang()
    out = []
    for form in definition.forms:
        entry = entries.get(form.key)
        data = entry.data if entry is not None else {}
        filled, required = F.required_counts(form, data)
        problems = F.problems(form, data, here)
        fields = form.all_fields()
        notes = _note_rows(form, entry.notes if entry is not None else {})
        out.append(
            {
                "form": form,
                "label": form.labels.get(here),
                "filled": filled,
                "required": required,
                "problems": len([p for p in problems if p.kind != "missing"]),
                "editable": F.can_edit(case, form, current_user),
                "url": url_for("forms.page", case_id=case.id, form_key=form.key),
                "history_url": url_for("forms.history", case_id=case.id, form_key=form.key),
                "reasons": [
                    {"label": fields[n].labels.get(here), **note}
                    for n, note in notes.items()
                    if n in fields
                ],
            }
        )
    return out


@bp.app_template_global("form_reason_fields")
def form_reason_fields(case: Case, trigger: str) -> dict | None:
    """For the case page's form of a transition with `form_reasons`: the form and what is
    filled in it (shown beside each reason box); None for another transition."""
    definition = definition_of(case)
    spec = next((t for t in definition.transitions_from(case.state) if t.trigger == trigger), None)
    if spec is None or spec.form_reasons is None:
        return None
    form = definition.form(spec.form_reasons)
    entry = F.entry_of(case, form.key)
    data = entry.data if entry is not None else {}
    fields = form.all_fields()
    shown = {}
    for name, f in fields.items():
        if f.type == "rows":
            count = len(data.get(name) or [])
            shown[name] = _("%(n)d rows", n=count) if count else ""
        else:
            shown[name] = read_value(f, data.get(name))
    return {"form": form, "values": shown}


# ---------------------------------------------------------------- export


def _cell(f: FormField, value, as_text: bool):
    if value is None:
        return None
    if f.type == "number":
        return value
    if f.type == "date" and not as_text:
        from datetime import date

        try:
            return date.fromisoformat(str(value))
        except ValueError:
            return str(value)
    if f.type in ("boolean", "choice"):
        return read_value(f, value)
    return value


@bp.get("/forms/<definition_key>/<form_key>/export.<any(csv, xlsx):fmt>")
@login_required
def export(definition_key: str, form_key: str, fmt: str):
    """One row per case the user may see (of this definition, optionally one campaign):
    the unit's code and name, its state, then every field; rows fields as JSON text in the
    CSV and on a sheet of their own in the XLSX. Two queries whatever the number of cases."""
    try:
        definition = registry.latest(definition_key)
    except LookupError:
        abort(404)
    form = definition.form(form_key)
    if form is None:
        abort(404)
    campaign_id = request.args.get("campaign", type=int)
    visible = cases_visible_to(current_user).where(Case.definition_key == definition_key)
    if campaign_id is not None:
        visible = visible.where(Case.campaign_id == campaign_id)
    query = (
        select(Case.id, Case.state, Case.region_code, Region.name, FormEntry.data)
        .select_from(Case)
        .outerjoin(Region, Region.id == Case.region_id)
        .outerjoin(FormEntry, and_(FormEntry.case_id == Case.id, FormEntry.form_key == form.key))
        .where(Case.id.in_(visible.with_only_columns(Case.id)))
        .order_by(Case.region_code, Case.id)
    )
    records = db.session.execute(query).all()
    here = lang()
    states = {s.key: s.labels.get(here) for s in definition.states}
    fields = list(form.all_fields().values())
    tables = [f for f in fields if f.type == "rows"]
    as_text = fmt == "csv"
    headers = [_("Unit code"), _("Unit"), _("State")] + [
        f.labels.get(here) + (f" ({f.unit.get(here)})" if f.unit is not None else "")
        for f in fields
    ]

    def main_rows():
        for r in records:
            data = r.data or {}
            row = [r.region_code or "", r.name or "", states.get(r.state, r.state)]
            for f in fields:
                value = data.get(f.name)
                if f.type == "rows":
                    items = value if isinstance(value, list) else []
                    if as_text:
                        row.append(json.dumps(items, ensure_ascii=False) if items else "")
                    else:
                        row.append(len(items))
                else:
                    row.append(_cell(f, value, as_text))
            yield row

    name = slug(form.labels.get(here)) or form.key
    if campaign_id is not None:
        campaign = db.session.get(Campaign, campaign_id)
        if campaign is not None and slug(campaign.name):
            name += "-" + slug(campaign.name)
    institution = current_user.institution
    day = local_date(utcnow(), institution.timezone if institution else "Asia/Jakarta")
    if as_text:
        content = csv_bytes(headers, main_rows())
    else:
        sheets = [(_sheet_title(form.labels.get(here)), headers, list(main_rows()))]
        for f in tables:
            cell_headers = [_("Unit code"), _("Unit"), _("Row")] + [
                c.labels.get(here) + (f" ({c.unit.get(here)})" if c.unit is not None else "")
                for c in f.fields
            ]
            body = []
            for r in records:
                items = (r.data or {}).get(f.name)
                for i, item in enumerate(items if isinstance(items, list) else []):
                    body.append(
                        [r.region_code or "", r.name or "", i + 1]
                        + [_cell(c, item.get(c.name), False) for c in f.fields]
                    )
            sheets.append((_sheet_title(f.labels.get(here)), cell_headers, body))
        content = xlsx_bytes(_unique_titles(sheets))
    response = send_file(
        io.BytesIO(content),
        mimetype=FORMATS[fmt],
        as_attachment=True,
        download_name=f"{name}-{day.isoformat()}.{fmt}",
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _sheet_title(text: str) -> str:
    # Excel refuses these characters in a sheet's name, and more than 31 of any.
    return (re.sub(r"[\[\]:*?/\\]", " ", text).strip() or "Sheet")[:31]


def _unique_titles(sheets: list) -> list:
    seen: set[str] = set()
    out = []
    for title, headers, rows in sheets:
        base, n = title, 2
        while title.lower() in seen:
            suffix = f" {n}"
            title = base[: 31 - len(suffix)] + suffix
            n += 1
        seen.add(title.lower())
        out.append((title, headers, rows))
    return out
