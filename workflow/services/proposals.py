"""The trainee's proposal draft: validated saves that never overwrite newer work, row
operations on its lists, and the diff between two submissions.

The case version (optimistic lock) is the draft revision: every save names the version it
was based on, a mismatch is a Conflict and writes nothing, and every successful save bumps
the version (one versioned UPDATE of the case row) and returns it.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.attributes import flag_modified

from ..extensions import db
from ..models import Case, Milestone, User
from .errors import Blocked, Conflict, Forbidden, NotAvailable
from .workflow import definition_of, versioned_write

TEXT_FIELDS = Case.PROPOSAL_TEXT_FIELDS
TITLE_MAX = 300
TEXT_MAX = 10000
SHORT_MAX = 300  # names, units, choices
ROW_TEXT_MAX = 2000
MAX_ROWS = 100
MAX_UNITS = 200
ROW_KINDS = ("stakeholders", "team", "risks", "milestones")

# The order of the editor and of a diff; labels as the trainee reads them.
SECTION_LABELS = {
    "title": _l("Title"),
    "background_current": _l("Current condition"),
    "background_ideal": _l("Ideal condition"),
    "core_issue": _l("Core issue"),
    "objective_short": _l("Short-term objective"),
    "objective_medium": _l("Medium-term objective"),
    "objective_long": _l("Long-term objective"),
    "benefits": _l("Benefits"),
    "scope": _l("Scope"),
    "innovation": _l("Innovation"),
    "stakeholders": _l("Stakeholders"),
    "team": _l("Effective team"),
    "milestones": _l("Milestones"),
    "risks": _l("Risks and mitigations"),
    "resources": _l("Resources"),
}
SECTIONS = tuple(SECTION_LABELS)

COLUMN_LABELS = {
    "name": _l("Name"),
    "kind": _l("Internal/external"),
    "role": _l("Role"),
    "influence": _l("Influence"),
    "interest": _l("Interest"),
    "strategy": _l("Strategy"),
    "risk": _l("Risk"),
    "mitigation": _l("Mitigation"),
    "term": _l("Term"),
    "activity": _l("Activity"),
    "output": _l("Output"),
    "target_date": _l("Target date"),
    "target_quantity": _l("Target quantity"),
    "target_unit": _l("Unit"),
    "units": _l("Units to cover"),
}

CHOICES = {
    "kind": {"internal": _l("Internal"), "external": _l("External")},
    "influence": {"high": _l("High"), "low": _l("Low")},
    "interest": {"high": _l("High"), "low": _l("Low")},
    "term": {"short": _l("Short term"), "medium": _l("Medium term"), "long": _l("Long term")},
}

# Columns of each JSON list: (name, max length or choice key, required).
ROW_COLUMNS = {
    "stakeholders": (
        ("name", SHORT_MAX, True),
        ("kind", "choice", True),
        ("role", ROW_TEXT_MAX, False),
        ("influence", "choice", True),
        ("interest", "choice", True),
        ("strategy", ROW_TEXT_MAX, False),
    ),
    "team": (("name", SHORT_MAX, True), ("role", SHORT_MAX, False)),
    "risks": (("risk", ROW_TEXT_MAX, True), ("mitigation", ROW_TEXT_MAX, False)),
}
MILESTONE_COLUMNS = (
    "term",
    "activity",
    "output",
    "target_date",
    "target_quantity",
    "target_unit",
    "units",
)

NOT_TRAINEE = _l("Only the trainee of this case may edit its proposal.")
NOT_EDITABLE = _l("The proposal cannot be edited in the current state.")
STALE = _l("This draft was changed in another tab or window; reload to see the latest.")
INVALID = _l("Some fields need your attention.")


# ---------------------------------------------------------------- access


def is_editable(case: Case) -> bool:
    return bool(definition_of(case).state(case.state).proposal_editable)


def can_edit(case: Case, user: User | None) -> bool:
    return user is not None and case.trainee_id == getattr(user, "id", None) and is_editable(case)


def _check(case: Case, user: User, expected_revision: int | None) -> None:
    if user is None or case.trainee_id != user.id:
        raise Forbidden(NOT_TRAINEE)
    if not is_editable(case):
        raise NotAvailable(NOT_EDITABLE)
    if expected_revision is None or expected_revision != case.version:
        raise Conflict(STALE)


# ---------------------------------------------------------------- cleaning


def _text(value) -> str:
    """Stored as typed (HTML stays text; templates escape it), minus NUL characters,
    which databases refuse."""
    if value is None:
        return ""
    return str(value).replace("\x00", "")


def _too_long(n: int):
    return _l("Too long: at most %(n)d characters.", n=n)


def clean_text_fields(changes: dict) -> tuple[dict, dict]:
    cleaned, errors = {}, {}
    for name, value in changes.items():
        if name not in TEXT_FIELDS:
            errors[name] = _l("Unknown field.")
            continue
        if value is not None and not isinstance(value, str):
            errors[name] = _l("Must be text.")
            continue
        text = _text(value)
        limit = TITLE_MAX if name == "title" else TEXT_MAX
        if len(text) > limit:
            errors[name] = _too_long(limit)
        else:
            cleaned[name] = text
    return cleaned, errors


def clean_row(kind: str, values: dict) -> tuple[dict, dict]:
    """One stakeholder, team member or risk: (clean row, {column: message})."""
    row, errors = {}, {}
    if not isinstance(values, dict):
        return {}, {"": _l("Each row must be an object.")}
    for name, limit, required in ROW_COLUMNS[kind]:
        raw = values.get(name)
        if raw is not None and not isinstance(raw, str):
            errors[name] = _l("Must be text.")
            continue
        text = _text(raw).strip()
        if limit == "choice":
            if text and text not in CHOICES[name]:
                errors[name] = _l("Choose one of the options.")
                continue
        elif len(text) > limit:
            errors[name] = _too_long(limit)
            continue
        if required and not text:
            errors[name] = _l("Required.")
            continue
        row[name] = text
    return row, errors


def _parse_date(raw) -> tuple[date | None, object]:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, None
    if not isinstance(raw, str):
        return None, _l("Must be a date (YYYY-MM-DD).")
    try:
        return date.fromisoformat(raw.strip()), None
    except ValueError:
        return None, _l("Must be a date (YYYY-MM-DD).")


def _parse_quantity(raw) -> tuple[float | None, object]:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, None
    if isinstance(raw, bool):
        return None, _l("Must be a number.")
    if isinstance(raw, int | float):
        try:
            value = float(raw)
        except OverflowError:
            return None, _l("Must be a number.")
    else:
        text = str(raw).strip().replace(" ", "")
        # Indonesian writes a decimal comma: 2,5 means 2.5.
        if "," in text and "." not in text:
            text = text.replace(",", ".")
        if not re.fullmatch(r"[-+]?\d{1,12}(\.\d{1,6})?", text):
            return None, _l("Must be a number.")
        value = float(text)
    if not math.isfinite(value):
        return None, _l("Must be a number.")
    if value < 0:
        return None, _l("Must not be negative.")
    if value > 1e12:
        return None, _l("Must be a number.")
    return value, None


def _parse_units(raw) -> tuple[list[str], object]:
    if raw is None:
        return [], None
    if isinstance(raw, str):
        items = raw.splitlines()
    elif isinstance(raw, list) and all(isinstance(u, str) for u in raw):
        items = raw
    else:
        return [], _l("One unit per line.")
    units = [_text(u).strip() for u in items]
    units = [u for u in units if u]
    if len(units) > MAX_UNITS:
        return [], _l("At most %(n)d units.", n=MAX_UNITS)
    if any(len(u) > SHORT_MAX for u in units):
        return [], _too_long(SHORT_MAX)
    return units, None


def clean_milestone(case: Case, values: dict) -> tuple[dict, dict]:
    """One milestone: (clean values, {column: message}). Short-term milestones fall in the
    cohort's implementation window; medium and long term ones come after it starts."""
    if not isinstance(values, dict):
        return {}, {"": _l("Each row must be an object.")}
    row: dict = {}
    errors: dict = {}
    term = _text(values.get("term") or "short").strip()
    if term not in Milestone.TERMS:
        errors["term"] = _l("Choose one of the options.")
    row["term"] = term
    for name, limit, required in (
        ("activity", ROW_TEXT_MAX, True),
        ("output", ROW_TEXT_MAX, False),
        ("target_unit", 80, False),
    ):
        raw = values.get(name)
        if raw is not None and not isinstance(raw, str):
            errors[name] = _l("Must be text.")
            continue
        text = _text(raw).strip()
        if len(text) > limit:
            errors[name] = _too_long(limit)
        elif required and not text:
            errors[name] = _l("Required.")
        row[name] = text
    day, problem = _parse_date(values.get("target_date"))
    start, end = case.cohort.implementation_start, case.cohort.implementation_end
    if problem:
        errors["target_date"] = problem
    elif day is None:
        errors["target_date"] = _l("The target date is missing.")
    elif term == "short" and not start <= day <= end:
        errors["target_date"] = _l(
            "A short-term target date must fall in the implementation window "
            "(%(start)s – %(end)s).",
            start=start.isoformat(),
            end=end.isoformat(),
        )
    elif term != "short" and day < start:
        errors["target_date"] = _l(
            "A medium- or long-term target date cannot be before the implementation "
            "starts (%(start)s).",
            start=start.isoformat(),
        )
    row["target_date"] = day
    quantity, problem = _parse_quantity(values.get("target_quantity"))
    if problem:
        errors["target_quantity"] = problem
    row["target_quantity"] = quantity
    units, problem = _parse_units(values.get("units"))
    if problem:
        errors["units"] = problem
    row["units"] = units
    return row, errors


