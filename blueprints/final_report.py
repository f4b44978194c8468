"""The final report (laporan aksi perubahan): editor and read view."""

from flask import Blueprint

bp = Blueprint("final_report", __name__, url_prefix="/cases/<int:case_id>/report")
