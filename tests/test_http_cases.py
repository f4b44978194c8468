"""The case page and its actions over HTTP: scope, buttons, htmx fragments, refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.test_http_helpers import act, english, login, page_token, tags_of, triggers_in
from workflow.extensions import db
from workflow.models import AuditEvent
from workflow.services import perform


def events_of(case) -> int:
    return db.session.scalar(select(func.count()).where(AuditEvent.case_id == case.id))


def to_state(world, steps):
    """Move the world's case with perform(), as the people would."""
    for trigger, role, data in steps:
        perform(world.case, trigger, world.by_role(role), data=data)


SUBMITTED = [("submit", "trainee", None)]
APPROVED = [*SUBMITTED, ("approve", "mentor", None)]


def test_another_persons_case_is_404_on_page_and_action(client, world):
    login(client, world.stranger)
    assert client.get(f"/cases/{world.case.id}").status_code == 404
    token = page_token(client, "/")
    response = act(client, world.case, "submit", token=token)
    assert response.status_code == 404
    htmx = act(client, world.case, "submit", token=token, htmx=True)
    assert htmx.status_code == 404
    assert world.case.state == "draft"
    assert events_of(world.case) == 0


def test_missing_case_is_404(client, world):
    login(client, world.trainee)
    assert client.get("/cases/999999").status_code == 404


@pytest.mark.parametrize(
    ("steps", "role", "expected"),
    [
        ([], "trainee", ["submit", "withdraw"]),
        ([], "mentor", []),
        ([], "executive", []),
        ([], "coach", ["remind"]),
        ([], "examiner", []),
        ([], "organizer", ["withdraw", "extend_deadline", "remind"]),
        (SUBMITTED, "trainee", ["withdraw"]),
        (SUBMITTED, "mentor", ["approve", "request_revision"]),
        (SUBMITTED, "executive", []),
        (APPROVED, "executive", ["endorse", "decline_endorsement"]),
        (APPROVED, "mentor", []),
        (APPROVED, "organizer", ["withdraw", "extend_deadline", "remind"]),
    ],
)
def test_buttons_by_role_and_state(client, world, steps, role, expected):
    to_state(world, steps)
    login(client, world.by_role(role))
    html = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    assert triggers_in(html) == expected
    for trigger in expected:
        assert f'hx-post="/cases/{world.case.id}/actions/{trigger}"' in html


def test_full_page_versus_htmx_fragment(client, world):
    login(client, world.trainee)
    full = client.get(f"/cases/{world.case.id}")
    html = full.get_data(as_text=True)
    assert "HX-Request" in full.headers["Vary"]
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert 'id="case-status"' in html and 'id="proposal-title"' in html

    fragment = client.get(f"/cases/{world.case.id}", headers={"HX-Request": "true"})
    part = fragment.get_data(as_text=True)
    assert fragment.status_code == 200
    assert "HX-Request" in fragment.headers["Vary"]
    assert part.lstrip().startswith('<section id="case-status"')
    assert "<html" not in part and 'id="proposal-title"' not in part
    # The page includes the very same fragment markup.
    assert part.strip() in html


def test_htmx_action_swaps_fragment_and_writes_one_event(client, world):
    english(client)
    login(client, world.trainee)
    response = act(client, world.case, "submit", htmx=True)
    part = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    assert part.lstrip().startswith('<section id="case-status"')
    assert "Awaiting mentor approval" in part
    assert "Done: Submit to mentor." in part
    assert world.case.state == "mentor_review"
    assert events_of(world.case) == 1
    # The fresh fragment carries the new version for the next action.
    versions = [a["value"] for t, a in tags_of(part).tags if a.get("name") == "version"]
    assert versions and set(versions) == {str(world.case.version)}


def test_plain_post_redirects_back_with_flash(client, world):
    english(client)
    login(client, world.trainee)
    response = act(client, world.case, "submit")
    assert response.status_code == 302
    assert response.location == f"/cases/{world.case.id}"
    page = client.get(response.location).get_data(as_text=True)
    assert "Done: Submit to mentor." in page
    assert "Awaiting mentor approval" in page
    assert events_of(world.case) == 1


