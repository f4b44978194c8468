"""API v1: campaigns over region units — launch, list, the summary per district, the units
with their state, members (region-assigned roles) and people named on one case
(case-assigned roles).

Routes attach to blueprints.api.bp and are described by PATHS/SCHEMAS below. A campaign the
caller neither oversees nor takes part in is a 404; launching, adding members and naming
people is for the administrators of the campaign's institution (403 otherwise).
"""

from __future__ import annotations

from datetime import date

from flask import g, jsonify, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from workflow.extensions import db
from workflow.models import Campaign, Region, User
from workflow.services import WorkflowError
from workflow.services import campaigns as svc

from . import openapi
from .api import (
    CASE_ID,
    MAX_PAGE,
    MAX_PER_PAGE,
    ApiError,
    _case_or_404,
    _int_arg,
    bp,
    id_in_path,
    iso_utc,
    json_object,
)

CAMPAIGN_ID = id_in_path("campaign_id")
LAUNCH_FIELDS = {"definition", "name", "area", "deadline", "holders", "allow_unassigned"}
MEMBER_FIELDS = {"role", "username", "region"}
ASSIGN_FIELDS = {"role", "username"}
MAX_HOLDERS = 20000


def _refusal(exc: WorkflowError) -> ApiError:
    return ApiError(
        exc.status,
        exc.message,
        reasons=[str(r) for r in exc.reasons],
        fields={k: str(v) for k, v in exc.fields.items()},
    )


def _campaign_or_404(campaign_id: int) -> Campaign:
    found = svc.campaign_for(g.api_user, campaign_id)
    if found is None:
        raise ApiError(404, _l("No such campaign, or it is not yours to see."))
    return found


