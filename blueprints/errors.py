"""Error pages (HTML, or JSON under /api/), security headers, htmx redirects."""

from __future__ import annotations

from flask import Blueprint, Flask, g, jsonify, render_template, request, session
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from workflow.extensions import db

from . import _web

bp = Blueprint("errors", __name__)

MESSAGES = {
    400: _l("The request could not be understood. Reload the page and try again."),
    403: _l("You may not do this."),
    404: _l("This page does not exist, or it is not yours to see."),
    405: _l("This action cannot be done this way."),
    409: _l("This case changed meanwhile. Reload it and try again."),
    413: _l("What you sent is too large."),
    422: _l("Some of what you sent needs your attention."),
    429: _l("Too many attempts. Please wait a minute and try again."),
    500: _l("Something went wrong on our side. Please try again later."),
}
TITLES = {
    400: _l("Bad request"),
    403: _l("Not allowed"),
    404: _l("Not found"),
    405: _l("Not allowed"),
    409: _l("Changed meanwhile"),
    413: _l("Too large"),
    422: _l("Please check"),
    429: _l("Too many attempts"),
    500: _l("Server error"),
}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, message=None):
    text = str(message or MESSAGES.get(status) or MESSAGES[500])
    if wants_json():
        return jsonify({"message": text}), status
    return (
        render_template(
            "errors/error.html",
            status=status,
            title=TITLES.get(status, TITLES[500]),
            message=text,
        ),
        status,
    )


def _handle_http(exc: HTTPException):
    status = exc.code or 500
    if status >= 500:
        db.session.rollback()
    response = error_response(status)
    if status == 405 and exc.valid_methods:
        response = (response[0], status, {"Allow": ", ".join(exc.valid_methods)})
    return response


UNAVAILABLE = _l(
    "Aksi cannot reach its database for a moment. Try again in a minute; if you were "
    "saving something and saw no confirmation, send it again."
)
RETRY_AFTER_SECONDS = 30


def unreachable(exc: Exception) -> bool:
    """The database cannot be reached (restarting, failing over, locked too long)."""
    return isinstance(exc, OperationalError | InterfaceError)


def unavailable():
    """A 503 whose page needs no database (the usual one looks up the signed-in user), and
    when to retry."""
    lang = g.get("api_lang") or session.get("lang")
    lang = lang if lang in ("id", "en") else "id"
    with force_locale(lang):
        text = str(UNAVAILABLE)
        if wants_json():
            response = jsonify({"message": text})
        else:
            from flask import current_app

            # Not render_template(): its context processors look up the signed-in user.
            page = current_app.jinja_env.get_template("errors/unavailable.html")
            response = page.render(message=text, lang=lang, request=request)
    return response, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def rollback() -> None:
    try:
        db.session.rollback()
    except (OperationalError, InterfaceError):
        db.session.invalidate()  # the connection is gone; the pool makes a new one


def _handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        # Routing redirects (e.g. a missing trailing slash) are not errors.
        return exc.get_response() if (exc.code or 500) < 400 else _handle_http(exc)
    rollback()
    if unreachable(exc):
        from flask import current_app

        current_app.logger.warning(
            "database unreachable on %s %s: %s", request.method, request.path, exc.orig
        )
        return unavailable()
    from flask import current_app

    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500)


def _headers(response):
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("X-Frame-Options", "DENY")
    # htmx follows redirects inside XHR; ask it to navigate the whole page instead.
    if _web.is_htmx() and 300 <= response.status_code < 400 and "Location" in h:
        h["HX-Redirect"] = h.pop("Location")
        response.status_code = 200
        response.set_data(b"")
    return response


def init_app(app: Flask) -> None:
    _web.init_app(app)
    for status in MESSAGES:
        app.register_error_handler(status, _handle_http)
    app.register_error_handler(Exception, _handle_unexpected)
    app.after_request(_headers)