# ---------------------------------------------------------------- writing


def _commit(case: Case) -> int:
    """Write with the versioned UPDATE of the case; a lost race writes nothing."""
    # Rows live in JSON columns or in Milestone rows; a Milestone change alone would not
    # UPDATE the case row. Marking a case column modified forces the versioned UPDATE,
    # so every save bumps the version and a concurrent save on the old version fails.
    flag_modified(case, "title")
    with versioned_write(STALE):
        db.session.flush()
    return case.version


def _refuse(errors: dict):
    raise Blocked(INVALID, list(errors.values()), errors)


def save_fields(case: Case, user: User, changes: dict, expected_revision: int | None) -> int:
    """Save text fields and/or whole lists (stakeholders, team, risks, milestones).
    Returns the new version; raises Forbidden / NotAvailable / Conflict / Blocked (with
    .fields, keys like "title" or "milestones[0].target_date") having written nothing."""
    _check(case, user, expected_revision)
    if not isinstance(changes, dict):
        _refuse({"": _l("Send an object of fields.")})
    texts = {k: v for k, v in changes.items() if k not in ROW_KINDS}
    cleaned, errors = clean_text_fields(texts)
    lists: dict = {}
    for kind in ROW_KINDS:
        if kind not in changes:
            continue
        rows = changes[kind]
        if not isinstance(rows, list):
            errors[kind] = _l("Must be a list.")
            continue
        if len(rows) > MAX_ROWS:
            errors[kind] = _l("At most %(n)d rows.", n=MAX_ROWS)
            continue
        clean_rows = []
        for i, values in enumerate(rows):
            if kind == "milestones":
                row, row_errors = clean_milestone(case, values)
            else:
                row, row_errors = clean_row(kind, values)
            for col, message in row_errors.items():
                errors[f"{kind}[{i}].{col}" if col else f"{kind}[{i}]"] = message
            clean_rows.append(row)
        lists[kind] = clean_rows
    if errors:
        _refuse(errors)
    if not lists and all(getattr(case, k) == v for k, v in cleaned.items()):
        return case.version  # nothing changed (e.g. the `change` after an autosaved `input`)
    for name, value in cleaned.items():
        setattr(case, name, value)
    for kind, rows in lists.items():
        if kind == "milestones":
            _replace_milestones(case, rows)
        else:
            setattr(case, kind, rows)
    return _commit(case)


