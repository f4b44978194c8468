"""The proposal editor over HTTP, and its API."""

from __future__ import annotations

import json

import pytest

from tests.test_http_helpers import check_markup, english, login, page_token
from workflow.extensions import db
from workflow.models import Case, Comment
from workflow.models.people import hash_token
from workflow.services import perform

MILESTONE = {
    "term": "short",
    "activity": "Rapat koordinasi",
    "output": "Notulen",
    "target_date": "2026-04-20",
    "target_quantity": "2",
    "target_unit": "kali",
    "units": "",
}


def fresh(case) -> Case:
    db.session.expire_all()
    return db.session.get(Case, case.id)


def editor(client, case):
    return client.get(f"/cases/{case.id}/proposal/edit")


def hx(client, url, data, token):
    return client.post(url, data=data, headers={"HX-Request": "true", "X-CSRFToken": token})


@pytest.fixture
def trainee(world, client):
    english(client)
    login(client, world.trainee)
    return page_token(client, f"/cases/{world.case.id}/proposal/edit")


def test_editor_shows_every_section_and_is_clean(world, client, trainee):
    db.session.add(
        Comment(
            case_id=world.case.id,
            author_id=world.coach.id,
            role="coach",
            section="core_issue",
            body="Pertajam <isu> inti",
        )
    )
    db.session.commit()
    response = editor(client, world.case)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    check_markup(html)
    for name in Case.PROPOSAL_TEXT_FIELDS:
        assert f'id="f-{name}"' in html
    for kind in ("stakeholders", "team", "milestones", "risks"):
        assert f'id="rows-{kind}"' in html
    assert "Pertajam &lt;isu&gt; inti" in html
    assert 'data-trigger="submit"' in html
    case_page = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    assert f"/cases/{world.case.id}/proposal/edit" in case_page


