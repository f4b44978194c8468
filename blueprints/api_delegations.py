"""API routes of acting officials (Plt./Plh./Pj.): list, create and revoke delegations.
They attach to blueprints.api.bp and are described by PATHS/SCHEMAS below."""

from __future__ import annotations

from flask import g, jsonify, request
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from workflow.extensions import db
from workflow.models import Delegation, User
from workflow.services import Blocked, WorkflowError
from workflow.services import delegations as service

from . import openapi
from .api import MAX_ID, ApiError, bp, id_in_path, iso_utc, json_object

DELEGATION_ID = id_in_path("delegation_id")
FIELDS = {
    "principal_id",
    "delegate_id",
    "role",
    "kind",
    "starts_on",
    "ends_on",
    "reason",
    "sk_number",
    "sk_date",
}
TEXT_FIELDS = ("role", "kind", "starts_on", "ends_on", "reason", "sk_number", "sk_date")


def _person(user: User | None) -> dict | None:
    return None if user is None else {"id": user.id, "name": user.name}


def delegation_json(d: Delegation, me: User, today) -> dict:
    if d.principal_id == me.id:
        relation = "given"
    elif d.delegate_id == me.id:
        relation = "received"
    else:
        relation = "managed"
    return {
        "id": d.id,
        "relation": relation,
        "principal": _person(d.principal),
        "delegate": _person(d.delegate),
        "role": d.role,
        "kind": d.kind,
        "kind_label": service.KIND_ABBREVIATIONS[d.kind],
        "starts_on": d.starts_on.isoformat(),
        "ends_on": d.ends_on.isoformat(),
        "reason": d.reason or "",
        "sk_number": d.sk_number or "",
        "sk_date": d.sk_date.isoformat() if d.sk_date else None,
        "status": service.status_of(d, today),
        "created_by": _person(db.session.get(User, d.created_by_id)),
        "created_at": iso_utc(d.created_at),
        "revoked_at": iso_utc(d.revoked_at),
    }


def _body() -> dict:
    body = json_object(FIELDS, reject_nul=False)
    # NUL characters and the like in strings are the service's to refuse, field by field.
    for name in ("principal_id", "delegate_id"):
        value = body.get(name)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ID
        ):
            raise ApiError(400, _l("%(name)s must be a whole number.", name=name))
    for name in TEXT_FIELDS:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise ApiError(400, _l("%(name)s must be a string.", name=name))
    return body


def _refusal(exc: WorkflowError) -> ApiError:
    extra = {}
    if isinstance(exc, Blocked):
        extra = {
            "reasons": [str(r) for r in exc.reasons],
            "fields": {k: str(v) for k, v in exc.fields.items()},
        }
    return ApiError(exc.status, exc.message, **extra)


@bp.route("/delegations", methods=["GET", "POST"])
def delegations():
    me = g.api_user
    today = service.today_for(me)
    if request.method == "GET":
        rows = db.session.scalars(
            service.delegations_visible_to(me)
            .options(joinedload(Delegation.principal), joinedload(Delegation.delegate))
            .order_by(Delegation.starts_on.desc(), Delegation.id.desc())
        ).all()
        return jsonify({"items": [delegation_json(d, me, today) for d in rows]})
    body = _body()
    principal = me
    if body.get("principal_id") is not None:
        principal = db.session.get(User, body["principal_id"])
    delegate = None
    if body.get("delegate_id") is not None:
        delegate = db.session.get(User, body["delegate_id"])
    try:
        created = service.create_delegation(
            principal,
            delegate,
            body.get("role") or "",
            body.get("kind") or "",
            body.get("starts_on"),
            body.get("ends_on"),
            body.get("reason"),
            me,
            sk_number=body.get("sk_number"),
            sk_date=body.get("sk_date"),
        )
    except WorkflowError as exc:
        db.session.rollback()
        raise _refusal(exc) from None
    response = jsonify(delegation_json(created, me, today))
    response.status_code = 201
    return response


@bp.delete(f"/delegations/{DELEGATION_ID}")
def revoke_delegation(delegation_id: int):
    me = g.api_user
    found = service.get_delegation_for(me, delegation_id)
    if found is None:
        raise ApiError(404, _l("No such delegation, or it is not yours to see."))
    try:
        service.revoke_delegation(found, me)
    except WorkflowError as exc:
        db.session.rollback()
        raise _refusal(exc) from None
    return jsonify(delegation_json(found, me, service.today_for(me)))


# ---------------------------------------------------------------- OpenAPI

_LANG = {"$ref": "#/components/parameters/lang"}
_PERSON = {"$ref": "#/components/schemas/Person"}


