"""The printable proposal: every section, its tables, and the approval page (lembar
persetujuan) with the mentor's approval and the executive's endorsement.

Text is set in DejaVu Sans (Debian's fonts-dejavu-core) so any Unicode a trainee typed
prints as typed. Where that font is missing, the PDF falls back to a core font and the text
is reduced to Latin-1, so printing never fails for want of a font.
"""

from __future__ import annotations

import os
import unicodedata
from datetime import datetime

from babel.dates import format_date
from flask_babel import get_locale
from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import AuditEvent, Case, User
from ..permissions import case_zone
from .calendar import local_date
from .delegations import KIND_ABBREVIATIONS, delegation_of_event
from .proposals import CHOICES, COLUMN_LABELS, SECTION_LABELS
from .workflow import definition_of

FONT_DIR = os.environ.get("AKSI_FONT_DIR", "/usr/share/fonts/truetype/dejavu")
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}
FAMILY = "DejaVu"
FALLBACK = "Helvetica"
# Typographic characters a core font lacks, mapped to what it has.
LATIN1_SUBSTITUTES = {
    "\u2013": "-",
    "\u2014": "-",
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2022": "*",
    "\u2026": "...",
    "\u2192": "->",
}

TABLES = {
    "stakeholders": ("name", "kind", "role", "influence", "interest", "strategy"),
    "team": ("name", "role"),
    "risks": ("risk", "mitigation"),
    "milestones": ("term", "activity", "output", "target_date", "target", "units"),
}
TEXT_SECTIONS = (
    "background_current",
    "background_ideal",
    "core_issue",
    "objective_short",
    "objective_medium",
    "objective_long",
    "benefits",
    "scope",
    "innovation",
)


def _font_paths() -> dict[str, str] | None:
    paths = {style: os.path.join(FONT_DIR, name) for style, name in FONT_FILES.items()}
    return paths if all(os.path.isfile(p) for p in paths.values()) else None


def to_latin1(text: str) -> str:
    """What a core font can print: accents kept where Latin-1 has them, else dropped."""
    out = []
    for ch in text:
        ch = LATIN1_SUBSTITUTES.get(ch, ch)
        try:
            ch.encode("latin-1")
            out.append(ch)
        except UnicodeEncodeError:
            plain = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode()
            out.append(plain or "?")
    return "".join(out)


