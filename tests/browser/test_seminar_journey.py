"""Journey (seminar): on the version 2 PKA flow, the coach and the mentor approve the
submitted proposal on a phone (two signatures); the organizer schedules the seminar
rancangan on the cohort's jadwal seminar; on the seminar day the penguji records the
attendance and "layak dengan perbaikan"; the trainee sends the fixes, the coach accepts
them, the panel signs the lembar pengesahan, the executive endorses; the case page's
diagram highlights the current state. Real Chromium, live server at the real date."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests import factories
from tests.browser.conftest import ARTIFACTS, log_in
from workflow.extensions import db
from workflow.models.seminars import Seminar
from workflow.services import perform
from workflow.services.calendar import add_working_days

ROOM = "Ruang Mahakam 1"
FIXES = "Perjelas indikator keberhasilan jangka pendek dan sumber datanya."
LETTER = "800/456/DPMD/2026"
SVG = "{http://www.w3.org/2000/svg}"
DEFINITION_VERSION = 2  # the PKA flow World(version=None) starts on
ROLES = ("trainee", "coach", "mentor", "examiner", "organizer", "executive")


def either(indonesian: str, english: str) -> re.Pattern:
    """Indonesian is the default UI language; while the lead merges translations a new
    string may still show in English: accept both, nothing else."""
    return re.compile(f"{re.escape(indonesian)}|{re.escape(english)}")


@pytest.fixture
def seminar_server(serve):
    """A version 2 PKA case whose proposal is submitted, in a cohort whose window holds the
    next weeks (the factories' dates lie in the past of the real clock)."""

    def setup():
        world = factories.World(version=None)
        zone = ZoneInfo(world.cohort.program.institution.timezone)
        today = datetime.now(zone).date()
        world.cohort.start_date = today - timedelta(days=60)
        world.cohort.end_date = today + timedelta(days=200)
        db.session.commit()
        perform(world.case, "submit", world.trainee)
        return {
            "people": {r: world.by_role(r).username for r in ROLES},
            "trainee_name": world.trainee.name,
            "case_id": world.case.id,
            "cohort_id": world.cohort.id,
            "today": today,
            "tomorrow": add_working_days(today, 1),
        }

    return serve(setup)


@pytest.mark.browser
def test_seminar_fixes_ratified_endorsed_on_a_phone(seminar_server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    info = seminar_server
    base, case_id, people = info["url"], info["case_id"], info["people"]
    case_url = f"{base}/cases/{case_id}"
    problems: list[str] = []

    def open_as(role: str):
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="id-ID")
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        log_in(page, base, people[role])
        return context, page

    def shot(page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"seminar-{name}.png"), full_page=True)

    def act(page, trigger: str, comment: str | None = None, **fields: str) -> None:
        """Take a transition from the status card: its form when it asks for something,
        else its one button."""
        if comment is None and not fields:
            page.click(f"#case-status form[data-trigger='{trigger}'] button[type=submit]")
            return
        form = page.locator(f"#case-status details.action-form[data-trigger='{trigger}']")
        form.locator("summary").click()
        for name, value in fields.items():
            form.locator(f"#f-{trigger}-{name}").fill(value)
        if comment is not None:
            form.locator(f"#f-{trigger}-comment").fill(comment)
        form.locator("form button[type=submit]").click()

    def state(page):
        return page.locator("#case-status .state-label")

    # 1. Coach, then mentor, approve "untuk diseminarkan" from the case page on a phone.
    context, page = open_as("coach")
    page.goto(case_url)
    expect(state(page)).to_have_text("Menunggu persetujuan coach dan mentor")
    act(page, "approve", comment="")
    signatures = page.locator("#case-status .approvals[data-trigger=approve]")
    expect(signatures.locator("li.signed")).to_have_count(1)
    expect(signatures.locator("li.signed .role")).to_have_text("Coach")
    expect(signatures.locator("li.awaited")).to_have_count(1)
    expect(signatures.locator("li.awaited .role")).to_have_text("Mentor")
    notice = page.locator("#case-status .alert-success")
    expect(notice).to_contain_text(either("Persetujuan Anda tercatat", "Your approval is recorded"))
    expect(notice).to_contain_text("Mentor")
    expect(state(page)).to_have_text("Menunggu persetujuan coach dan mentor")  # not moved
    shot(page, "coach-approved")
    context.close()

    context, page = open_as("mentor")
    page.goto(case_url)
    act(page, "approve", comment="Layak diseminarkan.")
    expect(state(page)).to_have_text("Seminar rancangan")
    expect(page.locator("#case-status .alert-success")).to_have_text(
        "Rancangan disetujui untuk diseminarkan."
    )
    shot(page, "mentor-approved")
    context.close()

    # 2. The organizer schedules the seminar on the cohort's jadwal seminar, default panel.
    context, page = open_as("organizer")
    page.goto(f"{base}/cohorts/{info['cohort_id']}")
    page.click(f"a[href='/cohorts/{info['cohort_id']}/seminars']")
    page.wait_for_url(f"{base}/cohorts/{info['cohort_id']}/seminars")
    page.select_option("#seminar-new-case", str(case_id))
    page.fill("#seminar-new-date", info["tomorrow"].isoformat())
    page.fill("#seminar-new-start", "09:00")
    page.fill("#seminar-new-end", "10:30")
    page.fill("#seminar-new-room", ROOM)
    for role in ("examiner", "coach", "mentor"):  # left "as in the trainee's group"
        expect(page.locator(f"#seminar-new-{role}_id")).to_have_value("")
    page.click(".seminar-new form button[type=submit]")
    page.wait_for_url(f"{base}/cohorts/{info['cohort_id']}/seminars")
    expect(page.locator("#flash .flash-success")).to_contain_text(
        either("Seminar dijadwalkan; undangan dikirim.", "Seminar scheduled; invitations sent.")
    )
    row = page.locator("table.seminar-schedule tr[data-seminar]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(info["trainee_name"])
    expect(row).to_contain_text("09:00–10:30")
    expect(row.locator(".seminar-room")).to_have_text(ROOM)
    expect(row.locator(".seminar-member")).to_have_count(3)  # penguji, coach, mentor
    expect(row.locator("[data-status=scheduled]")).to_have_count(1)
    expect(page.locator("#seminar-new-case")).to_have_count(0)  # nobody left waiting
    shot(page, "schedule")
    context.close()

    # 3. The seminar day has come: the test moves the seminar to yesterday rather than
    # wait for tomorrow (attendance can only be recorded once the seminar has started).
    with info["app"].app_context():
        seminar = db.session.scalars(select(Seminar).where(Seminar.case_id == case_id)).one()
        assert (seminar.room, seminar.status) == (ROOM, "scheduled")
        seminar.starts_at -= timedelta(days=2)
        seminar.ends_at -= timedelta(days=2)
        db.session.commit()
        db.session.remove()

    # 4. The penguji records the attendance, then "layak dengan perbaikan".
    context, page = open_as("examiner")
    page.goto(case_url)
    panel = page.locator("#seminar-panel")
    expect(panel.locator(".seminar-room")).to_have_text(ROOM)
    # The outcome waits for the attendance (guard seminar_held), and says why.
    expect(
        page.locator("#case-status .action-blocked[data-trigger=seminar_passed_with_fixes]")
    ).to_be_visible()
    attendance = panel.locator("details.seminar-attendance")
    expect(attendance).to_have_attribute("open", "")  # started and not yet recorded
    expect(attendance.locator("input[name=attended]:checked")).to_have_count(3)
    expect(attendance.locator("input[name=trainee_attended][value=yes]")).to_be_checked()
    attendance.locator("#seminar-notes").fill("Peserta memaparkan rancangan dengan baik.")
    attendance.locator("form button[type=submit]").click()
    page.wait_for_url(f"{case_url}#seminar-panel")
    expect(panel.locator("[data-status=held]")).to_have_count(1)
    expect(panel.locator(".seminar-panel-list .badge-ok")).to_have_count(4)  # 3 + trainee
    expect(panel.locator(".seminar-next")).to_be_visible()
    shot(page, "attendance")
    act(page, "seminar_passed_with_fixes", comment=FIXES)
    expect(state(page)).to_have_text("Perbaikan hasil seminar")
    page.reload()
    expect(panel.locator("[data-outcome=passed_with_fixes]")).to_have_count(1)
    shot(page, "outcome")
    context.close()

    # 5. The trainee sends the fixes; the coach accepts them.
    context, page = open_as("trainee")
    page.goto(case_url)
    expect(page.locator("#case-status .events")).to_contain_text(FIXES)
    act(page, "submit_fixes")
    expect(state(page)).to_have_text("Pemeriksaan perbaikan oleh coach")
    context.close()

    context, page = open_as("coach")
    page.goto(case_url)
    act(page, "accept_fixes", comment="")
    expect(state(page)).to_have_text("Pengesahan rancangan")
    context.close()

    # The panel signs the lembar pengesahan, one after another.
    sheet = "#case-status .approvals[data-trigger=ratify]"
    for signed, role in enumerate(("examiner", "coach", "mentor"), start=1):
        context, page = open_as(role)
        page.goto(case_url)
        expect(page.locator(f"{sheet} li.signed")).to_have_count(signed - 1)
        act(page, "ratify")
        if signed < 3:
            expect(page.locator(f"{sheet} li.signed")).to_have_count(signed)
            expect(page.locator(f"{sheet} li.awaited")).to_have_count(3 - signed)
            expect(state(page)).to_have_text("Pengesahan rancangan")
        else:
            expect(state(page)).to_have_text("Menunggu dukungan pimpinan")
            shot(page, "ratified")
        context.close()

    # The executive endorses with the letter.
    context, page = open_as("executive")
    page.goto(case_url)
    act(page, "endorse", letter_number=LETTER, letter_date=info["today"].isoformat())
    expect(state(page)).to_have_text("Implementasi")
    context.close()

    # 6. The diagram on the case page highlights the current state.
    context, page = open_as("trainee")
    page.goto(case_url)
    expect(state(page)).to_have_text("Implementasi")
    diagram = page.locator("details#case-diagram")
    expect(diagram.locator("summary")).to_contain_text(either("Alur proses", "Process flow"))
    diagram.locator("summary").click()
    picture = diagram.locator("figure.diagram img")
    expect(picture).to_have_attribute("src", re.compile(r"[?&]state=implementation(&|$)"))
    expect(picture).to_have_attribute("alt", re.compile("Implementasi"))
    page.wait_for_function(  # loaded and drawn, not a broken image
        "img => img.complete && img.naturalWidth > 0", arg=picture.element_handle()
    )
    src = picture.get_attribute("src")
    assert src.startswith(f"/definitions/aksi_perubahan_pka/{DEFINITION_VERSION}.svg?")
    answer = page.request.get(base + src)
    assert answer.ok and answer.headers["content-type"].startswith("image/svg+xml")
    drawn = ET.fromstring(answer.body())
    current = [g for g in drawn.iter(f"{SVG}g") if "current" in g.get("class", "").split()]
    assert [g.get("id") for g in current] == ["state-implementation"]
    assert "Implementasi" in "".join(current[0].itertext())
    picture.scroll_into_view_if_needed()
    # Readable on a phone: the open diagram keeps the page inside the screen's width.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "implementation")
    context.close()

    assert not problems, problems
