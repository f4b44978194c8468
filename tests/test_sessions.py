"""Sessions end when they should: logout (on every device), a new password, deactivation.

A session's id is "<user id>:<session version>"; raising the version refuses every older
session cookie and remember-me cookie. Cookies are copied between real test clients, as a
thief would copy them.

Requests here run without a test-wide app context, each in its own as in production:
Flask-Login caches the user in `g`, which a shared context would carry from one client's
request into another's."""

from __future__ import annotations

from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from tests import factories
from tests.test_http_helpers import login, page_token
from workflow.extensions import db
from workflow.models import User
from workflow.services import accounts

NEW_PASSWORD = "a-brand-new-pass-9"
ROLES = ("trainee", "mentor", "organizer", "stranger")


class Site:
    """An app on this test's database, its people as plain (id, username) records."""

    def __init__(self, app):
        self.app = app
        with app.app_context():
            world = factories.World()
            admin = factories.create_user(is_admin=True)
            db.session.commit()
            people = {role: getattr(world, role) for role in ROLES} | {"admin": admin}
            self.people = {
                role: SimpleNamespace(id=u.id, username=u.username, email=u.email)
                for role, u in people.items()
            }
            self.case_id = world.case.id

    def __getattr__(self, role):
        try:
            return self.__dict__["people"][role]
        except KeyError:
            raise AttributeError(role) from None

    @contextmanager
    def ctx(self):
        with self.app.app_context():
            yield

    def user(self, person) -> User:
        return db.session.get(User, person.id)

    def client(self):
        return self.app.test_client()


def build_site(make_app, **config) -> Site:
    return Site(make_app(**config))


@pytest.fixture
def site(make_app):
    return build_site(make_app)


def logged_in(client) -> bool:
    return client.get("/").status_code == 200


def copy_of(site, client):
    """Another browser holding the same session cookie."""
    other = site.client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def test_logout_ends_a_copied_cookie_and_the_other_devices(site):
    phone, laptop, mentor = site.client(), site.client(), site.client()
    login(phone, site.trainee)
    login(laptop, site.trainee)
    login(mentor, site.mentor)
    stolen = copy_of(site, phone)
    assert logged_in(stolen) and logged_in(laptop)

    response = phone.post("/logout", data={"csrf_token": page_token(phone, "/")})
    assert response.status_code == 302
    assert not logged_in(phone)
    assert not logged_in(stolen)  # the server refuses the copy, not only the browser
    assert not logged_in(laptop)
    assert logged_in(mentor)  # other people's sessions are untouched
    login(phone, site.trainee)  # and logging in again works
    assert logged_in(phone)


def test_logout_without_csrf_changes_nothing(make_app):
    site = build_site(make_app, WTF_CSRF_ENABLED=True)
    client = site.client()
    login(client, site.trainee)
    with site.ctx():
        before = site.user(site.trainee).session_version
    assert client.post("/logout").status_code == 400
    with site.ctx():
        assert site.user(site.trainee).session_version == before
    assert logged_in(client)


def test_a_new_password_ends_every_session_and_revokes_tokens(site):
    old = site.client()
    login(old, site.trainee)
    with site.ctx():
        token = accounts.issue_api_token(site.user(site.trainee), "script")
        raw = accounts.issue(site.user(site.trainee), accounts.RESET)
        db.session.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    assert old.get("/api/v1/cases", headers=bearer).status_code == 200

    browser = site.client()
    path = f"/password/{raw}"
    done = browser.post(
        path,
        data={
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": page_token(browser, path),
        },
    )
    assert done.status_code == 302
    assert logged_in(browser)  # the one who set it is in, with the new version
    assert not logged_in(old)  # the old session is over
    assert old.get("/api/v1/cases", headers=bearer).status_code == 401


def test_a_password_changed_through_the_model_ends_sessions_too(site):
    client = site.client()
    login(client, site.trainee)
    with site.ctx():
        token = accounts.issue_api_token(site.user(site.trainee))
        site.user(site.trainee).set_password(NEW_PASSWORD)
        db.session.commit()
        assert accounts.user_for_api_token(token) is None
    assert not logged_in(client)


@pytest.mark.parametrize("how", ["service", "attribute"])
def test_deactivation_ends_sessions_and_tokens_for_good(site, how):
    client = site.client()
    login(client, site.trainee)
    stolen = copy_of(site, client)
    with site.ctx():
        token = accounts.issue_api_token(site.user(site.trainee))
        if how == "service":
            accounts.deactivate(site.user(site.trainee))
        else:  # any other path that switches the account off
            site.user(site.trainee).active = False
            db.session.commit()
    assert not logged_in(client) and not logged_in(stolen)
    # Switched on again, the old session and token stay dead.
    with site.ctx():
        site.user(site.trainee).active = True
        db.session.commit()
    assert not logged_in(stolen)
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/cases", headers=bearer).status_code == 401


def test_session_ids_are_checked_against_the_version(site):
    with site.ctx():
        user = site.user(site.trainee)
        current = user.get_id()
        assert current == f"{user.id}:{user.session_version}"
        assert accounts.user_for_session(current) is user
        accounts.end_sessions(user)
        # A remember-me cookie carries the same id: Flask-Login gives it to the same loader.
        refused = [current, str(user.id), "", None, "x:0", f"{user.id}:", ":0", "9" * 40 + ":0"]
        for session_id in refused:
            assert accounts.user_for_session(session_id) is None, session_id
        assert accounts.user_for_session(user.get_id()) == user


def test_a_remember_me_cookie_dies_with_the_session_version(site):
    from flask_login import login_user

    app = site.app
    with app.test_request_context():
        login_user(site.user(site.trainee), remember=True)
        response = app.process_response(app.make_response(""))
        (cookie,) = [
            c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token=")
        ]
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    browser = site.client()
    browser.set_cookie("remember_token", value)
    assert logged_in(browser)
    with site.ctx():
        accounts.end_sessions(site.user(site.trainee))
    fresh = site.client()
    fresh.set_cookie("remember_token", value)
    assert not logged_in(fresh)
