"""API v1: official regions (Kemendagri codes) — search, and one unit with its parent chain
and children. Any signed-in caller (bearer token) may read them; routes attach to
blueprints.api.bp and are described by PATHS/SCHEMAS below."""

from __future__ import annotations

from flask import jsonify, request
from flask_babel import lazy_gettext as _l

from workflow.services import regions as svc

from . import openapi
from .api import ApiError, _int_arg, bp

MAX_Q = 100


def _unit(region, known=None) -> dict:
    known = known if known is not None else svc.with_ancestors([region])
    chain = svc.chain_of(region, known)
    return {
        "id": region.id,
        "code": region.code,
        "name": region.name,
        "level": region.level,
        "kind": region.kind,
        "label": svc.label(region, known),
        "parent_code": chain[0].code if chain else None,
        "ancestors": [{"code": r.code, "name": r.name, "level": r.level} for r in chain],
    }


def _text_arg(name: str, max_length: int) -> str | None:
    value = request.args.get(name)
    if value is None:
        return None
    if "\x00" in value or len(value) > max_length:
        raise ApiError(
            400,
            _l("%(name)s must be text of at most %(n)d characters.", name=name, n=max_length),
            fields={name: str(_l("At most %(n)d characters.", n=max_length))},
        )
    return value.strip()


def not_found(code: str):
    return ApiError(404, _l("There is no region with the code %(code)s.", code=code[:40]))


@bp.get("/regions")
def regions_search():
    q = _text_arg("q", MAX_Q)
    level = request.args.get("level") or None
    if level is not None and level not in svc.LEVELS:
        raise ApiError(
            400,
            _l("level must be one of: %(levels)s.", levels=", ".join(svc.LEVELS)),
            fields={"level": ", ".join(svc.LEVELS)},
        )
    within_code = _text_arg("within", 20) or None
    limit = _int_arg("limit", 20, 1, 100)
    within = None
    if within_code:
        within = svc.get_by_code(within_code)
        if within is None:
            raise not_found(within_code)
    found = svc.search(q, level=level, within=within, limit=limit)
    known = svc.with_ancestors(found)
    return jsonify({"items": [_unit(r, known) for r in found]})


@bp.get("/regions/<code>")
def region_detail(code: str):
    region = None if "\x00" in code or len(code) > 20 else svc.get_by_code(code)
    if region is None:
        raise not_found(code)
    kids = svc.children(region)
    counts = svc.child_counts(kids)
    return jsonify(
        {
            **_unit(region),
            "children": [
                {
                    "id": c.id,
                    "code": c.code,
                    "name": c.name,
                    "level": c.level,
                    "kind": c.kind,
                    "children": counts.get(c.id, 0),
                }
                for c in kids
            ],
        }
    )


# ---------------------------------------------------------------- OpenAPI

_err = openapi.error_response
_ok = openapi.response
_401 = openapi.UNAUTHORIZED
_LANG = {"$ref": "#/components/parameters/lang"}
_STRING = {"type": "string"}
_N_STRING = {"type": "string", "nullable": True}
_LEVEL = {"type": "string", "enum": list(svc.LEVELS)}

_ANCESTOR = {
    "type": "object",
    "required": ["code", "name", "level"],
    "properties": {"code": _N_STRING, "name": _STRING, "level": _STRING},
}
_UNIT_PROPS = {
    "id": {"type": "integer"},
    "code": {**_N_STRING, "description": "Kemendagri code, e.g. 18.04.11 (Sukau)."},
    "name": _STRING,
    "level": {**_STRING, "description": "province, regency, district or village."},
    "kind": {**_N_STRING, "description": "kabupaten/kota, desa/kelurahan when known."},
}

SCHEMAS: dict = {
    "Region": {
        "type": "object",
        "required": [*_UNIT_PROPS, "label", "parent_code", "ancestors"],
        "properties": {
            **_UNIT_PROPS,
            "label": {
                **_STRING,
                "description": 'For display: "Sukau — Kabupaten Lampung Barat, Lampung".',
            },
            "parent_code": _N_STRING,
            "ancestors": {
                "type": "array",
                "description": "The parent chain, nearest first.",
                "items": _ANCESTOR,
            },
        },
    },
    "RegionList": {
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Region"}}
        },
    },
    "RegionDetail": {
        "allOf": [
            {"$ref": "#/components/schemas/Region"},
            {
                "type": "object",
                "required": ["children"],
                "properties": {
                    "children": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": [*_UNIT_PROPS, "children"],
                            "properties": {
                                **_UNIT_PROPS,
                                "children": {
                                    "type": "integer",
                                    "description": "How many units this child contains.",
                                },
                            },
                        },
                    }
                },
            },
        ]
    },
}

PATHS: dict = {
    "/api/v1/regions": {
        "get": {
            "operationId": "searchRegions",
            "summary": "Search the official regions by name (case-insensitive; prefixes first) "
            "or by code prefix, optionally at one level and inside one unit.",
            "parameters": [
                {
                    "name": "q",
                    "in": "query",
                    "required": False,
                    "description": "Part of the name (Sukau) or the start of a code (18.04).",
                    "schema": {"type": "string", "maxLength": MAX_Q},
                },
                {"name": "level", "in": "query", "required": False, "schema": _LEVEL},
                {
                    "name": "within",
                    "in": "query",
                    "required": False,
                    "description": "Only units inside the unit with this code.",
                    "schema": {"type": "string", "maxLength": 20},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                },
                _LANG,
            ],
            "responses": {
                "200": _ok("RegionList", "The matching units, each with its parent chain."),
                "400": _err("Invalid parameters."),
                "401": _401,
                "404": _err("No region with the code given in `within`."),
            },
        }
    },
    "/api/v1/regions/{code}": {
        "get": {
            "operationId": "getRegion",
            "summary": "One unit by its code, with its parent chain and its children.",
            "parameters": [
                {
                    "name": "code",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "maxLength": 20},
                    "example": "18.04",
                },
                _LANG,
            ],
            "responses": {
                "200": _ok("RegionDetail", "The unit."),
                "400": _err("Invalid parameters."),
                "401": _401,
                "404": _err("No region with this code."),
            },
        }
    },
}
