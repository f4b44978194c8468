"""perform() throughput against a raw SQLAlchemy baseline, on a fresh SQLite file.

    .venv/bin/python bench/engine.py [--cases 2000] [--ops 1000] [--sync full|normal|off]
                                     [--profile]

Engine: each operation loads the case and the actor (as an API request does), calls
perform() (role check, guards, transition, due date, hash-chained audit event,
notifications, one commit), then ends the session. The cases cycle
draft → submit → mentor_review → request_revision → revision_requested → submit → …

Baseline: the same state changes as raw SQL through SQLAlchemy Core: UPDATE cases SET
state/version + INSERT one audit_events row + COMMIT per operation.

The two sides alternate in rounds on fresh cases. Both commit through SQLite's default
durability unless --sync says otherwise; the CPU ratio shows what the engine adds when the
disk's fsync no longer dominates.

Not a test: it prints figures. Target: engine/baseline >= 0.25.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import os
import pstats
import sys
import tempfile
import time
from datetime import date

from sqlalchemy import event, insert, update

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from workflow import create_app  # noqa: E402
from workflow.extensions import db  # noqa: E402
from workflow.models import (  # noqa: E402
    AuditEvent,
    Case,
    Cohort,
    CohortMember,
    Group,
    Institution,
    Milestone,
    Program,
    Region,
    User,
)
from workflow.models._base import utcnow  # noqa: E402
from workflow.services import perform, start_case  # noqa: E402

NEXT = {"draft": "submit", "revision_requested": "submit", "mentor_review": "request_revision"}
AFTER = {"submit": "mentor_review", "request_revision": "revision_requested"}


def build(n_cases: int) -> tuple[list[int], list[int], dict[str, int]]:
    """A cohort, its people, and 2 × n_cases complete proposals in draft (half for the
    engine, half for the baseline). One commit."""
    province = Region(level="province", name="Provinsi Kalimantan Timur", code="64")
    institution = Institution(
        code="bench", name="BPSDM Bench", timezone="Asia/Makassar", region=province
    )
    program = Program(
        institution=institution, code="PKA", name="PKA", definition_key="aksi_perubahan_pka"
    )
    cohort = Cohort(
        program=program,
        name="Bench",
        year=2026,
        quota=n_cases * 2,
        definition_key="aksi_perubahan_pka",
        start_date=date(2026, 2, 2),
        proposal_deadline=date(2026, 3, 2),
        implementation_start=date(2026, 3, 9),
        implementation_end=date(2026, 6, 5),
        evaluation_date=date(2026, 6, 15),
        end_date=date(2026, 6, 30),
    )

    def person(username: str) -> User:
        # No password: nobody logs in here, and hashing thousands would dominate set-up.
        return User(username=username, name=username)

    mentor, executive, coach, examiner, organizer = (
        person(u) for u in ("mentor", "executive", "coach", "examiner", "organizer")
    )
    groups = [
        Group(cohort=cohort, name=f"Kelompok {i + 1}", coach=coach, examiner=examiner)
        for i in range(max(1, n_cases * 2 // 10))
    ]
    db.session.add_all([cohort, CohortMember(cohort=cohort, user=organizer, role="organizer")])
    cases = []
    for i in range(n_cases * 2):
        trainee = person(f"trainee{i}")
        case = start_case(
            cohort, trainee, group=groups[i % len(groups)], mentor=mentor, executive=executive
        )
        case.title = f"Aksi perubahan {i}"
        case.background_current = "Kondisi saat ini."
        case.background_ideal = "Kondisi ideal."
        case.core_issue = "Isu inti."
        case.objective_short = "Tujuan jangka pendek."
        case.innovation = "Terobosan."
        case.milestones.append(
            Milestone(
                position=0,
                term="short",
                activity="Tahap 1",
                output="Dokumen",
                target_date=date(2026, 4, 1),
                target_quantity=1,
                target_unit="dokumen",
            )
        )
        cases.append(case)
    db.session.commit()
    ids = [c.id for c in cases]
    people = {"mentor": mentor.id, "trainees": {c.id: c.trainee_id for c in cases}}
    db.session.expunge_all()
    return ids[:n_cases], ids[n_cases:], people


def engine_loop(case_ids: list[int], people: dict, ops: int) -> tuple[float, float]:
    """(wall, CPU) seconds for `ops` perform() calls, each in its own session like a
    request."""
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(ops):
        case = db.session.get(Case, case_ids[i % len(case_ids)])
        trigger = NEXT[case.state]
        if trigger == "submit":
            actor = db.session.get(User, people["trainees"][case.id])
            perform(case, trigger, actor, expected_version=case.version)
        else:
            actor = db.session.get(User, people["mentor"])
            perform(case, trigger, actor, comment="Mohon perbaiki.", expected_version=case.version)
        db.session.remove()
    return time.perf_counter() - start, time.process_time() - cpu


def baseline_loop(case_ids: list[int], people: dict, ops: int) -> tuple[float, float]:
    """(wall, CPU) seconds for `ops` raw UPDATE + INSERT + COMMIT through SQLAlchemy Core."""
    cases, events = Case.__table__, AuditEvent.__table__
    state = {cid: ("draft", 1) for cid in case_ids}
    seq = dict.fromkeys(case_ids, 0)
    prev = dict.fromkeys(case_ids, "")
    start, cpu = time.perf_counter(), time.process_time()
    with db.engine.connect() as conn:
        for i in range(ops):
            cid = case_ids[i % len(case_ids)]
            current, version = state[cid]
            trigger = NEXT[current]
            dest = AFTER[trigger]
            actor = people["trainees"][cid] if trigger == "submit" else people["mentor"]
            now = utcnow()
            seq[cid] += 1
            digest = hashlib.sha256(f"{cid}|{seq[cid]}|{trigger}|{prev[cid]}".encode()).hexdigest()
            result = conn.execute(
                update(cases)
                .where(cases.c.id == cid, cases.c.version == version)
                .values(state=dest, version=version + 1, state_entered_at=now)
            )
            assert result.rowcount == 1
            conn.execute(
                insert(events).values(
                    case_id=cid,
                    seq=seq[cid],
                    actor_id=actor,
                    trigger=trigger,
                    from_state=current,
                    to_state=dest,
                    comment="",
                    data={},
                    created_at=now,
                    prev_hash=prev[cid],
                    hash=digest,
                )
            )
            conn.commit()
            state[cid] = (dest, version + 1)
            prev[cid] = digest
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=2000, help="cases per side (default 2000)")
    parser.add_argument("--ops", type=int, default=1000, help="operations per side")
    parser.add_argument(
        "--sync",
        choices=("full", "normal", "off"),
        default=None,
        help="SQLite PRAGMA synchronous for both sides (default: SQLite's)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="print a cProfile summary of the perform() loop"
    )
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="aksi-bench-")
    path = os.path.join(tmp, "bench.db")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "SECRET_KEY": "bench",
            "RATELIMIT_ENABLED": False,
            "MAIL_SEND_IMMEDIATELY": os.environ.get("MAIL_SEND_IMMEDIATELY", "1") == "1",
        }
    )
    with app.app_context():
        if args.sync:

            @event.listens_for(db.engine, "connect")
            def _sync(dbapi_connection, _record):
                dbapi_connection.execute(f"PRAGMA synchronous={args.sync.upper()}")

        db.create_all()
        t0 = time.perf_counter()
        engine_ids, baseline_ids, people = build(args.cases)
        print(f"SQLite file: {path}")
        print(
            f"set-up: {2 * args.cases} cases in {time.perf_counter() - t0:.1f} s; "
            f"synchronous={args.sync or 'default'}; {args.ops} operations per side"
        )

        warm = min(50, args.ops)
        engine_loop(engine_ids[:warm], people, warm)
        baseline_loop(baseline_ids[:warm], people, warm)
        if len(engine_ids) > warm:
            engine_ids, baseline_ids = engine_ids[warm:], baseline_ids[warm:]

        # Alternate the two sides in rounds, each on fresh cases, so that a busy machine or
        # a slow patch of the disk weighs on both alike.
        rounds = 5
        profiler = cProfile.Profile() if args.profile else None
        engine_s = engine_cpu = baseline_s = baseline_cpu = 0.0
        for r in range(rounds):
            ops = args.ops // rounds + (1 if r < args.ops % rounds else 0)
            e_ids = engine_ids[r::rounds]
            b_ids = baseline_ids[r::rounds]
            if profiler:
                profiler.enable()
            wall, cpu = engine_loop(e_ids, people, ops)
            if profiler:
                profiler.disable()
            engine_s, engine_cpu = engine_s + wall, engine_cpu + cpu
            wall, cpu = baseline_loop(b_ids, people, ops)
            baseline_s, baseline_cpu = baseline_s + wall, baseline_cpu + cpu

        def line(label: str, wall: float, cpu: float) -> str:
            return (
                f"{label} {args.ops / wall:8.1f} ops/s  {1000 * wall / args.ops:6.2f} ms/op "
                f"wall, {1000 * cpu / args.ops:6.2f} ms/op CPU"
            )

        print(line("engine   perform():", engine_s, engine_cpu))
        print(line("baseline raw SQL:  ", baseline_s, baseline_cpu))
        ratio = baseline_s / engine_s
        print(
            f"ratio engine/baseline (throughput): {ratio:.2f}  (target >= 0.25) "
            f"{'OK' if ratio >= 0.25 else 'BELOW TARGET'}"
        )
        # The disk's fsync per commit is shared by both sides; CPU alone shows the work
        # the engine adds, which a fast disk (or synchronous=off) exposes.
        print(f"ratio engine/baseline (CPU only):   {baseline_cpu / engine_cpu:.2f}")
        if profiler:
            print("(engine figures measured under the profiler, which slows them)")
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
            stats.print_stats(25)
            # The same profile, only Aksi's own functions: where perform() spends its time.
            stats.print_stats(r"/workflow/", 15)
            print(out.getvalue())
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
