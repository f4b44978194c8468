"""Activity handlers, registered by name like guards, so definitions can refer to them.

A handler validates and applies one activity inside perform()'s transaction. It raises
Blocked/NotAvailable (nothing is written) or returns an ActivityResult. The handlers live
with the services they need (milestones, deadlines); HANDLER_MODULES names them so the
definitions can be checked against the registry wherever they are loaded.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..models import Case, User
    from .definitions import Activity, Definition

HANDLER_MODULES = (
    "workflow.services.milestones",
    "workflow.services.followup",
    "workflow.services.deadlines",
    "workflow.services.evaluation",
    "workflow.services.cohorts",
    "workflow.services.seminars",
    "workflow.services.transfers",
    "workflow.services.forms",
    "workflow.services.campaigns",
)


@dataclass
class ActivityContext:
    case: Case
    definition: Definition
    activity: Activity
    actor: User
    roles: set[str]
    comment: str
    # The declared fields, cleaned; and everything else the caller sent, raw.
    data: dict
    raw: dict
    files: list = field(default_factory=list)
    # Paths written to disk; perform() removes them if the transaction fails.
    written: list[Path] = field(default_factory=list)


@dataclass
class ActivityResult:
    # Recorded in the audit event (hashed with it): what was done, in plain values.
    data: dict = field(default_factory=dict)
    # Rows to link to the audit event once it has an id: (object, attribute name).
    link: list[tuple[Any, str]] = field(default_factory=list)
    # False: an update nobody needs to hear of (e.g. "in progress").
    notify: bool = True
    # Roles to notify instead of the activity's `notify` (decided by the case, e.g. a
    # reminder goes to whoever must act in the current state).
    notify_roles: tuple[str, ...] | None = None


Handler = Callable[[ActivityContext], ActivityResult]
ACTIVITIES: dict[str, Handler] = {}


def activity(name: str):
    def register(fn: Handler) -> Handler:
        ACTIVITIES[name] = fn
        return fn

    return register


def registered_activities() -> set[str]:
    for module in HANDLER_MODULES:
        importlib.import_module(module)
    return set(ACTIVITIES)
