"""(being written) API v1: forms. Routes attach to blueprints.api.bp; PATHS/SCHEMAS below."""

from __future__ import annotations

PATHS: dict = {}
SCHEMAS: dict = {}