class ProposalPDF(FPDF):
    def __init__(self, footer_text: str = "", orientation: str = "portrait"):
        super().__init__(orientation=orientation, format="A4")
        self.footer_text = footer_text
        self.set_margins(20, 18, 20)
        self.set_auto_page_break(True, margin=18)
        paths = _font_paths()
        self.unicode = paths is not None
        if paths:
            for style, path in paths.items():
                self.add_font(FAMILY, style, path)
            self.family = FAMILY
        else:
            self.family = FALLBACK

    def clean(self, text) -> str:
        text = "" if text is None else str(text)
        # Control characters (other than line breaks) have no glyph in any font.
        text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
        return text if self.unicode else to_latin1(text)

    def font(self, style: str = "", size: float = 10.5) -> None:
        self.set_font(self.family, style, size)

    def footer(self) -> None:
        self.set_y(-13)
        self.font("I", 8)
        self.cell(0, 6, self.clean(f"{self.footer_text} · {self.page_no()}"), align="C")

    def heading(self, text: str, size: float = 12) -> None:
        # Never leave a heading alone at the foot of a page.
        if self.get_y() > self.page_break_trigger - 25:
            self.add_page()
        self.ln(2)
        self.font("B", size)
        self.multi_cell(0, 6.5, self.clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def para(self, text: str, style: str = "", size: float = 10.5, align: str = "L") -> None:
        self.font(style, size)
        self.multi_cell(
            0, 5.4, self.clean(text or "—"), align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )

    def grid(self, headers: list[str], rows: list[list[str]]) -> None:
        if not rows:
            self.para("—")
            return
        self.font("", 8.5)
        with self.table(
            headings_style=_heading_style(self),
            line_height=4.6,
            text_align="LEFT",
            first_row_as_headings=True,
            repeat_headings=1,
        ) as table:
            head = table.row()
            for h in headers:
                head.cell(self.clean(h))
            for values in rows:
                row = table.row()
                for v in values:
                    row.cell(self.clean(v))
        self.ln(2)


def _heading_style(pdf: ProposalPDF):
    from fpdf.fonts import FontFace

    return FontFace(family=pdf.family, emphasis="BOLD", fill_color=(232, 236, 241))


def _lang() -> str:
    return str(get_locale() or "id")


def _day(moment: datetime | None, zone: str) -> str:
    if moment is None:
        return ""
    return format_date(local_date(moment, zone), "d MMMM yyyy", locale=_lang())


def _iso_day(value) -> str:
    if not value:
        return ""
    try:
        from datetime import date

        return format_date(date.fromisoformat(str(value)), "d MMMM yyyy", locale=_lang())
    except ValueError:
        return str(value)


def _choice(kind: str, value) -> str:
    labels = CHOICES.get(kind, {})
    return str(labels[value]) if value in labels else ("" if value is None else str(value))


def _number(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _table_rows(case: Case, kind: str) -> list[list[str]]:
    if kind == "milestones":
        return [
            [
                _choice("term", m.term),
                m.activity or "",
                m.output or "",
                _iso_day(m.target_date.isoformat() if m.target_date else ""),
                " ".join(p for p in (_number(m.target_quantity), m.target_unit or "") if p),
                ", ".join(str(u) for u in (m.units or [])),
            ]
            for m in case.milestones
        ]
    rows = []
    for item in getattr(case, kind) or []:
        if not isinstance(item, dict):
            continue
        rows.append([_choice(col, item.get(col)) for col in TABLES[kind]])
    return rows


def _headers(kind: str) -> list[str]:
    names = []
    for col in TABLES[kind]:
        if col == "target":
            names.append(_("Target"))
        else:
            names.append(str(COLUMN_LABELS.get(col, col)))
    return names


def current_decisions(case: Case) -> dict[str, AuditEvent | None]:
    """The approve and endorse events that still stand: an approval counts only after the
    last submission, an endorsement only after that approval."""
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.case_id == case.id)
        .options(selectinload(AuditEvent.actor), selectinload(AuditEvent.on_behalf_of))
        .order_by(AuditEvent.seq)
    ).all()
    approve = endorse = None
    for e in events:
        if e.trigger == "submit":
            approve = endorse = None
        elif e.trigger == "approve":
            approve, endorse = e, None
        elif e.trigger == "endorse" and approve is not None:
            endorse = e
    return {"approve": approve, "endorse": endorse}


def _signature(
    pdf: ProposalPDF,
    case: Case,
    event: AuditEvent | None,
    role_label: str,
    place_date: str,
    person: User | None,
) -> None:
    """One signature block, the way an Indonesian official letter signs:
    a.n. <principal> / Plt. <role> / <name> / NIP. <nip>."""
    if event is not None and event.on_behalf_of is not None:
        delegation = delegation_of_event(event, case)
        kind = KIND_ABBREVIATIONS[delegation.kind] if delegation is not None else ""
        pdf.para(place_date)
        pdf.para(f"a.n. {event.on_behalf_of.name}")
        pdf.para(f"{kind} {role_label}".strip(), style="B")
        signer = event.actor
    else:
        pdf.para(place_date)
        pdf.para(role_label, style="B")
        signer = event.actor if event is not None else person
    pdf.ln(14)
    pdf.para(signer.name if signer is not None else "……………………………", style="B")
    nip = getattr(signer, "nip", None) if signer is not None else None
    pdf.para(f"NIP. {nip}" if nip else "NIP. —")
    if event is not None and event.on_behalf_of is not None:
        principal = event.on_behalf_of
        pdf.para(
            _(
                "Signed on behalf of %(name)s (NIP. %(nip)s).",
                name=principal.name,
                nip=principal.nip or "—",
            ),
            style="I",
            size=8.5,
        )


