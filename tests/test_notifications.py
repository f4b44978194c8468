"""Notifications: whom they reach (once each), their words, the inbox, the badge, the API."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event, func, select

from tests.test_http_helpers import check_markup, english, login, page_token
from workflow.extensions import db
from workflow.models import Notification
from workflow.services import definition_of, perform
from workflow.services import notifications as service
from workflow.services.notifications import queue_for_event


def notes_of(user) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
        )
    )


def bearer(user) -> dict:
    token = user.issue_api_token()
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def counting_statements():
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def many_notes(world, user, n: int) -> None:
    """n events on the world's case that notify `user` (submit / request_revision rounds)."""
    for i in range(n):
        if world.case.state != "mentor_review":
            perform(world.case, "submit", world.trainee)
        else:
            perform(world.case, "request_revision", world.mentor, comment=f"Putaran {i}.")


# ---------------------------------------------------------------- recipients


def test_one_notification_per_person_even_with_two_roles(app, world):
    world.group.coach = world.mentor  # the mentor also coaches the group
    db.session.commit()
    event_ = perform(world.case, "submit", world.trainee)
    rows = db.session.scalars(select(Notification).where(Notification.event_id == event_.id)).all()
    assert [n.user_id for n in rows] == [world.mentor.id]


def test_queueing_the_same_event_again_adds_nobody(app, world):
    event_ = perform(world.case, "submit", world.trainee)
    definition = definition_of(world.case)
    transition = next(t for t in definition.transitions if t.trigger == "submit")
    again = queue_for_event(world.case, definition, event_, world.trainee, transition)
    db.session.commit()
    assert again == []
    total = db.session.scalar(
        select(func.count(Notification.id)).where(Notification.event_id == event_.id)
    )
    assert total == 2


def test_actor_is_never_notified(app, world):
    world.group.coach = world.trainee  # absurd, but the actor must still be left out
    db.session.commit()
    perform(world.case, "submit", world.trainee)
    assert notes_of(world.trainee) == []
    assert len(notes_of(world.mentor)) == 1


def test_words_come_from_the_event_and_the_definition_in_each_language(app, world):
    perform(world.case, "submit", world.trainee)
    (note,) = notes_of(world.mentor)
    found = service.item(world.mentor.id, note.id)
    en, id_ = found.text("en"), found.text("id")
    assert en["summary"] == f"{world.trainee.name} Submit to mentor — {world.case.title}"
    assert en["state"] == "Awaiting mentor approval"
    assert id_["state"] == "Menunggu persetujuan mentor"
    assert id_["summary"].startswith(world.trainee.name + " ")
    assert id_["summary"].endswith(" — " + world.case.title)
    assert id_["action"] != en["action"]


# ---------------------------------------------------------------- inbox


def test_inbox_lists_newest_first_with_unread_highlighted(client, world):
    perform(world.case, "submit", world.trainee)
    perform(world.case, "request_revision", world.mentor, comment="Perbaiki.")
    perform(world.case, "submit", world.trainee)
    first, _second = notes_of(world.mentor)
    service.mark_read(first)
    db.session.commit()
    english(client)
    login(client, world.mentor)
    response = client.get("/inbox")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    check_markup(html)
    items = html.split('class="inbox-item')[1:]
    assert len(items) == 2
    assert items[0].startswith(" is-unread") and not items[1].startswith(" is-unread")
    assert f"/inbox/{first.id}" in items[1]
    assert "Awaiting mentor approval" in items[0]
    assert world.case.title in items[0]
    assert "Mark all as read" in html


def test_inbox_needs_login(client, world):
    assert client.get("/inbox").status_code == 302
    # The badge polls in the background: no redirect that would take the page away.
    assert client.get("/inbox/badge", headers={"HX-Request": "true"}).status_code == 204


def test_opening_a_notification_marks_it_read_and_goes_to_the_case(client, world):
    perform(world.case, "submit", world.trainee)
    (note,) = notes_of(world.coach)
    login(client, world.coach)
    response = client.get(f"/inbox/{note.id}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{world.case.id}")
    db.session.expire_all()
    assert db.session.get(Notification, note.id).read_at is not None
    assert client.get(response.headers["Location"]).status_code == 200


def test_another_users_notification_is_404(client, world):
    perform(world.case, "submit", world.trainee)
    (note,) = notes_of(world.mentor)
    login(client, world.coach)
    assert client.get(f"/inbox/{note.id}").status_code == 404
    assert client.get("/inbox/999999").status_code == 404
    db.session.expire_all()
    assert db.session.get(Notification, note.id).read_at is None
    assert f"/inbox/{note.id}" not in client.get("/inbox").get_data(as_text=True)


def test_mark_all_read_needs_csrf_and_marks_only_mine(client, world):
    perform(world.case, "submit", world.trainee)
    login(client, world.mentor)
    assert client.post("/inbox/read-all").status_code == 400  # no CSRF token
    assert service.unread_count(world.mentor.id) == 1
    token = page_token(client, "/inbox")
    response = client.post("/inbox/read-all", data={"csrf_token": token})
    assert response.status_code == 302
    assert service.unread_count(world.mentor.id) == 0
    assert service.unread_count(world.coach.id) == 1  # someone else's stay unread
    html = client.get("/inbox").get_data(as_text=True)
    assert "is-unread" not in html


