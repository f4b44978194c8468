"""Every page: security headers, no inline script, targeted hx-post, unique ids; errors."""

from __future__ import annotations

import pytest

from tests.test_http_helpers import act, check_markup, english, login, tags_of
from workflow.services import perform

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def assert_secure(response):
    csp = response.headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'self'")
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    for name, value in HEADERS.items():
        assert response.headers[name] == value


def rendered_pages(client, world):
    """Pages as each role sees them, including forms with fields and error states."""
    pages = [client.get("/login")]
    english(client)
    login(client, world.trainee)
    pages += [client.get("/"), client.get(f"/cases/{world.case.id}"), client.get("/nowhere")]
    perform(world.case, "submit", world.trainee)
    login(client, world.mentor)
    pages += [
        client.get("/"),
        client.get(f"/cases/{world.case.id}"),
        act(client, world.case, "request_revision", {"comment": ""}),
        act(client, world.case, "request_revision", {"comment": ""}, htmx=True),
    ]
    perform(world.case, "approve", world.mentor)
    login(client, world.executive)
    pages += [
        client.get(f"/cases/{world.case.id}"),
        act(client, world.case, "endorse", {"letter_number": "1"}),
    ]
    return pages


def test_every_page_is_secure_and_well_formed(client, world):
    pages = rendered_pages(client, world)
    assert [p.status_code for p in pages] == [200, 200, 200, 404, 200, 200, 422, 422, 200, 422]
    for response in pages:
        assert_secure(response)
        html = response.get_data(as_text=True)
        check_markup(html)
        scripts = [a for t, a in tags_of(html).tags if t == "script"]
        if "<html" in html:
            assert {s["src"] for s in scripts} == {
                "/static/vendor/htmx.min.js",
                "/static/js/app.js",
            }


def test_markup_check_catches_mistakes():
    with pytest.raises(AssertionError, match="hx-target"):
        check_markup('<form hx-post="/x"></form>')
    with pytest.raises(AssertionError, match="duplicate"):
        check_markup('<p id="a"></p><p id="a"></p>')
    with pytest.raises(AssertionError, match="inline"):
        check_markup("<script>alert(1)</script>")


def test_static_files_carry_security_headers(client):
    response = client.get("/static/js/app.js")
    assert response.status_code == 200
    assert_secure(response)
    response.close()


def test_htmx_is_configured_for_csp_and_error_swaps(client):
    html = client.get("/login").get_data(as_text=True)
    meta = [a for t, a in tags_of(html).tags if t == "meta" and a.get("name") == "htmx-config"]
    import json

    config = json.loads(meta[0]["content"])
    assert config["includeIndicatorStyles"] is False
    swapped = {r["code"] for r in config["responseHandling"] if r.get("swap")}
    assert {"40[39]", "422"} <= swapped


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("get", "/nowhere", 404), ("get", "/logout", 405)],
)
def test_html_error_pages(client, method, path, status):
    english(client)
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert "Back to the home page" in response.get_data(as_text=True)
    assert_secure(response)


def test_api_paths_answer_json_errors(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.is_json
    assert isinstance(response.get_json()["message"], str)


def test_server_error_rolls_back_and_shows_page(make_app):
    app = make_app(PROPAGATE_EXCEPTIONS=False, TESTING=False, AKSI_ENV="development")

    @app.get("/boom")
    def boom():
        from workflow.extensions import db
        from workflow.models import Institution

        db.session.add(Institution(code="boom", name="half-written"))
        db.session.flush()
        raise RuntimeError("boom")

    with app.app_context():
        from workflow.extensions import db
        from workflow.models import Institution

        client = app.test_client()
        response = client.get("/boom")
        assert response.status_code == 500
        assert "text/html" in response.content_type
        assert db.session.query(Institution).filter_by(code="boom").count() == 0
