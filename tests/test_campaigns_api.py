"""Campaign API: launch (422 with a message per field, nothing written), list, summary per
district, units, members, and naming a person for a case-assigned role."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select

from tests.test_api import bearer
from tests.test_campaigns import Area
from workflow.extensions import db
from workflow.models import AuditEvent, Campaign, CampaignMember, Case, CaseAssignment
from workflow.services import perform

SHIPPED = Path(__file__).resolve().parents[1] / "state_machines"
FUTURE = (date.today() + timedelta(days=40)).isoformat()


def body(where: Area, **changes) -> dict:
    data = {
        "definition": "profil_pekon",
        "name": "Profil Pekon 2026",
        "area": where.regency.code,
        "deadline": FUTURE,
        "holders": [{"role": "operator", "username": u.username} for u in where.operators]
        + [{"role": "camat", "username": u.username} for u in where.camats]
        + [{"role": "dpmp", "username": where.dpmp.username}],
    }
    data.update(changes)
    return data


def total(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_launch_list_summary_and_units(client, app):
    area = Area()
    admin = bearer(area.admin)
    created = client.post("/api/v1/campaigns?lang=en", json=body(area), headers=admin)
    assert created.status_code == 201, created.json
    cid = created.json["id"]
    assert created.json["area"] == {
        "code": area.regency.code,
        "name": area.regency.name,
        "level": "regency",
    }
    listed = client.get("/api/v1/campaigns", headers=bearer(area.operators[0])).json
    assert [c["id"] for c in listed["items"]] == [cid]
    summary = client.get(f"/api/v1/campaigns/{cid}?lang=en", headers=bearer(area.dpmp)).json
    assert summary["total"]["units"] == 5
    assert [s["key"] for s in summary["stages"]] == ["filling", "verification", "validation"]
    assert [(d["code"], d["units"]) for d in summary["districts"]] == [
        (area.districts[0].code, 3),
        (area.districts[1].code, 2),
    ]
    camat = bearer(area.camats[1])
    mine = client.get(f"/api/v1/campaigns/{cid}/cases?state=filling", headers=camat).json
    assert [i["code"] for i in mine["items"]] == [v.code for v in area.villages[3:]]
    assert mine["items"][0]["to_act"] == [area.operators[3].name]
    wrong = client.get(f"/api/v1/campaigns/{cid}/cases?state=nope", headers=camat)
    assert wrong.status_code == 400
    # An operator's case of another pekon: 404.
    other = db.session.scalar(select(Case.id).where(Case.region_id == area.villages[1].id))
    assert (
        client.get(f"/api/v1/cases/{other}", headers=bearer(area.operators[0])).status_code == 404
    )
    outsider = bearer(Area(with_people=False).admin)
    assert client.get(f"/api/v1/campaigns/{cid}", headers=outsider).status_code == 404


def test_refusals_are_422_per_field_and_write_nothing(client, app):
    area = Area()
    admin = bearer(area.admin)
    cases = [
        ({"area": "99.99"}, "area"),
        ({"deadline": "2020-01-01"}, "deadline"),
        ({"definition": "aksi_perubahan_pka"}, "definition"),
        ({"holders": [{"role": "operator", "username": "ghost"}]}, "holders[0].username"),
        ({"holders": [{"role": "kades", "username": area.dpmp.username}]}, "holders"),
    ]
    for changes, field in cases:
        response = client.post(
            "/api/v1/campaigns?lang=en", json=body(area, **changes), headers=admin
        )
        assert response.status_code == 422, (changes, response.json)
        assert field in response.json["fields"], response.json
    assert client.post("/api/v1/campaigns", json={"x": 1}, headers=admin).status_code == 400
    assert (
        client.post("/api/v1/campaigns", json=body(area), headers=bearer(area.dpmp)).status_code
        == 403
    )
    assert (total(Campaign), total(Case), total(AuditEvent)) == (0, 0, 0)


def test_members_are_added_by_the_admin(client, app):
    area = Area()
    admin = bearer(area.admin)
    launched = client.post(
        "/api/v1/campaigns",
        json=body(area, holders=[], allow_unassigned=True),
        headers=admin,
    )
    cid = launched.json["id"]
    operator = area.operators[0]
    url = f"/api/v1/campaigns/{cid}/members?lang=en"
    added = client.post(
        url, json={"role": "operator", "username": operator.username}, headers=admin
    )
    assert added.status_code == 201
    assert added.json["region"] == area.villages[0].code
    refused = client.post(
        url,
        json={"role": "operator", "username": operator.username, "region": "88.1"},
        headers=admin,
    )
    assert refused.status_code == 422 and "region" in refused.json["fields"]
    no = client.post(url, json={"role": "operator", "username": "x"}, headers=bearer(area.dpmp))
    assert no.status_code in (403, 404)
    assert total(CampaignMember) == 1
    # The operator now acts on their pekon.
    case = db.session.scalar(select(Case).where(Case.region_id == area.villages[0].id))
    listed = client.get("/api/v1/cases", headers=bearer(operator))
    assert listed.status_code == 200
    assert perform  # the flow itself is covered in test_campaigns
    assert case is not None


TOY = """
key: toy_survey
version: 1
labels: {id: "Survei uji", en: "Test survey"}
subject: region_unit
unit_level: district
initial: open
roles:
  - {key: surveyor, labels: {id: "Surveyor", en: "Surveyor"}, assignment: case}
