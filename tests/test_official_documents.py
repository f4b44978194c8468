"""Official documents (tata naskah dinas): signature blocks with "Plt."/"Plh."/"Pj." before
the jabatan, no NIP for a kepala daerah, "Samarinda, 5 Desember 2026"; the halaman
persetujuan, lembar pengesahan and berita acara seminar read back with pypdf; the rekap
nilai's NDH, pangkat/golongan and jabatan; who may download them; refusals write nothing."""

from __future__ import annotations

import io
import uuid
from datetime import date, datetime, timedelta

import pytest
from flask import render_template
from flask_babel import force_locale, gettext
from openpyxl import load_workbook
from pypdf import PdfReader

from tests import factories
from tests.test_http_helpers import english, login
from tests.test_results import people
from workflow.extensions import db
from workflow.models import (
    Agency,
    AuditEvent,
    Delegation,
    Institution,
    Region,
    Seminar,
    SeminarPanelist,
)
from workflow.models._base import utcnow
from workflow.services import (
    NotAvailable,
    perform,
    printing,
    results,
    signatures,
    start_case,
)
from workflow.services.calendar import local_date

ZONE = "Asia/Makassar"  # the factories' institutions: WITA
SEMINAR_START = datetime(2026, 12, 5, 1, 0)  # Saturday 5 December 2026, 09.00 WITA
SEMINAR_END = datetime(2026, 12, 5, 3, 0)


def squash(text: str) -> str:
    return "".join(text.split())


