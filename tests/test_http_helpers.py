"""Helpers for the HTTP tests (no tests here): log in through the real form."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tests.factories import PASSWORD

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = TOKEN.search(html)
    assert match, "no csrf_token in the page"
    return match.group(1)


def login(client, user, password: str = PASSWORD):
    """POST /login with the token scraped from the form; works with CSRF on or off."""
    page = client.get("/login")
    if page.status_code == 302:  # someone is logged in on this client: log them out first
        client.post("/logout", data={"csrf_token": page_token(client, "/")})
        page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    response = client.post(
        "/login", data={"username": user.username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def page_token(client, path: str = "/") -> str:
    """A CSRF token from a page of the logged-in session."""
    return csrf_from(client.get(path).get_data(as_text=True))


class Tags(HTMLParser):
    """Collects every start tag with its attributes."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.script_bodies: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.script_bodies.append(data)


def tags_of(html: str) -> Tags:
    parser = Tags()
    parser.feed(html)
    return parser


def check_markup(html: str) -> None:
    """No inline script, no inline handler, every hx-post targeted, no duplicate id."""
    parsed = tags_of(html)
    ids = [a["id"] for _, a in parsed.tags if a.get("id")]
    dupes = {i for i in ids if ids.count(i) > 1}
    assert not dupes, f"duplicate ids: {dupes}"
    for tag, attrs in parsed.tags:
        if tag == "script":
            assert attrs.get("src"), "inline <script> without src"
        if "hx-post" in attrs:
            assert attrs.get("hx-target"), f"hx-post without hx-target: {attrs}"
        assert not any(k.startswith("on") for k in attrs), f"inline handler on <{tag}>"
        assert "style" not in attrs, f"inline style on <{tag}>"
    assert not parsed.script_bodies, "inline script body"


def english(client) -> None:
    """Switch the session to English so assertions do not depend on the catalogue."""
    token = page_token(client, "/login")
    response = client.post("/lang", data={"lang": "en", "next": "/", "csrf_token": token})
    assert response.status_code == 302


def act(
    client,
    case,
    trigger: str,
    data: dict | None = None,
    *,
    htmx: bool = False,
    version: int | None = None,
    token: str | None = None,
):
    """POST an action as the browser would: the form's token, or the header for htmx."""
    token = token or page_token(client, f"/cases/{case.id}")
    form = {"version": case.version if version is None else version, **(data or {})}
    headers = {}
    if htmx:
        headers = {"HX-Request": "true", "X-CSRFToken": token}
    else:
        form["csrf_token"] = token
    return client.post(f"/cases/{case.id}/actions/{trigger}", data=form, headers=headers)


def triggers_in(html: str) -> list[str]:
    """The actions rendered for the user (offered or blocked), in page order."""
    return [a["data-trigger"] for _, a in tags_of(html).tags if "data-trigger" in a]
