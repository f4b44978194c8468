"""The audit trail of a submitted assessment (case page history, events API) shows its
values only to those who may read that sheet: not the trainee before the result, not an
evaluator who has not submitted their own."""

from __future__ import annotations

import pytest

from tests.factories import score_case
from tests.test_api import bearer
from tests.test_evaluation import to_evaluation
from tests.test_http_helpers import login, page_token
from workflow.services import perform

# The coach scores 85 on each aspect: 15 + 15 weight → 25.5 points.
COACH_POINTS = "25.5"


def _seen(client, world, user) -> tuple[bool, bool]:
    """(the coach's points show on the case page, they show in the events API)."""
    login(client, user)
    token = page_token(client, f"/cases/{world.case.id}")
    client.post("/lang", data={"lang": "en", "next": "/", "csrf_token": token})
    html = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    events = client.get(f"/api/v1/cases/{world.case.id}/events", headers=bearer(user)).get_json()
    submitted = [
        e
        for e in events["items"]
        if e["trigger"] == "submit_scores" and e["data"]["role"] == "coach"
    ]
    assert len(submitted) == 1
    in_api = "subtotal" in submitted[0]["data"]
    assert ("scores" in submitted[0]["data"]) == in_api
    return COACH_POINTS in html, in_api


@pytest.fixture
def coach_submitted(world):
    to_evaluation(world)
    score_case(world, roles=("coach",))
    return world


@pytest.mark.parametrize(
    ("role", "sees"),
    [
        ("trainee", False),
        ("executive", False),
        ("examiner", False),  # has not submitted their own
        ("coach", True),  # their own
        ("organizer", True),
    ],
)
def test_who_reads_a_submitted_assessment_in_the_trail(client, coach_submitted, role, sees):
    world = coach_submitted
    assert _seen(client, world, world.by_role(role)) == (sees, sees)


def test_after_their_own_submission_and_after_the_result_everyone_reads_it(client, coach_submitted):
    world = coach_submitted
    score_case(world, roles=("examiner",))
    assert _seen(client, world, world.examiner) == (True, True)
    assert _seen(client, world, world.trainee) == (False, False)
    score_case(world, roles=("mentor",))
    perform(world.case, "finalize", world.organizer)
    assert _seen(client, world, world.trainee) == (True, True)


@pytest.mark.parametrize(
    ("page", "with_panel"), [("/cases/{id}", True), ("/cases/{id}/review", False)]
)
def test_finalizing_over_htmx_refreshes_the_panel_on_the_case_page(client, world, page, with_panel):
    to_evaluation(world)
    score_case(world)
    login(client, world.organizer)
    token = page_token(client, f"/cases/{world.case.id}")
    response = client.post(
        f"/cases/{world.case.id}/actions/finalize",
        data={"version": world.case.version},
        headers={
            "HX-Request": "true",
            "X-CSRFToken": token,
            "HX-Current-URL": "http://localhost" + page.format(id=world.case.id),
        },
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="case-status"' in html
    # Only the case page has the panel to refresh; elsewhere htmx would find no target.
    assert ('id="evaluation-slot" hx-swap-oob="true"' in html) is with_panel
    assert world.case.state == "completed"