def test_inbox_pages(client, world):
    many_notes(world, world.mentor, 45)  # 23 submits reach the mentor
    total = len(notes_of(world.mentor))
    assert total > 20
    login(client, world.mentor)
    first = client.get("/inbox").get_data(as_text=True)
    second = client.get("/inbox?page=2").get_data(as_text=True)
    assert first.count('class="inbox-item') == 20
    assert second.count('class="inbox-item') == total - 20
    assert 'rel="next"' in first and 'rel="prev"' in second
    assert client.get("/inbox?page=abc").status_code == 200
    only_unread = client.get("/inbox?unread=1").get_data(as_text=True)
    assert only_unread.count('class="inbox-item') == 20


# ---------------------------------------------------------------- badge


def test_every_page_has_the_polling_badge(client, world):
    login(client, world.mentor)
    for path in ("/", f"/cases/{world.case.id}", "/inbox"):
        html = client.get(path).get_data(as_text=True)
        header = html.split("</header>")[0]
        assert 'hx-get="/inbox/badge"' in header, path
        assert 'hx-trigger="load, every 30s"' in header, path
        check_markup(html)


def test_badge_fragment_counts_unread_and_updates(client, world):
    login(client, world.mentor)
    empty = client.get("/inbox/badge", headers={"HX-Request": "true"})
    assert empty.status_code == 200
    assert empty.get_data(as_text=True).strip() == ""
    assert empty.headers["Cache-Control"] == "no-store"
    perform(world.case, "submit", world.trainee)
    perform(world.case, "request_revision", world.mentor, comment="Perbaiki.")
    perform(world.case, "submit", world.trainee)
    html = client.get("/inbox/badge", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-unread="2"' in html and "<html" not in html
    client.get(f"/inbox/{notes_of(world.mentor)[0].id}")
    html = client.get("/inbox/badge").get_data(as_text=True)
    assert 'data-unread="1"' in html


def test_badge_shows_99_plus(client, world):
    db.session.add_all(
        Notification(user_id=world.mentor.id, case_id=world.case.id, kind="submit")
        for _ in range(120)
    )
    db.session.commit()
    login(client, world.mentor)
    html = client.get("/inbox/badge").get_data(as_text=True)
    assert ">99+<" in html and 'data-unread="120"' in html


def test_badge_costs_the_same_queries_however_many_notifications(client, world):
    login(client, world.mentor)

    def statements() -> list[str]:
        db.session.expire_all()
        with counting_statements() as seen:
            assert client.get("/inbox/badge").status_code == 200
        return seen

    none = statements()
    perform(world.case, "submit", world.trainee)
    one = statements()
    db.session.add_all(
        Notification(user_id=world.mentor.id, case_id=world.case.id, kind="submit")
        for _ in range(30)
    )
    db.session.commit()
    many = statements()
    assert len(none) == len(one) == len(many)
    counts = [s for s in many if "notifications" in s]
    assert len(counts) == 1 and "count(" in counts[0].lower()


# ---------------------------------------------------------------- API


def test_api_lists_mine_and_filters_unread(client, world):
    perform(world.case, "submit", world.trainee)
    perform(world.case, "request_revision", world.mentor, comment="Perbaiki.")
    perform(world.case, "submit", world.trainee)
    older, newer = notes_of(world.mentor)
    service.mark_read(older)
    db.session.commit()
    auth = bearer(world.mentor)
    body = client.get("/api/v1/notifications?lang=en", headers=auth).json
    assert [i["id"] for i in body["items"]] == [newer.id, older.id]
    assert body["total"] == 2 and body["unread"] == 1
    item = body["items"][0]
    assert item["case_id"] == world.case.id and item["kind"] == "submit"
    assert item["state_label"] == "Awaiting mentor approval"
    assert item["summary"] == f"{world.trainee.name} Submit to mentor — {world.case.title}"
    assert item["read_at"] is None and body["items"][1]["read_at"].endswith("Z")
    unread = client.get("/api/v1/notifications?unread=1", headers=auth).json
    assert [i["id"] for i in unread["items"]] == [newer.id]
    assert client.get("/api/v1/notifications?unread=yes", headers=auth).status_code == 400
    # Another user sees none of these.
    other = client.get("/api/v1/notifications", headers=bearer(world.executive)).json
    assert other["items"] == [] and other["total"] == 0


def test_api_marks_one_read_and_not_someone_elses(client, world):
    perform(world.case, "submit", world.trainee)
    (note,) = notes_of(world.mentor)
    response = client.post(f"/api/v1/notifications/{note.id}/read", headers=bearer(world.coach))
    assert response.status_code == 404 and response.json["message"]
    response = client.post(f"/api/v1/notifications/{note.id}/read", headers=bearer(world.mentor))
    assert response.status_code == 200
    assert response.json["id"] == note.id and response.json["read_at"].endswith("Z")
    assert service.unread_count(world.mentor.id) == 0
    assert service.unread_count(world.coach.id) == 1


def test_api_read_all(client, world):
    perform(world.case, "submit", world.trainee)
    perform(world.case, "request_revision", world.mentor, comment="Perbaiki.")
    perform(world.case, "submit", world.trainee)
    response = client.post("/api/v1/notifications/read-all", headers=bearer(world.mentor))
    assert response.status_code == 200
    assert response.json == {"marked": 2, "unread": 0}
    assert service.unread_count(world.coach.id) == 2
    assert client.post("/api/v1/notifications/read-all").status_code == 401


def test_inbox_page_has_no_query_per_notification(client, world):
    login(client, world.mentor)
    many_notes(world, world.mentor, 2)

    def statements() -> int:
        db.session.expire_all()
        with counting_statements() as seen:
            assert client.get("/inbox").status_code == 200
        return len(seen)

    few = statements()
    many_notes(world, world.mentor, 30)
    assert statements() == few
