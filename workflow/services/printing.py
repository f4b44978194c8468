"""The printable proposal: every section, its tables, and the approval page (lembar
persetujuan) with the mentor's approval and the executive's endorsement.

Text is set in DejaVu Sans (Debian's fonts-dejavu-core) so any Unicode a trainee typed
prints as typed. Where that font is missing, the PDF falls back to a core font and the text
is reduced to Latin-1, so printing never fails for want of a font.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import AuditEvent, Case, Seminar
from ..permissions import case_zone
from . import signatures
from .calendar import local_date
from .errors import NotAvailable
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

    def grid(self, headers: list[str], rows: list[list[str]], widths=None) -> None:
        if not rows:
            self.para("—")
            return
        self.font("", 8.5)
        with self.table(
            headings_style=_heading_style(self),
            line_height=4.6,
            text_align="LEFT",
            col_widths=widths,
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
    approvals = signatures.signatures_of(case, "approve")
    endorse = current_decisions(case)["endorse"]
    pdf.add_page()
    pdf.para(_("APPROVAL PAGE"), style="B", size=14, align="C")
    pdf.para(_("Change action proposal"), size=10, align="C")
    pdf.ln(2)
    pdf.para(case.title or _("(no title yet)"), style="B", size=11.5, align="C")
    pdf.ln(6)

    blocks = []
    for role in approvals.roles:
        event = approvals.events.get(role)
        label = signatures.role_name(role, definition)
        pdf.heading(_("Approval of the %(role)s", role=label), size=11)
        if event is None:
            pdf.para(_("Not approved yet."), style="I")
        else:
            pdf.para(_("Approved on %(date)s.", date=_day(event.created_at, zone)))
            if event.comment:
                pdf.para(event.comment, style="I", size=9)
        blocks.append(
            signatures.event_block(event, role, case, signatures.holder_of(case, role), definition)
        )

    if any(t.trigger == "endorse" for t in definition.transitions):
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
        blocks.append(
            signatures.event_block(endorse, "executive", case, case.executive, definition)
        )
    signatures.draw_blocks(pdf, blocks)
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
    signatures.draw_blocks(
        pdf,
        [
            signatures.signature_block(
                case.trainee,
                "trainee",
                case=case,
                day=signatures.local_day(submitted, case),
                definition=definition,
            ),
            signatures.signature_block(
                case.mentor, "mentor", case=case, caption=_("Mentor (project sponsor)")
            ),
        ],
    )
    return bytes(pdf.output())


def report_pdf_filename(case: Case) -> str:
    return f"laporan-aksi-perubahan-{case.id}.pdf"


# ---------------------------------------------------------------- official documents
# The halaman persetujuan, the lembar pengesahan and the berita acara seminar: official
# Indonesian documents, printed in Indonesian whatever the reader's language. Whether one
# is available is decided (and refused) in the reader's language, before printing.

OFFICIAL_LOCALE = signatures.OFFICIAL_LOCALE
NO_SUCH_DOCUMENT = _l("This workflow has no such document.")
MINUTES_NOT_HELD = _l("The minutes are available once the seminar is held.")
SEMINAR_NAMES = {
    "proposal": _l("Proposal seminar on the %(programme)s"),
    "report": _l("Report seminar on the %(programme)s"),
}
SEMINAR_KINDS = {"proposal": _l("Proposal seminar"), "report": _l("Report seminar")}
OUTCOMES = {
    "proposal": {
        "passed": _l("Feasible"),
        "passed_with_fixes": _l("Feasible with fixes"),
        "failed": _l("Not feasible"),
    },
    "report": {
        "passed": _l("Passed"),
        "passed_with_fixes": _l("Passed"),
        "failed": _l("Not passed"),
    },
}


def programme_noun(definition) -> str:
    """ "Aksi Perubahan Kinerja Organisasi": the definition's name without its "(PKA)"."""
    return re.sub(r"\s*\([^)]*\)\s*$", "", definition.labels.get(_lang())) or definition.key


