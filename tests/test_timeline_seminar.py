"""The case history reads a seminar's schedule as people do: local times, no raw keys."""

from __future__ import annotations

from tests.test_http_helpers import login
from tests.test_seminars import schedule, seminar_world


def test_the_history_shows_the_seminar_in_local_time_without_internal_keys(app, client):
    world = seminar_world()
    event = schedule(world, room="Ruang Mahakam 1")
    login(client, world.organizer)
    page = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    history = page[page.index('class="timeline"') :]
    assert "Ruang Mahakam 1" in history
    assert "WITA" in history  # the cohort's institution is in Asia/Makassar
    for raw in ("seminar_id", "starts_at", "sequence", str(event.data["starts_at"])):
        assert raw not in history
