"""Server time of the oversight dashboards on a national-scale SQLite database.

    .venv/bin/python bench/dashboard.py [--cases 50000] [--cohorts 1250] [--requests 200]
                                        [--warmup 10] [--profile] [--queries] [--keep]

Loads, with bulk inserts into a freshly migrated SQLite file: one national institution
with --cohorts cohorts of --cases/--cohorts trainees each (PKA and PKN II programs), its
trainees from agencies in three provinces (regencies and the provinces themselves), groups
of ten with a coach and an examiner, an organizer per cohort, three milestones per case,
the finished stays in each state (StateVisit) and the score sheets of evaluated cases.
Cohorts are spread over the last two years, so states are spread the way a year of
training leaves them: old cohorts completed, recent ones in evaluation, implementation or
still drafting. Two provincial institutions with a few cohorts of their own are loaded
too: the admin must not see them.

Then, through the Flask test client (in process: the time is the server's), logged in as
(a) the admin of the national institution (all its cohorts) and (b) the organizer of one
cohort, it times GET /dashboard and GET /dashboard/cohorts/<id> beside GET /healthz in the
same rounds, and prints median and p95 in ms, the ratio to /healthz and PASS/MISS against
the target: p95 under 150 ms.

--queries prints, per page, each SQL statement's time and the EXPLAIN QUERY PLAN of the
slowest; --profile a cProfile summary of the page requests. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta

from sqlalchemy import event, insert, text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from flask_migrate import upgrade  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from workflow import create_app  # noqa: E402
from workflow.engine import registry  # noqa: E402
from workflow.extensions import db  # noqa: E402
from workflow.models import (  # noqa: E402
    Agency,
    Case,
    Cohort,
    CohortMember,
    Group,
    Institution,
    InstitutionHoliday,
    Milestone,
    MilestoneRating,
    Program,
    Region,
    Score,
    ScoreSheet,
    StateVisit,
    User,
)
from workflow.models._base import utcnow  # noqa: E402

TARGET_P95_MS = 150.0
PASSWORD = "bench-pass-1"
PROVINCES = (
    ("64", "Provinsi Kalimantan Timur", "Asia/Makassar"),
    ("18", "Provinsi Lampung", "Asia/Jakarta"),
    ("32", "Provinsi Jawa Barat", "Asia/Jakarta"),
)
REGENCIES_PER_PROVINCE = 10
AGENCIES_PER_REGION = 12
GROUP_SIZE = 10
# The path a case takes; a case's state is how far along it got.
PATH = ("draft", "mentor_review", "endorsement_pending", "implementation", "evaluation")
# Cohort age (days since start) → how its cases are spread over states.
MIX_BY_AGE = (
    (
        40,
        {
            "draft": 45,
            "mentor_review": 20,
            "revision_requested": 15,
            "endorsement_pending": 15,
            "withdrawn": 5,
        },
    ),
    (
        110,
        {
            "implementation": 80,
            "endorsement_pending": 8,
            "mentor_review": 4,
            "revision_requested": 4,
            "withdrawn": 4,
        },
    ),
    (
        150,
        {
            "evaluation": 45,
            "completed": 35,
            "not_passed": 5,
            "deferred": 5,
            "implementation": 6,
            "withdrawn": 4,
        },
    ),
    (10_000, {"completed": 86, "not_passed": 8, "withdrawn": 6}),
)
SCORED = ("evaluation", "completed", "not_passed", "deferred")


class Ids:
    """Primary keys handed out here, so bulk inserts need no RETURNING round trip."""

    def __init__(self):
        self._next: dict[str, int] = {}

    def __call__(self, table: str) -> int:
        n = self._next.get(table, 0) + 1
        self._next[table] = n
        return n


def bulk(model, rows: list[dict], chunk: int = 20_000) -> None:
    """One executemany per chunk. Through the table (Core), not the ORM's bulk path, which
    splits rows into many small batches and takes several times longer here."""
    for i in range(0, len(rows), chunk):
        db.session.execute(insert(model.__table__), rows[i : i + chunk])


def load(n_cases: int, n_cohorts: int, other_cohorts: int, seed: int = 42) -> dict:
    """Everything, in bulk; returns the ids the timing needs."""
    rnd = random.Random(seed)
    ids = Ids()
    now = utcnow().replace(microsecond=0)
    today = now.date()
    password_hash = generate_password_hash(PASSWORD)

    # ------------------------------------------------------------ places
    regions, agencies = [], []
    agency_ids: list[int] = []
    province_ids = []
    for code, name, _zone in PROVINCES:
        pid = ids("region")
        province_ids.append(pid)
        regions.append(
            {"id": pid, "parent_id": None, "level": "province", "name": name, "code": code}
        )
        # A few agencies of the province itself (the provincial OPDs).
        for a in range(AGENCIES_PER_REGION):
            aid = ids("agency")
            agencies.append(
                {"id": aid, "name": f"OPD {a + 1} {name}", "short_name": "", "region_id": pid}
            )
            agency_ids.append(aid)
        for r in range(REGENCIES_PER_PROVINCE):
            rid = ids("region")
            regions.append(
                {
                    "id": rid,
                    "parent_id": pid,
                    "level": "regency",
                    "name": f"Kabupaten {code}-{r + 1:02d}",
                    "code": f"{code}.{r + 1:02d}",
                }
            )
            for a in range(AGENCIES_PER_REGION):
                aid = ids("agency")
                agencies.append(
                    {
                        "id": aid,
                        "name": f"Dinas {a + 1} Kab. {code}-{r + 1:02d}",
                        "short_name": "",
                        "region_id": rid,
                    }
                )
                agency_ids.append(aid)
    bulk(Region, regions)
    bulk(Agency, agencies)

    # ------------------------------------------------------------ institutions, programs
    institutions = [
        {
            "id": ids("institution"),
            "code": "puslatbang",
            "name": "Puslatbang KMP LAN (national)",
            "timezone": "Asia/Jakarta",
            "region_id": province_ids[2],
        }
    ]
    for (code, name, zone), pid in zip(PROVINCES[:2], province_ids[:2], strict=True):
        institutions.append(
            {
                "id": ids("institution"),
                "code": f"bpsdm{code}",
                "name": f"BPSDM {name}",
                "timezone": zone,
                "region_id": pid,
            }
        )
    bulk(Institution, institutions)
    holidays = [
        {"institution_id": inst["id"], "day": today - timedelta(days=d), "name": "Cuti bersama"}
        for inst in institutions
        for d in (3, 40, 95)
    ]
    bulk(InstitutionHoliday, holidays)
    programs = []
    for inst in institutions:
        for code, key in (("PKA", "aksi_perubahan_pka"), ("PKN II", "aksi_perubahan_pkn2")):
            programs.append(
                {
                    "id": ids("program"),
                    "institution_id": inst["id"],
                    "code": code,
                    "name": f"{code} {inst['code']}",
                    "definition_key": key,
                }
            )
    bulk(Program, programs)
    national_programs = [p for p in programs if p["institution_id"] == institutions[0]["id"]]
    other_programs = [p for p in programs if p["institution_id"] != institutions[0]["id"]]

    # ------------------------------------------------------------ people
    users: list[dict] = []

    def user(kind: str, n: int, **extra) -> int:
        uid = ids("user")
        users.append(
            {
                "id": uid,
                "username": f"{kind}{n}",
                "email": None,
                "name": extra.pop("name", f"{kind.title()} {n:05d}"),
                "nip": extra.pop("nip", None),
                "position": extra.pop("position", ""),
                "password_hash": extra.pop("password_hash", ""),
                "institution_id": extra.pop("institution_id", None),
                "agency_id": extra.pop("agency_id", None),
                "is_admin": extra.pop("is_admin", False),
                "active": True,
                "locale": None,
                "created_at": now,
            }
        )
        return uid

    admin_id = user(
        "admin",
        0,
        name="Admin Puslatbang",
        password_hash=password_hash,
        institution_id=institutions[0]["id"],
        is_admin=True,
    )
    coaches = [user("coach", i) for i in range(600)]
    examiners = [user("examiner", i) for i in range(600)]
    executives = [user("executive", i) for i in range(3000)]

    # ------------------------------------------------------------ cohorts and groups
    per_cohort = max(1, n_cases // n_cohorts)
    defs = {key: registry.latest(key) for key in ("aksi_perubahan_pka", "aksi_perubahan_pkn2")}
    cohorts, groups, members = [], [], []
    plan = []  # (cohort id, program, age in days, [group ids], n trainees)
    total = n_cohorts + other_cohorts
    for c in range(total):
        national = c < n_cohorts
        program = rnd.choice(national_programs if national else other_programs)
        age = rnd.randint(0, 400)  # days since the cohort started: about a year back
        start = today - timedelta(days=age)
        cid = ids("cohort")
        cohorts.append(
            {
                "id": cid,
                "program_id": program["id"],
                "name": f"Angkatan {c + 1}",
                "year": start.year,
                "quota": per_cohort,
                "definition_key": program["definition_key"],
                "start_date": start,
                "proposal_deadline": start + timedelta(days=28),
                "implementation_start": start + timedelta(days=35),
                "implementation_end": start + timedelta(days=120),
                "evaluation_date": start + timedelta(days=130),
                "end_date": start + timedelta(days=145),
            }
        )
        organizer = user(
            "organizer", c, password_hash=password_hash if c < 5 else "", name=f"Penyelenggara {c}"
        )
        members.append({"cohort_id": cid, "user_id": organizer, "role": "organizer"})
        group_ids = []
        for g in range(max(1, per_cohort // GROUP_SIZE)):
            gid = ids("group")
            groups.append(
                {
                    "id": gid,
                    "cohort_id": cid,
                    "name": f"Kelompok {g + 1}",
                    "coach_id": rnd.choice(coaches),
                    "examiner_id": rnd.choice(examiners),
                }
            )
            group_ids.append(gid)
        plan.append((cid, program, age, group_ids, per_cohort, start))

    # ------------------------------------------------------------ trainees and cases
    cases, milestones, visits = [], [], []
    sheets, scores, ratings = [], [], []
    mentors: list[int] = []
    trainee_n = 0
    for cid, program, age, group_ids, n, start in plan:
        definition = defs[program["definition_key"]]
        rubric = definition.scoring
        weight = {a.key: a.weight for a in rubric.aspects} if rubric else {}
        mix = next(m for limit, m in MIX_BY_AGE if age <= limit)
        states, weights = list(mix), list(mix.values())
        for i in range(n):
            trainee_n += 1
            agency = rnd.choice(agency_ids)
            trainee = user(
                "trainee",
                trainee_n,
                name=f"{rnd.choice(FIRST)} {rnd.choice(LAST)} {trainee_n}",
                nip=f"19{rnd.randint(60, 99)}{rnd.randint(1, 12):02d}01{trainee_n:010d}",
                position="Kepala Bidang",
                agency_id=agency,
            )
            if not mentors or rnd.random() < 0.5:
                mentors.append(user("mentor", len(mentors), agency_id=agency))
            mentor = mentors[-1]
            state = rnd.choices(states, weights)[0]
            case_id = ids("case")
            history = _history(state, start, age, now, rnd)
            entered = history[-1][1] if history else datetime.combine(start, datetime.min.time())
            final_score = predicate = None
            short = []
            for position, (term, days) in enumerate(
                (("short", 50), ("short", 80), ("medium", 200))
            ):
                mid = ids("milestone")
                status = _milestone_status(state, term, rnd)
                milestones.append(
                    {
                        "id": mid,
                        "case_id": case_id,
                        "position": position,
                        "term": term,
                        "activity": f"Tahap {position + 1}",
                        "output": "Dokumen",
                        "target_date": start + timedelta(days=days),
                        "target_quantity": 1.0,
                        "target_unit": "dokumen",
                        "units": [],
                        "status": status,
                        "achieved_quantity": 1.0 if status == "verified" else None,
                        "closing_note": "",
                        "due_date": None if status == "verified" else start + timedelta(days=days),
                        "return_comment": "",
                        "updated_at": now,
                    }
                )
                if term == "short":
                    short.append(mid)
            if state in SCORED and rubric is not None:
                values = {a.key: float(rnd.randint(55, 98)) for a in rubric.aspects}
                complete = state != "evaluation" or rnd.random() < 0.3
                for role in rubric.roles:
                    if not complete and rnd.random() < 0.5:
                        continue
                    sid = ids("sheet")
                    mine = {a.key: values[a.key] for a in rubric.aspects_for(role)}
                    submitted = complete or rnd.random() < 0.6
                    sheets.append(
                        {
                            "id": sid,
                            "case_id": case_id,
                            "role": role,
                            "evaluator_id": {
                                "examiner": rnd.choice(examiners),
                                "coach": rnd.choice(coaches),
                                "mentor": mentor,
                            }[role],
                            "on_behalf_of_id": None,
                            "rubric_key": rubric.key,
                            "note": "",
                            "subtotal": (
                                round(sum(v * weight[k] for k, v in mine.items()) / 100, 2)
                                if submitted
                                else None
                            ),
                            "submitted_at": entered if submitted else None,
                            "created_at": entered,
                            "updated_at": entered,
                            "version": 1,
                        }
                    )
                    scores.extend(
                        {"sheet_id": sid, "aspect": k, "value": v, "note": ""}
                        for k, v in mine.items()
                    )
                    ratings.extend(
                        {"sheet_id": sid, "milestone_id": m, "rating": "sesuai", "note": ""}
                        for m in short
                    )
                if state in ("completed", "not_passed"):
                    final_score = rubric.total(values)
                    if state == "completed" and not rubric.passed(final_score):
                        state = "not_passed"
                    elif state == "not_passed" and rubric.passed(final_score):
                        state = "completed"
                    predicate = rubric.predicate(final_score).id
            terminal = definition.state(state).terminal
            due = None
            if not terminal:
                due = entered.date() + timedelta(days=rnd.randint(-10, 25))  # some overdue
            cases.append(
                {
                    "id": case_id,
                    "cohort_id": cid,
                    "group_id": group_ids[i // GROUP_SIZE % len(group_ids)],
                    "trainee_id": trainee,
                    "mentor_id": mentor,
                    "executive_id": rnd.choice(executives),
                    "definition_key": definition.key,
                    "definition_version": definition.version,
                    "state": state,
                    "version": 1 + len(history),
                    "state_entered_at": entered,
                    "due_date": due,
                    "audit_head": "",
                    "event_count": len(history),
                    "created_at": datetime.combine(start, datetime.min.time()),
                    "title": f"Aksi perubahan {trainee_n}: tata kelola layanan",
                    "final_score": final_score,
                    "predicate": predicate,
                }
            )
            for (left_state, entered_at), (_next, left_at) in zip(
                [("draft", datetime.combine(start, datetime.min.time())), *history],
                history,
                strict=False,
            ):
                visits.append(
                    {
                        "case_id": case_id,
                        "cohort_id": cid,
                        "state": left_state,
                        "entered_at": entered_at,
                        "left_at": left_at,
                        "working_days": max(0, (left_at - entered_at).days * 5 // 7),
                    }
                )
    # Parents before children (foreign keys are on).
    bulk(User, users)
    bulk(Cohort, cohorts)
    bulk(Group, groups)
    bulk(CohortMember, members)
    bulk(Case, cases)
    bulk(Milestone, milestones)
    bulk(StateVisit, visits)
    bulk(ScoreSheet, sheets)
    bulk(Score, scores)
    bulk(MilestoneRating, ratings)
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()

    # The organizer measured: a cohort of the national institution in implementation.
    busy = next((cid for cid, _p, age, *_ in plan[:n_cohorts] if 40 < age <= 110), plan[0][0])
    organizer = next(m["user_id"] for m in members if m["cohort_id"] == busy)
    db.session.execute(
        text("UPDATE users SET password_hash = :h WHERE id = :id"),
        {"h": password_hash, "id": organizer},
    )
    db.session.commit()
    counts = {
        "cases": len(cases),
        "cohorts": len(cohorts),
        "national cohorts": n_cohorts,
        "users": len(users),
        "groups": len(groups),
        "agencies": len(agencies),
        "milestones": len(milestones),
        "state visits": len(visits),
        "score sheets": len(sheets),
        "scores": len(scores),
    }
    return {
        "admin": admin_id,
        "organizer": organizer,
        "cohort": busy,
        "counts": counts,
        "states": _state_counts(cases),
    }


FIRST = ("Rina", "Andi", "Siti", "Budi", "Dewi", "Agus", "Yusuf", "Nur", "Made", "Fitri")
LAST = ("Marlina", "Saputra", "Rahmawati", "Santoso", "Lestari", "Hidayat", "Hamdani", "Wijaya")


def _history(state: str, start: date, age: int, now: datetime, rnd) -> list[tuple[str, datetime]]:
    """[(state entered, when)] after draft, up to the case's state, spread over the
    cohort's age so that stays have plausible lengths."""
    if state == "draft":
        return []
    steps: list[str] = []
    if state == "revision_requested":
        steps = ["mentor_review", "revision_requested"]
    elif state == "withdrawn":
        steps = [*PATH[1 : rnd.randint(1, 4)], "withdrawn"]
    else:
        final = state
        through = {
            "mentor_review": 2,
            "endorsement_pending": 3,
            "implementation": 4,
            "evaluation": 5,
            "deferred": 5,
            "completed": 5,
            "not_passed": 5,
        }[final]
        steps = list(PATH[1:through])
        if rnd.random() < 0.3 and through > 2:
            # A revision round on the way.
            steps[1:1] = ["revision_requested", "mentor_review"]
        if final in ("deferred", "completed", "not_passed"):
            steps.append(final)
    begin = datetime.combine(start, datetime.min.time()) + timedelta(hours=9)
    # Within the cohort's ~145 days, or up to now for a cohort still running.
    span = max(1.0, min((now - begin).total_seconds() / 86400 - 1, 145))
    marks = sorted(rnd.uniform(0, span) for _ in steps)
    return [(s, begin + timedelta(days=d)) for s, d in zip(steps, marks, strict=True)]


