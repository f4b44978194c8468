"""The trainee's final report (laporan aksi perubahan): validated saves that never overwrite
newer work, what is still missing before it can be submitted, and its content as plain data.

Versions: the FinalReport row carries its own optimistic lock (`version`), separate from the
case's, so the mentor verifying a milestone does not disturb the trainee typing the report.
Every save names the report version it was based on:
- no report stored yet: `expected_version` must be None or 0;
- a report stored: `expected_version` must equal its version (None is a Conflict too).
A mismatch is a Conflict and writes nothing; a successful save returns the new version.
submit_report stamps the report (effect `stamp_final_report`), which bumps that version as
well, so a save racing a submission loses with a Conflict instead of editing a report
already handed in.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Case, FinalReport, Milestone, User
from .errors import Blocked, Conflict, Forbidden, NotAvailable
from .workflow import definition_of, versioned_write

FIELDS = FinalReport.TEXT_FIELDS + ("results",)
TEXT_MAX = 10000
RESULT_MAX = 5000
VIDEO_MAX = 500

# The order of the editor, the read view and the PDF.
SECTION_LABELS = {
    "executive_summary": _l("Executive summary"),
    "implementation": _l("Implementation"),
    "results": _l("Results against the targets"),
    "lessons_learned": _l("Lessons learned"),
    "continuation_medium": _l("Medium-term continuation plan"),
    "continuation_long": _l("Long-term continuation plan"),
    "sponsor_commitment": _l("Sponsor's commitment"),
    "video_link": _l("Video link"),
}
SECTIONS = tuple(SECTION_LABELS)
OPTIONAL = ("sponsor_commitment", "video_link")

# Reasons for the submit guard, in the order of the report.
MISSING = {
    "executive_summary": _l("The executive summary is empty."),
    "implementation": _l("The implementation is not described."),
    "lessons_learned": _l("The lessons learned are empty."),
    "continuation_medium": _l("The medium-term continuation plan is empty."),
    "continuation_long": _l("The long-term continuation plan is empty."),
}

NOT_TRAINEE = _l("Only the trainee of this case may edit its final report.")
NOT_EDITABLE = _l("The final report cannot be edited in the current state.")
STALE = _l("This report was changed in another tab or window; reload to see the latest.")
INVALID = _l("Some fields need your attention.")

_MILESTONE_KEY = re.compile(r"\d{1,18}")


# ---------------------------------------------------------------- reading


def existing_report(case: Case) -> FinalReport | None:
    """The stored report, or None: reads never create one."""
    return case.final_report


def report_of(case: Case) -> FinalReport:
    """The case's report; an empty one is created and added (not committed) if none."""
    if case.final_report is None:
        case.final_report = FinalReport(results={})
    return case.final_report


def version_of(case: Case) -> int:
    """The report version a save must name: 0 while nothing is stored."""
    report = case.final_report
    return report.version if report is not None and report.id is not None else 0


def is_editable(case: Case) -> bool:
    return bool(definition_of(case).state(case.state).report_editable)


def can_edit(case: Case, user: User | None) -> bool:
    return user is not None and case.trainee_id == getattr(user, "id", None) and is_editable(case)


def short_term(case: Case) -> list[Milestone]:
    return [m for m in case.milestones if m.term == "short"]


def result_of(case: Case, milestone: Milestone) -> str:
    report = case.final_report
    return ((report.results or {}).get(str(milestone.id)) or "") if report else ""


def status_of(case: Case) -> str:
    """empty (nothing saved), draft, returned (submitted, sent back, editable again) or
    submitted."""
    report = case.final_report
    if report is None or report.id is None:
        return "empty"
    if report.submitted_at is None:
        return "draft"
    return "returned" if is_editable(case) else "submitted"


def missing_sections(case: Case) -> list:
    """What the report still lacks before it can be submitted (lazy strings): each empty
    required section and each short-term milestone without a result. The sponsor's
    commitment and the video link are optional."""
    report = case.final_report

    def empty(name: str) -> bool:
        return not (getattr(report, name, "") or "").strip() if report else True

    reasons = [MISSING[name] for name in ("executive_summary", "implementation") if empty(name)]
    for m in short_term(case):
        if not result_of(case, m).strip():
            reasons.append(
                _l(
                    "The result against milestone “%(activity)s” is not written.",
                    activity=m.activity,
                )
            )
    reasons += [
        MISSING[name]
        for name in ("lessons_learned", "continuation_medium", "continuation_long")
        if empty(name)
    ]
    return reasons


def _moment(value: datetime | None) -> str | None:
    return value.isoformat(timespec="microseconds") + "Z" if value is not None else None


def report_content(case: Case) -> dict:
    """The report as plain data (JSON-ready) for the API and the PDF:
    every text field (str), `results` (one item per short-term milestone, in order:
    milestone_id, activity, output, target_date, target_quantity, target_unit,
    achieved_quantity, status, status_label, progress, closing_note, text), `version`
    (0 while nothing is stored), `status` (see status_of), `editable`, `updated_at` and
    `submitted_at` (UTC, ISO 8601 with Z, or None), `missing` (reasons, as text)."""
    from .milestones import STATUS_LABELS, progress_text

    report = case.final_report
    stored = report is not None and report.id is not None
    content: dict = {
        name: (getattr(report, name) or "") if report is not None else ""
        for name in FinalReport.TEXT_FIELDS
    }
    content["results"] = [
        {
            "milestone_id": m.id,
            "activity": m.activity,
            "output": m.output,
            "target_date": m.target_date.isoformat() if m.target_date else None,
            "target_quantity": m.target_quantity,
            "target_unit": m.target_unit,
            "achieved_quantity": m.achieved_quantity,
            "status": m.status,
            "status_label": str(STATUS_LABELS.get(m.status, m.status)),
            "progress": progress_text(m),
            "closing_note": m.closing_note or "",
            "text": result_of(case, m),
        }
        for m in short_term(case)
    ]
    content.update(
        version=version_of(case),
        status=status_of(case),
        editable=is_editable(case),
        updated_at=_moment(report.updated_at) if stored else None,
        submitted_at=_moment(report.submitted_at) if stored else None,
        missing=[str(r) for r in missing_sections(case)],
    )
    return content