def _awaited(found: signatures.Signatures, definition) -> str:
    return ", ".join(signatures.role_name(r, definition) for r in found.waiting)


def approval_signatures(case: Case) -> signatures.Signatures:
    """The halaman persetujuan's signatures; NotAvailable until every one is in."""
    found = signatures.signatures_of(case, "approve")
    if not found.roles:
        raise NotAvailable(NO_SUCH_DOCUMENT)
    if not found.complete:
        raise NotAvailable(
            _(
                "The approval page is available once the proposal is approved for the "
                "seminar. Still awaited: %(roles)s.",
                roles=_awaited(found, definition_of(case)),
            )
        )
    return found


def ratification_signatures(case: Case) -> signatures.Signatures:
    """The lembar pengesahan's signatures; NotAvailable until the whole panel signed."""
    found = signatures.signatures_of(case, "ratify")
    if not found.roles:
        raise NotAvailable(NO_SUCH_DOCUMENT)
    if not found.complete:
        raise NotAvailable(
            _(
                "The ratification sheet is available once the whole panel has signed it. "
                "Still awaited: %(roles)s.",
                roles=_awaited(found, definition_of(case)),
            )
        )
    return found


def _official_pdf(case: Case, document: str) -> ProposalPDF:
    pdf = ProposalPDF(footer_text=f"{document} · {case.trainee.name}"[:90])
    pdf.set_title(pdf.clean(f"{document} · {case.trainee.name}"))
    pdf.set_author(pdf.clean(case.cohort.program.institution.name))
    pdf.set_creator("Aksi")
    pdf.add_page()
    cohort = case.cohort
    pdf.para(cohort.program.institution.name.upper(), style="B", size=11, align="C")
    pdf.para(f"{cohort.program.name} · {cohort.name}", size=10, align="C")
    pdf.ln(1)
    pdf.set_line_width(0.5)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())
    pdf.ln(5)
    return pdf


