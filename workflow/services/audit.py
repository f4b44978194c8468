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


def append_event(case: Case, event: AuditEvent) -> AuditEvent:
    """Chain `event` after the case's last one. The caller commits."""
    event.case_id = case.id
    event.seq = case.event_count + 1
    event.prev_hash = case.audit_head
    event.hash = event_hash(event)
    case.event_count = event.seq
    case.audit_head = event.hash
    db.session.add(event)
    return event


@dataclass
class Break:
    case_id: int
    reason: str


def verify_case(case: Case, events: list[AuditEvent]) -> str | None:
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
    """Walk every case's chain; streams cases in batches to keep memory flat."""
    breaks: list[Break] = []
    last_id = 0
    while True:
        cases = db.session.scalars(
            select(Case).where(Case.id > last_id).order_by(Case.id).limit(batch)
        ).all()
        if not cases:
            return breaks
        ids = [c.id for c in cases]
        by_case: dict[int, list[AuditEvent]] = {i: [] for i in ids}
        for ev in db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.case_id.in_(ids))
            .order_by(AuditEvent.case_id, AuditEvent.seq)
        ):
            by_case[ev.case_id].append(ev)
        for c in cases:
            reason = verify_case(c, by_case[c.id])
            if reason:
                breaks.append(Break(c.id, reason))
        last_id = ids[-1]
        db.session.expunge_all()
