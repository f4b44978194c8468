"""API routes of notifications (the caller's inbox); they attach to blueprints.api.bp."""

from __future__ import annotations

from flask import g, jsonify, request
from flask_babel import lazy_gettext as _l

from workflow.extensions import db
from workflow.services import notifications

from .api import MAX_ID, MAX_PAGE, MAX_PER_PAGE, ApiError, _int_arg, bp, id_in_path, iso_utc

NOTE_ID = id_in_path("notification_id")


def notification_json(item: notifications.Item) -> dict:
    words = item.text(g.api_lang)
    note = item.note
    return {
        "id": note.id,
        "kind": note.kind,
        "case_id": note.case_id,
        "event_id": note.event_id,
        "summary": words["summary"],
        "actor": words["actor"],
        "action": words["action"],
        "case_title": words["title"],
        "state_label": words["state"],
        "comment": words["comment"],
        "created_at": iso_utc(note.created_at),
        "read_at": iso_utc(note.read_at),
    }


def _unread_arg() -> bool:
    raw = request.args.get("unread")
    if raw is None:
        return False
    if raw not in ("0", "1"):
        raise ApiError(400, _l("unread must be 0 or 1."))
    return raw == "1"


def _mine_or_404(notification_id: int) -> notifications.Item:
    found = notifications.item(g.api_user.id, notification_id)
    if found is None:
        raise ApiError(404, _l("No such notification, or it is not yours."))
    return found


@bp.get("/notifications")
def list_notifications():
    page = _int_arg("page", 1, 1, MAX_PAGE)
    per_page = _int_arg("per_page", 20, 1, MAX_PER_PAGE)
    unread_only = _unread_arg()
    items, total = notifications.page_of(
        g.api_user.id, page=page, per_page=per_page, unread_only=unread_only
    )
    return jsonify(
        {
            "items": [notification_json(i) for i in items],
            "page": page,
            "per_page": per_page,
            "total": total,
            "pages": (total + per_page - 1) // per_page,
            "unread": notifications.unread_count(g.api_user.id),
        }
    )


@bp.post(f"/notifications/{NOTE_ID}/read")
def read_notification(notification_id: int):
    found = _mine_or_404(notification_id)
    notifications.mark_read(found.note)
    db.session.commit()
    return jsonify(notification_json(found))


@bp.post("/notifications/read-all")
def read_all_notifications():
    marked = notifications.mark_all_read(g.api_user.id)
    db.session.commit()
    return jsonify({"marked": marked, "unread": notifications.unread_count(g.api_user.id)})


# ---------------------------------------------------------------- OpenAPI


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


STRING = {"type": "string"}
INTEGER = {"type": "integer"}
ERROR = _ref("Error")
LANG = {"$ref": "#/components/parameters/lang"}
UNAUTHORIZED = {
    **_json(ERROR, "Missing or invalid bearer token."),
    "headers": {"WWW-Authenticate": {"schema": STRING}},
}
BAD_REQUEST = _json(ERROR, "Invalid parameters.")
NOTE_PARAM = {
    "name": "notification_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "example": 1,
}

SCHEMAS: dict = {
    "Notification": {
        "type": "object",
        "required": [
            "id",
            "kind",
            "case_id",
            "event_id",
            "summary",
            "actor",
            "action",
            "case_title",
            "state_label",
            "comment",
            "created_at",
            "read_at",
        ],
        "properties": {
            "id": INTEGER,
            "kind": {"type": "string", "description": "The trigger of the event, e.g. submit."},
            "case_id": {**INTEGER, "nullable": True},
            "event_id": {**INTEGER, "nullable": True},
            "summary": {
                "type": "string",
                "description": "'<actor> <action> — <case title>' in the asked language.",
            },
            "actor": STRING,
            "action": STRING,
            "case_title": STRING,
            "state_label": {"type": "string", "description": "The case's state after the event."},
            "comment": STRING,
            "created_at": {"type": "string", "format": "date-time"},
            "read_at": {"type": "string", "format": "date-time", "nullable": True},
        },
    },
    "NotificationList": {
        "type": "object",
        "required": ["items", "page", "per_page", "total", "pages", "unread"],
        "properties": {
            "items": {"type": "array", "items": _ref("Notification")},
            "page": INTEGER,
            "per_page": INTEGER,
            "total": INTEGER,
            "pages": INTEGER,
            "unread": {"type": "integer", "description": "How many of all are unread."},
        },
    },
    "ReadAll": {
        "type": "object",
        "required": ["marked", "unread"],
        "properties": {"marked": INTEGER, "unread": INTEGER},
    },
}

PATHS: dict = {
    "/api/v1/notifications": {
        "get": {
            "operationId": "listNotifications",
            "summary": "The caller's notifications, newest first.",
            "parameters": [
                {
                    "name": "unread",
                    "in": "query",
                    "required": False,
                    "description": "1: only unread ones.",
                    "schema": {"type": "string", "enum": ["0", "1"], "default": "0"},
                },
                {
                    "name": "page",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 1},
                },
                {
                    "name": "per_page",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                },
                LANG,
            ],
            "responses": {
                "200": _json(_ref("NotificationList"), "One page of notifications."),
                "400": BAD_REQUEST,
                "401": UNAUTHORIZED,
            },
        }
    },
    "/api/v1/notifications/{notification_id}/read": {
        "post": {
            "operationId": "readNotification",
            "summary": "Mark one of the caller's notifications read.",
            "parameters": [NOTE_PARAM, LANG],
            "responses": {
                "200": _json(_ref("Notification"), "The notification, now read."),
                "400": BAD_REQUEST,
                "401": UNAUTHORIZED,
                "404": _json(ERROR, "No such notification, or not the caller's."),
            },
        }
    },
    "/api/v1/notifications/read-all": {
        "post": {
            "operationId": "readAllNotifications",
            "summary": "Mark all the caller's notifications read.",
            "parameters": [LANG],
            "responses": {
                "200": _json(_ref("ReadAll"), "How many were marked."),
                "400": BAD_REQUEST,
                "401": UNAUTHORIZED,
            },
        }
    },
}
