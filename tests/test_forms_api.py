"""API v1 of data forms: read with completeness, save (If-Match / version; 422 per field,
409 stale, 403 not an editor, 404 not one's case), history."""

from __future__ import annotations

import pytest

from tests.test_api import bearer
from tests.test_forms import DIRS, stored, survey_world
from workflow.services import forms as F

URL = "/api/v1/cases/{}/forms/survey"


@pytest.fixture
def app(make_app):
    app = make_app(DEFINITIONS_DIR=DIRS)
    with app.app_context():
        yield app


def put(client, case, user, data, *, version=None, if_match=None):
    headers = {**bearer(user), "Accept-Language": "en"}
    if if_match is not None:
        headers["If-Match"] = if_match
    body = {"data": data} if version is None else {"data": data, "version": version}
    return client.put(URL.format(case.id), json=body, headers=headers)


def test_get_reports_spec_data_version_and_completeness(app, client):
    w = survey_world()
    F.save(w.case, "survey", {"population": "1.250", "households": "2000"}, w.enumerator, 0)
    response = client.get(URL.format(w.case.id) + "?lang=en", headers=bearer(w.supervisor))
    assert response.status_code == 200
    body = response.json
    assert response.headers["ETag"] == '"1"'
    assert body["version"] == 1 and body["editable"] is False
    assert body["data"] == {"population": 1250, "households": 2000}
    assert body["form"]["sections"][0]["fields"][0]["unit"] == "people"
    problems = body["completeness"]["problems"]
    assert problems["households"] == "Households cannot exceed the population."
    assert problems["head_name"] == "Village head is not filled in yet."
    assert body["completeness"]["complete"] is False
    assert (body["completeness"]["filled"], body["completeness"]["required"]) == (2, 6)


def test_put_saves_with_the_version_and_refuses_stale_and_invalid(app, client):
    w = survey_world()
    response = put(
        client, w.case, w.enumerator, {"population": 1250, "kind": "desa"}, if_match='"0"'
    )
    assert response.status_code == 200, response.json
    assert response.json["version"] == 1 and response.json["editable"] is True
    before = stored(w.case)
    # Stale: 409, nothing written.
    response = put(client, w.case, w.enumerator, {"population": 1300}, version=0)
    assert response.status_code == 409
    assert stored(w.case) == before
    # One bad field refuses the whole save: 422 with a message per path.
    response = put(
        client,
        w.case,
        w.enumerator,
        {"population": 1300, "facilities": [{"name": "SD", "built": 1850}]},
        version=1,
    )
    assert response.status_code == 422
    assert response.json["fields"] == {
        "facilities[0].built": "Public facilities, row 1: Year built must be between 1900 and 2100."
    }
    assert stored(w.case) == before
    # Without a version: 400.
    assert put(client, w.case, w.enumerator, {"population": 1}).status_code == 400
    response = client.put(URL.format(w.case.id), json={"data": []}, headers=bearer(w.enumerator))
    assert response.status_code == 400


def test_put_refused_for_a_reader_a_stranger_and_an_unknown_form(app, client):
    w = survey_world()
    assert put(client, w.case, w.supervisor, {"population": 1}, version=0).status_code == 403
    assert put(client, w.case, w.other_enumerator, {"population": 1}, version=0).status_code == 404
    response = client.get(f"/api/v1/cases/{w.case.id}/forms/nope", headers=bearer(w.enumerator))
    assert response.status_code == 404
    w.case.state = "review"
    from workflow.extensions import db

    db.session.commit()
    assert put(client, w.case, w.enumerator, {"population": 1}, version=0).status_code == 409
    assert stored(w.case) is None


def test_history(app, client):
    w = survey_world()
    F.save(w.case, "survey", {"population": "100"}, w.enumerator, 0)
    response = client.get(URL.format(w.case.id) + "/history", headers=bearer(w.supervisor))
    assert response.status_code == 200
    (item,) = response.json["items"]
    assert item["number"] == 1 and item["changed"] == ["population"]
    assert item["created_by"] == {"id": w.enumerator.id, "name": "Pencacah 1"}
    assert item["data"] == {"population": 100}
    other = client.get(URL.format(w.case.id) + "/history", headers=bearer(w.other_enumerator))
    assert other.status_code == 404
