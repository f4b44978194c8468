"""Result documents: the assessment sheet (lembar penilaian) of a finalized case and the
cohort recap (rekap nilai) as PDF and XLSX, who may download them, and bounded queries."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from flask_babel import gettext
from openpyxl import load_workbook
from pypdf import PdfReader

from tests import factories
from tests.test_http_helpers import english, login
from tests.test_http_home import counting_statements
from workflow.extensions import db
from workflow.models import (
    CohortMember,
    Group,
    MilestoneRating,
    Score,
    ScoreSheet,
    User,
)
from workflow.services import NotAvailable, definition_of, perform, results, start_case

# examiner 20/15/15, coach 15/15, mentor 10/10 (state_machines/rubrics/pka.yaml)
GOOD = {
    "substance": 90,
    "results": 86,
    "presentation": 84,
    "process": 80,
    "collaboration": 88,
    "performance": 92.5,
    "sustainability": 70,
}
# 18 + 12.9 + 12.6 + 12 + 13.2 + 9.25 + 7 = 84.95 → Memuaskan
GOOD_TOTAL = 84.95
POOR = dict.fromkeys(GOOD, 60)  # 60 → Tidak Memuaskan, not passed
RATINGS = {"examiner": "sesuai", "coach": "melampaui", "mentor": "kurang"}
FINALIZED_AT = datetime(2026, 6, 15, 2, 30)  # 15 June 2026, 10:30 WITA


def t(msgid: str) -> str:
    """A label in the language the documents print in here (Indonesian, the default)."""
    return squash(str(gettext(msgid)))


def text_of(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def squash(text: str) -> str:
    return "".join(text.split())


def give_result(case, evaluators: dict[str, User], values: dict[str, float] | None = None):
    """Submitted score sheets, milestone ratings and the finalized result, written directly
    (the evaluation service's finalize is another helper's; this is its data shape)."""
    rubric = definition_of(case).scoring
    values = GOOD if values is None else values
    for role in rubric.roles:
        mine = {a.key: values[a.key] for a in rubric.aspects_for(role)}
        sheet = ScoreSheet(
            case_id=case.id,
            role=role,
            evaluator_id=evaluators[role].id,
            rubric_key=rubric.key,
            note=f"Catatan {role}",
            subtotal=rubric.contribution(mine),
            submitted_at=FINALIZED_AT,
            scores=[Score(aspect=k, value=v, note=f"ok {k}") for k, v in mine.items()],
            ratings=[
                MilestoneRating(milestone_id=m.id, rating=RATINGS[role])
                for m in case.milestones
                if m.term == "short"
            ],
        )
        db.session.add(sheet)
    total = rubric.total(values)
    case.final_score = total
    case.predicate = rubric.predicate(total).id
    case.state = "completed" if rubric.passed(total) else "not_passed"
    case.state_entered_at = FINALIZED_AT
    db.session.commit()


def evaluators_of(world) -> dict[str, User]:
    return {"examiner": world.examiner, "coach": world.coach, "mentor": world.mentor}


def add_trainees(world, n: int, start: int = 0) -> list:
    cases = []
    for i in range(start, start + n):
        trainee = factories.create_user(name=f"Peserta {i:03d}", nip=f"19850101201001{i:04d}")
        case = start_case(
            world.cohort, trainee, group=world.group, mentor=world.mentor, executive=world.executive
        )
        factories.fill_proposal(case)
        case.title = f"Aksi nomor {i}"
        cases.append(case)
    db.session.commit()
    return cases


def dress(world):
    world.trainee.name = "Rina Marlina"
    world.trainee.nip = "198502022010011002"
    world.trainee.position = "Kepala Bidang Pemerintahan Desa"
    world.trainee.rank = "Penata Tingkat I, III/d"
    world.examiner.name = "Dr. Penguji Satu"
    world.examiner.nip = "196901011990031001"
    world.coach.name = "Coach Dua, M.Si."
    world.mentor.name = "Ir. Mentor Tiga"
    db.session.commit()


# ---------------------------------------------------------------- the assessment sheet


def test_assessment_sheet_shows_every_score_rating_total_and_signer(world):
    dress(world)
    give_result(world.case, evaluators_of(world))
    text = squash(text_of(results.assessment_sheet_pdf(world.case)))
    for expected in (
        t("ASSESSMENT SHEET"),
        world.cohort.program.institution.name,
        world.cohort.name,
        "Rina Marlina",
        "198502022010011002",
        "Kepala Bidang Pemerintahan Desa",
        "DPMD Kutai Kartanegara",
        "Penataan Tata Kelola Perencanaan Pembangunan Desa",
        "Kelompok 1",
        "Dr. Penguji Satu",
        "NIP. 196901011990031001",
        "Coach Dua, M.Si.",
        "Ir. Mentor Tiga",
        # aspects with weight, score, weighted points, note
        "Substansi aksi perubahan",
        "ok substance",
        "Kinerja dalam implementasi",
        "92,5",  # the mentor's score, Indonesian decimals
        "9,25",  # its weighted points (×10/100)
        t("Subtotal"),
        "Catatan examiner",
        # the milestone ratings by each evaluator
        "Menyusun pedoman",
        "Sesuai",
        "Melampaui",
        "Kurang",
        # the result
        "84,95",
        "Memuaskan",  # the predicate, from the rubric
        t("Passed"),
        "15 Juni 2026",
    ):
        assert squash(expected) in text, (expected, text)
    # examiner subtotal 0.2*90 + .15*86 + .15*84 = 43.5; coach 25.2; mentor 16.25
    for subtotal in ("43,5", "25,2", "16,25"):
        assert subtotal in text, subtotal
    assert t("Not passed") not in text


def test_the_sheet_reads_what_the_workflow_wrote(world):
    """Scored through submit_scores and finalized through perform(), not written directly."""
    dress(world)
    factories.to_implementation(world)
    for m in world.case.milestones:
        m.status = "verified"
    db.session.commit()
    factories.fill_final_report(world.case)
    perform(world.case, "submit_report", world.trainee)
    factories.score_case(world, (90, 85, 80))
    perform(world.case, "finalize", world.organizer)
    assert (world.case.state, world.case.final_score) == ("completed", 86.5)
    text = squash(text_of(results.assessment_sheet_pdf(world.case)))
    # 0.5*90 + 0.3*85 + 0.2*80: examiner 45, coach 25.5, mentor 16
    for expected in ("86,5", "Memuaskan", t("Passed"), "45", "25,5", "16", "Sesuai"):
        assert expected in text, expected
    assert "Kurang" not in text and "Melampaui" not in text


def test_a_failed_case_prints_tidak_lulus(world):
    give_result(world.case, evaluators_of(world), POOR)
    assert world.case.state == "not_passed"
    text = squash(text_of(results.assessment_sheet_pdf(world.case)))
    assert t("Not passed") in text and "TidakMemuaskan" in text and "60" in text


@pytest.mark.parametrize("state", ["draft", "implementation", "evaluation", "withdrawn"])
def test_no_sheet_before_the_result_is_final(world, state):
    world.case.state = state
    db.session.commit()
    with pytest.raises(NotAvailable):
        results.assessment_sheet_pdf(world.case)


def test_the_route_refuses_a_case_without_result_with_409(client, world):
    world.case.state = "evaluation"
    db.session.commit()
    english(client)
    login(client, world.organizer)
    response = client.get(f"/cases/{world.case.id}/assessment.pdf")
    assert response.status_code == 409
    assert "available once the result is final" in response.get_data(as_text=True)
    assert ScoreSheet.query.count() == 0


def test_the_sheet_follows_the_language_and_downloads_as_attachment(client, world):
    give_result(world.case, evaluators_of(world))
    english(client)
    login(client, world.trainee)
    response = client.get(f"/cases/{world.case.id}/assessment.pdf")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="lembar-penilaian-{world.case.id}.pdf"'
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    text = squash(text_of(response.data))
    for expected in ("ASSESSMENT SHEET", "Substance of the change action", "Very good", "Passed"):
        assert squash(expected) in text, (expected, text)
    assert "84.95" in text


ASSESSMENT_ACCESS = [
    ("trainee", 200),
    ("mentor", 200),
    ("coach", 200),
    ("examiner", 200),
    ("organizer", 200),
    ("executive", 200),
    ("stranger", 404),
    ("other_organizer", 404),
]


@pytest.mark.parametrize(("who", "status"), ASSESSMENT_ACCESS)
def test_assessment_sheet_is_scoped_like_the_case(client, world, who, status):
    give_result(world.case, evaluators_of(world))
    login(client, people(world)[who])
    assert client.get(f"/cases/{world.case.id}/assessment.pdf").status_code == status
    assert client.get("/cases/999999/assessment.pdf").status_code == 404


def test_documents_need_a_login(client, world):
    for path in (
        f"/cases/{world.case.id}/assessment.pdf",
        f"/cohorts/{world.cohort.id}/recap.pdf",
        f"/cohorts/{world.cohort.id}/recap.xlsx",
    ):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


# ---------------------------------------------------------------- who sees a recap


def people(world) -> dict[str, User]:
    """The world's people, plus oversight roles of this cohort and of another."""
    other = factories.create_cohort()
    found = {
        role: world.by_role(role)
        for role in ("trainee", "mentor", "executive", "coach", "examiner", "organizer")
    }
    found["stranger"] = world.stranger
    found["other_organizer"] = factories.create_user()
    db.session.add(CohortMember(cohort=other, user=found["other_organizer"], role="organizer"))
    found["cohort_examiner"] = factories.create_user()
    db.session.add(
        CohortMember(cohort=world.cohort, user=found["cohort_examiner"], role="examiner")
    )
    found["other_coach"] = factories.create_user()
    db.session.add(Group(cohort=other, name="Kelompok X", coach=found["other_coach"]))
    institution = world.cohort.program.institution
    found["admin"] = factories.create_user(is_admin=True, institution_id=institution.id)
    found["other_admin"] = factories.create_user(
        is_admin=True, institution_id=other.program.institution.id
    )
    db.session.commit()
    return found


