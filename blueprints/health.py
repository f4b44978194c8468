"""GET /healthz: is the app up and can it reach its database?

`?details=1` adds which engine answers near-duplicate detection: the embedding model, or
the lexical fallback and why (a monitor can alert on it; the app stays up either way)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from workflow.extensions import csrf, db, limiter

bp = Blueprint("health", __name__)
csrf.exempt(bp)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.warning("health check: database unreachable", exc_info=True)
        return jsonify({"status": "error"}), 503
    finally:
        # Leave no transaction open between probes.
        db.session.rollback()
    body = {"status": "ok"}
    if request.args.get("details") == "1":
        from workflow.services import similarity

        body["similarity"] = similarity.engine_status().as_dict()
    return jsonify(body)
