"""Small helpers shared by the HTML blueprints: htmx, safe redirects, Jinja helpers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from flask import Flask, g, make_response, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import exists, select

from workflow.engine import registry
from workflow.extensions import db
from workflow.models import Case
from workflow.permissions import ROLE_LABELS as CASE_ROLE_LABELS
from workflow.permissions import role_conditions

ROLE_LABELS = {**CASE_ROLE_LABELS, "admin": _l("Admin")}
LANGUAGES = {"id": "Bahasa Indonesia", "en": "English"}


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def page_or_fragment(page: str, fragment: str, status: int = 200, **context):
    """The fragment for htmx requests, the full page otherwise; caches must tell them apart."""
    response = make_response(render_template(fragment if is_htmx() else page, **context), status)
    response.vary.add("HX-Request")
    return response


def safe_next(target: str | None, default: str) -> str:
    """Only local paths: an open redirect would let a phishing link borrow our login page."""
    if not target:
        return default
    target = target.strip()
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(ch) < 32 for ch in target)
    ):
        return default
    return target


def lang() -> str:
    return str(get_locale() or "id")


def label(labels) -> str:
    """A definition's Labels in the current language."""
    return labels.get(lang()) if labels is not None else ""


def localtime(moment: datetime | None, institution) -> str:
    """A naive-UTC time in the institution's zone: '23 Nov 2026 14:05 WITA'."""
    if moment is None:
        return ""
    zone = ZoneInfo(institution.timezone)
    aware = moment.replace(tzinfo=UTC).astimezone(zone)
    text = format_datetime(aware, "d MMM yyyy HH:mm", tzinfo=zone, locale=lang())
    return f"{text} {institution.zone_label}"


def localdate(day: date | None) -> str:
    if day is None:
        return ""
    return format_date(day, "d MMM yyyy", locale=lang())


def user_roles(user) -> list[str]:
    """Every role the user holds on some case (one query), cached for this request."""
    if not getattr(user, "is_authenticated", False):
        return []
    cache = g.setdefault("_aksi_roles", {})
    if user.id not in cache:
        known = registry.roles()
        checks = [(r, c) for r in known for c in role_conditions(user, r)]
        row = db.session.execute(
            select(*[exists(select(Case.id).where(c)) for _, c in checks])
        ).one()
        held = {r for (r, _), yes in zip(checks, row, strict=True) if yes}
        roles = [r for r in known if r in held]
        if user.is_admin:
            roles.append("admin")
        cache[user.id] = roles
    return cache[user.id]


def role_label(role: str, definition=None) -> str:
    """What the role is called, in the programme's own words when its definition has them
    (the executive is the "Sponsor" of a PKN II project)."""
    if definition is not None:
        own = definition.role_label(role, str(get_locale() or "id"))
        if own:
            return own
    if role not in ROLE_LABELS:
        # A role a definition declares (operator, camat): its own label.
        for d in registry.all():
            if d.role_spec(role) is not None:
                return d.role_label(role, str(get_locale() or "id"))
    return str(ROLE_LABELS.get(role, role))


def here() -> str:
    """Where the language switch returns to: this page, or for a POST the page it came from."""
    if request.method == "GET":
        return request.full_path if request.query_string else request.path
    rule = request.url_rule
    if rule is not None and "GET" in (rule.methods or ()):
        return request.path
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path:
        return safe_next(referrer.path, "/")
    return "/"


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        label=label,
        localtime=localtime,
        localdate=localdate,
        role_label=role_label,
        LANGUAGES=LANGUAGES,
    )

    @app.before_request
    def _fresh_request_state():
        # Tests keep one app context (and so one `g`) across requests; never leak a user.
        g.pop("_login_user", None)
        g.pop("_flask_babel", None)
        g.pop("_aksi_roles", None)
        g.pop("api_lang", None)

    @app.context_processor
    def _layout_context():
        return {
            "current_lang": lang(),
            "my_roles": user_roles(current_user) if current_user else [],
            "is_htmx": is_htmx(),
            "here": here(),
        }
