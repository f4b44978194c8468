"""Load, soak and crash run of the production profile, on loopback: gunicorn with
deploy/gunicorn.conf.py, a throwaway PostgreSQL, the job worker.

    .venv/bin/python bench/load.py [--duration 60] [--clients 8] [--pairs 25] [--workers 4]
                                   [--cases 24] [--outage 3] [--no-crash] [--keep] [--seed 1]

Starts PostgreSQL in a temporary directory (initdb + pg_ctl, loopback only, fsync on as in
production), applies the migrations with `flask db upgrade`, builds its data through the
services (cohorts on the PKA flow: cases in implementation for the soak, cases in draft,
mentor review and proposal review for the races), a real SMTP sink, then gunicorn
(AKSI_ENV=production, a generated SECRET_KEY, AKSI_JOBS=queue) on a free loopback port and
`flask aksi worker` when that command exists. Clients are threads speaking plain HTTP,
logged in through the login form with its CSRF token, as browsers would be.

1. Racing pairs: --pairs pairs of requests sent at the same instant for the same state
   change on the same case (one trainee submitting from two sessions, one mentor approving
   from two, approve against request_revision, the API without If-Match, coach and mentor
   signing an `approval: all` step together): exactly one must win, the other get a
   refusal (409), never a 5xx, and the case must hold exactly one new audit event.
2. Soak: --clients clients (trainees reporting milestones with photos, mentors returning
   them and commenting, coaches, organizers reading dashboards, executives) for --duration
   seconds (at most 900): requests, 409s, other 4xx, 5xx and failures, median and p95 per
   kind.
3. Crash, while the clients keep writing: kill -9 the gunicorn worker whose transaction
   holds uncommitted writes (pg_stat_activity, matched to the worker by its socket;
   gunicorn must replace it), then kill -9 the PostgreSQL postmaster, wait --outage seconds
   and start it again with pg_ctl: failed requests in each window and the time until
   writes succeed.
4. Checks: the thumbnail catch-up the worker runs every minute (every photo must end with
   its thumbnail), `flask aksi verify-audit`, `flask aksi sweep-uploads --dry-run` (no document
   without its file; files without a document no more than the uploads cut short), and by
   SQL: one audit event per (case, seq), each case's state that of its last event, its event
   count that of its events, and every acknowledged write present (reports, returns,
   comments) while no write refused with a 409 left a trace.

Prints a table of figures; exits 1 if any check fails. Not a test: a run of a few minutes.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.pg import _bin, _free_port  # noqa: E402
from tests.smtp import SmtpServer  # noqa: E402

VENV_BIN = os.path.join(ROOT, ".venv", "bin")
MAX_DURATION = 900
WEB_WIN, API_WIN = 302, 200


# ---------------------------------------------------------------- PostgreSQL


class Postgres:
    """A throwaway server as tests/pg.py starts one, but with fsync on (a crash test) and a
    restart after kill -9."""

    def __init__(self) -> None:
        self.root = tempfile.mkdtemp(prefix="aksi-load-pg-")
        self.data = os.path.join(self.root, "data")
        self.log = os.path.join(self.root, "log")
        self.port = _free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            import pwd

            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)

    def _run(self, *cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run([*self.as_user, *cmd], check=True, capture_output=True, cwd="/")

    def _pg_ctl_start(self) -> None:
        options = f"-p {self.port} -k {self.root} -h 127.0.0.1 -c max_connections=200"
        self._run(_bin("pg_ctl"), "-D", self.data, "-w", "-l", self.log, "-o", options, "start")

    def start(self) -> str:
        self._run(_bin("initdb"), "-D", self.data, "-U", "aksi", "-A", "trust", "-E", "UTF8")
        self._pg_ctl_start()
        self._run(_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "aksi", "aksi")
        return f"postgresql://aksi@127.0.0.1:{self.port}/aksi"

    def postmaster_pid(self) -> int:
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def restart(self, limit: float = 60.0) -> float:
        """pg_ctl start until it works (the killed postmaster's backends must exit first);
        returns the seconds it took."""
        t0 = time.monotonic()
        while True:
            try:
                self._pg_ctl_start()
                return time.monotonic() - t0
            except subprocess.CalledProcessError:
                if time.monotonic() - t0 > limit:
                    raise
                time.sleep(0.2)

    def stop(self, remove: bool = True) -> None:
        try:
            self._run(_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass
        if remove:
            time.sleep(0.1)
            shutil.rmtree(self.root, ignore_errors=True)


# ---------------------------------------------------------------- data


@dataclass
class Persona:
    role: str
    username: str
    case_ids: list[int]
    cohort_id: int
    milestones: dict[int, int] = field(default_factory=dict)  # case id → milestone id


@dataclass
class Pair:
    kind: str
    case_id: int
    seq_before: int
    triggers: tuple[str, ...]
    sides: tuple[tuple, tuple]  # (username or token, trigger, how) per side


@dataclass
class Plan:
    personas: dict[str, list[Persona]]
    pairs: list[Pair]
    soak_cases: list[int]
    tokens: dict[str, str]
    password: str


RACE_KINDS = (
    "submit x2 (trainee, 2 sessions)",
    "approve x2 (mentor, 2 sessions)",
    "approve | request_revision (mentor)",
    "approve x2 (API, no If-Match)",
    "coach | mentor sign (approval: all)",
)


def build(app, n_soak: int, n_pairs: int) -> Plan:
    """Everything through the services (perform() moves each case), committed."""
    from tests.factories import ENDORSE_DATA, PASSWORD, create_cohort, create_user, fill_proposal
    from workflow.extensions import db
    from workflow.models import CohortMember, Group
    from workflow.services import accounts, perform, start_case

    personas: dict[str, list[Persona]] = defaultdict(list)

    def cohort_with_staff(tag: str, version: int | None):
        cohort = create_cohort(version=version, name=f"Angkatan {tag}")
        coach = create_user(f"coach_{tag}", name=f"Coach {tag}")
        examiner = create_user(f"penguji_{tag}", name=f"Penguji {tag}")
        organizer = create_user(f"penyelenggara_{tag}", name=f"Penyelenggara {tag}")
        executive = create_user(f"pimpinan_{tag}", name=f"Pimpinan {tag}")
        group = Group(cohort=cohort, name="Kelompok 1", coach=coach, examiner=examiner)
        db.session.add_all([group, CohortMember(cohort=cohort, user=organizer, role="organizer")])
        db.session.flush()
        return cohort, group, coach, organizer, executive

    def new_case(cohort, group, tag, n, mentor, executive):
        trainee = create_user(f"peserta_{tag}{n:02d}", name=f"Peserta {tag} {n}")
        case = start_case(cohort, trainee, group=group, mentor=mentor, executive=executive)
        fill_proposal(case)
        db.session.commit()
        return trainee, case

    # Soak: two cohorts, cases in implementation; a mentor per four trainees.
    soak_cases = []
    per_cohort = max(1, n_soak // 2)
    for tag in ("a", "b"):
        cohort, group, coach, organizer, executive = cohort_with_staff(tag, 1)
        mentors: dict[int, Persona] = {}
        mentor_users = {}
        for n in range(per_cohort):
            k = n // 4
            if k not in mentor_users:
                mentor_users[k] = create_user(f"mentor_{tag}{k}", name=f"Mentor {tag} {k}")
                mentors[k] = Persona("mentor", mentor_users[k].username, [], cohort.id)
            trainee, case = new_case(cohort, group, tag, n, mentor_users[k], executive)
            perform(case, "submit", trainee)
            perform(case, "approve", mentor_users[k])
            perform(case, "endorse", executive, data=dict(ENDORSE_DATA))
            soak_cases.append(case.id)
            milestone = case.milestones[0].id
            personas["trainee"].append(
                Persona("trainee", trainee.username, [case.id], cohort.id, {case.id: milestone})
            )
            mentors[k].case_ids.append(case.id)
            mentors[k].milestones[case.id] = milestone
        personas["mentor"].extend(mentors.values())
        cases = [c for c in soak_cases if c in {x for m in mentors.values() for x in m.case_ids}]
        personas["coach"].append(Persona("coach", coach.username, cases, cohort.id))
        personas["organizer"].append(Persona("organizer", organizer.username, cases, cohort.id))
        personas["executive"].append(Persona("executive", executive.username, cases, cohort.id))

    # Races: version 1 (the mentor approves alone) and the current flow (coach and mentor
    # both sign); one case per pair.
    pairs: list[Pair] = []
    cohort, group, _coach, _org, executive = cohort_with_staff("r", 1)
    racer = create_user("mentor_race", name="Mentor Race")
    token = accounts.issue_api_token(racer, "bench")
    db.session.commit()
    cohort2, group2, coach2, _org2, executive2 = cohort_with_staff("s", None)
    mentor2 = create_user("mentor_sign", name="Mentor Sign")
    for i in range(n_pairs):
        kind = RACE_KINDS[i % len(RACE_KINDS)]
        if kind.startswith("submit"):
            trainee, case = new_case(cohort, group, "r", i, racer, executive)
            sides = ((trainee.username, "submit", "web"), (trainee.username, "submit", "web"))
        elif kind.startswith("coach"):
            trainee, case = new_case(cohort2, group2, "s", i, mentor2, executive2)
            perform(case, "submit", trainee)
            sides = ((coach2.username, "approve", "web"), (mentor2.username, "approve", "web"))
        else:
            trainee, case = new_case(cohort, group, "r", i, racer, executive)
            perform(case, "submit", trainee)
            how = "api" if "API" in kind else "web"
            second = "request_revision" if "request_revision" in kind else "approve"
            sides = ((racer.username, "approve", how), (racer.username, second, how))
        db.session.refresh(case)
        pairs.append(Pair(kind, case.id, case.event_count, tuple({s[1] for s in sides}), sides))
    db.session.commit()
    return Plan(dict(personas), pairs, soak_cases, {racer.username: token}, PASSWORD)


# ---------------------------------------------------------------- HTTP


CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
VERSION_FIELD = re.compile(r'name="version" value="(\d+)"')


class Reply:
    def __init__(self, status: int, headers, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def multipart(fields: dict, files: list[tuple[str, str, str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(str(value).encode() + b"\r\n")
    for name, filename, ctype, data in files:
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'.encode()
        )
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


class Browser:
    """Cookies and a CSRF token over plain http.client; one connection per request (sync
    gunicorn workers close it after each response anyway)."""

    def __init__(self, port: int, timeout: float = 30.0):
        self.port, self.timeout = port, timeout
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def call(self, method, path, *, form=None, files=None, json_body=None, headers=None):
        head = dict(headers or {})
        body = None
        if files:
            body, head["Content-Type"] = multipart(form or {}, files)
        elif form is not None:
            from urllib.parse import urlencode

            body = urlencode(form).encode()
            head["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            head["Content-Type"] = "application/json"
        if self.cookies:
            head["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=head)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        for raw in response.headers.get_all("Set-Cookie") or []:
            pair, _, attrs = raw.partition(";")
            name, _, value = pair.strip().partition("=")
            gone = "max-age=0" in attrs.lower() or "1970" in attrs
            if gone:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return Reply(response.status, response.headers, data)

    def log_in(self, username: str, password: str) -> Reply:
        page = self.call("GET", "/login")
        token = _first(CSRF_FIELD, page.text) or _first(CSRF_META, page.text)
        reply = self.call(
            "POST",
            "/login",
            form={"csrf_token": token, "username": username, "password": password, "next": ""},
        )
        if reply.status == 302:
            home = self.call("GET", "/")
            self.csrf = _first(CSRF_META, home.text) or token
        return reply


def _first(pattern, text: str) -> str:
    found = pattern.search(text)
    return found.group(1) if found else ""


# ---------------------------------------------------------------- figures


OK, CONFLICT, REFUSED, ERROR, FAILED = "ok", "409", "4xx", "5xx", "failed"


@dataclass
class Sample:
    start: float
    end: float
    phase: str
    kind: str
    outcome: str
    status: int


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.samples: list[Sample] = []
        self.phase = "soak"
        self.statuses: Counter = Counter()  # (kind, status) of unexpected answers

    def timed(self, kind: str, call, expect=(200, 302)) -> Reply | None:
        start = time.monotonic()
        try:
            reply = call()
        except (OSError, http.client.HTTPException):
            self._add(Sample(start, time.monotonic(), self.phase, kind, FAILED, 0))
            return None
        status = reply.status
        if status in expect or 200 <= status < 400:
            outcome = OK
        elif status == 409:
            outcome = CONFLICT
        elif status >= 500:
            outcome = ERROR
        else:
            outcome = REFUSED
        if outcome not in (OK, CONFLICT):
            with self.lock:
                self.statuses[(kind, status)] += 1
        self._add(Sample(start, time.monotonic(), self.phase, kind, outcome, status))
        return reply

    def _add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# ---------------------------------------------------------------- clients


def photo(n: int) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (800, 600), (40 + n * 30 % 200, 90, 160))
    draw = ImageDraw.Draw(img)
    for i in range(0, 800, 40):
        draw.line((i, 0, 800 - i, 600), fill=(255, 255 - i % 255, i % 255), width=3)
    draw.text((20, 20), f"Bukti kegiatan {n}", fill=(255, 255, 255))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()


PHOTOS = [photo(n) for n in range(4)]
RETURN_FORM = re.compile(r'action="/cases/(\d+)/milestones/(\d+)/return"')


class Client(threading.Thread):
    """One person in a closed loop (no think time) until `stop` is set."""

    def __init__(self, persona, port, password, rec, stop, seed, uploads_cut):
        super().__init__(daemon=True)
        self.p, self.port, self.password = persona, port, password
        self.rec, self.stop = rec, stop
        self.rnd = random.Random(seed)
        self.uploads_cut = uploads_cut  # shared Counter: uploads whose outcome is unknown
        self.browser = Browser(port)

    def run(self) -> None:
        ops = {
            "trainee": [(self.home, 2), (self.case_page, 2), (self.inbox, 1), (self.report, 5)],
            "mentor": [
                (self.home, 2),
                (lambda: self.get("GET /mentor", "/mentor"), 2),
                (self.return_reported, 4),
                (self.comment, 2),
            ],
            "coach": [
                (self.home, 2),
                (lambda: self.get("GET /coach", "/coach"), 2),
                (self.case_page, 2),
                (self.comment, 1),
            ],
            "organizer": [
                (self.home, 1),
                (lambda: self.get("GET /dashboard", "/dashboard"), 2),
                (
                    lambda: self.get(
                        "GET /dashboard/cohorts/<id>", f"/dashboard/cohorts/{self.p.cohort_id}"
                    ),
                    3,
                ),
                (lambda: self.get("GET /cohorts/<id>", f"/cohorts/{self.p.cohort_id}"), 1),
                (self.comment, 1),
            ],
            "executive": [
                (self.home, 2),
                (lambda: self.get("GET /pimpinan", "/pimpinan"), 2),
                (self.case_page, 2),
            ],
        }[self.p.role]
        actions, weights = zip(*ops, strict=True)
        while not self.stop.is_set():
            if not self.browser.csrf and not self.log_in():
                self.stop.wait(0.5)
                continue
            self.rnd.choices(actions, weights)[0]()

    # ------------------------------------------------ steps

    def log_in(self) -> bool:
        self.browser = Browser(self.port)
        reply = self.rec.timed(
            "POST /login", lambda: self.browser.log_in(self.p.username, self.password), (302,)
        )
        return bool(reply and reply.status == 302 and self.browser.csrf)

    def get(self, kind: str, path: str) -> Reply | None:
        reply = self.rec.timed(kind, lambda: self.browser.call("GET", path), (200,))
        if (
            reply is not None
            and reply.status == 302
            and "/login" in reply.headers.get("Location", "")
        ):
            self.browser.csrf = ""  # the session ended: log in again
        return reply

    def home(self):
        return self.get("GET /", "/")

    def inbox(self):
        return self.get("GET /inbox", "/inbox")

    def case_page(self, case_id: int | None = None):
        case_id = case_id or self.rnd.choice(self.p.case_ids)
        return case_id, self.get("GET /cases/<id>", f"/cases/{case_id}")

    def report(self):
        case_id, page = self.case_page()
        version = _first(VERSION_FIELD, page.text) if page and page.status == 200 else ""
        if not version:
            return
        milestone = self.p.milestones[case_id]
        reported = self.rnd.random() < 0.3
        form = {
            "csrf_token": self.browser.csrf,
            "version": version,
            "status": "reported" if reported else "in_progress",
            "achieved_quantity": str(self.rnd.randint(0, 3)),
            "narrative": "Pedoman disusun bersama tim efektif." if reported else "",
            "report_date": "",
        }
        files = []
        if self.rnd.random() < 0.35:
            files = [("files", "bukti.jpg", "image/jpeg", self.rnd.choice(PHOTOS))]
        path = f"/cases/{case_id}/milestones/{milestone}/report"
        kind = "POST report+photo" if files else "POST report"
        reply = self.rec.timed(
            kind, lambda: self.browser.call("POST", path, form=form, files=files), (302,)
        )
        if files and (reply is None or reply.status >= 500):
            with self.rec.lock:
                self.uploads_cut["unknown"] += 1

    def return_reported(self):
        case_id, page = self.case_page()
        if not page or page.status != 200:
            return
        found = RETURN_FORM.search(page.text)
        version = _first(VERSION_FIELD, page.text)
        if not found or not version:
            return
        path = f"/cases/{case_id}/milestones/{found.group(2)}/return"
        form = {
            "csrf_token": self.browser.csrf,
            "version": version,
            "comment": "Lengkapi foto kegiatan dan daftar hadir.",
        }
        self.rec.timed("POST return", lambda: self.browser.call("POST", path, form=form), (302,))

    def comment(self):
        case_id = self.rnd.choice(self.p.case_ids)
        form = {
            "csrf_token": self.browser.csrf,
            "section": "",
            "body": f"Catatan {self.p.role}: mohon dilengkapi ({self.rnd.randint(1, 10**6)}).",
        }
        self.rec.timed(
            "POST comment",
            lambda: self.browser.call("POST", f"/cases/{case_id}/comments", form=form),
            (302,),
        )


# ---------------------------------------------------------------- races


def run_races(plan: Plan, port: int) -> list[dict]:
    """Each pair: both sides ready (logged in, version read), then sent at once."""
    browsers: dict[tuple[str, int], Browser] = {}

    def browser(username: str, slot: int) -> Browser:
        key = (username, slot)
        if key not in browsers:
            b = Browser(port)
            reply = b.log_in(username, plan.password)
            if reply.status != 302:
                raise SystemExit(f"could not log in as {username}: {reply.status}")
            browsers[key] = b
        return browsers[key]

    results = []
    for pair in plan.pairs:
        calls = []
        for slot, (username, trigger, how) in enumerate(pair.sides):
            if how == "api":
                token = plan.tokens[username]
                b = Browser(port)
                path = f"/api/v1/cases/{pair.case_id}/actions/{trigger}"
                body = {"comment": "Mohon diperbaiki."} if trigger != "approve" else {}
                headers = {"Authorization": f"Bearer {token}"}
                calls.append(
                    lambda b=b, path=path, body=body, headers=headers: b.call(
                        "POST", path, json_body=body, headers=headers
                    )
                )
                continue
            b = browser(username, slot)
            page = b.call("GET", f"/cases/{pair.case_id}")
            version = _first(VERSION_FIELD, page.text)
            form = {"csrf_token": b.csrf, "version": version, "comment": ""}
            if trigger == "request_revision":
                form["comment"] = "Latar belakang perlu data."
            path = f"/cases/{pair.case_id}/actions/{trigger}"
            calls.append(lambda b=b, path=path, form=form: b.call("POST", path, form=form))
        answers = send_together(calls)
        results.append({"pair": pair, "answers": answers})
    return results


def send_together(calls) -> list[tuple]:
    """Each call in its own thread, released at the same instant: [(status, seconds)]."""
    barrier = threading.Barrier(len(calls))
    answers: list = [None] * len(calls)

    def side(i: int, call) -> None:
        barrier.wait()
        t0 = time.monotonic()
        try:
            answers[i] = (call().status, time.monotonic() - t0)
        except (OSError, http.client.HTTPException) as exc:
            answers[i] = (f"failed: {exc.__class__.__name__}", time.monotonic() - t0)

    threads = [threading.Thread(target=side, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


# ---------------------------------------------------------------- processes


def flask(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [os.path.join(VENV_BIN, "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def wait_healthy(port: int, limit: float) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        try:
            if Browser(port, timeout=2).call("GET", "/healthz").status == 200:
                return time.monotonic() - t0
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    return None


def stop_process(proc: subprocess.Popen | None, sig=signal.SIGTERM, grace: float = 30) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------- checks


def sql_checks(app, plan: Plan, races: list[dict]) -> tuple[list[tuple[str, bool, str]], dict]:
    from sqlalchemy import text

    from workflow.engine import registry
    from workflow.extensions import db

    checks = []
    with app.app_context():
        q = db.session.execute
        dup = q(
            text("SELECT case_id, seq FROM audit_events GROUP BY case_id, seq HAVING count(*) > 1")
        ).all()
        checks.append(("one audit event per (case, seq)", not dup, f"{len(dup)} duplicated"))
        wrong_state = q(
            text(
                "SELECT c.id, c.state, e.to_state FROM cases c JOIN audit_events e"
                " ON e.case_id = c.id AND e.seq = c.event_count WHERE e.to_state <> c.state"
            )
        ).all()
        no_events = q(
            text(
                "SELECT id, state, definition_key, definition_version FROM cases"
                " WHERE event_count = 0"
            )
        ).all()
        wrong_state += [r for r in no_events if r.state != registry.get(r[2], r[3]).initial]
        checks.append(
            (
                "each case's state = its last event's to_state",
                not wrong_state,
                f"{len(wrong_state)} cases differ"
                + (f": {wrong_state[:3]}" if wrong_state else ""),
            )
        )
        counts = q(
            text(
                "SELECT c.id FROM cases c LEFT JOIN (SELECT case_id, count(*) n, max(seq) m"
                " FROM audit_events GROUP BY case_id) x ON x.case_id = c.id"
                " WHERE coalesce(x.n, 0) <> c.event_count OR coalesce(x.m, 0) <> c.event_count"
            )
        ).all()
        checks.append(
            ("event count = events 1..n per case", not counts, f"{len(counts)} cases differ")
        )

        # Races: exactly one new event per pair's case.
        bad = []
        for r in races:
            pair = r["pair"]
            n = q(
                text("SELECT count(*) FROM audit_events WHERE case_id = :c AND seq > :s"),
                {"c": pair.case_id, "s": pair.seq_before},
            ).scalar()
            if n != 1:
                bad.append((pair.kind, pair.case_id, n))
        checks.append(
            ("races: one new audit event per pair", not bad, f"{len(bad)} pairs differ: {bad[:3]}")
        )

        ids = tuple(plan.soak_cases)
        facts = {
            "reports": q(
                text("SELECT count(*) FROM milestone_reports WHERE case_id IN :ids").bindparams(
                    _expanding("ids")
                ),
                {"ids": ids},
            ).scalar(),
            "report events": _events(q, text, ids, "report_progress"),
            "return events": _events(q, text, ids, "return_milestone"),
            "comments": q(
                text("SELECT count(*) FROM comments WHERE case_id IN :ids").bindparams(
                    _expanding("ids")
                ),
                {"ids": ids},
            ).scalar(),
            "documents": q(text("SELECT count(*) FROM documents")).scalar(),
            "documents with thumbnail": q(
                text("SELECT count(*) FROM documents WHERE thumb_name IS NOT NULL")
            ).scalar(),
            "audit events": q(text("SELECT count(*) FROM audit_events")).scalar(),
            "notifications": q(text("SELECT count(*) FROM notifications")).scalar(),
            "notifications mailed": q(
                text("SELECT count(*) FROM notifications WHERE emailed_at IS NOT NULL")
            ).scalar(),
        }
        db.session.remove()
        db.engine.dispose()
    return checks, facts


def _expanding(name):
    from sqlalchemy import bindparam

    return bindparam(name, expanding=True)


def _events(q, text, ids, trigger) -> int:
    return q(
        text("SELECT count(*) FROM audit_events WHERE case_id IN :ids AND trigger = :t").bindparams(
            _expanding("ids")
        ),
        {"ids": ids, "t": trigger},
    ).scalar()


def thumbnail_catch_up(app) -> tuple[bool, str]:
    from sqlalchemy import text

    from workflow.extensions import db
    from workflow.services import documents

    with app.app_context():
        try:
            made = documents.make_missing_thumbnails()
            error = ""
        except Exception as exc:  # noqa: BLE001 (reported as a failed check)
            db.session.rollback()
            made, error = 0, f"{exc.__class__.__name__}: {exc}"
        missing = db.session.execute(
            text(
                "SELECT count(*) FROM documents"
                " WHERE content_type LIKE 'image/%' AND thumb_name IS NULL"
            )
        ).scalar()
        db.session.remove()
        db.engine.dispose()
    detail = f"made {made}, still missing {missing}" + (f"; {error}" if error else "")
    return not error and missing == 0, detail


def sweep_figures(output: str) -> tuple[int, int]:
    """(files without a document, documents without their file) from sweep-uploads' summary."""
    found = re.search(r"(\d+) without a document.*?(\d+) document files missing", output, re.S)
    return (int(found.group(1)), int(found.group(2))) if found else (-1, -1)


# ---------------------------------------------------------------- crash helpers


def socket_owners(pids: list[int], remote_port: int) -> dict[int, int]:
    """Local port → pid, for the TCP connections of `pids` to `remote_port` on loopback."""
    inode_pid = {}
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inode_pid[target[8:-1]] = pid
        except (FileNotFoundError, ProcessLookupError):
            continue
    owners = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            cols = row.split()
            local, remote, inode = cols[1], cols[2], cols[9]
            if int(remote.rsplit(":", 1)[1], 16) == remote_port and inode in inode_pid:
                owners[int(local.rsplit(":", 1)[1], 16)] = inode_pid[inode]
    return owners


def writing_worker(master: int, pg: Postgres, rnd: random.Random, limit: float = 10):
    """A gunicorn worker whose transaction has written and not yet committed (it holds a
    transaction id in pg_stat_activity), found through its socket's port; else any."""
    import psycopg

    query = (
        "SELECT client_port FROM pg_stat_activity"
        " WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
    )
    dsn = f"host=127.0.0.1 port={pg.port} user=aksi dbname=aksi"
    deadline = time.monotonic() + limit
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            ports = {row[0] for row in conn.execute(query)}
            if ports:
                owners = socket_owners(children(master), pg.port)
                for port in ports:
                    if port in owners:
                        return owners[port], "mid-transaction (uncommitted writes)"
            time.sleep(0.002)
    return rnd.choice(children(master)), "at random (no writing transaction seen)"


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


# ---------------------------------------------------------------- the run


class Run:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="aksi-load-")
        self.uploads = os.path.join(self.tmp, "uploads")
        os.makedirs(self.uploads)
        self.log_path = os.path.join(self.tmp, "gunicorn.log")
        self.pg = Postgres()
        self.smtp = SmtpServer()
        self.gunicorn: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.rec = Recorder()
        self.uploads_cut: Counter = Counter()
        self.crash: dict[str, float | None] = {}
        self.checks: list[tuple[str, bool, str]] = []
        self.notes: dict[str, str] = {}

    # ------------------------------------------------ set-up

    def setup(self) -> None:
        args = self.args
        url = self.pg.start()
        self.smtp.start()
        self.port = _free_port()
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("AKSI_", "MAIL_"))}
        keep.pop("GUNICORN_CMD_ARGS", None)
        self.env = {
            **keep,
            "AKSI_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "DATABASE_URL": url,
            "UPLOAD_DIR": self.uploads,
            "AKSI_JOBS": "queue",
            "AKSI_BIND": f"127.0.0.1:{self.port}",
            "AKSI_WORKERS": str(args.workers),
            "MAIL_SERVER": self.smtp.host,
            "MAIL_PORT": str(self.smtp.port),
            "BASE_URL": f"http://127.0.0.1:{self.port}",
        }
        done = flask(self.env, "db", "upgrade")
        if done.returncode:
            raise SystemExit(f"flask db upgrade failed:\n{done.stderr}")
        # This process builds the data with the same settings as the servers.
        for name in ("AKSI_ENV", "SECRET_KEY", "DATABASE_URL", "UPLOAD_DIR", "AKSI_JOBS"):
            os.environ[name] = self.env[name]
        from workflow import create_app
        from workflow.extensions import db

        self.app = create_app()
        t0 = time.monotonic()
        with self.app.app_context():
            self.plan = build(self.app, args.cases, args.pairs)
            db.session.remove()
            db.engine.dispose()
        print(
            f"PostgreSQL on 127.0.0.1:{self.pg.port}; built {len(self.plan.soak_cases)} soak "
            f"cases and {len(self.plan.pairs)} race cases through the services in "
            f"{time.monotonic() - t0:.1f} s"
        )

    def start_servers(self) -> None:
        args = self.args
        log = open(self.log_path, "w")  # noqa: SIM115 (the process keeps it)
        conf = os.path.join(ROOT, "deploy", "gunicorn.conf.py")
        started = time.monotonic()
        self.gunicorn = subprocess.Popen(
            [os.path.join(VENV_BIN, "gunicorn"), "-c", conf],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        # The job worker, where this checkout has one.
        if flask(self.env, "aksi", "worker", "--help", timeout=60).returncode == 0:
            worker_log = open(os.path.join(self.tmp, "worker.log"), "w")  # noqa: SIM115
            self.worker = subprocess.Popen(
                [os.path.join(VENV_BIN, "flask"), "--app", "wsgi", "aksi", "worker"],
                cwd=ROOT,
                env=self.env,
                stdout=worker_log,
                stderr=subprocess.STDOUT,
            )
        if wait_healthy(self.port, 60) is None:
            raise SystemExit(f"gunicorn did not answer /healthz; see {self.log_path}")
        up = time.monotonic() - started
        t0 = time.monotonic()
        while len(children(self.gunicorn.pid)) < args.workers and time.monotonic() - t0 < 30:
            time.sleep(0.1)
        job_worker = "running" if self.worker else "absent (no `flask aksi worker`)"
        print(
            f"gunicorn ({args.workers} sync workers) on 127.0.0.1:{self.port}, /healthz after "
            f"{up:.1f} s; job worker {job_worker}"
        )

    # ------------------------------------------------ phases

    def soak(self) -> None:
        args, plan = self.args, self.plan
        self.stop = threading.Event()
        cycle = ("trainee", "mentor", "trainee", "organizer", "trainee", "coach", "trainee")
        cycle += ("executive",)
        used: Counter = Counter()
        self.clients = []
        for i in range(args.clients):
            role = cycle[i % len(cycle)]
            pool = plan.personas[role]
            persona = pool[used[role] % len(pool)]
            used[role] += 1
            seed = args.seed * 1000 + i
            self.clients.append(
                Client(
                    persona, self.port, plan.password, self.rec, self.stop, seed, self.uploads_cut
                )
            )
        self.soak_start = time.monotonic()
        for c in self.clients:
            c.start()
        self.stop.wait(args.duration)
        self.soak_end = time.monotonic()

    def crash_phase(self) -> None:
        """While the clients keep going: kill -9 a worker in the middle of a write, then the
        postmaster; PostgreSQL restarts after --outage seconds."""
        crash, rnd = self.crash, random.Random(self.args.seed)
        self.rec.phase = "crash"
        time.sleep(3)
        master = self.gunicorn.pid
        victim, how = writing_worker(master, self.pg, rnd)
        crash["worker killed"] = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        self.notes["worker killed"] = how
        t0 = time.monotonic()
        while time.monotonic() - t0 < 30:
            now = children(master)
            if len(now) >= self.args.workers and victim not in now:
                break
            time.sleep(0.02)
        crash["worker replaced"] = time.monotonic()
        time.sleep(8)
        crash["postmaster killed"] = time.monotonic()
        os.kill(self.pg.postmaster_pid(), signal.SIGKILL)
        time.sleep(self.args.outage)
        crash["restart begun"] = time.monotonic()
        self.pg.restart()
        crash["postgres accepting"] = time.monotonic()
        healthy = wait_healthy(self.port, 60)
        crash["app healthy"] = time.monotonic() if healthy is not None else None
        time.sleep(12)
        crash["end"] = time.monotonic()

    def shutdown(self) -> None:
        self.stop.set()
        for c in self.clients:
            c.join(60)
        self.clients_end = time.monotonic()
        workers = children(self.gunicorn.pid)
        sizes = [rss_mb(pid) for pid in workers]
        if sizes:
            self.notes["worker RSS"] = f"{min(sizes):.0f}-{max(sizes):.0f} MB"
        self.gunicorn_alive = self.gunicorn.poll() is None
        self.worker_alive = self.worker is not None and self.worker.poll() is None
        stop_process(self.gunicorn)
        # SIGTERM: the job worker lets its running jobs finish.
        stop_process(self.worker, signal.SIGTERM, 90)

    def close(self) -> None:
        stop_process(self.gunicorn, grace=10)
        stop_process(self.worker, signal.SIGTERM, 30)
        try:
            self.smtp.stop()
        except Exception:  # noqa: BLE001 (never started)
            pass
        self.pg.stop()
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------ checks and figures

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append((name, bool(ok), detail))

    def report_races(self, races: list[dict]) -> None:
        rows: dict[str, Counter] = defaultdict(Counter)
        for r in races:
            pair, answers = r["pair"], r["answers"]
            win = API_WIN if pair.sides[0][2] == "api" else WEB_WIN
            statuses = [a[0] for a in answers]
            row = rows[pair.kind]
            row["pairs"] += 1
            row["one winner"] += sum(1 for s in statuses if s == win) == 1
            row["5xx"] += sum(1 for s in statuses if not isinstance(s, int) or s >= 500)
            for s in statuses:
                if s != win:
                    row[f"loser {s}"] += 1
            row["ms"] = max(row["ms"], int(max(a[1] for a in answers) * 1000))
        print("\nRacing pairs (both sent at once; the winner answers 302, or 200 on the API)")
        print(f"  {'kind':38} {'pairs':>5} {'1 winner':>8} {'5xx':>4}  loser answers; slowest")
        for kind, row in rows.items():
            losers = ", ".join(
                f"{k[6:]} x{v}" for k, v in sorted(row.items()) if k.startswith("loser")
            )
            print(
                f"  {kind:38} {row['pairs']:>5} {row['one winner']:>8} {row['5xx']:>4}  "
                f"{losers}; {row['ms']} ms"
            )
        bad = [k for k, row in rows.items() if row["one winner"] != row["pairs"] or row["5xx"]]
        self.check("races: exactly one winner, the other refused, no 5xx", not bad, ", ".join(bad))

    def table(self, phase: str, start: float, end: float) -> None:
        rows = [s for s in self.rec.samples if s.phase == phase]
        span = end - start
        print(
            f"\n{phase.title()}: {len(rows)} requests in {span:.0f} s ({len(rows) / span:.1f}/s), "
            f"{self.args.clients} clients, {self.args.workers} workers"
        )
        print(
            f"  {'kind':28} {'n':>6} {'ok':>6} {'409':>5} {'4xx':>4} {'5xx':>4} "
            f"{'failed':>6} {'median ms':>10} {'p95 ms':>8}"
        )
        for kind in sorted({s.kind for s in rows}):
            these = [s for s in rows if s.kind == kind]
            times = [(s.end - s.start) * 1000 for s in these if s.outcome in (OK, CONFLICT)]
            n = Counter(s.outcome for s in these)
            med = f"{statistics.median(times):10.0f}" if times else f"{'-':>10}"
            p95 = f"{percentile(times, 0.95):8.0f}" if times else f"{'-':>8}"
            print(
                f"  {kind:28} {len(these):>6} {n[OK]:>6} {n[CONFLICT]:>5} {n[REFUSED]:>4} "
                f"{n[ERROR]:>4} {n[FAILED]:>6} {med} {p95}"
            )

    def report_crash(self) -> None:
        crash, samples = self.crash, self.rec.samples
        kw, rw = crash["worker killed"], crash["worker replaced"]
        kp, up_at = crash["postmaster killed"], crash["postgres accepting"]

        def failed(a: float, b: float) -> int:
            return sum(
                1
                for s in samples
                if s.phase == "crash" and s.outcome in (ERROR, FAILED) and a <= s.end <= b
            )

        good = [
            s.end
            for s in samples
            if s.kind.startswith("POST") and s.outcome == OK and s.start >= up_at
        ]
        first_write = min(good) if good else None
        recovered = first_write if first_write is not None else crash["end"]
        healthy = crash["app healthy"] or crash["end"]
        print("\nCrash")
        print(
            f"  kill -9 of a gunicorn worker {self.notes['worker killed']}: replaced in "
            f"{rw - kw:.2f} s; requests failed or 5xx within 3 s: {failed(kw, kw + 3)}"
        )
        print(
            f"  kill -9 of the postmaster: down {crash['restart begun'] - kp:.1f} s (--outage), "
            f"pg_ctl start {up_at - crash['restart begun']:.1f} s (crash recovery); /healthz "
            f"ok {healthy - kp:.1f} s and the first write {recovered - kp:.1f} s after the kill"
        )
        after = failed(recovered + 1, crash["end"] + 60)
        print(
            f"  requests failed or 5xx from the kill to the first good write: "
            f"{failed(kp, recovered)}; from 1 s after it: {after}"
        )
        self.check("gunicorn replaced the killed worker", rw - kw < 30, f"{rw - kw:.2f} s")
        self.check("writes succeed after the PostgreSQL restart", first_write is not None)
        self.check("no failed request from 1 s after recovery", after == 0, f"{after}")
        self.check("gunicorn master alive at the end", self.gunicorn_alive)
        if self.worker is not None:
            self.check("job worker alive at the end", self.worker_alive)

    def report_writes(self, facts: dict) -> None:
        """Every acknowledged write is stored; one of unknown outcome (5xx, cut off) may be
        or not; a refused one (409) is not."""
        samples = self.rec.samples

        def count(kinds, outcomes) -> int:
            return sum(1 for s in samples if s.kind in kinds and s.outcome in outcomes)

        reports = ("POST report", "POST report+photo")
        for label, kinds, stored in (
            ("milestone reports", reports, facts["reports"]),
            ("report_progress events", reports, facts["report events"]),
            ("return_milestone events", ("POST return",), facts["return events"]),
            ("comments", ("POST comment",), facts["comments"]),
        ):
            acked, unknown = count(kinds, (OK,)), count(kinds, (ERROR, FAILED))
            self.check(
                f"{label}: acknowledged <= stored <= acknowledged + unknown",
                acked <= stored <= acked + unknown,
                f"{acked} <= {stored} <= {acked + unknown}",
            )

    def verify(self, races: list[dict]) -> None:
        samples = self.rec.samples
        soak_bad = [s for s in samples if s.phase == "soak" and s.outcome in (ERROR, FAILED)]
        self.check("soak: no 5xx, no failed request", not soak_bad, f"{len(soak_bad)}")
        refused = ", ".join(
            f"{kind} {status} x{n}"
            for (kind, status), n in self.rec.statuses.items()
            if status < 500
        )
        self.check("no 4xx other than 409", not refused, refused)
        if self.crash:
            self.report_crash()
        checks, facts = sql_checks(self.app, self.plan, races)
        self.checks.extend(checks)
        self.report_writes(facts)
        # What the worker's periodic catch-up would do within a minute: thumbnails whose job
        # was lost (the worker's transaction cut by the outage) are made now.
        caught_up, detail = thumbnail_catch_up(self.app)
        self.check("thumbnail catch-up runs, then every photo has its thumbnail", caught_up, detail)
        audit = flask(self.env, "aksi", "verify-audit")
        self.check("flask aksi verify-audit", audit.returncode == 0, audit.stdout.strip()[-80:])
        sweep = flask(self.env, "aksi", "sweep-uploads", "--dry-run", "--older-than", "1")
        orphans, missing = sweep_figures(sweep.stdout)
        self.check(
            "sweep-uploads --dry-run: no document without its file", missing == 0, f"{missing}"
        )
        cut = self.uploads_cut["unknown"]
        self.check(
            "files without a document <= uploads cut short (kill -9, outage)",
            0 <= orphans <= cut,
            f"{orphans} <= {cut}",
        )
        print("\nStored")
        print("  " + ", ".join(f"{k} {v}" for k, v in facts.items()))
        print(
            f"  mails received by the SMTP sink: {len(self.smtp.messages)}; gunicorn worker "
            f"RSS at the end: {self.notes.get('worker RSS', '?')}"
        )
        errors = app_errors(self.log_path)
        with open(self.log_path, errors="replace") as f:
            escaped = sum(1 for line in f if "Error handling request" in line)
        print(f"  requests answered with gunicorn's bare 500 (the error page failed): {escaped}")
        for name, found in (
            ("gunicorn", errors),
            ("job worker", app_errors(os.path.join(self.tmp, "worker.log"))),
        ):
            if found:
                print(f"\nErrors in the {name} log, by exception (a chain counted once)")
                for line, n in found.most_common(8):
                    print(f"  {n:>5}  {line[:140]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=60, help="soak seconds (1-900)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (1-64)")
    parser.add_argument("--pairs", type=int, default=25, help="racing pairs (0-200)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (1-16)")
    parser.add_argument("--cases", type=int, default=24, help="cases in the soak (4-400)")
    parser.add_argument("--outage", type=float, default=3.0, help="seconds PostgreSQL is down")
    parser.add_argument("--no-crash", action="store_true", help="skip the kill -9 phase")
    parser.add_argument("--keep", action="store_true", help="keep the logs and uploads")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for name, low, high in (
        ("duration", 1, MAX_DURATION),
        ("clients", 1, 64),
        ("pairs", 0, 200),
        ("workers", 1, 16),
        ("cases", 4, 400),
        ("outage", 0, 60),
    ):
        if not low <= getattr(args, name) <= high:
            parser.error(f"--{name} must be {low}..{high}")

    began = time.monotonic()
    run = Run(args)
    try:
        run.setup()
        run.start_servers()
        races = run_races(run.plan, run.port) if run.plan.pairs else []
        run.soak()
        if not args.no_crash:
            run.crash_phase()
        run.shutdown()
        if races:
            run.report_races(races)
        run.table("soak", run.soak_start, run.soak_end)
        if run.crash:
            run.table("crash", run.soak_end, run.crash["end"])
        run.verify(races)
        print("\nChecks")
        for name, ok, detail in run.checks:
            print(f"  {'PASS' if ok else 'FAIL'}  {name}" + (f"  ({detail})" if detail else ""))
        print(
            f"\nTotal {time.monotonic() - began:.0f} s, clients "
            f"{run.clients_end - run.soak_start:.0f} s; load average "
            f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} on "
            f"{os.cpu_count()} CPUs; logs in {run.tmp}{'' if args.keep else ' (removed)'}"
        )
    finally:
        run.close()
    return 0 if all(ok for _n, ok, _d in run.checks) else 1


EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Shutdown|Interrupt)\b")


def app_errors(path: str) -> Counter:
    """What went wrong, how often: the final exception of each logged traceback (of a chain,
    the last one's), and gunicorn's own complaints about its workers."""
    found: Counter = Counter()
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return found
    last = None
    for line in lines:
        if line.startswith(("The above exception", "During handling")):
            last = None  # a chain: only its final exception counts
        elif line.startswith("Traceback"):
            if last:
                found[last] += 1
            last = None
        elif EXCEPTION_LINE.match(line):
            last = line.strip()
        elif last and (line.startswith("[") or line[:1].isdigit()):  # the next log record
            found[last] += 1
            last = None
        if "WORKER TIMEOUT" in line or "was sent SIGKILL" in line or "Worker failed" in line:
            found[line.split("] ")[-1].strip()] += 1
    if last:
        found[last] += 1
    return found


if __name__ == "__main__":
    sys.exit(main())
