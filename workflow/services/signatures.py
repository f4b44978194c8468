"""Signature blocks and dates as tata naskah dinas sets them, for every printed document.

A block reads, top to bottom: the place and date ("Samarinda, 5 Desember 2026"), the role
on the case, "a.n. <jabatan>" when asked, the jabatan with "Plt."/"Plh."/"Pj." standing
before it for an acting official, room to sign, the name, pangkat/golongan, "NIP. …" only
for a person who has one (an elected kepala daerah has none), and the acting official's
decree (SK). Dates are Indonesian whatever the reader's language: these are official
Indonesian documents.

Who signed what is read from the audit trail: `signatures_of(case, trigger)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from babel.dates import format_date
from flask_babel import get_locale
from flask_babel import gettext as _
from fpdf.enums import XPos, YPos
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import AuditEvent, Case, Delegation, Institution, User
from ..permissions import ROLE_LABELS, case_zone
from .calendar import local_date

# Official documents print Indonesian dates whatever language the reader uses.
OFFICIAL_LOCALE = "id"
ACTING_PREFIXES = {"plt": "Plt.", "plh": "Plh.", "pj": "Pj."}
BLANK_NAME = "……………………………"
SIGN_SPACE = 16  # mm left for the wet signature (and the stamp)


# ---------------------------------------------------------------- dates and places


def official_date(day: date | None) -> str:
    """5 Desember 2026."""
    return format_date(day, "d MMMM yyyy", locale=OFFICIAL_LOCALE) if day else ""


def weekday(day: date) -> str:
    """Sabtu."""
    return format_date(day, "EEEE", locale=OFFICIAL_LOCALE)


def local_day(moment: datetime | None, case: Case) -> date | None:
    return local_date(moment, case_zone(case)) if moment is not None else None


_ONES = (
    "",
    "satu",
    "dua",
    "tiga",
    "empat",
    "lima",
    "enam",
    "tujuh",
    "delapan",
    "sembilan",
    "sepuluh",
    "sebelas",
)


def terbilang(n: int) -> str:
    """A whole number in Indonesian words (0 ≤ n < 10⁹): 2026 → "dua ribu dua puluh enam"."""
    if n < 0 or n >= 10**9:
        raise ValueError(n)
    if n == 0:
        return "nol"
    if n < 12:
        return _ONES[n]
    if n < 20:
        return f"{_ONES[n - 10]} belas"
    if n < 100:
        return _join(f"{_ONES[n // 10]} puluh", n % 10)
    if n < 200:
        return _join("seratus", n - 100)
    if n < 1000:
        return _join(f"{_ONES[n // 100]} ratus", n % 100)
    if n < 2000:
        return _join("seribu", n - 1000)
    if n < 10**6:
        return _join(f"{terbilang(n // 1000)} ribu", n % 1000)
    return _join(f"{terbilang(n // 10**6)} juta", n % 10**6)


def _join(head: str, rest: int) -> str:
    return f"{head} {terbilang(rest)}" if rest else head


def date_in_words(day: date) -> str:
    """ "lima bulan Desember tahun dua ribu dua puluh enam", as a berita acara spells it."""
    month = format_date(day, "MMMM", locale=OFFICIAL_LOCALE)
    return f"{terbilang(day.day)} bulan {month} tahun {terbilang(day.year)}"


def institution_of(case: Case) -> Institution | None:
    program = case.cohort.program if case.cohort is not None else None
    return program.institution if program is not None else None


def place_of(institution: Institution | None) -> str:
    """Where the institution's documents are signed: its city, else its region's name."""
    if institution is None:
        return ""
    if institution.city:
        return institution.city
    return institution.region.name if institution.region is not None else ""


def place_and_date(institution: Institution | None, day: date | None) -> str:
    """ "Samarinda, 5 Desember 2026"; the date alone where no place is known; "" undated."""
    if day is None:
        return ""
    place = place_of(institution)
    return f"{place}, {official_date(day)}" if place else official_date(day)


# ---------------------------------------------------------------- the block


@dataclass(frozen=True)
class SignatureBlock:
    """What one signer's block prints, in order (the renderer leaves room to sign between
    `heading` and `name`)."""

    place_date: str
    heading: tuple[str, ...]  # the role on the case, "a.n. …", the jabatan
    name: str
    details: tuple[str, ...] = ()  # pangkat/golongan, NIP
    decree: str = ""  # the acting official's SK
    signed: bool = True

    @property
    def lines(self) -> list[str]:
        tail = [self.decree] if self.decree else []
        return [self.place_date, *self.heading, self.name, *self.details, *tail]


def role_name(role: str, definition=None) -> str:
    """The programme's name for a role ("Penguji"), else the generic label."""
    if definition is not None:
        own = definition.role_label(role, str(get_locale() or OFFICIAL_LOCALE))
        if own:
            return own
    return str(ROLE_LABELS.get(role, role))


