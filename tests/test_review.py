"""Reviewers' pages: the mentor's queue and review page, section comments, the coach's view,
the executive's endorsement queue and bulk endorsement."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.test_http_helpers import act, check_markup, english, login, page_token, triggers_in
from tests.test_http_home import counting_statements
from workflow.extensions import db
from workflow.models import AuditEvent, Comment, Group
from workflow.services import Blocked, Forbidden, perform, reviews, start_case
from workflow.services.actions import available_actions

PAST = date(2020, 1, 6)
FUTURE = date(2099, 1, 5)


def events_of(case, trigger: str | None = None) -> int:
    query = select(func.count()).where(AuditEvent.case_id == case.id)
    if trigger:
        query = query.where(AuditEvent.trigger == trigger)
    return db.session.scalar(query)


def comments_count() -> int:
    return db.session.scalar(select(func.count(Comment.id)))


def new_case(world, steps=(), *, title=None, due=None, group=None, mentor=None, executive=None):
    """Another case in the world's cohort, moved through `steps` ((trigger, role) pairs)."""
    trainee = factories.create_user()
    case = start_case(
        world.cohort,
        trainee,
        group=group or world.group,
        mentor=mentor or world.mentor,
        executive=executive or world.executive,
    )
    factories.fill_proposal(case)
    case.title = title or f"Aksi {trainee.id}"
    db.session.flush()
    for trigger, role in steps:
        actor = trainee if role == "trainee" else getattr(world, role)
        data = (
            {"letter_number": "800/1", "letter_date": "2026-11-20"}
            if trigger == "endorse"
            else None
        )
        perform(case, trigger, actor, data=data)
    if due is not None:
        case.due_date = due
    db.session.commit()
    return case


SUBMITTED = (("submit", "trainee"),)
APPROVED = (*SUBMITTED, ("approve", "mentor"))
ENDORSED = (*APPROVED, ("endorse", "executive"))


def titles_in_order(html: str, titles: list[str]) -> list[str]:
    found = [(html.find(t), t) for t in titles if t in html]
    return [t for _, t in sorted(found)]


# ---------------------------------------------------------------- mentor queue


def test_mentor_queue_lists_only_cases_awaiting_the_mentor_oldest_due_first(client, world):
    english(client)
    late = new_case(world, SUBMITTED, title="Late one", due=PAST)
    soon = new_case(world, SUBMITTED, title="Due soon", due=date(2098, 1, 5))
    later = new_case(world, SUBMITTED, title="Due later", due=FUTURE)
    new_case(world, (), title="Still a draft")
    new_case(world, APPROVED, title="Already approved")
    other_mentor = factories.create_user()
    new_case(world, SUBMITTED, title="Someone else's", mentor=other_mentor)

    assert [c.id for c in reviews.mentor_queue(world.mentor)] == [late.id, soon.id, later.id]
    login(client, world.mentor)
    response = client.get("/mentor")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    check_markup(html)
    assert titles_in_order(html, ["Late one", "Due soon", "Due later"]) == [
        "Late one",
        "Due soon",
        "Due later",
    ]
    for absent in ("Still a draft", "Already approved", "Someone else's"):
        assert absent not in html
    assert f"/cases/{late.id}/review" in html
    # Only the late one is flagged overdue.
    rows = html.split('class="queue-row')[1:]
    flagged = [r for r in rows if "Overdue" in r]
    assert len(flagged) == 1 and "Late one" in flagged[0]


def test_mentor_queue_is_empty_for_people_who_mentor_nothing(client, world):
    english(client)
    new_case(world, SUBMITTED, title="Waiting")
    for role in ("trainee", "coach", "executive", "stranger"):
        assert reviews.mentor_queue(world.by_role(role)) == []
    login(client, world.coach)
    html = client.get("/mentor").get_data(as_text=True)
    assert "No proposal waits for your review." in html


def test_queue_pages_need_login(client, world):
    for path in ("/mentor", "/coach", "/pimpinan"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


# ---------------------------------------------------------------- review page


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("mentor", 200),
        ("coach", 200),
        ("executive", 200),
        ("organizer", 200),
        ("trainee", 403),
        ("examiner", 403),
        ("stranger", 404),
    ],
)
def test_review_page_is_for_reviewers_of_the_case(client, world, role, status):
    perform(world.case, "submit", world.trainee)
    login(client, world.by_role(role))
    response = client.get(f"/cases/{world.case.id}/review")
    assert response.status_code == status
    if status == 200:
        check_markup(response.get_data(as_text=True))


