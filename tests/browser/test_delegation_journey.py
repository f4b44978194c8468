"""Journey (b): the executive names an acting official (Plt.), who logs in, endorses on the
executive's behalf with a letter number, and the printed proposal says so."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from tests import factories
from tests.browser.conftest import ARTIFACTS, log_in
from workflow.extensions import db
from workflow.models._base import utcnow
from workflow.services import perform
from workflow.services.calendar import local_date

LETTER = "800/417/DPMD-KK/2026"


@pytest.fixture
def acting_server(serve):
    """A case awaiting the executive's endorsement, and a colleague to act for them."""

    def setup():
        world = factories.World()
        world.executive.name = "H. Sunggono, S.Sos., M.M."
        world.executive.nip = "196805121990031004"
        world.mentor.name = "Dr. Rahmat Hidayat"
        world.mentor.nip = "197203151998031002"
        deputy = factories.create_user("plt.kadis", name="Ir. Wahyuni Lestari")
        deputy.nip = "197510202000032001"
        db.session.commit()
        perform(world.case, "submit", world.trainee)
        perform(world.case, "approve", world.mentor, comment="Layak dilanjutkan.")
        return {
            "executive": world.executive.username,
            "deputy": deputy.username,
            "case_id": world.case.id,
            "today": local_date(utcnow(), "Asia/Jakarta"),
        }

    return serve(setup)


def squash(text: str) -> str:
    return "".join(text.split())


@pytest.mark.browser
def test_acting_official_endorses_and_the_pdf_shows_it(acting_server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    base, case_id = acting_server["url"], acting_server["case_id"]
    problems: list[str] = []

    def watch(page):
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

    # The executive names an acting official for the next days.
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="id-ID")
    page = context.new_page()
    watch(page)
    log_in(page, base, acting_server["executive"])
    page.goto(f"{base}/delegations")
    page.select_option("#d-role", "executive")
    page.fill("#d-delegate", acting_server["deputy"])
    page.check("input[name=kind][value=plt]")
    page.fill("#d-starts_on", acting_server["today"].isoformat())
    page.fill("#d-ends_on", (acting_server["today"] + timedelta(days=5)).isoformat())
    page.fill("#d-sk_number", "821/45/BKD/2026")
    page.fill("#d-sk_date", acting_server["today"].isoformat())
    page.fill("#d-reason", "Pejabat definitif cuti")
    page.click("form[action='/delegations'] button[type=submit]")
    page.wait_for_url(f"{base}/delegations")
    expect(page.locator("table.delegations")).to_contain_text("Ir. Wahyuni Lestari")
    expect(page.locator("table.delegations")).to_contain_text("Plt.")
    expect(page.locator("table.delegations")).to_contain_text("821/45/BKD/2026")
    page.screenshot(path=str(ARTIFACTS / "executive-delegations.png"), full_page=True)
    context.close()

    # The acting official: the banner, the queue, the case; endorse with a letter number.
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="id-ID")
    page = context.new_page()
    watch(page)
    log_in(page, base, acting_server["deputy"])
    expect(page.locator("#acting-banner")).to_contain_text("H. Sunggono, S.Sos., M.M.")
    expect(page.locator("#acting-banner")).to_contain_text("Plt.")
    expect(page.locator(".todo-list")).to_contain_text("Menunggu dukungan pimpinan")
    page.screenshot(path=str(ARTIFACTS / "acting-official-home.png"), full_page=True)
    page.click(f".todo-list a[href='/cases/{case_id}']")
    page.wait_for_url(f"{base}/cases/{case_id}")
    page.click("details[data-trigger='endorse'] > summary")
    page.fill("#f-endorse-letter_number", LETTER)
    page.fill("#f-endorse-letter_date", acting_server["today"].isoformat())
    page.click("details[data-trigger='endorse'] form button[type=submit]")
    expect(page.locator(".state-label")).to_have_text("Implementasi")
    first_event = page.locator("#case-status .event").first
    expect(first_event).to_contain_text("Ir. Wahyuni Lestari")
    expect(first_event).to_contain_text("a.n. H. Sunggono, S.Sos., M.M. (Plt.)")
    expect(first_event).to_contain_text(LETTER)
    page.screenshot(path=str(ARTIFACTS / "acting-official-endorsed.png"), full_page=True)

    # The printable proposal, fetched through the page's own link with this session.
    href = page.get_attribute("a[href$='/proposal.pdf']", "href")
    assert href == f"/cases/{case_id}/proposal.pdf"
    response = context.request.get(f"{base}{href}")
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    pdf = response.body()
    assert pdf.startswith(b"%PDF")
    (ARTIFACTS / "acting-official-proposal.pdf").write_bytes(pdf)
    approval = squash(PdfReader(io.BytesIO(pdf)).pages[-1].extract_text())
    # Tata naskah dinas: "Plt." before the jabatan, then the acting official's own name,
    # and the decree.
    assert "Plt." in approval
    assert approval.index("Plt.") < approval.index(squash("Ir. Wahyuni Lestari"))
    assert squash("821/45/BKD/2026") in approval
    assert squash("NIP. 197510202000032001") in approval
    assert squash(LETTER) in approval
    assert squash("Dr. Rahmat Hidayat") in approval  # the mentor signed in their own right
    context.close()

    assert problems == [], problems