def text_of(pdf: bytes) -> str:
    return squash("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))


def t(msgid: str, **values) -> str:
    """A msgid as the official documents print it (Indonesian, once translated)."""
    with force_locale("id"):
        return squash(gettext(msgid, **values))


def today() -> date:
    return local_date(utcnow(), ZONE)


def signed_today() -> str:
    return squash(f"Samarinda, {signatures.official_date(today())}")


def dress(world) -> None:
    """An institution in Samarinda and people as an organizer enters them."""
    world.cohort.program.institution.city = "Samarinda"
    world.trainee.name = "Rina Marlina"
    world.trainee.nip = "198502022010011002"
    world.trainee.rank = "Penata Tingkat I, III/d"
    world.trainee.position = "Kepala Bidang Pemerintahan Desa"
    world.case.ndh = 7
    world.coach.name = "Dr. Coach Dua, M.Si."
    world.coach.nip = "197203031998031003"
    world.coach.position = "Widyaiswara Ahli Utama"
    world.mentor.name = "Ir. Mentor Tiga"
    world.mentor.nip = "197001011995031001"
    world.mentor.rank = "Pembina Utama Muda, IV/c"
    world.mentor.position = "Kepala Dinas Pemberdayaan Masyarakat dan Desa"
    world.examiner.name = "Prof. Penguji Satu"
    world.examiner.nip = "196901011990031001"
    world.executive.name = "H. Bupati Empat"
    world.executive.nip = None  # an elected kepala daerah
    world.executive.position = "Bupati Kutai Kartanegara"
    db.session.commit()


def delegate(principal, role: str, kind: str = "plt", **person):
    """An acting official for `principal` from yesterday for a week, with the SK."""
    deputy = factories.create_user(**person)
    db.session.add(
        Delegation(
            principal_id=principal.id,
            delegate_id=deputy.id,
            role=role,
            kind=kind,
            starts_on=today() - timedelta(days=1),
            ends_on=today() + timedelta(days=7),
            sk_number="800/45/BKD/2026",
            sk_date=date(2026, 12, 1),
            created_by_id=principal.id,
        )
    )
    db.session.commit()
    return deputy


def seminar(world, kind: str = "proposal", status: str = "held", **attrs) -> Seminar:
    """A seminar of the world's case written directly, its panel all present."""
    row = Seminar(
        cohort_id=world.cohort.id,
        case_id=world.case.id,
        kind=kind,
        starts_at=attrs.pop("starts_at", SEMINAR_START),
        ends_at=attrs.pop("ends_at", SEMINAR_END),
        room=attrs.pop("room", "Ruang Mahakam 2"),
        online_link=attrs.pop("online_link", ""),
        status=status,
        trainee_attended=True if status == "held" else None,
        notes=attrs.pop("notes", ""),
        uid=f"{uuid.uuid4()}@aksi.test",
        **attrs,
    )
    attended = None if status != "held" else True
    row.panel = [
        SeminarPanelist(user=world.examiner, role="examiner", attended=attended),
        SeminarPanelist(user=world.coach, role="coach", attended=attended),
        SeminarPanelist(user=world.mentor, role="mentor", attended=attended),
    ]
    db.session.add(row)
    db.session.commit()
    return row


def approved(world, mentor=None) -> None:
    perform(world.case, "submit", world.trainee)
    perform(world.case, "approve", world.coach)
    perform(world.case, "approve", mentor or world.mentor)


def ratified(world) -> Seminar:
    approved(world)
    held = seminar(world)
    perform(world.case, "seminar_passed", world.examiner)
    for role in ("examiner", "coach", "mentor"):
        perform(world.case, "ratify", world.by_role(role))
    assert world.case.state == "endorsement_pending"
    return held


@pytest.fixture
def v2(app):
    world = factories.World(version=None)
    dress(world)
    return world


# ---------------------------------------------------------------- the block itself


BLOCKS = [
    # (who, acting kind, a.n., lines expected in order, lines never printed)
    (
        "mentor",
        None,
        None,
        [
            "Mentor",
            "Kepala Dinas Pemberdayaan Masyarakat dan Desa",
            "Ir. Mentor Tiga",
            "Pembina Utama Muda, IV/c",
            "NIP. 197001011995031001",
        ],
        ["Plt.", "a.n."],
    ),
    (
        "mentor",
        "plt",
        None,
        [
            "Plt. Kepala Dinas Pemberdayaan Masyarakat dan Desa",
            "Drs. Wakil",
            "NIP. 198001012005011001",
            "800/45/BKD/2026",
        ],
        ["Ir. Mentor Tiga", "197001011995031001", "a.n."],
    ),
    (
        "mentor",
        "plh",
        None,
        ["Plh. Kepala Dinas Pemberdayaan Masyarakat dan Desa", "Drs. Wakil"],
        ["Plt."],
    ),
    (
        "executive",
        None,
        None,
        ["Bupati Kutai Kartanegara", "H. Bupati Empat"],
        ["NIP", "Plt.", "Pj."],
    ),
    (
        "executive",
        "pj",
        None,
        ["Pj. Bupati Kutai Kartanegara", "Drs. Wakil", "NIP. 198001012005011001"],
        ["H. Bupati Empat"],
    ),
    (
        "organizer",
        None,
        "Kepala BPSDM Provinsi Kalimantan Timur",
        ["a.n. Kepala BPSDM Provinsi Kalimantan Timur", "Sekretaris", "Penyelenggara Satu"],
        ["NIP"],
    ),
]


@pytest.mark.parametrize(("role", "kind", "for_whom", "expected", "absent"), BLOCKS)
def test_signature_block_lines(v2, role, kind, for_whom, expected, absent):
    person = v2.by_role(role)
    if role == "organizer":
        person.name, person.position, person.nip = "Penyelenggara Satu", "Sekretaris", None
    delegation = None
    if kind:
        person = delegate(v2.by_role(role), role, kind, name="Drs. Wakil", nip="198001012005011001")
        delegation = db.session.query(Delegation).filter_by(delegate_id=person.id).one()
    block = signatures.signature_block(
        person,
        role,
        delegation=delegation,
        case=v2.case,
        day=date(2026, 12, 5),
        on_behalf_of=for_whom,
    )
    lines = block.lines
    assert lines[0] == "Samarinda, 5 Desember 2026"
    positions = [next(i for i, line in enumerate(lines) if e in line) for e in expected]
    assert positions == sorted(positions), lines
    for text in absent:
        assert not any(text in line for line in lines), (text, lines)
    if kind:
        assert block.decree == gettext(
            "Decree number %(number)s dated %(date)s",
            number="800/45/BKD/2026",
            date="1 Desember 2026",
        )


def test_place_and_date_are_indonesian_whatever_the_language(app):
    province = Region(level="province", name="Provinsi Kalimantan Timur", code="64")
    with_city = Institution(code="kaltim", name="BPSDM Kaltim", city="Samarinda")
    without = Institution(code="x", name="BPSDM X", region=province)
    with force_locale("en"):
        assert signatures.place_and_date(with_city, date(2026, 12, 5)) == (
            "Samarinda, 5 Desember 2026"
        )
        assert signatures.place_and_date(without, date(2026, 8, 17)) == (
            "Provinsi Kalimantan Timur, 17 Agustus 2026"
        )
        assert signatures.place_and_date(None, date(2026, 1, 2)) == "2 Januari 2026"
        assert signatures.place_and_date(with_city, None) == ""
        assert signatures.weekday(date(2026, 12, 5)) == "Sabtu"


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (0, "nol"),
        (1, "satu"),
        (11, "sebelas"),
        (15, "lima belas"),
        (31, "tiga puluh satu"),
        (100, "seratus"),
        (1000, "seribu"),
        (1945, "seribu sembilan ratus empat puluh lima"),
        (2026, "dua ribu dua puluh enam"),
        (110_000, "seratus sepuluh ribu"),
    ],
)
def test_terbilang(number, words):
    assert signatures.terbilang(number) == words


