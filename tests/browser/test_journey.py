"""Trainee submits, mentor approves: real Chromium, live server, no page reloads."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

from tests import factories
from workflow import create_app
from workflow.extensions import db

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
def live_server(sqlite_template, tmp_path):
    """The app on a SQLite file, served from a thread on 127.0.0.1."""
    path = tmp_path / "live.db"
    shutil.copy(sqlite_template, path)
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "browser-test",
            "RATELIMIT_ENABLED": False,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
        }
    )
    with app.app_context():
        world = factories.World()
        world.case.title = "Penataan Tata Kelola Perencanaan Pembangunan Desa"
        db.session.commit()
        people = {
            "trainee": (world.trainee.username, world.trainee.name),
            "mentor": (world.mentor.username, world.mentor.name),
        }
        case_id = world.case.id
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {
            "url": f"http://127.0.0.1:{server.server_port}",
            "people": people,
            "case_id": case_id,
            "app": app,
        }
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", factories.PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{base}/")


def mark_window(page) -> None:
    """A marker that only survives if the page is never reloaded or navigated."""
    page.evaluate("window.__noReload = 'still here'")


def assert_not_reloaded(page, url: str) -> None:
    assert page.evaluate("window.__noReload") == "still here"
    assert page.url == url


@pytest.mark.browser
def test_trainee_submits_and_mentor_approves_without_reload(live_server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    base, case_id = live_server["url"], live_server["case_id"]
    problems: list[str] = []

    # A phone-sized window: the people who use this are mostly on phones.
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="id-ID")
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    # Trainee: home lists the case to act on; the case page offers "submit".
    log_in(page, base, live_server["people"]["trainee"][0])
    expect(page.locator(".todo-list")).to_contain_text("Penyusunan rancangan")
    page.screenshot(path=str(ARTIFACTS / "trainee-home.png"), full_page=True, caret="initial")
    page.click(f".todo-list a[href='/cases/{case_id}']")
    page.wait_for_url(f"{base}/cases/{case_id}")
    expect(page.locator(".state-label")).to_have_text("Penyusunan rancangan")
    page.screenshot(path=str(ARTIFACTS / "trainee-case.png"), full_page=True, caret="initial")

    mark_window(page)
    page.click("form[data-trigger='submit'] button")
    expect(page.locator(".state-label")).to_have_text("Menunggu persetujuan mentor")
    expect(page.locator("#case-status .alert-success")).to_be_visible()
    expect(page.locator("#case-status .event").first).to_contain_text(
        live_server["people"]["trainee"][1]
    )
    assert_not_reloaded(page, f"{base}/cases/{case_id}")
    page.screenshot(path=str(ARTIFACTS / "trainee-submitted.png"), full_page=True, caret="initial")
    context.close()

    # Mentor: the case now waits for them; approve (its optional comment opens inline).
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="id-ID")
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    log_in(page, base, live_server["people"]["mentor"][0])
    expect(page.locator(".todo-list")).to_contain_text("Menunggu persetujuan mentor")
    page.goto(f"{base}/cases/{case_id}")
    mark_window(page)
    page.click("details[data-trigger='approve'] > summary")
    page.fill("#f-approve-comment", "Rancangan sudah baik, lanjutkan.")
    page.screenshot(path=str(ARTIFACTS / "mentor-case.png"), full_page=True, caret="initial")
    page.click("details[data-trigger='approve'] form button[type=submit]")
    expect(page.locator(".state-label")).to_have_text("Menunggu dukungan pimpinan")
    expect(page.locator("#case-status .event").first).to_contain_text(
        "Rancangan sudah baik, lanjutkan."
    )
    assert_not_reloaded(page, f"{base}/cases/{case_id}")
    page.screenshot(path=str(ARTIFACTS / "mentor-approved.png"), full_page=True, caret="initial")
    context.close()

    assert problems == [], problems