# ---------------------------------------------------------------- cleaning


def _too_long(n: int):
    return _l("Too long: at most %(n)d characters.", n=n)


def _text(raw, limit: int) -> tuple[str, object]:
    """Stored as typed (templates escape it), minus NUL characters, which databases refuse."""
    if raw is not None and not isinstance(raw, str):
        return "", _l("Must be text.")
    text = (raw or "").replace("\x00", "")
    if len(text) > limit:
        return "", _too_long(limit)
    return text, None


def _video_link(raw) -> tuple[str, object]:
    """Empty, or an http(s) address: anything else (javascript:, data:) would become a
    link the reader clicks."""
    if raw is not None and not isinstance(raw, str):
        return "", _l("Must be text.")
    text = (raw or "").replace("\x00", "").strip()
    if not text:
        return "", None
    if len(text) > VIDEO_MAX:
        return "", _too_long(VIDEO_MAX)
    bad = _l("Give a web address starting with http:// or https://.")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        return "", bad
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return "", bad
    if parts.scheme.lower() not in ("http", "https") or not host:
        return "", bad
    return text, None


def _milestone_key(raw) -> str | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return str(raw) if raw >= 0 else None
    if isinstance(raw, str) and _MILESTONE_KEY.fullmatch(raw.strip()):
        return str(int(raw.strip()))
    return None


def clean_changes(case: Case, changes) -> tuple[dict, dict]:
    """(clean values, {field: message}). Result keys are "results.<milestone id>"."""
    if not isinstance(changes, dict):
        return {}, {"": _l("Send an object of fields.")}
    cleaned: dict = {}
    errors: dict = {}
    for name, value in changes.items():
        if name not in FIELDS:
            errors[str(name)] = _l("Unknown field.")
        elif name == "results":
            results, problems = _clean_results(case, value)
            errors.update(problems)
            cleaned["results"] = results
        elif name == "video_link":
            cleaned[name], problem = _video_link(value)
            if problem:
                errors[name] = problem
        else:
            cleaned[name], problem = _text(value, TEXT_MAX)
            if problem:
                errors[name] = problem
    return cleaned, errors


def _clean_results(case: Case, value) -> tuple[dict, dict]:
    if not isinstance(value, dict):
        return {}, {"results": _l("Must be an object of milestone id → text.")}
    known = {str(m.id) for m in short_term(case)}
    results: dict = {}
    errors: dict = {}
    for raw_key, text in value.items():
        key = _milestone_key(raw_key)
        if key is None or key not in known:
            errors[f"results.{raw_key}"] = _l("No such short-term milestone in this case.")
            continue
        results[key], problem = _text(text, RESULT_MAX)
        if problem:
            errors[f"results.{key}"] = problem
    return results, errors


# ---------------------------------------------------------------- writing


def _check(case: Case, user: User | None, expected_version: int | None) -> None:
    if user is None or case.trainee_id != getattr(user, "id", None):
        raise Forbidden(NOT_TRAINEE)
    if not is_editable(case):
        raise NotAvailable(NOT_EDITABLE)
    current = version_of(case)
    if current == 0:
        if expected_version not in (None, 0):
            raise Conflict(STALE)
    elif expected_version != current:
        raise Conflict(STALE)


def save_report(case: Case, user: User, changes: dict, expected_version: int | None) -> int:
    """Save any subset of FIELDS. `results` ({milestone id: text}, ids of the case's
    short-term milestones) merges into the stored results; an empty text removes one.
    Returns the report's new version (unchanged when nothing changed). Raises Forbidden
    (not the trainee), NotAvailable (not editable now), Conflict (see the module's version
    rule) or Blocked (.fields: {field or "results.<id>": message}), having written nothing."""
    _check(case, user, expected_version)
    cleaned, errors = clean_changes(case, changes)
    if errors:
        raise Blocked(INVALID, list(errors.values()), errors)
    stored = existing_report(case)
    current_results = dict((stored.results or {}) if stored else {})
    results = dict(current_results)
    for key, text in cleaned.pop("results", {}).items():
        if text.strip():
            results[key] = text
        else:
            results.pop(key, None)
    texts_changed = any(
        ((getattr(stored, k) or "") if stored else "") != v for k, v in cleaned.items()
    )
    if not texts_changed and results == current_results:
        return version_of(case)  # nothing changed (e.g. the `change` after an autosaved `input`)
    report = report_of(case)
    for name, value in cleaned.items():
        setattr(report, name, value)
    # A new dict, so the JSON column is seen as changed.
    report.results = results
    try:
        with versioned_write(STALE):
            db.session.flush()
    except IntegrityError:
        # Two first saves raced: the other one created the report.
        raise Conflict(STALE) from None
    return report.version


def stamp_submitted(case: Case, moment: datetime) -> None:
    """Mark the report as handed in (effect of submit_report; the caller commits). Touching
    the row bumps its version, so an editor still open on it meets a Conflict."""
    report = case.final_report
    if report is not None:
        report.submitted_at = moment
