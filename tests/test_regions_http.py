"""Official regions over HTTP: the API (search, one unit, 404 for an unknown code), the
picker's htmx options, the picker macro and the region tree page."""

from __future__ import annotations

import pytest
from flask import render_template_string

from tests.factories import create_user
from tests.test_api import bearer
from tests.test_http_helpers import check_markup, login, page_token
from tests.test_regions import DATA
from workflow.extensions import db


@pytest.fixture
def regions(runner):
    result = runner.invoke(args=["aksi", "regions", "load", "--source", str(DATA)])
    assert result.exit_code == 0, result.output


@pytest.fixture
def user(app):
    person = create_user()
    db.session.commit()
    return person


def as_english(client, user):
    login(client, user)
    token = page_token(client, "/")
    response = client.post("/lang", data={"lang": "en", "next": "/", "csrf_token": token})
    assert response.status_code == 302


# ---------------------------------------------------------------- API


def test_api_search_and_detail(client, regions, user):
    headers = bearer(user)
    found = client.get("/api/v1/regions?q=suk", headers=headers)
    assert found.status_code == 200
    (sukau,) = found.json["items"]
    assert sukau["code"] == "18.04.11" and sukau["level"] == "district"
    assert sukau["label"] == "Sukau — Kabupaten Lampung Barat, Lampung"
    assert sukau["parent_code"] == "18.04"
    assert [a["code"] for a in sukau["ancestors"]] == ["18.04", "18"]
    villages = client.get(
        "/api/v1/regions?q=a&level=village&within=18.04.11&limit=2", headers=headers
    ).json["items"]
    assert [v["code"] for v in villages] == ["18.04.11.2003", "18.04.11.2002"]
    assert {v["kind"] for v in villages} == {"desa"}
    detail = client.get("/api/v1/regions/18.04", headers=headers)
    assert detail.status_code == 200
    assert detail.json["kind"] == "kabupaten" and detail.json["ancestors"][0]["name"] == "Lampung"
    assert [(c["code"], c["children"]) for c in detail.json["children"]] == [
        ("18.04.06", 1),
        ("18.04.11", 3),
    ]


REFUSALS = [
    ("/api/v1/regions/99.99", 404, "99.99"),
    ("/api/v1/regions/99.99?lang=en", 404, "There is no region with the code 99.99."),
    ("/api/v1/regions?within=77&lang=en", 404, "There is no region with the code 77."),
    ("/api/v1/regions?level=town&lang=en", 400, "level must be one of"),
    ("/api/v1/regions?limit=0&lang=en", 400, "limit must be a whole number"),
    ("/api/v1/regions?q=%00&lang=en", 400, "NUL"),
    ("/api/v1/regions/" + "1" * 30 + "?lang=en", 404, "There is no region with the code"),
]


def test_api_refusals_are_clear(client, regions, user):
    headers = bearer(user)
    for path, status, message in REFUSALS:
        response = client.get(path, headers=headers)
        assert response.status_code == status, path
        assert message in response.json["message"], path


def test_api_needs_a_token(client, regions):
    assert client.get("/api/v1/regions?q=suk").status_code == 401
    assert client.get("/api/v1/regions/18").status_code == 401


# ---------------------------------------------------------------- picker and tree