def signature_block(
    person: User | None,
    role: str | None = None,
    *,
    delegation: Delegation | None = None,
    case: Case | None = None,
    institution: Institution | None = None,
    day: date | None = None,
    on_behalf_of: str | None = None,
    definition=None,
    caption: str | None = None,
) -> SignatureBlock:
    """The block of `person` signing as `role` of the case.

    delegation: the Plt./Plh./Pj. decree the person signs under: the jabatan printed is
    the principal's, after its abbreviation. on_behalf_of: the jabatan to sign "a.n." for
    (only when the document asks, e.g. an organizer for Kepala BPSDM). day: when signed
    (None: not signed yet, no date). caption: overrides the role's name; "" for none.
    """
    if institution is None and case is not None:
        institution = institution_of(case)
    if caption is None:
        caption = role_name(role, definition) if role else ""
    heading = [caption] if caption else []
    if on_behalf_of:
        heading.append(f"a.n. {on_behalf_of}")
    if delegation is not None:
        principal = delegation.principal
        office = (principal.position if principal is not None else "") or caption
        prefix = ACTING_PREFIXES.get(delegation.kind, "")
        heading.append(f"{prefix} {office}".strip())
    elif person is not None and person.position:
        heading.append(person.position)
    details: list[str] = []
    if person is not None:
        if person.rank:
            details.append(person.rank)
        if person.nip:
            details.append(f"NIP. {person.nip}")
    decree = ""
    if delegation is not None and (delegation.sk_number or delegation.sk_date):
        decree = decree_line(delegation)
    return SignatureBlock(
        place_date=place_and_date(institution, day),
        heading=tuple(heading),
        name=person.name if person is not None else BLANK_NAME,
        details=tuple(details),
        decree=decree,
        signed=day is not None,
    )


def decree_line(delegation: Delegation) -> str:
    when = official_date(delegation.sk_date)
    if delegation.sk_number and when:
        return _("Decree number %(number)s dated %(date)s", number=delegation.sk_number, date=when)
    if delegation.sk_number:
        return _("Decree number %(number)s", number=delegation.sk_number)
    return _("Decree dated %(date)s", date=when)


def acting_delegation(delegate: User | None, principal: User | None, day: date | None):
    """The delegation under which `delegate` acted for `principal` on `day`, if any."""
    if delegate is None or principal is None or day is None or delegate.id == principal.id:
        return None
    candidates = db.session.scalars(
        select(Delegation)
        .where(
            Delegation.delegate_id == delegate.id,
            Delegation.principal_id == principal.id,
            Delegation.starts_on <= day,
            Delegation.ends_on >= day,
        )
        .options(selectinload(Delegation.principal))
        .order_by(Delegation.id.desc())
    ).all()
    for d in candidates:
        if d.revoked_at is None or d.revoked_at.date() >= day:
            return d
    return None


def event_block(
    event: AuditEvent | None,
    role: str,
    case: Case,
    expected: User | None,
    definition=None,
    **options,
) -> SignatureBlock:
    """The block of whoever took `event` as `role` (the Plt. under their decree), or of
    `expected` undated while nobody has signed yet."""
    if event is None:
        return signature_block(expected, role, case=case, definition=definition, **options)
    day = local_day(event.created_at, case)
    delegation = None
    if event.on_behalf_of is not None:
        from .delegations import delegation_of_event

        delegation = delegation_of_event(event, case)
    return signature_block(
        event.actor,
        role,
        delegation=delegation,
        case=case,
        day=day,
        definition=definition,
        **options,
    )


# ---------------------------------------------------------------- who signed


@dataclass
class Signatures:
    """Who signed a step of the case (role → audit event) during its latest stay in the
    step's state; complete once every role it needs has signed."""

    roles: tuple[str, ...]
    events: dict[str, AuditEvent] = field(default_factory=dict)
    approval: str = "any"

    @property
    def complete(self) -> bool:
        if not self.roles:
            return False
        if self.approval == "all":
            return all(r in self.events for r in self.roles)
        return bool(self.events)

    @property
    def waiting(self) -> tuple[str, ...]:
        return tuple(r for r in self.roles if r not in self.events)


def holder_of(case: Case, role: str) -> User | None:
    """Who holds `role` on the case in their own right."""
    if role == "trainee":
        return case.trainee
    if role == "mentor":
        return case.mentor
    if role == "executive":
        return case.executive
    if role in ("coach", "examiner") and case.group is not None:
        return getattr(case.group, role)
    return None


