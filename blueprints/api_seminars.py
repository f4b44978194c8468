"""Seminars in the API (filled by the seminars work)."""

from __future__ import annotations

PATHS: dict = {}
SCHEMAS: dict = {}