def test_picker_options_and_tree_page(client, regions, user):
    assert client.get("/regions/picker?q=suk").status_code == 302  # sign in first
    assert client.get("/regions/18.04").status_code == 302
    as_english(client, user)
    options = client.get(
        "/regions/picker?q=a&level=village&within=18.04.11&name=unit",
        headers={"HX-Request": "true"},
    )
    html = options.get_data(as_text=True)
    assert options.status_code == 200
    assert 'data-code="18.04.11.2001"' in html and 'data-code="18.04.06.2001"' not in html
    assert 'data-label="Tanjung Raya — Sukau, Kabupaten Lampung Barat, Lampung"' in html
    assert "<script" not in html
    # The search box's own name works as q; a miss and an unknown `within` say so.
    own = client.get("/regions/picker?name=unit&unit__search=kedaton&level=district")
    assert 'data-code="18.71.01"' in own.get_data(as_text=True)
    miss = client.get("/regions/picker?q=zzz").get_data(as_text=True)
    assert "zzz" in miss and "data-code" not in miss
    unknown = client.get("/regions/picker?q=a&within=77").get_data(as_text=True)
    assert "77" in unknown and "data-code" not in unknown
    for bad in ("name=%3Cx%3E", "level=town"):
        assert client.get(f"/regions/picker?q=a&{bad}").status_code == 400

    page = client.get("/regions/18.04")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    check_markup(html)
    assert "Kabupaten Lampung Barat" in html and 'href="/regions/18"' in html
    assert 'href="/regions/18.04.11"' in html and "3 villages" in html
    village = client.get("/regions/18.71.01.1003").get_data(as_text=True)
    assert "Kelurahan" in village and 'href="/regions/18.71.01"' in village
    missing = client.get("/regions/99.99")
    assert missing.status_code == 404
    assert "99.99" in missing.get_data(as_text=True)
    index = client.get("/regions").get_data(as_text=True)
    assert 'href="/regions/64"' in index and 'href="/regions/18"' in index
    search = client.get("/regions?q=sukau").get_data(as_text=True)
    assert 'href="/regions/18.04.11"' in search and 'href="/regions/64"' not in search


def test_picker_macro_renders_a_searchable_box_and_a_code_box(app, regions, user):
    template = (
        '{% from "regions/_picker.html" import region_picker %}'
        "{{ region_picker('unit', value, level='district', within=within, label='Kecamatan',"
        " error=error) }}"
    )
    from workflow.services import regions as svc

    with app.test_request_context("/"):
        html = render_template_string(
            template, value=svc.get_by_code("18.04.11"), within="18.04", error="Wajib diisi."
        )
    assert 'name="unit" value="18.04.11"' in html
    assert 'value="Sukau — Kabupaten Lampung Barat, Lampung"' in html
    assert 'hx-get="/regions/picker"' in html and 'hx-trigger="input changed delay:300ms' in html
    assert "&#34;within&#34;: &#34;18.04&#34;" in html or '"within": "18.04"' in html
    assert 'aria-invalid="true"' in html and "Wajib diisi." in html
    assert 'src="/static/js/regions.js"' in html
    with app.test_request_context("/"):
        plain = render_template_string(template, value="18.04.06", within=None, error=None)
    assert 'name="unit" value="18.04.06"' in plain and "aria-invalid" not in plain


def test_regions_page_without_data(client, user):
    as_english(client, user)
    html = client.get("/regions").get_data(as_text=True)
    assert "flask aksi regions load" in html


# ---------------------------------------------------------------- coverage milestone units


def test_units_of_a_regency_or_kecamatan_fill_a_milestone(client, regions, user):
    as_english(client, user)
    regency = client.get("/regions/units?code=18.04")
    assert regency.status_code == 200
    assert regency.json["units"] == ["Belalau", "Sukau"]
    assert regency.json["level"] == "district"
    assert regency.json["message"] == "The 2 districts (kecamatan) of Kabupaten Lampung Barat."
    district = client.get("/regions/units?code=18.04.11").json
    assert district["units"] == ["Tanjung Raya", "Hanakau", "Buay Nyerupa"]
    refused = [
        ("", 400, "Pick a regency or a kecamatan first."),
        ("99.99", 404, "There is no region with the code 99.99."),
        ("18.04.11.2001", 422, "Pick a regency (for its kecamatan)"),
    ]
    for code, status, message in refused:
        response = client.get(f"/regions/units?code={code}")
        assert (response.status_code, response.json["message"][: len(message)]) == (
            status,
            message,
        ), code


def test_the_proposal_editor_offers_the_region_table_for_units(client, world):
    login(client, world.trainee)
    html = client.get(f"/cases/{world.case.id}/proposal/edit").get_data(as_text=True)
    check_markup(html)
    assert "data-units-fill hidden" in html
    assert 'data-units-target="r-milestones-new-units"' in html
    # Detached from the row form: picking a region is not saved as part of the milestone.
    assert 'name="r-milestones-new-units-area" value="" inputmode="decimal"' in html
    assert 'form="units-fill-detached"' in html
