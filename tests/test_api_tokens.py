"""API tokens: several per person, expiring, listed and revoked by their owner (htmx page)
and by an admin; the migration moves the old single token into the table."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from flask_migrate import downgrade, upgrade
from sqlalchemy import event, func, select, text

from tests.test_http_helpers import csrf_from, english, login, page_token
from tests.test_sessions import build_site
from workflow.extensions import db
from workflow.models._base import utcnow
from workflow.models.people import ApiToken, hash_token
from workflow.services import accounts


@pytest.fixture
def site(make_app):
    return build_site(make_app)


def api(client, token):
    return client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"}).status_code


def token_rows(site):
    with site.ctx():
        return [
            (t.name, t.revoked_at is not None)
            for t in db.session.scalars(select(ApiToken).order_by(ApiToken.id))
        ]


def test_owner_creates_lists_uses_and_revokes_tokens(site):
    client = site.client()
    english(client)
    login(client, site.trainee)
    page = client.get("/account/tokens")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert "No tokens yet." in html

    created = client.post(
        "/account/tokens",
        data={"name": "spreadsheet sync", "csrf_token": csrf_from(html)},
        headers={"HX-Request": "true"},
    )
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    fragment = created.get_data(as_text=True)
    assert fragment.startswith('<section id="api-tokens"')
    raw = fragment.split('<code class="token-value">')[1].split("</code>")[0]
    assert api(client, raw) == 200
    second = accounts_token(site, "nightly export")  # several at once, each valid
    assert api(client, second) == 200
    with site.ctx():
        (stored,) = db.session.scalars(select(ApiToken).where(ApiToken.name == "spreadsheet sync"))
        assert stored.token_hash == hash_token(raw) and raw not in stored.token_hash
        assert stored.last_used_at is not None  # stamped by the call above
        lifetime = stored.expires_at - stored.created_at
        assert lifetime == timedelta(days=90)
        token_id = stored.id

    listed = client.get("/account/tokens").get_data(as_text=True)
    assert "spreadsheet sync" in listed and "nightly export" in listed
    assert raw not in listed  # shown once only
    revoked = client.post(
        f"/account/tokens/{token_id}/revoke",
        data={"csrf_token": csrf_from(listed)},
        headers={"HX-Request": "true"},
    )
    assert revoked.status_code == 200
    assert "no longer opens the API" in revoked.get_data(as_text=True)
    assert api(client, raw) == 401
    assert api(client, second) == 200  # the other one stays
    assert token_rows(site) == [("spreadsheet sync", True), ("nightly export", False)]


def accounts_token(site, name, person=None):
    with site.ctx():
        return accounts.issue_api_token(site.user(person or site.trainee), name)


@pytest.mark.parametrize(
    ("name", "message"), [("", "Give the token a name"), ("x" * 101, "at most 100")]
)
def test_a_bad_name_is_refused_beside_the_field_and_writes_nothing(site, name, message):
    client = site.client()
    english(client)
    login(client, site.trainee)
    response = client.post(
        "/account/tokens", data={"name": name, "csrf_token": page_token(client, "/account/tokens")}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and 'id="token-name-error"' in html and 'aria-invalid="true"' in html
    assert token_rows(site) == []


def test_without_csrf_nothing_is_created_or_revoked(make_app):
    site = build_site(make_app, WTF_CSRF_ENABLED=True)
    raw = accounts_token(site, "keep")
    client = site.client()
    login(client, site.trainee)
    with site.ctx():
        token_id = db.session.scalar(select(ApiToken.id))
    assert client.post("/account/tokens", data={"name": "x"}).status_code == 400
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 400
    assert token_rows(site) == [("keep", False)]
    assert api(client, raw) == 200


def test_others_tokens_are_404_but_an_admin_lists_and_revokes_them(site):
    raw = accounts_token(site, "mentor script", site.mentor)
    with site.ctx():
        token_id = db.session.scalar(select(ApiToken.id))
    stranger = site.client()
    login(stranger, site.trainee)
    token = page_token(stranger, "/account/tokens")
    assert stranger.get(f"/account/tokens/user/{site.mentor.id}").status_code == 404
    revoke = stranger.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": token})
    assert revoke.status_code == 404
    assert api(stranger, raw) == 200  # refused: nothing written

    admin = site.client()
    login(admin, site.admin)
    page = admin.get(f"/account/tokens/user/{site.mentor.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "mentor script" in html
    assert 'action="/account/tokens"' not in html  # an admin cannot mint tokens for others
    done = admin.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf_from(html)})
    assert done.status_code == 302
    assert done.location == f"/account/tokens/user/{site.mentor.id}"
    assert api(admin, raw) == 401
    assert admin.get("/account/tokens/user/999999").status_code == 404


def test_tokens_expire_after_the_configured_days(make_app):
    site = build_site(make_app, AKSI_TOKEN_DAYS=30)
    raw = accounts_token(site, "short")
    client = site.client()
    with time_machine.travel(utcnow() + timedelta(days=29, hours=23), tick=False):
        assert api(client, raw) == 200
    with time_machine.travel(utcnow() + timedelta(days=30, minutes=1), tick=False):
        assert api(client, raw) == 401
        english(client)
        login(client, site.trainee)
        assert "Expired" in client.get("/account/tokens").get_data(as_text=True)


def test_the_cli_replaces_only_its_own_token(site):
    runner = site.app.test_cli_runner()
    page_made = accounts_token(site, "from the page")
    first = runner.invoke(args=["aksi", "token", site.trainee.username]).output.strip()
    second = runner.invoke(args=["aksi", "token", site.trainee.username]).output.strip()
    client = site.client()
    assert (api(client, first), api(client, second), api(client, page_made)) == (401, 200, 200)


def test_the_token_page_does_not_query_per_token(site):
    client = site.client()
    login(client, site.trainee)

    def statements() -> int:
        seen = []
        with site.ctx():
            engine = db.engine
        record = lambda *_: seen.append(1)  # noqa: E731
        event.listen(engine, "before_cursor_execute", record)
        try:
            assert client.get("/account/tokens").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return len(seen)

    accounts_token(site, "one")
    few = statements()
    for n in range(12):
        accounts_token(site, f"more {n}")
    assert statements() == few


def test_the_migration_moves_the_old_token_into_the_table(app, client):
    downgrade(revision="087437219ac0")
    raw = "an-old-single-token-value"
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, name, position, password_hash, is_admin,"
                " active, created_at, api_token_hash) VALUES (7, 'old', 'Old', '', '', false,"
                " true, '2026-01-01 00:00:00', :hash)"
            ),
            {"hash": hash_token(raw)},
        )
    upgrade()
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT api_token_hash FROM users")).all() == [(None,)]
        assert conn.execute(text("SELECT session_version FROM users")).all() == [(0,)]
        moved = conn.execute(text("SELECT user_id, token_hash, revoked_at FROM api_tokens")).all()
    assert moved == [(7, hash_token(raw), None)]
    assert api(client, raw) == 200
    db.session.remove()  # the request's transaction would block the DROPs on PostgreSQL
    # Back down, the old code finds the token in its column again.
    downgrade(revision="087437219ac0")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT api_token_hash FROM users")).all() == [(hash_token(raw),)]
    upgrade()
    assert db.session.scalar(select(func.count(ApiToken.id))) == 1
