"""Two performs race on one case at one version: exactly one wins, the other gets Conflict."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, func, select

from tests.factories import World
from workflow.extensions import db
from workflow.models import AuditEvent, Case, Notification, User
from workflow.services import Conflict, perform
from workflow.services.audit import verify_case

TIMEOUT = 30


class Overlap:
    """Makes the two transactions overlap in the database: whoever flushes first keeps its
    transaction open until the other has started its own flush (its UPDATE then meets the
    first one's row lock or write lock), then commits."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.flushing = 0
        self.both_flushing = threading.Event()
        self.waited = []

    def attach(self, session) -> None:
        first = {"before": True, "after": True}

        @event.listens_for(session, "before_flush")
        def before(*_):
            if first["before"]:
                first["before"] = False
                with self.lock:
                    self.flushing += 1
                    if self.flushing == 2:
                        self.both_flushing.set()

        @event.listens_for(session, "after_flush")
        def after(*_):
            if first["after"]:
                first["after"] = False
                # The other thread is about to (or already does) wait on our lock.
                self.waited.append(self.both_flushing.wait(TIMEOUT))
                threading.Event().wait(0.2)


def race(app, case_id: int, version: int, moves: list[tuple[str, int, dict]]):
    barrier = threading.Barrier(len(moves), timeout=TIMEOUT)
    overlap = Overlap()
    results: list = [None] * len(moves)

    def run(i: int, trigger: str, actor_id: int, kwargs: dict) -> None:
        with app.app_context():
            try:
                case = db.session.get(Case, case_id)
                actor = db.session.get(User, actor_id)
                # Load what perform() reads, so the race is on the write.
                case.milestones, case.group, case.cohort.program.institution  # noqa: B018
                overlap.attach(db.session())
                barrier.wait()
                results[i] = perform(case, trigger, actor, expected_version=version, **kwargs).id
            except Exception as exc:  # the test inspects what each thread got
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, *move)) for i, move in enumerate(moves)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 2)
    assert not any(t.is_alive() for t in threads)
    return results, overlap


def _counts(case_id):
    return (
        db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.case_id == case_id)
        ),
        db.session.scalar(
            select(func.count()).select_from(Notification).where(Notification.case_id == case_id)
        ),
    )


MOVES = {
    # The same click twice (a double submit from two tabs).
    "double-submit": ("draft", [("submit", "trainee", {}), ("submit", "trainee", {})]),
    # Two people, two different actions from the same state.
    "approve-vs-withdraw": (
        "mentor_review",
        [("approve", "mentor", {}), ("withdraw", "trainee", {"comment": "Mutasi."})],
    ),
}


@pytest.mark.parametrize("name", MOVES)
def test_two_performs_race_and_one_wins(app, world, name):
    start_state, moves = MOVES[name]
    for _ in range(3):
        w = World()
        if start_state == "mentor_review":
            perform(w.case, "submit", w.trainee)
        case_id, version = w.case.id, w.case.version
        events_before, _ = _counts(case_id)
        results, overlap = race(
            app, case_id, version, [(t, w.by_role(r).id, kw) for t, r, kw in moves]
        )
        winners = [r for r in results if isinstance(r, int)]
        losers = [r for r in results if isinstance(r, Exception)]
        assert len(winners) == 1, results
        assert len(losers) == 1 and type(losers[0]) is Conflict, results
        # The loser really did overlap with the winner's open transaction.
        assert overlap.flushing == 2
        assert overlap.waited == [True]

        db.session.expire_all()
        case = db.session.get(Case, case_id)
        events, notes = _counts(case_id)
        assert events == events_before + 1
        assert case.version == version + 1
        winner = db.session.get(AuditEvent, winners[0])
        assert case.state == winner.to_state
        assert notes == db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(
                Notification.event_id.in_(
                    select(AuditEvent.id).where(AuditEvent.case_id == case_id)
                )
            )
        )
        chain = list(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.seq)
            )
        )
        assert verify_case(case, chain) is None


def test_loser_can_retry_on_the_new_version(app, world):
    w = world
    case_id, version = w.case.id, w.case.version
    results, _ = race(
        app,
        case_id,
        version,
        [("submit", w.trainee.id, {}), ("withdraw", w.trainee.id, {"comment": "Batal."})],
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "int"]
    db.session.expire_all()
    case = db.session.get(Case, case_id)
    # Whatever won, the trainee can still withdraw from the new state at the new version.
    if case.state != "withdrawn":
        perform(case, "withdraw", w.trainee, comment="Batal.", expected_version=version + 1)
    assert case.state == "withdrawn"
