"""The tamper-evident audit trail: each event hashes its content and its predecessor's hash,
and the case keeps the head, so an edited, inserted or deleted row breaks the chain."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select

from ..extensions import db
from ..models import AuditEvent, Case


def event_hash(event: AuditEvent) -> str:
    payload = json.dumps(
        {
            "case": event.case_id,
            "seq": event.seq,
            "actor": event.actor_id,
            "on_behalf_of": event.on_behalf_of_id,
            "trigger": event.trigger,
            "from": event.from_state,
            "to": event.to_state,
            "comment": event.comment or "",
            "data": event.data or {},
            "at": event.created_at.isoformat(timespec="microseconds"),
            "prev": event.prev_hash,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def chain_event(case: Case, event: AuditEvent) -> AuditEvent:
    """Link `event` after the case's last one and move the case's head; adds nothing to the
    session, so the caller can flush the case's versioned UPDATE before the INSERT."""
    event.case_id = case.id
    event.seq = case.event_count + 1
    event.prev_hash = case.audit_head
    event.hash = event_hash(event)
    case.event_count = event.seq
    case.audit_head = event.hash
    return event


def append_event(case: Case, event: AuditEvent) -> AuditEvent:
    """Chain `event` after the case's last one and add it. The caller commits."""
    db.session.add(chain_event(case, event))
    return event


@dataclass
class Break:
    case_id: int
    reason: str


def verify_case(case, events) -> str | None:
    """Why the chain of `case` is broken, or None. Takes ORM objects or plain rows."""
    prev = ""
    for expected_seq, event in enumerate(events, start=1):
        if event.seq != expected_seq:
            return f"event #{expected_seq} is missing (found #{event.seq})"
        if event.prev_hash != prev:
            return f"event #{event.seq} does not follow the previous event"
        if event_hash(event) != event.hash:
            return f"event #{event.seq} was altered"
        prev = event.hash
    if len(events) != case.event_count or prev != case.audit_head:
        return "the last events were removed or replaced"
    return None


def verify_all(batch: int = 500) -> list[Break]:
    """Walk every case's chain in batches. Reads plain rows, not ORM objects, so memory stays
    flat and the caller's session (identity map, loaded objects) is left as it was."""
    breaks: list[Break] = []
    cases_t, events_t = Case.__table__, AuditEvent.__table__
    last_id = 0
    while True:
        cases = db.session.execute(
            select(cases_t.c.id, cases_t.c.event_count, cases_t.c.audit_head)
            .where(cases_t.c.id > last_id)
            .order_by(cases_t.c.id)
            .limit(batch)
        ).all()
        if not cases:
            return breaks
        ids = [c.id for c in cases]
        by_case: dict[int, list] = {i: [] for i in ids}
        for ev in db.session.execute(
            select(events_t)
            .where(events_t.c.case_id.in_(ids))
            .order_by(events_t.c.case_id, events_t.c.seq)
        ):
            by_case[ev.case_id].append(ev)
        for c in cases:
            reason = verify_case(c, by_case[c.id])
            if reason:
                breaks.append(Break(c.id, reason))
        last_id = ids[-1]