def _string(body: dict, name: str, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ApiError(400, _l("%(name)s must be a string.", name=name))
    return value


def _user(username) -> User | None:
    if not isinstance(username, str) or not username.strip():
        return None
    return db.session.scalar(
        select(User).where(User.username == username.strip(), User.active.is_(True))
    )


# ---------------------------------------------------------------- serialisation


def campaign_json(c: Campaign) -> dict:
    try:
        label = svc.definition_of_campaign(c).labels.get(g.api_lang)
    except LookupError:
        label = c.definition_key
    return {
        "id": c.id,
        "name": c.name,
        "definition": {"key": c.definition_key, "version": c.definition_version, "label": label},
        "area": {"code": c.region.code, "name": c.region.name, "level": c.region.level},
        "deadline": c.deadline.isoformat(),
        "created_at": iso_utc(c.created_at),
        "closed_at": iso_utc(c.closed_at),
    }


def _row(r: svc.DistrictRow, stages) -> dict:
    return {
        "code": r.code,
        "name": r.name,
        "units": r.total,
        "states": dict(r.by_state),
        "stages": {st.key: r.passed[i] for i, st in enumerate(stages)},
        "overdue": r.overdue,
        "overdue_units": list(r.overdue_names),
    }


# ---------------------------------------------------------------- routes


@bp.post("/campaigns")
def launch_campaign():
    body = json_object(LAUNCH_FIELDS)
    user = g.api_user
    if not svc.can_launch(user, user.institution):
        raise ApiError(403, _l("Only an administrator of the institution launches campaigns."))
    for name in ("definition", "name", "area", "deadline"):
        _string(body, name)
    allow = body.get("allow_unassigned", False)
    if not isinstance(allow, bool):
        raise ApiError(400, _l("%(name)s must be true or false.", name="allow_unassigned"))
    raw = body.get("holders", [])
    if not isinstance(raw, list) or len(raw) > MAX_HOLDERS:
        raise ApiError(400, _l("holders must be a list of objects."))
    holders, errors = [], {}
    for i, h in enumerate(raw):
        if not isinstance(h, dict) or set(h) - {"role", "username", "region"}:
            raise ApiError(400, _l("holders must be a list of objects."))
        role, username, region = h.get("role"), h.get("username"), h.get("region")
        if not isinstance(role, str) or not isinstance(username, str):
            raise ApiError(400, _l("Each holder needs a role and a username (strings)."))
        if region is not None and not isinstance(region, str):
            raise ApiError(400, _l("%(name)s must be a string.", name="region"))
        person = _user(username)
        if person is None:
            errors[f"holders[{i}].username"] = str(_l("No active account with that username."))
            continue
        place = None
        if region:
            place = db.session.scalar(select(Region).where(Region.code == region.strip()))
            if place is None:
                errors[f"holders[{i}].region"] = str(
                    _l("There is no region with the code %(code)s.", code=region)
                )
                continue
        holders.append(svc.Holder(role, person, place))
    if errors:
        raise ApiError(
            422, _l("The campaign was not launched."), fields=errors, reasons=list(errors.values())
        )
    try:
        campaign = svc.launch(
            user.institution,
            user,
            body["definition"],
            body["name"],
            body["area"],
            body["deadline"],
            holders,
            allow_unassigned=allow,
        )
    except WorkflowError as exc:
        db.session.rollback()
        raise _refusal(exc) from None
    response = jsonify(campaign_json(campaign))
    response.status_code = 201
    return response


@bp.get("/campaigns")
def list_campaigns():
    rows = db.session.scalars(svc.campaigns_visible_to(g.api_user).order_by(Campaign.id)).all()
    return jsonify({"items": [campaign_json(c) for c in rows]})


@bp.get(f"/campaigns/{CAMPAIGN_ID}")
def get_campaign(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    summ = svc.summary(campaign, g.api_user)
    body = campaign_json(campaign)
    body.update(
        {
            "today": summ.today.isoformat(),
            "stages": [{"key": s.key, "label": s.label(g.api_lang)} for s in summ.stages],
            "total": _row(summ.total, summ.stages),
            "districts": [_row(r, summ.stages) for r in summ.rows],
        }
    )
    body["total"].update({"code": campaign.region.code, "name": campaign.region.name})
    return jsonify(body)


@bp.get(f"/campaigns/{CAMPAIGN_ID}/cases")
def list_campaign_cases(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    definition = svc.definition_of_campaign(campaign)
    district = request.args.get("district") or None
    state = request.args.get("state") or None
    if district is not None and svc.district_of(campaign, district) is None:
        raise ApiError(400, _l("Unknown district code for this campaign."))
    if state is not None and not definition.has_state(state):
        raise ApiError(400, _l("Unknown state."))
    page = _int_arg("page", 1, 1, MAX_PAGE)
    per_page = _int_arg("per_page", 50, 1, MAX_PER_PAGE)
    rows, total = svc.units(
        campaign,
        g.api_user,
        district=district,
        state=state,
        sort="code",
        limit=per_page,
        offset=(page - 1) * per_page,
    )
    return jsonify(
        {
            "items": [
                {
                    "case_id": r.case_id,
                    "code": r.code,
                    "name": r.name,
                    "district": r.district,
                    "state": r.state,
                    "state_label": r.state_label(g.api_lang),
                    "due_date": r.due_date.isoformat() if r.due_date else None,
                    "overdue": r.overdue,
                    "to_act": r.owners,
                    "version": r.version,
                }
                for r in rows
            ],
            "page": page,
            "per_page": per_page,
            "total": total,
            "pages": (total + per_page - 1) // per_page,
        }
    )


@bp.post(f"/campaigns/{CAMPAIGN_ID}/members")
def add_campaign_member(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    body = json_object(MEMBER_FIELDS)
    role = _string(body, "role")
    username = _string(body, "username")
    region = _string(body, "region", required=False)
    try:
        member = svc.add_member(campaign, g.api_user, role, _user(username), region)
    except WorkflowError as exc:
        db.session.rollback()
        raise _refusal(exc) from None
    response = jsonify(
        {
            "id": member.id,
            "role": member.role,
            "username": member.user.username,
            "region": member.region_code,
        }
    )
    response.status_code = 201
    return response


@bp.post(f"/cases/{CASE_ID}/assignments")
def assign_case_role(case_id: int):
    case = _case_or_404(case_id)
    body = json_object(ASSIGN_FIELDS)
    role = _string(body, "role")
    username = _string(body, "username")
    try:
        assignment = svc.assign(case, g.api_user, role, _user(username))
    except WorkflowError as exc:
        db.session.rollback()
        raise _refusal(exc) from None
    response = jsonify(
        {"case_id": case.id, "role": assignment.role, "username": assignment.user.username}
    )
    response.status_code = 201
    return response


# ---------------------------------------------------------------- OpenAPI

_err = openapi.error_response
_ok = openapi.response
_401 = openapi.UNAUTHORIZED
_LANG = {"$ref": "#/components/parameters/lang"}
_CASE = {"$ref": "#/components/parameters/case_id"}
_STRING = {"type": "string"}
_INT = {"type": "integer"}
_DATE = {"type": "string", "format": "date"}
_CAMPAIGN = {
    "name": "campaign_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": openapi.MAX_ID},
}
_DATE_EXAMPLE = date(2026, 3, 31).isoformat()
_COUNTS = {"type": "object", "additionalProperties": _INT}

SCHEMAS: dict = {
    "Campaign": {
        "type": "object",
        "required": ["id", "name", "definition", "area", "deadline", "created_at", "closed_at"],
        "properties": {
            "id": _INT,
            "name": _STRING,
            "definition": {
                "type": "object",
                "required": ["key", "version", "label"],
                "properties": {"key": _STRING, "version": _INT, "label": _STRING},
            },
            "area": {
                "type": "object",
                "required": ["code", "name", "level"],
                "properties": {"code": _STRING, "name": _STRING, "level": _STRING},
            },
            "deadline": _DATE,
            "created_at": {"type": "string", "format": "date-time"},
            "closed_at": {"type": "string", "format": "date-time", "nullable": True},
        },
    },
    "CampaignList": {
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Campaign"}}
        },
    },
    "CampaignDistrict": {
        "type": "object",
        "required": ["code", "name", "units", "states", "stages", "overdue", "overdue_units"],
        "properties": {
            "code": _STRING,
            "name": _STRING,
            "units": _INT,
            "states": {**_COUNTS, "description": "Units per state."},
            "stages": {**_COUNTS, "description": "Units past each phase (key: the phase)."},
            "overdue": _INT,
            "overdue_units": {
                "type": "array",
                "items": _STRING,
                "description": "The first overdue units by name.",
            },
        },
    },
    "CampaignSummary": {
        "allOf": [
            {"$ref": "#/components/schemas/Campaign"},
            {
                "type": "object",
                "required": ["today", "stages", "total", "districts"],
                "properties": {
                    "today": _DATE,
                    "stages": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["key", "label"],
                            "properties": {"key": _STRING, "label": _STRING},
                        },
                    },
                    "total": {"$ref": "#/components/schemas/CampaignDistrict"},
                    "districts": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/CampaignDistrict"},
                    },
                },
            },
        ]
    },
    "CampaignCases": {
        "type": "object",
        "required": ["items", "page", "per_page", "total", "pages"],
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": [
                        "case_id",
                        "code",
                        "name",
                        "district",
                        "state",
                        "state_label",
                        "due_date",
                        "overdue",
                        "to_act",
                        "version",
                    ],
                    "properties": {
                        "case_id": _INT,
                        "code": _STRING,
                        "name": _STRING,
                        "district": _STRING,
                        "state": _STRING,
                        "state_label": _STRING,
                        "due_date": {**_DATE, "nullable": True},
                        "overdue": {"type": "boolean"},
                        "to_act": {"type": "array", "items": _STRING},
                        "version": _INT,
                    },
                },
            },
            "page": _INT,
            "per_page": _INT,
            "total": _INT,
            "pages": _INT,
        },
    },
    "CampaignLaunchRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["definition", "name", "area", "deadline"],
        "properties": {
            "definition": {**_STRING, "example": "profil_pekon"},
            "name": {**_STRING, "maxLength": svc.NAME_MAX, "example": "Profil Pekon 2026"},
            "area": {**_STRING, "description": "The region code covered.", "example": "18.04"},
            "deadline": {**_DATE, "example": _DATE_EXAMPLE},
            "holders": {
                "type": "array",
                "maxItems": MAX_HOLDERS,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["role", "username"],
                    "properties": {
                        "role": _STRING,
                        "username": _STRING,
                        "region": {
                            **_STRING,
                            "nullable": True,
                            "description": "Default: the person's office region.",
                        },
                    },
                },
            },
            "allow_unassigned": {
                "type": "boolean",
                "description": "Launch even where an owning role has nobody yet.",
            },
        },
    },
    "CampaignMemberRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["role", "username"],
        "properties": {
            "role": _STRING,
            "username": _STRING,
            "region": {**_STRING, "nullable": True, "description": "Default: office region."},
        },
    },
    "CampaignMember": {
        "type": "object",
        "required": ["id", "role", "username", "region"],
        "properties": {"id": _INT, "role": _STRING, "username": _STRING, "region": _STRING},
    },
    "CaseAssignmentRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["role", "username"],
        "properties": {"role": _STRING, "username": _STRING},
    },
    "CaseAssignment": {
        "type": "object",
        "required": ["case_id", "role", "username"],
        "properties": {"case_id": _INT, "role": _STRING, "username": _STRING},
    },
}


