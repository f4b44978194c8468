"""Campaign pages: the launch form (errors beside the fields, input kept), the dashboard per
district, the drill-down with bulk remind, the tree, exports, and who gets a 404."""

from __future__ import annotations

import io
from datetime import date, timedelta

from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.factories import create_user
from tests.test_campaigns import Area, fill_profile
from tests.test_http_helpers import check_markup, login, page_token
from workflow.extensions import db
from workflow.models import Campaign, Case, Notification
from workflow.services import perform


def as_user(client, user):
    login(client, user)
    token = page_token(client, "/")
    client.post("/lang", data={"lang": "en", "next": "/", "csrf_token": token})
    return client


# The pages count days from the real today.
FUTURE = date.today() + timedelta(days=40)


def launched(app):
    area = Area()
    campaign = area.launch(today=None, deadline=FUTURE)
    return area, campaign


def test_launch_form_keeps_input_and_shows_errors(client, app):
    area = Area()
    as_user(client, area.admin)
    page = client.get("/campaigns/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    check_markup(html)
    assert 'name="level-operator"' in html and 'name="area"' in html
    token = page_token(client, "/campaigns/new")
    form = {
        "csrf_token": token,
        "definition": "profil_pekon",
        "name": "Profil Pekon 2026",
        "area": "99.99",
        "deadline": "2020-01-01",
        "level-operator": "village",
        "step": "launch",
    }
    refused = client.post("/campaigns/new", data=form)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="area-error"' in html and "99.99" in html
    assert 'id="k-deadline-error"' in html and "deadline has passed" in html
    assert 'value="Profil Pekon 2026"' in html
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0
    form.update(
        {
            "area": area.regency.code,
            "deadline": FUTURE.isoformat(),
            "level-camat": "district",
            "level-dpmp": "regency",
        }
    )
    done = client.post("/campaigns/new", data=form)
    assert done.status_code == 302, done.get_data(as_text=True)
    campaign = db.session.scalar(select(Campaign))
    assert done.headers["Location"].endswith(f"/campaigns/{campaign.id}")
    assert db.session.scalar(select(func.count()).where(Case.campaign_id == campaign.id)) == 5
    roles = sorted((m.role, m.region_code) for m in campaign.members)
    assert ("dpmp", area.regency.code) in roles and len(roles) == 8


def test_only_admins_launch(client, app):
    area = Area()
    as_user(client, area.dpmp)
    assert client.get("/campaigns/new").status_code == 403


def test_dashboard_counts_and_scope(client, app):
    area, campaign = launched(app)
    case = area.case_of(campaign, area.villages[0])
    fill_profile(case)
    perform(case, "submit", area.operators[0])
    as_user(client, area.dpmp)
    page = client.get(f"/campaigns/{campaign.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    check_markup(html)
    first = area.districts[0]
    assert (
        f'data-district="{first.code}"' in html
        and f'data-district="{area.districts[1].code}"' in html
    )
    assert "1 of 3" in html and "0 of 2" in html
    assert client.get(f"/campaigns/{campaign.id}?sort=stage0&dir=desc&show=open").status_code == 200
    # The camat of the second kecamatan sees only theirs.
    as_user(client, area.camats[1])
    html = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert f'data-district="{first.code}"' not in html
    assert client.get(f"/campaigns/{campaign.id}/districts/{first.code}").status_code == 404
    # Someone outside it: 404.
    as_user(client, create_user())
    assert client.get(f"/campaigns/{campaign.id}").status_code == 404


def test_an_operator_gets_404_on_another_pekon(client, app):
    area, campaign = launched(app)
    other = area.case_of(campaign, area.villages[1])
    as_user(client, area.operators[0])
    assert client.get(f"/cases/{other.id}").status_code == 404
    token = page_token(client, "/")
    posted = client.post(
        f"/cases/{other.id}/actions/submit", data={"csrf_token": token, "version": "1"}
    )
    assert posted.status_code == 404
    assert db.session.get(Case, other.id).state == "filling"


def test_drill_down_and_bulk_remind(client, app):
    area, campaign = launched(app)
    district = area.districts[0]
    as_user(client, area.camats[0])
    page = client.get(f"/campaigns/{campaign.id}/districts/{district.code}?sort=name")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    check_markup(html)
    cases = [area.case_of(campaign, v) for v in area.villages[:3]]
    for c in cases:
        assert f'href="/cases/{c.id}"' in html
    assert area.operators[0].name in html  # who must act
    token = page_token(client, f"/campaigns/{campaign.id}/districts/{district.code}")
    url = f"/campaigns/{campaign.id}/districts/{district.code}/remind"
    empty = client.post(url, data={"csrf_token": token})
    assert empty.status_code == 422 and "Select at least one unit" in empty.get_data(as_text=True)
    # Without a CSRF token: refused.
    assert client.post(url, data={"case_id": str(cases[0].id)}).status_code == 400
    sent = client.post(
        url,
        data={
            "csrf_token": token,
            "case_id": [str(cases[0].id), str(cases[1].id)],
            "message": "Ayo",
        },
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert sent.status_code == 200
    assert 'id="bulk-results"' in sent.get_data(as_text=True)
    notified = {n.user_id for n in db.session.scalars(select(Notification)) if n.kind == "remind"}
    assert notified == {area.operators[0].id, area.operators[1].id}
    # An operator may not remind.
    as_user(client, area.operators[0])
    token = page_token(client, "/")
    assert client.post(
        url, data={"csrf_token": token, "case_id": str(cases[0].id)}
    ).status_code in (
        403,
        404,
    )


def test_tree_and_exports(client, app):
    area, campaign = launched(app)
    as_user(client, area.admin)
    tree = client.get(f"/campaigns/{campaign.id}/tree")
    assert tree.status_code == 200
    html = tree.get_data(as_text=True)
    check_markup(html)
    assert html.count('<a class="unit-chip status-0') == 5
    csv = client.get(f"/campaigns/{campaign.id}/export.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    text = csv.get_data().decode("utf-8-sig")
    assert area.districts[0].name in text and area.districts[0].code in text
    xlsx = client.get(f"/campaigns/{campaign.id}/export.xlsx")
    book = load_workbook(io.BytesIO(xlsx.get_data()))
    assert [len(list(ws.rows)) for ws in book.worksheets] == [3, 6]
    units = client.get(f"/campaigns/{campaign.id}/districts/{area.districts[1].code}/export.csv")
    assert units.get_data().decode("utf-8-sig").count("\r\n") == 3
    listing = client.get("/campaigns").get_data(as_text=True)
    assert campaign.name in listing
