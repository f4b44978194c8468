"""The data form pages: autosave (htmx) and the plain POST, errors beside their boxes with
what was typed kept, conflicts, refusals, rows, read-only view, history, the case page's
partials, and the export (contents and a query count that does not grow)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from flask import render_template_string
from flask_login import login_user
from openpyxl import load_workbook

from tests.test_forms import COMPLETE, DIRS, stored, survey_world
from tests.test_http_helpers import check_markup, login, page_token
from tests.test_http_home import counting_statements
from workflow.extensions import db
from workflow.services import forms as F
from workflow.services import perform

URL = "/cases/{}/forms/survey"


@pytest.fixture
def app(make_app):
    app = make_app(DEFINITIONS_DIR=DIRS)
    with app.app_context():
        yield app


def as_user(client, user):
    """Log in (out of whoever was) in English."""
    login(client, user)
    with client.session_transaction() as session:
        session["lang"] = "en"
    return client


def post(client, case, data: dict, *, htmx=True, version=None):
    token = page_token(client, URL.format(case.id))
    if version is None:
        db.session.expire_all()
        version = F.version_of(F.entry_of(case, "survey"))
    form = {"version": str(version), **data}
    headers = {"HX-Request": "true", "X-CSRFToken": token} if htmx else {}
    if not htmx:
        form["csrf_token"] = token
    return client.post(URL.format(case.id), data=form, headers=headers)


def slot(html: str, did: str) -> str:
    match = re.search(rf'<div id="m-{re.escape(did)}".*?</div>', html, re.S)
    assert match, f"no message slot for {did}"
    return match.group(0)


def test_the_form_renders_by_section_with_units_help_and_rows(app, client):
    w = survey_world()
    as_user(client, w.enumerator)
    html = client.get(URL.format(w.case.id)).get_data(as_text=True)
    check_markup(html)
    assert '<form id="data-form"' in html and 'hx-post="/cases/' in html
    assert 'name="d-population"' in html and '<span class="unit">people</span>' in html
    assert 'type="radio"' in html and 'type="date"' in html and "<select" in html
    assert "Full name without titles." in html
    assert (
        'name="rows-facilities" value="0"' in html and 'name="add_row" value="facilities"' in html
    )
    assert 'aria-describedby="h-head_name m-head_name"' in html


def test_autosave_stores_valid_and_shows_the_error_beside_the_bad_box(app, client):
    w = survey_world()
    as_user(client, w.enumerator)
    response = post(client, w.case, {"d-population": "banyak", "d-head_name": "Budi"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Saved" in html
    assert "Population must be a number." in slot(html, "population")
    assert 'hx-swap-oob="true"' in slot(html, "population")
    assert "field-error" not in slot(html, "head_name")
    assert 'id="form-version" name="version" value="1"' in html
    assert "1 box needs fixing" in html
    assert stored(w.case)[0] == {"head_name": "Budi"}


def test_without_javascript_the_typed_value_comes_back_beside_its_error(app, client):
    w = survey_world()
    as_user(client, w.enumerator)
    response = post(client, w.case, {"d-population": "12,5", "d-kind": "desa"}, htmx=False)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    check_markup(html)
    box = re.search(r'<input[^>]*name="d-population"[^>]*>', html).group(0)
    assert 'value="12,5"' in box and 'aria-invalid="true"' in box
    assert 'aria-describedby="m-population"' in box
    assert "Population must be a whole number." in slot(html, "population")
    assert stored(w.case)[0] == {"kind": "desa"}
    # All valid: saved, and back to the form (PRG).
    response = post(client, w.case, {"d-population": "1.250"}, htmx=False)
    assert response.status_code == 302
    assert stored(w.case)[0] == {"kind": "desa", "population": 1250}


def test_a_stale_version_is_a_conflict_and_writes_nothing(app, client):
    w = survey_world()
    as_user(client, w.enumerator)
    post(client, w.case, {"d-population": "100"})
    before = stored(w.case)
    response = post(client, w.case, {"d-population": "200"}, version=0)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "changed in another tab" in html and "Reload" in html
    assert response.headers["HX-Retarget"] == "#form-status"
    assert stored(w.case) == before
    response = post(client, w.case, {"d-population": "200"}, version=0, htmx=False)
    assert response.status_code == 409
    assert 'value="200"' in response.get_data(as_text=True)
    assert stored(w.case) == before


def test_another_units_case_is_404_and_the_supervisor_reads_only(app, client):
    w = survey_world()
    as_user(client, w.other_enumerator)
    assert client.get(URL.format(w.case.id)).status_code == 404
    token = page_token(client, "/")
    response = client.post(
        URL.format(w.case.id), data={"version": "0", "d-population": "5", "csrf_token": token}
    )
    assert response.status_code == 404
    assert client.get(URL.format(w.case.id) + "/history").status_code == 404
    assert client.get(URL.format(w.other.id).replace("survey", "nope")).status_code == 404
    as_user(client, w.supervisor)
    html = client.get(URL.format(w.case.id)).get_data(as_text=True)
    assert '<form id="data-form"' not in html and "cannot be edited by you" in html
    response = post(client, w.case, {"d-population": "5"})
    assert response.status_code == 403
    assert stored(w.case) is None


def test_rows_are_added_and_removed_with_and_without_javascript(app, client):
    w = survey_world()
    as_user(client, w.enumerator)
    response = post(client, w.case, {"rows-facilities": "0", "add_row": "facilities"}, htmx=False)
    assert response.status_code == 200
    assert 'name="d-facilities-0-name"' in response.get_data(as_text=True)
    rows = {
        "rows-facilities": "2",
        "d-facilities-0-name": "SD 1",
        "d-facilities-0-built": "1985",
        "d-facilities-1-name": "Pustu",
        "d-facilities-1-built": "1850",
    }
    response = post(client, w.case, {**rows, "add_row": "facilities"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.strip().startswith('<div class="form-rows" id="rows-facilities">')
    assert 'name="rows-facilities" value="3"' in html and 'value="1850"' in html
    assert "Year built must be between 1900 and 2100." in slot(html, "facilities-1-built")
    assert stored(w.case) is None  # a bad cell keeps the whole table as it was
    response = post(client, w.case, {**rows, "remove_row": "facilities-1"})
    assert response.status_code == 200
    assert stored(w.case)[0] == {"facilities": [{"name": "SD 1", "built": 1985}]}
    assert 'name="rows-facilities" value="1"' in response.get_data(as_text=True)


def test_reasons_show_beside_their_fields_and_in_the_case_summary(app, client):
    w = survey_world()
    F.save(w.case, "survey", COMPLETE, w.enumerator, 0)
    perform(w.case, "submit", w.enumerator, expected_version=w.case.version)
    perform(
        w.case,
        "return_survey",
        w.supervisor,
        data={"reasons": {"households": "Tidak sesuai data BPS"}},
        expected_version=w.case.version,
    )
    as_user(client, w.enumerator)
    html = client.get(URL.format(w.case.id)).get_data(as_text=True)
    assert "Returned for fixing" in html
    assert "Tidak sesuai data BPS" in slot(html, "households")
    with app.test_request_context():
        login_user(w.enumerator)
        summary = render_template_string('{% include "forms/_summary.html" %}', case=w.case)
        assert "6 of 6 required filled" in summary or "6 dari 6" in summary
        assert "Tidak sesuai data BPS" in summary and URL.format(w.case.id) in summary
        login_user(w.supervisor)
        fields = render_template_string(
            '{% include "forms/_reasons_fields.html" %}',
            case=w.case,
            trigger="submit",
            error={
                "trigger": "submit",
                "field_errors": {"reasons.kind": "Unknown field."},
                "typed": {"reasons-kind": "typed"},
            },
        )
        assert fields.strip() == ""  # submit has no form_reasons
    # Changing the field clears its reason.
    response = post(client, w.case, {"d-households": "301"})
    assert "Tidak sesuai data BPS" not in slot(response.get_data(as_text=True), "households")
    assert stored(w.case)[1] == {}


def test_reason_fields_for_a_return(app):
    w = survey_world(state="review")
    with app.test_request_context():
        login_user(w.supervisor)
        html = render_template_string(
            '{% include "forms/_reasons_fields.html" %}',
            case=w.case,
            trigger="return_survey",
            error={
                "trigger": "return_survey",
                "field_errors": {"reasons.kind": "Too long"},
                "typed": {"reasons-kind": "ketik"},
            },
        )
    check_markup(html)
    assert 'name="reasons-population"' in html and 'name="reasons-facilities"' in html
    assert re.search(r'<details class="form-reason" open>\s*<summary>(Jenis|Kind)', html)
    assert ">ketik</textarea>" in html and "Too long" in html


def test_history_lists_who_changed_what(app, client):
    w = survey_world()
    F.save(w.case, "survey", {"population": "100"}, w.enumerator, 0)
    as_user(client, w.supervisor)
    html = client.get(URL.format(w.case.id) + "/history").get_data(as_text=True)
    check_markup(html)
    assert "Pencacah 1" in html and "Population" in html


def _export(client, fmt, **args):
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return client.get(f"/forms/forms_survey/survey/export.{fmt}?{query}")


def test_export_has_a_row_per_visible_case_and_inert_formulas(app, client):
    w = survey_world()
    F.save(w.case, "survey", {**COMPLETE, "head_name": "=SUM(A1)"}, w.enumerator, 0)
    as_user(client, w.supervisor)
    response = _export(client, "csv", campaign=w.campaign.id)
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:4] == ["Unit code", "Unit", "State", "Population (people)"]
    assert [r[0] for r in rows[1:]] == ["18.04.11.2001", "18.04.11.2002"]
    head = rows[0].index("Village head")
    assert rows[1][head] == "'=SUM(A1)" and rows[1][3] == "1250"
    assert rows[1][rows[0].index("Has an office")] == "Yes"
    assert "SDN 1 Sukau" in rows[1][rows[0].index("Public facilities")]
    book = load_workbook(io.BytesIO(_export(client, "xlsx").data))
    main, facilities = book.worksheets
    assert main.cell(2, 4).value == 1250 and main.cell(2, head + 1).value == "=SUM(A1)"
    assert main.cell(2, head + 1).data_type == "s"
    assert [c.value for c in facilities[2]][:4] == ["18.04.11.2001", "Pekon 1", 1, "SDN 1 Sukau"]
    # The other unit's enumerator sees only their own unit.
    as_user(client, w.other_enumerator)
    rows = list(csv.reader(io.StringIO(_export(client, "csv").get_data(as_text=True))))
    assert len(rows) == 2 and rows[1][0] == "18.04.11.2002"
    assert client.get("/forms/forms_survey/nope/export.csv").status_code == 404
    assert client.get("/forms/nope/survey/export.csv").status_code == 404


def test_export_queries_do_not_grow_with_cases(app, client):
    w = survey_world(villages=2)
    as_user(client, w.supervisor)
    db.session.expire_all()
    with counting_statements() as few:
        assert _export(client, "xlsx").status_code == 200
    from workflow.models import Case, CaseAssignment, Region

    for i in range(8):
        village = Region(level="village", name=f"Pekon x{i}", code=f"18.04.11.{2100 + i}")
        case = Case(
            campaign=w.campaign,
            region=village,
            region_code=village.code,
            definition_key="forms_survey",
            definition_version=1,
            state="filling",
        )
        db.session.add_all([village, case])
        db.session.flush()
        db.session.add(CaseAssignment(case_id=case.id, role="survey_supervisor", user=w.supervisor))
        F.entries_of(case)
    db.session.commit()
    db.session.expire_all()
    with counting_statements() as many:
        response = _export(client, "xlsx")
    assert response.status_code == 200
    assert len(load_workbook(io.BytesIO(response.data)).worksheets[0]["A"]) == 11
    assert len(many) == len(few)
