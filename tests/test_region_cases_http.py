"""A region unit's case (a pekon of a campaign) through the web and the API: its page,
its actions, the home page and inbox of operator, camat and DPMP, the API's subject, the
reasons per field of a return, an acting camat."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.test_api import bearer
from tests.test_http_helpers import act, check_markup, english, login, page_token
from tests.test_http_home import counting_statements
from tests.test_region_cases import DEADLINE, RegionWorld, definitions_dir
from workflow.extensions import db
from workflow.models import AuditEvent, Case, Delegation
from workflow.services import delegations as delegation_service
from workflow.services import perform
from workflow.services.forms import REASON_MAX


@pytest.fixture
def region_app(make_app):
    app = make_app(DEFINITIONS_DIR=definitions_dir())
    with app.app_context():
        yield app


@pytest.fixture
def region(region_app):
    return RegionWorld()


TRAINEE_PANELS = ("evaluation-slot", "seminar-slot", "proposal.pdf", "follow-up")


def events_of(case: Case) -> int:
    return db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.case_id == case.id))


def reload(case: Case) -> Case:
    db.session.expire_all()
    return db.session.get(Case, case.id)


# ---------------------------------------------------------------- the case page


@pytest.mark.parametrize(
    ("role", "state", "buttons"),
    [
        ("operator", "filling", ["submit"]),
        ("camat", "verification", ["verify", "return"]),
        ("dpmp", "validation", ["validate"]),
        ("camat", "filling", []),
    ],
)
def test_case_page_of_a_pekon(client, region, role, state, buttons):
    region.case.state = state
    db.session.commit()
    english(client)
    login(client, getattr(region, role))
    response = client.get(f"/cases/{region.case.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    check_markup(html)
    head = html.split('id="case-status"')[0]
    assert "<h1>Pekon Tanjung Raya</h1>" in head
    assert "Pekon Tanjung Raya · Kec. Sukau · Kabupaten Lampung Barat" in head
    assert "Profil Pekon 2026" in head and "30 Sep 2026" in head
    assert "Test profile" in head and "flow version 1" in head
    for panel in TRAINEE_PANELS:
        assert panel not in html
    status = html.split('id="case-status"')[1]
    owner = {"filling": "Pekon operator", "verification": "District head"}
    if state in owner:
        assert owner[state] in status.split("What you can do")[0]
    found = [
        t for t in ("submit", "verify", "return", "validate") if f'data-trigger="{t}"' in status
    ]
    assert found == buttons
    assert 'id="case-diagram"' in html
    assert f'href="/cases/{region.case.id}/forms/profil"' in head  # fill or read the form


@pytest.mark.parametrize("who", ["operator2", "stranger"])
def test_another_pekons_operator_finds_nothing(client, region, who):
    login(client, getattr(region, who))
    assert client.get(f"/cases/{region.case.id}").status_code == 404
    token = page_token(client, "/")
    response = client.post(
        f"/cases/{region.case.id}/actions/submit",
        data={"version": region.case.version, "csrf_token": token},
    )
    assert response.status_code == 404
    assert events_of(region.case) == 0
    headers = bearer(getattr(region, who))
    assert client.get(f"/api/v1/cases/{region.case.id}", headers=headers).status_code == 404
    response = client.post(f"/api/v1/cases/{region.case.id}/actions/submit", headers=headers)
    assert response.status_code == 404
    assert reload(region.case).state == "filling"


def test_buttons_fire_through_perform_to_validation(client, region):
    english(client)
    for user, trigger, dest in (
        (region.operator, "submit", "verification"),
        (region.camat, "verify", "validation"),
        (region.dpmp, "validate", "validated"),
    ):
        login(client, user)
        case = reload(region.case)
        response = act(client, case, trigger, htmx=True)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert 'id="case-status"' in response.get_data(as_text=True)
        assert reload(region.case).state == dest
    assert events_of(region.case) == 3


def test_a_stale_version_is_refused_and_writes_nothing(client, region):
    english(client)
    login(client, region.operator)
    response = act(client, region.case, "submit", version=region.case.version + 5)
    assert response.status_code == 409
    assert "Someone else changed this case meanwhile" in response.get_data(as_text=True)
    assert events_of(region.case) == 0


# ---------------------------------------------------------------- reasons per field


def test_the_return_form_has_a_reason_box_per_field(client, region):
    perform(region.case, "submit", region.operator)
    english(client)
    login(client, region.camat)
    html = client.get(f"/cases/{region.case.id}").get_data(as_text=True)
    form = html.split('data-trigger="return"')[1].split("</form>")[0]
    for name in ("population", "households", "notes"):
        assert f'name="reasons-{name}"' in form


def test_reasons_per_field_go_through_act_to_perform(client, region):
    perform(region.case, "submit", region.operator)
    english(client)
    login(client, region.camat)
    response = act(
        client,
        region.case,
        "return",
        {"reasons-population": "Tidak sesuai data BPS", "reasons-notes": "  ", "comment": ""},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    case = reload(region.case)
    assert case.state == "returned"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id)).all()[-1]
    assert event.data["reasons"] == {"population": "Tidak sesuai data BPS"}


def test_a_refused_reason_is_shown_beside_its_box_with_the_text_kept(client, region):
    perform(region.case, "submit", region.operator)
    english(client)
    login(client, region.camat)
    long = "x" * (REASON_MAX + 1)
    response = act(
        client, region.case, "return", {"reasons-households": long, "comment": "Cek"}, htmx=True
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    box = html.split('name="reasons-households"')[1].split("</details>")[0]
    assert long in box and "field-error" in box
    assert events_of(region.case) == 1  # the submit only
    assert reload(region.case).state == "verification"


def test_a_return_without_any_reason_keeps_what_was_typed(client, region):
    perform(region.case, "submit", region.operator)
    english(client)
    login(client, region.camat)
    before = events_of(region.case)
    response = act(client, region.case, "return", {"comment": "Periksa lagi"}, htmx=True)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "field-error" in html or "alert-error" in html
    assert "Periksa lagi" in html  # the comment typed stays
    assert 'name="reasons-population"' in html
    assert events_of(region.case) == before
    assert reload(region.case).state == "verification"


# ---------------------------------------------------------------- home and inbox


@pytest.mark.parametrize(
    ("role", "state"),
    [("operator", "filling"), ("camat", "verification"), ("dpmp", "validation")],
)
def test_home_lists_the_pekon_to_act_on(client, region, role, state):
    region.case.state = state
    region.case2.state = state
    db.session.commit()
    english(client)
    login(client, getattr(region, role))
    html = client.get("/").get_data(as_text=True)
    todo, everything = html.split('id="all-title"')
    assert f'href="/cases/{region.case.id}"' in todo
    assert "Pekon Tanjung Raya · Profil Pekon 2026" in todo
    assert ("Pekon Hanakau" in todo) == (role != "operator")
    assert '<th scope="col">Unit</th>' in everything and "Campaign" in everything


def test_home_costs_the_same_for_3_and_12_pekon(client, region_app):
    # Two cases, then 10 more: the camat of Sukau must act on all of them.
    world = RegionWorld(extra=1)
    db.session.execute(
        Case.__table__.update().where(Case.campaign_id == world.campaign.id),
        {"state": "verification"},
    )
    db.session.commit()
    login(client, world.camat)

    def statements() -> tuple[int, str]:
        with counting_statements() as seen:
            html = client.get("/").get_data(as_text=True)
        return len(seen), html

    few, html = statements()
    assert html.count('class="todo-link"') == 3
    for i in range(9):
        pekon = world._pekon(f"Pekon Lagi {i}", f"18.04.11.{2200 + i}", world.sukau)
        world.add_case(pekon, state="verification")
    db.session.commit()
    many, html = statements()
    assert html.count('class="todo-link"') == 12
    assert many == few


def test_inbox_names_the_unit(client, region):
    perform(region.case, "submit", region.operator)
    english(client)
    login(client, region.camat)
    html = client.get("/inbox").get_data(as_text=True)
    assert "Operator Tanjung Raya Submit — Pekon Tanjung Raya · Profil Pekon 2026" in html
    assert "District verification" in html


# ---------------------------------------------------------------- API


def test_api_case_subject_is_the_unit(client, region):
    headers = bearer(region.camat)
    body = client.get(f"/api/v1/cases/{region.case.id}?lang=en", headers=headers).json
    assert body["subject"] == {
        "kind": "region_unit",
        "region": {
            "code": "18.04.11.2001",
            "name": "Tanjung Raya",
            "level": "village",
            "label": "Pekon Tanjung Raya",
        },
        "campaign": {
            "id": region.campaign.id,
            "name": "Profil Pekon 2026",
            "deadline": DEADLINE.isoformat(),
        },
    }
    assert body["trainee"] is None and body["cohort"] is None
    assert body["definition"]["key"] == "region_profile_test"
    listed = client.get("/api/v1/cases", headers=headers).json
    assert [c["subject"]["region"]["code"] for c in listed["items"]] == [
        "18.04.11.2001",
        "18.04.11.2002",
    ]


def test_api_participant_case_keeps_its_fields_and_gains_a_subject(client, region_app):
    world = factories.World()
    body = client.get(f"/api/v1/cases/{world.case.id}", headers=bearer(world.trainee)).json
    assert body["trainee"] == {"id": world.trainee.id, "name": world.trainee.name}
    assert body["cohort"] == {"id": world.cohort.id, "name": world.cohort.name}
    assert body["subject"]["kind"] == "participant"
    assert body["subject"]["trainee"] == body["trainee"]


def test_api_return_takes_reasons_per_field(client, region):
    perform(region.case, "submit", region.operator)
    headers = bearer(region.camat)
    body = client.get(f"/api/v1/cases/{region.case.id}?lang=en", headers=headers).json
    (ret,) = [a for a in body["actions"] if a["trigger"] == "return"]
    assert ret["reasons"]["form"] == "profil"
    assert [f["name"] for f in ret["reasons"]["fields"]] == ["population", "households", "notes"]
    refused = client.post(
        f"/api/v1/cases/{region.case.id}/actions/return",
        headers=headers,
        json={"data": {"reasons": {}}},
    )
    assert refused.status_code == 422
    assert reload(region.case).state == "verification"
    done = client.post(
        f"/api/v1/cases/{region.case.id}/actions/return",
        headers=headers,
        json={"data": {"reasons": {"households": "KK ganda"}}},
    )
    assert done.status_code == 200, done.json
    assert done.json["state"] == "returned"


# ---------------------------------------------------------------- acting camat


def test_an_acting_camat_named_on_the_delegations_page_verifies(client, region):
    acting = factories.create_user(name="Sekcam Sukau")
    db.session.commit()
    perform(region.case, "submit", region.operator)
    english(client)
    login(client, region.camat)
    page = client.get("/delegations").get_data(as_text=True)
    assert '<option value="camat"' in page
    today = delegation_service.today_for(region.camat)
    response = client.post(
        "/delegations",
        data={
            "csrf_token": page_token(client, "/delegations"),
            "role": "camat",
            "delegate": acting.username,
            "kind": "plh",
            "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=3)).isoformat(),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert db.session.scalar(select(Delegation.role)) == "camat"
    login(client, acting)
    html = client.get("/").get_data(as_text=True)
    assert "Plh." in html and "Camat Sukau" in html
    assert f'href="/cases/{region.case.id}"' in html.split('id="all-title"')[0]
    response = act(client, reload(region.case), "verify")
    assert response.status_code == 302
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.case_id == region.case.id).order_by(AuditEvent.seq)
    ).all()[-1]
    assert (event.actor_id, event.on_behalf_of_id) == (acting.id, region.camat.id)
    html = client.get(f"/cases/{region.case.id}").get_data(as_text=True)
    assert "a.n. Camat Sukau (Plh.)" in html


def test_the_openapi_document_describes_the_subject(client, region):
    doc = client.get("/api/v1/openapi.json").json
    schemas = doc["components"]["schemas"]
    summary = schemas["CaseSummary"]
    body = client.get(f"/api/v1/cases/{region.case.id}", headers=bearer(region.camat)).json
    assert set(summary["required"]) <= set(body)
    assert summary["properties"]["subject"] == {"$ref": "#/components/schemas/CaseSubject"}
    subject = schemas["CaseSubject"]
    assert set(body["subject"]) <= set(subject["properties"])
    assert set(subject["properties"]["region"]["required"]) == set(body["subject"]["region"])
    action = schemas["Action"]
    assert "reasons" in action["required"] and "reasons" in action["properties"]
    assert "/api/v1/reach/{code}" in doc["paths"]
