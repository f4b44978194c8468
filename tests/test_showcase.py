"""The public showcase: consent (who may give and withdraw it, recorded, refused changes
write nothing), the public-page matrix (field × consent × case state), withdrawal taking
the page down at once, photos, the organizer's list, the API."""

from __future__ import annotations

import io
from itertools import product

import pytest
from PIL import Image
from sqlalchemy import func, select

import blueprints.api_repository  # noqa: F401  (its routes attach to the API blueprint)
from tests import factories
from tests.test_http_helpers import check_markup, login, page_token
from workflow.extensions import db
from workflow.models import Comment, Document, Region
from workflow.models.showcase import ShowcaseConsent, ShowcasePhoto
from workflow.services import showcase as sc
from workflow.services.showcase_demo import give_demo_consents

# Each field of the case that could leak, with a value found nowhere else.
PUBLIC = {
    "title": "JUDUL-PUBLIK Layanan air bersih",
    "core_issue": "MASALAH-PUBLIK antrean panjang",
    "background_current": "KONDISI-PUBLIK saat ini",
    "agency": "DINAS-PUBLIK Air",
    "region": "KABUPATEN-PUBLIK",
    "output": "KELUARAN-PUBLIK aplikasi",
}
SECRET = {
    "trainee_name": "NAMA-PESERTA-RAHASIA",
    "trainee_email": "peserta-rahasia@example.test",
    "trainee_nip": "198001012006041001",
    "mentor_name": "NAMA-MENTOR-RAHASIA",
    "executive_name": "NAMA-PIMPINAN-RAHASIA",
    "innovation": "INOVASI-RAHASIA",
    "background_ideal": "IDEAL-RAHASIA",
    "team": "ANGGOTA-TIM-RAHASIA",
    "stakeholder": "PEMANGKU-RAHASIA",
    "comment": "KOMENTAR-RAHASIA",
    "predicate": "PREDIKAT-RAHASIA",
    "score": "93.125",
    "document": "DOKUMEN-RAHASIA.pdf",
    "lessons": "PELAJARAN-RAHASIA",
    "closing_note": "CATATAN-RAHASIA",
}
STATES = ("draft", "implementation", "evaluation", "completed", "not_passed", "withdrawn")
CONSENTS = ("none", "trainee", "institution", "both", "both_then_withdrawn")


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def _image(case, folder, name: str = "foto.jpg") -> Document:
    stored = f"s{case.id}-{name}"
    (folder / f"t-{stored}").write_bytes(_jpeg())
    doc = Document(
        case_id=case.id,
        kind="evidence",
        milestone_id=case.milestones[0].id,
        original_name=name,
        stored_name=stored,
        content_type="image/jpeg",
        size=10,
        sha256="0" * 64,
        thumb_name=f"t-{stored}",
        uploaded_by_id=case.trainee_id,
    )
    db.session.add(doc)
    db.session.flush()
    return doc


