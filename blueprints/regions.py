"""Official regions in the web UI: the picker's htmx options and a browsable region tree.

Any signed-in person may read the regions (they are public data); the picker macro is
templates/regions/_picker.html, its script static/js/regions.js.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, jsonify, make_response, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from workflow.services import regions as svc

from . import errors

bp = Blueprint("regions", __name__)

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,59}")
MAX_Q = 100
LEVEL_LABELS = {
    "province": _l("Province"),
    "regency": _l("Regency / city"),
    "district": _l("District (kecamatan)"),
    "village": _l("Village (desa/kelurahan)"),
}
CHILD_LABELS = {
    "province": _l("Regencies and cities"),
    "regency": _l("Districts (kecamatan)"),
    "district": _l("Villages (desa/kelurahan)"),
}
KIND_LABELS = {"kabupaten": "Kabupaten", "kota": "Kota", "desa": "Desa", "kelurahan": "Kelurahan"}


@bp.app_template_global("region_label")
def region_label(region) -> str:
    """ "Sukau — Kabupaten Lampung Barat, Lampung" (for the picker's text box)."""
    return svc.label(region) if region is not None else ""


def _clean(value: str | None, max_length: int) -> str:
    value = (value or "").replace("\x00", "")
    return " ".join(value.split())[:max_length]


@bp.get("/regions/picker")
@login_required
def picker():
    """The options of a region picker as an <ul> (htmx, search as you type)."""
    name = request.args.get("name", "region")
    if not NAME.fullmatch(name):
        abort(400)
    q = _clean(request.args.get("q", request.args.get(f"{name}__search")), MAX_Q)
    level = request.args.get("level") or None
    if level is not None and level not in svc.LEVELS:
        abort(400)
    within_code = _clean(request.args.get("within"), 20)
    within = svc.get_by_code(within_code) if within_code else None
    problem = None
    found = []
    if within_code and within is None:
        problem = _l("There is no region with the code %(code)s.", code=within_code)
    elif q:
        found = svc.search(q, level=level, within=within, limit=15)
    response = make_response(
        render_template(
            "regions/_options.html",
            name=name,
            q=q,
            found=found,
            labels=svc.labels(found),
            problem=problem,
            level_labels=LEVEL_LABELS,
        )
    )
    response.headers["Cache-Control"] = "private, max-age=60"
    return response


# A coverage milestone lists at most this many units (services.proposals.MAX_UNITS).
MAX_UNITS = 200
UNIT_LISTS = {
    "province": _l("The %(n)d regencies and cities of %(name)s."),
    "regency": _l("The %(n)d districts (kecamatan) of %(name)s."),
    "district": _l("The %(n)d villages of %(name)s."),
}


def _json_error(status: int, message):
    response = jsonify({"message": str(message)})
    response.status_code = status
    return response


@bp.get("/regions/units")
@login_required
def units():
    """The names of a unit's children, to fill a coverage milestone's list of units: the
    kecamatan of a regency, the villages of a kecamatan (JSON, for static/js/regions.js)."""
    code = _clean(request.args.get("code"), 20)
    if not code:
        return _json_error(400, _l("Pick a regency or a kecamatan first."))
    region = svc.get_by_code(code)
    if region is None:
        return _json_error(404, _l("There is no region with the code %(code)s.", code=code))
    if region.level not in UNIT_LISTS:
        return _json_error(
            422, _l("Pick a regency (for its kecamatan) or a kecamatan (for its villages).")
        )
    kids = [k for k in svc.children(region) if k.code]
    if not kids:
        return _json_error(422, _l("No units are recorded inside %(name)s.", name=region.name))
    if len(kids) > MAX_UNITS:
        return _json_error(
            422, _l("%(name)s has more than %(n)d units.", name=region.name, n=MAX_UNITS)
        )
    seen: dict[str, int] = {}
    for k in kids:
        seen[k.name.lower()] = seen.get(k.name.lower(), 0) + 1
    # Names as written in the region table; a name two siblings share carries its code.
    names = [k.name if seen[k.name.lower()] == 1 else f"{k.name} ({k.code})" for k in kids]
    return jsonify(
        {
            "code": region.code,
            "label": svc.label(region),
            "level": svc.CHILD_LEVEL[region.level],
            "units": names,
            "message": str(UNIT_LISTS[region.level] % {"n": len(names), "name": region.name}),
        }
    )


@bp.get("/regions")
@login_required
def index():
    q = _clean(request.args.get("q"), MAX_Q)
    level = request.args.get("level") or None
    if level not in svc.LEVELS:
        level = None
    if q:
        found = svc.search(q, level=level, limit=50)
    else:
        found = svc.search(None, level="province", limit=100)
    return render_template(
        "regions/index.html",
        q=q,
        level=level,
        found=found,
        labels=svc.labels(found),
        counts=svc.child_counts(found),
        level_labels=LEVEL_LABELS,
        kind_labels=KIND_LABELS,
    )


@bp.get("/regions/<code>")
@login_required
def show(code: str):
    region = svc.get_by_code(code) if len(code) <= 20 else None
    if region is None:
        return errors.error_response(
            404, _l("There is no region with the code %(code)s.", code=code[:40])
        )
    kids = svc.children(region)
    return render_template(
        "regions/show.html",
        region=region,
        chain=list(reversed(svc.ancestors(region))),
        kids=kids,
        counts=svc.child_counts(kids),
        level_labels=LEVEL_LABELS,
        child_labels=CHILD_LABELS,
        kind_labels=KIND_LABELS,
    )
