"""The case page of a two-signature step: who has signed, who is awaited, and what the
user reads after acting (a sentence, not the button's label)."""

from __future__ import annotations

import pytest

from tests.factories import World
from tests.test_http_helpers import login, page_token
from workflow.extensions import db
from workflow.services import perform


@pytest.fixture
def submitted(app):
    world = World(version=None)
    perform(world.case, "submit", world.trainee)
    return world


def _approve(client, world, user):
    login(client, user)
    path = f"/cases/{world.case.id}"
    db.session.refresh(world.case)
    return client.post(
        f"{path}/actions/approve",
        data={"csrf_token": page_token(client, path), "version": world.case.version},
        follow_redirects=True,
    )


def test_the_first_signature_says_who_is_still_awaited(client, submitted):
    page = _approve(client, submitted, submitted.coach).get_data(as_text=True)
    assert "Persetujuan Anda tercatat" in page or "Your approval is recorded" in page
    assert 'class="signed"' in page and 'class="awaited"' in page
    # The coach has signed: no button to sign again, and not their turn any more.
    assert f"/cases/{submitted.case.id}/actions/approve" not in page
    assert "badge-you" not in page
    login(client, submitted.mentor)
    page = client.get(f"/cases/{submitted.case.id}").get_data(as_text=True)
    assert f"/cases/{submitted.case.id}/actions/approve" in page and "badge-you" in page


def test_the_last_signature_reads_as_the_definitions_sentence(client, submitted):
    perform(submitted.case, "approve", submitted.coach)
    page = _approve(client, submitted, submitted.mentor).get_data(as_text=True)
    assert "Rancangan disetujui untuk diseminarkan." in page
    assert "Seminar rancangan" in page


def test_the_case_page_names_the_flow_version(client, submitted):
    login(client, submitted.organizer)
    page = client.get(f"/cases/{submitted.case.id}").get_data(as_text=True)
    assert 'class="definition-version"' in page and "2" in page