def test_review_page_of_a_missing_case_is_404(client, world):
    login(client, world.mentor)
    assert client.get("/cases/999999/review").status_code == 404


def test_review_page_shows_first_submission_then_the_diff(client, world):
    english(client)
    perform(world.case, "submit", world.trainee)
    login(client, world.mentor)
    html = client.get(f"/cases/{world.case.id}/review").get_data(as_text=True)
    assert "First submission" in html or "first submission" in html
    assert world.case.core_issue in html

    perform(world.case, "request_revision", world.mentor, comment="Perjelas isu inti.")
    world.case.core_issue = "Isu inti yang sudah diperjelas."
    db.session.commit()
    perform(world.case, "submit", world.trainee)
    html = client.get(f"/cases/{world.case.id}/review").get_data(as_text=True)
    diff = html.split('id="diff"')[1].split('id="proposal-title"')[0]
    assert "Submission 1 compared with submission 2." in diff
    assert "Core issue" in diff and "diperjelas" in diff and "<ins>" in diff
    assert "Current condition" not in diff  # unchanged sections are not listed


def test_mentor_approves_from_the_review_page_with_htmx(client, world):
    perform(world.case, "submit", world.trainee)
    login(client, world.mentor)
    page = client.get(f"/cases/{world.case.id}/review").get_data(as_text=True)
    assert triggers_in(page) == ["approve", "request_revision"]
    assert f'hx-post="/cases/{world.case.id}/actions/approve"' in page
    token = page_token(client, f"/cases/{world.case.id}/review")
    response = act(client, world.case, "approve", htmx=True, token=token)
    assert response.status_code == 200
    assert 'id="case-status"' in response.get_data(as_text=True)
    db.session.refresh(world.case)
    assert world.case.state == "endorsement_pending"
    assert events_of(world.case, "approve") == 1


def test_request_revision_from_the_review_page_needs_a_comment(client, world):
    english(client)
    perform(world.case, "submit", world.trainee)
    login(client, world.mentor)
    token = page_token(client, f"/cases/{world.case.id}/review")
    refused = act(client, world.case, "request_revision", {"comment": "  "}, htmx=True, token=token)
    assert refused.status_code == 422
    assert "A comment is required" in refused.get_data(as_text=True)
    db.session.refresh(world.case)
    assert world.case.state == "mentor_review"
    assert events_of(world.case, "request_revision") == 0

    done = act(
        client,
        world.case,
        "request_revision",
        {"comment": "Tambah risiko."},
        htmx=True,
        token=token,
    )
    assert done.status_code == 200
    db.session.refresh(world.case)
    assert world.case.state == "revision_requested"
    assert events_of(world.case, "request_revision") == 1


# ---------------------------------------------------------------- comments


@pytest.mark.parametrize(
    ("role", "body", "section", "error", "field"),
    [
        ("trainee", "Saya setuju.", "", Forbidden, None),
        ("examiner", "Catatan.", "core_issue", Forbidden, None),
        ("stranger", "Catatan.", "", Forbidden, None),
        ("mentor", "", "core_issue", Blocked, "body"),
        ("mentor", "   \n ", "", Blocked, "body"),
        ("mentor", "x" * 5001, "", Blocked, "body"),
        ("coach", "Catatan.", "password", Blocked, "section"),
        ("coach", "Catatan.", "../title", Blocked, "section"),
        ("executive", "a\x00b", "", Blocked, "body"),
    ],
)
def test_refused_comments_write_nothing(world, role, body, section, error, field):
    perform(world.case, "submit", world.trainee)
    with pytest.raises(error) as refused:
        reviews.add_comment(world.case, world.by_role(role), body, section)
    if field:
        assert field in refused.value.fields
    db.session.rollback()
    assert comments_count() == 0


@pytest.mark.parametrize("role", ["mentor", "coach", "executive", "organizer"])
def test_reviewers_comment_with_role_and_submission_number(world, role):
    perform(world.case, "submit", world.trainee)
    comment = reviews.add_comment(world.case, world.by_role(role), "  Perjelas.  ", "core_issue")
    assert (comment.role, comment.section, comment.snapshot_number, comment.body) == (
        role,
        "core_issue",
        1,
        "Perjelas.",
    )
    assert comment.author_id == world.by_role(role).id
    assert comments_count() == 1