def _replace_milestones(case: Case, rows: list[dict]) -> None:
    """Keep existing Milestone rows in place (their ids, statuses) and update them in order."""
    existing = list(case.milestones)
    for i, values in enumerate(rows):
        if i < len(existing):
            m = existing[i]
        else:
            m = Milestone()
            case.milestones.append(m)
        _apply_milestone(m, values)
        m.position = i
    for m in existing[len(rows) :]:
        case.milestones.remove(m)


def _apply_milestone(m: Milestone, values: dict) -> None:
    for name in MILESTONE_COLUMNS:
        setattr(m, name, values[name])


def _rows_of(case: Case, kind: str) -> list:
    if kind not in ROW_KINDS:
        raise NotAvailable(_l("Unknown list."))
    if kind == "milestones":
        return list(case.milestones)
    return [dict(r) for r in (getattr(case, kind) or [])]


def _clean_for(case: Case, kind: str, values: dict) -> dict:
    row, errors = clean_milestone(case, values) if kind == "milestones" else clean_row(kind, values)
    if errors:
        _refuse(errors)
    return row


def _store(case: Case, kind: str, rows: list) -> None:
    if kind == "milestones":
        for i, m in enumerate(rows):
            m.position = i
        # Reassigning the collection keeps it ordered as the user sees it.
        case.milestones = rows
    else:
        setattr(case, kind, rows)


