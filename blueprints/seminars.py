"""seminars pages (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("seminars", __name__)
