"""API of reviewing: comments on a case, the endorsement queue and bulk endorsement."""

from __future__ import annotations

from datetime import date

import pytest

from tests import factories
from tests.test_api import bearer
from tests.test_review import APPROVED, LETTER, SUBMITTED, comments_count, events_of, new_case
from workflow.extensions import db
from workflow.services import perform, reviews


def test_reviewer_comments_and_everyone_of_the_case_reads_them(client, world):
    perform(world.case, "submit", world.trainee)
    response = client.post(
        f"/api/v1/cases/{world.case.id}/comments",
        json={"body": "<b>Perjelas</b> isu inti.", "section": "core_issue"},
        headers=bearer(world.mentor),
    )
    assert response.status_code == 201
    body = response.json
    assert body["section"] == "core_issue" and body["role"] == "mentor"
    assert body["body"] == "<b>Perjelas</b> isu inti."  # stored and returned as text
    assert body["snapshot_number"] == 1
    assert body["author"] == {"id": world.mentor.id, "name": world.mentor.name}
    general = client.post(
        f"/api/v1/cases/{world.case.id}/comments",
        json={"body": "Umum."},
        headers=bearer(world.coach),
    )
    assert general.status_code == 201 and general.json["section"] == ""
    listed = client.get(f"/api/v1/cases/{world.case.id}/comments", headers=bearer(world.trainee))
    assert listed.status_code == 200
    assert [c["body"] for c in listed.json["items"]] == ["<b>Perjelas</b> isu inti.", "Umum."]


@pytest.mark.parametrize(
    ("role", "payload", "status"),
    [
        ("trainee", {"body": "Saya."}, 403),
        ("examiner", {"body": "Catatan."}, 403),
        ("stranger", {"body": "Catatan."}, 404),
        ("mentor", {"body": ""}, 422),
        ("mentor", {"body": "x" * 5001}, 422),
        ("mentor", {"body": "x", "section": "nope"}, 422),
        ("mentor", {"body": 5}, 400),
        ("mentor", {"section": "title"}, 400),
        ("mentor", {"body": "x", "extra": 1}, 400),
        ("mentor", {"body": "a\u0000b"}, 400),
        ("mentor", {"body": "x", "section": None}, 400),
    ],
)
def test_refused_comments_write_nothing(client, world, role, payload, status):
    response = client.post(
        f"/api/v1/cases/{world.case.id}/comments", json=payload, headers=bearer(world.by_role(role))
    )
    assert response.status_code == status
    assert "message" in response.json
    assert comments_count() == 0


def test_comments_of_another_persons_case_are_404(client, world):
    response = client.get(f"/api/v1/cases/{world.case.id}/comments", headers=bearer(world.stranger))
    assert response.status_code == 404


def test_endorsement_queue(client, world):
    late = new_case(world, APPROVED, title="Late")
    new_case(world, SUBMITTED, title="With mentor")
    first = new_case(world, APPROVED, title="First")
    late.due_date = date(2020, 1, 6)
    db.session.commit()
    response = client.get("/api/v1/endorsements", headers=bearer(world.executive))
    assert response.status_code == 200
    assert [c["id"] for c in response.json["items"]] == [late.id, first.id]
    assert response.json["items"][0]["overdue"] is True
    nothing = client.get("/api/v1/endorsements", headers=bearer(world.mentor))
    assert nothing.json == {"items": []}


def test_bulk_endorse_reports_each_case(client, world):
    cases = [new_case(world, APPROVED) for _ in range(3)]
    seen = {str(c.id): c.version for c in cases}
    cases[2].title = "Changed meanwhile"
    db.session.commit()
    foreign = new_case(world, APPROVED, executive=factories.create_user())
    response = client.post(
        "/api/v1/endorsements",
        json={"case_ids": [c.id for c in cases] + [foreign.id], **LETTER, "versions": seen},
        headers=bearer(world.executive),
    )
    assert response.status_code == 200
    results = {r["case_id"]: r for r in response.json["results"]}
    assert [results[c.id]["ok"] for c in cases] == [True, True, False]
    assert results[cases[2].id]["status"] == 409
    assert results[foreign.id]["status"] == 404
    for case in cases:
        db.session.refresh(case)
    assert [c.state for c in cases] == ["implementation", "implementation", "endorsement_pending"]
    assert results[cases[0].id]["version"] == cases[0].version
    assert [events_of(c, "endorse") for c in cases] == [1, 1, 0]
    assert events_of(foreign, "endorse") == 0


def test_bulk_endorse_with_a_bad_letter_is_refused_per_case(client, world):
    case = new_case(world, APPROVED)
    response = client.post(
        "/api/v1/endorsements",
        json={"case_ids": [case.id], "letter_number": "", "letter_date": "2026-11-20"},
        headers=bearer(world.executive),
    )
    assert response.status_code == 200
    (result,) = response.json["results"]
    assert result["ok"] is False and result["status"] == 422
    assert "letter_number" in result["fields"]
    assert events_of(case) == 2  # submit and approve only


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"case_ids": [], **LETTER},
        {"case_ids": [0], **LETTER},
        {"case_ids": ["1"], **LETTER},
        {"case_ids": [True], **LETTER},
        {"case_ids": list(range(1, 102)), **LETTER},
        {"case_ids": [1], "letter_number": "x", "letter_date": "20-11-2026"},
        {"case_ids": [1], "letter_number": "x" * 101, "letter_date": "2026-11-20"},
        {"case_ids": [1], **LETTER, "versions": None},
        {"case_ids": [1], **LETTER, "versions": {"1": -1}},
        {"case_ids": [1], **LETTER, "other": 1},
    ],
)
def test_bulk_endorse_bad_body_is_400_and_writes_nothing(client, world, payload):
    perform(world.case, "submit", world.trainee)
    perform(world.case, "approve", world.mentor)
    response = client.post("/api/v1/endorsements", json=payload, headers=bearer(world.executive))
    assert response.status_code == 400
    assert events_of(world.case, "endorse") == 0


def test_bulk_endorse_needs_a_token(client, world):
    assert client.post("/api/v1/endorsements", json={}).status_code == 401
    assert client.get("/api/v1/endorsements").status_code == 401


def test_queue_and_reviews_service_agree(client, world):
    perform(world.case, "submit", world.trainee)
    perform(world.case, "approve", world.mentor)
    listed = client.get("/api/v1/endorsements", headers=bearer(world.executive))
    ids = [c["id"] for c in listed.json["items"]]
    assert ids == [c.id for c in reviews.endorsement_queue(world.executive)] == [world.case.id]