def add_row(case: Case, user: User, kind: str, values: dict, expected_revision) -> int:
    _check(case, user, expected_revision)
    rows = _rows_of(case, kind)
    row = _clean_for(case, kind, values)
    if len(rows) >= MAX_ROWS:
        _refuse({"": _l("At most %(n)d rows.", n=MAX_ROWS)})
    if kind == "milestones":
        m = Milestone()
        _apply_milestone(m, row)
        row = m
    rows.append(row)
    _store(case, kind, rows)
    return _commit(case)


def _index(rows: list, index: int) -> int:
    if not 0 <= index < len(rows):
        raise NotAvailable(_l("That row no longer exists; reload to see the latest."))
    return index


def update_row(case: Case, user: User, kind: str, index: int, values: dict, expected_revision):
    _check(case, user, expected_revision)
    rows = _rows_of(case, kind)
    _index(rows, index)
    row = _clean_for(case, kind, values)
    if kind == "milestones":
        _apply_milestone(rows[index], row)
    else:
        rows[index] = row
    _store(case, kind, rows)
    return _commit(case)


def move_row(case: Case, user: User, kind: str, index: int, direction: str, expected_revision):
    _check(case, user, expected_revision)
    rows = _rows_of(case, kind)
    _index(rows, index)
    other = index - 1 if direction == "up" else index + 1
    if direction not in ("up", "down") or not 0 <= other < len(rows):
        raise NotAvailable(_l("This row cannot move that way."))
    rows[index], rows[other] = rows[other], rows[index]
    _store(case, kind, rows)
    return _commit(case)


def remove_row(case: Case, user: User, kind: str, index: int, expected_revision) -> int:
    _check(case, user, expected_revision)
    rows = _rows_of(case, kind)
    _index(rows, index)
    removed = rows.pop(index)
    if kind == "milestones":
        case.milestones.remove(removed)
    _store(case, kind, rows)
    return _commit(case)


# ---------------------------------------------------------------- diff

_TOKENS = re.compile(r"\s+|[^\s]+")


def _text_spans(old: str, new: str) -> list[dict]:
    """Word-level changes: [{"op": equal|insert|delete, "text"}], whitespace kept."""
    a, b = _TOKENS.findall(old or ""), _TOKENS.findall(new or "")
    spans: list[dict] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            spans.append({"op": "equal", "text": "".join(a[i1:i2])})
            continue
        if i2 > i1:
            spans.append({"op": "delete", "text": "".join(a[i1:i2])})
        if j2 > j1:
            spans.append({"op": "insert", "text": "".join(b[j1:j2])})
    return spans


