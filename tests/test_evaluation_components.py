"""Rubric components on the version 2 / PKP flows: the organizer's sikap perilaku sheet
written during the training, the panel's aksi perubahan only in evaluation, the result by
component, finalize with every sheet and the report seminar held, and the finalize confirm
step over HTTP (no JavaScript). Every refusal writes nothing."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from tests import factories
from tests.test_api import bearer
from tests.test_evaluation import counts
from tests.test_http_helpers import check_markup, english, login, page_token
from workflow.extensions import db
from workflow.models import AuditEvent, Case, ScoreSheet, Seminar
from workflow.models._base import utcnow
from workflow.services import Blocked, NotAvailable, perform
from workflow.services import evaluation as E

PANEL = ("examiner", "coach", "mentor")
DEFINITIONS = ["aksi_perubahan_pka", "aksi_perubahan_pkn2", "aksi_perubahan_pkp"]


def v2_world(key: str = "aksi_perubahan_pka", state: str = "implementation") -> factories.World:
    """A case on the newest definition, put in `state` directly (the scoring reads it)."""
    world = factories.World(key, version=None)
    world.case.state = state
    db.session.commit()
    return world


@pytest.fixture
def v2(app):
    return v2_world()


def scores_for(case, role: str, value: float) -> dict:
    return {a.key: {"value": value} for a in E.rubric_of(case).aspects_for(role)}


def submit(world, role: str, value: float, **extra):
    data = {"role": role, "scores": scores_for(world.case, role, value), **extra}
    if E.rubric_of(world.case).rates_milestones(role):
        data["ratings"] = {m.id: {"rating": "sesuai"} for m in E.short_term(world.case)}
    return perform(world.case, "submit_scores", world.by_role(role), data=data)


def hold_report_seminar(world) -> Seminar:
    start = utcnow() - timedelta(hours=2)
    seminar = Seminar(
        cohort_id=world.case.cohort_id,
        case_id=world.case.id,
        kind="report",
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        room="Ruang Mahakam 1",
        status="held",
        uid=f"test-report-{world.case.id}",
    )
    db.session.add(seminar)
    db.session.commit()
    return seminar


def all_in(world, panel=(90, 85, 80), organizer=80) -> None:
    submit(world, "organizer", organizer)
    world.case.state = "evaluation"
    db.session.commit()
    for role, value in zip(PANEL, panel, strict=True):
        submit(world, role, value)


# ---------------------------------------------------------------- sikap perilaku


@pytest.mark.parametrize("key", DEFINITIONS)
def test_the_organizer_submits_sikap_perilaku_during_implementation(app, key):
    world = v2_world(key)
    assert E.evaluator_roles(world.case, world.organizer) == {"organizer": None}
    assert E.is_open(world.case, "organizer") and not E.is_open(world.case, "examiner")
    event = submit(world, "organizer", 80, note="Aktif dan disiplin.")
    assert (event.from_state, event.to_state) == ("implementation", "implementation")
    assert event.data == {
        "role": "organizer",
        "subtotal": 24.0,  # 30 points × 80 / 100
        "scores": {"integrity": 80.0, "teamwork": 80.0, "discipline": 80.0, "initiative": 80.0},
        "ratings": {},  # sikap perilaku rates no milestone
    }
    sheet = E.stored_sheet(world.case, "organizer")
    assert sheet.is_submitted and sheet.subtotal == 24
    result = E.result_of(world.case)
    sikap = next(c for c in result.components if c.key == "sikap_perilaku")
    aksi = next(c for c in result.components if c.key == "aksi_perubahan")
    assert (sikap.points, sikap.missing) == (24, ())
    assert (aksi.points, aksi.missing) == (None, PANEL)
    assert result.missing == PANEL and result.total is None


def test_the_panel_cannot_score_before_the_evaluation(v2):
    world = v2
    before = counts()
    with pytest.raises(NotAvailable):
        E.save_draft(world.case, world.examiner, "examiner", scores={"substance": {"value": 80}})
    db.session.rollback()
    with pytest.raises(NotAvailable):
        submit(world, "examiner", 80)
    db.session.rollback()
    assert counts() == before


def test_the_organizers_sheet_rates_no_milestone(v2):
    world = v2
    m = world.case.milestones[0]
    before = counts()
    with pytest.raises(Blocked) as err:
        E.save_draft(
            world.case,
            world.organizer,
            "organizer",
            scores={"integrity": {"value": 90}},
            ratings={m.id: {"rating": "sesuai"}},
        )
    with force_locale("en"):
        assert str(err.value.fields[f"rating-{m.id}"]) == (
            "This assessment does not rate the milestones."
        )
    db.session.rollback()
    assert counts() == before


def test_the_examiner_scores_the_follow_up_of_the_seminar_feedback(v2):
    rubric = E.rubric_of(v2.case)
    assert [a.key for a in rubric.aspects_for("examiner")] == [
        "substance",
        "results",
        "presentation",
        "seminar_follow_up",
    ]


def test_a_v1_case_has_no_organizer_sheet(world):
    # The v1 rubric (no components) keeps scoring as before: the organizer scores nothing.
    assert E.evaluator_roles(world.case, world.organizer) == {}
    assert E.rubric_of(world.case).roles == PANEL


# ---------------------------------------------------------------- finalize


def test_finalize_with_every_sheet_and_the_seminar_held(v2):
    world = v2
    all_in(world)
    # 0.35·90 + 0.20·85 + 0.15·80 + 0.30·80 = 31.5 + 17 + 12 + 24
    result = E.result_of(world.case)
    assert (result.total, result.predicate.id, result.passed) == (84.5, "Memuaskan", True)
    assert [(c.key, c.points) for c in result.components] == [
        ("aksi_perubahan", 60.5),
        ("sikap_perilaku", 24),
    ]
    # Without the report seminar held, nothing is recorded.
    before = counts()
    with pytest.raises(Blocked) as err, force_locale("en"):
        perform(world.case, "finalize", world.organizer)
    with force_locale("en"):
        assert [str(r) for r in err.value.reasons] == ["No seminar is scheduled yet."]
    db.session.rollback()
    assert counts() == before
    seminar = hold_report_seminar(world)
    perform(world.case, "finalize", world.organizer)
    db.session.expire_all()
    case = db.session.get(Case, world.case.id)
    assert (case.state, case.final_score, case.predicate) == ("completed", 84.5, "Memuaskan")
    assert db.session.get(Seminar, seminar.id).outcome == "passed"


def test_finalize_waits_for_the_organizers_sheet(v2):
    world = v2
    world.case.state = "evaluation"
    db.session.commit()
    for role in PANEL:
        submit(world, role, 90)
    hold_report_seminar(world)
    before = counts()
    with pytest.raises(Blocked) as err, force_locale("en"):
        perform(world.case, "finalize", world.organizer)
    with force_locale("en"):
        assert [str(r) for r in err.value.reasons] == [
            "The organizer has not submitted the sikap perilaku assessment."
        ]
    db.session.rollback()
    assert counts() == before


def test_exactly_70_does_not_pass_on_v2(v2):
    world = v2
    all_in(world, panel=(70, 70, 70), organizer=70)
    hold_report_seminar(world)
    result = E.result_of(world.case)
    assert (result.total, result.predicate.id, result.passed) == (70, "Kurang Memuaskan", False)
    perform(world.case, "finalize", world.organizer)
    assert (world.case.state, world.case.predicate) == ("not_passed", "Kurang Memuaskan")


def test_returning_the_report_keeps_the_sikap_perilaku_sheet(v2):
    world = v2
    all_in(world)
    perform(world.case, "return_report", world.examiner, comment="Lengkapi bukti.")
    status = {s.role: E.status_of(s) for s in E.sheets_of(world.case)}
    assert status == {**dict.fromkeys(PANEL, "draft"), "organizer": "submitted"}
    # Back in implementation: sikap perilaku is submitted, so read-only.
    with pytest.raises(NotAvailable):
        E.save_draft(world.case, world.organizer, "organizer", scores={"integrity": {"value": 1}})
    db.session.rollback()


# ---------------------------------------------------------------- over HTTP


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def test_the_organizers_form_and_panel_during_implementation(client, v2):
    world = v2
    english(client)
    login(client, world.organizer)
    html = text(client.get(f"/cases/{world.case.id}"))
    check_markup(html)
    panel = html.split('id="evaluation-panel"')[1].split("</section>")[0]
    assert 'data-role="organizer" data-status="not_started"' in panel
    assert "scored during the training" in panel
    form = text(client.get(f"/cases/{world.case.id}/evaluation?role=organizer"))
    check_markup(form)
    assert "Attitude and conduct" in form and "weight 30" in form
    assert 'name="score-integrity"' in form and 'name="rating-' not in form
    # The panel's members see no panel before the evaluation.
    login(client, world.examiner)
    assert 'id="evaluation-panel"' not in text(client.get(f"/cases/{world.case.id}"))
    # The organizer submits without JavaScript: confirm, then submit.
    login(client, world.organizer)
    url = f"/cases/{world.case.id}/evaluation"
    token = page_token(client, url + "?role=organizer")
    data = {"role": "organizer", "csrf_token": token, "note": ""}
    data.update({f"score-{k}": "85" for k in ("integrity", "teamwork", "discipline", "initiative")})
    confirm = client.post(url, data={**data, "action": "confirm"})
    assert confirm.status_code == 200
    assert "Your points: 25.5 of 30." in text(confirm)
    version = E.stored_sheet(world.case, "organizer").version
    done = client.post(
        url, data={"role": "organizer", "csrf_token": token, "action": "submit", "version": version}
    )
    assert done.status_code == 302
    assert E.stored_sheet(world.case, "organizer").is_submitted


def finalize_url(case) -> str:
    return f"/cases/{case.id}/evaluation/finalize"


def test_the_finalize_confirm_step(client, v2):
    world = v2
    english(client)
    all_in(world)
    login(client, world.organizer)
    # The seminar not held: the panel and the confirm page say so, no finalize button.
    html = text(client.get(f"/cases/{world.case.id}"))
    panel = html.split('id="evaluation-panel"')[1].split("</section>")[0]
    assert 'data-ready="no"' in panel and "No seminar is scheduled yet." in panel
    assert 'data-component="sikap_perilaku"' in panel
    page = text(client.get(finalize_url(world.case)))
    assert "No seminar is scheduled yet." in page and "Yes, finalize" not in page

    hold_report_seminar(world)
    html = text(client.get(f"/cases/{world.case.id}"))
    assert f'href="{finalize_url(world.case)}"' in html
    response = client.get(finalize_url(world.case))
    assert response.status_code == 200
    page = text(response)
    check_markup(page)
    confirm = page.split('id="finalize-confirm"')[1].split("</section>")[0]
    assert "84.50" in confirm and "Very good" in confirm and "Passed" in confirm
    assert "Not passed" not in confirm
    result = page.split('id="eval-result"')[1]
    assert 'data-component="aksi_perubahan"' in result and "60.5" in result
    assert "Passed above 70 (Good or better)." in result
    assert world.case.state == "evaluation"  # the page alone changes nothing

    token = page_token(client, finalize_url(world.case))
    # A sheet changed since the page was shown: refused, nothing written.
    before = counts()
    stale = client.post(
        finalize_url(world.case), data={"csrf_token": token, "version": world.case.version - 1}
    )
    assert stale.status_code == 409 and "changed this case meanwhile" in text(stale)
    assert counts() == before
    # Without the token: refused.
    assert (
        client.post(finalize_url(world.case), data={"version": world.case.version}).status_code
        == 400
    )
    done = client.post(
        finalize_url(world.case), data={"csrf_token": token, "version": world.case.version}
    )
    assert done.status_code == 302 and done.location.endswith(f"/cases/{world.case.id}")
    db.session.expire_all()
    case = db.session.get(Case, world.case.id)
    assert (case.state, case.final_score) == ("completed", 84.5)
    assert "Result finalized: passed." in text(client.get(f"/cases/{world.case.id}"))


@pytest.mark.parametrize(("who", "status"), [("stranger", 404), ("trainee", 404), ("coach", 404)])
def test_the_confirm_step_is_for_who_finalizes(client, v2, who, status):
    world = v2
    all_in(world)
    hold_report_seminar(world)
    login(client, world.by_role(who))
    assert client.get(finalize_url(world.case)).status_code == status
    events = db.session.scalar(select(func.count(AuditEvent.id)))
    token = page_token(client, "/")
    response = client.post(
        finalize_url(world.case), data={"csrf_token": token, "version": world.case.version}
    )
    assert response.status_code == status
    assert db.session.scalar(select(func.count(AuditEvent.id))) == events
    assert world.case.state == "evaluation"


def test_the_v1_confirm_step_finalizes_as_before(client, world):
    from tests.test_evaluation import to_evaluation

    english(client)
    to_evaluation(world)
    factories.score_case(world, (70, 70, 70))
    login(client, world.organizer)
    page = text(client.get(finalize_url(world.case)))
    confirm = page.split('id="finalize-confirm"')[1].split("</section>")[0]
    # Exactly 70: the predicate and the result agree (it used to print "Passed" here).
    assert "70.00" in confirm and "Fair" in confirm and "Not passed" in confirm
    token = page_token(client, finalize_url(world.case))
    client.post(finalize_url(world.case), data={"csrf_token": token, "version": world.case.version})
    assert world.case.state == "not_passed"


# ---------------------------------------------------------------- API


def test_the_api_shows_components_and_subtotals(client, v2):
    world = v2
    all_in(world)
    body = client.get(
        f"/api/v1/cases/{world.case.id}/evaluation?lang=en", headers=bearer(world.organizer)
    ).json
    rubric = body["rubric"]
    assert [(c["key"], c["weight"], c["roles"]) for c in rubric["components"]] == [
        ("aksi_perubahan", 70, ["examiner", "coach", "mentor"]),
        ("sikap_perilaku", 30, ["organizer"]),
    ]
    assert rubric["components"][0]["states"] == ["evaluation"]
    assert rubric["components"][1]["rates_milestones"] is False
    assert [b["passed"] for b in rubric["bands"]] == [True, True, True, False, False]
    (mine,) = body["my_roles"]
    assert (mine["role"], mine["can_edit"]) == ("organizer", False)  # submitted
    assert mine["sheet"]["ratings"] == []
    result = body["result"]
    assert result["total"] == 84.5 and result["pass_mark"] == 70
    assert [(c["key"], c["points"]) for c in result["components"]] == [
        ("aksi_perubahan", 60.5),
        ("sikap_perilaku", 24),
    ]
    assert db.session.scalar(select(func.count(ScoreSheet.id))) == 4
