"""The facts of a civil servant as forms and imports take them: NIP, pangkat/golongan and
jabatan. One place checks them, so an import and a form never disagree about a NIP.

A NIP (Nomor Induk Pegawai, PP 11/2017) has 18 digits: date of birth (YYYYMMDD), year
and month of appointment as CPNS (YYYYMM), sex (1 male, 2 female) and a serial (3). It
is optional (a kepala daerah or a non-ASN participant has none), but checked when given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l

NIP_DIGITS = 18
POSITION_MAX = 200
# The first PNS were appointed in 1950; a date of birth before 1930 is a typing error.
EARLIEST_BIRTH_YEAR = 1930
EARLIEST_APPOINTMENT_YEAR = 1950

NIP_LENGTH = _l("NIP must have 18 digits.")
NIP_CHARACTERS = _l("NIP may contain only digits (spaces are allowed).")
NIP_BIRTH = _l(
    "The first 8 digits of a NIP are the date of birth (YYYYMMDD); %(value)s is not one."
)
NIP_APPOINTMENT = _l(
    "Digits 9 to 14 of a NIP are the year and month of appointment (YYYYMM); %(value)s is not one."
)
NIP_SEX = _l("Digit 15 of a NIP is 1 (male) or 2 (female).")
POSITION_TOO_LONG = _l("The position is too long (at most %(n)d characters).")
RANK_UNKNOWN = _l(
    "Unknown rank. Write the pangkat and golongan as “Penata Muda, III/a”, or only the "
    "golongan (I/a to IV/e)."
)
RANK_MISMATCH = _l("%(rank)s is golongan %(grade)s, not %(given)s.")

# The PNS ranks (PP 99/2000): golongan/ruang → pangkat.
RANKS: dict[str, str] = {
    "I/a": "Juru Muda",
    "I/b": "Juru Muda Tingkat I",
    "I/c": "Juru",
    "I/d": "Juru Tingkat I",
    "II/a": "Pengatur Muda",
    "II/b": "Pengatur Muda Tingkat I",
    "II/c": "Pengatur",
    "II/d": "Pengatur Tingkat I",
    "III/a": "Penata Muda",
    "III/b": "Penata Muda Tingkat I",
    "III/c": "Penata",
    "III/d": "Penata Tingkat I",
    "IV/a": "Pembina",
    "IV/b": "Pembina Tingkat I",
    "IV/c": "Pembina Utama Muda",
    "IV/d": "Pembina Utama Madya",
    "IV/e": "Pembina Utama",
}
# The stored form, as tata naskah dinas writes it under a name: "Penata Muda, III/a".
RANK_CHOICES = tuple(f"{name}, {grade}" for grade, name in RANKS.items())
_BY_NAME = {name.lower(): grade for grade, name in RANKS.items()}
_GRADE_RE = re.compile(r"\b(iv|iii|ii|i)\s*[/\-.]?\s*([a-e])[\s)\].]*$", re.IGNORECASE)


@dataclass(frozen=True)
class Checked:
    """A value as it is stored (None when absent) and the message when it is refused."""

    value: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _valid_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def check_nip(text: str | None, today: date | None = None) -> Checked:
    """A NIP as typed ("19780512 200501 1 003" too) → its 18 digits, or the message that
    says what is wrong. Empty is fine: Checked(None)."""
    nip = re.sub(r"\s+", "", text or "")
    if not nip:
        return Checked(None)
    if not (nip.isascii() and nip.isdigit()):
        return Checked(nip, str(NIP_CHARACTERS))
    if len(nip) != NIP_DIGITS:
        return Checked(nip, str(NIP_LENGTH))
    today = today or date.today()
    born_y, born_m, born_d = int(nip[0:4]), int(nip[4:6]), int(nip[6:8])
    if (
        not _valid_date(born_y, born_m, born_d)
        or born_y < EARLIEST_BIRTH_YEAR
        or date(born_y, born_m, born_d) > today
    ):
        return Checked(nip, str(NIP_BIRTH) % {"value": nip[0:8]})
    hired_y, hired_m = int(nip[8:12]), int(nip[12:14])
    if (
        not 1 <= hired_m <= 12
        or hired_y < max(EARLIEST_APPOINTMENT_YEAR, born_y)
        or hired_y > today.year + 1
    ):
        return Checked(nip, str(NIP_APPOINTMENT) % {"value": nip[8:14]})
    if nip[14] not in "12":
        return Checked(nip, str(NIP_SEX))
    return Checked(nip)


def _grade(text: str) -> str | None:
    """ "iii/A", "III-a", "IIIa" → "III/a"."""
    match = _GRADE_RE.search(text)
    if match is None:
        return None
    return f"{match.group(1).upper()}/{match.group(2).lower()}"


def _rank_name(text: str) -> str:
    text = text.lower()
    text = re.sub(r"\btk\b\.?\s*", "tingkat ", text)
    text = re.sub(r"[(),;/]+", " ", text)
    return " ".join(text.split())


def check_rank(text: str | None) -> Checked:
    """Pangkat/golongan → "Penata Muda, III/a", from that form, from the golongan alone
    ("III/a", "iii-a"), from the pangkat alone ("Penata Muda", "Penata Muda Tk. I") or both
    in any common punctuation ("Penata Muda (III/a)"). Empty is fine: Checked(None)."""
    raw = " ".join((text or "").split())
    if not raw:
        return Checked(None)
    grade = _grade(raw)
    rest = raw[: _GRADE_RE.search(raw).start()] if grade else raw
    name = _rank_name(rest)
    if grade is not None and grade not in RANKS:
        return Checked(raw, str(RANK_UNKNOWN))
    if name:
        named = _BY_NAME.get(name)
        if named is None:
            return Checked(raw, str(RANK_UNKNOWN))
        if grade is not None and grade != named:
            return Checked(
                raw, str(RANK_MISMATCH) % {"rank": RANKS[named], "grade": named, "given": grade}
            )
        grade = named
    if grade is None:
        return Checked(raw, str(RANK_UNKNOWN))
    return Checked(f"{RANKS[grade]}, {grade}")


def check_position(text: str | None) -> Checked:
    """Jabatan: free text, at most POSITION_MAX characters. Empty is fine."""
    value = " ".join((text or "").split())
    if len(value) > POSITION_MAX:
        return Checked(value, str(POSITION_TOO_LONG) % {"n": POSITION_MAX})
    return Checked(value or None)