def _row_key(row) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False, default=str)


def _row_changes(old: dict, new: dict) -> list[dict]:
    keys = list(dict.fromkeys([*(old or {}), *(new or {})]))
    return [
        {"column": k, "old": (old or {}).get(k), "new": (new or {}).get(k)}
        for k in keys
        if (old or {}).get(k) != (new or {}).get(k)
    ]


def _row_diff(old_rows: list, new_rows: list) -> list[dict]:
    """Rows added, removed, changed (paired in order within a replaced block) or same."""
    a, b = [_row_key(r) for r in old_rows], [_row_key(r) for r in new_rows]
    out: list[dict] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out += [
                {"op": "same", "old": old_rows[i], "new": new_rows[i - i1 + j1]}
                for i in range(i1, i2)
            ]
            continue
        paired = min(i2 - i1, j2 - j1) if op == "replace" else 0
        for k in range(paired):
            o, n = old_rows[i1 + k], new_rows[j1 + k]
            out.append({"op": "changed", "old": o, "new": n, "changes": _row_changes(o, n)})
        out += [{"op": "removed", "old": old_rows[i], "new": None} for i in range(i1 + paired, i2)]
        out += [{"op": "added", "old": None, "new": new_rows[j]} for j in range(j1 + paired, j2)]
    return out


def diff_snapshots(old: dict | None, new: dict) -> list[dict]:
    """Section by section, in the editor's order: {"field", "label", "kind": text|rows,
    "changed", "spans" (text) or "rows" (lists)}. `old` None (a first submission) compares
    against an empty proposal, so everything shows as inserted."""
    old = old or {}
    sections = []
    for field in SECTIONS:
        if field in TEXT_FIELDS:
            before, after = old.get(field) or "", new.get(field) or ""
            sections.append(
                {
                    "field": field,
                    "label": SECTION_LABELS[field],
                    "kind": "text",
                    "changed": before != after,
                    "spans": _text_spans(before, after),
                }
            )
        else:
            rows = _row_diff(list(old.get(field) or []), list(new.get(field) or []))
            sections.append(
                {
                    "field": field,
                    "label": SECTION_LABELS[field],
                    "kind": "rows",
                    "changed": any(r["op"] != "same" for r in rows),
                    "rows": rows,
                }
            )
    return sections


def previous_and_current(case: Case) -> tuple[dict | None, dict]:
    """(the submission before the latest, or None; the latest submission, or the current
    draft when nothing was submitted yet)."""
    snapshots = list(case.snapshots)
    if not snapshots:
        return None, case.proposal_content()
    previous = snapshots[-2].content if len(snapshots) > 1 else None
    return previous, snapshots[-1].content


def snapshot_pair(case: Case, number: int) -> tuple[dict | None, dict] | None:
    """(snapshot number-1 or None, snapshot number); None if there is no such snapshot."""
    by_number = {s.number: s for s in case.snapshots}
    if number not in by_number:
        return None
    previous = by_number.get(number - 1)
    return (previous.content if previous else None), by_number[number].content


def row_text(row: dict | None, field: str) -> str:
    """A row of a list section as one readable line (for the diff view)."""
    if not row:
        return ""
    if field == "milestones":
        keys = MILESTONE_COLUMNS
    else:
        keys = [c[0] for c in ROW_COLUMNS.get(field, ())] or list(row)
    parts = []
    for key in keys:
        value = row.get(key)
        if value in (None, "", []):
            continue
        parts.append(f"{COLUMN_LABELS.get(key, key)}: {display_value(key, value)}")
    return " · ".join(parts)


def display_value(key: str, value) -> str:
    if value is None:
        return "—"
    if key in CHOICES and value in CHOICES[key]:
        return str(CHOICES[key][value])
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