RECAP_ACCESS = [
    ("organizer", 200),
    # Evaluators read the others' points case by case, after their own: not in bulk.
    ("coach", 404),
    ("examiner", 404),
    ("cohort_examiner", 404),
    ("admin", 200),  # the admin of its institution
    ("trainee", 404),
    ("mentor", 404),
    ("executive", 404),
    ("stranger", 404),
    ("other_organizer", 404),
    ("other_coach", 404),
    ("other_admin", 404),
]


@pytest.mark.parametrize(("who", "status"), RECAP_ACCESS)
def test_recap_is_for_those_who_oversee_the_cohort(client, world, who, status):
    login(client, people(world)[who])
    for suffix in ("pdf", "xlsx"):
        response = client.get(f"/cohorts/{world.cohort.id}/recap.{suffix}")
        assert response.status_code == status, suffix
    assert client.get("/cohorts/999999/recap.pdf").status_code == 404


# ---------------------------------------------------------------- the recap


def recap_world(world):
    """Three trainees with a result (passed, passed, not passed), one still evaluating,
    one whose title starts like a formula."""
    dress(world)
    b, c, d, e = add_trainees(world, 4)
    b.trainee.name, c.trainee.name, d.trainee.name, e.trainee.name = (
        "Andi Saputra",
        "Yusuf Hamdani",
        "budi Santoso",  # sorted case-insensitively: after Andi, before Rina
        "Zainal Arifin",
    )
    e.title = '=HYPERLINK("http://evil.test","klik")'
    db.session.commit()
    give_result(world.case, evaluators_of(world))
    give_result(b, evaluators_of(world), dict(GOOD, substance=100, results=100, presentation=100))
    give_result(c, evaluators_of(world), POOR)
    d.state = "evaluation"
    db.session.commit()
    return {"rina": world.case, "andi": b, "yusuf": c, "budi": d, "zainal": e}


