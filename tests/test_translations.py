"""Indonesian is the default language: every user-facing string must have a translation."""

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def test_every_string_in_the_code_is_translated_to_indonesian(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "pybabel"),
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as f:
        wanted = {m.id for m in read_po(f) if m.id}
    with (ROOT / "translations/id/LC_MESSAGES/messages.po").open("rb") as f:
        catalog = read_po(f, locale="id")

    def untranslated(msgid) -> bool:
        if msgid not in catalog or "fuzzy" in catalog[msgid].flags:
            return True
        string = catalog[msgid].string
        # A plural form (ngettext) carries a tuple: every form must be translated.
        return not (all(string) if isinstance(string, tuple) else string)

    missing = sorted((m for m in wanted if untranslated(m)), key=str)
    assert not missing, f"untranslated (run `make messages` and translate): {missing}"
    for msgid in wanted:
        translated = catalog[msgid].string
        translated = translated if isinstance(translated, str) else translated[0]
        source = msgid if isinstance(msgid, str) else msgid[0]
        assert sorted(PLACEHOLDER.findall(source)) == sorted(PLACEHOLDER.findall(translated)), msgid