def _body(name: str) -> dict:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
    }


_WRITE_ERRORS = {
    "400": _err("Invalid body (not JSON, unknown keys, wrong types, NUL)."),
    "401": _401,
    "403": _err("Not an administrator of the campaign's institution."),
    "422": _err("Refused: see `fields` (a message per field) and `reasons`."),
}

PATHS: dict = {
    "/api/v1/campaigns": {
        "post": {
            "operationId": "launchCampaign",
            "summary": "Launch a campaign: one case per unit of the flow's level inside the "
            "area, and who holds each role; in one transaction (nothing on refusal).",
            "parameters": [_LANG],
            "requestBody": _body("CampaignLaunchRequest"),
            "responses": {"201": _ok("Campaign", "Launched."), **_WRITE_ERRORS},
        },
        "get": {
            "operationId": "listCampaigns",
            "summary": "The campaigns the caller oversees or takes part in.",
            "parameters": [_LANG],
            "responses": {
                "200": _ok("CampaignList", "The campaigns."),
                "400": _err("Invalid parameters."),
                "401": _401,
            },
        },
    },
    "/api/v1/campaigns/{campaign_id}": {
        "get": {
            "operationId": "getCampaign",
            "summary": "A campaign's progress per district (the parent region of its units): "
            "units, per state, past each phase, overdue ones named. Scoped to what the caller "
            "sees (a camat: their kecamatan).",
            "parameters": [_CAMPAIGN, _LANG],
            "responses": {
                "200": _ok("CampaignSummary", "The summary."),
                "400": _err("Invalid parameters."),
                "401": _401,
                "404": _err("No such campaign, or not the caller's to see."),
            },
        }
    },
    "/api/v1/campaigns/{campaign_id}/cases": {
        "get": {
            "operationId": "listCampaignCases",
            "summary": "The campaign's units (cases) the caller sees, by code: state, due "
            "date, who must act.",
            "parameters": [
                _CAMPAIGN,
                {"name": "district", "in": "query", "schema": _STRING, "example": "18.04.11"},
                {"name": "state", "in": "query", "schema": _STRING},
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {
                    "name": "per_page",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                },
                _LANG,
            ],
            "responses": {
                "200": _ok("CampaignCases", "One page of units."),
                "400": _err("Invalid parameters (unknown district or state)."),
                "401": _401,
                "404": _err("No such campaign, or not the caller's to see."),
            },
        }
    },
    "/api/v1/campaigns/{campaign_id}/members": {
        "post": {
            "operationId": "addCampaignMember",
            "summary": "Add who holds a region-assigned role over a region (default: the "
            "person's office region), e.g. an operator whose account came late.",
            "parameters": [_CAMPAIGN, _LANG],
            "requestBody": _body("CampaignMemberRequest"),
            "responses": {
                "201": _ok("CampaignMember", "Added (or already there)."),
                **_WRITE_ERRORS,
                "404": _err("No such campaign, or not the caller's to see."),
                "409": _err("The campaign is closed."),
            },
        }
    },
    "/api/v1/cases/{case_id}/assignments": {
        "post": {
            "operationId": "assignCaseRole",
            "summary": "Name a person for a case-assigned role of the case's flow (audited "
            "on the case). For administrators of the campaign's institution.",
            "parameters": [_CASE, _LANG],
            "requestBody": _body("CaseAssignmentRequest"),
            "responses": {
                "201": _ok("CaseAssignment", "Assigned (or already)."),
                **_WRITE_ERRORS,
                "404": _err("No such case, or not the caller's to see."),
                "409": _err("The case changed meanwhile."),
            },
        }
    },
}
