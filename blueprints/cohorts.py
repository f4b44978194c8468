"""(being written)"""

from flask import Blueprint

bp = Blueprint("cohorts", __name__)
