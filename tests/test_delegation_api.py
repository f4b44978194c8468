"""API v1: delegations listed, created and revoked with the same rules as the web."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.factories import create_user
from workflow.extensions import db
from workflow.models import Delegation
from workflow.models._base import utcnow
from workflow.services import perform
from workflow.services.calendar import local_date

ENDORSE = {"letter_number": "800/123/DPMD/2026", "letter_date": "2026-11-20"}


def bearer(user) -> dict:
    token = user.issue_api_token()
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def day(offset: int = 0) -> str:
    return (local_date(utcnow(), "Asia/Jakarta") + timedelta(days=offset)).isoformat()


def body(delegate, **change) -> dict:
    return {
        "delegate_id": delegate.id,
        "role": "executive",
        "kind": "plt",
        "starts_on": day(0),
        "ends_on": day(3),
        "reason": "Cuti besar",
        "sk_number": "821/45/BKD/2026",
        "sk_date": day(0),
        **change,
    }


def test_executive_creates_lists_and_revokes(client, world):
    deputy = create_user(name="Ir. Wakil")
    db.session.commit()
    auth = bearer(world.executive)
    created = client.post("/api/v1/delegations", json=body(deputy), headers=auth)
    assert created.status_code == 201, created.json
    d = created.json
    assert d["relation"] == "given" and d["status"] == "active"
    assert d["principal"] == {"id": world.executive.id, "name": world.executive.name}
    assert d["delegate"]["name"] == "Ir. Wakil" and d["kind_label"] == "Plt."
    assert d["revoked_at"] is None
    assert (d["sk_number"], d["sk_date"]) == ("821/45/BKD/2026", day(0))

    mine = client.get("/api/v1/delegations", headers=bearer(deputy)).json["items"]
    assert [(x["id"], x["relation"]) for x in mine] == [(d["id"], "received")]
    assert client.get("/api/v1/delegations", headers=bearer(world.stranger)).json == {"items": []}

    # The delegate may see it but not revoke it; a stranger does not even see it.
    assert (
        client.delete(f"/api/v1/delegations/{d['id']}", headers=bearer(deputy)).status_code == 403
    )
    assert (
        client.delete(f"/api/v1/delegations/{d['id']}", headers=bearer(world.stranger)).status_code
        == 404
    )
    revoked = client.delete(f"/api/v1/delegations/{d['id']}", headers=auth)
    assert revoked.status_code == 200
    assert revoked.json["status"] == "revoked" and revoked.json["revoked_at"].endswith("Z")
    again = client.delete(f"/api/v1/delegations/{d['id']}", headers=auth)
    assert again.status_code == 409 and again.json["message"]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"ends_on": day(-1)}, "ends_on"),
        ({"starts_on": "not-a-date"}, "starts_on"),
        ({"role": "trainee"}, "role"),
        ({"kind": "pjs"}, "kind"),
        ({"sk_date": day(4)}, "sk_date"),
        ({"sk_number": ""}, "sk_number"),
        ({"sk_date": None}, "sk_date"),
        ({"sk_date": "kemarin"}, "sk_date"),
        ({"delegate_id": 999999}, "delegate"),
        ({"reason": "x" * 1001}, "reason"),
    ],
)
def test_invalid_delegation_is_422_with_fields_and_writes_nothing(client, world, change, field):
    deputy = create_user()
    db.session.commit()
    response = client.post(
        "/api/v1/delegations", json=body(deputy, **change), headers=bearer(world.executive)
    )
    assert response.status_code == 422
    assert field in response.json["fields"]
    assert db.session.query(Delegation).count() == 0


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "x",
        {"delegate_id": "1"},
        {"delegate_id": True},
        {"role": 3},
        {"nope": 1},
        {"reason": "x\x00y"},  # NUL bytes: refused app-wide before any service
    ],
)
def test_malformed_body_is_400(client, world, payload):
    response = client.post("/api/v1/delegations", json=payload, headers=bearer(world.executive))
    assert response.status_code == 400 and response.json["message"]


def test_creating_for_someone_else_needs_an_organizer(client, world):
    deputy = create_user()
    db.session.commit()
    request = body(deputy, principal_id=world.mentor.id, role="mentor")
    assert (
        client.post("/api/v1/delegations", json=request, headers=bearer(world.stranger)).status_code
        == 403
    )
    response = client.post("/api/v1/delegations", json=request, headers=bearer(world.organizer))
    assert response.status_code == 201
    assert response.json["relation"] == "managed"
    assert response.json["created_by"]["id"] == world.organizer.id


def test_delegate_endorses_through_the_api_and_the_event_says_on_whose_behalf(client, world):
    perform(world.case, "submit", world.trainee)
    perform(world.case, "approve", world.mentor)
    deputy = create_user(name="Ir. Wakil")
    db.session.commit()
    created = client.post(
        "/api/v1/delegations", json=body(deputy, kind="plh"), headers=bearer(world.executive)
    )
    assert created.status_code == 201
    auth = bearer(deputy)
    listed = client.get("/api/v1/cases", headers=auth).json["items"]
    assert [c["id"] for c in listed] == [world.case.id]
    response = client.post(
        f"/api/v1/cases/{world.case.id}/actions/endorse", json={"data": ENDORSE}, headers=auth
    )
    assert response.status_code == 200, response.json
    assert response.json["state"] == "implementation"
    events = client.get(f"/api/v1/cases/{world.case.id}/events", headers=auth).json["items"]
    assert events[-1]["actor"]["name"] == "Ir. Wakil"
    assert events[-1]["on_behalf_of"] == {"id": world.executive.id, "name": world.executive.name}
    assert events[-2]["on_behalf_of"] is None
