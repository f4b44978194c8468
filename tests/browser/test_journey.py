"""Trainee submits, mentor approves: real Chromium, live server, no page reloads."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import ARTIFACTS, log_in
from workflow.extensions import db


@pytest.fixture
def live_server(serve):
    def setup():
        world = factories.World()
        world.case.title = "Penataan Tata Kelola Perencanaan Pembangunan Desa"
        db.session.commit()
        return {
            "people": {
                "trainee": (world.trainee.username, world.trainee.name),
                "mentor": (world.mentor.username, world.mentor.name),
            },
            "case_id": world.case.id,
        }

    return serve(setup)


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