def test_recap_pdf_lists_trainees_by_name_with_subtotals_and_summary(client, world):
    recap_world(world)
    login(client, world.organizer)
    response = client.get(f"/cohorts/{world.cohort.id}/recap.pdf")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    slug = f"pka-angkatan-{world.cohort.name.split()[-1]}-2026"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="rekap-nilai-{slug}.pdf"'
    )
    reader = PdfReader(io.BytesIO(response.data))
    page = reader.pages[0]
    assert page.mediabox.width > page.mediabox.height  # landscape
    text = squash(text_of(response.data))
    order = [text.index(squash(n)) for n in ("Andi", "budi", "Rina", "Yusuf", "Zainal")]
    assert order == sorted(order)
    for expected in (
        t("RECAP OF SCORES"),
        "198502022010011002",
        squash(f"{t('Examiner')}(50)"),
        "43,5",  # Rina's examiner subtotal
        "84,95",
        "Memuaskan",
        t("Passed"),
        t("Not passed"),
        "—(Evaluasi)",  # budi: no result yet, shown with the state
        "—(Penyusunanrancangan)",
        t("Summary"),
    ):
        assert expected in text, expected
    summary = text[text.index(t("Summary")) :]
    for expected in (
        t("Trainees") + "5",
        "Memuaskan1",
        "SangatMemuaskan1",
        "TidakMemuaskan1",
        "CukupMemuaskan0",
        t("Passed") + "2",
        t("Not passed") + "1",
        t("Not final yet") + "2",
    ):
        assert expected in summary, expected


