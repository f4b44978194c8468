"""Result documents: the assessment sheet of one trainee (lembar penilaian) and the recap of
a cohort (rekap nilai) as PDF and XLSX. No HTTP here: the blueprint loads and authorises.

Both read what evaluation wrote: the submitted ScoreSheets (scores, milestone ratings,
subtotal), Case.final_score and the state the finalize transition chose. The predicate is
recomputed from the rubric in the reader's language; the stored one is the fallback.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from babel.numbers import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from fpdf.enums import XPos, YPos
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ..engine.rubrics import EVALUATOR_ROLES, Rubric
from ..extensions import db
from ..models import Case, Cohort, ScoreSheet, User
from ..permissions import ROLE_LABELS, case_zone
from . import spreadsheets
from .errors import NotAvailable
from .milestones import progress_text
from .printing import ProposalPDF, _day, _front_page, _heading_style, _lang
from .signatures import acting_delegation, draw_blocks, local_day, signature_block
from .workflow import cohort_definition, definition_of

FINAL_STATES = ("completed", "not_passed")
NOT_FINAL = _l("The assessment sheet is available once the result is final.")
NO_RUBRIC = _l("This workflow has no scoring.")
RESULT_LABELS = {"completed": _l("Passed"), "not_passed": _l("Not passed")}
MAX_CELL_LINES = 12  # of one recap cell


def has_result(case: Case) -> bool:
    return case.state in FINAL_STATES


def number(value: float | None) -> str:
    """85 → "85", 85.5 → "85,5" in Indonesian; None → "—"."""
    if value is None:
        return "—"
    return format_decimal(round(value, 2), format="#,##0.##", locale=_lang())


def predicate_of(case: Case, rubric: Rubric | None) -> str:
    if case.final_score is not None and rubric is not None:
        return rubric.predicate(case.final_score).get(_lang())
    return case.predicate or "—"


def result_of_case(case: Case, definition) -> str:
    """Passed / Not passed, or "— (<current state>)" while there is no result."""
    if case.state in RESULT_LABELS:
        return str(RESULT_LABELS[case.state])
    return f"— ({definition.state(case.state).labels.get(_lang())})"


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def _submitted(sheets) -> dict[str, ScoreSheet]:
    return {s.role: s for s in sheets if s.submitted_at is not None}


# ---------------------------------------------------------------- who sees a cohort


# ---------------------------------------------------------------- the assessment sheet


def assessment_filename(case: Case) -> str:
    return f"lembar-penilaian-{case.id}.pdf"


def assessment_sheet_pdf(case: Case) -> bytes:
    """The lembar penilaian of a case with a result: per evaluator the aspects with weight,
    score, weighted points and note, the milestone ratings, the total, predicate and result,
    and signature blocks. NotAvailable while the result is not final."""
    if not has_result(case):
        raise NotAvailable(NOT_FINAL)
    definition = definition_of(case)
    rubric = definition.scoring
    if rubric is None:
        raise NotAvailable(NO_RUBRIC)
    zone = case_zone(case)
    lang = _lang()
    sheets = _submitted(
        db.session.scalars(
            select(ScoreSheet)
            .where(ScoreSheet.case_id == case.id)
            .options(
                selectinload(ScoreSheet.scores),
                selectinload(ScoreSheet.ratings),
                joinedload(ScoreSheet.evaluator),
                joinedload(ScoreSheet.on_behalf_of),
            )
        ).all()
    )
    group = case.group
    people = {
        "examiner": group.examiner if group else None,
        "coach": group.coach if group else None,
        "mentor": case.mentor,
    }
    for role, sheet in sheets.items():
        # Whoever scored is named, also where a cohort-wide coach or examiner stepped in.
        people[role] = sheet.on_behalf_of or sheet.evaluator

    document = _("Assessment sheet")
    pdf = ProposalPDF(footer_text=f"{document} · {case.trainee.name}"[:90])
    pdf.set_title(pdf.clean(document))
    _front_page(
        pdf,
        case,
        definition,
        _("ASSESSMENT SHEET"),
        [
            (_("Group"), group.name if group else "—"),
            (_("Coach"), _name(people["coach"])),
            (_("Examiner"), _name(people["examiner"])),
        ],
    )

    weights = rubric.weights
    section = 0
    for role in rubric.roles:
        section += 1
        pdf.heading(
            f"{section}. "
            + _("%(role)s (weight %(weight)s)", role=role_label(role), weight=number(weights[role]))
        )
        sheet = sheets.get(role)
        if sheet is None:
            pdf.para(_("No submitted assessment."), style="I")
            continue
        by_aspect = {s.aspect: s for s in sheet.scores}
        rows = []
        for aspect in rubric.aspects_for(role):
            score = by_aspect.get(aspect.key)
            value = score.value if score is not None else None
            rows.append(
                [
                    aspect.labels.get(lang),
                    number(aspect.weight),
                    number(value),
                    number(value * aspect.weight / 100 if value is not None else None),
                    score.note if score is not None else "",
                ]
            )
        subtotal = sheet.subtotal
        if subtotal is None:
            subtotal = rubric.contribution(
                {
                    k: s.value
                    for k, s in by_aspect.items()
                    if s.value is not None and rubric.aspect(k)
                }
            )
        rows.append([_("Subtotal"), number(weights[role]), "", number(subtotal), ""])
        _table(
            pdf,
            [_("Aspect"), _("Weight"), _("Score"), _("Weighted points"), _("Note")],
            rows,
            widths=(50, 16, 16, 22, 66),
            align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "LEFT"),
            bold_last=True,
        )
        scored_by = _(
            "Scored by %(name)s on %(date)s.",
            name=_name(sheet.evaluator),
            date=_day(sheet.submitted_at, zone),
        )
        if sheet.on_behalf_of is not None:
            scored_by += " " + _("On behalf of %(name)s.", name=sheet.on_behalf_of.name)
        pdf.para(scored_by, style="I", size=9)
        if sheet.note:
            pdf.para(_("Note") + f": {sheet.note}", size=9)

    # ------------------------------------------------------------ milestone ratings
    section += 1
    pdf.heading(f"{section}. " + _("Short-term milestones"))
    roles = rubric.roles
    ratings = {role: {r.milestone_id: r for r in sheet.ratings} for role, sheet in sheets.items()}
    rows = []
    for m in case.milestones:
        if m.term != "short":
            continue
        target = " ".join(p for p in (_plain(m.target_quantity), m.target_unit or "") if p)
        row = [m.activity or "", target or "—", progress_text(m) or "—"]
        for role in roles:
            rating = ratings.get(role, {}).get(m.id)
            text = "—"
            if rating is not None and rating.rating:
                labels = rubric.rating_labels(rating.rating)
                text = labels.get(lang) if labels else rating.rating
                if rating.note:
                    text += f" ({rating.note})"
            row.append(text)
        rows.append(row)
    _table(
        pdf,
        [_("Activity"), _("Target"), _("Achieved"), *(role_label(r) for r in roles)],
        rows,
        widths=(48, 24, 34, *(64 / max(1, len(roles)),) * len(roles)),
    )

    # ------------------------------------------------------------ the result
    section += 1
    pdf.heading(f"{section}. " + _("Result"))
    facts = [
        (_("Weighted total"), number(case.final_score)),
        (_("Predicate"), predicate_of(case, rubric)),
        (_("Pass mark"), number(rubric.pass_mark)),
        (_("Result"), result_of_case(case, definition)),
        (_("Finalized on"), _day(case.state_entered_at, zone)),
    ]
    for key, value in facts:
        pdf.font("B", 10.5)
        pdf.cell(45, 6, pdf.clean(key))
        pdf.font("B" if key == _("Result") else "", 10.5)
        pdf.multi_cell(0, 6, pdf.clean(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    # ------------------------------------------------------------ signatures
    signers = [(role, people.get(role), sheets.get(role)) for role in EVALUATOR_ROLES]
    _signature_row(pdf, case, signers, definition)
    return bytes(pdf.output())


def _name(user: User | None) -> str:
    return user.name if user is not None else "—"


def _plain(value) -> str:
    if value is None:
        return ""
    return f"{value:g}"


def _table(pdf, headers, rows, widths, align="LEFT", bold_last=False, size=8.5) -> None:
    """A table with its header row repeated on every page; widths are proportions."""
    from fpdf.fonts import FontFace

    if not rows:
        pdf.para("—")
        return
    pdf.font("", size)
    with pdf.table(
        headings_style=_heading_style(pdf),
        line_height=size * 0.5,
        text_align=align,
        col_widths=widths,
        first_row_as_headings=True,
        repeat_headings=1,
    ) as table:
        head = table.row()
        for h in headers:
            head.cell(pdf.clean(h))
        for index, values in enumerate(rows):
            style = None
            if bold_last and index == len(rows) - 1:
                style = FontFace(emphasis="BOLD")
            row = table.row(style=style)
            for v in values:
                row.cell(pdf.clean(v))
    pdf.ln(2)


def _long_table(pdf, headers, rows, widths, align, size=7.5) -> None:
    """A plain grid for hundreds of rows: fpdf's table() lays every cell out four times
    (~6 s for 830 trainees); here only a cell too wide for its column is wrapped, once.
    The header row is repeated on every page; a row never splits across pages."""
    scale = pdf.epw / sum(widths)
    widths = [w * scale for w in widths]
    line = size * 0.45
    pad = 0.8

    def lines_of(text: str, width: float) -> list[str]:
        if "\n" not in text and pdf.get_string_width(text) <= width - 2 * pdf.c_margin:
            return [text]
        lines = pdf.multi_cell(width, line, text, dry_run=True, output="LINES")
        if len(lines) > MAX_CELL_LINES:
            # A row must fit on a page; the full text is in the XLSX.
            lines = [*lines[: MAX_CELL_LINES - 1], lines[MAX_CELL_LINES - 1] + " …"]
        return lines

    def draw(cells: list[list[str]], aligns, style: str = "", fill: bool = False) -> None:
        height = max(len(c) for c in cells) * line + 2 * pad
        if pdf.get_y() + height > pdf.page_break_trigger:
            pdf.add_page()
            header()
        x, y = pdf.l_margin, pdf.get_y()
        pdf.font(style, size)
        for content, width, a in zip(cells, widths, aligns, strict=True):
            pdf.rect(x, y, width, height, style="DF" if fill else "D")
            for i, text in enumerate(content):
                pdf.set_xy(x, y + pad + i * line)
                pdf.cell(width, line, text, align=a)
            x += width
        pdf.set_xy(pdf.l_margin, y + height)

    def header() -> None:
        pdf.font("B", size)
        cells = [lines_of(pdf.clean(h), w) for h, w in zip(headers, widths, strict=True)]
        pdf.set_fill_color(232, 236, 241)
        draw(cells, ["C"] * len(headers), style="B", fill=True)

    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.15)
    header()
    for values in rows:
        pdf.font("", size)
        cells = [lines_of(pdf.clean(v), w) for v, w in zip(values, widths, strict=True)]
        draw(cells, align)
    pdf.ln(2)


def _signature_row(pdf, case: Case, signers, definition) -> None:
    """Examiner, coach and mentor side by side, each dated as they submitted; whoever
    scored for another under a decree signs as Plt./Plh./Pj. of that person's jabatan."""
    blocks = []
    for role, person, sheet in signers:
        if sheet is None:
            blocks.append(signature_block(person, role, case=case, definition=definition))
            continue
        day = local_day(sheet.submitted_at, case)
        signer, delegation = sheet.evaluator, None
        if sheet.on_behalf_of is not None:
            delegation = acting_delegation(signer, sheet.on_behalf_of, day)
        blocks.append(
            signature_block(
                signer, role, delegation=delegation, case=case, day=day, definition=definition
            )
        )
    draw_blocks(pdf, blocks)


