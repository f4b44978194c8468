"""Server time of the repository search over 100,000 change actions.

    .venv/bin/python bench/repository.py [--cases 100000] [--requests 50] [--warmup 5]
                                         [--database-url URL] [--keep]

Loads, with bulk inserts into a freshly migrated database (a temporary SQLite file, or the
empty database at --database-url, e.g. a PostgreSQL one): one national institution with
cohorts of 50 trainees over five years (PKA, PKP, PKN II), agencies in 3 provinces × 10
regencies, each case with an Indonesian title, problem and results drawn from a vocabulary
of ~150 words (a few common, most rare, as real titles are), and its repository entry — the
database's triggers fill the full-text index (FTS5 / tsvector) as they would in use.
Then, through the Flask test client logged in as the institution's admin (every case in
scope), it times word searches (common, rare, several words, with filters and sorts) with
their facets beside GET /healthz in the same rounds, and prints median, p95 and max in ms.
Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, datetime

from sqlalchemy import insert

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from flask_migrate import upgrade  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from workflow import create_app  # noqa: E402
from workflow.extensions import db  # noqa: E402
from workflow.models import (  # noqa: E402
    Agency,
    Case,
    Cohort,
    Institution,
    Program,
    Region,
    User,
)
from workflow.models.showcase import RepositoryEntry  # noqa: E402

PASSWORD = "bench-pass-1"
COMMON = "pelayanan desa peningkatan digital aplikasi sistem informasi kualitas".split()
RARE = (
    "air bersih sanitasi puskesmas posyandu stunting gizi balita sekolah guru literasi "
    "perizinan investasi pajak retribusi aset barang persediaan arsip dokumen surat "
    "kepegawaian cuti absensi kinerja anggaran perencanaan pengadaan kontrak jalan jembatan "
    "irigasi pertanian pupuk benih ternak ikan nelayan pasar umkm koperasi pariwisata "
    "budaya pemuda olahraga bencana banjir kebakaran sampah limbah hutan tambang energi "
    "listrik transportasi parkir terminal kependudukan akta nikah kelahiran kematian "
    "sosial bansos lansia disabilitas perempuan anak kekerasan kesehatan rujukan obat "
    "vaksin imunisasi klinik rumah sakit ambulans darurat pengaduan kepuasan survei "
    "integrasi basis data satu peta geospasial dashboard monitoring evaluasi pelaporan "
    "keuangan akuntansi audit inspektorat pengawasan integritas gratifikasi zona "
    "percepatan penguatan optimalisasi inovasi kolaborasi pentahelix kemitraan swasta "
    "kampus relawan kader pendamping fasilitator bimbingan teknis pelatihan modul pedoman"
).split()
STATES = [
    ("completed", 0.55),
    ("not_passed", 0.05),
    ("implementation", 0.15),
    ("evaluation", 0.1),
    ("draft", 0.1),
    ("withdrawn", 0.05),
]
PREDICATES = ["Sangat Memuaskan", "Memuaskan", "Cukup Memuaskan"]


def words(rnd, n: int) -> str:
    picked = [rnd.choice(COMMON) if rnd.random() < 0.25 else rnd.choice(RARE) for _ in range(n)]
    return " ".join(picked).capitalize()


def bulk(model, rows: list[dict], chunk: int = 10_000) -> None:
    for start in range(0, len(rows), chunk):
        db.session.execute(insert(model), rows[start : start + chunk])


def load(n_cases: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    now = datetime(2026, 12, 1)
    provinces = [
        {"id": p, "level": "province", "name": f"Provinsi {p}", "code": f"{60 + p}"}
        for p in (1, 2, 3)
    ]
    regencies = [
        {
            "id": 10 + p * 10 + r,
            "level": "regency",
            "name": f"Kabupaten {p}-{r}",
            "code": f"{60 + p}.{r:02}",
            "parent_id": p,
        }
        for p in (1, 2, 3)
        for r in range(10)
    ]
    bulk(Region, provinces)
    bulk(Region, regencies)
    bulk(Institution, [{"id": 1, "code": "nas", "name": "Puslatbang", "timezone": "Asia/Jakarta"}])
    programs = [
        ("PKA", "aksi_perubahan_pka"),
        ("PKP", "aksi_perubahan_pkp"),
        ("PKN II", "aksi_perubahan_pkn2"),
    ]
    bulk(
        Program,
        [
            {"id": i + 1, "institution_id": 1, "code": c, "name": c, "definition_key": k}
            for i, (c, k) in enumerate(programs)
        ],
    )
    agencies = [
        {"id": i + 1, "name": f"Dinas {i + 1}", "region_id": regencies[i % 30]["id"]}
        for i in range(300)
    ]
    bulk(Agency, agencies)
    n_cohorts = max(1, n_cases // 50)
    cohorts = []
    for c in range(n_cohorts):
        year = 2022 + c * 5 // n_cohorts
        program = c % 3
        cohorts.append(
            {
                "id": c + 1,
                "program_id": program + 1,
                "name": f"{programs[program][0]} Angkatan {c + 1}",
                "year": year,
                "definition_key": programs[program][1],
                "definition_version": None,
                "start_date": date(year, 2, 1),
                "proposal_deadline": date(year, 3, 1),
                "implementation_start": date(year, 3, 8),
                "implementation_end": date(year, 6, 1),
                "evaluation_date": date(year, 6, 15),
                "end_date": date(year, 6, 30),
            }
        )
    bulk(Cohort, cohorts)
    hashed = generate_password_hash(PASSWORD)
    users = [
        {
            "id": 1,
            "username": "admin",
            "name": "Admin",
            "password_hash": hashed,
            "is_admin": True,
            "institution_id": 1,
            "created_at": now,
        }
    ]
    users += [
        {
            "id": i + 2,
            "username": f"t{i}",
            "name": f"Peserta {i}",
            "agency_id": rnd.randint(1, 300),
            "created_at": now,
        }
        for i in range(n_cases)
    ]
    bulk(User, users)
    from workflow.services.repository import state_kinds

    kinds = state_kinds()
    states, weights = zip(*STATES, strict=True)
    cases, entries = [], []
    for i in range(n_cases):
        cohort = cohorts[i // 50 % n_cohorts]
        state = rnd.choices(states, weights)[0]
        key, version = cohort["definition_key"], 2 if "pkp" not in cohort["definition_key"] else 1
        title = words(rnd, 8)
        problem = words(rnd, 40)
        results = words(rnd, 30)
        predicate = rnd.choice(PREDICATES) if state == "completed" else ""
        cases.append(
            {
                "id": i + 1,
                "cohort_id": cohort["id"],
                "trainee_id": i + 2,
                "ndh": i % 50 + 1,
                "definition_key": key,
                "definition_version": version,
                "state": state,
                "state_entered_at": now,
                "created_at": now,
                "title": title,
                "core_issue": problem,
                "predicate": predicate or None,
            }
        )
        agency = agencies[users[i + 1]["agency_id"] - 1]
        regency = next(r for r in regencies if r["id"] == agency["region_id"])
        result = (
            "passed"
            if (key, version, state) in kinds.passed
            else "not_passed"
            if (key, version, state) in kinds.failed
            else "ongoing"
        )
        entries.append(
            {
                "case_id": i + 1,
                "listed": (key, version, state) in kinds.listed,
                "institution_id": 1,
                "cohort_id": cohort["id"],
                "program_code": programs[(cohort["program_id"] - 1)][0],
                "year": cohort["year"],
                "agency_id": agency["id"],
                "region_id": regency["id"],
                "province_id": regency["parent_id"],
                "state": state,
                "result": result,
                "predicate": predicate,
                "sustainability": rnd.choice(["", "running", "running", "stopped"])
                if result == "passed"
                else "",
                "title": title,
                "problem": problem,
                "results": results,
                "indexed_at": now,
            }
        )
    bulk(Case, cases)
    bulk(RepositoryEntry, entries)
    db.session.commit()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="aksi-bench-repo-")
    url = args.database_url or f"sqlite:///{folder}/bench.db"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench" * 8,
            "RATELIMIT_ENABLED": False,
            "WTF_CSRF_ENABLED": False,
            "AKSI_ENV": "development",
        }
    )
    try:
        with app.app_context():
            upgrade()
            started = time.perf_counter()
            load(args.cases)
            print(
                f"loaded {args.cases} change actions in {time.perf_counter() - started:.1f} s"
                f" ({db.engine.dialect.name})"
            )
            client = app.test_client()
            page = client.get("/login")
            assert page.status_code == 200
            response = client.post("/login", data={"username": "admin", "password": PASSWORD})
            assert response.status_code == 302, response.status_code
            targets = [
                ("GET /healthz", "/healthz"),
                ("repository, no words (facets)", "/repository"),
                ("q=desa (common word)", "/repository?q=desa"),
                ("q=air bersih", "/repository?q=air+bersih"),
                ("q=puskesmas rujukan obat", "/repository?q=puskesmas+rujukan+obat"),
                ("q=pelay (prefix)", "/repository?q=pelay"),
                ("q=stunting, year + result", "/repository?q=stunting&year=2025&result=passed"),
                ("q=digital, sort title", "/repository?q=digital&sort=title"),
                ("province + sustainability", "/repository?province=61&sustainability=running"),
                ("page 200, newest", "/repository?page=200"),
                ("q of 10,000 characters", "/repository?q=" + "x" * 10_000),
                ("q with operators", '/repository?q="air"*+OR+NEAR(desa)+-sampah'),
                ("showcase list (public)", "/api/v1/showcase"),
            ]
            times = {label: [] for label, _ in targets}
            status = {}
            for round_ in range(args.warmup + args.requests):
                for label, path in targets:
                    t0 = time.perf_counter()
                    response = client.get(path)
                    elapsed = (time.perf_counter() - t0) * 1000
                    status[label] = response.status_code
                    if round_ >= args.warmup:
                        times[label].append(elapsed)
            print(f"\n{args.requests} rounds after {args.warmup} warm-up, in process (test client)")
            print(
                f"{'request':36} {'status':>6} {'median':>8} {'p95':>8} {'max':>8}  x healthz p95"
            )
            base = percentile(times["GET /healthz"], 0.95)
            for label, _path in targets:
                t = times[label]
                p95 = percentile(t, 0.95)
                print(
                    f"{label:36} {status[label]:>6} {statistics.median(t):8.1f} {p95:8.1f}"
                    f" {max(t):8.1f}  {p95 / base:8.1f}"
                )
            db.session.remove()
            db.engine.dispose()
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"kept {folder}")


if __name__ == "__main__":
    main()
