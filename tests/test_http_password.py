"""Forgotten password and one-time links on the web: the same answer for every address,
throttled; the link's page keeps its token to itself; the new password logs in."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests import factories
from tests.test_http_helpers import check_markup, csrf_from, english, login, page_token, tags_of
from workflow.extensions import db
from workflow.models import OneTimeToken, User
from workflow.services import accounts

NEW_PASSWORD = "kopi-susu-2026"
LINK = re.compile(r"https?://[^/\s]+(/password/[A-Za-z0-9_\-]+)")


@pytest.fixture
def mail_app(app, smtp_server):
    app.config.update(smtp_server.config())
    return app


def tokens() -> int:
    return db.session.scalar(select(func.count(OneTimeToken.id)))


def ask(client, address: str, **kwargs):
    token = page_token(client, "/password/forgot")
    return client.post("/password/forgot", data={"email": address, "csrf_token": token}, **kwargs)


def path_in(message) -> str:
    (path,) = LINK.findall(message.get_content())
    return path


def private(response) -> None:
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def choose(client, path: str, password: str, confirm: str | None = None, token=None):
    token = token or page_token(client, path)
    return client.post(
        path,
        data={
            "password": password,
            "confirm": password if confirm is None else confirm,
            "csrf_token": token,
        },
    )


def test_login_page_links_to_the_forgotten_password_page(client):
    english(client)
    html = client.get("/login").get_data(as_text=True)
    links = [a.get("href") for t, a in tags_of(html).tags if t == "a"]
    assert "/password/forgot" in links and "Forgot your password?" in html


def test_the_answer_is_the_same_for_known_and_unknown_addresses(
    mail_app, client, smtp_server, world
):
    english(client)
    form = client.get("/password/forgot")
    assert form.status_code == 200
    check_markup(form.get_data(as_text=True))
    known = ask(client, world.trainee.email)
    unknown = ask(client, "nobody@example.test")
    assert known.status_code == unknown.status_code == 200
    known_html = known.get_data(as_text=True).replace(world.trainee.email, "ADDRESS")
    unknown_html = unknown.get_data(as_text=True).replace("nobody@example.test", "ADDRESS")
    assert known_html == unknown_html
    assert "If that address is registered, a link to set the password" in known_html
    assert [m["To"] for m in smtp_server.messages] == [world.trainee.email]
    assert tokens() == 1


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("", "Enter your e-mail address."),
        ("   ", "Enter your e-mail address."),
        ("budi.example.test", "Enter an e-mail address such as"),
        ("budi @example.test", "Enter an e-mail address such as"),
        ("a" * 190 + "@example.test", "Enter an e-mail address such as"),
    ],
)
def test_a_bad_address_is_explained_kept_and_nothing_is_sent(
    mail_app, client, smtp_server, world, address, message
):
    english(client)
    response = ask(client, address)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    email_input = next(a for t, a in tags_of(html).tags if a.get("name") == "email")
    assert email_input["value"] == address.strip()
    assert email_input.get("aria-invalid") == "true"
    assert smtp_server.messages == [] and tokens() == 0


def test_forgot_is_throttled_per_ip_and_per_address(make_app, smtp_server):
    app = make_app(
        RATELIMIT_ENABLED=True,
        LOGIN_RATE_LIMIT="3 per minute",
        RESET_RATE_LIMIT="2 per hour",
        **smtp_server.config(),
    )
    with app.app_context():
        world = factories.World()
        client = app.test_client()
        english(client)
        token = page_token(client, "/password/forgot")

        def post(address: str, ip: str) -> int:
            return client.post(
                "/password/forgot",
                data={"email": address, "csrf_token": token},
                environ_base={"REMOTE_ADDR": ip},
            ).status_code

        # Per address, whichever IP asks (and known or not alike).
        for address in (world.trainee.email, "nobody@example.test"):
            assert [post(address, ip) for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3")] == [
                200,
                200,
                429,
            ]
        assert len(smtp_server.messages) == 2
        # Per IP, whatever the address.
        statuses = [post(f"x{n}@example.test", "10.0.0.9") for n in range(4)]
        assert statuses == [200, 200, 200, 429]
        assert "Too many attempts" in client.post(
            "/password/forgot",
            data={"email": "y@example.test", "csrf_token": token},
            environ_base={"REMOTE_ADDR": "10.0.0.9"},
        ).get_data(as_text=True)
        # The form itself still shows.
        assert (
            client.get("/password/forgot", environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code
            == 200
        )
        assert len(smtp_server.messages) == 2


def test_the_link_from_the_mail_sets_the_password_and_logs_in(mail_app, client, smtp_server, world):
    english(client)
    ask(client, world.trainee.email.upper())
    path = path_in(smtp_server.messages[0])

    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    private(page)
    check_markup(html)
    assert world.trainee.username in html and world.trainee.name in html
    inputs = {a.get("name"): a for t, a in tags_of(html).tags if t == "input"}
    assert inputs["password"]["autocomplete"] == "new-password"
    assert inputs["confirm"]["type"] == "password"

    done = choose(client, path, NEW_PASSWORD)
    assert done.status_code == 302 and done.location == "/"
    private(done)
    home = client.get("/")
    assert home.status_code == 200
    assert "Your password is set." in home.get_data(as_text=True)

    # Log out, then the new password works and the old one does not.
    client.post("/logout", data={"csrf_token": page_token(client, "/")})
    login(client, world.trainee, NEW_PASSWORD)
    client.post("/logout", data={"csrf_token": page_token(client, "/")})
    token = page_token(client, "/login")
    old = client.post(
        "/login",
        data={
            "username": world.trainee.username,
            "password": factories.PASSWORD,
            "csrf_token": token,
        },
    )
    assert old.status_code == 401

    # The link is spent.
    again = client.get(path)
    assert again.status_code == 410
    private(again)
    assert "This link does not work any more" in again.get_data(as_text=True)


def test_an_invitation_link_works_the_same(mail_app, client, smtp_server, world):
    world.trainee.password_hash = ""
    db.session.commit()
    accounts.invite([world.trainee.id])
    path = path_in(smtp_server.messages[0])
    english(client)
    assert "Welcome to Aksi" in client.get(path).get_data(as_text=True)
    assert choose(client, path, NEW_PASSWORD).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, world.trainee.id).check_password(NEW_PASSWORD)


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("short", "short", "Use at least 10 characters."),
        ("12345678901", "12345678901", "Do not use only digits."),
        (NEW_PASSWORD, "kopi-susu-2025", "The two passwords are not the same."),
    ],
)
def test_a_refused_password_is_explained_and_writes_nothing(
    client, world, password, confirm, message
):
    raw = accounts.issue(world.trainee, "reset")
    db.session.commit()
    english(client)
    before = (world.trainee.password_hash, tokens())
    response = choose(client, f"/password/{raw}", password, confirm)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    private(response)
    assert message in html
    values = [a.get("value") for t, a in tags_of(html).tags if a.get("type") == "password"]
    assert values == [None, None]  # never sent back
    db.session.expire_all()
    assert (db.session.get(User, world.trainee.id).password_hash, tokens()) == before
    assert accounts.check_token(raw) is not None


@pytest.mark.parametrize("case", ["unknown", "expired", "used", "revoked"])
def test_a_link_that_does_not_work_offers_a_new_one(client, world, case):
    raw = accounts.issue(world.trainee, "reset")
    db.session.commit()
    if case == "unknown":
        raw = "no-such-token-" + raw[:10]
    elif case == "used":
        accounts.set_password(raw, NEW_PASSWORD, NEW_PASSWORD)
    elif case == "revoked":
        accounts.issue(world.trainee, "reset")
        db.session.commit()
    english(client)
    # Forward only: the session cookie must not look signed in the future.
    later = datetime.now(UTC) + (
        timedelta(hours=2, seconds=1) if case == "expired" else timedelta()
    )
    with time_machine.travel(later, tick=False):
        page = client.get(f"/password/{raw}")
        html = page.get_data(as_text=True)
        assert page.status_code == 410
        private(page)
        assert "This link does not work any more" in html
        links = [a.get("href") for t, a in tags_of(html).tags if t == "a"]
        assert "/password/forgot" in links
        hash_before = db.session.get(User, world.trainee.id).password_hash
        posted = choose(client, f"/password/{raw}", "brand-new-pass-1", token=csrf_from(html))
        assert posted.status_code == 410
        private(posted)
        db.session.expire_all()
        assert db.session.get(User, world.trainee.id).password_hash == hash_before


def test_posts_without_csrf_token_are_refused_and_change_nothing(
    mail_app, client, smtp_server, world
):
    raw = accounts.issue(world.trainee, "reset")
    db.session.commit()
    before = (world.trainee.password_hash, tokens())
    forgot = client.post("/password/forgot", data={"email": world.trainee.email})
    assert forgot.status_code == 400
    chosen = client.post(
        f"/password/{raw}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert chosen.status_code == 400
    forged = choose(client, f"/password/{raw}", NEW_PASSWORD, token="forged")
    assert forged.status_code == 400
    db.session.expire_all()
    assert (db.session.get(User, world.trainee.id).password_hash, tokens()) == before
    assert smtp_server.messages == []
    assert accounts.check_token(raw) is not None


def test_the_link_page_in_indonesian_by_default(client, world):
    raw = accounts.issue(world.trainee, "invite")
    db.session.commit()
    page = client.get(f"/password/{raw}")
    assert '<html lang="id">' in page.get_data(as_text=True)
