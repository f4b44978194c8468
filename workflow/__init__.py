"""Aksi: create_app() binds config, extensions, blueprints and CLI."""

from __future__ import annotations

import os

from flask import Flask, g, has_request_context, session
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .extensions import babel, csrf, db, limiter, login_manager, migrate


@event.listens_for(Engine, "connect")
def _sqlite_foreign_keys(dbapi_connection, _record):
    # SQLite ignores foreign keys unless asked, per connection.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def select_locale() -> str:
    from flask_login import current_user

    langs = ("id", "en")
    if not has_request_context():
        return "id"
    # The API decides per request (?lang, Accept-Language); the web by the session.
    api_lang = getattr(g, "api_lang", None)
    if api_lang in langs:
        return api_lang
    chosen = session.get("lang")
    if chosen in langs:
        return chosen
    if getattr(current_user, "is_authenticated", False) and current_user.locale in langs:
        return current_user.locale
    return "id"


def create_app(test_config: dict | None = None) -> Flask:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=os.path.join(root, "templates"),
        static_folder=os.path.join(root, "static"),
    )
    from . import config

    app.config.from_mapping(config.load(app.instance_path))
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = os.path.join(root, "translations")
    if test_config:
        app.config.update(test_config)
    # Before anything else: a production start without a real SECRET_KEY stops here.
    config.finish(app.config)
    hops = app.config["AKSI_PROXY_HOPS"]
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Trust exactly `hops` proxies: the client address (login limits), the scheme
        # (request.is_secure, external URLs) and the host they forward.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    os.makedirs(app.instance_path, exist_ok=True)

    # Definitions are validated at start-up: a broken one stops the app here.
    from .engine import registry

    registry.load(app.config["DEFINITIONS_DIR"])

    from . import models  # noqa: F401  (registers the tables)

    db.init_app(app)
    from . import jobs, tasks  # noqa: F401  (tasks registers the jobs)

    jobs.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(root, "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    app.config.setdefault("RATELIMIT_ENABLED", True)
    limiter.init_app(app)

    from . import cli

    cli.register(app)

    from blueprints import register_blueprints

    register_blueprints(app)

    from blueprints import input_guard

    input_guard.init_app(app)
    app.after_request(_transport_headers)
    return app


def _transport_headers(response):
    """HSTS when served over HTTPS; pages showing a signed-in user's data are not stored by
    the browser or any cache (a shared computer, the Back button after logout)."""
    from flask import current_app, request

    config = current_app.config
    if config["AKSI_HTTPS"]:
        response.headers.setdefault(
            "Strict-Transport-Security", f"max-age={config['AKSI_HSTS_SECONDS']}"
        )
    if (
        response.mimetype == "text/html"
        and request.endpoint != "static"
        # Flask-Login keeps the user it loaded here: no query, and none when unused.
        and getattr(g.get("_login_user"), "is_authenticated", False)
    ):
        response.headers["Cache-Control"] = "no-store"
    return response
