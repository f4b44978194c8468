"""The printable proposal: every section, its tables, and the approval page with names,
dates, the letter number, and "a.n." / "Plt." where an acting official signed."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from pypdf import PdfReader

from tests.factories import create_user
from tests.test_http_helpers import login
from workflow.extensions import db
from workflow.models._base import utcnow
from workflow.services import perform, printing
from workflow.services.calendar import local_date
from workflow.services.delegations import create_delegation

ENDORSE = {"letter_number": "800/123/DPMD/2026", "letter_date": "2026-11-20"}


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def pages_of(pdf: bytes) -> list[str]:
    """Each page's text with whitespace removed: extraction splits and joins words where
    table cells wrap, so compare without it (see squash())."""
    return [squash(p.extract_text()) for p in PdfReader(io.BytesIO(pdf)).pages]


def squash(text: str) -> str:
    return "".join(text.split())


def has(text: str, expected: str) -> bool:
    return squash(expected) in text


def richer(world):
    case = world.case
    case.stakeholders = [
        {
            "name": "Camat Tenggarong",
            "kind": "internal",
            "role": "Pembina",
            "influence": "high",
            "interest": "high",
            "strategy": "Dilibatkan penuh",
        },
    ]
    case.team = [{"name": "Siti Rahmawati", "role": "Sekretaris"}]
    case.risks = [{"risk": "Anggaran terbatas", "mitigation": "Kerja sama CSR"}]
    case.resources = "APBD dan dana desa."
    world.trainee.nip = "198502022010011002"
    world.mentor.name = "Dr. Mentor Utama"
    world.mentor.nip = "197001011995031001"
    world.executive.name = "H. Kepala Dinas"
    world.executive.nip = "196801011990031001"
    db.session.commit()


def test_draft_pdf_has_every_section_and_no_signatures_yet(world):
    richer(world)
    pdf = printing.proposal_pdf(world.case)
    assert pdf.startswith(b"%PDF")
    pages = pages_of(pdf)
    body, approval = "\n".join(pages[:-1]), pages[-1]
    for expected in (
        world.case.title.split()[0],
        "Perencanaan desa belum terpadu.",
        "Belum optimalnya tata kelola",
        "Camat Tenggarong",
        "Siti Rahmawati",
        "Anggaran terbatas",
        "Kerja sama CSR",
        "Menyusun pedoman",
        "dokumen",
        "APBD dan dana desa.",
        "198502022010011002",
    ):
        assert has(body, expected), expected
    assert has(approval, "Dr. Mentor Utama") and has(approval, "H. Kepala Dinas")
    assert "a.n." not in approval
    assert "800/123/DPMD/2026" not in approval


def test_approval_page_names_mentor_and_executive_with_letter_number(world):
    richer(world)
    perform(world.case, "submit", world.trainee)
    perform(world.case, "approve", world.mentor)
    perform(world.case, "endorse", world.executive, data=ENDORSE)
    approval = pages_of(printing.proposal_pdf(world.case))[-1]
    for expected in (
        "Dr. Mentor Utama",
        "NIP. 197001011995031001",
        "H. Kepala Dinas",
        "NIP. 196801011990031001",
        "800/123/DPMD/2026",
        "2026",
    ):
        assert has(approval, expected), expected
    assert "a.n." not in approval and "Plt." not in approval


def test_acting_official_signs_with_plt_before_the_jabatan(world):
    """Tata naskah dinas: "Plt." stands before the principal's jabatan, above the acting
    official's own name and NIP; no "a.n." (that is for signing for a superior)."""
    richer(world)
    world.executive.position = "Kepala Dinas Pemberdayaan Masyarakat dan Desa"
    db.session.commit()
    perform(world.case, "submit", world.trainee)
    perform(world.case, "approve", world.mentor)
    deputy = create_user(name="Ir. Wakil Pejabat", nip="198001012005011001", rank="Pembina, IV/a")
    today = local_date(utcnow(), "Asia/Makassar")
    create_delegation(
        world.executive,
        deputy,
        "executive",
        "plt",
        today,
        today + timedelta(days=3),
        "SK 821/45",
        world.executive,
        sk_number="821/45/BKD",
        sk_date=today,
    )
    perform(world.case, "endorse", deputy, data=ENDORSE)
    approval = pages_of(printing.proposal_pdf(world.case))[-1]
    acting = squash("Plt. Kepala Dinas Pemberdayaan Masyarakat dan Desa")
    assert acting in approval
    assert approval.index(acting) < approval.index(squash("Ir. Wakil Pejabat"))
    assert approval.index(squash("Ir. Wakil Pejabat")) < approval.index("Pembina,IV/a")
    assert has(approval, "NIP. 198001012005011001")
    assert "821/45/BKD" in approval
    assert has(approval, "800/123/DPMD/2026")
    assert "a.n." not in approval
    # The principal is not the one signing: neither their name nor their NIP is printed.
    assert not has(approval, "H. Kepala Dinas") and "196801011990031001" not in approval


def test_a_resubmission_voids_the_earlier_approval(world):
    perform(world.case, "submit", world.trainee)
    perform(world.case, "approve", world.mentor)
    perform(world.case, "decline_endorsement", world.executive, comment="Perbaiki anggaran.")
    perform(world.case, "submit", world.trainee)
    decisions = printing.current_decisions(world.case)
    assert decisions == {"approve": None, "endorse": None}


def test_unicode_html_and_long_text_print_as_typed(world):
    world.case.core_issue = "Kualitas “layanan” — <script>alert(1)</script> " + "ü" * 30
    world.case.innovation = "x" * 6000  # one endless word must wrap, not fail
    world.case.title = "Tata kelola desa\x07 ✓"
    db.session.commit()
    text = squash(text_of(printing.proposal_pdf(world.case)))
    assert "<script>alert(1)</script>" in text
    assert "“layanan”" in text and "ü" * 10 in text and "x" * 500 in text


def test_without_the_font_text_falls_back_to_latin1(world, monkeypatch):
    monkeypatch.setattr(printing, "FONT_DIR", "/nonexistent")
    world.case.core_issue = "Kualitas “layanan” — naïve ✓"
    db.session.commit()
    text = squash(text_of(printing.proposal_pdf(world.case)))
    assert squash('"layanan" - naïve ?') in text
    assert printing.to_latin1("a → b ✓") == "a -> b ?"


# ---------------------------------------------------------------- the route


def test_pdf_route_is_scoped_and_inline(client, world):
    login(client, world.trainee)
    page = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    assert f'href="/cases/{world.case.id}/proposal.pdf"' in page
    response = client.get(f"/cases/{world.case.id}/proposal.pdf")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'inline; filename="rancangan-aksi-perubahan-{world.case.id}.pdf"'
    )
    assert response.data.startswith(b"%PDF")


@pytest.mark.parametrize("who", ["stranger", None])
def test_pdf_route_hides_other_cases(client, world, who):
    if who:
        login(client, world.by_role(who))
        assert client.get(f"/cases/{world.case.id}/proposal.pdf").status_code == 404
        assert client.get("/cases/999999/proposal.pdf").status_code == 404
    else:
        response = client.get(f"/cases/{world.case.id}/proposal.pdf")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