phases:
  - {key: work, labels: {id: "Kerja", en: "Work"}}
  - {key: done, labels: {id: "Selesai", en: "Done"}}
states:
  - key: open
    phase: work
    owners: [surveyor]
    labels: {id: "Terbuka", en: "Open"}
    sla: {until: deadline}
  - {key: closed, phase: done, terminal: true, labels: {id: "Ditutup", en: "Closed"}}
transitions:
  - trigger: finish
    labels: {id: "Selesai", en: "Finish"}
    sources: [open]
    dest: closed
    roles: [surveyor]
"""


def test_case_assignment_for_a_case_assigned_role(make_app, tmp_path):
    folder = tmp_path / "defs"
    folder.mkdir()
    (folder / "toy_survey.yaml").write_text(TOY, encoding="utf-8")
    app = make_app(DEFINITIONS_DIR=os.pathsep.join([str(SHIPPED), str(folder)]))
    with app.app_context():
        client = app.test_client()
        area = Area()
        admin = bearer(area.admin)
        launched = client.post(
            "/api/v1/campaigns",
            json={
                "definition": "toy_survey",
                "name": "Survei",
                "area": area.regency.code,
                "deadline": FUTURE,
                "allow_unassigned": True,
            },
            headers=admin,
        )
        assert launched.status_code == 201, launched.json
        case = db.session.scalar(select(Case).where(Case.region_id == area.districts[0].id))
        url = f"/api/v1/cases/{case.id}/assignments?lang=en"
        surveyor = area.operators[0]
        wrong = client.post(
            url, json={"role": "camat", "username": surveyor.username}, headers=admin
        )
        assert wrong.status_code == 422 and "role" in wrong.json["fields"]
        assert client.get(f"/api/v1/cases/{case.id}", headers=bearer(surveyor)).status_code == 404
        named = client.post(
            url, json={"role": "surveyor", "username": surveyor.username}, headers=admin
        )
        assert named.status_code == 201, named.json
        assert total(CaseAssignment) == 1
        assert db.session.get(Case, case.id).event_count == 2  # launched, assigned
        token = bearer(surveyor)
        done = client.post(f"/api/v1/cases/{case.id}/actions/finish", headers=token)
        assert done.status_code == 200, done.json
        assert db.session.get(Case, case.id).state == "closed"
        forbidden = client.post(
            url, json={"role": "surveyor", "username": surveyor.username}, headers=token
        )
        assert forbidden.status_code == 403