def test_autosave_field_saves_and_updates_version(world, client, trainee):
    version = world.case.version
    response = hx(
        client,
        f"/cases/{world.case.id}/proposal/fields/scope",
        {"scope": "<script>x()</script> Kecamatan", "version": version},
        trainee,
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="fs-scope"' in html and "Saved" in html
    assert 'hx-swap-oob="true"' in html  # the submit panel, with the new version
    assert json.loads(response.headers["HX-Trigger"]) == {"aksiVersion": {"value": version + 1}}
    assert fresh(world.case).scope == "<script>x()</script> Kecamatan"
    page = editor(client, world.case).get_data(as_text=True)
    assert "&lt;script&gt;x()&lt;/script&gt; Kecamatan" in page
    assert "<script>x()" not in page


def test_second_tab_with_old_version_gets_conflict_and_writes_nothing(world, client, trainee):
    old = world.case.version
    first = hx(
        client,
        f"/cases/{world.case.id}/proposal/fields/title",
        {"title": "Dari tab satu", "version": old},
        trainee,
    )
    assert first.status_code == 200
    second = hx(
        client,
        f"/cases/{world.case.id}/proposal/fields/title",
        {"title": "Dari tab dua", "version": old},
        trainee,
    )
    assert second.status_code == 409
    assert "another tab" in second.get_data(as_text=True)
    assert "HX-Trigger" not in second.headers
    assert fresh(world.case).title == "Dari tab satu"


def test_oversized_text_is_refused_beside_the_field(world, client, trainee):
    before = fresh(world.case).title
    response = hx(
        client,
        f"/cases/{world.case.id}/proposal/fields/title",
        {"title": "x" * 301, "version": world.case.version},
        trainee,
    )
    assert response.status_code == 422
    assert "at most 300" in response.get_data(as_text=True)
    assert fresh(world.case).title == before


def test_without_javascript_the_form_saves_and_keeps_typed_text_on_error(world, client, trainee):
    url = f"/cases/{world.case.id}/proposal/edit"
    data = {
        "csrf_token": trainee,
        "version": world.case.version,
        "title": "Judul",
        "core_issue": "y" * 10001,
    }
    response = client.post(url, data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "y" * 10001 in html  # nothing the user typed is lost
    assert 'value="Judul"' in html
    data["core_issue"] = "Isu inti baru"
    response = client.post(url, data=data)
    assert response.status_code == 302
    assert fresh(world.case).core_issue == "Isu inti baru"


def test_rows_add_move_update_remove(world, client, trainee):
    base = f"/cases/{world.case.id}/proposal/rows/milestones"
    v = world.case.version
    response = hx(client, base, {**MILESTONE, "version": v}, trainee)
    assert response.status_code == 200, response.get_data(as_text=True)
    check_markup(response.get_data(as_text=True))
    v += 1
    case = fresh(world.case)
    assert [m.activity for m in case.milestones] == ["Menyusun pedoman", "Rapat koordinasi"]
    assert hx(client, f"{base}/1/move/up", {"version": v}, trainee).status_code == 200
    v += 1
    assert [m.activity for m in fresh(world.case).milestones][0] == "Rapat koordinasi"
    response = hx(
        client, f"{base}/0", {**MILESTONE, "target_quantity": "-5", "version": v}, trainee
    )
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#row-milestones-0"
    assert "negative" in response.get_data(as_text=True)
    response = hx(client, f"{base}/0", {**MILESTONE, "activity": "Rapat", "version": v}, trainee)
    assert response.status_code == 200
    v += 1
    assert hx(client, f"{base}/1/remove", {"version": v}, trainee).status_code == 200
    assert [m.activity for m in fresh(world.case).milestones] == ["Rapat"]
    # A stale row change: conflict message above the section, nothing written.
    response = hx(client, f"{base}/0/remove", {"version": v}, trainee)
    assert response.status_code == 409
    assert response.headers["HX-Retarget"] == "#msg-milestones"
    assert len(fresh(world.case).milestones) == 1


def test_row_outside_window_is_refused(world, client, trainee):
    response = hx(
        client,
        f"/cases/{world.case.id}/proposal/rows/milestones",
        {**MILESTONE, "target_date": "2027-01-01", "version": world.case.version},
        trainee,
    )
    assert response.status_code == 422
    assert "implementation window" in response.get_data(as_text=True)
    assert ">Rapat koordinasi</textarea>" in response.get_data(as_text=True)
    assert len(fresh(world.case).milestones) == 1


def test_rows_without_javascript_redirect(world, client, trainee):
    response = client.post(
        f"/cases/{world.case.id}/proposal/rows/team",
        data={
            "name": "Budi",
            "role": "Sekretaris",
            "version": world.case.version,
            "csrf_token": trainee,
        },
    )
    assert response.status_code == 302
    assert fresh(world.case).team == [{"name": "Budi", "role": "Sekretaris"}]


@pytest.mark.parametrize(("role", "status"), [("mentor", 403), ("coach", 403), ("stranger", 404)])
def test_others_cannot_edit(world, client, role, status):
    login(client, world.by_role(role))
    token = page_token(client, "/")
    assert editor(client, world.case).status_code in (302, 404)
    response = hx(
        client,
        f"/cases/{world.case.id}/proposal/fields/title",
        {"title": "Bukan saya", "version": world.case.version},
        token,
    )
    assert response.status_code == status
    assert fresh(world.case).title != "Bukan saya"


def test_not_editable_redirects_and_refuses(world, client, trainee):
    perform(world.case, "submit", world.trainee)
    response = editor(client, world.case)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{world.case.id}")
    response = hx(
        client,
        f"/cases/{world.case.id}/proposal/fields/title",
        {"title": "Terlambat", "version": world.case.version},
        trainee,
    )
    assert response.status_code == 403
    assert fresh(world.case).title != "Terlambat"


def test_diff_page_for_reviewers(world, client):
    perform(world.case, "submit", world.trainee)
    perform(world.case, "request_revision", world.mentor, comment="Perbaiki")
    world.case.title = "Judul direvisi"
    db.session.commit()
    perform(world.case, "submit", world.trainee)
    english(client)
    login(client, world.mentor)
    response = client.get(f"/cases/{world.case.id}/proposal/diff")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    check_markup(html)
    assert "<ins>direvisi</ins>" in html
    login(client, world.stranger)
    assert client.get(f"/cases/{world.case.id}/proposal/diff").status_code == 404


# ---------------------------------------------------------------- API


def bearer(user, token="tok-" + "x" * 20):
    user.add_api_token_hash(hash_token(token))
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_api_get_and_patch(world, client):
    headers = bearer(world.trainee)
    url = f"/api/v1/cases/{world.case.id}/proposal"
    body = client.get(url, headers=headers).json
    assert body["editable"] is True
    v = body["version"]
    response = client.patch(
        url,
        json={"title": "Lewat API", "team": [{"name": "Ani"}]},
        headers={**headers, "If-Match": str(v)},
    )
    assert response.status_code == 200, response.json
    assert response.json["version"] == v + 1
    assert response.json["content"]["team"] == [{"name": "Ani", "role": ""}]
    stale = client.patch(url, json={"title": "Basi"}, headers={**headers, "If-Match": str(v)})
    assert stale.status_code == 409
    invalid = client.patch(
        url,
        json={"milestones": [{**MILESTONE, "target_date": "2030-01-01"}]},
        headers={**headers, "If-Match": str(v + 1)},
    )
    assert invalid.status_code == 422
    assert "milestones[0].target_date" in invalid.json["fields"]
    assert fresh(world.case).title == "Lewat API"


@pytest.mark.parametrize("role", ["mentor", "coach"])
def test_api_patch_forbidden_for_others(world, client, role):
    headers = bearer(world.by_role(role))
    response = client.patch(
        f"/api/v1/cases/{world.case.id}/proposal",
        json={"title": "X"},
        headers={**headers, "If-Match": str(world.case.version)},
    )
    assert response.status_code == 403
    assert (
        client.get(f"/api/v1/cases/{world.case.id}/proposal", headers=headers).json["editable"]
        is False
    )


def test_api_patch_refused_when_not_editable(world, client):
    perform(world.case, "submit", world.trainee)
    headers = bearer(world.trainee)
    url = f"/api/v1/cases/{world.case.id}/proposal"
    response = client.patch(
        url, json={"title": "X"}, headers={**headers, "If-Match": str(world.case.version)}
    )
    assert response.status_code == 403
    assert client.patch(url, json={"title": "X"}, headers=headers).status_code == 400


def test_api_submissions_and_diff(world, client):
    perform(world.case, "submit", world.trainee)
    perform(world.case, "request_revision", world.mentor, comment="Tambah tahapan")
    headers = bearer(world.trainee)
    url = f"/api/v1/cases/{world.case.id}"
    version = fresh(world.case).version
    patch = client.patch(
        f"{url}/proposal",
        headers={**headers, "If-Match": str(version)},
        json={
            "milestones": [
                {**MILESTONE, "activity": "Menyusun pedoman", "target_date": "2026-04-01"},
                MILESTONE,
            ]
        },
    )
    assert patch.status_code == 200, patch.json
    perform(fresh(world.case), "submit", world.trainee)
    items = client.get(f"{url}/submissions", headers=headers).json["items"]
    assert [i["number"] for i in items] == [1, 2]
    diff = client.get(f"{url}/submissions/2/diff", headers=headers).json
    assert diff["previous"] == 1
    changed = {s["field"]: s for s in diff["sections"] if s["changed"]}
    assert list(changed) == ["milestones"]
    assert [r["op"] for r in changed["milestones"]["rows"]][-1] == "added"
    first = client.get(f"{url}/submissions/1/diff", headers=headers).json
    assert first["previous"] is None
    assert client.get(f"{url}/submissions/3/diff", headers=headers).status_code == 404


def test_row_error_without_javascript_keeps_typed_values(world, client, trainee):
    response = client.post(
        f"/cases/{world.case.id}/proposal/rows/milestones",
        data={**MILESTONE, "target_date": "", "version": world.case.version, "csrf_token": trainee},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    check_markup(html)
    assert "The target date is missing." in html
    assert ">Rapat koordinasi</textarea>" in html
    assert len(fresh(world.case).milestones) == 1


def test_api_patch_with_nul_characters_is_400_and_writes_nothing(world, client):
    headers = bearer(world.trainee)
    before = fresh(world.case).scope
    response = client.patch(
        f"/api/v1/cases/{world.case.id}/proposal",
        json={"scope": "Ke\u0000camatan", "team": [{"name": "A\u0000ni", "x\u0000": 1}]},
        headers={**headers, "If-Match": str(world.case.version)},
    )
    assert response.status_code == 400 and response.json["message"]
    assert fresh(world.case).scope == before