def test_recap_repeats_its_header_row_on_every_page(world):
    cases = add_trainees(world, 45)
    cases[0].title = "Sangat panjang " * 800 + "x" * 3000  # cut in the PDF, not failing
    db.session.commit()
    pdf = results.recap_pdf(world.cohort)
    pages = [squash(p.extract_text()) for p in PdfReader(io.BytesIO(pdf)).pages]
    with_rows = [p for p in pages if "Aksinomor" in p]
    assert len(with_rows) >= 2
    for page in with_rows:
        assert "NIP" in page and t("Predicate") in page
    assert "Sangatpanjang" in pages[0] and "x" * 500 not in "".join(pages)


def test_recap_xlsx_reads_back_with_numbers_and_inert_formulas(client, world):
    cases = recap_world(world)
    login(client, world.organizer)
    response = client.get(f"/cohorts/{world.cohort.id}/recap.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response.headers["Content-Disposition"].endswith('.xlsx"')
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    book = load_workbook(io.BytesIO(response.data))
    names = [str(gettext("Recap of scores")), str(gettext("Scores per aspect"))]
    assert book.sheetnames == names
    recap = list(book[names[0]].iter_rows(values_only=True))
    header = recap[0]
    labels = (
        *("No.", "NDH", "Name", "NIP", "Rank/grade", "Position", "Agency", "Group", "Title"),
        *("Total", "Predicate", "Result"),
    )
    assert header[:9] + header[-3:] == tuple(str(gettext(h)) for h in labels)
    by_name = {row[2]: row for row in recap[1:]}
    # Nobody has an NDH here: by name, case-insensitively.
    assert [row[2] for row in recap[1:]] == [
        "Andi Saputra",
        "budi Santoso",
        "Rina Marlina",
        "Yusuf Hamdani",
        "Zainal Arifin",
    ]
    rina = by_name["Rina Marlina"]
    assert rina[4:6] == ("Penata Tingkat I, III/d", "Kepala Bidang Pemerintahan Desa")
    assert rina[9:12] == (43.5, 25.2, 16.25)
    assert rina[12] == GOOD_TOTAL and rina[13] == "Memuaskan" and rina[14] == gettext("Passed")
    assert by_name["budi Santoso"][12] is None and by_name["budi Santoso"][14] == "— (Evaluasi)"
    zainal = book[names[0]]["I6"]
    assert zainal.value == cases["zainal"].title and zainal.data_type == "s"
    aspects = list(book[names[1]].iter_rows(values_only=True))
    assert aspects[0][4] == "Penguji: Substansi aksi perubahan (20)"
    assert aspects[0][-1] == gettext("Total")
    rina_scores = next(r for r in aspects if r[2] == "Rina Marlina")
    assert rina_scores[4:] == (90, 86, 84, 80, 88, 92.5, 70, GOOD_TOTAL)
    assert next(r for r in aspects if r[2] == "Zainal Arifin")[4:] == (None,) * 8


def test_recap_query_count_does_not_grow_with_trainees(client, world):
    login(client, world.organizer)
    few = add_trainees(world, 2)
    for case in few:
        give_result(case, evaluators_of(world))

    def count(suffix: str) -> int:
        db.session.expire_all()
        with counting_statements() as statements:
            assert client.get(f"/cohorts/{world.cohort.id}/recap.{suffix}").status_code == 200
        return len(statements)

    small = {s: count(s) for s in ("pdf", "xlsx")}
    for case in add_trainees(world, 27, start=10):
        give_result(case, evaluators_of(world), POOR)
    large = {s: count(s) for s in ("pdf", "xlsx")}
    assert large == small
    assert len(results.cohort_recap(world.cohort).rows) == 30


def test_cohort_slug_is_ascii_and_safe(world):
    world.cohort.name = 'Angkatan "IV" — Kaltim/Samarinda ü'
    db.session.commit()
    assert results.cohort_slug(world.cohort) == "pka-angkatan-iv-kaltim-samarinda-u-2026"
