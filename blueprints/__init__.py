"""HTTP only: routes load (scoped to the user), check, call a service, render."""

from importlib import import_module

from flask import Flask

# Each module exposes `bp`; the order only matters for error handlers.
MODULES = (
    "errors",
    "auth",
    "home",
    "cases",
    "api",
    "health",
    "delegations",
    "review",
    "inbox",
    "proposal",
    "implementation",
    "final_report",
    "evaluation",
    "dashboard",
    "results",
    "cohorts",
    "seminars",
    "definitions",
    "transfers",
    "followup",
    "repository",
    "showcase",
    "similarity",
    "regions",
    "forms",
    "campaigns",
    "reach",
)


def register_blueprints(app: Flask) -> None:
    for name in MODULES:
        module = import_module(f"blueprints.{name}")
        app.register_blueprint(module.bp)
        if hasattr(module, "init_app"):
            module.init_app(app)
