"""Journey (b): in implementation the trainee reports two milestones with an image and a PDF
and covers 3 of 4 units; the mentor returns one and verifies the other; the trainee fixes
and reports again, the mentor verifies it; the trainee writes and submits the final report;
the case is in evaluation. Real Chromium, live server at the real date."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask import current_app
from fpdf import FPDF
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import ARTIFACTS, log_in
from workflow.extensions import db
from workflow.services.milestones import today_for

SAVED = re.compile(r"\bis-saved\b")
UNITS = ("Balik Bukit", "Sukau", "Lumbok Seminung", "Suoh")
RETURN_COMMENT = "Lampirkan berita acara yang ditandatangani kepala dinas."


def either(indonesian: str, english: str) -> re.Pattern:
    """Indonesian is the default UI language; while the lead merges translations a new
    string may still show in English: accept both, nothing else."""
    return re.compile(f"{re.escape(indonesian)}|{re.escape(english)}")


REPORTED = either("Dilaporkan, menunggu verifikasi", "Reported, awaiting verification")
RETURNED = either("Dikembalikan untuk perbaikan", "Returned for correction")
VERIFIED = either("Terverifikasi", "Verified")
IN_PROGRESS = either("Sedang berjalan", "In progress")


@pytest.fixture
def implementation_server(serve, tmp_path):
    """A live server with a case in implementation: one plain short-term milestone (1
    dokumen) and one over four kecamatan, dated around today (the server runs at real
    time), uploads into a folder of this test."""

    def setup():
        current_app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
        world = factories.World()
        case = world.case
        plain = case.milestones[0]
        coverage = factories.add_coverage_milestone(case, UNITS)
        today = today_for(case)
        cohort = world.cohort
        cohort.start_date = today - timedelta(days=90)
        cohort.proposal_deadline = today - timedelta(days=60)
        cohort.implementation_start = today - timedelta(days=50)
        cohort.implementation_end = today + timedelta(days=60)
        cohort.evaluation_date = today + timedelta(days=70)
        cohort.end_date = today + timedelta(days=80)
        plain.target_date = today + timedelta(days=14)
        coverage.target_date = today + timedelta(days=28)
        db.session.commit()
        factories.to_implementation(world)
        return {
            "people": {r: world.by_role(r).username for r in ("trainee", "mentor")},
            "case_id": case.id,
            "plain": plain.id,
            "coverage": coverage.id,
            "today": today,
        }

    return serve(setup)


def new_page(browser, problems):
    """A phone in Indonesian; console errors and page errors are collected."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="id-ID")
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return context, page


def make_jpeg(path, colour) -> str:
    image = Image.new("RGB", (1200, 800), colour)
    ImageDraw.Draw(image).rectangle((300, 200, 900, 600), fill=(240, 240, 240))
    image.save(path, "JPEG")
    return str(path)


def make_pdf(path) -> str:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.cell(text="Pedoman pembinaan perencanaan desa")
    pdf.output(str(path))
    return str(path)


def thumbnail_loaded(page, img) -> None:
    """The thumbnail is our re-encoded JPEG, really served: wait until the browser decoded it."""
    img.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())


def shot(page, name: str, full_page: bool = True) -> None:
    """A screenshot into ARTIFACTS, every thumbnail shown decoded first (they load lazily;
    those in a closed report history are not shown). The caret stays: hiding it leaves
    style="" on the form controls, which htmx's settle then copies onto the swapped-in
    elements, and the CSP rightly refuses that."""
    scrolled = page.evaluate("window.scrollY")
    for img in page.locator(".thumbs img:visible").all():
        thumbnail_loaded(page, img)
    page.evaluate("y => window.scrollTo(0, y)", scrolled)  # loading them scrolled away
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page, caret="initial")


def cover(page, card, unit: str, day, note: str, image: str | None = None) -> None:
    row = card.locator("li.unit-open").filter(has=page.get_by_text(unit, exact=True))
    row.locator("summary").click()
    row.locator("input[name=covered_on]").fill(day.isoformat())
    row.locator("textarea[name=note]").fill(note)
    if image:
        row.locator("input[type=file]").set_input_files(image)
    row.locator("button[type=submit]").click()
    expect(
        card.locator("li.unit-done").filter(has=page.get_by_text(unit, exact=True))
    ).to_have_count(1)


def report(page, card, milestone_id: int, narrative: str, quantity=None, files=()) -> None:
    rid = f"#ms{milestone_id}-report-"
    form = card.locator("details.ms-report")
    if form.get_attribute("open") is None:
        form.locator("summary").click()
    page.check(f"{rid}status-reported")
    if quantity is not None:
        page.fill(f"{rid}achieved_quantity", quantity)
    page.fill(f"{rid}narrative", narrative)
    if files:
        page.set_input_files(f"{rid}files", list(files))
    form.locator("button[type=submit]").click()


