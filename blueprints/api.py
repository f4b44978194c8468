"""JSON API v1: bearer-token auth, the caller's cases, their actions and audit events.

No cookies: the session is never consulted here, so the blueprint is exempt from CSRF.
Every error is JSON with a `message`.
"""

from __future__ import annotations

import json
import math
import sys
from datetime import datetime

from flask import Blueprint, Flask, current_app, g, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RoutingException

from workflow.extensions import csrf, db
from workflow.models import AuditEvent, Campaign, Case, Cohort, Program, User
from workflow.permissions import cases_visible_to, get_case_for
from workflow.services import Blocked, WorkflowError, accounts, definition_of, perform
from workflow.services.actions import available_actions, is_overdue
from workflow.services.evaluation import score_event_filter
from workflow.services.notifications import unit_name

from . import errors, openapi

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Bearer tokens, not cookies: a cross-site form cannot forge these requests.
csrf.exempt(bp)

LANGS = ("id", "en")
MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000
MAX_ID = openapi.MAX_ID  # beyond a 32-bit key nothing exists


def id_in_path(name: str) -> str:
    """A route converter for a row id: 1 up to MAX_ID (larger is a 404, not an overflow)."""
    return f"<int(min=1, max={MAX_ID}):{name}>"


CASE_ID = id_in_path("case_id")
MAX_FLOAT_INT = int(sys.float_info.max)

MESSAGES = {
    400: _l("The request is not valid."),
    401: _l("Authentication required: send an Authorization: Bearer <token> header."),
    403: _l("You may not do this."),
    404: _l("Not found, or not yours to see."),
    405: _l("This method is not allowed here."),
    409: _l("This case changed meanwhile. Reload it and try again."),
    413: _l("The request is too large."),
    415: _l("Send the request body as JSON."),
    422: _l("Some of what you sent needs your attention."),
    429: _l("Too many requests. Please wait and try again."),
    500: _l("Something went wrong on our side. Please try again later."),
}


class ApiError(Exception):
    def __init__(self, status: int, message=None, **extra):
        super().__init__(str(message or MESSAGES.get(status, MESSAGES[500])))
        self.status = status
        self.message = message or MESSAGES.get(status, MESSAGES[500])
        self.extra = extra


def error_response(status: int, message=None, headers=None, **extra):
    body = {"message": str(message or MESSAGES.get(status, MESSAGES[500])), **extra}
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="aksi"'
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc.status, exc.message, **exc.extra)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    status = exc.code or 500
    if status >= 500:
        db.session.rollback()
    headers = {}
    if status == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    return error_response(status, headers=headers)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    errors.rollback()
    if errors.unreachable(exc):
        current_app.logger.warning("database unreachable on %s %s", request.method, request.path)
        return errors.unavailable()
    current_app.logger.exception("API error on %s %s", request.method, request.path)
    return error_response(500)


# Code-specific handlers win over class ones (and over the app's HTML pages).
for _status in MESSAGES:
    bp.register_error_handler(_status, _http_error)


# ---------------------------------------------------------------- request lifecycle


def _choose_language() -> str:
    asked = request.args.get("lang")
    if asked in LANGS:
        return asked
    return request.accept_languages.best_match(LANGS, default="id") or "id"


def _use_language(lang: str) -> None:
    # select_locale() honours g.api_lang; refresh() drops a locale cached earlier.
    g.api_lang = lang
    refresh()


def _authenticate() -> User:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401)
    user = accounts.user_for_api_token(token)  # live token of an active person
    if user is None:
        raise ApiError(401, _l("The token is not valid, or the account is not active."))
    return user


@bp.before_request
def _before():
    g.api_user = None  # one `g` may serve several requests in tests
    _use_language(_choose_language())
    if request.endpoint == "api.openapi_document":
        return
    g.api_user = _authenticate()
    if "lang" in request.args and request.args["lang"] not in LANGS:
        raise ApiError(400, _l("Unknown language; use one of: id, en."))


def _routing_errors_as_json():
    """Unknown paths and methods under /api/ never reach a blueprint; answer JSON here so
    the API does not depend on how the HTML error pages are set up."""
    exc = request.routing_exception
    if (
        request.path.startswith("/api/")
        and isinstance(exc, HTTPException)
        and not isinstance(exc, RoutingException)
    ):
        _use_language(_choose_language())
        headers = {}
        if getattr(exc, "valid_methods", None):
            headers["Allow"] = ", ".join(exc.valid_methods)
        return error_response(exc.code or 404, headers=headers)
    return None


def init_app(app: Flask) -> None:
    app.before_request(_routing_errors_as_json)


# ---------------------------------------------------------------- input helpers


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9 or not low <= int(raw) <= high:
        raise ApiError(
            400,
            _l(
                "%(name)s must be a whole number from %(low)d to %(high)d.",
                name=name,
                low=low,
                high=high,
            ),
        )
    return int(raw)