# ---------------------------------------------------------------- the cohort recap


@dataclass
class RecapRow:
    number: int
    case: Case
    ndh: int | None
    name: str
    nip: str
    rank: str
    position: str
    agency: str
    group: str
    title: str
    subtotals: dict[str, float | None]
    total: float | None
    predicate: str
    result: str
    outcome: str  # "passed", "not_passed" or "open"
    scores: dict[str, float | None] = field(default_factory=dict)


@dataclass
class Recap:
    cohort: Cohort
    rubric: Rubric | None
    rows: list[RecapRow]
    predicates: list[tuple[str, int]]
    passed: int
    not_passed: int
    open: int


def cohort_recap(cohort: Cohort, with_scores: bool = False) -> Recap:
    """One row per trainee of the cohort, by NDH (those without one last), then by name.
    A fixed number of queries
    whatever the cohort's size: the cases with trainee, agency and group joined, then
    their score sheets (and, with_scores, the scores) in one IN query each."""
    sheets = selectinload(Case.score_sheets)
    if with_scores:
        sheets = sheets.selectinload(ScoreSheet.scores)
    cases = db.session.scalars(
        select(Case)
        .where(Case.cohort_id == cohort.id)
        .options(
            joinedload(Case.trainee).joinedload(User.agency),
            joinedload(Case.group),
            sheets,
        )
    ).all()
    # Sorted here, not in SQL: SQLite and PostgreSQL collate names differently.
    cases = sorted(
        cases,
        key=lambda c: (c.ndh is None, c.ndh or 0, c.trainee.name.casefold(), c.id),
    )
    rubric = _cohort_rubric(cohort)
    rows = []
    for index, case in enumerate(cases, start=1):
        definition = definition_of(case)
        submitted = _submitted(case.score_sheets)
        final = has_result(case)
        scores: dict[str, float | None] = {}
        if with_scores:
            for sheet in submitted.values():
                for s in sheet.scores:
                    scores[s.aspect] = s.value
        rows.append(
            RecapRow(
                number=index,
                case=case,
                ndh=case.ndh,
                name=case.trainee.name,
                nip=case.trainee.nip or "",
                rank=case.trainee.rank or "",
                position=case.trainee.position or "",
                agency=case.trainee.agency.name if case.trainee.agency else "",
                group=case.group.name if case.group else "",
                title=case.title or "",
                subtotals={
                    r: (s.subtotal if (s := submitted.get(r)) else None) for r in _roles(rubric)
                },
                total=case.final_score if final else None,
                predicate=predicate_of(case, definition.scoring) if final else "—",
                result=result_of_case(case, definition),
                outcome=(
                    "open"
                    if not final
                    else ("passed" if case.state == "completed" else "not_passed")
                ),
                scores=scores,
            )
        )
    counts = Counter(r.predicate for r in rows if r.outcome != "open")
    # Every band of the rubric, those nobody reached too, then any other (older rubric).
    order = [b.labels.get(_lang()) for b in rubric.bands] if rubric else []
    predicates = [(p, counts.pop(p, 0)) for p in order] + sorted(counts.items())
    outcomes = Counter(r.outcome for r in rows)
    return Recap(
        cohort=cohort,
        rubric=rubric,
        rows=rows,
        predicates=predicates,
        passed=outcomes["passed"],
        not_passed=outcomes["not_passed"],
        open=outcomes["open"],
    )


