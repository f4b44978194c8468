"""(being written) regions pages."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("regions", __name__)
