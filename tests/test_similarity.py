"""Near-duplicate detection on SQLite and PostgreSQL: vectors once per submission (a job),
scoping (another institution, another trainee's draft), the trainee's draft, the lexical
fallback when the model file is missing or corrupt, the review page's query count, the
cohort's clusters, the catch-up and `flask aksi embed`."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from flask import render_template
from flask_login import login_user
from sqlalchemy import select

import workflow.cli_similarity  # noqa: F401  (registers `flask aksi embed` until cli.py does)
from tests import factories
from tests.test_http_helpers import login
from tests.test_http_home import counting_statements
from workflow.extensions import db
from workflow.models import Cohort, CohortMember, Program
from workflow.models._base import utcnow
from workflow.models.similarity import CaseEmbedding
from workflow.services import perform, start_case
from workflow.services import similarity as S

ADMINDUK = (
    "Digitalisasi layanan administrasi kependudukan di kantor kecamatan",
    "Warga harus datang berkali-kali ke kecamatan untuk mengurus KTP dan kartu keluarga karena "
    "berkas diproses manual.",
)
ADMINDUK_REWORDED = (
    "Layanan adminduk kecamatan berbasis aplikasi daring",
    "Pengurusan KTP dan KK di kecamatan masih manual sehingga masyarakat bolak-balik ke kantor "
    "kecamatan.",
)
ADMINDUK_LOKET = (
    "Penambahan petugas loket pelayanan adminduk di kecamatan",
    "Antrean di loket kependudukan kecamatan panjang karena petugas loket hanya satu orang.",
)
MANGROVE = (
    "Rehabilitasi hutan mangrove bersama kelompok nelayan pesisir",
    "Abrasi pantai mengancam permukiman nelayan karena hutan bakau banyak ditebang.",
)
MANGROVE_REWORDED = (
    "Penanaman kembali bakau oleh masyarakat nelayan di wilayah pesisir",
    "Garis pantai terus tergerus abrasi setelah mangrove di pesisir rusak.",
)
PBB = (
    "Pembayaran pajak bumi dan bangunan melalui QRIS",
    "Wajib pajak enggan membayar PBB karena harus datang ke bank atau kantor desa.",
)


@pytest.fixture
def app(make_app):
    """The real model, whatever the suite's default (a suite may turn it off to save the
    ~0.1 s each submission costs elsewhere)."""
    app = make_app(AKSI_EMBEDDING_MODEL="auto")
    with app.app_context():
        yield app


def write(case, text) -> None:
    case.title, case.core_issue = text
    db.session.commit()


def new_case(world, text, *, cohort=None, submit=True):
    """Another trainee's case in the world's institution (its cohort unless given)."""
    trainee = factories.create_user()
    case = start_case(
        cohort or world.cohort,
        trainee,
        group=world.group if cohort is None else None,
        mentor=world.mentor,
        executive=world.executive,
    )
    factories.fill_proposal(case)
    write(case, text)
    if submit:
        perform(case, "submit", trainee)
    return case


def sibling_cohort(world) -> Cohort:
    """A later cohort of the same institution and program (the same dates: the proposal's
    milestones stay inside its implementation window)."""
    old = world.cohort
    cohort = Cohort(
        program=old.program,
        name="Angkatan berikutnya",
        year=old.year + 1,
        quota=40,
        definition_key=old.definition_key,
        definition_version=old.definition_version,
        **{name: getattr(old, name) for name in Cohort.PHASE_DATES},
    )
    db.session.add(cohort)
    db.session.commit()
    return cohort


def rows(case_id: int, source: str = "submitted") -> dict[str, tuple[int, str]]:
    found = db.session.execute(
        select(CaseEmbedding.model, CaseEmbedding.id, CaseEmbedding.text_hash).where(
            CaseEmbedding.case_id == case_id, CaseEmbedding.source == source
        )
    ).all()
    return {r.model: (r.id, r.text_hash) for r in found}


def matched(similar) -> dict[int, tuple[float, bool]]:
    return {m.case_id: (m.score, m.duplicate) for m in similar.matches}


# ---------------------------------------------------------------- once per submission


def test_a_submission_is_embedded_once_and_again_only_when_its_text_changed(world):
    write(world.case, ADMINDUK)
    assert rows(world.case.id) == {}  # a draft: nothing searchable
    perform(world.case, "submit", world.trainee)
    first = rows(world.case.id)
    assert set(first) == {S.MODEL_ID, S.LEXICAL_ID}

    perform(world.case, "request_revision", world.mentor, comment="Perjelas masalahnya.")
    perform(world.case, "submit", world.trainee)  # the same text again
    assert rows(world.case.id) == first

    perform(world.case, "request_revision", world.mentor, comment="Ganti judul.")
    write(world.case, ADMINDUK_REWORDED)
    perform(world.case, "submit", world.trainee)
    again = rows(world.case.id)
    assert set(again) == set(first)
    for model in first:
        assert again[model][0] > first[model][0]
        assert again[model][1] != first[model][1]
        assert again[model][1] == S.text_hash(S.proposal_text(*ADMINDUK_REWORDED))


def test_a_refused_submission_queues_no_embedding(world):
    write(world.case, ADMINDUK)
    world.case.title = ""  # incomplete: the guard refuses
    db.session.commit()
    with pytest.raises(Exception):  # noqa: B017  (Blocked)
        perform(world.case, "submit", world.trainee)
    db.session.rollback()
    assert db.session.scalar(select(CaseEmbedding.id)) is None


# ---------------------------------------------------------------- lookups and scoping


def test_the_review_lookup_finds_the_paraphrase_flagged_and_the_same_topic_unflagged(world):
    earlier = new_case(world, ADMINDUK, cohort=sibling_cohort(world))
    loket = new_case(world, ADMINDUK_LOKET)
    unrelated = new_case(world, PBB)
    write(world.case, ADMINDUK_REWORDED)
    perform(world.case, "submit", world.trainee)

    similar = S.similar_to(world.case)
    assert (similar.model, similar.basis, similar.pending) == (S.MODEL_ID, "submitted", False)
    found = matched(similar)
    assert found[earlier.id][1] is True and found[earlier.id][0] >= S.DUPLICATE[S.MODEL_ID]
    # Same topic, another action: shown when close enough, never flagged.
    assert found.get(loket.id, (0.0, False))[1] is False
    assert unrelated.id not in found
    assert world.case.id not in found
    assert [m.case_id for m in similar.matches][0] == earlier.id
    first = similar.matches[0]
    assert (first.cohort, first.year) == ("Angkatan berikutnya", world.cohort.year + 1)


def test_another_institution_and_another_trainees_draft_never_show(world):
    elsewhere = factories.World()  # another institution, the very same text submitted
    write(elsewhere.case, ADMINDUK)
    perform(elsewhere.case, "submit", elsewhere.trainee)
    draft = new_case(world, ADMINDUK, submit=False)  # a colleague's draft, same text
    write(world.case, ADMINDUK)
    perform(world.case, "submit", world.trainee)

    for similar in (S.similar_to(world.case), S.similar_to(elsewhere.case)):
        assert similar.matches == []
    # The colleague's own editor compares their draft, and finds the submitted one.
    assert list(matched(S.similar_to(draft, draft=True))) == [world.case.id]


def test_a_new_submission_reaches_a_process_that_already_loaded_the_index(world):
    write(world.case, MANGROVE)
    perform(world.case, "submit", world.trainee)
    assert S.similar_to(world.case).matches == []  # the index is now loaded
    later = new_case(world, MANGROVE_REWORDED)
    assert list(matched(S.similar_to(world.case))) == [later.id]
    # A resubmission replaces its vector in the loaded index rather than adding a row.
    perform(later, "request_revision", world.mentor, comment="Ubah.")
    write(later, PBB)
    perform(later, "submit", later.trainee)
    assert S.similar_to(world.case).matches == []


def test_the_trainees_draft_is_embedded_once_per_text_and_at_most_once_a_minute(world, client):
    new_case(world, ADMINDUK)
    write(world.case, ADMINDUK_REWORDED)
    login(client, world.trainee)
    page = client.get(f"/cases/{world.case.id}/similar", headers={"HX-Request": "true"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-basis="draft"' in html and f'data-engine="{S.MODEL_ID}"' in html
    draft_row = rows(world.case.id, "draft")
    assert set(draft_row) == {S.MODEL_ID}

    client.get(f"/cases/{world.case.id}/similar")  # the same text: no new vector
    assert rows(world.case.id, "draft") == draft_row

    write(world.case, ADMINDUK_LOKET)  # typed on within the minute: lexical meanwhile
    similar = S.similar_to(world.case, draft=True)
    assert (similar.model, similar.pending) == (S.LEXICAL_ID, True)
    assert rows(world.case.id, "draft") == draft_row

    db.session.execute(
        CaseEmbedding.__table__.update().values(created_at=utcnow() - timedelta(minutes=2))
    )
    db.session.commit()
    similar = S.similar_to(world.case, draft=True)
    assert (similar.model, similar.pending) == (S.MODEL_ID, False)
    assert rows(world.case.id, "draft")[S.MODEL_ID][0] > draft_row[S.MODEL_ID][0]
    assert rows(world.case.id) == {}  # a draft is never searchable


def test_the_case_page_of_similar_ones_is_scoped_to_who_may_see_the_case(world, client):
    login(client, world.stranger)
    assert client.get(f"/cases/{world.case.id}/similar").status_code == 404
    login(client, world.mentor)
    page = client.get(f"/cases/{world.case.id}/similar")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)


# ---------------------------------------------------------------- the lexical fallback


@pytest.fixture(params=["missing", "corrupt"])
def broken_model(request, tmp_path):
    path = tmp_path / "e5-small-q4.bin"
    if request.param == "corrupt":
        path.write_bytes(b"E5S1" + b"\x00" * 4096)  # the magic, then nothing sensible
    return request.param, str(path)


def test_a_missing_or_corrupt_model_falls_back_to_wording_and_tells_the_admin(
    make_app, broken_model, caplog
):
    reason, path = broken_model
    # Alembic's logging set-up (the template database's migration) disables loggers that
    # existed before it; this one did, imported with the test module.
    logging.getLogger("aksi.similarity").disabled = False
    app = make_app(AKSI_EMBEDDING_MODEL=path)
    with app.app_context(), caplog.at_level("WARNING", logger="aksi.similarity"):
        world = factories.World()
        earlier = new_case(world, MANGROVE)
        write(world.case, MANGROVE_REWORDED)
        perform(world.case, "submit", world.trainee)
        assert f"the embedding model is not used ({reason}" in caplog.text
        assert set(rows(world.case.id)) == {S.LEXICAL_ID}

        similar = S.similar_to(world.case)
        assert similar.model == S.LEXICAL_ID and similar.engine.reason == reason
        assert earlier.id in matched(similar)

        client = app.test_client()
        health = client.get("/healthz?details=1").json
        assert health["similarity"] == {
            "engine": "lexical",
            "model": S.LEXICAL_ID,
            "reason": reason,
        }
        assert client.get("/healthz").json == {"status": "ok"}

        admin = factories.create_user(
            is_admin=True, institution_id=world.cohort.program.institution_id
        )
        db.session.commit()
        with app.test_request_context("/"):
            login_user(admin)
            notice = render_template("similarity/_admin_notice.html")
            login_user(world.mentor)
            assert render_template("similarity/_admin_notice.html").strip() == ""
        assert "compares by wording only" in notice.lower() or "kata" in notice.lower()
        assert path in notice


def test_with_the_model_there_is_no_admin_notice_and_healthz_names_the_model(app, client):
    admin = factories.create_user(is_admin=True)
    db.session.commit()
    with app.test_request_context("/"):
        login_user(admin)
        assert render_template("similarity/_admin_notice.html").strip() == ""
    assert client.get("/healthz?details=1").json["similarity"] == {
        "engine": "model",
        "model": S.MODEL_ID,
        "reason": "ok",
    }


def test_turned_off_the_model_is_never_loaded(make_app):
    app = make_app(AKSI_EMBEDDING_MODEL="off")
    with app.app_context():
        assert S.engine_status().as_dict() == {
            "engine": "lexical",
            "model": S.LEXICAL_ID,
            "reason": "off",
        }


# ---------------------------------------------------------------- pages and query counts


def test_the_review_page_shows_similar_ones_in_queries_that_do_not_grow_with_them(world, client):
    write(world.case, ADMINDUK)
    perform(world.case, "submit", world.trainee)
    login(client, world.mentor)
    url = f"/cases/{world.case.id}/review"

    new_case(world, ADMINDUK_REWORDED)
    client.get(url)  # warm the index
    with counting_statements() as one:
        page = client.get(url)
    assert page.get_data(as_text=True).count('<li class="similar-item') == 1

    for text in (ADMINDUK, ADMINDUK_REWORDED, (ADMINDUK[0] + " Kabupaten Paser", ADMINDUK[1])):
        new_case(world, text)
    client.get(url)
    with counting_statements() as four:
        page = client.get(url)
    html = page.get_data(as_text=True)
    assert html.count('<li class="similar-item') == 4
    assert len(four) == len(one)
    assert "badge-danger" in html  # a likely near-duplicate is flagged


def test_the_editor_loads_the_panel_after_the_page(world, client):
    login(client, world.trainee)
    html = client.get(f"/cases/{world.case.id}/proposal/edit").get_data(as_text=True)
    assert f'hx-get="/cases/{world.case.id}/similar"' in html
    assert "aksiVersion from:body" in html


# ---------------------------------------------------------------- clusters


def test_the_organizer_sees_the_cohorts_near_duplicates_grouped(world, client):
    write(world.case, ADMINDUK)
    perform(world.case, "submit", world.trainee)
    a = new_case(world, ADMINDUK_REWORDED)
    b = new_case(world, MANGROVE)
    c = new_case(world, MANGROVE_REWORDED)
    alone = new_case(world, PBB)
    new_case(world, MANGROVE, submit=False)  # a draft: not compared

    result = S.cohort_clusters(world.cohort)
    assert (result.compared, result.submitted) == (5, 5)
    groups = sorted(sorted(m.case_id for m in cl.members) for cl in result.clusters)
    assert groups == sorted([sorted([world.case.id, a.id]), sorted([b.id, c.id])])
    assert all(alone.id not in g for g in groups)

    login(client, world.organizer)
    page = client.get(f"/cohorts/{world.cohort.id}/similar")
    assert page.status_code == 200
    assert page.get_data(as_text=True).count("data-cluster=") == 2
    for someone in (world.trainee, world.mentor, world.stranger):
        login(client, someone)
        assert client.get(f"/cohorts/{world.cohort.id}/similar").status_code == 404


def test_the_institution_admin_sees_the_clusters_too(world, client):
    admin = factories.create_user(is_admin=True, institution_id=world.cohort.program.institution_id)
    db.session.commit()
    login(client, admin)
    assert client.get(f"/cohorts/{world.cohort.id}/similar").status_code == 200


# ---------------------------------------------------------------- catch-up and CLI


def test_the_catch_up_embeds_what_a_lost_job_left_bounded(world):
    cases = [new_case(world, t) for t in (ADMINDUK, MANGROVE, PBB)]
    db.session.execute(CaseEmbedding.__table__.delete())
    db.session.commit()
    assert S.catch_up(limit=2) == 2
    assert S.catch_up(limit=2) == 1
    assert S.catch_up(limit=2) == 0
    for case in cases:
        assert set(rows(case.id)) == {S.MODEL_ID, S.LEXICAL_ID}


def test_flask_aksi_embed_fills_the_gaps_and_all_recomputes(world, runner):
    case = new_case(world, ADMINDUK)
    before = rows(case.id)
    db.session.execute(CaseEmbedding.__table__.delete().where(CaseEmbedding.model == S.MODEL_ID))
    db.session.commit()
    result = runner.invoke(args=["aksi", "embed"])
    assert result.exit_code == 0, result.output
    assert "1 of 1 proposals embedded" in result.output
    assert rows(case.id)[S.LEXICAL_ID] == before[S.LEXICAL_ID]

    result = runner.invoke(args=["aksi", "embed", "--all"])
    assert result.exit_code == 0 and "1 of 1 proposals embedded" in result.output
    assert rows(case.id)[S.LEXICAL_ID][0] > before[S.LEXICAL_ID][0]


def test_organizer_membership_of_another_cohort_gives_no_clusters(world, client):
    other = factories.World()
    db.session.add(CohortMember(cohort=other.cohort, user=world.organizer, role="coach"))
    db.session.commit()
    login(client, world.organizer)
    assert client.get(f"/cohorts/{other.cohort.id}/similar").status_code == 404
    assert db.session.get(Program, other.cohort.program_id) is not None


def test_clusters_compare_by_wording_while_the_model_is_behind_on_the_cohort(world):
    write(world.case, ADMINDUK)
    perform(world.case, "submit", world.trainee)
    twin = new_case(world, ADMINDUK)
    assert not S.cohort_clusters(world.cohort).lexical
    db.session.execute(
        CaseEmbedding.__table__.delete().where(
            CaseEmbedding.case_id == twin.id, CaseEmbedding.model == S.MODEL_ID
        )
    )
    db.session.commit()
    result = S.cohort_clusters(world.cohort)
    assert result.lexical and result.compared == 2
    assert [sorted(m.case_id for m in c.members) for c in result.clusters] == [
        sorted([world.case.id, twin.id])
    ]