# ---------------------------------------------------------------- halaman persetujuan


def test_approval_page_has_both_signatures_jabatan_first_for_the_plt(v2):
    deputy = delegate(v2.mentor, "mentor", name="Drs. Wakil Mentor", nip="198001012005011001")
    approved(v2, mentor=deputy)
    assert v2.case.state == "seminar_proposal"
    text = text_of(printing.approval_page_pdf(v2.case))
    for expected in (
        v2.cohort.program.institution.name.upper(),
        t("APPROVAL PAGE"),
        v2.case.title,
        "Rina Marlina",
        "198502022010011002",
        "PenataTingkatI,III/d",
        "KepalaBidangPemerintahanDesa",
        t("Approved to be presented at the seminar."),
        "Dr.CoachDua,M.Si.",
        "NIP.197203031998031003",
        "800/45/BKD/2026",
    ):
        assert squash(expected) in text, expected
    assert text.count(signed_today()) == 2  # each signer dated as they approved
    acting = squash("Plt. Kepala Dinas Pemberdayaan Masyarakat dan Desa")
    assert text.index(acting) < text.index("Drs.WakilMentor") < text.index("198001012005011001")
    assert "Ir.MentorTiga" not in text  # the principal did not sign
    # The coach stands left of the mentor, as the step names them.
    assert text.index("Dr.CoachDua") < text.index("Drs.WakilMentor")


def test_approval_page_reads_both_kinds_of_approval_event(v2):
    """The first approval kept the state (approved_as), the second moved the case."""
    approved(v2)
    events = db.session.query(AuditEvent).filter_by(trigger="approve").order_by(AuditEvent.seq)
    first, last = events.all()
    assert first.data["approved_as"] == ["coach"] and first.from_state == first.to_state
    assert last.from_state == "proposal_review" and last.to_state == "seminar_proposal"
    found = signatures.signatures_of(v2.case, "approve")
    assert found.complete
    assert found.events == {"coach": first, "mentor": last}


def test_approval_page_is_refused_until_both_approved(client, v2):
    perform(v2.case, "submit", v2.trainee)
    perform(v2.case, "approve", v2.coach)
    with pytest.raises(NotAvailable):
        printing.approval_page_pdf(v2.case)
    # While waiting, the engine's own record says who signed.
    assert set(signatures.signatures_of(v2.case, "approve").events) == {"coach"}
    events = db.session.query(AuditEvent).count()
    english(client)
    login(client, v2.trainee)
    response = client.get(f"/cases/{v2.case.id}/approval-page.pdf")
    assert response.status_code == 409
    body = response.get_data(as_text=True)
    assert "once the proposal is approved" in body and "Mentor" in body
    assert db.session.query(AuditEvent).count() == events


def test_a_send_back_voids_the_approvals(v2):
    """Sent back from the review and resubmitted: the earlier signatures lapse."""
    world = v2
    perform(world.case, "submit", world.trainee)
    perform(world.case, "approve", world.coach)
    perform(world.case, "request_revision", world.mentor, comment="Perbaiki latar belakang.")
    assert signatures.signatures_of(world.case, "approve").events == {}
    perform(world.case, "submit", world.trainee)
    perform(world.case, "approve", world.mentor)
    found = signatures.signatures_of(world.case, "approve")
    assert set(found.events) == {"mentor"} and not found.complete


# ---------------------------------------------------------------- lembar pengesahan


def test_ratification_sheet_has_the_panel_and_the_seminar_date(v2):
    ratified(v2)
    text = text_of(printing.ratification_pdf(v2.case))
    for expected in (
        t("RATIFICATION SHEET"),
        v2.case.title,
        "Rina Marlina",
        "Sabtu,5Desember2026",  # the seminar
        "Prof.PengujiSatu",
        "NIP.196901011990031001",
        "Dr.CoachDua,M.Si.",
        "Ir.MentorTiga",
        "NIP.197001011995031001",
    ):
        assert squash(expected) in text, expected
    assert text.count(signed_today()) == 3
    order = [text.index(n) for n in ("Prof.PengujiSatu", "Dr.CoachDua", "Ir.MentorTiga")]
    assert order == sorted(order)


