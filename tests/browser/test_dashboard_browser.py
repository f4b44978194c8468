"""The cohort dashboard in real Chromium: select every row, only the chosen action's fields,
a bulk deadline extension reported row by row, filters and sort swapped by htmx with the
URL following — and no CSP complaint. Live server at the real date."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, log_in
from tests.factories import World
from tests.test_dashboard import _visits, build_scene
from workflow.services.milestones import today_for


@pytest.fixture
def dashboard_server(serve):  # noqa: F811
    def setup():
        scene = build_scene(World())
        _visits(scene)
        return {
            "organizer": scene.users["organizer"].username,
            "cohort_id": scene.world.cohort.id,
            "new_due": (today_for(scene.world.case) + timedelta(days=40)).isoformat(),
        }

    return serve(setup)


@pytest.mark.browser
def test_bulk_extend_and_filter_in_the_browser(dashboard_server, browser):  # noqa: F811
    base = dashboard_server["url"]
    problems: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    log_in(page, base, dashboard_server["organizer"])

    page.goto(f"{base}/dashboard")
    expect(page.locator("#per-cohort")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"), full_page=True)
    page.click(f"#per-cohort a[href='/dashboard/cohorts/{dashboard_server['cohort_id']}']")
    expect(page.locator("#trainee-table tbody tr")).to_have_count(5)
    expect(page.locator("#time-chart .chart-row")).to_have_count(5)

    # Select all (the box only shows with JavaScript), then only the extension's fields.
    page.check("#select-all")
    expect(page.locator("input[data-pick]:checked")).to_have_count(5)
    expect(page.locator("[data-selected-count]")).to_contain_text("5")
    page.select_option("#bulk-action", "extend_deadline")
    expect(page.locator("#bulk-message")).to_be_hidden()
    expect(page.locator("#bulk-reason")).to_be_visible()
    page.fill("#bulk-due_date", dashboard_server["new_due"])
    page.fill("#bulk-reason", "Libur bersama di daerah.")
    page.click("#bulk-controls button[type=submit]")
    results = page.locator("#bulk-results li")
    expect(results).to_have_count(5)
    # The finished case refuses; the four others are extended, each on its own.
    expect(page.locator("#bulk-results li[data-ok='yes']")).to_have_count(4)
    expect(page.locator("#bulk-results li[data-ok='no']")).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "dashboard-cohort-bulk.png"), full_page=True)

    # Filters and sort swap the table and keep the URL in step.
    page.select_option("#filter-state", "implementation")
    expect(page.locator("#trainee-table tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"state=implementation"))
    page.select_option("#filter-state", "")
    expect(page.locator("#trainee-table tbody tr")).to_have_count(5)
    page.click("#trainee-table th a:text-is('Peserta'), #trainee-table th a:text-is('Trainee')")
    expect(page.locator("#trainee-table th[aria-sort='descending']")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"dir=desc"))
    page.fill("#filter-q", "lestari")
    expect(page.locator("#trainee-table tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=lestari.*dir=desc|dir=desc.*q=lestari"))
    page.screenshot(path=str(ARTIFACTS / "dashboard-cohort-filtered.png"), full_page=True)
    assert problems == []
    context.close()
