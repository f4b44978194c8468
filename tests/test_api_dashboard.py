"""API v1 dashboards: counts of everything overseen, one cohort's funnel and time in state,
and its trainee table with the web page's filters, sort and pages; 400 on bad parameters."""

from __future__ import annotations

import pytest

from tests.test_dashboard import NOW, _visits, build_scene, bulk_cases
from workflow.extensions import db

pytestmark = pytest.mark.usefixtures("frozen")


@pytest.fixture
def frozen():
    import time_machine

    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def scene(world, frozen):
    scene = build_scene(world)
    scene.tokens = {who: user.issue_api_token() for who, user in scene.users.items()}
    db.session.commit()
    return scene


def get(client, scene, who: str, path: str):
    return client.get(
        "/api/v1" + path,
        headers={"Authorization": f"Bearer {scene.tokens[who]}", "Accept-Language": "en"},
    )


def test_dashboard_counts(client, scene):
    body = get(client, scene, "admin", "/dashboard").json
    assert [s["key"] for s in body["states"]][:2] == ["draft", "mentor_review"]
    funnel = body["funnel"]
    assert (funnel["total"], funnel["overdue"], funnel["finished"], funnel["passed"]) == (
        6,
        3,
        1,
        1,
    )
    draft = next(s for s in funnel["states"] if s["state"] == "draft")
    assert draft == {"state": "draft", "label": "Drafting the proposal", "count": 2, "overdue": 2}
    cohorts = body["cohorts"]
    assert (cohorts["total"], cohorts["pages"], cohorts["page"]) == (2, 1, 1)
    assert [c["name"] for c in cohorts["items"]] == ["Angkatan I PKA 2026", "Angkatan II PKA 2026"]
    a = cohorts["items"][1]
    assert (a["total"], a["overdue"], a["states"]["implementation"], a["year"]) == (5, 2, 1, 2026)
    provinces = {p["name"]: p for p in body["provinces"]}
    assert provinces["Kalimantan Timur"]["total"] == 3
    assert provinces[""]["id"] is None and provinces[""]["total"] == 2


def test_who_oversees_nothing_gets_empty_counts(client, scene):
    response = get(client, scene, "trainee", "/dashboard")
    assert response.status_code == 200
    body = response.json
    assert body["funnel"]["total"] == 0 and body["cohorts"]["items"] == [] and not body["provinces"]


def test_cohort_dashboard(client, scene):
    _visits(scene)
    cohort = scene.world.cohort.id
    body = get(client, scene, "organizer", f"/cohorts/{cohort}/dashboard").json
    assert body["cohort"] == {"id": cohort, "name": "Angkatan II PKA 2026", "year": 2026}
    assert body["funnel"]["total"] == 5
    draft = body["time_in_state"][0]
    assert (draft["state"], draft["visits"], draft["median"]) == ("draft", 4, 4.0)
    assert draft["p90"] == pytest.approx(7.1)
    coach = get(client, scene, "coach", f"/cohorts/{cohort}/dashboard").json
    assert coach["funnel"]["total"] == 3


@pytest.mark.parametrize("who", ["trainee", "stranger", "organizer_b", "admin_c"])
def test_a_cohort_not_overseen_is_404(client, scene, who):
    cohort = scene.world.cohort.id
    for path in (f"/cohorts/{cohort}/dashboard", f"/cohorts/{cohort}/trainees"):
        response = get(client, scene, who, path)
        assert response.status_code == 404 and response.json["message"]


def test_trainee_table(client, scene):
    cohort = scene.world.cohort.id
    body = get(client, scene, "organizer", f"/cohorts/{cohort}/trainees?sort=due&dir=desc").json
    assert (body["total"], body["pages"], body["sort"], body["dir"]) == (5, 1, "due", "desc")
    assert [r["case_id"] for r in body["items"]] == scene.ids("ani", "budi", "citra", "eko", "dedi")
    budi = body["items"][1]
    assert budi["trainee"]["name"] == "budi santoso"
    assert budi["region"] is None and budi["province"]["name"] == "Kalimantan Timur"
    assert (budi["state"], budi["state_label"], budi["overdue"]) == (
        "mentor_review",
        "Awaiting mentor approval",
        True,
    )
    assert (budi["days_in_state"], budi["due_date"]) == (6, "2026-04-10")
    ani = body["items"][0]
    assert ani["milestones"] == {"closed": 1, "total": 2} and ani["group"]["name"] == "Kelompok 1"
    citra = body["items"][2]
    assert (citra["final_score"], citra["predicate"], citra["days_in_state"]) == (
        85.5,
        "Memuaskan",
        None,
    )
    filtered = get(client, scene, "organizer", f"/cohorts/{cohort}/trainees?overdue=yes&q=o").json
    assert sorted(r["case_id"] for r in filtered["items"]) == sorted(scene.ids("eko", "budi"))


def test_trainee_table_pages(client, scene):
    cohort = scene.world.cohort
    bulk_cases(cohort, 50)
    path = f"/cohorts/{cohort.id}/trainees?per_page=50&page="
    first = get(client, scene, "organizer", path + "1").json
    last = get(client, scene, "organizer", path + "7").json  # past the end: the last page
    assert (first["total"], first["pages"], len(first["items"])) == (55, 2, 50)
    assert (last["page"], len(last["items"])) == (2, 5)
    ids = [r["case_id"] for r in first["items"] + last["items"]]
    assert len(set(ids)) == 55


@pytest.mark.parametrize(
    "query, fields",
    [
        ("sort=password", {"sort"}),
        ("sort=cohort", {"sort"}),  # one cohort's table: no cohort column
        ("dir=up&per_page=30", {"dir", "per_page"}),
        ("state=nowhere&group=abc", {"state", "group"}),
        ("page=0&overdue=maybe", {"page", "overdue"}),
        ("q=" + "x" * 201, {"q"}),
    ],
)
def test_bad_parameters_are_400(client, scene, query, fields):
    cohort = scene.world.cohort.id
    response = get(client, scene, "organizer", f"/cohorts/{cohort}/trainees?{query}")
    assert response.status_code == 400
    assert response.json["message"] and set(response.json["fields"]) == fields


def test_bad_cohort_page_is_400(client, scene):
    response = get(client, scene, "admin", "/dashboard?per_page=0")
    assert response.status_code == 400 and "per_page" in response.json["message"]


def test_dashboard_needs_a_token(client, scene):
    response = client.get("/api/v1/dashboard")
    assert response.status_code == 401 and response.json["message"]


def test_openapi_documents_the_dashboard(client):
    doc = client.get("/api/v1/openapi.json").json
    for path in (
        "/api/v1/dashboard",
        "/api/v1/cohorts/{cohort_id}/dashboard",
        "/api/v1/cohorts/{cohort_id}/trainees",
    ):
        assert "get" in doc["paths"][path]
    names = {
        p["name"]
        for p in doc["paths"]["/api/v1/cohorts/{cohort_id}/trainees"]["get"]["parameters"]
        if "name" in p
    }
    assert {
        "state",
        "group",
        "agency",
        "region",
        "province",
        "overdue",
        "q",
        "sort",
        "dir",
        "page",
        "per_page",
    } <= names