def _expected_version() -> int | None:
    """If-Match carries the version: 3, "3" and W/"3" all mean 3; absent or * means any."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() in ("", "*"):
        return None
    value = raw.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip().strip('"').strip()
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise ApiError(400, _l('If-Match must carry the case version, e.g. "3".'))
    return int(value)


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _has_bad_number(value) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_FLOAT_INT:
        return True  # JSON allows 1 followed by 400 zeros; no float (or column) holds it
    if isinstance(value, dict):
        return any(_has_bad_number(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_bad_number(v) for v in value)
    return False


def json_object(allowed: set[str], *, reject_nul: bool = True) -> dict:
    """The request body as a JSON object with only `allowed` keys, or a 400 that says why."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise ApiError(400, _l("The request body must be a JSON object."))
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, _l("The request body is not valid JSON.")) from None
    if not isinstance(body, dict):
        raise ApiError(400, _l("The request body must be a JSON object."))
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(
            400, _l("Unknown keys in the request body: %(keys)s.", keys=", ".join(unknown))
        )
    if reject_nul and _has_nul(body):
        raise ApiError(400, _l("The request body must not contain NUL characters."))
    return body


def _action_body() -> tuple[str | None, dict]:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None, {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, _l("The request body is not valid JSON.")) from None
    if not isinstance(body, dict):
        raise ApiError(400, _l("The request body must be a JSON object."))
    unknown = sorted(set(body) - {"comment", "data"})
    if unknown:
        raise ApiError(
            400, _l("Unknown keys in the request body: %(keys)s.", keys=", ".join(unknown))
        )
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise ApiError(400, _l("comment must be a string or null."))
    data = body.get("data")
    if data is not None and not isinstance(data, dict):
        raise ApiError(400, _l("data must be a JSON object or null."))
    # Databases refuse NUL characters and non-finite numbers; refuse them here instead.
    if _has_nul(body):
        raise ApiError(400, _l("The request body must not contain NUL characters."))
    if _has_bad_number(body):
        raise ApiError(400, _l("Numbers must be finite."))
    return comment, data or {}


def _case_or_404(case_id: int) -> Case:
    case = get_case_for(g.api_user, case_id)
    if case is None:
        raise ApiError(404, _l("No such case, or it is not yours to see."))
    return case


# ---------------------------------------------------------------- serialisation


def iso_utc(moment: datetime | None) -> str | None:
    """Naive-UTC column value as ISO 8601 with a Z."""
    if moment is None:
        return None
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _person(user: User | None) -> dict | None:
    return None if user is None else {"id": user.id, "name": user.name}


def case_subject(case: Case, definition) -> dict:
    """What the case is about: a participant (trainee in a cohort) or a region unit (a
    unit of a campaign)."""
    if definition.subject == "region_unit":
        region, campaign = case.region, case.campaign
        return {
            "kind": "region_unit",
            "region": None
            if region is None
            else {
                "code": region.code,
                "name": region.name,
                "level": region.level,
                "label": unit_name(region),
            },
            "campaign": None
            if campaign is None
            else {
                "id": campaign.id,
                "name": campaign.name,
                "deadline": campaign.deadline.isoformat(),
            },
        }
    cohort = case.cohort
    return {
        "kind": "participant",
        "trainee": _person(case.trainee),
        "cohort": None if cohort is None else {"id": cohort.id, "name": cohort.name},
    }


# Everything a summary shows, loaded with the rows: no query per case.
SUMMARY_LOADS = (
    joinedload(Case.trainee),
    joinedload(Case.cohort).joinedload(Cohort.program).joinedload(Program.institution),
    joinedload(Case.region),
    joinedload(Case.campaign).joinedload(Campaign.institution),
)


def case_summary(case: Case) -> dict:
    lang = g.api_lang
    definition = definition_of(case)
    state = definition.state(case.state)
    cohort = case.cohort
    return {
        "id": case.id,
        "title": case.title,
        "state": case.state,
        "state_label": state.labels.get(lang),
        "phase": state.phase,
        "phase_label": definition.phase(state.phase).labels.get(lang),
        "due_date": case.due_date.isoformat() if case.due_date else None,
        "overdue": is_overdue(case),
        "version": case.version,
        # Kept for participant cases' clients; null for a region unit's case.
        "trainee": _person(case.trainee),
        "cohort": None if cohort is None else {"id": cohort.id, "name": cohort.name},
        "subject": case_subject(case, definition),
    }


PROPOSAL_TEXT = Case.PROPOSAL_TEXT_FIELDS
PROPOSAL_LISTS = Case.PROPOSAL_LIST_FIELDS


def _milestone(m) -> dict:
    return {
        "id": m.id,
        "position": m.position,
        "term": m.term,
        "activity": m.activity,
        "output": m.output,
        "target_date": m.target_date.isoformat() if m.target_date else None,
        "target_quantity": m.target_quantity,
        "target_unit": m.target_unit,
        "units": list(m.units or []),
        "status": m.status,
        "achieved_quantity": m.achieved_quantity,
        "closing_note": m.closing_note,
    }


