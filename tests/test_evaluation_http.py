"""The assessment over HTTP: the form, the autosaved draft, field errors that keep what was
typed, the confirm step and submission, the panel on the case page, CSRF, scoping, and the
evaluator's queue with a query count that does not grow with its rows."""

from __future__ import annotations

from html import unescape

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.factories import score_case
from tests.test_evaluation import COACH, EXAMINER, MENTOR, counts, rated, to_evaluation
from tests.test_http_helpers import act, check_markup, english, login, page_token
from tests.test_http_home import counting_statements
from workflow.extensions import db
from workflow.models import ScoreSheet
from workflow.services import evaluation as E
from workflow.services import perform, start_case


@pytest.fixture
def evaluating(world):
    to_evaluation(world)
    return world


def form_url(case, role=None) -> str:
    return f"/cases/{case.id}/evaluation" + (f"?role={role}" if role else "")


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def full_form(world, value="85", rating="sesuai", **extra) -> dict:
    """The examiner's whole form as the browser posts it."""
    m = world.case.milestones[0]
    data = {"role": "examiner", "note": "Catatan umum."}
    for key in EXAMINER:
        data[f"score-{key}"] = value
        data[f"note-{key}"] = f"Catatan {key}"
    data[f"rating-{m.id}"] = rating
    data[f"rating-note-{m.id}"] = ""
    data.update(extra)
    return data


def post_form(client, world, data, token=None):
    token = token or page_token(client, form_url(world.case))
    return client.post(form_url(world.case), data={**data, "csrf_token": token})


def autosave(client, world, data, version, token=None):
    token = token or page_token(client, form_url(world.case))
    return client.post(
        f"/cases/{world.case.id}/evaluation/draft",
        data={**data, "version": str(version)},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )


def test_the_form_shows_the_rubric_of_the_role(client, evaluating):
    world = evaluating
    english(client)
    login(client, world.examiner)
    response = client.get(form_url(world.case))
    assert response.status_code == 200
    html = text(response)
    check_markup(html)
    for key in EXAMINER:
        assert f'name="score-{key}"' in html and f'name="note-{key}"' in html
    for key in COACH + MENTOR:
        assert f'name="score-{key}"' not in html
    assert 'inputmode="decimal"' in html
    assert "Substance of the change action" in html and "weight 20" in html
    m = world.case.milestones[0]
    assert html.count(f'name="rating-{m.id}"') == 3  # kurang, sesuai, melampaui
    assert "Below target" in html and "Above target" in html
    assert "0 of 1 dokumen" in html  # target against achievement
    assert "Save draft" in html and "Submit assessment" in html
    assert 'hx-trigger="change"' in html


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        ("stranger", "", 404),
        ("stranger", "?role=examiner", 404),
        ("coach", "?role=examiner", 404),  # a role not held
        ("trainee", "", 200),
        ("organizer", "", 200),
    ],
)
def test_the_page_is_scoped(client, evaluating, who, path, status):
    login(client, evaluating.by_role(who))
    response = client.get(f"/cases/{evaluating.case.id}/evaluation{path}")
    assert response.status_code == status
    if status == 200:
        assert 'id="eval-form"' not in text(response)


def test_autosave_answers_a_save_state_and_the_next_version(client, evaluating):
    world = evaluating
    english(client)
    login(client, world.examiner)
    token = page_token(client, form_url(world.case))
    response = autosave(client, world, {"role": "examiner", "score-substance": "88"}, 0, token)
    assert response.status_code == 200
    html = text(response)
    assert 'id="fs-sheet"' in html and "Saved" in html
    sheet = E.stored_sheet(world.case, "examiner")
    assert E.values_of(sheet) == {"substance": 88}
    assert f'id="sheet-version" name="version" value="{sheet.version}" hx-swap-oob="true"' in html
    assert 'id="err-score-substance"' in html  # every field's message slot is cleared
    # A bad value: the message beside the field, nothing saved.
    before = counts()
    bad = autosave(
        client,
        world,
        {"role": "examiner", "score-substance": "150", "score-results": "70"},
        sheet.version,
        token,
    )
    assert bad.status_code == 422
    html = text(bad)
    assert "The score must be a number from 0 to 100." in html.split('id="err-score-substance"')[1]
    assert counts() == before
    assert E.values_of(E.stored_sheet(world.case, "examiner")) == {"substance": 88}
    # A stale version (another tab saved meanwhile): a conflict with a reload link.
    stale = autosave(client, world, {"role": "examiner", "score-results": "70"}, 0, token)
    assert stale.status_code == 409
    assert "another tab" in text(stale) and "Reload" in text(stale)
    assert counts() == before


