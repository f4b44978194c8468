"""Journey (c): the organizer creates a cohort, imports its participants from a CSV file (a
bad row is marked in the preview and skipped), creates two groups and assigns the trainees
evenly; on a case in evaluation the examiner, the coach and the mentor score it (one typo
caught beside its field first) and submit; the organizer finalizes the result and
downloads the recap of scores. Real Chromium, live server at the real date."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect
from pypdf import PdfReader

from tests import factories
from tests.browser.conftest import ARTIFACTS, log_in
from workflow.extensions import db
from workflow.models import Milestone
from workflow.services import perform
from workflow.services.milestones import today_for

SAVED = re.compile(r"\bis-saved\b")
SAVE_FAILED = re.compile(r"\bis-error\b")
AGENCY = "DPMD Kutai Kartanegara"
TRAINEE = "Rina Wulandari, S.E."
COHORT = "PKA Angkatan III"

# Examiner, coach and mentor: what each types for their aspects (weights 20/15/15,
# 15/15, 10/10), and the points that makes: 42.75 + 23.25 + 17.5 = 83.5 "Memuaskan".
SCORES = {
    "examiner": {"substance": "90", "results": "85", "presentation": "80"},
    "coach": {"process": "80", "collaboration": "75"},
    "mentor": {"performance": "85", "sustainability": "90"},
}
POINTS = {"examiner": "42.75", "coach": "23.25", "mentor": "17.5"}
RATINGS = {"examiner": "sesuai", "coach": "sesuai", "mentor": "melampaui"}
TOTAL = 83.5

# The participant list: two mentors and an executive, four trainees, and a trainee of an
# agency nobody registered (line 9).
HEADER = ("peran", "nip", "nama", "email", "jabatan", "instansi", "nip_mentor", "nip_pimpinan")
MENTOR_A, MENTOR_B, EXECUTIVE = "197805122005011003", "198001012006042001", "196903151994031006"
PEOPLE = (  # peran, nip, nama, email, jabatan, nip_mentor, nip_pimpinan
    ("mentor", MENTOR_A, "Budi Hartono, S.Sos., M.Si.", "budi.hartono", "Kepala Bidang", "", ""),
    ("mentor", MENTOR_B, "Siti Aminah, S.T., M.T.", "siti.aminah", "Kepala Bidang", "", ""),
    ("pimpinan", EXECUTIVE, "Dr. Hj. Siti Rahmah, M.M.", "siti.rahmah", "Kepala Dinas", "", ""),
    ("peserta", "198506202010012015", "Andi Pratama, S.E.", "andi", "Kasi", MENTOR_A, EXECUTIVE),
    ("peserta", "198703112011011004", "Bella Safitri, S.H.", "bella", "Kasi", MENTOR_A, EXECUTIVE),
    ("peserta", "198902282012022003", "Candra Wijaya, S.T.", "candra", "Kasi", MENTOR_B, EXECUTIVE),
    ("peserta", "199001052014031002", "Dimas Saputra, S.IP.", "dimas", "Kasi", MENTOR_B, EXECUTIVE),
)
IMPORTED = [p[2] for p in PEOPLE if p[0] == "peserta"]
BAD_LINE = 9
BAD = ("peserta", "199104172015032001", "Eka Lestari, S.Sos.", "eka", "Kasi", MENTOR_A, EXECUTIVE)
UNKNOWN_AGENCY = "Dinas Tidak Terdaftar"
# Chromium logs every 4xx answer as a console error, also the 422 a refused form gets.
REFUSED = re.compile(r"Failed to load resource: the server responded with a status of 422 .*")


def either(indonesian: str, english: str) -> re.Pattern:
    """Indonesian is the default UI language; while the lead merges translations a new
    string may still show in English: accept both, nothing else."""
    return re.compile(f"{re.escape(indonesian)}|{re.escape(english)}")


def column(row: dict, indonesian: str, english: str):
    """A cell of a recap row by its header, in either language."""
    return row[indonesian] if indonesian in row else row[english]


def participant_csv(path: Path) -> str:
    """The list as Excel saves "CSV UTF-8": a BOM, comma-separated."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for row in (*PEOPLE, BAD):
        role, nip, name, mailbox, position, mentor, executive = row
        agency = UNKNOWN_AGENCY if row is BAD else AGENCY
        email = f"{mailbox}@example.go.id"
        writer.writerow((role, nip, name, email, position, agency, mentor, executive))
    path.write_text(out.getvalue(), encoding="utf-8-sig")
    return str(path)