def test_blocked_action_shows_reasons_and_writes_nothing(app):
    world = factories.World(complete=False)
    client = app.test_client()
    english(client)
    login(client, world.trainee)
    html = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    blocked = [a for t, a in tags_of(html).tags if t == "button" and "disabled" in a]
    assert blocked, "the blocked submit button is shown disabled"
    assert "The title is empty." in html
    assert "There is no short-term milestone." in html
    assert f'hx-post="/cases/{world.case.id}/actions/submit"' not in html

    response = act(client, world.case, "submit", htmx=True)
    assert response.status_code == 422
    assert "The title is empty." in response.get_data(as_text=True)
    assert world.case.state == "draft"
    assert events_of(world.case) == 0


def test_required_comment_missing_is_422_beside_the_field(client, world):
    to_state(world, SUBMITTED)
    english(client)
    login(client, world.mentor)
    response = act(client, world.case, "request_revision", {"comment": "   "}, htmx=True)
    part = response.get_data(as_text=True)
    assert response.status_code == 422
    assert part.lstrip().startswith('<section id="case-status"')
    error = [a for t, a in tags_of(part).tags if a.get("id") == "f-request_revision-comment-error"]
    assert error, "the message sits beside the comment field"
    assert "A comment is required for this action." in part
    assert 'data-trigger="request_revision" open' in part
    assert world.case.state == "mentor_review"
    assert events_of(world.case) == 1


def test_missing_field_keeps_typed_values(client, world):
    to_state(world, APPROVED)
    english(client)
    login(client, world.executive)
    response = act(
        client, world.case, "endorse", {"letter_number": "800/123/DPMD", "letter_date": ""}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert html.lstrip().lower().startswith("<!doctype html>")  # no JS: the whole page
    assert 'value="800/123/DPMD"' in html
    assert 'id="f-endorse-letter_date-error"' in html
    assert "Letter date is required." in html
    assert world.case.state == "endorsement_pending"

    ok = act(
        client,
        world.case,
        "endorse",
        {"letter_number": "800/123/DPMD", "letter_date": "2026-03-05"},
        htmx=True,
    )
    assert ok.status_code == 200
    assert world.case.state == "implementation"
    event = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.case_id == world.case.id)
        .order_by(AuditEvent.seq.desc())
    ).first()
    assert event.data == {"letter_number": "800/123/DPMD", "letter_date": "2026-03-05"}
    page = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    assert "Letter number" in page and "800/123/DPMD" in page


def test_stale_version_is_409_with_conflict_message(client, world):
    english(client)
    login(client, world.trainee)
    stale = world.case.version
    token = page_token(client, f"/cases/{world.case.id}")
    perform(world.case, "submit", world.trainee)  # someone else, meanwhile
    response = act(
        client, world.case, "withdraw", {"comment": "mundur"}, htmx=True, version=stale, token=token
    )
    part = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Someone else changed this case meanwhile." in part
    assert "Awaiting mentor approval" in part  # the fresh state
    assert world.case.state == "mentor_review"
    assert events_of(world.case) == 1


def test_action_not_offered_to_role_is_refused(client, world):
    login(client, world.mentor)
    response = act(client, world.case, "submit", htmx=True)
    assert response.status_code == 403
    assert world.case.state == "draft"
    assert events_of(world.case) == 0


def test_timeline_shows_actor_labels_and_zone(client, world):
    english(client)
    perform(world.case, "submit", world.trainee)
    perform(world.case, "request_revision", world.mentor, comment="Perbaiki judul.")
    login(client, world.trainee)
    html = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    assert world.mentor.name in html
    assert "Request revision" in html
    assert "Awaiting mentor approval → Revision requested" in html
    assert "Perbaiki judul." in html
    assert " WITA</time>" in html  # the cohort's institution is in Asia/Makassar


def test_htmx_request_when_logged_out_gets_hx_redirect(client, world):
    response = client.get(f"/cases/{world.case.id}", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.headers["HX-Redirect"].startswith("/login?next=")
    assert "Location" not in response.headers