def test_field_errors_keep_what_was_typed(client, evaluating):
    world = evaluating
    english(client)
    login(client, world.examiner)
    before = counts()
    response = post_form(
        client,
        world,
        full_form(world, **{"score-substance": "abc", "score-results": "100.5"}, action="draft"),
    )
    assert response.status_code == 422
    html = text(response)
    check_markup(html)
    assert 'value="abc"' in html and 'value="100.5"' in html and 'value="85"' in html
    assert "Catatan substance" in html
    for key in ("substance", "results"):
        slot = html.split(f'id="err-score-{key}"')[1].split("</p>")[0]
        assert "The score must be a number from 0 to 100." in slot
    assert 'aria-invalid="true"' in html
    assert counts() == before


def test_save_draft_then_confirm_then_submit(client, evaluating):
    world = evaluating
    english(client)
    login(client, world.examiner)
    saved = post_form(client, world, full_form(world, action="draft"))
    assert saved.status_code == 302
    assert E.status_of(E.stored_sheet(world.case, "examiner")) == "draft"
    # An incomplete sheet cannot go to the confirm step: what is missing is listed.
    incomplete = post_form(
        client, world, {"role": "examiner", "score-presentation": "", "action": "confirm"}
    )
    assert incomplete.status_code == 422
    assert "“Presentation and command” has no score yet." in text(incomplete)
    # Complete: the confirm step shows the sheet and the points, nothing submitted yet.
    confirm = post_form(client, world, full_form(world, action="confirm"))
    assert confirm.status_code == 200
    html = text(confirm)
    check_markup(html)
    assert "Check and submit your assessment" in html and "42.5 of 50" in html
    assert E.status_of(E.stored_sheet(world.case, "examiner")) == "draft"
    version = E.stored_sheet(world.case, "examiner").version
    events = counts()[3]
    done = post_form(
        client, world, {"role": "examiner", "action": "submit", "version": str(version)}
    )
    assert done.status_code == 302
    sheet = E.stored_sheet(world.case, "examiner")
    assert sheet.is_submitted and sheet.subtotal == 42.5
    assert counts()[3] == events + 1
    # Read-only now; the others' submitted sheets show, never a draft.
    E.save_draft(world.case, world.mentor, "mentor", scores={"performance": {"value": 70}})
    perform(
        world.case,
        "submit_scores",
        world.coach,
        data={
            "role": "coach",
            "scores": {k: {"value": 80} for k in COACH},
            "ratings": rated(world),
        },
    )
    html = text(client.get(form_url(world.case)))
    check_markup(html)
    assert 'id="eval-form"' not in html
    assert 'id="sheet-examiner"' in html and 'id="sheet-coach"' in html
    assert 'id="sheet-mentor"' not in html
    # A second submission is refused, and says why.
    again = post_form(
        client, world, {"role": "examiner", "action": "submit", "version": str(sheet.version)}
    )
    assert again.status_code == 409 and "no longer be changed" in text(again)


