"""Dashboard pages over HTTP: who gets what, the htmx table, bounded queries at 40 and 2,000
cases, and bulk actions (each through perform(), each reported; refusals write nothing)."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import func, select

from tests.test_dashboard import NOW, _visits, build_scene, bulk_cases
from tests.test_http_helpers import check_markup, english, login, page_token, tags_of
from tests.test_http_home import counting_statements
from workflow.extensions import db
from workflow.models import AuditEvent, Case, Notification

pytestmark = pytest.mark.usefixtures("frozen")


@pytest.fixture
def frozen():
    import time_machine

    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def scene(world, frozen):
    return build_scene(world)


def as_user(client, user):
    english(client)
    login(client, user)
    return client


def cohort_url(scene, query: str = "") -> str:
    return f"/dashboard/cohorts/{scene.world.cohort.id}" + (f"?{query}" if query else "")


def rows_in(html: str) -> list[int]:
    return [
        int(a["data-case"]) for tag, a in tags_of(html).tags if tag == "tr" and "data-case" in a
    ]


def written() -> tuple:
    db.session.expire_all()
    return (
        db.session.scalar(select(func.count(AuditEvent.id))),
        db.session.scalar(select(func.count(Notification.id))),
        tuple(
            db.session.execute(
                select(Case.id, Case.version, Case.due_date, Case.group_id).order_by(Case.id)
            ).all()
        ),
    )


# ---------------------------------------------------------------- pages


def test_overview_for_an_organizer(client, scene):
    html = as_user(client, scene.users["organizer"]).get("/dashboard").get_data(as_text=True)
    check_markup(html)
    assert 'id="funnel"' in html and 'id="per-cohort"' in html and 'id="per-province"' in html
    assert f'href="/dashboard/cohorts/{scene.world.cohort.id}"' in html
    assert 'href="/dashboard/trainees?state=draft"' in html  # a count opens the filtered table
    assert "Kalimantan Timur" in html and "Province not known" in html
    assert scene.cohort_b.name not in html


def test_overview_for_who_oversees_nothing(client, scene):
    response = as_user(client, scene.users["trainee"]).get("/dashboard")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="nothing-to-oversee"' in html and 'id="funnel"' not in html
    assert client.get("/dashboard/trainees").status_code == 200
    assert client.get("/dashboard/export.csv").status_code == 404


def test_pages_need_a_login(client, scene):
    for path in ("/dashboard", cohort_url(scene), "/dashboard/trainees"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("who", ["trainee", "mentor", "stranger", "organizer_b", "admin_c"])
def test_a_cohort_not_overseen_is_not_found(client, scene, who):
    as_user(client, scene.users[who])
    for path in (cohort_url(scene), cohort_url(scene).replace("/cohorts/", "/cohorts/9") + "9"):
        assert client.get(path).status_code == 404
    assert client.get(cohort_url(scene) + "/export.csv").status_code == 404
    token = page_token(client, "/dashboard")
    before = written()
    response = client.post(
        cohort_url(scene) + "/bulk",
        data={"csrf_token": token, "action": "remind", "case_id": [scene.cases["eko"].id]},
    )
    assert response.status_code == 404 and written() == before


def test_cohort_page(client, scene):
    _visits(scene)
    html = as_user(client, scene.users["organizer"]).get(cohort_url(scene)).get_data(as_text=True)
    check_markup(html)
    assert sorted(rows_in(html)) == sorted(scene.ids("eko", "ani", "budi", "citra", "dedi"))
    assert 'id="time-chart"' in html and 'id="time-table"' in html
    assert "<svg" in html and " style=" not in html
    assert 'src="/static/js/dashboard.js"' in html
    # The funnel links to the table filtered by state.
    assert f'href="/dashboard/cohorts/{scene.world.cohort.id}?state=implementation"' in html
    # Only what an organizer may do is offered.
    options = [a.get("value") for t, a in tags_of(html).tags if t == "option"]
    assert {"remind", "extend_deadline", "assign_group"} <= set(options)
    assert "1/2 milestones" in html and "85.5" in html


def test_a_coach_sees_their_group_and_may_only_remind(client, scene):
    html = as_user(client, scene.users["coach"]).get(cohort_url(scene)).get_data(as_text=True)
    assert sorted(rows_in(html)) == sorted(scene.ids("eko", "ani", "dedi"))
    select_action = html.split('id="bulk-action"')[1].split("</select>")[0]
    assert 'value="remind"' in select_action
    assert "extend_deadline" not in select_action and "assign_group" not in select_action


def test_an_admin_reads_but_acts_on_nothing(client, scene):
    as_user(client, scene.users["admin"])
    html = client.get(cohort_url(scene)).get_data(as_text=True)
    assert len(rows_in(html)) == 5 and 'id="bulk-form"' not in html
    token = page_token(client, "/dashboard")
    before = written()
    response = client.post(
        cohort_url(scene) + "/bulk",
        data={"csrf_token": token, "action": "remind", "case_id": [scene.cases["eko"].id]},
    )
    assert response.status_code == 403 and written() == before


def test_filters_sort_and_page_in_the_url(client, scene):
    as_user(client, scene.users["organizer"])
    html = client.get(cohort_url(scene, "overdue=yes&sort=due&dir=desc")).get_data(as_text=True)
    assert rows_in(html) == scene.ids("budi", "eko")
    assert 'aria-sort="descending"' in html
    assert rows_in(client.get(cohort_url(scene, "q=arsip")).get_data(as_text=True)) == scene.ids(
        "ani"
    )
    # The export links carry the same filters and sort.
    assert "/export.csv?overdue=yes&amp;sort=due&amp;dir=desc" in html


def test_bad_parameters_are_ignored_with_a_message(client, scene):
    as_user(client, scene.users["organizer"])
    response = client.get(cohort_url(scene, "sort=password&state=nowhere&page=abc"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    problems = html.split('id="query-problems"')[1].split("</div>")[0]
    assert 'data-param="sort"' in problems and 'data-param="state"' in problems
    assert len(rows_in(html)) == 5


def test_htmx_gets_the_table_fragment(client, scene):
    as_user(client, scene.users["organizer"])
    response = client.get(cohort_url(scene, "state=draft"), headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert "<html" not in html and html.count('id="trainees"') == 1
    assert rows_in(html) == scene.ids("eko")
    # The funnel and the filter form's kept sort are updated out of band.
    assert (
        'id="funnel" class="dash-funnel" aria-labelledby="funnel-title" hx-swap-oob="true"' in html
    )
    assert 'id="filter-keep" hx-swap-oob="true"' in html
    restore = client.get(
        cohort_url(scene), headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.get_data(as_text=True)


def test_overview_table_of_every_trainee(client, scene):
    as_user(client, scene.users["admin"])
    html = client.get("/dashboard/trainees?sort=cohort").get_data(as_text=True)
    check_markup(html)
    assert rows_in(html) == scene.ids("fajar", "eko", "ani", "budi", "citra", "dedi")
    province = scene.regions["lampung"].id
    html = client.get(f"/dashboard/trainees?province={province}").get_data(as_text=True)
    assert rows_in(html) == scene.ids("citra")


# ---------------------------------------------------------------- query counts


def _count(client, path: str, **kwargs) -> tuple[int, int]:
    client.get(path, **kwargs)  # warm: the first request loads what later ones reuse
    with counting_statements() as statements:
        response = client.get(path, **kwargs)
    assert response.status_code == 200, path
    return len(statements), len(response.get_data())


def test_queries_do_not_grow_from_40_to_2000_cases(client, scene):
    organizer = scene.users["organizer"]
    cohort = scene.world.cohort
    bulk_cases(cohort, 35, group=scene.groups["g1"], agency=scene.agencies["dpmd"])
    as_user(client, organizer)
    paths = [
        ("/dashboard", {}),
        (cohort_url(scene), {}),
        (cohort_url(scene, "sort=progress&dir=desc&per_page=100"), {}),
        (cohort_url(scene, "state=draft&q=peserta"), {"headers": {"HX-Request": "true"}}),
        (cohort_url(scene) + "/export.csv", {}),
        (cohort_url(scene) + "/export.xlsx?sort=days", {}),
        ("/dashboard/trainees?overdue=yes", {}),
        ("/dashboard/export.csv", {}),
    ]
    assert db.session.scalar(select(func.count(Case.id)).where(Case.cohort_id == cohort.id)) == 40
    few = [_count(client, p, **kw) for p, kw in paths]
    bulk_cases(cohort, 1960, group=scene.groups["g2"], agency=scene.agencies["dinkes"], prefix="x")
    many = [_count(client, p, **kw) for p, kw in paths]
    assert [n for n, _size in few] == [n for n, _size in many]
    assert max(n for n, _size in few) <= 15
    # The exports did grow: all 2,000 rows.
    assert many[4][1] > few[4][1] * 10


# ---------------------------------------------------------------- bulk actions


def _bulk(client, scene, data: dict, query: str = "", htmx: bool = False):
    token = page_token(client, cohort_url(scene))
    headers = {"HX-Request": "true", "X-CSRFToken": token} if htmx else {}
    form = dict(data) if htmx else {"csrf_token": token, **data}
    return client.post(
        cohort_url(scene).rstrip("/") + "/bulk" + (f"?{query}" if query else ""),
        data=form,
        headers=headers,
    )


def _results(html: str) -> dict[int, str]:
    return {
        int(a["data-case"]): a["data-ok"]
        for tag, a in tags_of(html).tags
        if tag == "li" and "data-ok" in a
    }


def test_bulk_remind_reports_each_row(client, scene):
    as_user(client, scene.users["organizer"])
    eko, budi, citra = scene.ids("eko", "budi", "citra")
    response = _bulk(
        client, scene, {"action": "remind", "message": "Segera.", "case_id": [eko, budi, citra]}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _results(html) == {eko: "yes", budi: "yes", citra: "no"}
    assert "done for 2, refused for 1" in html
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.trigger == "remind")).all()
    assert sorted(e.case_id for e in events) == [eko, budi]
    assert {e.actor_id for e in events} == {scene.users["organizer"].id}
    # The same again within the day: refused per row with the reason, nothing written.
    before = written()
    again = _bulk(client, scene, {"action": "remind", "case_id": [eko]}, htmx=True)
    text = again.get_data(as_text=True)
    assert again.status_code == 422 and _results(text) == {eko: "no"}
    assert "already reminded" in text and "<html" not in text
    assert written() == before


def test_bulk_extend_deadline(client, scene):
    as_user(client, scene.users["organizer"])
    eko, budi = scene.ids("eko", "budi")
    response = _bulk(
        client,
        scene,
        {
            "action": "extend_deadline",
            "due_date": "2026-04-20",
            "reason": "Banjir di Tenggarong.",
            "case_id": [eko, budi],
        },
    )
    assert response.status_code == 200
    assert _results(response.get_data(as_text=True)) == {eko: "yes", budi: "yes"}
    db.session.expire_all()
    assert {scene.cases["eko"].due_date.isoformat(), scene.cases["budi"].due_date.isoformat()} == {
        "2026-04-20"
    }
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.trigger == "extend_deadline")
    ).all()
    assert {e.comment for e in events} == {"Banjir di Tenggarong."} and len(events) == 2


@pytest.mark.parametrize(
    "data, field",
    [
        ({"action": "extend_deadline", "due_date": "2026-04-20", "reason": ""}, "reason"),
        ({"action": "extend_deadline", "due_date": "20/04/2026", "reason": "Sakit."}, "due_date"),
        ({"action": "extend_deadline", "due_date": "", "reason": "Sakit."}, "due_date"),
        ({"action": "assign_group", "group_id": "999999"}, "group_id"),
        ({"action": "teleport"}, "action"),
        ({"action": ""}, "action"),
    ],
)
def test_bulk_form_errors_keep_the_selection_and_write_nothing(client, scene, data, field):
    as_user(client, scene.users["organizer"])
    eko, budi = scene.ids("eko", "budi")
    before = written()
    response = _bulk(client, scene, {**data, "case_id": [eko, budi]})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and written() == before
    assert 'class="field-error"' in html and "has-error" in html
    checked = {
        int(a["value"])
        for t, a in tags_of(html).tags
        if a.get("name") == "case_id" and "checked" in a
    }
    assert checked == {eko, budi}
    for name in ("reason", "due_date"):
        if data.get(name):
            assert data[name] in html  # what was typed comes back
    messages = {
        "reason": "Reason for the extension",
        "due_date": "New due date",
        "group_id": "Choose one of this cohort's groups.",
        "action": "Choose one of the actions.",
    }
    assert messages[field] in unescape(html)


def test_bulk_without_rows_or_with_too_many(client, scene):
    as_user(client, scene.users["organizer"])
    before = written()
    none = _bulk(client, scene, {"action": "remind"})
    assert none.status_code == 422 and "Select at least one trainee." in none.get_data(as_text=True)
    many = _bulk(client, scene, {"action": "remind", "case_id": list(range(1, 502))})
    assert many.status_code == 422 and "At most 500 trainees" in many.get_data(as_text=True)
    assert written() == before


def test_a_coach_cannot_extend_or_assign(client, scene):
    as_user(client, scene.users["coach"])
    eko = scene.cases["eko"].id
    before = written()
    for data in (
        {"action": "extend_deadline", "due_date": "2026-05-01", "reason": "Sakit."},
        {"action": "assign_group", "group_id": str(scene.groups["g2"].id)},
    ):
        response = _bulk(client, scene, {**data, "case_id": [eko]})
        assert response.status_code == 422
        assert "Choose one of the actions." in response.get_data(as_text=True)
    assert written() == before
    ok = _bulk(client, scene, {"action": "remind", "case_id": [eko, scene.cases["budi"].id]})
    # budi is another group's: not the coach's to remind.
    assert _results(ok.get_data(as_text=True)) == {eko: "yes", scene.cases["budi"].id: "no"}


def test_bulk_assign_group_and_all_matching_rows(client, scene):
    as_user(client, scene.users["organizer"])
    g2 = scene.groups["g2"]
    citra = scene.cases["citra"].id
    dedi = scene.cases["dedi"].id
    # citra is finished: the definition offers no assignment any more; dedi moves.
    response = _bulk(
        client,
        scene,
        {"action": "assign_group", "group_id": str(g2.id), "all_matching": "1"},
        query="province=" + str(scene.regions["lampung"].id),
    )
    assert _results(response.get_data(as_text=True)) == {citra: "no"}
    response = _bulk(
        client, scene, {"action": "assign_group", "group_id": str(g2.id), "case_id": [dedi]}
    )
    assert _results(response.get_data(as_text=True)) == {dedi: "yes"}
    db.session.expire_all()
    assert scene.cases["dedi"].group_id == g2.id
    # Every overdue row, on every page, without ticking any.
    response = _bulk(
        client, scene, {"action": "remind", "all_matching": "1"}, query="overdue=yes&page=2"
    )
    assert _results(response.get_data(as_text=True)) == {
        scene.cases["eko"].id: "yes",
        scene.cases["budi"].id: "yes",
    }


def test_bulk_needs_the_csrf_token(client, scene):
    as_user(client, scene.users["organizer"])
    before = written()
    response = client.post(
        cohort_url(scene) + "/bulk", data={"action": "remind", "case_id": [scene.cases["eko"].id]}
    )
    assert response.status_code == 400 and written() == before


def test_no_inline_style_or_script_anywhere(client, scene):
    _visits(scene)
    as_user(client, scene.users["organizer"])
    for path in ("/dashboard", cohort_url(scene), "/dashboard/trainees"):
        html = client.get(path).get_data(as_text=True)
        check_markup(html)
        assert not re.search(r"<[^>]+\sstyle=", html), path


def test_chart_geometry(app):
    from blueprints.dashboard import chart
    from workflow.services import dashboards as dash

    def time(key, median, p90):
        info = dash.StateInfo(key, dash.Labels(id=key, en=key), False, False)
        return dash.StateTime(info, 3, median, p90)

    with app.test_request_context():
        drawn = chart([time("draft", 4, 7.1), time("implementation", 40, 40)])
        empty = chart([])
    assert (drawn.scale, drawn.left, drawn.right, drawn.height) == (40, 230, 630, 98)
    draft, implementation = drawn.bars
    assert (draft.width, draft.p90_x, draft.y) == (40.0, 301.0, 10)
    assert (implementation.width, implementation.p90_x, implementation.y) == (400.0, 630.0, 40)
    assert [x for x, _v in drawn.ticks] == [230, 330, 430, 530, 630]
    assert (empty.scale, empty.bars, empty.height) == (5, [], 38)


def test_oversees_tells_the_navigation(app, scene):
    from flask_login import login_user

    from blueprints.dashboard import oversees

    for who, expected in (
        ("organizer", True),
        ("coach", True),
        ("admin", True),
        ("trainee", False),
    ):
        with app.test_request_context():
            login_user(scene.users[who])
            assert oversees() is expected, who
    with app.test_request_context():
        assert oversees() is False  # nobody logged in
