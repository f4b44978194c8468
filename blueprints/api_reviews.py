"""API routes of this capability; they attach to blueprints.api.bp."""

PATHS: dict = {}
SCHEMAS: dict = {}
