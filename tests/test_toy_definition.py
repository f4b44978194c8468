"""Proof of generality: a third definition, unrelated to aksi perubahan and to the profil
pekon (bridge inspection per kecamatan: its own roles — one named per case, one held over a
region —, its own subject level and its own form), is loaded from a temporary directory and
run end to end through the API with no code change."""

from __future__ import annotations

import os
import shutil
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select

from tests.test_api import bearer
from tests.test_campaigns import Area
from workflow.extensions import db
from workflow.models import AuditEvent, Case, FormEntry, Notification
from workflow.services.audit import verify_all

SHIPPED = Path(__file__).resolve().parents[1] / "state_machines"
TOY = Path(__file__).resolve().parent / "data" / "toy" / "bridge_inspection.yaml"
FUTURE = (date.today() + timedelta(days=30)).isoformat()
FORM = "findings"
GOOD = {
    "span": 42,
    "condition": "damaged",
    "inspected_on": date.today().isoformat(),
    "needs_repair": True,
    "parts_total": 12,
    "parts_damaged": 3,
    "photos_taken": [{"caption": "Sisi hulu"}],
}


def test_a_toy_definition_runs_end_to_end_through_the_api(make_app, tmp_path, backend):
    folder = tmp_path / "institution-flows"
    folder.mkdir()
    shutil.copy(TOY, folder / TOY.name)
    app = make_app(DEFINITIONS_DIR=os.pathsep.join([str(SHIPPED), str(folder)]))
    with app.app_context():
        client = app.test_client()
        area = Area()
        admin, supervisor = bearer(area.admin), bearer(area.dpmp)

        # Launch over the regency: one case per kecamatan (the definition's unit level).
        launched = client.post(
            "/api/v1/campaigns?lang=en",
            json={
                "definition": "bridge_inspection",
                "name": "Pemeriksaan jembatan 2026",
                "area": area.regency.code,
                "deadline": FUTURE,
                "holders": [{"role": "supervisor", "username": area.dpmp.username}],
                "allow_unassigned": True,
            },
            headers=admin,
        )
        assert launched.status_code == 201, launched.json
        cid = launched.json["id"]
        listed = client.get(f"/api/v1/campaigns/{cid}/cases", headers=admin)
        assert listed.status_code == 200, listed.json
        cases = {
            c.region_id: c for c in db.session.scalars(select(Case).where(Case.campaign_id == cid))
        }
        assert set(cases) == {d.id for d in area.districts}
        first, second = (cases[d.id] for d in area.districts)
        assert first.state == "open" and first.due_date == date.fromisoformat(FUTURE)

        # Inspectors are named per case; each sees only their own kecamatan's case.
        inspector, other = area.operators[0], area.operators[-1]
        for case, person in ((first, inspector), (second, other)):
            named = client.post(
                f"/api/v1/cases/{case.id}/assignments",
                json={"role": "inspector", "username": person.username},
                headers=admin,
            )
            assert named.status_code == 201, named.json
        mine, theirs = bearer(inspector), bearer(other)
        url = f"/api/v1/cases/{first.id}"
        assert client.get(url, headers=theirs).status_code == 404
        assert client.get(f"{url}/forms/{FORM}", headers=theirs).status_code == 404
        shown = client.get(url, headers=mine).json
        assert shown["subject"]["kind"] == "region_unit"
        assert shown["subject"]["region"]["code"] == area.districts[0].code

        # The form's own rules, from the YAML: a value out of range is refused by field.
        form = client.get(f"{url}/forms/{FORM}?lang=en", headers=mine)
        assert form.status_code == 200, form.json
        version = form.json["version"]
        bad = client.put(
            f"{url}/forms/{FORM}?lang=en",
            json={"data": {**GOOD, "span": 900}, "version": version},
            headers=mine,
        )
        assert bad.status_code == 422, bad.json
        assert "span" in bad.json["fields"] and "500" in bad.json["fields"]["span"]
        assert db.session.scalar(select(FormEntry).where(FormEntry.case_id == first.id)) is None

        # Saved incomplete, then submission is refused naming what is missing.
        partial = {k: v for k, v in GOOD.items() if k != "inspected_on"}
        saved = client.put(
            f"{url}/forms/{FORM}", json={"data": partial, "version": version}, headers=mine
        )
        assert saved.status_code == 200, saved.json
        version = saved.json["version"]
        events_before = db.session.get(Case, first.id).event_count
        refused = client.post(f"{url}/actions/submit?lang=en", headers=mine)
        assert refused.status_code in (409, 422), refused.json
        assert "Inspected on" in str(refused.json)
        db.session.expire_all()
        assert db.session.get(Case, first.id).state == "open"
        assert db.session.get(Case, first.id).event_count == events_before

        saved = client.put(
            f"{url}/forms/{FORM}", json={"data": GOOD, "version": version}, headers=mine
        )
        assert saved.status_code == 200, saved.json
        assert client.post(f"{url}/actions/submit", headers=theirs).status_code == 404
        submitted = client.post(f"{url}/actions/submit", headers=mine)
        assert submitted.status_code == 200, submitted.json

        # The supervisor (over the regency) was told, and sends it back with a reason on
        # one field; without a reason the return is refused.
        assert db.session.scalar(
            select(Notification).where(
                Notification.user_id == area.dpmp.id, Notification.case_id == first.id
            )
        )
        empty = client.post(
            f"{url}/actions/send_back?lang=en", json={"data": {"reasons": {}}}, headers=supervisor
        )
        assert empty.status_code in (409, 422), empty.json
        back = client.post(
            f"{url}/actions/send_back",
            json={"data": {"reasons": {"span": "Ukur ulang: bentang tertulis 42 m, foto 24 m"}}},
            headers=supervisor,
        )
        assert back.status_code == 200, back.json
        form = client.get(f"{url}/forms/{FORM}", headers=mine).json
        assert "span" in form["notes"]

        # The inspector fixes that field (its note goes), resubmits; the supervisor accepts.
        fixed = client.put(
            f"{url}/forms/{FORM}",
            json={"data": {**GOOD, "span": 24}, "version": form["version"]},
            headers=mine,
        )
        assert fixed.status_code == 200, fixed.json
        assert "span" not in fixed.json["notes"]
        assert client.post(f"{url}/actions/submit", headers=mine).status_code == 200
        accepted = client.post(f"{url}/actions/accept", headers=supervisor)
        assert accepted.status_code == 200, accepted.json

        db.session.expire_all()
        case = db.session.get(Case, first.id)
        assert case.state == "closed" and case.due_date is None
        trail = db.session.scalars(
            select(AuditEvent.trigger).where(AuditEvent.case_id == case.id).order_by(AuditEvent.seq)
        ).all()
        assert trail == ["launched", "assigned", "submit", "send_back", "submit", "accept"]
        assert verify_all() == []
        summary = client.get(f"/api/v1/campaigns/{cid}", headers=admin)
        assert summary.status_code == 200, summary.json