def _cohort_rubric(cohort: Cohort) -> Rubric | None:
    """The rubric of the version the cohort runs on (not the newest: a cohort on version
    1 scores on version 1's rubric)."""
    try:
        return cohort_definition(cohort).scoring
    except LookupError:
        return None


def _roles(rubric: Rubric | None) -> tuple[str, ...]:
    return rubric.roles if rubric is not None else EVALUATOR_ROLES


def _recap_headers(recap: Recap) -> list[str]:
    weights = recap.rubric.weights if recap.rubric else {}
    roles = [
        f"{role_label(r)} ({number(weights[r])})" if r in weights else role_label(r)
        for r in _roles(recap.rubric)
    ]
    return [
        _("No."),
        _("NDH"),
        _("Name"),
        _("NIP"),
        _("Rank/grade"),
        _("Position"),
        _("Agency"),
        _("Group"),
        _("Title"),
        *roles,
        _("Total"),
        _("Predicate"),
        _("Result"),
    ]


def _ndh(value: int | None) -> str:
    return "" if value is None else str(value)


def cohort_slug(cohort: Cohort) -> str:
    """ "PKA Angkatan IV" of 2026 → "pka-angkatan-iv-2026": safe in any file name."""
    parts = [cohort.program.code, cohort.name]
    if str(cohort.year) not in cohort.name:
        parts.append(str(cohort.year))
    text = unicodedata.normalize("NFKD", " ".join(parts)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:80].rstrip("-") or f"angkatan-{cohort.id}"


