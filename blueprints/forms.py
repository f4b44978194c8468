"""(being written) forms pages."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("forms", __name__)
