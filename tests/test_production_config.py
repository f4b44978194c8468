"""Production start-up: no start without a real SECRET_KEY; HTTPS settings (HSTS, Secure
cookies), one trusted proxy hop, and no-store on a signed-in user's pages."""

from __future__ import annotations

import pytest
from flask import request
from itsdangerous import BadSignature

from tests.test_http_helpers import login
from workflow import create_app
from workflow.config import DEV_SECRET_KEY

REAL_KEY = "k" * 48
PLAIN = {"SQLALCHEMY_DATABASE_URI": "sqlite://", "RATELIMIT_ENABLED": False}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    # The shell running the tests must not decide what these tests see.
    for name in ("AKSI_ENV", "SECRET_KEY", "AKSI_HTTPS", "AKSI_PROXY_HOPS"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    "key, problem",
    [
        (None, "SECRET_KEY is not set"),
        ("", "SECRET_KEY is not set"),
        (DEV_SECRET_KEY, "development default"),
        ("x" * 31, "shorter than 32"),
    ],
)
def test_production_refuses_to_start_without_a_real_secret_key(key, problem):
    with pytest.raises(RuntimeError) as caught:
        create_app({**PLAIN, "SECRET_KEY": key})
    text = str(caught.value)
    assert problem in text and "SECRET_KEY" in text
    assert "secrets.token_urlsafe" in text and "AKSI_ENV=development" in text


def test_production_is_the_default_and_read_from_the_environment(monkeypatch):
    with pytest.raises(RuntimeError):
        create_app(PLAIN)
    monkeypatch.setenv("SECRET_KEY", REAL_KEY)
    assert create_app(PLAIN).config["SECRET_KEY"] == REAL_KEY


def test_an_unknown_environment_is_refused(monkeypatch):
    monkeypatch.setenv("AKSI_ENV", "dev")
    with pytest.raises(RuntimeError, match="AKSI_ENV must be one of production, development"):
        create_app({**PLAIN, "SECRET_KEY": REAL_KEY})


def test_development_and_tests_start_with_the_development_key(monkeypatch):
    assert create_app({**PLAIN, "TESTING": True}).config["SECRET_KEY"] == DEV_SECRET_KEY
    monkeypatch.setenv("AKSI_ENV", "development")
    assert create_app(PLAIN).config["SECRET_KEY"] == DEV_SECRET_KEY


def test_a_cookie_signed_with_the_development_key_is_worthless_in_production():
    """The forged-admin attack: a session signed with the well-known key."""
    dev = create_app({**PLAIN, "AKSI_ENV": "development"})
    prod = create_app({**PLAIN, "SECRET_KEY": REAL_KEY})
    forged = dev.session_interface.get_signing_serializer(dev).dumps(
        {"_user_id": "1", "_fresh": True}
    )
    assert dev.session_interface.get_signing_serializer(dev).loads(forged)["_user_id"] == "1"
    with pytest.raises(BadSignature):
        prod.session_interface.get_signing_serializer(prod).loads(forged)


def test_proxy_hops_must_be_a_whole_number(monkeypatch):
    monkeypatch.setenv("AKSI_PROXY_HOPS", "one")
    with pytest.raises(ValueError, match="AKSI_PROXY_HOPS"):
        create_app({**PLAIN, "TESTING": True})
    monkeypatch.delenv("AKSI_PROXY_HOPS")
    with pytest.raises(RuntimeError, match="AKSI_PROXY_HOPS"):
        create_app({**PLAIN, "TESTING": True, "AKSI_PROXY_HOPS": -1})


def _probe(app):
    @app.get("/_probe")
    def _probe_view():
        return {"addr": request.remote_addr, "scheme": request.scheme, "host": request.host}

    return app.test_client()


FORWARDED = {
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "aksi.example.id",
}


def test_without_a_proxy_forwarded_headers_are_ignored():
    seen = _probe(create_app({**PLAIN, "TESTING": True})).get("/_probe", headers=FORWARDED).json
    assert seen == {"addr": "127.0.0.1", "scheme": "http", "host": "localhost"}


def test_one_proxy_hop_is_trusted_for_address_scheme_and_host():
    app = create_app({**PLAIN, "TESTING": True, "AKSI_PROXY_HOPS": 1})
    client = _probe(app)
    seen = client.get("/_probe", headers=FORWARDED).json
    assert seen == {"addr": "203.0.113.9", "scheme": "https", "host": "aksi.example.id"}
    # Only the last hop counts: an address the client put in front is not believed.
    chained = {**FORWARDED, "X-Forwarded-For": "10.6.6.6, 203.0.113.9"}
    assert client.get("/_probe", headers=chained).json["addr"] == "203.0.113.9"


def test_behind_https_cookies_are_secure_and_hsts_is_sent(make_app):
    app = make_app(AKSI_HTTPS=True)
    assert app.config["REMEMBER_COOKIE_SECURE"] and app.config["PREFERRED_URL_SCHEME"] == "https"
    response = app.test_client().get("/login")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Secure" in response.headers["Set-Cookie"]
    assert "HttpOnly" in response.headers["Set-Cookie"]


def test_over_plain_http_no_hsts_and_no_secure_flag(client):
    response = client.get("/login")
    assert "Strict-Transport-Security" not in response.headers
    assert "Secure" not in response.headers["Set-Cookie"]


def test_signed_in_pages_are_not_stored_but_static_files_and_anonymous_pages_may_be(client, world):
    anonymous = client.get("/login")
    assert "no-store" not in anonymous.headers.get("Cache-Control", "")
    login(client, world.trainee)
    page = client.get(f"/cases/{world.case.id}")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    # The security headers set elsewhere are kept.
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    fragment = client.get(f"/cases/{world.case.id}", headers={"HX-Request": "true"})
    assert fragment.headers["Cache-Control"] == "no-store"
    static = client.get("/static/css/app.css")
    assert static.status_code == 200
    assert "no-store" not in static.headers.get("Cache-Control", "")
    static.close()
