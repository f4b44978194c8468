"""API v1 of the assessment: the rubric and visible sheets, draft saves with the sheet's
version, submission, the result, and every refusal in the API's JSON error shape writing
nothing."""

from __future__ import annotations

import pytest

from tests.factories import score_case
from tests.test_api import bearer
from tests.test_evaluation import COACH, EXAMINER, counts, to_evaluation
from workflow.services import evaluation as E
from workflow.services import perform


@pytest.fixture
def evaluating(world):
    to_evaluation(world)
    return world


def url(case, tail="") -> str:
    return f"/api/v1/cases/{case.id}/evaluation{tail}"


def test_the_evaluation_of_an_examiner(client, evaluating):
    world = evaluating
    m = world.case.milestones[0]
    body = client.get(url(world.case) + "?lang=en", headers=bearer(world.examiner)).json
    assert (body["case_id"], body["state"], body["open"]) == (world.case.id, "evaluation", True)
    rubric = body["rubric"]
    assert rubric["key"] == "pka" and rubric["pass_mark"] == 70
    assert rubric["weights"] == {"examiner": 50, "coach": 30, "mentor": 20}
    assert [a["key"] for a in rubric["aspects"] if a["role"] == "examiner"] == list(EXAMINER)
    assert [r["key"] for r in rubric["ratings"]] == ["kurang", "sesuai", "melampaui"]
    assert [x["id"] for x in body["milestones"]] == [m.id]
    (mine,) = body["my_roles"]
    assert (mine["role"], mine["acting_for"], mine["can_edit"]) == ("examiner", None, True)
    assert mine["sheet"]["status"] == "not_started" and mine["sheet"]["version"] == 0
    assert [s["aspect"] for s in mine["sheet"]["scores"]] == list(EXAMINER)
    assert body["sheets"] == [] and "result" not in body


def test_draft_save_and_submit(client, evaluating):
    world = evaluating
    m = world.case.milestones[0]
    auth = bearer(world.examiner)
    draft = {
        "scores": {"substance": {"value": 88, "note": "Tajam."}, "results": {"value": 80}},
        "ratings": {str(m.id): {"rating": "sesuai", "note": ""}},
        "note": "Catatan.",
        "version": 0,
    }
    saved = client.put(url(world.case, "/examiner"), json=draft, headers=auth)
    assert saved.status_code == 200, saved.json
    assert saved.json["status"] == "draft" and saved.json["version"] == 1
    assert saved.headers["ETag"] == '"1"'
    assert saved.json["scores"][0] == {"aspect": "substance", "value": 88, "note": "Tajam."}
    # PATCH alike; the version may come in If-Match.
    patched = client.patch(
        url(world.case, "/examiner"),
        json={"scores": {"presentation": {"value": 84}}},
        headers={**auth, "If-Match": '"1"'},
    )
    assert patched.status_code == 200 and patched.json["version"] == 2
    # A stale version: 409, nothing written.
    before = counts()
    stale = client.put(url(world.case, "/examiner"), json={"note": "x", "version": 1}, headers=auth)
    assert stale.status_code == 409 and stale.json["message"]
    assert counts() == before
    submitted = client.post(url(world.case, "/examiner/submit"), json={"version": 2}, headers=auth)
    assert submitted.status_code == 200, submitted.json
    assert submitted.json["status"] == "submitted"
    assert submitted.json["subtotal"] == 42.2  # (20·88 + 15·80 + 15·84) / 100
    assert counts()[3] == before[3] + 1
    # Read-only now.
    again = client.put(url(world.case, "/examiner"), json={"note": "x", "version": 3}, headers=auth)
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"scores": {"substance": {"value": 101}}, "version": 0}, 422, "score-substance"),
        ({"scores": {"substance": {"value": -0.5}}, "version": 0}, 422, "score-substance"),
        ({"scores": {"process": {"value": 80}}, "version": 0}, 422, "score-process"),
        ({"ratings": {"999999": {"rating": "sesuai"}}, "version": 0}, 422, "rating-999999"),
        ({"note": "x"}, 400, None),  # no version: saving must not overwrite newer work
        ({"scores": [80], "version": 0}, 400, None),
        ({"scores": {}, "version": 0, "extra": 1}, 400, None),
        ({"note": "a\x00b", "version": 0}, 400, None),
    ],
)
def test_bad_drafts_are_refused_in_json(client, evaluating, body, status, field):
    world = evaluating
    before = counts()
    response = client.put(url(world.case, "/examiner"), json=body, headers=bearer(world.examiner))
    assert response.status_code == status
    assert response.json["message"]
    if field:
        assert set(response.json["fields"]) == {field}
    assert counts() == before


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        ("stranger", "/examiner", 404),  # not their case: nothing to learn
        ("trainee", "/examiner", 403),
        ("coach", "/examiner", 403),  # a role not held
        ("examiner", "/executive", 404),  # not an evaluator role
        ("examiner", "/organizer", 403),  # no organizer aspect on a version 1 rubric
    ],
)
def test_refusals(client, evaluating, who, path, status):
    world = evaluating
    before = counts()
    auth = bearer(world.by_role(who))
    body = {"scores": {"substance": {"value": 80}}, "version": 0}
    assert client.put(url(world.case, path), json=body, headers=auth).status_code == status
    assert client.post(url(world.case, path + "/submit"), headers=auth).status_code == status
    assert counts() == before


