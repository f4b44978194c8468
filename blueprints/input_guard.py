"""One check for every request, before any route: text with a NUL byte is refused (400) and
an id in the path too large for any row is a 404. PostgreSQL refuses NUL in text and both
databases overflow on such integers: left to the routes, each would be a 500."""

from __future__ import annotations

from flask import Flask, g, request
from flask_babel import lazy_gettext as _l
from flask_babel import refresh

from workflow.models._base import MAX_ID

from . import errors

NUL = "\x00"
NUL_MESSAGE = _l(
    "What you sent contains a NUL character (\\0), which is not allowed. Remove it and try again."
)
LANGS = ("id", "en")


def _has_nul(value) -> bool:
    """Any string (key or value) of a parsed JSON document holds a NUL; no recursion, so a
    deeply nested document cannot exhaust the stack."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _multi_has_nul(multi) -> bool:
    return any(NUL in key or NUL in value for key, value in multi.items(multi=True))


def _sent_nul() -> bool:
    if _multi_has_nul(request.args) or _multi_has_nul(request.form):
        return True
    if any(NUL in key or NUL in (f.filename or "") for key, f in request.files.items(multi=True)):
        return True
    if request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # nested past Python's limit: the route answers 400 on it
            body = None
        if _has_nul(body):
            return True
    return any(isinstance(v, str) and NUL in v for v in (request.view_args or {}).values())


def _id_too_large() -> bool:
    return any(
        isinstance(v, int) and not isinstance(v, bool) and v > MAX_ID
        for v in (request.view_args or {}).values()
    )


def _api_language() -> None:
    # The API picks its language per request, in its own before_request that has not run yet.
    asked = request.args.get("lang")
    lang = asked if asked in LANGS else request.accept_languages.best_match(LANGS, default="id")
    g.api_lang = lang or "id"
    refresh()


def _guard():
    if request.endpoint == "static":
        return None
    too_large = _id_too_large()
    nul = not too_large and _sent_nul()
    if not (too_large or nul):
        return None
    if errors.wants_json():
        _api_language()
    if too_large:
        return errors.error_response(404)
    return errors.error_response(400, NUL_MESSAGE)


def init_app(app: Flask) -> None:
    app.before_request(_guard)