def signatures_of(case: Case, trigger: str) -> Signatures:
    """The signatures of `trigger` (approve, ratify, …) in the case's latest stay in its
    source state. While the case waits there, the engine's own record
    (approvals_so_far); once it has moved on, the audit trail: a signature before the last
    is an event that kept the state with data["approved_as"], the last is the event that
    moved the case (it signs for every role still missing)."""
    from .workflow import approvals_so_far, definition_of

    definition = definition_of(case)
    steps = [t for t in definition.transitions if t.trigger == trigger]
    if not steps:
        return Signatures(roles=())
    roles = tuple(dict.fromkeys(r for t in steps for r in t.roles))
    approval = "all" if any(t.approval == "all" for t in steps) else "any"
    found = Signatures(roles=roles, approval=approval)
    sources = {s for t in steps for s in t.sources}
    if case.state in sources and approval == "all":
        for t in steps:
            if case.state in t.sources:
                found.events.update(approvals_so_far(case, t))
        _load_people(found.events.values())
        return found
    transitions = {t.trigger for t in definition.transitions} - {trigger}
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.case_id == case.id)
        .options(selectinload(AuditEvent.actor), selectinload(AuditEvent.on_behalf_of))
        .order_by(AuditEvent.seq)
    ).all()
    for e in events:
        if e.trigger == trigger and e.from_state in sources:
            if e.from_state == e.to_state and "approved_as" in (e.data or {}):
                for role in e.data["approved_as"]:
                    found.events[role] = e
            elif approval == "all":
                for role in found.waiting:
                    found.events[role] = e
            else:
                found.events = {_role_taken(case, e, roles): e}
        elif e.to_state in sources and (e.from_state != e.to_state or e.trigger in transitions):
            # A new stay in the step's state: what was signed before no longer stands.
            found.events = {}
        elif e.from_state in sources and e.to_state not in sources:
            # Left without the step (sent back, withdrawn): its signatures lapse.
            found.events = {}
    return found


def _role_taken(case: Case, event: AuditEvent, roles: tuple[str, ...]) -> str:
    """Which of `roles` the event's actor (or their principal) holds on the case."""
    who = event.on_behalf_of_id or event.actor_id
    for role in roles:
        holder = holder_of(case, role)
        if holder is not None and holder.id == who:
            return role
    return roles[0]


def _load_people(events) -> None:
    """Actors and principals of the events in one query each (not one per event)."""
    ids = {e.actor_id for e in events} | {e.on_behalf_of_id for e in events}
    ids.discard(None)
    if ids:
        db.session.scalars(select(User).where(User.id.in_(ids))).all()


# ---------------------------------------------------------------- drawing


def draw_blocks(
    pdf, blocks: list[SignatureBlock], per_row: int | None = None, place_date: str = ""
) -> None:
    """Blocks side by side (up to three a row), centred in their columns, each row kept on
    one page, the names of a row on one line. `place_date`: one line for all, above the
    right-hand block (a berita acara signed by all on the day), instead of each block's.
    `pdf` is a printing.ProposalPDF (font(), clean())."""
    if not blocks:
        return
    # A lone block stands in the right half, where an Indonesian letter signs.
    per_row = per_row or (2 if len(blocks) == 1 else min(len(blocks), 3))
    if place_date:
        width = pdf.epw / per_row
        pdf.ln(6)
        pdf.set_x(pdf.l_margin + pdf.epw - width)
        pdf.font("", 9.5)
        pdf.multi_cell(width - 4, LINE, pdf.clean(place_date), align="C")
    for start in range(0, len(blocks), per_row):
        _draw_row(pdf, blocks[start : start + per_row], per_row, shared_date=bool(place_date))


LINE = 4.8  # mm a line of a block


def _draw_row(pdf, row: list[SignatureBlock], per_row: int, shared_date: bool) -> None:
    width = pdf.epw / per_row
    cell = width - 4

    def head_of(block: SignatureBlock) -> list[str]:
        return block.heading if shared_date else (block.place_date or " ", *block.heading)

    def height(texts, size: float = 9.5) -> float:
        pdf.font("", size)
        return sum(
            pdf.multi_cell(cell, LINE, pdf.clean(t) or " ", dry_run=True, output="HEIGHT")
            for t in texts
        )

    heads = [height(head_of(b)) for b in row]
    tails = [height([b.name, *b.details]) + (height([b.decree], 8) if b.decree else 0) for b in row]
    needed = max(heads) + SIGN_SPACE + max(tails) + 8
    if pdf.get_y() + needed > pdf.page_break_trigger:
        pdf.add_page()
    pdf.ln(2 if shared_date else 6)
    top = pdf.get_y()
    names_at = top + max(heads) + SIGN_SPACE
    bottom = top
    for index, block in enumerate(row):
        x = pdf.l_margin + (index + per_row - len(row)) * width

        def line(text: str, style: str = "", size: float = 9.5, x: float = x) -> None:
            pdf.font(style, size)
            pdf.set_x(x)
            pdf.multi_cell(
                cell, LINE, pdf.clean(text) or " ", align="C", new_x=XPos.LEFT, new_y=YPos.NEXT
            )

        pdf.set_xy(x, top)
        for text in head_of(block):
            line(text)
        pdf.set_xy(x, names_at)
        line(block.name, style="BU" if block.signed else "B")
        for text in block.details:
            line(text)
        if block.decree:
            line(block.decree, size=8)
        bottom = max(bottom, pdf.get_y())
    pdf.set_xy(pdf.l_margin, bottom)