def test_ratification_sheet_waits_for_the_whole_panel(v2):
    approved(v2)
    seminar(v2)
    perform(v2.case, "seminar_passed", v2.examiner)
    perform(v2.case, "ratify", v2.examiner)
    with pytest.raises(NotAvailable):
        printing.ratification_pdf(v2.case)
    assert set(signatures.signatures_of(v2.case, "ratify").waiting) == {"coach", "mentor"}


def test_a_flow_without_ratification_has_no_sheet(world):
    """Version 1 (the mentor approves alone, no seminar): no lembar pengesahan."""
    with pytest.raises(NotAvailable) as refused:
        printing.ratification_pdf(world.case)
    assert refused.value.message is printing.NO_SUCH_DOCUMENT


# ---------------------------------------------------------------- berita acara


def test_minutes_tell_when_where_who_and_the_outcome(v2):
    approved(v2)
    held = seminar(
        v2,
        online_link="https://zoom.example.test/j/123",
        notes="Perjelas indikator keberhasilan jangka pendek.",
    )
    held.panel[1].attended = False  # the coach could not come
    db.session.commit()
    perform(v2.case, "seminar_passed_with_fixes", v2.examiner, comment="Perbaiki indikator.")
    assert held.outcome == "passed_with_fixes"
    text = text_of(printing.minutes_pdf(held))
    for expected in (
        t("MINUTES"),
        "Sabtu",
        "limabulanDesembertahunduaribuduapuluhenam",
        "(5Desember2026)",
        "09.00",
        "11.00",
        "WITA",
        "RuangMahakam2",
        "https://zoom.example.test/j/123",
        "Rina Marlina",
        "198502022010011002",
        v2.case.title,
        "Prof.PengujiSatu",
        "Dr.CoachDua,M.Si.",
        t("Absent"),
        t("Present"),
        t("Feasible with fixes"),
        "Perjelasindikatorkeberhasilanjangkapendek.",
        squash("Samarinda, 5 Desember 2026"),
        "NIP.196901011990031001",
    ):
        assert squash(expected) in text, expected
    # The absent coach is in the attendance table but does not sign.
    assert text.count("Dr.CoachDua,M.Si.") == 1
    assert text.count("Prof.PengujiSatu") == 2


@pytest.mark.parametrize("status", ["scheduled", "cancelled"])
def test_minutes_only_once_the_seminar_is_held(client, v2, status):
    approved(v2)
    planned = seminar(v2, status=status, starts_at=SEMINAR_START + timedelta(days=3))
    with pytest.raises(NotAvailable):
        printing.minutes_pdf(planned)
    english(client)
    login(client, v2.organizer)
    response = client.get(f"/seminars/{planned.id}/minutes.pdf")
    assert response.status_code == 409
    assert "once the seminar is held" in response.get_data(as_text=True)


# ---------------------------------------------------------------- the proposal's page


def test_kepala_daerah_signs_without_nip_and_a_pj_with_his(app):
    world = factories.World()  # version 1: the executive endorses on the proposal
    dress(world)
    perform(world.case, "submit", world.trainee)
    perform(world.case, "approve", world.mentor)
    perform(world.case, "endorse", world.executive, data=dict(factories.ENDORSE_DATA))
    text = text_of(printing.proposal_pdf(world.case))
    approval = text[text.rindex(t("APPROVAL PAGE")) :]
    tail = approval[approval.index("H.BupatiEmpat") :]
    assert squash("Bupati Kutai Kartanegara") in approval
    assert "NIP" not in tail.split("·")[0]  # nothing after the Bupati's name but the footer
    assert "NIP.197001011995031001" in approval  # the mentor has one


def test_pj_bupati_endorses_with_jabatan_first(app):
    world = factories.World()
    dress(world)
    perform(world.case, "submit", world.trainee)
    perform(world.case, "approve", world.mentor)
    pj = delegate(
        world.executive, "executive", "pj", name="Dr. Pj Bupati", nip="197505052000031005"
    )
    perform(world.case, "endorse", pj, data=dict(factories.ENDORSE_DATA))
    text = text_of(printing.proposal_pdf(world.case))
    approval = text[text.rindex(t("APPROVAL PAGE")) :]
    acting = squash("Pj. Bupati Kutai Kartanegara")
    assert approval.index(acting) < approval.index("Dr.PjBupati")
    assert approval.index("Dr.PjBupati") < approval.index("NIP.197505052000031005")
    assert "800/45/BKD/2026" in approval and "H.BupatiEmpat" not in approval


