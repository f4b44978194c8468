"""Journey: a year after passing, the alumnus reports the 12-month follow-up on a phone —
still running, where each medium- and long-term result stands, a photo — from the home
page's "follow-up due"; the mentor confirms it on the case page. Real Chromium, live server
at the real date. (The lead adds the last step: the showcase shows it to a visitor.)"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import pytest
from flask import current_app
from PIL import Image, ImageDraw
from playwright.sync_api import expect
from sqlalchemy import select

from tests import factories
from tests.browser.conftest import ARTIFACTS, log_in
from tests.test_followup import graduate
from workflow.extensions import db
from workflow.models import Case, User
from workflow.services import followup as fu
from workflow.services import showcase
from workflow.services.milestones import today_for

NARRATIVE = "Pembinaan terpadu kini berjalan di enam kecamatan; perbup sedang dibahas."


@pytest.fixture
def followup_server(serve, tmp_path):
    """A live server with a case that passed a year and five days ago: its 12-month
    follow-up is due now."""

    def setup():
        current_app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
        world = factories.World(version=None)
        world.mentor.agency = world.trainee.agency  # still the alumnus's superior
        today = today_for(world.case)
        passed = fu.add_months(today, -12) - timedelta(days=5)
        medium, long = graduate(world, datetime.combine(passed, time(3, 0)))
        return {
            "people": {r: world.by_role(r).username for r in ("trainee", "mentor")},
            "organizer": world.organizer.username,
            "case_id": world.case.id,
            "medium": medium.id,
            "long": long.id,
        }

    return serve(setup)


def new_page(browser, problems, phone: bool = True):
    size = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
    context = browser.new_context(viewport=size, locale="id-ID")
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return context, page


def make_jpeg(path) -> str:
    image = Image.new("RGB", (1200, 800), (46, 111, 84))
    ImageDraw.Draw(image).rectangle((300, 200, 900, 600), fill=(240, 240, 240))
    image.save(path, "JPEG")
    return str(path)


def test_alumnus_reports_the_12_month_follow_up_and_the_mentor_confirms(
    browser, followup_server, tmp_path
):
    srv = followup_server
    base, case_id = srv["url"], srv["case_id"]
    problems: list[str] = []

    # The alumnus, on a phone: the home page lists the follow-up due; it opens the form.
    context, page = new_page(browser, problems)
    log_in(page, base, srv["people"]["trainee"])
    todo = page.locator(f'[data-follow-up="{case_id}-12"] a')
    expect(todo).to_be_visible()
    todo.click()
    page.wait_for_url(re.compile(rf"/cases/{case_id}#follow-up-12$"))
    round_12 = page.locator("#follow-up-12")
    form = round_12.locator("form")
    expect(form).to_be_visible()
    # No horizontal scrolling on the phone.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

    form.locator("label[for='fu12-running-yes']").click()
    status_m = fu.result_field(srv["medium"], "status")
    status_l = fu.result_field(srv["long"], "status")
    form.locator(f"label[for='fu12-{status_m}-achieved']").click()
    form.locator(f"#fu12-{fu.result_field(srv['medium'], 'achieved_quantity')}").fill("6")
    form.locator(f"label[for='fu12-{status_l}-running']").click()
    form.locator(f"#fu12-{fu.result_field(srv['long'], 'note')}").fill(
        "Draf perbup di bagian hukum"
    )
    form.locator("#fu12-narrative").fill(NARRATIVE)
    form.locator("#fu12-files").set_input_files(make_jpeg(tmp_path / "kegiatan.jpg"))
    form.locator("button[type=submit]").click()

    round_12 = page.locator("#follow-up-12")
    expect(round_12.locator(".fu-badge")).to_have_class(re.compile(r"\bfu-badge-reported\b"))
    expect(round_12).to_contain_text(NARRATIVE)
    expect(round_12.locator(".thumbs img, .files a")).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "followup-alumnus-phone.png"), full_page=True)
    context.close()

    # The mentor confirms from the case page.
    context, page = new_page(browser, problems, phone=False)
    log_in(page, base, srv["people"]["mentor"])
    expect(page.locator(f'[data-follow-up="{case_id}-12"]')).to_be_visible()
    page.goto(f"{base}/cases/{case_id}#follow-up-12")
    decide = page.locator("#follow-up-12 .fu-decide")
    decide.locator("textarea[name=comment]").first.fill("Sesuai kondisi di lapangan.")
    decide.locator("form").first.locator("button[type=submit]").click()
    badge = page.locator("#follow-up-12 .fu-badge")
    expect(badge).to_have_class(re.compile(r"\bfu-badge-confirmed\b"))
    expect(page.locator("#follow-up-12 .decision")).to_contain_text("Sesuai kondisi di lapangan.")
    page.screenshot(path=str(ARTIFACTS / "followup-mentor-confirmed.png"), full_page=True)
    context.close()

    with srv["app"].app_context():
        assert fu.sustainability_of([case_id]) == {case_id: fu.RUNNING}
        # The alumnus and the institution consent to the public showcase.
        case = db.session.get(Case, case_id)
        organizer = db.session.scalar(select(User).where(User.username == srv["organizer"]))
        showcase.give_consent(case, case.trainee, "trainee")
        showcase.give_consent(case, organizer, "institution")
        title = case.title
        db.session.remove()

    # An anonymous visitor (no login) sees the change action and that it still runs.
    context, page = new_page(browser, problems)
    page.goto(f"{base}/showcase/actions/{case_id}")
    expect(page.locator("h1")).to_contain_text(title)
    expect(page.locator('[data-field="sustainability"]')).to_contain_text("Masih berjalan")
    # Results against targets are the confirmed follow-up's: the medium term's 6 reached.
    achieved = page.locator('td[data-label="Capaian"]').filter(has_text=re.compile(r"\b6\b"))
    expect(achieved).to_have_count(1)
    expect(page.locator("body")).not_to_contain_text(NARRATIVE)  # the report stays private
    page.screenshot(path=str(ARTIFACTS / "showcase-anonymous-phone.png"), full_page=True)
    context.close()
    assert not problems, problems
