"""Data forms of a case (the profil pekon): one checking path for the HTML form, the API and
the submit guard; saves with history; the reasons of a return, per field.

Rules:
- `check()` takes what was typed (strings from a form, JSON values from the API) for any
  subset of the form's fields and answers the clean values and a message per bad path
  (`population`, `facilities[2].name`). A missing required field is not an error there:
  drafts are saved incomplete. `complete()` says what a submission still lacks.
- Numbers are read as an Indonesian writes them ("1.234.567", "2,5", "1.234,5") or plainly
  ("1234.5", what a script sends): a dot followed by groups of three digits is a thousands
  separator, a comma is the decimal mark.
- `save()` stores the valid fields and leaves the invalid ones as they were (the page keeps
  what the user typed beside its message); `atomic=True` (the API) writes nothing when any
  field is invalid. FormEntry.version is the optimistic lock, as the final report's own:
  0 while nothing is stored.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from babel.numbers import format_decimal
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..engine.definitions import Definition
from ..engine.forms import FormField, FormSpec
from ..engine.guards import guard
from ..extensions import db
from ..models import Case, User
from ..models._base import utcnow
from ..models.forms import FormEntry, FormRevision
from ..permissions import roles_on_case
from .errors import Blocked, Conflict, Forbidden, Missing, NotAvailable
from .workflow import definition_of, versioned_write

REASON_MAX = 500
# Saves by one person within this window update their last revision (see _revise).
COALESCE = timedelta(minutes=10)
NUMBER_MAX_CHARS = 40
YES = ("yes", "ya", "true", "1", "y")
NO = ("no", "tidak", "false", "0", "n")

NOT_EDITOR = _l("You may not edit this form.")
NOT_EDITABLE = _l("This form cannot be edited in the current state.")
STALE = _l("This form was changed in another tab or by someone else; reload to see the latest.")
INVALID = _l("Some fields need your attention.")
NO_FORM = _l("No such form in this case.")

_ID_GROUPED = re.compile(r"[-+]?\d{1,3}(?:\.\d{3})+(?:,\d+)?")
_ID_DECIMAL = re.compile(r"[-+]?\d+(?:,\d+)?")
_PLAIN = re.compile(r"[-+]?\d+(?:\.\d+)?")


# ---------------------------------------------------------------- values


def _lang(lang: str | None) -> str:
    if lang in ("id", "en"):
        return lang
    return str(get_locale() or "id")


def number_text(value, lang: str | None) -> str:
    """A stored number as the box shows it again, read back the same way by parse_number:
    "1.234,5" in Indonesian, "1234.5" in English (no grouping, which would read as a
    decimal comma)."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    if _lang(lang) == "id":
        return format_decimal(value, format="#,##0.######", locale="id")
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _shown(value, lang: str) -> str:
    """A number inside a message, grouped as the reader's language groups it (not below
    10,000: a year reads 1900, not 1.900)."""
    pattern = "#,##0.######" if abs(value) >= 10000 else "0.######"
    return format_decimal(value, format=pattern, locale=lang)


def parse_number(raw) -> float | int:
    """The number typed (see the module's rules) or ValueError."""
    if isinstance(raw, bool):
        raise ValueError(raw)
    if isinstance(raw, int | float):
        value = float(raw)
    else:
        text = str(raw).strip().replace(" ", "").replace("\u00a0", "")
        if len(text) > NUMBER_MAX_CHARS:
            raise ValueError(raw)
        if _ID_GROUPED.fullmatch(text):
            text = text.replace(".", "").replace(",", ".")
        elif _ID_DECIMAL.fullmatch(text):
            text = text.replace(",", ".")
        elif not _PLAIN.fullmatch(text):
            raise ValueError(raw)
        value = float(text)
    # NaN and infinities are not JSON; nothing a form asks is beyond 10^15.
    if not math.isfinite(value) or abs(value) > 1e15:
        raise ValueError(raw)
    return int(value) if value.is_integer() else value