def _front_page(pdf, case: Case, definition, heading: str, extra_facts=()) -> None:
    """The first page's head, shared by the proposal and the final report: institution,
    cohort, the document's name, the title and the facts of the case."""
    cohort = case.cohort
    pdf.set_author(pdf.clean(case.trainee.name))
    pdf.set_creator("Aksi")
    pdf.add_page()
    pdf.para(cohort.program.institution.name, style="B", size=10, align="C")
    pdf.para(f"{cohort.program.name} · {cohort.name}", size=10, align="C")
    pdf.ln(3)
    pdf.para(heading, style="B", size=14, align="C")
    pdf.ln(1)
    pdf.para(case.title or _("(no title yet)"), style="B", size=12.5, align="C")
    pdf.ln(4)
    trainee = case.trainee
    facts = [
        (_("Trainee"), trainee.name),
        (_("NIP"), trainee.nip or "—"),
        (_("Position"), trainee.position or "—"),
        (_("Agency"), trainee.agency.name if trainee.agency else "—"),
        (_("Mentor"), case.mentor.name if case.mentor else "—"),
        (_("Executive"), case.executive.name if case.executive else "—"),
        (_("State"), definition.state(case.state).labels.get(_lang())),
        *extra_facts,
    ]
    for key, value in facts:
        pdf.font("B", 10)
        pdf.cell(38, 5.4, pdf.clean(key))
        pdf.font("", 10)
        pdf.multi_cell(0, 5.4, pdf.clean(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def proposal_pdf(case: Case) -> bytes:
    """The proposal and its approval page as PDF bytes."""
    definition = definition_of(case)
    zone = case_zone(case)
    pdf = ProposalPDF(footer_text=f"{case.title or ''}"[:90])
    pdf.set_title(pdf.clean(case.title or _("Change action proposal")))

    # ---------------------------------------------------------------- the proposal
    _front_page(pdf, case, definition, _("CHANGE ACTION PROPOSAL"))

    for number, field in enumerate(TEXT_SECTIONS, start=1):
        pdf.heading(f"{number}. {SECTION_LABELS[field]}")
        pdf.para(getattr(case, field) or "")
    n = len(TEXT_SECTIONS)
    for offset, kind in enumerate(("stakeholders", "team", "milestones", "risks"), start=1):
        pdf.heading(f"{n + offset}. {SECTION_LABELS[kind]}")
        pdf.grid(_headers(kind), _table_rows(case, kind))
    pdf.heading(f"{n + 5}. {SECTION_LABELS['resources']}")
    pdf.para(case.resources or "")

    # ---------------------------------------------------------------- approval page
    decisions = current_decisions(case)
    approve, endorse = decisions["approve"], decisions["endorse"]
    pdf.add_page()
    pdf.para(_("APPROVAL PAGE"), style="B", size=14, align="C")
    pdf.para(_("Change action proposal"), size=10, align="C")
    pdf.ln(2)
    pdf.para(case.title or _("(no title yet)"), style="B", size=11.5, align="C")
    pdf.ln(6)

    pdf.heading(_("Approved by the mentor"), size=11)
    if approve is None:
        pdf.para(_("Not approved yet."), style="I")
    else:
        pdf.para(_("Approved on %(date)s.", date=_day(approve.created_at, zone)))
        if approve.comment:
            pdf.para(approve.comment, style="I", size=9)
    pdf.ln(2)
    _signature(
        pdf,
        case,
        approve,
        _("Mentor"),
        _day(approve.created_at, zone) if approve else "",
        case.mentor,
    )
    pdf.ln(8)

    pdf.heading(_("Endorsed by the executive"), size=11)
    if endorse is None:
        pdf.para(_("Not endorsed yet."), style="I")
    else:
        data = endorse.data or {}
        pdf.para(_("Endorsed on %(date)s.", date=_day(endorse.created_at, zone)))
        pdf.para(
            _(
                "Letter of support number %(number)s dated %(date)s.",
                number=data.get("letter_number") or "—",
                date=_iso_day(data.get("letter_date")) or "—",
            )
        )
        if endorse.comment:
            pdf.para(endorse.comment, style="I", size=9)
    pdf.ln(2)
    _signature(
        pdf,
        case,
        endorse,
        _("Executive"),
        _day(endorse.created_at, zone) if endorse else "",
        case.executive,
    )
    return bytes(pdf.output())


def pdf_filename(case: Case) -> str:
    return f"rancangan-aksi-perubahan-{case.id}.pdf"


# ---------------------------------------------------------------- the final report


def final_report_pdf(case: Case) -> bytes:
    """The final report (laporan aksi perubahan) as PDF bytes, in the proposal's style:
    the sections in order, the results against each short-term milestone, and a closing
    page for the trainee's and the mentor's signatures."""
    from .final_report import SECTION_LABELS as REPORT_LABELS
    from .final_report import report_content

    content = report_content(case)
    definition = definition_of(case)
    zone = case_zone(case)
    report = case.final_report
    submitted = report.submitted_at if report is not None else None
    pdf = ProposalPDF(footer_text=f"{_('Final report')} · {case.title or ''}"[:90])
    pdf.set_title(pdf.clean(_("Change action final report")))
    submitted_on = _day(submitted, zone) if submitted else _("Not submitted yet.")
    _front_page(
        pdf, case, definition, _("CHANGE ACTION FINAL REPORT"), [(_("Submitted"), submitted_on)]
    )

    number = 0
    for field in ("executive_summary", "implementation"):
        number += 1
        pdf.heading(f"{number}. {REPORT_LABELS[field]}")
        pdf.para(content[field])

    number += 1
    pdf.heading(f"{number}. {REPORT_LABELS['results']}")
    results = content["results"]
    pdf.grid(
        [_("Milestone"), _("Target"), _("Achieved"), _("Status")],
        [
            [
                r["activity"],
                " ".join(
                    p
                    for p in (
                        _number(r["target_quantity"]),
                        r["target_unit"] or "",
                        f"({_iso_day(r['target_date'])})" if r["target_date"] else "",
                    )
                    if p
                ),
                r["progress"] or _number(r["achieved_quantity"]) or "—",
                r["status_label"],
            ]
            for r in results
        ],
    )
    for index, r in enumerate(results, start=1):
        pdf.heading(f"{number}.{index} {r['activity']}", size=10.5)
        if r["closing_note"]:
            pdf.para(f"{_('Explanation')}: {r['closing_note']}", style="I", size=9.5)
        pdf.para(r["text"])

    for field in ("lessons_learned", "continuation_medium", "continuation_long"):
        number += 1
        pdf.heading(f"{number}. {REPORT_LABELS[field]}")
        pdf.para(content[field])
    number += 1
    pdf.heading(f"{number}. {REPORT_LABELS['sponsor_commitment']}")
    pdf.para(content["sponsor_commitment"])
    number += 1
    pdf.heading(f"{number}. {REPORT_LABELS['video_link']}")
    pdf.para(content["video_link"])

    # ---------------------------------------------------------------- signatures
    pdf.add_page()
    pdf.para(_("APPROVAL PAGE"), style="B", size=14, align="C")
    pdf.para(_("Change action final report"), size=10, align="C")
    pdf.ln(2)
    pdf.para(case.title or _("(no title yet)"), style="B", size=11.5, align="C")
    pdf.ln(8)
    # The trainee signs as of the submission; the mentor co-signs on paper, undated here.
    signers = (
        (_("Trainee"), case.trainee, _day(submitted, zone) if submitted else " "),
        (_("Mentor (project sponsor)"), case.mentor, " "),
    )
    for role_label, person, place_date in signers:
        _signature(pdf, case, None, role_label, place_date, person)
        pdf.ln(8)
    return bytes(pdf.output())


def report_pdf_filename(case: Case) -> str:
    return f"laporan-aksi-perubahan-{case.id}.pdf"