@pytest.fixture
def evaluation_server(serve):
    """A live server with the world's case in evaluation (two verified short-term
    milestones, a submitted final report), its cohort's dates around today (the server runs
    at real time), and four people of the institution who may coach or examine."""

    def setup():
        world = factories.World()
        case, cohort = world.case, world.cohort
        today = today_for(case)
        cohort.start_date = today - timedelta(days=150)
        cohort.proposal_deadline = today - timedelta(days=120)
        cohort.implementation_start = today - timedelta(days=110)
        cohort.implementation_end = today - timedelta(days=10)
        cohort.evaluation_date = today + timedelta(days=7)
        cohort.end_date = today + timedelta(days=21)
        institution_id = cohort.program.institution_id
        names = {
            "trainee": TRAINEE,
            "mentor": "Dr. Rahmat Hidayat",
            "coach": "Dr. Hendra Gunawan, M.Si.",
            "examiner": "Prof. Dr. Sri Lestari",
            "organizer": "Dewi Anggraini, S.Sos.",
        }
        for role, name in names.items():
            world.by_role(role).name = name
        for role in ("organizer", "coach", "examiner"):
            world.by_role(role).institution_id = institution_id
        coach2 = factories.create_user(name="Ahmad Fauzi, M.Si.", institution_id=institution_id)
        examiner2 = factories.create_user(name="Dr. Maria Ulfa", institution_id=institution_id)
        first = case.milestones[0]
        first.target_date = today - timedelta(days=60)
        case.milestones.append(
            Milestone(
                position=1,
                term="short",
                activity="Sosialisasi pedoman ke kecamatan",
                output="Berita acara",
                target_date=today - timedelta(days=30),
                target_quantity=3,
                target_unit="kecamatan",
            )
        )
        db.session.commit()
        factories.to_implementation(world)
        for m, quantity in zip(case.milestones, (1, 4), strict=True):
            m.status, m.achieved_quantity = "verified", quantity
        db.session.commit()
        factories.fill_final_report(case)
        perform(case, "submit_report", world.trainee)
        return {
            "people": {
                r: world.by_role(r).username
                for r in ("trainee", "mentor", "coach", "examiner", "organizer")
            },
            "staff": {
                "coach": names["coach"],
                "examiner": names["examiner"],
                "coach2": coach2.name,
                "examiner2": examiner2.name,
            },
            "case_id": case.id,
            "cohort_id": cohort.id,
            "milestones": [m.id for m in case.milestones],
            "today": today,
        }

    return serve(setup)


def new_page(browser, problems, phone: bool = True):
    """Indonesian; a phone for the evaluators, a desk screen for the organizer. Console
    errors and page errors are collected."""
    size = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
    context = browser.new_context(viewport=size, locale="id-ID")
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return context, page


def check_console(problems: list[str], refusals: int) -> None:
    """No console or page error, but the browser's line for each refusal the test provoked."""
    unexpected = [p for p in problems if not REFUSED.fullmatch(p)]
    assert not unexpected, unexpected
    assert len(problems) == refusals, problems


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / name), full_page=True, caret="initial")


def autosaved(page, change) -> int:
    """Do `change` (it fires the form's change event) and wait for its autosave to answer;
    the answer's HTTP status."""
    with page.expect_response(lambda r: r.url.endswith("/evaluation/draft")) as answer:
        change()
    return answer.value.status


def type_score(page, aspect: str, value: str) -> int:
    field = page.locator(f"#f-score-{aspect}")
    field.fill(value)
    return autosaved(page, lambda: field.press("Tab"))


# ---------------------------------------------------------------- the cohort


