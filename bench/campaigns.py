"""Launching a profil pekon campaign over 10,000 pekon, and its dashboard.

    .venv/bin/python bench/campaigns.py [--districts 100] [--villages 100] [--requests 40]
                                        [--warmup 5] [--database-url URL] [--keep]

Builds, with bulk inserts into a freshly migrated database (a temporary SQLite file, or the
empty database at --database-url, e.g. a PostgreSQL one), two synthetic regencies: a large
one of `--districts` × `--villages` pekon (100 × 100 = 10,000) and a small one of a tenth of
the districts (1,000 pekon), each with an operator per pekon, a camat per district and a
DPMP validator. Then it times `services.campaigns.launch()` on each (one case per pekon with
its "launched" audit event, the members, in one transaction), moves a third of the cases
along and makes a tenth overdue (plain UPDATEs), and through the Flask test client times the
campaign dashboard (as the admin: every unit; as one camat: scoped through
cases_visible_to), a district drill-down and the status tree beside GET /healthz in the same
rounds: median and p95 in ms and the ratio of p95 to /healthz's. Last, the SQL statements of
each request at 1,000 and at 10,000 units (they must be equal). Not a test: it prints
figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta

from sqlalchemy import event, insert, select, update

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from flask_migrate import upgrade  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from workflow import create_app  # noqa: E402
from workflow.extensions import db  # noqa: E402
from workflow.models import Case, Institution, Region, User  # noqa: E402
from workflow.services import campaigns as svc  # noqa: E402

PASSWORD = "bench-pass-1"


def bulk(model, rows: list[dict], chunk: int = 5_000) -> None:
    for start in range(0, len(rows), chunk):
        db.session.execute(insert(model), rows[start : start + chunk])


class Ids:
    def __init__(self):
        self.region = 0
        self.user = 0

    def next_region(self) -> int:
        self.region += 1
        return self.region

    def next_user(self) -> int:
        self.user += 1
        return self.user


def build_regency(
    ids: Ids,
    institution_id: int,
    province: dict,
    number: int,
    districts: int,
    villages: int,
    password: str,
) -> dict:
    """A regency, its districts and pekon, and the people: (regency code, camat usernames)."""
    regency = {
        "id": ids.next_region(),
        "level": "regency",
        "name": f"Kabupaten Uji {number}",
        "code": f"{province['code']}.{number:02d}",
        "parent_id": province["id"],
    }
    regions, people = [regency], []
    camats = []
    for d in range(1, districts + 1):
        district = {
            "id": ids.next_region(),
            "level": "district",
            "name": f"Kecamatan {number}-{d:03d}",
            "code": f"{regency['code']}.{d:03d}",
            "parent_id": regency["id"],
        }
        regions.append(district)
        uid = ids.next_user()
        camats.append(f"camat{uid}")
        people.append((uid, f"camat{uid}", f"Camat {district['name']}", district["id"]))
        for v in range(1, villages + 1):
            village = {
                "id": ids.next_region(),
                "level": "village",
                "name": f"Pekon {number}-{d:03d}-{v:03d}",
                "code": f"{district['code']}.2{v:03d}",
                "parent_id": district["id"],
                "kind": "pekon",
            }
            regions.append(village)
            uid = ids.next_user()
            people.append((uid, f"op{uid}", f"Operator {village['name']}", village["id"]))
    uid = ids.next_user()
    people.append((uid, f"dpmp{uid}", f"DPMP {regency['name']}", regency["id"]))
    bulk(Region, regions)
    bulk(
        User,
        [
            {
                "id": i,
                "username": u,
                "name": n,
                "email": f"{u}@bench.test",
                "password_hash": password,
                "institution_id": institution_id,
                "office_region_id": r,
                "active": True,
                "is_admin": False,
            }
            for i, u, n, r in people
        ],
    )
    db.session.commit()
    return {"code": regency["code"], "camat": camats[0], "district": f"{regency['code']}.001"}


def holders(code: str) -> list[svc.Holder]:
    """Everyone of the institution whose office is inside the regency, by office level."""
    role_of = {"village": "operator", "district": "camat", "regency": "dpmp"}
    rows = db.session.execute(
        select(User, Region.level)
        .join(Region, Region.id == User.office_region_id)
        .where(Region.code.like(code + "%"))
    ).all()
    return [svc.Holder(role_of[level], user) for user, level in rows]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))]


def stir(campaign_id: int, today: date) -> None:
    """A third of the cases moved along, a tenth overdue: the dashboard has work to do."""
    ids = list(db.session.scalars(select(Case.id).where(Case.campaign_id == campaign_id)))
    plan = {"verification": ids[0::6], "validation": ids[1::6], "validated": ids[2::9]}
    for state, chunk in plan.items():
        for start in range(0, len(chunk), 5000):
            db.session.execute(
                update(Case).where(Case.id.in_(chunk[start : start + 5000])).values(state=state)
            )
    late = ids[3::10]
    for start in range(0, len(late), 5000):
        db.session.execute(
            update(Case)
            .where(Case.id.in_(late[start : start + 5000]))
            .values(due_date=today - timedelta(days=3))
        )
    db.session.commit()


def login(client, username: str) -> None:
    client.get("/logout")
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--districts", type=int, default=100)
    parser.add_argument("--villages", type=int, default=100)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="aksi-bench-campaigns-")
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
            run(app, args)
            db.session.remove()
            db.engine.dispose()
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"kept {folder}")


def run(app, args) -> None:
    password = generate_password_hash(PASSWORD)
    province = {"id": 1, "level": "province", "name": "Provinsi Uji", "code": "98"}
    bulk(Region, [province])
    bulk(
        Institution,
        [{"id": 1, "code": "dpmp", "name": "DPMP Uji", "timezone": "Asia/Jakarta", "city": ""}],
    )
    ids = Ids()
    ids.region = 1
    admin_id = ids.next_user()
    bulk(
        User,
        [
            {
                "id": admin_id,
                "username": "admin",
                "name": "Admin",
                "email": "admin@bench.test",
                "password_hash": password,
                "institution_id": 1,
                "is_admin": True,
                "active": True,
            }
        ],
    )
    started = time.perf_counter()
    small = build_regency(
        ids, 1, province, 1, max(1, args.districts // 10), args.villages, password
    )
    large = build_regency(ids, 1, province, 2, args.districts, args.villages, password)
    print(
        f"regions and {ids.user} people loaded in {time.perf_counter() - started:.1f} s "
        f"({db.engine.dialect.name})"
    )
    institution = db.session.get(Institution, 1)
    admin = db.session.get(User, admin_id)
    today = svc.institution_today(institution)
    campaigns = {}
    for label, regency in (("small", small), ("large", large)):
        people = holders(regency["code"])
        db.session.commit()
        t0 = time.perf_counter()
        campaign = svc.launch(
            institution,
            admin,
            "profil_pekon",
            f"Profil Pekon {label}",
            regency["code"],
            today + timedelta(days=30),
            people,
        )
        elapsed = time.perf_counter() - t0
        n = db.session.query(Case).filter(Case.campaign_id == campaign.id).count()
        print(
            f"launch {label}: {n:>6} cases, {len(people)} members in {elapsed:6.2f} s "
            f"({n / elapsed:,.0f} cases/s)"
        )
        campaigns[label] = (campaign.id, regency)
        stir(campaign.id, today)
    client = app.test_client()
    for who in ("admin", "camat"):
        for label in ("small", "large"):
            cid, regency = campaigns[label]
            login(client, "admin" if who == "admin" else regency["camat"])
            targets = [
                ("GET /healthz", "/healthz"),
                (f"dashboard ({who})", f"/campaigns/{cid}"),
                (f"dashboard sorted ({who})", f"/campaigns/{cid}?sort=stage1&dir=desc"),
                (
                    f"district drill-down ({who})",
                    f"/campaigns/{cid}/districts/{regency['district']}",
                ),
            ]
            if who == "admin":
                targets.append(("API summary (admin)", None))
                targets.append(("status tree (admin)", f"/campaigns/{cid}/tree"))
            measure(client, targets, args, label, cid)
    statements_per_request(client, campaigns)


def measure(client, targets, args, label, cid) -> None:
    token = None
    times = {t[0]: [] for t in targets}
    status = {}
    for round_ in range(args.warmup + args.requests):
        for name, path in targets:
            headers = {}
            if path is None:
                if token is None:
                    admin = db.session.scalar(select(User).where(User.username == "admin"))
                    token = admin.issue_api_token()
                    db.session.commit()
                path, headers = f"/api/v1/campaigns/{cid}", {"Authorization": f"Bearer {token}"}
            # A fresh session per request, as each request has in production (here the
            # app context, and so the session, outlives the test client's requests).
            db.session.remove()
            t0 = time.perf_counter()
            response = client.get(path, headers=headers)
            elapsed = (time.perf_counter() - t0) * 1000
            status[name] = response.status_code
            if round_ >= args.warmup:
                times[name].append(elapsed)
    units = db.session.query(Case).filter(Case.campaign_id == cid).count()
    print(f"\n{label}: {units} units; {args.requests} rounds after {args.warmup} warm-up")
    print(f"{'request':34} {'status':>6} {'median':>8} {'p95':>8} {'max':>8}  x healthz p95")
    base = percentile(times["GET /healthz"], 0.95)
    for name, _path in targets:
        t = times[name]
        p95 = percentile(t, 0.95)
        print(
            f"{name:34} {status[name]:>6} {statistics.median(t):8.1f} {p95:8.1f} "
            f"{max(t):8.1f}  {p95 / base:8.1f}"
        )


def statements_per_request(client, campaigns) -> None:
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    print("\nSQL statements per request (1,000 vs 10,000 units)")
    rows = []
    for who in ("admin", "camat"):
        for kind in ("dashboard", "drill-down", "tree"):
            if who == "camat" and kind == "tree":
                continue
            counts = []
            for label in ("small", "large"):
                cid, regency = campaigns[label]
                login(client, "admin" if who == "admin" else regency["camat"])
                path = {
                    "dashboard": f"/campaigns/{cid}",
                    "drill-down": f"/campaigns/{cid}/districts/{regency['district']}",
                    "tree": f"/campaigns/{cid}/tree",
                }[kind]
                client.get(path)  # warm
                db.session.remove()
                seen.clear()
                event.listen(db.engine, "before_cursor_execute", count)
                try:
                    client.get(path)
                finally:
                    event.remove(db.engine, "before_cursor_execute", count)
                counts.append(len(seen))
            rows.append((f"{kind} ({who})", counts))
    for name, (small, large) in rows:
        verdict = "equal" if small == large else "DIFFERENT"
        print(f"{name:34} {small:>5} {large:>6}  {verdict}")


if __name__ == "__main__":
    main()
