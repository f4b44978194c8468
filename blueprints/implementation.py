"""Implementation phase pages: milestone progress, coverage, evidence, verification."""

from flask import Blueprint

bp = Blueprint("implementation", __name__, url_prefix="/cases/<int:case_id>")