@pytest.mark.browser
def test_cohort_created_imported_from_a_file_and_grouped(evaluation_server, browser, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    server = evaluation_server
    base, people, staff, today = server["url"], server["people"], server["staff"], server["today"]
    problems: list[str] = []
    listing = participant_csv(tmp_path / "peserta-angkatan-iii.csv")

    context, page = new_page(browser, problems, phone=False)
    log_in(page, base, people["organizer"])

    # A new cohort through the form: the program is preselected (the only one).
    page.goto(f"{base}/cohorts")
    page.click("a[href='/cohorts/new']")
    page.wait_for_url(f"{base}/cohorts/new")
    page.fill("#c-name", COHORT)
    offsets = {
        "start_date": 0,
        "proposal_deadline": 28,
        "implementation_start": 35,
        "implementation_end": 120,
        "evaluation_date": 130,
        "end_date": 140,
    }
    for name, days in offsets.items():
        page.fill(f"#c-{name}", (today + timedelta(days=days)).isoformat())
    page.click("form.cohort-form button[type=submit]")
    expect(page.locator("h1")).to_have_text(COHORT)
    cohort_url = page.url.split("#")[0]
    expect(page.locator("#trainees .empty")).to_be_visible()

    # Upload the list: the preview marks the bad row, nothing is imported yet.
    page.click("a.btn-primary[href$='/import']")
    page.set_input_files("#import-file", listing)
    page.click("form[enctype='multipart/form-data'] button[type=submit]")
    page.wait_for_url(re.compile(r"/cohorts/\d+/import/\d+$"))
    counts = page.locator(".import-counts")
    expect(counts).to_contain_text(either("8 baris", "8 rows"))
    expect(counts).to_contain_text(either("7 siap", "7 ready"))
    expect(counts.locator(".badge-danger")).to_contain_text("1")
    expect(page.locator("tr.row-bad")).to_have_count(1)
    bad = page.locator(f"tr.row-bad[data-line='{BAD_LINE}']")
    expect(bad.locator("td[data-error]")).to_have_count(1)
    expect(bad.locator("td[data-error='instansi'] .cell-error")).to_have_text(
        either(
            "Instansi tidak dikenal. Gunakan nama atau singkatannya sebagaimana terdaftar.",
            "Unknown agency. Use its name or short name as registered.",
        )
    )
    expect(page.locator("tr.row-ok")).to_have_count(7)
    bad.locator("td[data-error='instansi']").scroll_into_view_if_needed()  # a wide table
    shot(page, "evaluation-import-preview.png")

    # Confirm without skipping: refused, nothing imported; then skip the bad row.
    confirm = page.locator("form.import-confirm")
    confirm.locator("button[type=submit]").click()
    expect(page.locator(".alert-error[role=alert]")).to_contain_text(
        either("sehingga tidak ada yang diimpor", "so nothing was imported")
    )
    confirm.locator("input[name=skip_errors]").check()
    confirm.locator("button[type=submit]").click()
    expect(page.locator(".import-summary .alert-success")).to_contain_text(
        either(
            "4 peserta, 7 akun baru, 0 akun yang sudah ada; 1 baris dilewati.",
            "4 trainees, 7 new accounts, 0 existing accounts; 1 rows skipped.",
        )
    )
    page.goto(cohort_url)
    trainees = page.locator("table.cohort-trainees tbody tr")
    expect(trainees).to_have_count(4)
    for name in IMPORTED:
        expect(page.locator("table.cohort-trainees")).to_contain_text(name)
    expect(page.locator("table.cohort-trainees")).not_to_contain_text(BAD[2])
    expect(page.locator("#trainees-title .count")).to_have_text("4")
    expect(page.locator(".cohort-unassigned")).to_be_visible()

    # Two groups, each with a coach and an examiner.
    for name, coach, examiner in (
        ("Kelompok A", staff["coach"], staff["examiner"]),
        ("Kelompok B", staff["coach2"], staff["examiner2"]),
    ):
        creating = page.locator("details.group-new")
        if creating.get_attribute("open") is None:
            creating.locator("summary").click()
        page.fill("#new-group-name", name)
        page.select_option("#new-group-coach", label=coach)
        page.select_option("#new-group-examiner", label=examiner)
        creating.locator("button[type=submit]").click()
        expect(page.locator("table.cohort-groups")).to_contain_text(name)
    groups = page.locator("table.cohort-groups tbody tr")
    expect(groups).to_have_count(2)
    expect(groups.nth(0)).to_contain_text(staff["coach"])
    expect(groups.nth(1)).to_contain_text(staff["examiner2"])
    expect(page.locator(".group-size")).to_have_text(["0", "0"])

    # One click: the four trainees without a group, two and two.
    page.locator("form.assign-evenly button[type=submit]").click()
    expect(page.locator(".group-size")).to_have_text(["2", "2"])
    expect(page.locator(".cohort-unassigned")).to_have_count(0)
    expect(page.locator("table.cohort-trainees tr.no-group")).to_have_count(0)
    shot(page, "evaluation-cohort-groups.png")
    context.close()
    check_console(problems, refusals=1)  # the confirmation without skipping


# ---------------------------------------------------------------- the assessment


def score(browser, problems, base, username, case_id, role, milestones, typo=False) -> None:
    """One evaluator: from the case page into their form; types the scores (a typo first if
    asked), rates the milestones, checks and submits; the sheet is read-only after."""
    context, page = new_page(browser, problems)
    log_in(page, base, username)
    page.goto(f"{base}/cases/{case_id}")
    mine = page.locator(f"#evaluation-panel a[data-role='{role}']")
    expect(mine).to_have_attribute("data-status", "not_started")
    mine.click()
    page.wait_for_url(re.compile(rf"/cases/{case_id}/evaluation\?role={role}$"))
    expect(page.locator("#eval-form")).to_be_visible()

    aspects = SCORES[role]
    if typo:
        first = next(iter(aspects))
        assert type_score(page, first, "101") == 422
        expect(page.locator(f"#err-score-{first}")).to_have_text(
            either(
                "Nilai harus berupa angka dari 0 sampai 100.",
                "The score must be a number from 0 to 100.",
            )
        )
        expect(page.locator("#fs-sheet")).to_have_class(SAVE_FAILED)
        expect(page.locator(f"#f-score-{first}")).to_have_value("101")  # kept as typed
        shot(page, "evaluation-form-error.png")
    for aspect, value in aspects.items():
        assert type_score(page, aspect, value) == 200
        expect(page.locator(f"#err-score-{aspect}")).to_have_text("")
    for milestone_id in milestones:
        radio = page.locator(f"input[name='rating-{milestone_id}'][value='{RATINGS[role]}']")
        assert autosaved(page, radio.check) == 200
    note = page.locator("#f-note")
    note.fill(f"Penilaian {role}: aksi perubahan berjalan baik.")
    assert autosaved(page, lambda: note.press("Tab")) == 200
    expect(page.locator("#fs-sheet")).to_have_class(SAVED)
    if typo:
        shot(page, "evaluation-form.png")

    # The confirm step shows the points; only then is it submitted.
    page.click("#eval-form button[name=action][value=confirm]")
    confirm = page.locator("#eval-confirm")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text(POINTS[role])
    expect(confirm.locator(f"#sheet-{role} .eval-points")).to_have_text(POINTS[role])
    confirm.locator("button[name=action][value=submit]").click()
    page.wait_for_url(re.compile(rf"/cases/{case_id}/evaluation\?role={role}$"))
    sheet = page.locator(f"#eval-own-title ~ #sheet-{role}")
    expect(sheet).to_have_attribute("data-status", "submitted")
    expect(page.locator("#eval-form")).to_have_count(0)
    expect(page.locator("input.eval-score-input, input[type=radio], textarea")).to_have_count(0)
    for aspect, value in aspects.items():
        expect(sheet.locator(f"tr[data-aspect='{aspect}'] .eval-value")).to_have_text(value)
    context.close()


@pytest.mark.browser
def test_three_evaluators_score_the_organizer_finalizes_and_downloads_the_recap(
    evaluation_server, browser
):
    ARTIFACTS.mkdir(exist_ok=True)
    server = evaluation_server
    base, people, case_id = server["url"], server["people"], server["case_id"]
    milestones = server["milestones"]
    problems: list[str] = []

    score(browser, problems, base, people["examiner"], case_id, "examiner", milestones, typo=True)

    # Midway the organizer sees who is missing; nothing to finalize yet.
    context, page = new_page(browser, problems, phone=False)
    log_in(page, base, people["organizer"])
    page.goto(f"{base}/cases/{case_id}")
    running = page.locator("#eval-running")
    expect(running.locator(".eval-missing li")).to_have_count(2)
    expect(page.locator(".action-blocked[data-trigger=finalize]")).to_be_visible()
    context.close()

    score(browser, problems, base, people["coach"], case_id, "coach", milestones)
    score(browser, problems, base, people["mentor"], case_id, "mentor", milestones)

    # The organizer: the running result, then Finalize; the case shows its result.
    context, page = new_page(browser, problems, phone=False)
    log_in(page, base, people["organizer"])
    case_url = f"{base}/cases/{case_id}"
    page.goto(case_url)
    panel, running = page.locator("#evaluation-panel"), page.locator("#eval-running")
    expect(panel.locator(".eval-who li[data-submitted=yes]")).to_have_count(3)
    expect(running.locator(".eval-total")).to_have_text("83.50")
    expect(running.locator(".eval-predicate")).to_have_text(either("Memuaskan", "Very good"))
    expect(running.locator(".eval-badge-pass")).to_have_text(either("Lulus", "Passed"))
    # Finalize asks first, on its own page, showing what will be recorded.
    page.locator(".action[data-trigger=finalize] a.btn").click()
    confirm = page.locator("#finalize-confirm")
    expect(confirm.locator(".eval-total")).to_have_text("83.50")
    expect(confirm.locator(".eval-badge-pass")).to_have_text(either("Lulus", "Passed"))
    confirm.locator("button[type=submit]").click()
    expect(page.locator(".state-label")).to_have_attribute("data-state", "completed")
    expect(page.locator(".state-label")).to_have_text(either("Lulus", "Completed"))
    expect(page.locator("#flash .flash-success")).to_be_visible()
    # The assessment panel follows: the recorded result, no "result if finalized now".
    recorded = page.locator("#eval-recorded")
    expect(recorded).to_be_visible()
    expect(recorded.locator(".eval-total")).to_have_text("83.50")
    expect(recorded.locator(".eval-predicate")).to_have_text(either("Memuaskan", "Very good"))
    expect(recorded.locator(".eval-badge-pass")).to_have_text(either("Lulus", "Passed"))
    expect(page.locator("#eval-running")).to_have_count(0)
    shot(page, "evaluation-case-result.png")

    # The recap, from the cohort's dashboard: Excel and PDF.
    page.goto(f"{base}/cohorts/{server['cohort_id']}")
    page.click(f"a.btn[href='/dashboard/cohorts/{server['cohort_id']}']")
    excel = page.locator("a[href$='/recap.xlsx']")
    expect(excel).to_have_text(either("Rekap nilai (Excel)", "Score recap (Excel)"))
    with page.expect_download() as download:
        excel.click()
    assert download.value.suggested_filename.startswith("rekap-nilai-")
    assert download.value.suggested_filename.endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()), read_only=True)
    rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    workbook.close()
    header, mine = rows[0], next(r for r in rows if TRAINEE in r)
    assert len(rows) == 2, rows  # the header and the cohort's only trainee
    found = dict(zip(header, mine, strict=True))
    assert column(found, "Jumlah", "Total") == pytest.approx(TOTAL), found
    assert column(found, "Predikat", "Predicate") in ("Memuaskan", "Very good"), found
    assert column(found, "Hasil", "Result") in ("Lulus", "Passed"), found
    for role, points in POINTS.items():
        assert float(points) in mine, (role, mine)

    pdf_link = page.locator("a[href$='/recap.pdf']")
    with page.expect_download() as download:
        pdf_link.click()
    assert download.value.suggested_filename.endswith(".pdf")
    text = " ".join(p.extract_text() for p in PdfReader(download.value.path()).pages)
    assert "".join(TRAINEE.split()) in "".join(text.split()), text  # names wrap in cells
    assert re.search(r"83[,.]5\b", text), text
    assert re.search("Memuaskan|Very good", text), text
    context.close()
    check_console(problems, refusals=1)  # the autosave of the 101