# ---------------------------------------------------------------- rekap nilai


def test_recap_has_ndh_rank_and_position_ordered_by_ndh(client, world):
    trainees = [("Zainal Arifin", 1), ("Andi Saputra", 3), ("Budi Santoso", None)]
    world.trainee.name, world.case.ndh = "Rina Marlina", 2
    world.trainee.rank, world.trainee.position = "Penata, III/c", "Kepala Seksi Desa"
    agency = db.session.query(Agency).first()
    for name, ndh in trainees:
        trainee = factories.create_user(name=name, rank="Pembina, IV/a", agency=agency)
        case = start_case(world.cohort, trainee, group=world.group)
        case.ndh = ndh
    db.session.commit()
    recap = results.cohort_recap(world.cohort)
    assert [(r.ndh, r.name) for r in recap.rows] == [
        (1, "Zainal Arifin"),
        (2, "Rina Marlina"),
        (3, "Andi Saputra"),
        (None, "Budi Santoso"),
    ]
    login(client, world.organizer)
    pdf = text_of(client.get(f"/cohorts/{world.cohort.id}/recap.pdf").data)
    for label in ("NDH", "Rank/grade", "Position"):
        assert squash(gettext(label)) in pdf, label
    assert "Penata,III/c" in pdf and "KepalaSeksiDesa" in pdf
    order = [pdf.index(n) for n in ("Zainal", "Rina", "Andi", "Budi")]
    assert order == sorted(order)
    book = load_workbook(io.BytesIO(client.get(f"/cohorts/{world.cohort.id}/recap.xlsx").data))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[0][1:6] == tuple(
        gettext(h) for h in ("NDH", "Name", "NIP", "Rank/grade", "Position")
    )
    assert [r[1:3] for r in rows[1:]] == [
        (1, "Zainal Arifin"),
        (2, "Rina Marlina"),
        (3, "Andi Saputra"),
        (None, "Budi Santoso"),
    ]
    assert rows[2][4:6] == ("Penata, III/c", "Kepala Seksi Desa")


# ---------------------------------------------------------------- who may download


ACCESS = [
    ("trainee", 200),
    ("mentor", 200),
    ("coach", 200),
    ("examiner", 200),
    ("executive", 200),
    ("organizer", 200),
    ("admin", 200),
    ("stranger", 404),
    ("other_organizer", 404),
    ("other_coach", 404),
    ("other_admin", 404),
]


@pytest.mark.parametrize(("who", "status"), ACCESS)
def test_documents_are_scoped_like_the_case(client, v2, who, status):
    held = ratified(v2)
    login(client, people(v2)[who])
    for path in (
        f"/cases/{v2.case.id}/approval-page.pdf",
        f"/cases/{v2.case.id}/ratification.pdf",
        f"/seminars/{held.id}/minutes.pdf",
    ):
        response = client.get(path)
        assert response.status_code == status, path
        if status == 200:
            assert response.headers["Content-Type"] == "application/pdf"
            assert response.headers["Content-Disposition"].startswith("attachment;")
            assert response.data.startswith(b"%PDF")
    for path in ("/cases/999999/approval-page.pdf", "/seminars/999999/minutes.pdf"):
        assert client.get(path).status_code == 404


def test_documents_need_a_login(client, v2):
    held = seminar(v2)
    for path in (
        f"/cases/{v2.case.id}/approval-page.pdf",
        f"/cases/{v2.case.id}/ratification.pdf",
        f"/seminars/{held.id}/minutes.pdf",
    ):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


# ---------------------------------------------------------------- the links


def test_links_list_what_can_be_printed_and_why_not_yet(app, v2):
    perform(v2.case, "submit", v2.trainee)
    perform(v2.case, "approve", v2.coach)
    with app.test_request_context():
        html = render_template("documents/_links.html", case=v2.case)
    assert f"/cases/{v2.case.id}/approval-page.pdf" not in html
    assert gettext("Approval page") in html and gettext("Ratification sheet") in html
    perform(v2.case, "approve", v2.mentor)
    held = seminar(v2)
    with app.test_request_context():
        html = render_template("documents/_links.html", case=v2.case)
    assert f'href="/cases/{v2.case.id}/approval-page.pdf"' in html
    assert f'href="/seminars/{held.id}/minutes.pdf"' in html
    assert f"/cases/{v2.case.id}/ratification.pdf" not in html