def _milestone_status(state: str, term: str, rnd) -> str:
    if term != "short":
        return "planned"
    if state in ("evaluation", "completed", "not_passed", "deferred"):
        return "verified"
    if state == "implementation":
        return rnd.choice(("planned", "in_progress", "reported", "verified", "returned"))
    return "planned"


def _state_counts(cases: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in cases:
        out[c["state"]] = out.get(c["state"], 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


# ---------------------------------------------------------------- timing


def log_in(client, username: str) -> None:
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    if response.status_code != 302:
        raise SystemExit(f"could not log in as {username}: {response.status_code}")


@contextmanager
def statements():
    """Each SQL statement of the block with its time in ms."""
    found: list[tuple[float, str, object]] = []
    started: dict[int, float] = {}

    def before(conn, cursor, statement, parameters, context, executemany):
        started[id(cursor)] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        took = (time.perf_counter() - started.pop(id(cursor), time.perf_counter())) * 1000
        found.append((took, statement, parameters))

    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    try:
        yield found
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def measure(targets, n: int, warmup: int, profiler=None) -> dict[str, dict]:
    """targets: [(label, client, path)]. Rounds over all targets, so a busy moment of the
    machine weighs on each alike. Returns {label: {status, times, cpu}}: wall and CPU ms per
    request. SQLite runs in this process, so CPU time is the server's work, and it holds
    when other processes crowd the machine; wall time then does not."""
    results = {label: {"status": None, "times": [], "cpu": []} for label, _c, _p in targets}
    for _ in range(warmup):
        for label, client, path in targets:
            results[label]["status"] = client.get(path).status_code
    for _ in range(n):
        for label, client, path in targets:
            page = not path.startswith("/healthz")
            if profiler and page:
                profiler.enable()
            t0, c0 = time.perf_counter(), time.process_time()
            response = client.get(path)
            took, cpu = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
            if profiler and page:
                profiler.disable()
            results[label]["status"] = response.status_code
            results[label]["times"].append(took)
            results[label]["cpu"].append(cpu)
    return results


def explain(statement: str, parameters) -> list[str]:
    conn = db.session.connection().connection.dbapi_connection
    cursor = conn.cursor()
    try:
        rows = cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters or ()).fetchall()
    finally:
        cursor.close()
    return [f"      {'  ' * (r[1] and 1)}{r[-1]}" for r in rows]


def query_report(label: str, client, path: str, top: int) -> None:
    client.get(path)  # warm
    with statements() as found:
        client.get(path)
    total = sum(t for t, _s, _p in found)
    print(f"\n-- {label}: {len(found)} statements, {total:.1f} ms in SQL")
    for took, statement, parameters in sorted(found, key=lambda f: -f[0])[:top]:
        one_line = " ".join(statement.split())
        print(f"  {took:7.2f} ms  {one_line[:300]}{'…' if len(one_line) > 300 else ''}")
        if took >= 2:
            try:
                for line in explain(statement, parameters):
                    print(line)
            except Exception as exc:  # noqa: BLE001 (a report, not a test)
                print(f"      (no plan: {exc})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--cohorts", type=int, default=1_250)
    parser.add_argument(
        "--other-cohorts",
        type=int,
        default=20,
        help="cohorts of two other institutions, which the admin must not see (default 20)",
    )
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--profile", action="store_true", help="cProfile of the page requests")
    parser.add_argument(
        "--queries", action="store_true", help="per page: SQL statements by time, query plans"
    )
    parser.add_argument(
        "--only", default="", help="time only the pages whose label contains this text"
    )
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file")
    parser.add_argument(
        "--show-errors", action="store_true", help="log the traceback of a page that fails"
    )
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="aksi-bench-dash-")
    path = os.path.join(tmp, "bench.db")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "SECRET_KEY": "bench",
            "RATELIMIT_ENABLED": False,
            "WTF_CSRF_ENABLED": False,
        }
    )
    if not args.show_errors:
        # A failing page is reported by its status below, not by one traceback a request.
        app.logger.disabled = True
    try:
        with app.app_context():
            t0 = time.perf_counter()
            upgrade(directory=os.path.join(ROOT, "migrations"))
            migrated = time.perf_counter() - t0
            t0 = time.perf_counter()
            other = args.other_cohorts
            ids = load(args.cases, args.cohorts, other)
            loaded = time.perf_counter() - t0
            db.session.remove()
            size = os.path.getsize(path) / 1e6
            print(f"SQLite file: {path} ({size:.0f} MB)")
            print(f"migrated in {migrated:.1f} s; loaded in {loaded:.1f} s:")
            print("  " + ", ".join(f"{v:,} {k}" for k, v in ids["counts"].items()))
            print("  states: " + ", ".join(f"{k} {v:,}" for k, v in ids["states"].items()))

            admin, organizer = app.test_client(), app.test_client()
            users = db.session.get(User, ids["admin"]), db.session.get(User, ids["organizer"])
            log_in(admin, users[0].username)
            log_in(organizer, users[1].username)
            db.session.remove()
            cohort = ids["cohort"]
            targets = [
                ("GET /healthz", admin, "/healthz"),
                ("admin GET /dashboard", admin, "/dashboard"),
                (f"admin GET /dashboard/cohorts/{cohort}", admin, f"/dashboard/cohorts/{cohort}"),
                ("organizer GET /dashboard", organizer, "/dashboard"),
                (
                    f"organizer GET /dashboard/cohorts/{cohort}",
                    organizer,
                    f"/dashboard/cohorts/{cohort}",
                ),
            ]
            targets = [t for t in targets if t[2] == "/healthz" or args.only in t[0]]
            profiler = cProfile.Profile() if args.profile else None
            print(
                f"\n{args.requests} timed requests per page after {args.warmup} warm-up "
                f"rounds (in process, test client); target p95 < {TARGET_P95_MS:.0f} ms; "
                f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
            )
            figures = measure(targets, args.requests, args.warmup, profiler)
            base = figures["GET /healthz"]["times"]
            base_median, base_p95 = statistics.median(base), percentile(base, 0.95)
            header = (
                f"{'page':42} {'status':>6} {'median':>8} {'p95':>8} {'max':>8}"
                f" {'cpu med':>8} {'cpu p95':>8}  x healthz (median/p95)"
            )
            print(header)
            print("-" * len(header))
            for label, _client, _path in targets:
                data = figures[label]
                times, cpu = data["times"], data["cpu"]
                median, p95 = statistics.median(times), percentile(times, 0.95)
                line = (
                    f"{label:42} {data['status']:>6} {median:8.1f} {p95:8.1f} {max(times):8.1f}"
                    f" {statistics.median(cpu):8.1f} {percentile(cpu, 0.95):8.1f}"
                    f"  {median / base_median:6.1f} / {p95 / base_p95:5.1f}"
                )
                if label != "GET /healthz":
                    if data["status"] != 200:
                        line += "  NOT MEASURED (status; --show-errors)"
                    else:
                        wall = "PASS" if p95 < TARGET_P95_MS else "MISS"
                        on_cpu = "PASS" if percentile(cpu, 0.95) < TARGET_P95_MS else "MISS"
                        line += f"  {wall} (cpu {on_cpu})"
                print(line)
            print(
                "(ms per request, wall clock and this process's CPU; load average "
                f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs)"
            )
            if args.queries:
                for label, client, path in targets[1:]:
                    query_report(label, client, path, top=8)
            if profiler:
                print("\n(page figures above were measured under the profiler, which slows them)")
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
                stats.print_stats(30)
                stats.print_stats(r"/(workflow|blueprints)/", 20)
                print(out.getvalue())
            db.session.remove()
            db.engine.dispose()
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