@pytest.fixture
def uploads(app, tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir()
    app.config["UPLOAD_DIR"] = str(folder)
    return folder


def _dressed(world, uploads):
    """The world's case with every field set to a marked value, and a secret document."""
    from workflow.models import Agency

    case = world.case
    province = Region(level="province", name="PROVINSI-PUBLIK", code="97")
    region = Region(level="regency", name=PUBLIC["region"], code="97.01", parent=province)
    world.trainee.agency = Agency(name=PUBLIC["agency"], region=region)
    world.trainee.name = SECRET["trainee_name"]
    world.trainee.email = SECRET["trainee_email"]
    world.trainee.nip = SECRET["trainee_nip"]
    world.mentor.name = SECRET["mentor_name"]
    world.executive.name = SECRET["executive_name"]
    case.title = PUBLIC["title"]
    case.core_issue = PUBLIC["core_issue"]
    case.background_current = PUBLIC["background_current"]
    case.background_ideal = SECRET["background_ideal"]
    case.innovation = SECRET["innovation"]
    case.team = [{"name": SECRET["team"], "role": "anggota"}]
    case.stakeholders = [{"name": SECRET["stakeholder"], "kind": "internal"}]
    case.predicate = SECRET["predicate"]
    case.final_score = float(SECRET["score"])
    case.milestones[0].output = PUBLIC["output"]
    case.milestones[0].closing_note = SECRET["closing_note"]
    case.milestones[0].achieved_quantity = 1
    db.session.add(
        Comment(case_id=case.id, author_id=world.mentor.id, role="mentor", body=SECRET["comment"])
    )
    factories.fill_final_report(case).lessons_learned = SECRET["lessons"]
    photo = _image(case, uploads)
    secret_doc = _image(case, uploads, SECRET["document"])
    secret_doc.content_type = "application/pdf"
    db.session.add(
        ShowcasePhoto(case_id=case.id, document_id=photo.id, chosen_by_id=world.trainee.id)
    )
    db.session.commit()
    return photo


def _consent(world, which: str) -> None:
    """Consent rows written directly (the rules are tested apart), in a passed state."""
    case = world.case
    if which in ("trainee", "both", "both_then_withdrawn"):
        db.session.add(
            ShowcaseConsent(case_id=case.id, party="trainee", given_by_id=world.trainee.id)
        )
    if which in ("institution", "both", "both_then_withdrawn"):
        db.session.add(
            ShowcaseConsent(case_id=case.id, party="institution", given_by_id=world.organizer.id)
        )
    db.session.commit()
    if which == "both_then_withdrawn":
        sc.withdraw_consent(case, world.trainee, "trainee")


@pytest.mark.parametrize(("state", "consent"), list(product(STATES, CONSENTS)))
def test_anonymous_sees_only_public_fields_of_consented_completed_cases(
    client, world, uploads, state, consent
):
    photo = _dressed(world, uploads)
    world.case.state = state
    db.session.commit()
    _consent(world, consent)
    shown = state == "completed" and consent == "both"
    case_id = world.case.id
    institution = world.cohort.program.institution
    pages = {
        "item": client.get(f"/showcase/actions/{case_id}"),
        "item_api": client.get(f"/api/v1/showcase/{case_id}"),
        "institution": client.get(f"/showcase/institutions/{institution.code}"),
        "institution_search": client.get(
            f"/showcase/institutions/{institution.code}", query_string={"q": "air bersih"}
        ),
        "cohort": client.get(f"/showcase/cohorts/{world.cohort.id}", query_string={"q": ""}),
        "list_api": client.get("/api/v1/showcase", query_string={"institution": institution.code}),
        "index": client.get("/showcase"),
    }
    photo_response = client.get(f"/showcase/actions/{case_id}/photos/{photo.id}.jpg")
    assert pages["item"].status_code == (200 if shown else 404)
    assert pages["item_api"].status_code == (200 if shown else 404)
    assert photo_response.status_code == (200 if shown else 404)
    for name, response in pages.items():
        assert response.status_code == 404 or response.headers["Cache-Control"] == "no-cache", name
        body = response.get_data(as_text=True)
        for field, value in SECRET.items():
            assert value not in body, (name, field)
        if response.status_code == 200 and response.mimetype == "text/html":
            check_markup(body)
        if not shown:
            assert PUBLIC["title"] not in body, name
    if shown:
        html = pages["item"].get_data(as_text=True)
        for field, value in PUBLIC.items():
            assert value in html, field
        assert f"/photos/{photo.id}.jpg" in html
        assert PUBLIC["title"] in pages["institution_search"].get_data(as_text=True)
        assert pages["list_api"].json["total"] == 1
        assert pages["item_api"].json["title"] == PUBLIC["title"]
        assert photo_response.data == (uploads / photo.thumb_name).read_bytes()


def test_withdrawn_consent_takes_the_page_down_at_once(client, world, uploads):
    photo = _dressed(world, uploads)
    world.case.state = "completed"
    db.session.commit()
    _consent(world, "both")
    page = client.get(f"/showcase/actions/{world.case.id}")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-cache"
    assert client.get(f"/showcase/actions/{world.case.id}/photos/{photo.id}.jpg").status_code == 200
    sc.withdraw_consent(world.case, world.organizer, "institution")
    assert client.get(f"/showcase/actions/{world.case.id}").status_code == 404
    assert client.get(f"/showcase/actions/{world.case.id}/photos/{photo.id}.jpg").status_code == 404
    assert client.get(f"/api/v1/showcase/{world.case.id}").status_code == 404
    # Given again: back, and the history keeps both rows of the institution.
    sc.give_consent(world.case, world.organizer, "institution")
    assert client.get(f"/showcase/actions/{world.case.id}").status_code == 200
    rows = db.session.scalars(
        select(ShowcaseConsent).where(ShowcaseConsent.party == "institution")
    ).all()
    assert len(rows) == 2 and rows[0].withdrawn_by_id == world.organizer.id


# ---------------------------------------------------------------- consent rules

RULES = [
    # (actor, party, state, outcome)
    ("trainee", "trainee", "completed", "ok"),
    ("organizer", "institution", "completed", "ok"),
    ("admin", "institution", "completed", "ok"),
    ("trainee", "institution", "completed", 403),
    ("organizer", "trainee", "completed", 403),
    ("mentor", "trainee", "completed", 403),
    ("mentor", "institution", "completed", 403),
    ("coach", "institution", "completed", 403),
    ("stranger", "trainee", "completed", 403),
    ("other_admin", "institution", "completed", 403),
    ("trainee", "trainee", "implementation", 409),
    ("organizer", "institution", "not_passed", 409),
    ("trainee", "someone", "completed", 422),
]


@pytest.mark.parametrize(("actor", "party", "state", "outcome"), RULES)
def test_who_may_give_consent_and_refusals_write_nothing(world, actor, party, state, outcome):
    people = {
        "admin": factories.create_user(
            is_admin=True, institution_id=world.cohort.program.institution_id
        ),
        "other_admin": factories.create_user(
            is_admin=True, institution_id=factories.create_cohort().program.institution_id
        ),
    }
    world.case.state = state
    db.session.commit()
    user = people.get(actor) or world.by_role(actor)
    if outcome == "ok":
        consent = sc.give_consent(world.case, user, party)
        assert (consent.given_by_id, consent.party) == (user.id, party)
        assert consent.given_at is not None
        assert sc.withdraw_consent(world.case, user, party) is True
        return
    with pytest.raises(sc.ShowcaseRefused) as refused:
        sc.give_consent(world.case, user, party)
    assert refused.value.status == outcome
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ShowcaseConsent)) == 0


