"""The audit trail is tamper-evident: edits, deletions and insertions made behind the ORM's
back are found by verify_all() and by `flask aksi verify-audit`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select, text, update

from tests.factories import World
from workflow.extensions import db
from workflow.models import AuditEvent, Case, Notification
from workflow.services import perform
from workflow.services.audit import Break, event_hash, verify_all

EVENTS = AuditEvent.__table__
CASES = Case.__table__


@pytest.fixture
def trail(world):
    """The world's case with four events, beside a second, intact case with two."""
    w = world
    perform(w.case, "submit", w.trainee)
    perform(w.case, "request_revision", w.mentor, comment="Perjelas lokus.")
    perform(w.case, "submit", w.trainee)
    perform(w.case, "approve", w.mentor, comment="Setuju.")
    other = World()
    perform(other.case, "submit", other.trainee)
    perform(other.case, "approve", other.mentor)
    return w.case.id, other.case.id


def _where(case_id: int, seq: int):
    return (EVENTS.c.case_id == case_id) & (EVENTS.c.seq == seq)


def _drop(where) -> None:
    # Notifications point at events; a forger removes those rows too.
    notes = Notification.__table__
    db.session.execute(delete(notes).where(notes.c.event_id.in_(select(EVENTS.c.id).where(where))))
    db.session.execute(delete(EVENTS).where(where))


def edit_comment(case_id):
    db.session.execute(
        text("UPDATE audit_events SET comment = :c WHERE case_id = :id AND seq = 2"),
        {"c": "Sudah bagus.", "id": case_id},
    )
    return "event #2 was altered"


def edit_actor(case_id):
    db.session.execute(
        text("UPDATE audit_events SET actor_id = NULL WHERE case_id = :id AND seq = 1"),
        {"id": case_id},
    )
    return "event #1 was altered"


def edit_state(case_id):
    db.session.execute(
        text("UPDATE audit_events SET to_state = 'completed' WHERE case_id = :id AND seq = 4"),
        {"id": case_id},
    )
    return "event #4 was altered"


def edit_data(case_id):
    db.session.execute(update(EVENTS).where(_where(case_id, 3)).values(data={"note": "x"}))
    return "event #3 was altered"


def edit_time(case_id):
    when = db.session.scalar(select(EVENTS.c.created_at).where(_where(case_id, 2)))
    db.session.execute(
        update(EVENTS).where(_where(case_id, 2)).values(created_at=when - timedelta(days=3))
    )
    return "event #2 was altered"


def edit_and_rehash_middle(case_id):
    # A forger who knows the hash function re-hashes the row; the next link still breaks.
    row = db.session.execute(select(EVENTS).where(_where(case_id, 2))).one()
    forged = AuditEvent(**{**row._mapping, "comment": "Sudah bagus."})
    db.session.execute(
        update(EVENTS)
        .where(_where(case_id, 2))
        .values(comment="Sudah bagus.", hash=event_hash(forged))
    )
    return "event #3 does not follow the previous event"


def edit_and_rehash_last(case_id):
    row = db.session.execute(select(EVENTS).where(_where(case_id, 4))).one()
    forged = AuditEvent(**{**row._mapping, "comment": "Ditolak."})
    db.session.execute(
        update(EVENTS).where(_where(case_id, 4)).values(comment="Ditolak.", hash=event_hash(forged))
    )
    return "the last events were removed or replaced"


def delete_first(case_id):
    _drop(_where(case_id, 1))
    return "event #1 is missing (found #2)"


def delete_middle(case_id):
    _drop(text("audit_events.case_id = :id AND audit_events.seq = 2").bindparams(id=case_id))
    return "event #2 is missing (found #3)"


def delete_last(case_id):
    _drop(text("audit_events.case_id = :id AND audit_events.seq = 4").bindparams(id=case_id))
    return "the last events were removed or replaced"


def delete_all(case_id):
    _drop(EVENTS.c.case_id == case_id)
    return "the last events were removed or replaced"


def insert_appended(case_id):
    head = db.session.execute(select(EVENTS).where(_where(case_id, 4))).one()
    forged = AuditEvent(
        case_id=case_id,
        seq=5,
        actor_id=head.actor_id,
        on_behalf_of_id=None,
        trigger="endorse",
        from_state="endorsement_pending",
        to_state="implementation",
        comment="",
        data={"letter_number": "800/999"},
        created_at=head.created_at + timedelta(minutes=5),
        prev_hash=head.hash,
    )
    values = {
        c.name: getattr(forged, c.name) for c in EVENTS.columns if c.name not in ("id", "hash")
    }
    db.session.execute(EVENTS.insert().values(**values, hash=event_hash(forged)))
    return "the last events were removed or replaced"


def rewind_case_head(case_id):
    # Moving the case's head back hides the newest event from a reader trusting the case.
    db.session.execute(update(CASES).where(CASES.c.id == case_id).values(event_count=3))
    return "the last events were removed or replaced"


TAMPERING = [
    edit_comment,
    edit_actor,
    edit_state,
    edit_data,
    edit_time,
    edit_and_rehash_middle,
    edit_and_rehash_last,
    delete_first,
    delete_middle,
    delete_last,
    delete_all,
    insert_appended,
    rewind_case_head,
]


def test_intact_chains(trail, runner):
    assert verify_all() == []
    result = runner.invoke(args=["aksi", "verify-audit"])
    assert result.exit_code == 0, result.output
    assert "All 2 audit chains are intact." in result.output


def test_a_case_without_events_is_intact(world, runner):
    assert verify_all() == []
    assert runner.invoke(args=["aksi", "verify-audit"]).exit_code == 0


@pytest.mark.parametrize("tamper", TAMPERING, ids=[t.__name__ for t in TAMPERING])
def test_tampering_is_reported(trail, runner, tamper):
    broken_id, intact_id = trail
    reason = tamper(broken_id)
    db.session.commit()
    db.session.expire_all()
    assert verify_all() == [Break(broken_id, reason)]
    result = runner.invoke(args=["aksi", "verify-audit"])
    assert result.exit_code == 1
    assert f"case {broken_id}: {reason}" in result.output
    assert f"case {intact_id}:" not in result.output
    assert "1 of 2 cases have a broken audit chain." in result.output


def test_every_broken_case_is_reported_across_batches(trail):
    broken_id, intact_id = trail
    third = World()
    perform(third.case, "submit", third.trainee)
    edit_comment(broken_id)
    _drop(EVENTS.c.case_id == third.case.id)
    db.session.commit()
    found = verify_all(batch=1)
    assert [b.case_id for b in found] == [broken_id, third.case.id]


def test_verify_all_leaves_the_callers_session_alone(trail, world):
    case = world.case
    verify_all(batch=1)
    assert case in db.session
    assert case.state == "endorsement_pending"


def test_events_chain_per_case(trail):
    broken_id, intact_id = trail
    for case_id in trail:
        rows = db.session.execute(
            select(EVENTS).where(EVENTS.c.case_id == case_id).order_by(EVENTS.c.seq)
        ).all()
        assert [r.prev_hash for r in rows] == ["", *[r.hash for r in rows[:-1]]]
        assert all(event_hash(r) == r.hash for r in rows)
        head = db.session.execute(select(CASES).where(CASES.c.id == case_id)).one()
        assert (head.event_count, head.audit_head) == (len(rows), rows[-1].hash)