def fill_and_wait(page, name: str, text: str) -> None:
    page.fill(f"#f-{name}", text)
    expect(page.locator(f"#fs-{name}")).to_have_class(SAVED)


@pytest.mark.browser
def test_milestones_reported_returned_fixed_verified_then_final_report(
    implementation_server, browser, tmp_path
):
    ARTIFACTS.mkdir(exist_ok=True)
    server = implementation_server
    base, case_id, people = server["url"], server["case_id"], server["people"]
    plain, coverage, today = server["plain"], server["coverage"], server["today"]
    case_url = f"{base}/cases/{case_id}"
    problems: list[str] = []
    photo = make_jpeg(tmp_path / "rapat-pedoman.jpg", (20, 120, 60))
    unit_photo = make_jpeg(tmp_path / "sosialisasi-sukau.jpg", (160, 60, 30))
    letter = make_pdf(tmp_path / "pedoman.pdf")

    # Trainee: reports milestone 1 done, with a photo and a PDF.
    context, page = new_page(browser, problems)
    log_in(page, base, people["trainee"])
    page.goto(case_url)
    expect(page.locator(".state-label")).to_have_text("Implementasi")
    card1 = page.locator(f"#milestone-{plain}")
    card2 = page.locator(f"#milestone-{coverage}")
    report(
        page,
        card1,
        plain,
        "Pedoman disusun bersama tim efektif dan dibahas dalam rapat.",
        quantity="1",
        files=(photo, letter),
    )
    expect(card1.locator(".ms-head .ms-badge")).to_have_text(REPORTED)
    expect(card1.locator(".alert-success")).to_be_visible()
    thumb = card1.locator(".ms-latest .thumbs img")
    expect(thumb).to_have_attribute("alt", "rapat-pedoman.jpg")
    thumbnail_loaded(page, thumb)
    expect(card1.locator(".ms-latest .files .file-link")).to_have_text("pedoman.pdf")

    # Covers 3 of the 4 kecamatan (one with a photo), then reports milestone 2 done.
    cover(page, card2, "Balik Bukit", today - timedelta(days=6), "Sosialisasi di aula kecamatan.")
    expect(card2.locator(".ms-head .ms-badge")).to_have_text(IN_PROGRESS)
    cover(page, card2, "Sukau", today - timedelta(days=4), "Dihadiri 12 kepala desa.", unit_photo)
    cover(page, card2, "Lumbok Seminung", today, "Sosialisasi bersama camat.")
    expect(card2.locator(".unit-done")).to_have_count(3)
    expect(card2.locator(".unit-open .unit-name")).to_have_text("Suoh")
    expect(card2.locator(".ms-progress")).to_have_text(
        re.compile(r"3 (dari|of) 4 kecamatan — (tersisa|remaining): Suoh")
    )
    unit_thumb = card2.locator(".unit-done .thumbs img")
    expect(unit_thumb).to_have_attribute("alt", "sosialisasi-sukau.jpg")
    thumbnail_loaded(page, unit_thumb)
    report(page, card2, coverage, "Sosialisasi di tiga kecamatan; Suoh menyusul.")
    expect(card2.locator(".ms-head .ms-badge")).to_have_text(REPORTED)
    shot(page, "implementation-trainee-cards.png")
    context.close()

    # Mentor: from the queue to the case; returns milestone 1, verifies milestone 2.
    context, page = new_page(browser, problems)
    log_in(page, base, people["mentor"])
    expect(page.locator("#verify-milestones-title .count")).to_have_text("2")
    page.goto(f"{base}/mentor")
    expect(page.locator("#milestones-title")).to_contain_text(
        either("Tahapan menunggu verifikasi", "Milestones awaiting verification")
    )
    expect(page.locator("tr.ms-row")).to_have_count(2)
    page.locator(f"tr.ms-row[data-milestone='{plain}'] a").click()
    page.wait_for_url(f"{case_url}#milestone-{plain}")
    card1 = page.locator(f"#milestone-{plain}")
    card2 = page.locator(f"#milestone-{coverage}")
    thumbnail_loaded(page, card1.locator(".ms-latest .thumbs img"))
    with page.expect_download() as download:  # the evidence, as the trainee sent it
        card1.locator(".ms-latest .files .file-link", has_text="pedoman.pdf").click()
    assert download.value.suggested_filename == "pedoman.pdf"
    assert Path(download.value.path()).read_bytes() == Path(letter).read_bytes()
    card1.locator("details.ms-return > summary").click()
    page.fill(f"#ms{plain}-return-comment", RETURN_COMMENT)
    card1.locator("details.ms-return form button[type=submit]").click()
    expect(card1.locator(".ms-head .ms-badge")).to_have_text(RETURNED)
    expect(card1.locator(".ms-returned .mentor-comment")).to_have_text(RETURN_COMMENT)
    # The other card's form still carries a current version (moved on by implementation.js).
    card2.locator(".ms-decide > form button[type=submit]").click()
    expect(card2.locator(".ms-head .ms-badge")).to_have_text(VERIFIED)
    expect(card2.locator(".ms-decide")).to_have_count(0)
    shot(page, "implementation-mentor-verification.png")
    context.close()

    # Trainee: the returned banner on top with the comment; fixes and reports again.
    context, page = new_page(browser, problems)
    log_in(page, base, people["trainee"])
    page.goto(case_url)
    banner = page.locator("#returned-banner .returned-banner")
    expect(banner).to_be_visible()
    expect(banner.locator(".mentor-comment")).to_have_text(RETURN_COMMENT)
    expect(banner.locator(f"a[href='#milestone-{plain}']")).to_contain_text("Menyusun pedoman")
    shot(page, "implementation-returned-banner.png", full_page=False)
    banner.locator(f"a[href='#milestone-{plain}']").click()
    card1 = page.locator(f"#milestone-{plain}")
    expect(card1.locator("details.ms-report")).to_have_attribute("open", "")
    expect(page.locator(f"#ms{plain}-report-narrative")).to_have_value(
        "Pedoman disusun bersama tim efektif dan dibahas dalam rapat."
    )
    report(
        page,
        card1,
        plain,
        "Pedoman disusun dan berita acara ditandatangani kepala dinas.",
        quantity="1",
        files=(letter,),
    )
    expect(card1.locator(".ms-head .ms-badge")).to_have_text(REPORTED)
    expect(banner).to_have_count(0)  # the banner follows out of band
    context.close()

    # Mentor: verifies the fixed milestone.
    context, page = new_page(browser, problems)
    log_in(page, base, people["mentor"])
    page.goto(f"{case_url}#milestone-{plain}")
    card1 = page.locator(f"#milestone-{plain}")
    expect(card1.locator(".ms-history .report")).to_have_count(2)
    card1.locator(".ms-decide > form button[type=submit]").click()
    expect(card1.locator(".ms-head .ms-badge")).to_have_text(VERIFIED)
    expect(page.locator("#milestones-summary strong")).to_have_text(
        either(
            "2 dari 2 tahapan jangka pendek telah selesai",
            "2 of 2 short-term milestones closed",
        )
    )
    context.close()

    # Trainee: writes every section of the final report (autosaved), submits it.
    context, page = new_page(browser, problems)
    log_in(page, base, people["trainee"])
    page.goto(case_url)
    page.click(f"#final-report-summary a[href='/cases/{case_id}/report']")
    page.wait_for_url(f"{case_url}/report")
    expect(page.locator("#report-submit .reasons")).to_be_visible()  # what is missing
    texts = dict(factories.COMPLETE_REPORT)
    for name in ("executive_summary", "implementation"):
        fill_and_wait(page, name, texts.pop(name))
    fill_and_wait(page, f"result-{plain}", "Pedoman pembinaan tersusun (1 dokumen).")
    fill_and_wait(page, f"result-{coverage}", "Sosialisasi di 3 dari 4 kecamatan.")
    for name, text in texts.items():
        fill_and_wait(page, name, text)
    submit = page.locator("#report-submit form[data-trigger=submit_report] button[type=submit]")
    expect(submit).to_be_enabled()
    shot(page, "implementation-final-report-editor.png")
    page.goto(f"{case_url}/report")  # leave and come back: everything was saved
    expect(page.locator(f"#f-result-{coverage}")).to_have_value(
        "Sosialisasi di 3 dari 4 kecamatan."
    )
    expect(page.locator("#f-video_link")).to_have_value(factories.COMPLETE_REPORT["video_link"])
    submit.click()
    page.wait_for_url(case_url)
    expect(page.locator(".state-label")).to_have_text("Evaluasi")
    expect(page.locator("#final-report-summary .report-status")).to_have_attribute(
        "data-status", "submitted"
    )
    expect(page.locator(f"#milestone-{plain} details.ms-report")).to_have_count(0)
    shot(page, "implementation-case-evaluation.png")
    context.close()
    assert not problems, problems
    # In the test's upload folder: two photos with their thumbnails, the PDF of the first
    # report and of the fix.
    kinds = sorted(p.name.split(".", 1)[1] for p in (tmp_path / "uploads").iterdir())
    assert kinds == ["jpg", "jpg", "pdf", "pdf", "thumb.jpg", "thumb.jpg"]