def recap_filename(cohort: Cohort, extension: str) -> str:
    return f"rekap-nilai-{cohort_slug(cohort)}.{extension}"


def recap_pdf(cohort: Cohort) -> bytes:
    """The rekap nilai as a landscape A4 table, its header row on every page, and a summary
    at the end: how many per predicate, passed, not passed, not final yet."""
    recap = cohort_recap(cohort)
    program = cohort.program
    document = _("Recap of scores")
    pdf = ProposalPDF(
        footer_text=f"{document} · {program.name} · {cohort.name}"[:120],
        orientation="landscape",
    )
    pdf.set_margins(12, 14, 12)
    pdf.set_title(pdf.clean(f"{document} · {cohort.name}"))
    pdf.set_creator("Aksi")
    pdf.add_page()
    pdf.para(program.institution.name, style="B", size=10, align="C")
    pdf.para(f"{program.name} · {cohort.name}", size=10, align="C")
    pdf.ln(1)
    pdf.para(_("RECAP OF SCORES"), style="B", size=13, align="C")
    pdf.ln(3)
    roles = _roles(recap.rubric)
    rows = [
        [
            str(r.number),
            _ndh(r.ndh),
            r.name,
            r.nip,
            r.rank,
            r.position,
            r.agency,
            r.group,
            r.title,
            *(number(r.subtotals.get(role)) for role in roles),
            number(r.total),
            r.predicate,
            r.result,
        ]
        for r in recap.rows
    ]
    _long_table(
        pdf,
        _recap_headers(recap),
        rows,
        widths=(7, 9, 26, 36, 20, 26, 24, 14, 30, *(13,) * len(roles), 12, 20, 22),
        align=("R", "R", *("L",) * 7, *("R",) * (len(roles) + 1), "L", "L"),
    )
    pdf.heading(_("Summary"), size=11)
    facts = [(_("Trainees"), len(recap.rows))]
    facts += [(name, n) for name, n in recap.predicates]
    facts += [
        (_("Passed"), recap.passed),
        (_("Not passed"), recap.not_passed),
        (_("Not final yet"), recap.open),
    ]
    for key, value in facts:
        pdf.font("", 9.5)
        pdf.cell(60, 5.2, pdf.clean(key))
        pdf.font("B", 9.5)
        pdf.cell(20, 5.2, str(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def recap_xlsx(cohort: Cohort) -> bytes:
    """The rekap nilai as a workbook: the recap sheet and, beside it, every aspect score."""
    recap = cohort_recap(cohort, with_scores=True)
    roles = _roles(recap.rubric)
    rows = [
        [
            r.number,
            r.ndh,
            r.name,
            r.nip,
            r.rank,
            r.position,
            r.agency,
            r.group,
            r.title,
            *(r.subtotals.get(role) for role in roles),
            r.total,
            r.predicate,
            r.result,
        ]
        for r in recap.rows
    ]
    recap_title = str(_("Recap of scores"))
    sheets = [(recap_title, _recap_headers(recap), rows)]
    widths = {recap_title: (5, 6, 30, 22, 20, 30, 30, 14, 50, *(12,) * len(roles), 10, 20, 26)}
    if recap.rubric is not None:
        lang = _lang()
        aspects = list(recap.rubric.aspects)
        aspect_title = str(_("Scores per aspect"))
        headers = [
            _("No."),
            _("NDH"),
            _("Name"),
            _("NIP"),
            *(f"{role_label(a.role)}: {a.labels.get(lang)} ({number(a.weight)})" for a in aspects),
            _("Total"),
        ]
        aspect_rows = [
            [r.number, r.ndh, r.name, r.nip, *(r.scores.get(a.key) for a in aspects), r.total]
            for r in recap.rows
        ]
        sheets.append((aspect_title, headers, aspect_rows))
        widths[aspect_title] = (5, 6, 30, 22, *(18,) * len(aspects), 10)
    return spreadsheets.xlsx_bytes(sheets, widths=widths)
