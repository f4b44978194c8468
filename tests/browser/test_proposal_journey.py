"""Journey (a): the trainee writes a proposal in the editor, leaves and comes back, submits;
the mentor asks for a revision; the trainee revises; the mentor reads the diff and approves;
the executive endorses; the case is in implementation. Real Chromium, live server."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import ARTIFACTS, log_in

SAVED = re.compile(r"\bis-saved\b")


@pytest.fixture
def empty_draft_server(serve):
    """A live server with a case whose proposal is still empty."""

    def setup():
        world = factories.World(complete=False)
        return {
            "people": {r: world.by_role(r).username for r in ("trainee", "mentor", "executive")},
            "case_id": world.case.id,
        }

    return serve(setup)


def new_page(browser, problems):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="id-ID")
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return context, page


def type_and_wait(page, name: str, text: str) -> None:
    page.fill(f"#f-{name}", text)
    expect(page.locator(f"#fs-{name}")).to_have_class(SAVED)


def add_milestone(page, term, activity, day, quantity, unit) -> None:
    form = page.locator("#row-milestones-new")
    if not form.is_visible():
        page.click("#rows-milestones .row-add > summary")
    form.locator("select[name=term]").select_option(term)
    form.locator("textarea[name=activity]").fill(activity)
    form.locator("input[name=output]").fill("Dokumen")
    form.locator("input[name=target_date]").fill(day)
    form.locator("input[name=target_quantity]").fill(quantity)
    form.locator("input[name=target_unit]").fill(unit)
    form.locator("button[type=submit]").click()


@pytest.mark.browser
def test_proposal_written_revised_approved_endorsed(empty_draft_server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    base, case_id = empty_draft_server["url"], empty_draft_server["case_id"]
    people = empty_draft_server["people"]
    problems: list[str] = []
    editor_url = f"{base}/cases/{case_id}/proposal/edit"

    # Trainee: from the case page into the editor; write, leave mid-way, come back.
    context, page = new_page(browser, problems)
    log_in(page, base, people["trainee"])
    page.goto(f"{base}/cases/{case_id}")
    page.click(f"a[href='/cases/{case_id}/proposal/edit']")
    page.wait_for_url(editor_url)
    expect(page.locator("#proposal-submit .reasons")).to_be_visible()  # what is missing
    type_and_wait(page, "title", "Desa Terpadu: pembinaan perencanaan di Kutai Kartanegara")
    type_and_wait(page, "background_current", "Perencanaan desa belum terpadu.")
    type_and_wait(page, "background_ideal", "Perencanaan desa terpadu dan terbina.")
    add_milestone(page, "short", "Menyusun pedoman pembinaan", "2026-04-15", "1", "dokumen")
    expect(page.locator("#row-milestones-0 textarea[name=activity]")).to_have_value(
        "Menyusun pedoman pembinaan"
    )
    page.screenshot(
        path=str(ARTIFACTS / "trainee-editor-midway.png"), full_page=True, caret="initial"
    )

    page.goto(f"{base}/cases/{case_id}")  # leave…
    page.goto(editor_url)  # …and come back: everything is there
    expect(page.locator("#f-title")).to_have_value(
        "Desa Terpadu: pembinaan perencanaan di Kutai Kartanegara"
    )
    expect(page.locator("#f-background_ideal")).to_have_value(
        "Perencanaan desa terpadu dan terbina."
    )
    expect(page.locator("#row-milestones-0 input[name=target_date]")).to_have_value("2026-04-15")

    type_and_wait(page, "core_issue", "Belum optimalnya tata kelola perencanaan desa.")
    type_and_wait(page, "objective_short", "Tersusunnya pedoman pembinaan terpadu.")
    type_and_wait(page, "innovation", "Pembinaan terpadu lintas OPD.")
    add_milestone(
        page, "medium", "Menerapkan pedoman di 18 kecamatan", "2026-10-30", "18", "kecamatan"
    )
    expect(page.locator("#row-milestones-1 textarea[name=activity]")).to_have_value(
        "Menerapkan pedoman di 18 kecamatan"
    )
    submit = page.locator("#proposal-submit form[data-trigger=submit] button[type=submit]")
    expect(submit).to_be_enabled()
    page.screenshot(path=str(ARTIFACTS / "trainee-editor.png"), full_page=True, caret="initial")
    submit.click()
    page.wait_for_url(f"{base}/cases/{case_id}")
    expect(page.locator(".state-label")).to_have_text("Menunggu persetujuan mentor")
    context.close()

    # Mentor: asks for a revision with a comment, from the case page.
    context, page = new_page(browser, problems)
    log_in(page, base, people["mentor"])
    page.goto(f"{base}/cases/{case_id}")
    page.click("details[data-trigger='request_revision'] > summary")
    page.fill("#f-request_revision-comment", "Pertajam isu inti: sebutkan datanya.")
    page.click("details[data-trigger='request_revision'] form button[type=submit]")
    expect(page.locator(".state-label")).to_have_text("Perlu revisi")
    context.close()

    # Trainee: sees the comment in the editor, revises, resubmits.
    context, page = new_page(browser, problems)
    log_in(page, base, people["trainee"])
    page.goto(editor_url)
    expect(page.locator(".feedback")).to_contain_text("Pertajam isu inti: sebutkan datanya.")
    type_and_wait(page, "core_issue", "Belum optimalnya tata kelola perencanaan di 227 desa.")
    page.screenshot(
        path=str(ARTIFACTS / "trainee-editor-revision.png"), full_page=True, caret="initial"
    )
    page.click("#proposal-submit form[data-trigger=submit] button[type=submit]")
    page.wait_for_url(f"{base}/cases/{case_id}")
    expect(page.locator(".state-label")).to_have_text("Menunggu persetujuan mentor")
    context.close()

    # Mentor: reads what changed, then approves.
    context, page = new_page(browser, problems)
    log_in(page, base, people["mentor"])
    page.goto(f"{base}/cases/{case_id}/proposal/diff")
    changed = page.locator(".diff-section[data-field=core_issue]")
    expect(changed.locator("ins")).to_have_text("di 227 ")
    expect(changed).to_contain_text("Belum optimalnya tata kelola perencanaan di 227 desa.")
    expect(page.locator(".diff-section")).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "mentor-diff.png"), full_page=True, caret="initial")
    page.goto(f"{base}/cases/{case_id}")
    page.click("details[data-trigger='approve'] > summary")
    page.click("details[data-trigger='approve'] form button[type=submit]")
    expect(page.locator(".state-label")).to_have_text("Menunggu dukungan pimpinan")
    context.close()

    # Executive: endorses with a letter number and date.
    context, page = new_page(browser, problems)
    log_in(page, base, people["executive"])
    page.goto(f"{base}/cases/{case_id}")
    page.click("details[data-trigger='endorse'] > summary")
    page.fill("#f-endorse-letter_number", "800/123/DPMD/2026")
    page.fill("#f-endorse-letter_date", "2026-03-05")
    page.click("details[data-trigger='endorse'] form button[type=submit]")
    expect(page.locator(".state-label")).to_have_text("Implementasi")
    context.close()

    # Trainee: the case is in implementation, and the editor is closed.
    context, page = new_page(browser, problems)
    log_in(page, base, people["trainee"])
    page.goto(f"{base}/cases/{case_id}")
    expect(page.locator(".state-label")).to_have_text("Implementasi")
    expect(page.locator(f"a[href='/cases/{case_id}/proposal/edit']")).to_have_count(0)
    context.close()
    assert not problems, problems
