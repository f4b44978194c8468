"""`flask aksi demo` runs DPMP Lampung Barat's profil pekon campaign over the real regency
(official codes from the region package): 136 pekon in 15 kecamatan, 14 done or nearly and
Sukau left behind, every step through perform(), and the `operator`, `camat` and `dpmp`
accounts each with their next action on their home page. One demo run (SQLite): the demo
is the slow part, and test_demo.py covers the load itself on both databases."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date

import pytest
from sqlalchemy import select

from tests.test_http_helpers import login
from workflow.extensions import db
from workflow.models import AuditEvent, Campaign, CampaignMember, Case, FormEntry, Region, User
from workflow.models._base import utcnow
from workflow.services import campaign_demo, campaigns, forms
from workflow.services.workflow import definition_of

SUKAU = "18.04.11"
TODO = re.compile(r'id="todo-title".*?id="all-title"', re.S)


@pytest.fixture(autouse=True)
def uploads(app, tmp_path):
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")


def account(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def todo_of(client, username: str) -> str:
    login(client, account(username), campaign_demo.PASSWORD)
    page = client.get("/")
    assert page.status_code == 200
    match = TODO.search(page.get_data(as_text=True))
    assert match, username
    return match.group(0)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_demo_runs_the_profil_pekon_campaign_of_lampung_barat(app, runner, client):
    loaded = runner.invoke(args=["aksi", "demo"])
    assert loaded.exit_code == 0, loaded.output
    today = date.today()

    # Over the official regions of Lampung Barat, loaded from the package: the regency lists
    # each of its 15 kecamatan once (the demo's own kecamatan took their codes).
    launched = db.session.scalars(select(Campaign)).all()
    assert len(launched) == 1, "no campaign: demo.py's build() must end with campaign_demo.seed"
    (campaign,) = launched
    assert campaign.name == "Profil Pekon 2026" and campaign.definition_key == "profil_pekon"
    assert campaign.institution.code == "dpmp-lambar" and campaign.region.code == "18.04"
    assert 14 <= (campaign.deadline - today).days <= 31
    regency = campaign.region
    districts = db.session.scalars(select(Region).where(Region.parent_id == regency.id)).all()
    assert len(districts) == 15 and all(d.code.startswith("18.04.") for d in districts)
    assert {d.code: d.name for d in districts}[SUKAU] == "Sukau"

    cases = db.session.scalars(select(Case).where(Case.campaign_id == campaign.id)).all()
    assert len(cases) == 136
    by_district: dict[str, Counter] = defaultdict(Counter)
    for c in cases:
        by_district[c.region_code.rsplit(".", 1)[0]][c.state] += 1
    assert len(by_district) == 15
    states = Counter(c.state for c in cases)
    assert {"filling", "returned", "verification", "validation", "validated"} <= set(states)
    assert states["validated"] > 100

    # 14 kecamatan done, Sukau left: its pekon stand at every step of the flow.
    for code, count in by_district.items():
        if code == SUKAU:
            assert set(count) == {"filling", "returned", "verification", "validation", "validated"}
        else:
            assert set(count) == {"validated"}, (code, count)
    summary = campaigns.summary(campaign, account("dpmp"))
    assert summary.districts_done == 14 and summary.districts_left == ["Sukau"]
    (sukau,) = [r for r in summary.rows if r.code == SUKAU]
    assert sukau.overdue and set(sukau.overdue_names) <= {
        "Hanakau",
        "Jaga Raga",
        "Teba Pering Jaya",
    }

    # Late work shows: some unit past its due date (a return not fixed, a verification).
    assert any(c.due_date and c.due_date < today for c in cases)

    # The data: every profile past filling is complete and passes the checks; returned
    # ones carry a reason beside a field.
    form = definition_of(cases[0]).form("profil")
    entries = {
        e.case_id: e
        for e in db.session.scalars(
            select(FormEntry).where(FormEntry.case_id.in_([c.id for c in cases]))
        )
    }
    for c in cases:
        entry = entries.get(c.id)
        if c.state in ("verification", "validation", "validated"):
            assert entry and forms.problems(form, entry.data) == [], (c.region_code, c.state)
        if c.state == "returned":
            assert entry.notes and all(n["reason"] for n in entry.notes.values())
        if entry is not None:
            assert not [p for p in forms.problems(form, entry.data) if p.kind != "missing"]

    # The three accounts: password aksi-demo, their office, their membership.
    for username, code, role in (
        ("operator", "18.04.11.2003", "operator"),
        ("camat", SUKAU, "camat"),
        ("dpmp", "18.04", "dpmp"),
    ):
        u = account(username)
        assert u.check_password(campaign_demo.PASSWORD) and u.office_region.code == code
        member = db.session.scalar(select(CampaignMember).where(CampaignMember.user_id == u.id))
        assert (member.role, member.region_code) == (role, code)
    mine = next(c for c in cases if c.region_code == "18.04.11.2003")
    assert mine.state == "filling"
    missing = forms.problems(form, entries[mine.id].data)
    assert missing and entries[mine.id].data.get("jumlah_penduduk")

    # Each sees the next action first thing on the home page (Indonesian by default).
    todo = todo_of(client, "operator")
    assert "Buay Nyerupa" in todo and "Pengisian profil" in todo and f"/cases/{mine.id}" in todo
    todo = todo_of(client, "camat")
    assert "Menunggu verifikasi kecamatan" in todo and "Hanakau" in todo
    assert "Menunggu validasi DPMP" not in todo
    todo = todo_of(client, "dpmp")
    assert "Menunggu validasi DPMP" in todo and "Pengisian profil" not in todo
    dashboard = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert 'data-district="18.04.11"' in dashboard and "Hanakau" in dashboard

    # History through perform() on past dates: launched, then each step; chains intact.
    now = utcnow()
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.case_id.in_([c.id for c in cases]))
        .order_by(AuditEvent.case_id, AuditEvent.seq)
    ).all()
    chains: dict[int, list[AuditEvent]] = defaultdict(list)
    for e in events:
        chains[e.case_id].append(e)
    for c in cases:
        chain = chains[c.id]
        assert chain[0].trigger == "launched" and chain[-1].to_state == c.state
        times = [e.created_at for e in chain]
        assert times == sorted(times) and times[-1] <= now
    assert Counter(e.trigger for e in events)["return"] >= 5
    audit = runner.invoke(args=["aksi", "verify-audit"])
    assert audit.exit_code == 0, audit.output
    total = db.session.scalar(select(db.func.count()).select_from(Case))
    assert f"All {total} audit chains are intact." in audit.output
