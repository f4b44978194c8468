"""API v1: milestones, progress reports, evidence, verification and the final report."""

from .api import bp  # noqa: F401  (routes register on the API blueprint)

PATHS: dict = {}
SCHEMAS: dict = {}
