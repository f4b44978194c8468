"""A campaign's people from a spreadsheet: accounts made or linked with their office region,
members added and new accounts invited; a file with any bad row writes nothing and says
which line and column; only the institution's admin may import."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from tests.factories import create_user
from tests.test_campaigns import Area
from tests.test_campaigns_http import as_user
from tests.test_http_helpers import check_markup, page_token
from workflow.extensions import db
from workflow.models import CampaignMember, Institution, OneTimeToken, Region, User
from workflow.services import spreadsheets

HEADER = ("peran", "nama", "email", "kode_wilayah", "nip", "jabatan")


def campaign_of(area: Area):
    return area.launch(holders=[], allow_unassigned=True)


def post(client, campaign, rows, *, kind="csv", header=HEADER):
    url = f"/campaigns/{campaign.id}/people"
    if kind == "xlsx":
        data = spreadsheets.xlsx_bytes([("orang", header, rows)])
    else:  # written as typed (csv_bytes would make a formula inert)
        out = io.StringIO()
        csv.writer(out).writerows([header, *rows])
        data = out.getvalue().encode()
    token = page_token(client, url)
    return client.post(
        url,
        data={"csrf_token": token, "file": (io.BytesIO(data), f"orang.{kind}")},
        content_type="multipart/form-data",
    )


def counts() -> tuple[int, int, int]:
    return (
        db.session.scalar(select(func.count()).select_from(User)),
        db.session.scalar(select(func.count()).select_from(CampaignMember)),
        db.session.scalar(select(func.count()).select_from(OneTimeToken)),
    )


def test_import_creates_links_adds_and_invites(client, app):
    area = Area(with_people=False)
    campaign = campaign_of(area)
    v1, v2 = area.villages[0], area.villages[1]
    district = area.districts[0]
    # An account of the institution without an office region: linked, and given one.
    camat = create_user(institution=area.institution, email="camat@example.test", name="Camat")
    db.session.commit()
    rows = [
        ("operator", "Siti Operator", "siti@example.test", v1.code, "", ""),
        ("Operator", "Budi Operator", "BUDI@example.test", v2.code, "", "Sekretaris Pekon"),
        ("camat", "Camat", "Camat@Example.test", district.code, "", ""),
        ("dpmp", "Validator", "validator@example.test", area.regency.code, "", ""),
    ]
    as_user(client, area.admin)
    page = client.get(f"/campaigns/{campaign.id}/people")
    assert page.status_code == 200
    check_markup(page.get_data(as_text=True))
    assert f"/campaigns/{campaign.id}/people" in client.get(f"/campaigns/{campaign.id}").get_data(
        as_text=True
    )
    done = post(client, campaign, rows, kind="xlsx")
    assert done.status_code == 302, done.get_data(as_text=True)
    html = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Accounts created: 3; existing accounts linked: 1; members added: 4." in html
    assert "Invitations being sent: 3." in html

    users = {u.email.lower(): u for u in db.session.scalars(select(User))}
    siti, budi = users["siti@example.test"], users["budi@example.test"]
    assert siti.office_region_id == v1.id and siti.institution_id == area.institution.id
    assert siti.position == "Operator pekon " + v1.name and not siti.password_hash
    assert budi.position == "Sekretaris Pekon" and budi.email == "BUDI@example.test"
    assert users["validator@example.test"].office_region_id == area.regency.id
    assert db.session.get(User, camat.id).office_region_id == district.id
    members = {
        (m.role, m.user_id, m.region_code)
        for m in db.session.scalars(
            select(CampaignMember).where(CampaignMember.campaign_id == campaign.id)
        )
    }
    assert members == {
        ("operator", siti.id, v1.code),
        ("operator", budi.id, v2.code),
        ("camat", camat.id, district.code),
        ("dpmp", users["validator@example.test"].id, area.regency.code),
    }
    invited = set(
        db.session.scalars(select(OneTimeToken.user_id).where(OneTimeToken.purpose == "invite"))
    )
    assert invited == {siti.id, budi.id, users["validator@example.test"].id}

    # The same file again: nothing new, the members already there are skipped.
    before = counts()
    again = post(client, campaign, rows)
    assert again.status_code == 302
    html = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "Accounts created: 0; existing accounts linked: 4; members added: 0." in html
    assert "Already members: 4." in html
    assert counts() == before


def test_bad_rows_are_shown_by_line_and_column_and_nothing_is_written(client, app):
    area = Area(with_people=False)
    campaign = campaign_of(area)
    v1 = area.villages[0]
    province = area.province
    elsewhere = Region(
        level="regency", name="Tanggamus", code=province.code + ".06", parent_id=province.id
    )
    other = Institution(code=f"other{campaign.id}", name="Lain", timezone="Asia/Jakarta")
    db.session.add_all([elsewhere, other])
    db.session.flush()
    create_user(institution=other, email="lain@example.test")
    db.session.commit()
    good = ("operator", "Siti", "siti@example.test", v1.code, "", "")
    rows = [
        good,  # line 2
        ("operator", "", "a@example.test", v1.code, "", ""),  # 3: name missing
        ("operator", "Ani", "ani@", v1.code, "", ""),  # 4: e-mail malformed
        ("bupati", "Ani", "b@example.test", v1.code, "", ""),  # 5: unknown role
        ("operator", "Ani", "c@example.test", "99.99.99", "", ""),  # 6: no such region
        ("dpmp", "Ani", "d@example.test", elsewhere.code, "", ""),  # 7: outside the area
        good,  # 8: the same row again
        ("camat", "Lain", "lain@example.test", v1.code, "", ""),  # 9: another institution
        ("operator", "=HYPERLINK()", "e@example.test", v1.code, "", ""),  # 10: formula
        ("operator", "Ani", "f@example.test", v1.code, "123", ""),  # 11: bad NIP
    ]
    expected = {
        3: ("nama", "Required"),
        4: ("email", "Not an e-mail address"),
        5: ("peran", "Unknown role; use one of: operator, camat, dpmp"),
        6: ("kode_wilayah", "No region has this code"),
        7: ("kode_wilayah", "outside the campaign"),
        8: ("_row", "on line 2"),
        9: ("email", "another institution"),
        10: ("nama", "Formulas are not allowed"),
        11: ("nip", ""),
    }
    as_user(client, area.admin)
    before = counts()
    refused = post(client, campaign, rows)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    check_markup(html)
    assert "nothing was imported" in html
    for line, (column, text) in expected.items():
        assert f'data-line="{line}" data-column="{column}"' in html, (line, column)
        assert text in html
    assert 'data-line="2"' not in html
    assert counts() == before

    # Whole-file refusals: unknown columns, and something that is no table.
    unknown = post(client, campaign, [good], header=(*HEADER[:4], "warna"))
    assert unknown.status_code == 422 and "warna" in unknown.get_data(as_text=True)
    url = f"/campaigns/{campaign.id}/people"
    pdf = client.post(
        url,
        data={
            "csrf_token": page_token(client, url),
            "file": (io.BytesIO(b"%PDF-1.4 x"), "orang.csv"),
        },
        content_type="multipart/form-data",
    )
    assert pdf.status_code == 422 and "is not a CSV or XLSX file" in pdf.get_data(as_text=True)
    assert counts() == before


def test_only_the_institutions_admin_imports(client, app):
    area = Area(villages=(1,))
    campaign = area.launch()
    stranger = Area(villages=(1,), with_people=False).admin
    url = f"/campaigns/{campaign.id}/people"
    before = counts()
    # A member of the campaign sees it but may not change its people.
    as_user(client, area.dpmp)
    assert client.get(url).status_code == 403
    row = ("operator", "X", "x@example.test", area.villages[0].code, "", "")
    token = page_token(client, "/")
    data = spreadsheets.csv_bytes(HEADER, [row])
    posted = client.post(
        url,
        data={"csrf_token": token, "file": (io.BytesIO(data), "orang.csv")},
        content_type="multipart/form-data",
    )
    assert posted.status_code == 403
    # An admin of another institution does not see it at all.
    as_user(client, stranger)
    assert client.get(url).status_code == 404
    assert counts() == before
