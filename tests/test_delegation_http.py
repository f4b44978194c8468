"""The /delegations page, the acting banner, and the case timeline of an acting official."""

from __future__ import annotations

from datetime import date, timedelta

from tests.factories import create_user
from tests.test_http_helpers import act, check_markup, english, login, page_token
from workflow.extensions import db
from workflow.models import Delegation
from workflow.models._base import utcnow
from workflow.services import perform
from workflow.services.calendar import local_date
from workflow.services.delegations import create_delegation


def day(offset: int = 0) -> str:
    return (local_date(utcnow(), "Asia/Jakarta") + timedelta(days=offset)).isoformat()


def form(client, **values) -> dict:
    data = {
        "csrf_token": page_token(client, "/delegations"),
        "role": "executive",
        "kind": "plt",
        "starts_on": day(0),
        "ends_on": day(3),
        "sk_number": "821/45/BKD",
        "sk_date": day(0),
        "reason": "Cuti besar",
    }
    data.update(values)
    return data


def test_principal_creates_and_revokes_a_delegation(client, world):
    deputy = create_user("wakil", name="Ir. Wakil Pejabat")
    db.session.commit()
    english(client)
    login(client, world.executive)
    page = client.get("/delegations")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    check_markup(html)
    assert "New delegation" in html and 'name="principal"' not in html
    response = client.post("/delegations", data=form(client, delegate="wakil"))
    assert response.status_code == 302
    d = db.session.query(Delegation).one()
    assert (d.principal_id, d.delegate_id, d.kind, d.reason, d.sk_number, d.sk_date) == (
        world.executive.id,
        deputy.id,
        "plt",
        "Cuti besar",
        "821/45/BKD",
        date.fromisoformat(day(0)),
    )
    html = client.get("/delegations").get_data(as_text=True)
    assert "Ir. Wakil Pejabat" in html and "Active" in html and "Plt." in html
    assert "821/45/BKD" in html
    assert f"/delegations/{d.id}/revoke" in html
    token = page_token(client, "/delegations")
    response = client.post(f"/delegations/{d.id}/revoke", data={"csrf_token": token})
    assert response.status_code == 302
    db.session.refresh(d)
    assert d.revoked_at is not None
    assert "Revoked" in client.get("/delegations").get_data(as_text=True)


def test_errors_show_beside_fields_and_keep_what_was_typed(client, world):
    english(client)
    login(client, world.executive)
    response = client.post(
        "/delegations",
        data=form(client, delegate="nobody-here", ends_on=day(-1), reason="Cuti <b>tahunan</b>"),
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    check_markup(html)
    assert 'id="d-delegate-error"' in html and "no active user with this username" in html
    assert 'id="d-ends_on-error"' in html
    assert 'value="nobody-here"' in html
    assert f'value="{day(-1)}"' in html
    assert "Cuti &lt;b&gt;tahunan&lt;/b&gt;" in html  # kept, and escaped
    assert db.session.query(Delegation).count() == 0


def test_a_person_without_the_role_gets_no_form(client, world):
    english(client)
    login(client, world.trainee)
    html = client.get("/delegations").get_data(as_text=True)
    assert "New delegation" not in html and "No delegations yet." in html
    response = client.post("/delegations", data=form(client, delegate=world.stranger.username))
    assert response.status_code == 422
    assert db.session.query(Delegation).count() == 0


def test_organizer_sets_a_delegation_for_a_mentor_of_their_cohort(client, world):
    world.mentor.name = "Dr. Mentor Utama"
    db.session.commit()
    english(client)
    login(client, world.organizer)
    html = client.get("/delegations").get_data(as_text=True)
    assert 'name="principal"' in html and "Dr. Mentor Utama" in html
    response = client.post(
        "/delegations",
        data=form(
            client,
            principal=str(world.mentor.id),
            role="mentor",
            kind="plh",
            delegate=world.stranger.username,
        ),
    )
    assert response.status_code == 302
    d = db.session.query(Delegation).one()
    assert (d.principal_id, d.created_by_id, d.role) == (
        world.mentor.id,
        world.organizer.id,
        "mentor",
    )
    # Someone else's mentor is beyond their reach: 403, nothing written.
    outsider = create_user()
    db.session.commit()
    response = client.post(
        "/delegations",
        data=form(client, principal=str(outsider.id), delegate=world.stranger.username),
    )
    assert response.status_code == 403
    assert db.session.query(Delegation).count() == 1


def test_revoke_of_an_unseen_delegation_is_404(client, world):
    d = create_delegation(
        world.executive,
        world.coach,
        "executive",
        "plh",
        day(0),
        day(1),
        "",
        world.executive,
    )
    login(client, world.stranger)
    token = page_token(client, "/delegations")
    assert client.post(f"/delegations/{d.id}/revoke", data={"csrf_token": token}).status_code == 404
    login(client, world.coach)  # the delegate sees it, but may not revoke it
    token = page_token(client, "/delegations")
    assert client.post(f"/delegations/{d.id}/revoke", data={"csrf_token": token}).status_code == 403
    db.session.refresh(d)
    assert d.revoked_at is None


def test_delegate_sees_the_banner_acts_and_the_timeline_says_on_whose_behalf(client, world):
    world.executive.name = "H. Kepala Dinas"
    perform(world.case, "submit", world.trainee)
    perform(world.case, "approve", world.mentor)
    deputy = create_user(name="Ir. Wakil Pejabat")
    create_delegation(
        world.executive,
        deputy,
        "executive",
        "plt",
        day(0),
        day(3),
        "",
        world.executive,
        sk_number="821/45/BKD",
        sk_date=day(0),
    )
    english(client)
    login(client, deputy)
    home = client.get("/").get_data(as_text=True)
    assert "You are acting as Plt. Executive for H. Kepala Dinas until" in home
    todo = home.split('id="all-title"')[0]
    assert f'href="/cases/{world.case.id}"' in todo
    response = act(
        client,
        world.case,
        "endorse",
        {"letter_number": "800/123/DPMD/2026", "letter_date": "2026-11-20"},
    )
    assert response.status_code == 302
    html = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    check_markup(html)
    assert "a.n. H. Kepala Dinas (Plt.)" in html
    assert "800/123/DPMD/2026" in html


def test_outside_the_range_the_case_is_404_for_the_delegate(client, world):
    perform(world.case, "submit", world.trainee)
    perform(world.case, "approve", world.mentor)
    deputy = create_user()
    create_delegation(
        world.executive, deputy, "executive", "plh", day(2), day(4), "", world.executive
    )
    login(client, deputy)
    assert client.get(f"/cases/{world.case.id}").status_code == 404
    assert client.get(f"/cases/{world.case.id}/proposal.pdf").status_code == 404
    assert "acting-banner" not in client.get("/").get_data(as_text=True)
