"""(being written)"""

from flask import Blueprint

bp = Blueprint("evaluation", __name__)