def test_every_proposal_section_and_general_are_accepted(world):
    for section in ("", *reviews.SECTIONS):
        reviews.add_comment(world.case, world.mentor, f"On {section or 'all'}", section)
    assert comments_count() == len(reviews.SECTIONS) + 1
    assert set(reviews.SECTIONS) >= {"milestones", "stakeholders", "core_issue"}
    # Before any submission there is no snapshot to point at.
    assert {c.snapshot_number for c in reviews.comments_of(world.case)} == {None}


def test_comment_via_htmx_answers_the_section_fragment_escaped(client, world):
    english(client)
    perform(world.case, "submit", world.trainee)
    login(client, world.coach)
    token = page_token(client, f"/cases/{world.case.id}/review")
    response = client.post(
        f"/cases/{world.case.id}/comments",
        data={"section": "innovation", "body": "<script>alert(1)</script> <b>kurang</b>"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    check_markup(html)
    assert 'id="comments-innovation"' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &lt;b&gt;kurang&lt;/b&gt;" in html
    assert "<b>kurang</b>" not in html
    stored = db.session.scalar(select(Comment))
    assert stored.body == "<script>alert(1)</script> <b>kurang</b>"  # stored as text
    assert stored.role == "coach"


def test_comment_refusals_over_http(client, world):
    english(client)
    perform(world.case, "submit", world.trainee)
    login(client, world.mentor)
    token = page_token(client, f"/cases/{world.case.id}/review")
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    empty = client.post(
        f"/cases/{world.case.id}/comments", data={"section": "scope", "body": ""}, headers=headers
    )
    assert empty.status_code == 422
    assert "Write a comment first." in empty.get_data(as_text=True)
    unknown = client.post(
        f"/cases/{world.case.id}/comments", data={"section": "nope", "body": "x"}, headers=headers
    )
    assert unknown.status_code == 422
    assert comments_count() == 0

    login(client, world.trainee)
    token = page_token(client, f"/cases/{world.case.id}")
    trainee = client.post(
        f"/cases/{world.case.id}/comments",
        data={"section": "", "body": "x", "csrf_token": token},
    )
    assert trainee.status_code == 403
    login(client, world.stranger)
    token = page_token(client, "/")
    stranger = client.post(
        f"/cases/{world.case.id}/comments",
        data={"section": "", "body": "x", "csrf_token": token},
    )
    assert stranger.status_code == 404
    assert comments_count() == 0


def test_comment_without_htmx_redirects_to_the_section(client, world):
    perform(world.case, "submit", world.trainee)
    login(client, world.mentor)
    token = page_token(client, f"/cases/{world.case.id}/review")
    response = client.post(
        f"/cases/{world.case.id}/comments",
        data={"section": "milestones", "body": "Tambah target.", "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(
        f"/cases/{world.case.id}/review#comments-milestones"
    )
    page = client.get(f"/cases/{world.case.id}/review").get_data(as_text=True)
    section = page.split('id="comments-milestones"')[1].split('id="section-')[0]
    assert "Tambah target." in section


def test_trainee_sees_comments_per_section_on_the_case_page(client, world):
    english(client)
    perform(world.case, "submit", world.trainee)
    reviews.add_comment(world.case, world.mentor, "Isu inti <i>kabur</i>.", "core_issue")
    reviews.add_comment(world.case, world.coach, "Secara umum baik.", "")
    login(client, world.trainee)
    html = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    check_markup(html)
    block = html.split('id="reviewer-comments"')[1]
    assert 'data-section="core_issue"' in block and "Core issue" in block
    assert "Isu inti &lt;i&gt;kabur&lt;/i&gt;." in block
    assert 'data-section="general"' in block and "Secara umum baik." in block
    # General first, then the sections in proposal order.
    assert block.index("Secara umum baik.") < block.index("Isu inti")


# ---------------------------------------------------------------- coach


def test_coach_sees_the_group_in_every_state(client, world):
    english(client)
    drafted = new_case(world, (), title="Group draft")
    submitted = new_case(world, SUBMITTED, title="Group submitted")
    approved = new_case(world, APPROVED, title="Group approved")
    endorsed = new_case(world, ENDORSED, title="Group endorsed")
    other_group = Group(cohort=world.cohort, name="Kelompok 2", coach=factories.create_user())
    db.session.add(other_group)
    db.session.flush()
    new_case(world, SUBMITTED, title="Other group", group=other_group)

    ids = {c.id for c in reviews.coach_cases(world.coach)}
    assert ids == {world.case.id, drafted.id, submitted.id, approved.id, endorsed.id}
    login(client, world.coach)
    html = client.get("/coach").get_data(as_text=True)
    check_markup(html)
    for title in ("Group draft", "Group submitted", "Group approved", "Group endorsed"):
        assert title in html
    assert "Other group" not in html
    assert "Awaiting mentor approval" in html and "Implementation" in html


def test_coach_has_no_approve_but_can_comment(client, world):
    english(client)
    perform(world.case, "submit", world.trainee)
    # A coach may nudge whoever must act, never decide for the mentor.
    assert [a.trigger for a in available_actions(world.case, world.coach)] == ["remind"]
    with pytest.raises(Forbidden):
        perform(world.case, "approve", world.coach)
    login(client, world.coach)
    html = client.get(f"/cases/{world.case.id}/review").get_data(as_text=True)
    assert "approve" not in triggers_in(html)
    assert 'name="body"' in html  # the comment forms
    token = page_token(client, f"/cases/{world.case.id}/review")
    refused = act(client, world.case, "approve", htmx=True, token=token)
    assert refused.status_code == 403
    db.session.refresh(world.case)
    assert world.case.state == "mentor_review"
    assert events_of(world.case, "approve") == 0


# ---------------------------------------------------------------- executive


def test_endorsement_queue_lists_cases_awaiting_the_executive(client, world):
    english(client)
    late = new_case(world, APPROVED, title="Late endorsement", due=PAST)
    later = new_case(world, APPROVED, title="Later endorsement", due=FUTURE)
    new_case(world, SUBMITTED, title="Still with the mentor")
    new_case(world, ENDORSED, title="Already endorsed")
    new_case(world, APPROVED, title="Another executive", executive=factories.create_user())

    assert [c.id for c in reviews.endorsement_queue(world.executive)] == [late.id, later.id]
    login(client, world.executive)
    html = client.get("/pimpinan").get_data(as_text=True)
    check_markup(html)
    assert titles_in_order(html, ["Later endorsement", "Late endorsement"]) == [
        "Late endorsement",
        "Later endorsement",
    ]
    for absent in ("Still with the mentor", "Already endorsed", "Another executive"):
        assert absent not in html
    assert "Letter number" in html and "Letter date" in html
    assert html.count('name="case_id"') == 2


def bulk(client, cases, data, versions=None, htmx=True):
    token = page_token(client, "/pimpinan")
    form = {"case_id": [str(c.id) for c in cases], **data}
    for c in cases:
        form[f"version-{c.id}"] = str((versions or {}).get(c.id, c.version))
    headers = {"HX-Request": "true", "X-CSRFToken": token} if htmx else {}
    if not htmx:
        form["csrf_token"] = token
    return client.post("/pimpinan/endorse", data=form, headers=headers)


LETTER = {"letter_number": "800/123/DPMD/2026", "letter_date": "2026-11-20"}


def test_bulk_endorse_each_case_its_own_event_and_a_stale_one_is_left_alone(client, world):
    english(client)
    cases = [new_case(world, APPROVED, title=f"Bulk {i}") for i in range(3)]
    seen = {c.id: c.version for c in cases}
    stale = cases[1]
    stale.title = "Bulk 1 (edited meanwhile)"  # someone else changes it after the page loaded
    db.session.commit()
    login(client, world.executive)
    response = bulk(client, cases, LETTER, versions=seen)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    check_markup(html)
    assert "Endorsed: 2. Not endorsed: 1." in html
    assert f'data-case="{stale.id}" data-ok="no"' in html
    assert "changed this case meanwhile" in html
    for case in cases:
        db.session.refresh(case)
    assert [c.state for c in cases] == ["implementation", "endorsement_pending", "implementation"]
    assert [events_of(c, "endorse") for c in cases] == [1, 0, 1]
    endorsed = db.session.scalars(select(AuditEvent).where(AuditEvent.trigger == "endorse")).all()
    assert {e.case_id for e in endorsed} == {cases[0].id, cases[2].id}
    assert all(e.data == LETTER and e.actor_id == world.executive.id for e in endorsed)
    # The one left is still in the queue, the others are gone from it.
    assert [c.id for c in reviews.endorsement_queue(world.executive)] == [stale.id]


def test_bulk_endorse_with_missing_letter_writes_nothing(client, world):
    english(client)
    cases = [new_case(world, APPROVED) for _ in range(2)]
    login(client, world.executive)
    response = bulk(client, cases, {"letter_number": "", "letter_date": "2026-11-20"})
    assert response.status_code == 422
    assert "Letter number is required." in response.get_data(as_text=True)
    assert sum(events_of(c, "endorse") for c in cases) == 0
    nothing = bulk(client, [], LETTER)
    assert nothing.status_code == 422
    assert "Select at least one proposal" in nothing.get_data(as_text=True)


def test_bulk_endorse_cannot_reach_cases_not_awaiting_the_caller(client, world):
    english(client)
    mine = new_case(world, APPROVED)
    foreign = new_case(world, APPROVED, executive=factories.create_user())
    with_mentor = new_case(world, SUBMITTED)
    results = reviews.bulk_endorse(world.executive, [foreign.id, with_mentor.id, mine.id], LETTER)
    assert [(r.case_id, r.ok, r.status) for r in results] == [
        (foreign.id, False, 404),
        (with_mentor.id, False, 409),
        (mine.id, True, 200),
    ]
    assert events_of(foreign, "endorse") == events_of(with_mentor, "endorse") == 0


def test_executive_declines_with_a_required_comment_on_the_review_page(client, world):
    english(client)
    case = new_case(world, APPROVED)
    login(client, world.executive)
    page = client.get(f"/cases/{case.id}/review").get_data(as_text=True)
    assert "decline_endorsement" in triggers_in(page)
    assert 'enctype="multipart/form-data"' in page  # endorse with the letter
    check_markup(page)
    assert "endorse" not in triggers_in(page)  # only the form that also takes the letter
    token = page_token(client, f"/cases/{case.id}/review")
    refused = act(client, case, "decline_endorsement", {"comment": ""}, htmx=True, token=token)
    assert refused.status_code == 422
    done = act(
        client,
        case,
        "decline_endorsement",
        {"comment": "Belum sesuai RPJMD."},
        htmx=True,
        token=token,
    )
    assert done.status_code == 200
    db.session.refresh(case)
    assert case.state == "revision_requested"


# ---------------------------------------------------------------- query counts


def _setup_queue_cases(world, n):
    for _ in range(n):
        new_case(world, APPROVED)
        new_case(world, SUBMITTED)


@pytest.mark.parametrize("path", ["/mentor", "/coach", "/pimpinan"])
def test_queue_query_count_does_not_grow_with_rows(client, world, path):
    role = {"/mentor": "mentor", "/coach": "coach", "/pimpinan": "executive"}[path]
    login(client, world.by_role(role))
    _setup_queue_cases(world, 5)
    with counting_statements() as few:
        small = client.get(path)
    _setup_queue_cases(world, 25)  # 5 then 30 in each queue
    with counting_statements() as many:
        big = client.get(path)
    assert small.status_code == big.status_code == 200
    assert big.get_data(as_text=True).count("/review") >= 30
    assert len(few) == len(many), (len(few), len(many))


def test_fallback_field_changes_lists_only_changed_sections():
    old = {"title": "A", "core_issue": "Lama", "team": [{"name": "Budi", "role": "Ketua"}]}
    new = {"title": "A", "core_issue": "Baru", "team": [{"name": "Budi", "role": "Anggota"}]}
    changes = reviews.field_changes(old, new)
    assert [(c["section"], c["old"], c["new"]) for c in changes] == [
        ("core_issue", "Lama", "Baru"),
        ("team", "Budi · Ketua", "Budi · Anggota"),
    ]
    assert [c["section"] for c in reviews.field_changes(None, {"title": "T"})] == ["title"]


def test_acting_executive_sees_the_queue_and_endorses_on_behalf(client, world):
    from datetime import timedelta

    from workflow.models import Delegation
    from workflow.models._base import utcnow

    english(client)
    case = new_case(world, APPROVED, title="For the acting official")
    acting = factories.create_user(name="Plt. Kepala Dinas")
    today = utcnow().date()
    db.session.add(
        Delegation(
            principal_id=world.executive.id,
            delegate_id=acting.id,
            role="executive",
            kind="plt",
            starts_on=today - timedelta(days=2),
            ends_on=today + timedelta(days=2),
            created_by_id=world.organizer.id,
        )
    )
    db.session.commit()
    assert [c.id for c in reviews.endorsement_queue(acting)] == [case.id]
    login(client, acting)
    assert "For the acting official" in client.get("/pimpinan").get_data(as_text=True)
    response = bulk(client, [case], LETTER)
    assert "Endorsed: 1. Not endorsed: 0." in response.get_data(as_text=True)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.trigger == "endorse"))
    assert (event.actor_id, event.on_behalf_of_id) == (acting.id, world.executive.id)
