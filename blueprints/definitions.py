"""The workflow definitions as diagrams: the list, one definition (diagram and a table of
its steps), and the SVG itself, highlighted for a case's state."""

from __future__ import annotations

import hashlib
import shutil

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import login_required

from workflow.engine import registry
from workflow.engine.definitions import Definition
from workflow.services import diagrams

from ._web import lang

bp = Blueprint("definitions", __name__, url_prefix="/definitions")

# The SVG is shown through <img> (where nothing in it runs); opened on its own it may
# still not load or run anything.
SVG_CSP = "default-src 'none'; frame-ancestors 'self'"


def dot_path() -> str:
    """Graphviz's `dot`: GRAPHVIZ_DOT in the config (a name on PATH or a path)."""
    return current_app.config.get("GRAPHVIZ_DOT") or diagrams.DEFAULT_DOT


@bp.app_template_global("diagram_ready")
def diagram_ready() -> bool:
    """Cheap check for the case page: is there a `dot` to draw with? (The SVG route still
    answers 503, never 500, if drawing fails.)"""
    return shutil.which(dot_path()) is not None


def _load(key: str, version: int | None = None) -> Definition:
    try:
        return registry.latest(key) if version is None else registry.get(key, version)
    except LookupError:
        abort(404)


@bp.get("")
@login_required
def index():
    keys = sorted({d.key for d in registry.all()})
    flows = [
        {
            "latest": registry.latest(key),
            "versions": [registry.get(key, v) for v in registry.versions(key)],
        }
        for key in keys
    ]
    return render_template("definitions/index.html", flows=flows)


@bp.get("/<key>")
@login_required
def show(key: str):
    raw = request.args.get("version")
    version = None
    if raw is not None:
        if not (raw.isascii() and raw.isdigit()):
            abort(404)
        version = int(raw)
    definition = _load(key, version)
    ui = lang()
    available = True
    try:
        diagrams.render_svg(definition, ui, dot=dot_path())
    except diagrams.DiagramUnavailable as exc:
        current_app.logger.warning("diagram of %s unavailable: %s", definition.key, exc)
        available = False
    return render_template(
        "definitions/show.html",
        definition=definition,
        versions=registry.versions(key),
        latest=registry.latest(key).version,
        rows=diagrams.steps_of(definition, ui),
        anywhere=diagrams.any_open_steps(definition, ui),
        end_of_flow=diagrams.end_of_flow(ui),
        available=available,
    )


@bp.get("/<key>/<int:version>.svg")
@login_required
def svg(key: str, version: int):
    definition = _load(key, version)
    state = request.args.get("state") or None
    try:
        body = diagrams.render_svg(definition, lang(), state, dot=dot_path())
    except KeyError:
        abort(404)
    except diagrams.DiagramUnavailable:
        return Response(
            _("Diagram unavailable: Graphviz is not installed"),
            503,
            mimetype="text/plain",
            headers={"X-Content-Type-Options": "nosniff"},
        )
    response = Response(body, mimetype="image/svg+xml")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = SVG_CSP
    response.headers["Content-Disposition"] = f'inline; filename="{key}-v{version}.svg"'
    # The language comes from the session: revalidate, and let the ETag answer 304.
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("Cookie")
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    return response.make_conditional(request)
