"""Regency reach of aksi perubahan: which kecamatan and villages the change actions the user
oversees have reached, summed across trainees and cohorts."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from workflow.services import dashboards as dash
from workflow.services import reach as service

bp = Blueprint("reach", __name__, url_prefix="/reach")


def _overseer():
    """Only those who oversee cohorts or groups; the others find nothing here."""
    user = current_user._get_current_object()
    if not dash.oversees_anything(user):
        abort(404)
    return user


@bp.get("")
@login_required
def index():
    _overseer()
    code = (request.args.get("code") or "").strip()
    if code:
        return redirect(url_for("reach.show", code=code))
    return render_template(
        "reach/index.html", regencies=service.regencies_with_regions(), report=None
    )


@bp.get("/<code>")
@login_required
def show(code: str):
    user = _overseer()
    regency = service.regency(code)
    if regency is None:
        abort(404)
    return render_template(
        "reach/index.html",
        regencies=service.regencies_with_regions(),
        report=service.reach_for(user, regency),
    )