def test_an_incomplete_submission_says_what_is_missing(client, evaluating):
    world = evaluating
    before = counts()
    response = client.post(
        url(world.case, "/coach/submit") + "?lang=en",
        json={"scores": {"process": {"value": 80}}},
        headers=bearer(world.coach),
    )
    assert response.status_code == 422
    body = response.json
    assert "“Leadership and collaboration” has no score yet." in body["reasons"]
    assert set(body["fields"]) == {"score-collaboration", f"rating-{world.case.milestones[0].id}"}
    assert counts() == before


def test_visibility_and_the_result(client, evaluating):
    world = evaluating
    score_case(world, roles=("examiner",), drafts=("coach",))
    # The coach (a draft) sees only their own sheet; the organizer sees the submitted one.
    coach = client.get(url(world.case), headers=bearer(world.coach)).json
    assert [s["role"] for s in coach["sheets"]] == ["coach"]
    assert coach["sheets"][0]["status"] == "draft"
    organizer = client.get(url(world.case), headers=bearer(world.organizer)).json
    assert [s["role"] for s in organizer["sheets"]] == ["examiner"]
    assert organizer["my_roles"] == []
    result = organizer["result"]
    assert (result["total"], result["so_far"], result["missing"]) == (
        None,
        45.0,
        ["coach", "mentor"],
    )
    # The trainee: no sheet and no result before finalize.
    trainee = bearer(world.trainee)
    assert client.get(url(world.case), headers=trainee).json["sheets"] == []
    assert client.get(f"/api/v1/cases/{world.case.id}/result", headers=trainee).status_code == 403
    for role in ("coach", "mentor"):
        perform(
            world.case,
            "submit_scores",
            world.by_role(role),
            data={
                "role": role,
                "scores": {
                    a.key: {"value": 85 if role == "coach" else 80}
                    for a in E.rubric_of(world.case).aspects_for(role)
                },
                "ratings": {world.case.milestones[0].id: {"rating": "sesuai"}},
            },
        )
    perform(world.case, "finalize", world.organizer)
    body = client.get(f"/api/v1/cases/{world.case.id}/result?lang=en", headers=trainee).json
    assert (body["finalized"], body["final_score"], body["total"]) == (True, 86.5, 86.5)
    assert (body["predicate"], body["predicate_id"], body["passed"]) == (
        "Very good",
        "Memuaskan",
        True,
    )
    sheets = client.get(url(world.case), headers=trainee).json["sheets"]
    assert [s["role"] for s in sheets] == ["examiner", "coach", "mentor"]
    assert all(s["status"] == "submitted" for s in sheets)
    assert [x["value"] for x in sheets[1]["scores"]] == [85] * len(COACH)
