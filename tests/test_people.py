"""NIP, pangkat/golongan and jabatan as forms and imports take them (no database)."""

from __future__ import annotations

from datetime import date

import pytest

from workflow.services import people

TODAY = date(2026, 11, 23)

NIPS = [
    # (id, typed, stored, message or None)
    ("valid", "197805122005011003", "197805122005011003", None),
    ("valid, woman", "198506202010012015", "198506202010012015", None),
    ("with spaces", "19780512 200501 1 003", "197805122005011003", None),
    ("with a tab and newline", " 19780512\t200501 1\n003 ", "197805122005011003", None),
    ("empty", "", None, None),
    ("only spaces", "   ", None, None),
    ("17 digits", "19780512200501100", "19780512200501100", people.NIP_LENGTH),
    ("19 digits", "1978051220050110031", "1978051220050110031", people.NIP_LENGTH),
    ("letters", "19780512200501100X", "19780512200501100X", people.NIP_CHARACTERS),
    ("dashes", "19780512-200501-1-003", "19780512-200501-1-003", people.NIP_CHARACTERS),
    ("arabic-indic digits", "١٩٧٨٠٥١٢٢٠٠٥٠١١٠٠٣", "١٩٧٨٠٥١٢٢٠٠٥٠١١٠٠٣", people.NIP_CHARACTERS),
    ("bad birth date", "197802302005011003", "197802302005011003", people.NIP_BIRTH),
    ("born in the future", "202712012005011003", "202712012005011003", people.NIP_BIRTH),
    ("born before 1930", "192005122005011003", "192005122005011003", people.NIP_BIRTH),
    ("month 13", "197805122005131003", "197805122005131003", people.NIP_APPOINTMENT),
    ("month 00", "197805122005001003", "197805122005001003", people.NIP_APPOINTMENT),
    ("appointed before birth", "197805121970011003", "197805121970011003", people.NIP_APPOINTMENT),
    ("sex digit 3", "197805122005013003", "197805122005013003", people.NIP_SEX),
    ("sex digit 0", "197805122005010003", "197805122005010003", people.NIP_SEX),
]


@pytest.mark.parametrize(
    ("typed", "stored", "message"), [n[1:] for n in NIPS], ids=[n[0] for n in NIPS]
)
def test_check_nip(app, typed, stored, message):
    with app.test_request_context():
        checked = people.check_nip(typed, today=TODAY)
        assert checked.value == stored
        if message is None:
            assert checked.ok and checked.error is None
        else:
            assert not checked.ok
            assert checked.error.startswith(str(message).split("%(")[0])


def test_nip_messages_say_which_part_is_wrong(app):
    with app.test_request_context():
        assert "19780230" in people.check_nip("197802302005011003", today=TODAY).error
        assert "200513" in people.check_nip("197805122005131003", today=TODAY).error
        assert people.check_nip("1978", today=TODAY).error == "NIP harus 18 digit."  # default UI


RANKS = [
    # (typed, stored)
    ("Penata Muda, III/a", "Penata Muda, III/a"),
    ("III/a", "Penata Muda, III/a"),
    ("iii/A", "Penata Muda, III/a"),
    ("III-a", "Penata Muda, III/a"),
    ("IIIa", "Penata Muda, III/a"),
    ("III / a", "Penata Muda, III/a"),
    ("Penata Muda", "Penata Muda, III/a"),
    ("penata muda (III/a)", "Penata Muda, III/a"),
    ("Penata Muda Tk. I, III/b", "Penata Muda Tingkat I, III/b"),
    ("Penata Muda Tk.I", "Penata Muda Tingkat I, III/b"),
    ("Penata Tingkat I / III/d", "Penata Tingkat I, III/d"),
    ("Pembina Utama, IV/e", "Pembina Utama, IV/e"),
    ("IV/c", "Pembina Utama Muda, IV/c"),
    ("I/a", "Juru Muda, I/a"),
    ("Pengatur, II/c", "Pengatur, II/c"),
    ("  Pembina ,  IV/a ", "Pembina, IV/a"),
    ("", None),
]


@pytest.mark.parametrize(("typed", "stored"), RANKS)
def test_check_rank_accepts_the_forms_in_use(app, typed, stored):
    with app.test_request_context():
        checked = people.check_rank(typed)
        assert checked.ok, checked.error
        assert checked.value == stored
        if stored:
            assert stored in people.RANK_CHOICES
            # The stored form reads back as itself.
            assert people.check_rank(stored).value == stored


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("golongan tiga", people.RANK_UNKNOWN),
        ("Kepala Bidang", people.RANK_UNKNOWN),
        ("IV/f", people.RANK_UNKNOWN),
        ("V/a", people.RANK_UNKNOWN),
        ("Penata Madya, III/c", people.RANK_UNKNOWN),
        ("Pembina, III/a", people.RANK_MISMATCH),
        ("Penata Muda, III/b", people.RANK_MISMATCH),
    ],
)
def test_check_rank_refuses_free_text_with_the_form_expected(app, typed, message):
    with app.test_request_context():
        checked = people.check_rank(typed)
        assert not checked.ok
        assert checked.error.startswith(str(message).split("%(")[0])
    with app.test_request_context():
        unknown = people.check_rank("golongan tiga").error
        assert "Penata Muda, III/a" in unknown and "I/a" in unknown and "IV/e" in unknown


def test_every_pns_rank_is_known_once():
    assert len(people.RANK_CHOICES) == 17
    assert people.RANK_CHOICES[0] == "Juru Muda, I/a"
    assert people.RANK_CHOICES[-1] == "Pembina Utama, IV/e"
    assert len(set(people.RANKS.values())) == 17


def test_check_position(app):
    with app.test_request_context():
        assert people.check_position("  Kepala  Bidang ").value == "Kepala Bidang"
        assert people.check_position("").value is None
        assert people.check_position("x" * 200).ok
        too_long = people.check_position("x" * 201)
        assert not too_long.ok and "200" in too_long.error