def test_posts_need_the_csrf_token(client, evaluating):
    world = evaluating
    login(client, world.examiner)
    before = counts()
    response = client.post(form_url(world.case), data=full_form(world, action="draft"))
    assert response.status_code == 400
    response = client.post(
        f"/cases/{world.case.id}/evaluation/draft",
        data={"role": "examiner", "score-substance": "80", "version": "0"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 400
    assert counts() == before


def test_strangers_cannot_post(client, evaluating):
    world = evaluating
    login(client, world.stranger)
    token = page_token(client, "/")
    before = counts()
    assert post_form(client, world, full_form(world, action="draft"), token).status_code == 404
    login(client, world.trainee)  # sees the case, holds no evaluator role
    token = page_token(client, form_url(world.case))
    assert post_form(client, world, full_form(world, action="draft"), token).status_code == 404
    assert counts() == before


def test_the_case_panel_and_finalize(client, evaluating):
    world = evaluating
    english(client)
    score_case(world, roles=("coach",), drafts=("examiner",))
    login(client, world.organizer)
    html = text(client.get(f"/cases/{world.case.id}"))
    check_markup(html)
    panel = html.split('id="evaluation-panel"')[1].split("</section>")[0]
    assert 'data-role="coach" data-submitted="yes"' in panel
    assert 'data-role="examiner" data-submitted="no"' in panel
    assert "Points so far: 25.5" in panel
    assert "The examiner has not submitted the assessment." in panel
    assert "The mentor has not submitted the assessment." in panel
    # Finalize is blocked, naming the missing roles.
    blocked = act(client, world.case, "finalize")
    assert blocked.status_code == 422
    assert "The examiner has not submitted the assessment." in text(blocked)

    # The examiner's panel: their own sheet, a draft to continue.
    login(client, world.examiner)
    html = text(client.get(f"/cases/{world.case.id}"))
    assert 'data-role="examiner" data-status="draft"' in html
    assert "Continue scoring (draft)" in html and "Points so far" not in html

    score_case(world, roles=("examiner", "mentor"))
    login(client, world.organizer)
    html = text(client.get(f"/cases/{world.case.id}"))
    assert "Result if finalized now:" in html and "86.50" in html
    done = act(client, world.case, "finalize")
    assert done.status_code == 302
    # Everyone on the case sees the result, with the assessment sheet.
    for who in ("trainee", "mentor", "organizer"):
        login(client, world.by_role(who))
        html = text(client.get(f"/cases/{world.case.id}"))
        check_markup(html)
        panel = html.split('id="evaluation-panel"')[1].split("</section>")[0]
        assert "86.50" in panel and "Very good" in panel and "Passed" in panel
        assert f"/cases/{world.case.id}/assessment.pdf" in panel
    # The trainee now reads every sheet.
    html = text(client.get(form_url(world.case)))
    assert all(f'id="sheet-{r}"' in html for r in ("examiner", "coach", "mentor"))


def test_the_trainee_sees_no_sheet_before_finalize(client, evaluating):
    world = evaluating
    english(client)
    score_case(world)
    login(client, world.trainee)
    html = text(client.get(form_url(world.case)))
    assert 'id="sheet-' not in html and "once the result is finalized" in html
    html = text(client.get(f"/cases/{world.case.id}"))
    assert "Points so far" not in html and "Result if finalized now" not in html


# ---------------------------------------------------------------- the queue


def _cases_in_evaluation(world, n: int) -> None:
    """n more cases of the world's group in evaluation (the state set directly: the queue
    only reads), every third with a draft and every third with a submitted sheet."""
    for i in range(n):
        trainee = factories.create_user()
        case = start_case(
            world.cohort, trainee, group=world.group, mentor=world.mentor, executive=world.executive
        )
        case.title = f"Aksi {i}"
        case.state = "evaluation"
        db.session.flush()
        if i % 3:
            db.session.add(
                ScoreSheet(
                    case_id=case.id,
                    role="examiner",
                    evaluator_id=world.examiner.id,
                    rubric_key="pka",
                    submitted_at=db.func.now() if i % 3 == 2 else None,
                )
            )
    db.session.commit()


def test_the_queue_lists_each_sheet_and_its_status(client, evaluating):
    world = evaluating
    english(client)
    _cases_in_evaluation(world, 3)
    login(client, world.examiner)
    response = client.get("/evaluation")
    assert response.status_code == 200
    html = text(response)
    check_markup(html)
    rows = html.count('<tr data-case="')
    assert rows == 4
    assert html.count('data-status="not_started"') == 2
    assert html.count('data-status="draft"') == 1
    assert html.count('data-status="submitted"') == 1
    assert "15 Jun 2026" in html and world.group.name in html
    # The stranger assesses nothing; the mentor assesses the world's cases as mentor.
    login(client, world.stranger)
    assert "No case waits for your assessment." in text(client.get("/evaluation"))
    login(client, world.mentor)
    html = text(client.get("/evaluation"))
    assert html.count('data-role="mentor"') == 4


def test_the_queue_costs_the_same_for_2_and_12_cases(client, evaluating):
    world = evaluating
    login(client, world.examiner)
    _cases_in_evaluation(world, 1)
    with counting_statements() as few:
        assert client.get("/evaluation").status_code == 200
    _cases_in_evaluation(world, 10)
    with counting_statements() as many:
        html = text(client.get("/evaluation"))
    assert html.count('<tr data-case="') == 12
    assert len(many) == len(few)
    assert db.session.scalar(select(func.count(ScoreSheet.id))) > 0