def test_photos_are_chosen_among_own_evidence_images(world, uploads):
    world.case.state = "completed"
    db.session.commit()
    mine = [_image(world.case, uploads, f"f{i}.jpg") for i in range(7)]
    other = factories.World()
    theirs = _image(other.case, uploads)
    db.session.commit()
    assert sc.choose_photos(world.case, world.trainee, [mine[1].id, mine[0].id]) == [
        mine[1].id,
        mine[0].id,
    ]
    for actor, chosen, status in [
        (world.trainee, [theirs.id], 422),
        (world.trainee, [m.id for m in mine], 422),  # seven: too many
        (world.mentor, [mine[2].id], 403),
    ]:
        with pytest.raises(sc.ShowcaseRefused) as refused:
            sc.choose_photos(world.case, actor, chosen)
        assert refused.value.status == status
        db.session.rollback()
    assert sc.chosen_photo_ids(world.case.id) == [mine[1].id, mine[0].id]


# ---------------------------------------------------------------- pages behind login


def test_trainee_card_and_organizer_list(client, world, uploads):
    world.case.state = "completed"
    photo = _image(world.case, uploads)
    db.session.commit()
    login(client, world.trainee)
    page = client.get(f"/showcase/manage/cases/{world.case.id}")
    assert page.status_code == 200
    check_markup(page.get_data(as_text=True))
    token = page_token(client, f"/showcase/manage/cases/{world.case.id}")
    response = client.post(
        f"/showcase/manage/cases/{world.case.id}/consent",
        data={"party": "trainee", "action": "give", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and 'id="showcase-card"' in response.get_data(as_text=True)
    response = client.post(
        f"/showcase/manage/cases/{world.case.id}/photos",
        data={"document_id": [str(photo.id)], "csrf_token": token},
    )
    assert response.status_code == 200 and sc.chosen_photo_ids(world.case.id) == [photo.id]
    # The trainee cannot give the institution's consent: refused, nothing written.
    response = client.post(
        f"/showcase/manage/cases/{world.case.id}/consent",
        data={"party": "institution", "action": "give", "csrf_token": token},
    )
    assert response.status_code == 403
    assert sc.open_consents([world.case.id])[world.case.id].keys() == {"trainee"}
    assert client.get(f"/showcase/manage/cohorts/{world.cohort.id}").status_code == 404
    login(client, world.organizer)
    page = client.get(f"/showcase/manage/cohorts/{world.cohort.id}")
    assert page.status_code == 200
    check_markup(page.get_data(as_text=True))
    token = page_token(client, f"/showcase/manage/cohorts/{world.cohort.id}")
    response = client.post(
        f"/showcase/manage/cases/{world.case.id}/consent",
        data={"party": "institution", "action": "give", "back": "cohort", "csrf_token": token},
    )
    assert response.status_code == 302
    assert client.get(f"/showcase/actions/{world.case.id}").status_code == 200


def test_consent_api(client, world):
    world.case.state = "completed"
    db.session.commit()
    trainee = {"Authorization": f"Bearer {world.trainee.issue_api_token()}"}
    organizer = {"Authorization": f"Bearer {world.organizer.issue_api_token()}"}
    db.session.commit()
    url = f"/api/v1/cases/{world.case.id}/showcase"
    state = client.get(url, headers=trainee).json
    assert state["may_consent_for"] == ["trainee"] and state["public"] is False
    assert (
        client.post(url + "/consent", json={"party": "institution"}, headers=trainee).status_code
        == 403
    )
    assert (
        client.post(url + "/consent", json={"party": "trainee"}, headers=trainee).status_code == 200
    )
    state = client.post(url + "/consent", json={"party": "institution"}, headers=organizer).json
    assert state["public"] is True and state["public_url"].endswith(f"/{world.case.id}")
    assert client.get(f"/api/v1/showcase/{world.case.id}").status_code == 200
    assert client.delete(url + "/consent/trainee", headers=trainee).json["public"] is False
    assert client.get(f"/api/v1/showcase/{world.case.id}").status_code == 404
    assert client.get(url, headers={}).status_code == 401


def test_demo_gives_consent_to_completed_cases(world, uploads):
    world.case.state = "completed"
    _image(world.case, uploads)
    db.session.commit()
    shown = give_demo_consents(limit=2)
    assert shown == [world.case.id]
    assert sc.is_public(world.case) and len(sc.chosen_photo_ids(world.case.id)) == 1
    assert give_demo_consents(limit=2) == [world.case.id]  # idempotent