_err = openapi.error_response
_ok = openapi.response
_401 = openapi.UNAUTHORIZED

SCHEMAS = {
    "Delegation": {
        "type": "object",
        "description": "A Plt./Plh./Pj.: `delegate` acts as `principal`'s `role` from "
        "`starts_on` to `ends_on` inclusive, in the local date of each case's institution, "
        "under the decree (SK) `sk_number` of `sk_date`.",
        "required": [
            "id",
            "relation",
            "principal",
            "delegate",
            "role",
            "kind",
            "kind_label",
            "starts_on",
            "ends_on",
            "reason",
            "sk_number",
            "sk_date",
            "status",
            "created_by",
            "created_at",
            "revoked_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "relation": {
                "type": "string",
                "enum": ["given", "received", "managed"],
                "description": "given: the caller is the principal; received: the caller is "
                "the delegate; managed: the caller set it as organizer or created it.",
            },
            "principal": _PERSON,
            "delegate": _PERSON,
            "role": {
                "type": "string",
                "description": "mentor, executive, coach, examiner, organizer, or a role a "
                "definition declares delegable (e.g. camat).",
            },
            "kind": {"type": "string", "enum": list(service.KINDS)},
            "kind_label": {"type": "string", "enum": list(service.KIND_ABBREVIATIONS.values())},
            "starts_on": {"type": "string", "format": "date"},
            "ends_on": {"type": "string", "format": "date"},
            "reason": {"type": "string"},
            "sk_number": {
                "type": "string",
                "description": "The decree's number; may be empty for a Plh.",
            },
            "sk_date": {"type": "string", "format": "date", "nullable": True},
            "status": {"type": "string", "enum": ["upcoming", "active", "ended", "revoked"]},
            "created_by": {**_PERSON, "nullable": True},
            "created_at": {"type": "string", "format": "date-time"},
            "revoked_at": {"type": "string", "format": "date-time", "nullable": True},
        },
    },
    "DelegationList": {
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Delegation"}}
        },
    },
    "DelegationRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["delegate_id", "role", "kind", "starts_on", "ends_on"],
        "properties": {
            "principal_id": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_ID,
                "description": "Whom the delegate acts for; default the caller. Another "
                "person only for an organizer of a cohort where they hold the role.",
            },
            "delegate_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            "role": {
                "type": "string",
                "description": "mentor, executive, coach, examiner, organizer, or a role a "
                "definition declares delegable (e.g. camat).",
            },
            "kind": {"type": "string", "enum": list(service.KINDS)},
            "starts_on": {"type": "string", "format": "date"},
            "ends_on": {"type": "string", "format": "date"},
            "reason": {"type": "string", "maxLength": service.REASON_MAX, "nullable": True},
            "sk_number": {
                "type": "string",
                "maxLength": service.SK_NUMBER_MAX,
                "nullable": True,
                "description": "The decree's number: required for a Plt. and a Pj.",
            },
            "sk_date": {
                "type": "string",
                "format": "date",
                "nullable": True,
                "description": "The decree's date: required for a Plt. and a Pj.; not after "
                "`ends_on`.",
            },
        },
    },
}

PATHS = {
    "/api/v1/delegations": {
        "get": {
            "operationId": "listDelegations",
            "summary": "Delegations the caller gave, received, or manages as organizer.",
            "parameters": [_LANG],
            "responses": {
                "200": _ok("DelegationList", "The delegations, newest first."),
                "400": _err("Invalid parameters."),
                "401": _401,
            },
        },
        "post": {
            "operationId": "createDelegation",
            "summary": "Let another user act in one of the principal's roles "
            "(Plt./Plh./Pj.) for a date range.",
            "parameters": [_LANG],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/DelegationRequest"}
                    }
                },
            },
            "responses": {
                "201": _ok("Delegation", "The delegation, recorded."),
                "400": _err("Invalid parameters or body."),
                "401": _401,
                "403": _err("The caller may not set a delegation for this principal."),
                "422": _err("Something needs attention: see `fields`."),
            },
        },
    },
    "/api/v1/delegations/{delegation_id}": {
        "delete": {
            "operationId": "revokeDelegation",
            "summary": "Revoke a delegation: the delegate loses the role at once.",
            "parameters": [
                {
                    "name": "delegation_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                    "example": 1,
                },
                _LANG,
            ],
            "responses": {
                "200": _ok("Delegation", "The revoked delegation."),
                "400": _err("Invalid parameters."),
                "401": _401,
                "403": _err("The caller may see but not revoke this delegation."),
                "404": _err("No such delegation, or not the caller's to see."),
                "409": _err("Already revoked."),
            },
        }
    },
}