def _empty(raw) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def filled(value) -> bool:
    """Whether a stored value counts as given (0 and "no" do)."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list):
        return bool(value)
    return True


def _clean_value(f: FormField, raw, lang: str, label: str) -> tuple[object, str | None]:
    """(clean value or None for "empty", message). Called inside force_locale(lang)."""
    if _empty(raw):
        return None, None
    if f.type in ("text", "textarea"):
        if not isinstance(raw, str):
            return None, _("%(field)s must be text.", field=label)
        text = raw.replace("\x00", "").strip()
        if len(text) > f.max_length:
            return None, _(
                "%(field)s is too long: at most %(n)s characters.",
                field=label,
                n=_shown(f.max_length, lang),
            )
        return text, None
    if f.type == "number":
        try:
            value = parse_number(raw)
        except ValueError:
            return None, _("%(field)s must be a number.", field=label)
        if f.integer and not isinstance(value, int):
            return None, _("%(field)s must be a whole number.", field=label)
        out = (f.min is not None and value < f.min) or (f.max is not None and value > f.max)
        if not out:
            return value, None
        # The bounds are formatted only for the message (babel's number format is not cheap).
        unit = f" {f.unit.get(lang)}" if f.unit is not None else ""
        low = None if f.min is None else _shown(f.min, lang) + unit
        high = None if f.max is None else _shown(f.max, lang) + unit
        if low is not None and high is not None:
            # "… antara 0 dan 1.000.000 jiwa": the unit once, after the upper bound.
            return None, _(
                "%(field)s must be between %(low)s and %(high)s.",
                field=label,
                low=_shown(f.min, lang),
                high=high,
            )
        if low is not None:
            return None, _("%(field)s must be at least %(low)s.", field=label, low=low)
        return None, _("%(field)s must be at most %(high)s.", field=label, high=high)
    if f.type == "choice":
        value = raw.strip() if isinstance(raw, str) else raw
        if value not in {c.value for c in f.choices}:
            return None, _("%(field)s: choose one of the options.", field=label)
        return value, None
    if f.type == "date":
        try:
            if not isinstance(raw, str):
                raise ValueError(raw)
            return date.fromisoformat(raw.strip()).isoformat(), None
        except ValueError:
            return None, _("%(field)s must be a date (YYYY-MM-DD).", field=label)
    if f.type == "boolean":
        if isinstance(raw, bool):
            return raw, None
        text = str(raw).strip().lower()
        if text in YES:
            return True, None
        if text in NO:
            return False, None
        return None, _("%(field)s: answer yes or no.", field=label)
    raise AssertionError(f.type)  # rows are checked by _clean_rows


def cell_label(f: FormField, cell: FormField, index: int, lang: str) -> str:
    return _(
        "%(rows)s, row %(n)d: %(field)s",
        rows=f.labels.get(lang),
        n=index + 1,
        field=cell.labels.get(lang),
    )


def _clean_rows(f: FormField, raw, lang: str) -> tuple[list | None, dict[str, str]]:
    """(clean rows, errors). A row with nothing in it is dropped; paths keep the index the
    caller sent, so each message lands beside the box it belongs to."""
    label = f.labels.get(lang)
    if raw is None:
        return [], {}
    if not isinstance(raw, list):
        return None, {f.name: _("%(field)s must be a list of rows.", field=label)}
    if len(raw) > f.max_rows:
        return None, {f.name: _("%(field)s: at most %(n)d rows.", field=label, n=f.max_rows)}
    cells = {c.name: c for c in f.fields}
    rows, errors = [], {}
    for i, values in enumerate(raw):
        if not isinstance(values, dict):
            errors[f"{f.name}[{i}]"] = _("%(field)s: each row must be an object.", field=label)
            continue
        row = {}
        for key, value in values.items():
            path = f"{f.name}[{i}].{key}"
            cell = cells.get(key)
            if cell is None:
                errors[path] = _("Unknown field.")
                continue
            clean, problem = _clean_value(cell, value, lang, cell_label(f, cell, i, lang))
            if problem:
                errors[path] = problem
            elif clean is not None:
                row[key] = clean
        if row:
            rows.append(row)
    return (None if errors else rows), errors


def _check_values(form: FormSpec, raw: dict, lang: str) -> tuple[dict, dict[str, str]]:
    fields = form.all_fields()
    clean: dict = {}
    errors: dict[str, str] = {}
    with force_locale(lang):
        if not isinstance(raw, dict):
            return {}, {"": _("Send an object of fields.")}
        for name, value in raw.items():
            f = fields.get(name)
            if f is None:
                errors[str(name)] = _("Unknown field.")
            elif f.type == "rows":
                rows, problems = _clean_rows(f, value, lang)
                errors.update(problems)
                if not problems:
                    clean[name] = rows or None
            else:
                value, problem = _clean_value(f, value, lang, f.labels.get(lang))
                if problem:
                    errors[name] = problem
                else:
                    clean[name] = value
    return clean, errors


_OPS = {
    "<=": lambda a, b: a <= b + 1e-9,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a + 1e-9 >= b,
    ">": lambda a, b: a > b,
    "==": lambda a, b: abs(a - b) <= 1e-9,
}


def _check_rules(form: FormSpec, data: dict, lang: str) -> dict[str, str]:
    """The cross-field checks that fail on `data` (stored values), each beside the first
    field of its left side. A check runs only when every field it names has a number."""
    errors: dict[str, str] = {}
    for c in form.checks:
        right_names = c.right if isinstance(c.right, tuple) else ()
        values = [data.get(n) for n in (*c.left, *right_names)]
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
            continue
        left = sum(data[n] for n in c.left)
        right = sum(data[n] for n in right_names) if right_names else float(c.right)
        if not _OPS[c.op](left, right):
            errors.setdefault(c.left[0], c.message.get(lang))
    return errors


def failing_checks(form: FormSpec, data: dict, lang: str | None = None) -> dict[str, str]:
    """The cross-field checks that fail on stored `data`: {first left field: message}."""
    return _check_rules(form, data or {}, _lang(lang))


def check(
    form: FormSpec, raw: dict, lang: str | None = None, base: dict | None = None
) -> tuple[dict, dict[str, str]]:
    """(clean values, {path: message}) for the fields in `raw`. A clean value of None means
    "emptied". The cross-field checks run over `base` (the stored data) with the clean values
    put in; they report beside a field whose value is valid (it is still stored)."""
    lang = _lang(lang)
    clean, errors = _check_values(form, raw, lang)
    merged = {**(base or {}), **{k: v for k, v in clean.items()}}
    for path, message in _check_rules(form, merged, lang).items():
        errors.setdefault(path, message)
    return clean, errors


# ---------------------------------------------------------------- completeness


def not_filled(label: str) -> str:
    return _("%(field)s is not filled in yet.", field=label)


@dataclass
class Problem:
    path: str
    field: str  # the top-level field it belongs to
    kind: str  # missing | invalid | check
    message: str


def problems(form: FormSpec, data: dict | None, lang: str | None = None) -> list[Problem]:
    """Everything that stands between `data` and a submission, in the form's order:
    stored values that no longer pass (a definition tightened since), required fields and
    cells not filled, too few rows, failing checks."""
    lang = _lang(lang)
    data = data or {}
    known = form.all_fields()
    _, invalid = _check_values(form, {k: v for k, v in data.items() if k in known}, lang)
    # A check runs on valid values only: an invalid one is reported once, as itself.
    bad = {re.split(r"[\[.]", p, maxsplit=1)[0] for p in invalid}
    rules = _check_rules(form, {k: v for k, v in data.items() if k not in bad}, lang)
    found: list[Problem] = []
    with force_locale(lang):
        for section in form.sections:
            for f in section.fields:
                label = f.labels.get(lang)
                own = {
                    p: m for p, m in invalid.items() if p == f.name or p.startswith(f.name + "[")
                }
                for path, message in own.items():
                    found.append(Problem(path, f.name, "invalid", message))
                if own:
                    continue
                value = data.get(f.name)
                if f.type != "rows":
                    if f.required and not filled(value):
                        found.append(Problem(f.name, f.name, "missing", not_filled(label)))
                    elif f.name in rules:
                        found.append(Problem(f.name, f.name, "check", rules[f.name]))
                    continue
                rows = value if isinstance(value, list) else []
                least = max(f.min_rows, 1 if f.required else 0)
                if not rows and least:
                    found.append(Problem(f.name, f.name, "missing", not_filled(label)))
                elif len(rows) < least:
                    found.append(
                        Problem(
                            f.name,
                            f.name,
                            "invalid",
                            _("%(field)s: at least %(n)d rows are needed.", field=label, n=least),
                        )
                    )
                for i, row in enumerate(rows):
                    for cell in f.fields:
                        if cell.required and not filled(row.get(cell.name)):
                            found.append(
                                Problem(
                                    f"{f.name}[{i}].{cell.name}",
                                    f.name,
                                    "missing",
                                    not_filled(cell_label(f, cell, i, lang)),
                                )
                            )
    return found


def complete(form: FormSpec, data: dict | None, lang: str | None = None) -> dict[str, str]:
    """{path: message} of what a submission still lacks; empty when the form is complete."""
    return {p.path: p.message for p in problems(form, data, lang)}


def required_counts(form: FormSpec, data: dict | None) -> tuple[int, int]:
    """(required top-level fields filled, required top-level fields)."""
    data = data or {}
    required = [
        f
        for s in form.sections
        for f in s.fields
        if f.required or (f.type == "rows" and f.min_rows > 0)
    ]
    done = 0
    for f in required:
        value = data.get(f.name)
        if f.type == "rows":
            done += isinstance(value, list) and len(value) >= max(f.min_rows, 1)
        else:
            done += filled(value)
    return done, len(required)


def section_of(form: FormSpec, name: str):
    return next(s for s in form.sections if any(f.name == name for f in s.fields))


# ---------------------------------------------------------------- reading


def entry_of(case: Case, form_key: str) -> FormEntry | None:
    return db.session.scalar(
        select(FormEntry).where(FormEntry.case_id == case.id, FormEntry.form_key == form_key)
    )


def entries_of(case: Case) -> dict[str, FormEntry]:
    """Every form entry of the case, in one query."""
    rows = db.session.scalars(select(FormEntry).where(FormEntry.case_id == case.id))
    return {e.form_key: e for e in rows}


def version_of(entry: FormEntry | None) -> int:
    return entry.version if entry is not None and entry.id is not None else 0


def form_of(case: Case, form_key: str) -> FormSpec:
    form = definition_of(case).form(form_key)
    if form is None:
        raise Missing(NO_FORM)
    return form


def is_editable(case: Case, form: FormSpec) -> bool:
    return case.state in form.editable_in


def may_edit(case: Case, form: FormSpec, user: User | None) -> bool:
    """The user holds an editor role of the form on the case (in their own right or as an
    acting official). Says nothing of the state: see is_editable."""
    if user is None or not getattr(user, "id", None):
        return False
    return bool(roles_on_case(user, case, among=set(form.editors)) & set(form.editors))


def can_edit(case: Case, form: FormSpec, user: User | None) -> bool:
    return is_editable(case, form) and may_edit(case, form, user)


# ---------------------------------------------------------------- saving


@dataclass
class SaveResult:
    version: int
    # Not stored: {path: message}; what the user typed stays in their form.
    errors: dict[str, str] = field(default_factory=dict)
    # Stored, but a cross-field check fails: {path: message}.
    warnings: dict[str, str] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)


def _refuse_access(case: Case, form: FormSpec, actor: User | None) -> None:
    if not may_edit(case, form, actor):
        raise Forbidden(NOT_EDITOR)
    if not is_editable(case, form):
        raise NotAvailable(NOT_EDITABLE)


def save(
    case: Case,
    form_key: str,
    raw: dict,
    actor: User,
    expected_version: int | None,
    *,
    lang: str | None = None,
    atomic: bool = False,
) -> SaveResult:
    """Save the fields in `raw` (others stay as stored) and commit. Refuses, having written
    nothing: Missing (no such form), Forbidden (not an editor), NotAvailable (state),
    Conflict (`expected_version` is not the entry's version; 0 or None while none is
    stored), and with `atomic` Blocked (.fields) when any field is invalid. Otherwise the
    valid fields are stored and the invalid ones reported in the result."""
    form = form_of(case, form_key)
    _refuse_access(case, form, actor)
    entry = entry_of(case, form_key)
    current = version_of(entry)
    if (current == 0 and expected_version not in (None, 0)) or (
        current != 0 and expected_version != current
    ):
        raise Conflict(STALE)
    lang = _lang(lang)
    stored = dict(entry.data or {}) if entry is not None else {}
    clean, errors = _check_values(form, raw, lang)
    if errors and atomic:
        raise Blocked(INVALID, list(errors.values()), errors)
    data = dict(stored)
    for name, value in clean.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    warnings = {p: m for p, m in _check_rules(form, data, lang).items() if p not in errors}
    changed = [name for name in clean if data.get(name) != stored.get(name)]
    if not changed:
        return SaveResult(current, errors, warnings, [])
    now = utcnow()
    if entry is None:
        entry = FormEntry(case_id=case.id, form_key=form_key, data={}, notes={})
        db.session.add(entry)
    entry.data = data
    notes = dict(entry.notes or {})
    # The reason a field was returned for goes once the field is changed: it was answered.
    if any(name in notes for name in changed):
        entry.notes = {k: v for k, v in notes.items() if k not in changed}
    entry.updated_at = now
    entry.updated_by_id = actor.id
    _revise(entry, data, actor, now)
    try:
        with versioned_write(STALE):
            db.session.flush()
    except IntegrityError:
        # Two first saves raced: the other one created the entry.
        raise Conflict(STALE) from None
    return SaveResult(entry.version, errors, warnings, changed)


def _revise(entry: FormEntry, data: dict, actor: User, now: datetime) -> None:
    """Record the data as it now stands in the history. Autosave writes every few seconds
    while someone types; a revision per save would bury the history in near-identical rows
    (and grow it without bound), so a save by the same person within COALESCE of their
    last one updates that revision: one revision per sitting per person, and every change
    by someone else still starts a new one."""
    last = None
    if entry.id is not None:
        last = db.session.scalar(
            select(FormRevision)
            .where(FormRevision.entry_id == entry.id)
            .order_by(FormRevision.number.desc())
            .limit(1)
        )
    if last is not None and last.created_by_id == actor.id and last.created_at >= now - COALESCE:
        last.data = dict(data)
        last.created_at = now
        return
    revision = FormRevision(
        number=(last.number + 1) if last is not None else 1,
        data=dict(data),
        created_at=now,
        created_by_id=actor.id,
    )
    if entry.id is None:
        entry.revisions.append(revision)
    else:
        revision.entry_id = entry.id
        db.session.add(revision)


def history(entry: FormEntry | None) -> list[dict]:
    """Revisions, newest first: {revision, changed: [field names]} (changed against the
    revision before it; the first lists what it filled)."""
    if entry is None or entry.id is None:
        return []
    revisions = db.session.scalars(
        select(FormRevision).where(FormRevision.entry_id == entry.id).order_by(FormRevision.number)
    ).all()
    out, before = [], {}
    for r in revisions:
        data = r.data or {}
        changed = sorted(k for k in set(data) | set(before) if data.get(k) != before.get(k))
        out.append({"revision": r, "changed": changed})
        before = data
    out.reverse()
    return out


# ---------------------------------------------------------------- the submit guard


def _reason_line(definition: Definition, form: FormSpec, p: Problem, lang: str) -> str:
    section = section_of(form, p.field).labels.get(lang)
    with force_locale(lang):
        line = _("Section %(section)s: %(message)s", section=section, message=p.message)
        if len(definition.forms) > 1:
            line = _("%(form)s — %(line)s", form=form.labels.get(lang), line=line)
    return line


@guard("forms_complete")
def forms_complete(case: Case, definition: Definition) -> list:
    """Every form editable in the case's state is complete: its required fields filled,
    its values valid and its checks passing."""
    forms = [f for f in definition.forms if case.state in f.editable_in]
    if not forms:
        return []
    entries = entries_of(case)
    lang = _lang(None)
    reasons = []
    for form in forms:
        entry = entries.get(form.key)
        for p in problems(form, entry.data if entry is not None else {}, lang):
            reasons.append(_reason_line(definition, form, p, lang))
    return reasons


# ---------------------------------------------------------------- reasons of a return


def clean_reasons(form: FormSpec, data: dict | None) -> dict[str, str]:
    """{field: reason} from data["reasons"] (a reason per field of the form that needs
    fixing; empty ones dropped). Blocked, with a message beside each bad box (paths
    "reasons.<field>"), when none is given, a field is unknown or a reason too long."""
    raw = (data or {}).get("reasons") if isinstance(data, dict) else None
    fields = form.all_fields()
    errors: dict[str, object] = {}
    reasons: dict[str, str] = {}
    if raw is not None and not isinstance(raw, dict):
        errors["reasons"] = _l("Give the reasons as an object of field → text.")
        raw = {}
    for name, text in (raw or {}).items():
        path = f"reasons.{name}"
        if name not in fields:
            errors[path] = _l("Unknown field.")
            continue
        if text is not None and not isinstance(text, str):
            errors[path] = _l("A reason must be text.")
            continue
        text = (text or "").replace("\x00", "").strip()
        if len(text) > REASON_MAX:
            errors[path] = _l("The reason is too long (at most %(n)d characters).", n=REASON_MAX)
        elif text:
            reasons[name] = text
    if not reasons and not errors:
        errors["reasons"] = _l("Give the reason beside at least one field that needs fixing.")
    if errors:
        raise Blocked(INVALID, list(errors.values()), errors)
    # In the form's order, as the reader goes through it.
    return {name: reasons[name] for name in fields if name in reasons}


def record_reasons(
    case: Case, form: FormSpec, reasons: dict[str, str], actor: User, now: datetime
) -> None:
    """Put the reasons of this return beside their fields (replacing the last return's).
    Part of perform()'s transaction: no commit here."""
    entry = entry_of(case, form.key)
    if entry is None:
        entry = FormEntry(case_id=case.id, form_key=form.key, data={})
        db.session.add(entry)
    at = now.isoformat(timespec="seconds") + "Z"
    entry.notes = {
        name: {"reason": text, "by": actor.id, "at": at} for name, text in reasons.items()
    }
