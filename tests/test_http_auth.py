"""Login, throttling, logout, CSRF, language switch."""

from __future__ import annotations

import pytest

from tests import factories
from tests.test_http_helpers import csrf_from, english, login, page_token, tags_of
from workflow.extensions import db
from workflow.models import AuditEvent


def test_login_form_has_the_fixed_field_names(client):
    html = client.get("/login").get_data(as_text=True)
    for name in ("username", "password", "csrf_token"):
        assert f'name="{name}"' in html


def test_login_success_lands_on_home(client, world):
    response = login(client, world.trainee)
    assert response.location == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert world.trainee.name in home.get_data(as_text=True)


def test_wrong_password_shows_message_and_keeps_username(client, world):
    english(client)
    token = page_token(client, "/login")
    response = client.post(
        "/login",
        data={"username": world.trainee.username, "password": "nope", "csrf_token": token},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "Wrong username or password." in html
    assert f'value="{world.trainee.username}"' in html
    assert "nope" not in html
    assert client.get("/").status_code == 302  # still logged out


def test_inactive_user_cannot_log_in(client, world):
    world.trainee.active = False
    db.session.commit()
    token = page_token(client, "/login")
    response = client.post(
        "/login",
        data={
            "username": world.trainee.username,
            "password": factories.PASSWORD,
            "csrf_token": token,
        },
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/cases/1", "/cases/1"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_next_only_follows_local_paths(client, world, target, expected):
    page = client.get("/login", query_string={"next": target})
    token = csrf_from(page.get_data(as_text=True))
    response = client.post(
        "/login",
        data={
            "username": world.trainee.username,
            "password": factories.PASSWORD,
            "csrf_token": token,
            "next": target,
        },
    )
    assert response.status_code == 302
    assert response.location == expected


def test_login_required_redirects_with_next_and_message(client, world):
    english(client)
    response = client.get(f"/cases/{world.case.id}")
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")
    page = client.get(response.location).get_data(as_text=True)
    assert "Please log in to see this page." in page


def test_login_throttled_after_limit(make_app):
    app = make_app(AKSI_LOGIN_ACCOUNT_LIMIT="3 per minute")
    with app.app_context():
        world = factories.World()
        client = app.test_client()
        english(client)
        token = page_token(client, "/login")
        bad = {"username": world.trainee.username, "password": "wrong", "csrf_token": token}
        statuses = [client.post("/login", data=bad).status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        throttled = client.post("/login", data=bad)
        assert throttled.status_code == 429
        assert "Too many attempts" in throttled.get_data(as_text=True)
        # Only POSTs count: the form itself still shows.
        assert client.get("/login").status_code == 200


def test_logout_needs_post_and_ends_the_session(client, world):
    login(client, world.trainee)
    assert client.get("/logout").status_code == 405
    token = page_token(client, "/")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.location == "/login"
    assert client.get("/").status_code == 302


def test_post_without_csrf_token_is_refused_and_changes_nothing(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        world = factories.World()
        client = app.test_client()
        login(client, world.trainee)
        case = world.case
        before = (case.state, case.version, db.session.query(AuditEvent).count())
        response = client.post(f"/cases/{case.id}/actions/submit", data={"version": case.version})
        assert response.status_code == 400
        htmx = client.post(
            f"/cases/{case.id}/actions/submit",
            data={"version": case.version},
            headers={"HX-Request": "true", "X-CSRFToken": "forged"},
        )
        assert htmx.status_code == 400
        db.session.expire_all()
        assert (case.state, case.version, db.session.query(AuditEvent).count()) == before
        # Logout without a token does not log out either.
        assert client.post("/logout").status_code == 400
        assert client.get("/").status_code == 200


def test_language_switch_shows_english(client, world):
    login(client, world.trainee)
    page = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    assert '<html lang="id">' in page
    assert "Penyusunan rancangan" in page
    token = csrf_from(page)
    response = client.post(
        "/lang", data={"lang": "en", "next": f"/cases/{world.case.id}", "csrf_token": token}
    )
    assert response.status_code == 302
    assert response.location == f"/cases/{world.case.id}"
    page = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Drafting the proposal" in page
    assert "Submit to mentor" in page


def test_language_switch_ignores_foreign_next_and_unknown_language(client, world):
    token = page_token(client, "/login")
    response = client.post(
        "/lang", data={"lang": "fr", "next": "https://evil.example/", "csrf_token": token}
    )
    assert response.location == "/"
    assert '<html lang="id">' in client.get("/login").get_data(as_text=True)


def test_language_switch_after_a_failed_post_returns_to_the_form(client, world):
    token = page_token(client, "/login")
    page = client.post("/login", data={"username": "x", "password": "y", "csrf_token": token})
    hidden = [a for t, a in tags_of(page.get_data(as_text=True)).tags if a.get("name") == "next"]
    assert {"type": "hidden", "name": "next", "value": "/login"} in hidden
