"""Home: what to act on, everything visible, and a query count that does not grow."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from sqlalchemy import event

from tests import factories
from tests.test_http_helpers import english, login
from workflow.extensions import db
from workflow.services import perform, start_case


@contextmanager
def counting_statements():
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def add_cases(world, n: int) -> list:
    """n more cases mentored by world.mentor, every other one submitted to the mentor."""
    cases = []
    for i in range(n):
        trainee = factories.create_user()
        case = start_case(
            world.cohort, trainee, group=world.group, mentor=world.mentor, executive=world.executive
        )
        factories.fill_proposal(case)
        case.title = f"Aksi nomor {trainee.id}"
        db.session.flush()
        if i % 2 == 0:
            perform(case, "submit", trainee)
        cases.append(case)
    db.session.commit()
    return cases


def test_trainee_home_lists_the_case_to_act_on(client, world):
    english(client)
    login(client, world.trainee)
    html = client.get("/").get_data(as_text=True)
    todo = html.split('id="all-title"')[0]
    assert f'href="/cases/{world.case.id}"' in todo
    assert "Drafting the proposal" in todo
    assert world.trainee.name in todo and world.cohort.name in todo
    assert "2 Mar 2026" in todo  # the cohort's proposal deadline
    assert "Trainee" in html.split("</header>")[0]  # the role shows in the header


def test_mentor_sees_case_but_has_nothing_to_do_in_draft(client, world):
    english(client)
    login(client, world.mentor)
    html = client.get("/").get_data(as_text=True)
    todo, everything = html.split('id="all-title"')
    assert f'href="/cases/{world.case.id}"' not in todo
    assert "Nothing waits for you right now." in todo
    assert f'href="/cases/{world.case.id}"' in everything
    assert "Mentor" in html.split("</header>")[0]


def test_overdue_flag_uses_due_date(client, world):
    english(client)
    login(client, world.trainee)
    world.case.due_date = date.today() + timedelta(days=30)
    db.session.commit()
    assert "Overdue" not in client.get("/").get_data(as_text=True)
    world.case.due_date = date.today() - timedelta(days=2)
    db.session.commit()
    html = client.get("/").get_data(as_text=True)
    assert "is-overdue" in html and "Overdue" in html
    assert "Overdue" in client.get(f"/cases/{world.case.id}").get_data(as_text=True)


def test_awaiting_ordered_by_due_date(client, world):
    cases = add_cases(world, 4)
    submitted = [c for c in cases if c.state != "draft"]
    submitted[0].due_date = date(2026, 12, 30)
    submitted[1].due_date = date(2026, 12, 1)
    db.session.commit()
    login(client, world.mentor)
    todo = client.get("/").get_data(as_text=True).split('id="all-title"')[0]
    assert todo.index(f'/cases/{submitted[1].id}"') < todo.index(f'/cases/{submitted[0].id}"')


def test_query_count_does_not_grow_with_rows(client, world):
    login(client, world.mentor)
    add_cases(world, 5)
    with counting_statements() as few:
        small = client.get("/")
    add_cases(world, 35)
    with counting_statements() as many:
        big = client.get("/")
    assert small.status_code == big.status_code == 200
    assert big.get_data(as_text=True).count('href="/cases/') >= 40
    assert len(few) == len(many), (len(few), len(many))


def test_visible_list_is_paginated(client, world):
    english(client)
    add_cases(world, 55)
    login(client, world.mentor)
    first = client.get("/").get_data(as_text=True)
    assert "Page 1 of 2" in first
    everything = first.split('id="all-title"')[1]
    assert everything.count("<tr") == 51  # header row + 50
    second = client.get("/?page=2").get_data(as_text=True).split('id="all-title"')[1]
    assert second.count("<tr") == 7  # header row + the 6 left


# ---------------------------------------------------------------- results ready to finalize


def _in_evaluation(world, n: int, *, complete: bool = True) -> list:
    """n more cases of the world's cohort in evaluation (the state set directly), each with
    every rubric role's sheet submitted (or the last role missing when not `complete`)."""
    from workflow.models import ScoreSheet
    from workflow.services.evaluation import rubric_of

    cases = []
    for i in range(n):
        trainee = factories.create_user()
        case = start_case(
            world.cohort, trainee, group=world.group, mentor=world.mentor, executive=world.executive
        )
        case.title = f"Siap {i}"
        case.state = "evaluation"
        db.session.flush()
        roles = rubric_of(case).roles
        for role in roles if complete else roles[:-1]:
            db.session.add(
                ScoreSheet(
                    case_id=case.id,
                    role=role,
                    evaluator_id=world.by_role(role).id,
                    rubric_key=rubric_of(case).key,
                    submitted_at=db.func.now(),
                )
            )
        cases.append(case)
    db.session.commit()
    return cases


def _ready_section(html: str) -> str:
    todo = html.split('id="all-title"')[0]
    if 'id="ready-to-finalize-title"' not in todo:
        return ""
    return todo.split('id="ready-to-finalize-title"')[1].split("</ul>")[0]


@pytest.mark.parametrize("version", [1, None])
def test_the_organizer_sees_the_results_ready_to_finalize(client, app, version):
    world = factories.World(version=version)
    english(client)
    ready = _in_evaluation(world, 2)
    waiting = _in_evaluation(world, 1, complete=False)
    login(client, world.organizer)
    html = client.get("/").get_data(as_text=True)
    section = _ready_section(html)
    assert "Results ready to finalize" in html
    for case in ready:
        assert f'href="/cases/{case.id}/evaluation/finalize"' in section
    assert f"/cases/{waiting[0].id}/" not in section
    assert f"/cases/{world.case.id}/" not in section  # still drafting
    assert "Nothing waits for you right now." not in html
    # Not for the evaluators: the evaluation is theirs to act on already.
    login(client, world.examiner)
    assert _ready_section(client.get("/").get_data(as_text=True)) == ""


def test_the_ready_list_costs_the_same_for_2_and_20_cases(client, world):
    _in_evaluation(world, 2)
    login(client, world.organizer)
    client.get("/")
    with counting_statements() as few:
        small = client.get("/").get_data(as_text=True)
    _in_evaluation(world, 18)
    client.get("/")  # the same warm start as the first count (the user reloaded)
    with counting_statements() as many:
        big = client.get("/").get_data(as_text=True)
    assert _ready_section(small).count('<li class="todo"') == 2
    assert _ready_section(big).count('<li class="todo"') == 20
    assert len(few) == len(many), (len(few), len(many))