def _action(action, definition=None) -> dict:
    lang = g.api_lang
    return {
        "trigger": action.trigger,
        "label": action.label(lang),
        "style": action.style,
        "comment": action.comment,
        "comment_required": action.comment_required,
        "fields": [
            {
                "name": f.name,
                "type": f.type,
                "label": f.labels.get(lang),
                "required": f.required,
                "max_length": f.max_length,
                "choices": [{"value": c.value, "label": c.labels.get(lang)} for c in f.choices],
            }
            for f in action.fields
        ],
        "blocked": action.blocked,
        "blocked_reasons": [str(r) for r in action.blocked_reasons],
        "reasons": _reasons_of(action, definition),
    }


def _reasons_of(action, definition) -> dict | None:
    """For an action that returns a data form with a reason per field (form_reasons): the
    form and its fields; send `data.reasons` = {field: reason}, at least one."""
    if action.form_reasons is None:
        return None
    form = definition.form(action.form_reasons) if definition is not None else None
    if form is None:
        return {"form": action.form_reasons, "fields": []}
    lang = g.api_lang
    return {
        "form": form.key,
        "fields": [
            {"name": f.name, "label": f.labels.get(lang)} for f in form.all_fields().values()
        ],
    }


def case_detail(case: Case, user: User) -> dict:
    definition = definition_of(case)
    body = case_summary(case)
    body.update(
        {
            "definition": {
                "key": definition.key,
                "version": definition.version,
                "label": definition.labels.get(g.api_lang),
            },
            "state_entered_at": iso_utc(case.state_entered_at),
            "mentor": _person(case.mentor),
            "executive": _person(case.executive),
            "group": None if case.group is None else {"id": case.group.id, "name": case.group.name},
            "proposal": {
                **{name: getattr(case, name) or "" for name in PROPOSAL_TEXT},
                **{name: list(getattr(case, name) or []) for name in PROPOSAL_LISTS},
            },
            "milestones": [_milestone(m) for m in case.milestones],
            "final_score": case.final_score,
            "predicate": case.predicate,
            "actions": [_action(a, definition) for a in available_actions(case, user)],
        }
    )
    return body


def _event(e: AuditEvent, data_of=None) -> dict:
    return {
        "seq": e.seq,
        "trigger": e.trigger,
        "from": e.from_state,
        "to": e.to_state,
        "actor": _person(e.actor),
        "on_behalf_of": _person(e.on_behalf_of),
        "comment": e.comment or "",
        "data": data_of(e) if data_of is not None else (e.data or {}),
        "created_at": iso_utc(e.created_at),
        "hash": e.hash,
        "prev_hash": e.prev_hash,
    }


def _with_etag(payload: dict, version: int):
    response = jsonify(payload)
    response.set_etag(str(version))
    return response


# ---------------------------------------------------------------- routes


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(openapi.spec())


@bp.get("/cases")
def list_cases():
    page = _int_arg("page", 1, 1, MAX_PAGE)
    per_page = _int_arg("per_page", 20, 1, MAX_PER_PAGE)
    scoped = cases_visible_to(g.api_user)
    total = db.session.scalar(select(func.count()).select_from(scoped.subquery()))
    # Everything a summary shows comes in this one query: no query per case.
    rows = db.session.scalars(
        scoped.options(*SUMMARY_LOADS)
        .order_by(Case.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return jsonify(
        {
            "items": [case_summary(c) for c in rows],
            "page": page,
            "per_page": per_page,
            "total": total,
            "pages": (total + per_page - 1) // per_page,
        }
    )


@bp.get(f"/cases/{CASE_ID}")
def get_case(case_id: int):
    case = _case_or_404(case_id)
    return _with_etag(case_detail(case, g.api_user), case.version)


@bp.post(f"/cases/{CASE_ID}/actions/<trigger>")
def perform_action(case_id: int, trigger: str):
    case = _case_or_404(case_id)
    comment, data = _action_body()
    expected = _expected_version()
    try:
        perform(case, trigger, g.api_user, comment=comment, data=data, expected_version=expected)
    except WorkflowError as exc:
        extra = {}
        if isinstance(exc, Blocked):
            extra = {
                "reasons": [str(r) for r in exc.reasons],
                "fields": {k: str(v) for k, v in exc.fields.items()},
            }
        raise ApiError(exc.status, exc.message, **extra) from None
    return _with_etag(case_detail(case, g.api_user), case.version)


@bp.get(f"/cases/{CASE_ID}/events")
def list_events(case_id: int):
    case = _case_or_404(case_id)
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.case_id == case.id)
        .options(selectinload(AuditEvent.actor), selectinload(AuditEvent.on_behalf_of))
        .order_by(AuditEvent.seq)
    ).all()
    # Assessment values stay hidden from those who may not read that sheet yet.
    data_of = score_event_filter(case, g.api_user)
    return jsonify({"items": [_event(e, data_of) for e in events]})


# Routes of later capabilities live beside their OpenAPI paths in their own modules and
# attach to this blueprint; importing them here registers them before the app does.
from . import (  # noqa: E402, F401
    api_campaigns,
    api_dashboard,
    api_delegations,
    api_evaluation,
    api_followup,
    api_forms,
    api_implementation,
    api_notifications,
    api_proposals,
    api_reach,
    api_regions,
    api_repository,
    api_reviews,
    api_seminars,
    api_similarity,
)