def _facts(pdf: ProposalPDF, facts, width: float = 42) -> None:
    for key, value in facts:
        pdf.font("", 10.5)
        pdf.cell(width, 5.8, pdf.clean(key))
        pdf.cell(4, 5.8, ":")
        pdf.multi_cell(0, 5.8, pdf.clean(value or "—"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def trainee_facts(case: Case, with_title: bool = False) -> list[tuple[str, str]]:
    """Name, NIP (only when the trainee has one), pangkat/golongan, jabatan, agency, NDH."""
    trainee = case.trainee
    facts = [(_("Name"), trainee.name)]
    if trainee.nip:
        facts.append((_("NIP"), trainee.nip))
    facts += [
        (_("Rank/grade"), trainee.rank or "—"),
        (_("Position"), trainee.position or "—"),
        (_("Agency"), trainee.agency.name if trainee.agency else "—"),
        (_("NDH"), str(case.ndh) if case.ndh is not None else "—"),
    ]
    if with_title:
        facts.append((_("Title"), case.title or _("(no title yet)")))
    return facts


def _blocks_for(case: Case, found: signatures.Signatures, definition) -> list:
    return [
        signatures.event_block(
            found.events.get(role), role, case, signatures.holder_of(case, role), definition
        )
        for role in found.roles
    ]


def _document_title(pdf: ProposalPDF, case: Case, heading: str, definition) -> None:
    pdf.para(heading, style="B", size=14, align="C")
    noun = programme_noun(definition)
    pdf.para(_("%(programme)s proposal", programme=noun).upper(), style="B", size=11, align="C")
    pdf.ln(4)
    pdf.para(case.title or _("(no title yet)"), style="B", size=12, align="C")
    pdf.ln(6)


def approval_page_filename(case: Case) -> str:
    return f"halaman-persetujuan-{case.id}.pdf"


def approval_page_pdf(case: Case) -> bytes:
    """The halaman persetujuan: the rancangan approved "untuk diseminarkan", signed by each
    role the approve step needs (coach and mentor), dated as each approved."""
    found = approval_signatures(case)
    definition = definition_of(case)
    with force_locale(OFFICIAL_LOCALE):
        pdf = _official_pdf(case, _("Approval page"))
        _document_title(pdf, case, _("APPROVAL PAGE"), definition)
        _facts(pdf, trainee_facts(case))
        pdf.ln(5)
        pdf.para(_("Approved to be presented at the seminar."), align="C", style="B")
        pdf.ln(2)
        signatures.draw_blocks(pdf, _blocks_for(case, found, definition))
        return bytes(pdf.output())


def ratified_seminar(case: Case) -> Seminar | None:
    """The proposal seminar whose outcome let the rancangan be ratified."""
    return db.session.scalar(
        select(Seminar)
        .where(
            Seminar.case_id == case.id,
            Seminar.kind == "proposal",
            Seminar.status == "held",
            Seminar.outcome.in_(("passed", "passed_with_fixes")),
        )
        .order_by(Seminar.starts_at.desc(), Seminar.id.desc())
        .limit(1)
    )


def ratification_filename(case: Case) -> str:
    return f"lembar-pengesahan-{case.id}.pdf"


def ratification_pdf(case: Case) -> bytes:
    """The lembar pengesahan: the rancangan as heard at the seminar, ratified by the panel
    (penguji, coach, mentor), each dated as they signed."""
    found = ratification_signatures(case)
    definition = definition_of(case)
    seminar = ratified_seminar(case)
    with force_locale(OFFICIAL_LOCALE):
        pdf = _official_pdf(case, _("Ratification sheet"))
        _document_title(pdf, case, _("RATIFICATION SHEET"), definition)
        facts = trainee_facts(case)
        if seminar is not None:
            facts.append((_("Seminar date"), _seminar_day(seminar, case)))
        _facts(pdf, facts)
        pdf.ln(5)
        pdf.para(
            _("Presented at the proposal seminar and ratified by the panel."),
            align="C",
            style="B",
        )
        pdf.ln(2)
        signatures.draw_blocks(pdf, _blocks_for(case, found, definition))
        return bytes(pdf.output())


def _local(moment: datetime, case: Case) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(ZoneInfo(case_zone(case)))


def _seminar_day(seminar: Seminar, case: Case) -> str:
    day = _local(seminar.starts_at, case).date()
    return f"{signatures.weekday(day)}, {signatures.official_date(day)}"


def minutes_filename(seminar: Seminar) -> str:
    return f"berita-acara-seminar-{seminar.id}.pdf"


def _place(seminar: Seminar) -> str:
    if seminar.room and seminar.online_link:
        return _("in %(room)s and online via %(link)s", room=seminar.room, link=seminar.online_link)
    if seminar.room:
        return _("in %(room)s", room=seminar.room)
    if seminar.online_link:
        return _("online via %(link)s", link=seminar.online_link)
    return "—"


def _present(flag: bool | None) -> str:
    if flag is None:
        return "—"
    return _("Present") if flag else _("Absent")


def outcome_text(seminar: Seminar) -> str:
    if not seminar.outcome:
        return _("Not recorded yet.")
    labels = OUTCOMES.get(seminar.kind, OUTCOMES["proposal"])
    return str(labels.get(seminar.outcome, seminar.outcome))


def _panel_block(seminar: Seminar, member, definition, day):
    """A panel member's block; a member sitting for the case's mentor (coach, examiner)
    under a decree signs as Plt./Plh./Pj. of the holder's jabatan."""
    case = seminar.case
    holder = signatures.holder_of(case, member.role)
    delegation = signatures.acting_delegation(member.user, holder, day)
    return signatures.signature_block(
        member.user,
        member.role,
        delegation=delegation,
        case=case,
        day=day,
        definition=definition,
    )


def minutes_pdf(seminar: Seminar) -> bytes:
    """The berita acara of a held seminar: when and where, who presented what, the panel
    with its attendance, the outcome with the notes, and the panel's signatures."""
    if seminar.status != "held":
        raise NotAvailable(MINUTES_NOT_HELD)
    case = seminar.case
    definition = definition_of(case)
    start, end = _local(seminar.starts_at, case), _local(seminar.ends_at, case)
    day = start.date()
    # Indonesian clock times: 09.00.
    start_clock, end_clock = f"{start:%H.%M}", f"{end:%H.%M}"
    zone = case.cohort.program.institution.zone_label
    with force_locale(OFFICIAL_LOCALE):
        noun = programme_noun(definition)
        template = SEMINAR_NAMES.get(seminar.kind, SEMINAR_NAMES["proposal"])
        name = str(template) % {"programme": noun}
        pdf = _official_pdf(case, _("Minutes"))
        pdf.para(_("MINUTES"), style="B", size=14, align="C")
        pdf.para(name.upper(), style="B", size=11, align="C")
        pdf.ln(6)
        pdf.para(
            _(
                "On this day, %(weekday)s, the %(date_words)s (%(date)s), from %(start)s to "
                "%(end)s %(zone)s, %(place)s, the %(seminar)s was held for the trainee below:",
                weekday=signatures.weekday(day),
                date_words=signatures.date_in_words(day),
                date=signatures.official_date(day),
                start=start_clock,
                end=end_clock,
                zone=zone,
                place=_place(seminar),
                seminar=name,
            ),
            align="J",
        )
        pdf.ln(2)
        _facts(pdf, trainee_facts(case, with_title=True))
        pdf.ln(3)
        _facts(pdf, [(_("Trainee's attendance"), _present(seminar.trainee_attended))])
        pdf.heading(_("Panel"), size=11)
        pdf.grid(
            [_("No."), _("Name"), _("Role"), _("Attendance")],
            [
                [
                    str(n),
                    m.user.name,
                    signatures.role_name(m.role, definition),
                    _present(m.attended),
                ]
                for n, m in enumerate(seminar.panel, start=1)
            ],
            widths=(8, 50, 24, 24),
        )
        pdf.heading(_("Outcome of the seminar"), size=11)
        pdf.para(outcome_text(seminar), style="B")
        pdf.heading(_("Notes"), size=11)
        pdf.para(seminar.notes or "—")
        pdf.ln(3)
        pdf.para(_("These minutes are drawn up to be used as appropriate."))
        # Those absent do not sign; where attendance was not recorded, everyone does.
        signers = [m for m in seminar.panel if m.attended is not False]
        signatures.draw_blocks(
            pdf,
            [_panel_block(seminar, m, definition, day) for m in signers],
            place_date=signatures.place_and_date(signatures.institution_of(case), day),
        )
        return bytes(pdf.output())


# ---------------------------------------------------------------- which are ready


@dataclass
class OfficialDocument:
    """One official document of a case: what it is, whether it can be printed yet, and
    why not (in the reader's language)."""

    kind: str  # approval_page | ratification | minutes
    label: str
    available: bool
    reason: str = ""
    seminar_id: int | None = None


def official_documents(case: Case) -> list[OfficialDocument]:
    """The official documents the case's workflow has, in the order they come about."""
    found: list[OfficialDocument] = []
    for kind, label, check in (
        ("approval_page", _("Approval page"), approval_signatures),
        ("ratification", _("Ratification sheet"), ratification_signatures),
    ):
        try:
            check(case)
        except NotAvailable as exc:
            if exc.message is NO_SUCH_DOCUMENT:
                continue
            found.append(OfficialDocument(kind, label, False, str(exc.message)))
        else:
            found.append(OfficialDocument(kind, label, True))
    seminars = db.session.scalars(
        select(Seminar)
        .where(Seminar.case_id == case.id, Seminar.status != "cancelled")
        .order_by(Seminar.starts_at, Seminar.id)
    ).all()
    for seminar in seminars:
        label = _(
            "Minutes of the %(seminar)s of %(date)s",
            seminar=str(SEMINAR_KINDS.get(seminar.kind, seminar.kind)).lower(),
            date=_day(seminar.starts_at, case_zone(case)),
        )
        held = seminar.status == "held"
        reason = "" if held else str(MINUTES_NOT_HELD)
        found.append(OfficialDocument("minutes", label, held, reason, seminar.id))
    return found
