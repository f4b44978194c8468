"""API v1 of near-duplicate detection: a case's similar change actions (scoped to who may
see the case) and a cohort's clusters (its organizers)."""

from __future__ import annotations

import pytest

import blueprints.api_similarity  # noqa: F401  (registers the routes until api.py imports it)
from tests import factories
from tests.test_similarity import ADMINDUK, ADMINDUK_REWORDED, PBB, new_case, write
from workflow.extensions import db
from workflow.services import perform
from workflow.services import similarity as S


@pytest.fixture
def app(make_app):
    """The real model, whatever the suite's default (a suite may turn it off to save the
    ~0.1 s each submission costs elsewhere)."""
    app = make_app(AKSI_EMBEDDING_MODEL="auto")
    with app.app_context():
        yield app


@pytest.fixture
def scene(world):
    write(world.case, ADMINDUK)
    perform(world.case, "submit", world.trainee)
    world.twin = new_case(world, ADMINDUK_REWORDED)
    world.other = new_case(world, PBB)
    world.tokens = {
        who: world.by_role(who).issue_api_token()
        for who in ("trainee", "mentor", "coach", "organizer", "stranger")
    }
    db.session.commit()
    return world


def get(client, scene, who: str, path: str):
    return client.get(
        "/api/v1" + path,
        headers={"Authorization": f"Bearer {scene.tokens[who]}", "Accept-Language": "en"},
    )


@pytest.mark.parametrize("who", ["mentor", "coach", "organizer"])
def test_the_reviewers_get_the_similar_change_actions_of_the_submission(client, scene, who):
    response = get(client, scene, who, f"/cases/{scene.case.id}/similar")
    assert response.status_code == 200
    body = response.json
    assert (body["basis"], body["engine"], body["compared_by"]) == (
        "submitted",
        "model",
        "meaning",
    )
    assert body["duplicate_threshold"] == S.DUPLICATE[S.MODEL_ID]
    (item,) = [i for i in body["items"] if i["case_id"] == scene.twin.id]
    assert item["duplicate"] is True and item["score"] >= S.DUPLICATE[S.MODEL_ID]
    assert item["title"] == ADMINDUK_REWORDED[0]
    assert item["cohort"] == {"id": scene.cohort.id, "name": scene.cohort.name}
    assert item["url"].endswith(f"/{scene.twin.id}")
    assert scene.other.id not in {i["case_id"] for i in body["items"]}


def test_the_stranger_gets_404_and_no_token_401(client, scene):
    assert get(client, scene, "stranger", f"/cases/{scene.case.id}/similar").status_code == 404
    assert client.get(f"/api/v1/cases/{scene.case.id}/similar").status_code == 401


def test_limit_is_checked(client, scene):
    path = f"/cases/{scene.case.id}/similar"
    assert get(client, scene, "mentor", path + "?limit=0").status_code == 400
    assert get(client, scene, "mentor", path + f"?limit={S.MAX_TOP_K + 1}").status_code == 400
    assert get(client, scene, "mentor", path + "?limit=1").json["items"][0]["case_id"] == (
        scene.twin.id
    )


def test_the_trainee_revising_compares_the_draft(client, scene):
    perform(scene.case, "request_revision", scene.mentor, comment="Perbaiki.")
    write(scene.case, PBB)
    body = get(client, scene, "trainee", f"/cases/{scene.case.id}/similar").json
    assert body["basis"] == "draft"
    assert [i["case_id"] for i in body["items"]] == [scene.other.id]
    # The mentor still compares the last submission.
    body = get(client, scene, "mentor", f"/cases/{scene.case.id}/similar").json
    assert body["basis"] == "submitted" and body["items"][0]["case_id"] == scene.twin.id


def test_the_organizer_gets_the_cohorts_clusters_and_others_404(client, scene):
    body = get(client, scene, "organizer", f"/cohorts/{scene.cohort.id}/similar").json
    assert (body["compared"], body["submitted"], body["engine"]) == (3, 3, "model")
    (cluster,) = body["clusters"]
    assert {m["case_id"] for m in cluster["members"]} == {scene.case.id, scene.twin.id}
    assert cluster["pairs"][0]["score"] >= S.DUPLICATE[S.MODEL_ID]
    for who in ("trainee", "mentor", "coach", "stranger"):
        response = get(client, scene, who, f"/cohorts/{scene.cohort.id}/similar")
        assert response.status_code == 404, who


def test_the_fallback_is_said_in_the_answer(make_app, tmp_path):
    app = make_app(AKSI_EMBEDDING_MODEL=str(tmp_path / "nowhere.bin"))
    with app.app_context():
        world = factories.World()
        write(world.case, ADMINDUK)
        perform(world.case, "submit", world.trainee)
        twin_id = new_case(world, ADMINDUK).id
        token = world.mentor.issue_api_token()
        db.session.commit()
        body = (
            app.test_client()
            .get(
                f"/api/v1/cases/{world.case.id}/similar",
                headers={"Authorization": f"Bearer {token}"},
            )
            .json
        )
    assert (body["engine"], body["reason"], body["compared_by"]) == (
        "lexical",
        "missing",
        "wording",
    )
    assert [i["case_id"] for i in body["items"]] == [twin_id]
