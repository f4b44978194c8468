"""JSON API v1: bearer auth, scoping, actions through perform(), errors as JSON."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from sqlalchemy import event, func, select

from tests import factories
from workflow.extensions import db
from workflow.models import AuditEvent, Case, User
from workflow.services import perform, start_case
from workflow.services.actions import is_overdue


def bearer(user: User) -> dict:
    token = user.issue_api_token()
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def event_count(case_id: int) -> int:
    return db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.case_id == case_id))


def stored_version(case_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Case, case_id).version


_serial = itertools.count(1)

CASE_PATHS = [
    ("get", "/api/v1/cases/{id}"),
    ("get", "/api/v1/cases/{id}/events"),
    ("post", "/api/v1/cases/{id}/actions/submit"),
]


# ---------------------------------------------------------------- authentication


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Token abc"],
)
def test_missing_or_bad_token_is_401_json(client, world, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    for method, path in [("get", "/api/v1/cases"), *CASE_PATHS]:
        response = getattr(client, method)(path.format(id=world.case.id), headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.is_json and response.json["message"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_inactive_user_token_is_refused(client, world):
    headers = bearer(world.trainee)
    world.trainee.active = False
    db.session.commit()
    assert client.get("/api/v1/cases", headers=headers).status_code == 401


def test_session_cookie_is_not_accepted(client, world):
    # A logged-in browser session must not open the API (it is exempt from CSRF).
    with client.session_transaction() as session:
        session["_user_id"] = str(world.trainee.id)
        session["_fresh"] = True
    assert client.get("/api/v1/cases").status_code == 401
    response = client.post(f"/api/v1/cases/{world.case.id}/actions/submit")
    assert response.status_code == 401
    assert event_count(world.case.id) == 0


def test_bearer_post_needs_no_csrf_token(app, client, world):
    assert app.config.get("WTF_CSRF_ENABLED", True)
    response = client.post(
        f"/api/v1/cases/{world.case.id}/actions/submit", headers=bearer(world.trainee)
    )
    assert response.status_code == 200, response.json


# ---------------------------------------------------------------- listing


def test_list_shows_only_the_callers_cases(client, world):
    other = factories.World()  # another cohort, another trainee's case
    response = client.get("/api/v1/cases", headers=bearer(world.trainee))
    assert response.status_code == 200
    body = response.json
    assert [c["id"] for c in body["items"]] == [world.case.id]
    assert other.case.id not in [c["id"] for c in body["items"]]
    assert body["total"] == 1 and body["page"] == 1 and body["pages"] == 1
    item = body["items"][0]
    assert item["title"] == world.case.title
    assert item["state"] == "draft"
    assert item["state_label"] == "Penyusunan rancangan"  # Indonesian by default
    assert item["phase"] == "proposal"
    assert item["version"] == 1
    assert item["due_date"] == "2026-03-02"  # the cohort's proposal deadline
    assert item["overdue"] is True  # the proposal deadline has passed
    assert item["trainee"] == {"id": world.trainee.id, "name": world.trainee.name}
    assert item["cohort"] == {"id": world.cohort.id, "name": world.cohort.name}

    stranger = client.get("/api/v1/cases", headers=bearer(world.stranger)).json
    assert stranger["items"] == [] and stranger["total"] == 0


@pytest.mark.parametrize(
    "query, headers, label",
    [
        ("", {}, "Penyusunan rancangan"),
        ("", {"Accept-Language": "en-US,en;q=0.9"}, "Drafting the proposal"),
        ("?lang=en", {}, "Drafting the proposal"),
        ("?lang=id", {"Accept-Language": "en"}, "Penyusunan rancangan"),
    ],
)
def test_labels_follow_language(client, world, query, headers, label):
    auth = bearer(world.trainee)
    response = client.get(f"/api/v1/cases{query}", headers={**auth, **headers})
    assert response.json["items"][0]["state_label"] == label
    detail = client.get(f"/api/v1/cases/{world.case.id}{query}", headers={**auth, **headers})
    assert detail.json["state_label"] == label


def _more_cases(world, n: int) -> None:
    for _ in range(n):
        # No password: hashing one per trainee would only slow the test down.
        trainee = User(username=f"t{next(_serial)}", name="Peserta")
        db.session.add(trainee)
        start_case(world.cohort, trainee, group=world.group, mentor=world.mentor)
    db.session.commit()


def test_list_paginates(client, world):
    _more_cases(world, 4)  # the organizer sees all 5 cases of the cohort
    auth = bearer(world.organizer)
    first = client.get("/api/v1/cases?per_page=2", headers=auth).json
    second = client.get("/api/v1/cases?per_page=2&page=2", headers=auth).json
    last = client.get("/api/v1/cases?per_page=2&page=3", headers=auth).json
    assert (first["total"], first["pages"]) == (5, 3)
    ids = [c["id"] for page in (first, second, last) for c in page["items"]]
    assert len(ids) == 5 and ids == sorted(ids)
    assert [len(p["items"]) for p in (first, second, last)] == [2, 2, 1]
    beyond = client.get("/api/v1/cases?per_page=2&page=4", headers=auth).json
    assert beyond["items"] == [] and beyond["total"] == 5


@pytest.mark.parametrize(
    "query",
    ["per_page=101", "per_page=0", "page=0", "page=-1", "page=x", "per_page=1.5", "lang=fr"],
)
def test_bad_query_is_400_json(client, world, query):
    response = client.get(f"/api/v1/cases?{query}", headers=bearer(world.trainee))
    assert response.status_code == 400
    assert response.json["message"]


def _count_statements(app, fn) -> int:
    statements = []

    def record(*_args):
        statements.append(1)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(statements)


def test_list_has_no_query_per_case(app, client, world):
    auth = bearer(world.organizer)
    client.get("/api/v1/cases", headers=auth)  # the first use stamps last_used_at once

    def run(expected: int):
        # Expired rows: related data must come from the list query, not from what the
        # session already holds (a lazy load would refresh each row with its own SELECT).
        db.session.expire_all()
        response = client.get("/api/v1/cases?per_page=100", headers=auth)
        assert response.status_code == 200
        assert len(response.json["items"]) == expected

    _more_cases(world, 2)
    few = _count_statements(app, lambda: run(3))
    _more_cases(world, 27)
    many = _count_statements(app, lambda: run(30))
    assert few == many


# ---------------------------------------------------------------- one case


def test_get_case_shows_state_version_proposal_and_actions(client, world):
    response = client.get(f"/api/v1/cases/{world.case.id}", headers=bearer(world.trainee))
    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    body = response.json
    assert body["id"] == world.case.id
    assert (body["state"], body["version"]) == ("draft", 1)
    assert body["definition"]["key"] == "aksi_perubahan_pka"
    assert body["definition"]["version"] == 1
    assert body["proposal"]["title"] == world.case.title
    assert body["proposal"]["innovation"] == world.case.innovation
    assert body["mentor"] == {"id": world.mentor.id, "name": world.mentor.name}
    assert [m["activity"] for m in body["milestones"]] == ["Menyusun pedoman"]
    assert body["milestones"][0]["target_date"] == "2026-04-01"
    actions = {a["trigger"]: a for a in body["actions"]}
    assert set(actions) == {"submit", "withdraw"}
    assert actions["submit"]["blocked"] is False
    assert actions["submit"]["blocked_reasons"] == []
    assert actions["submit"]["comment_required"] is False
    assert actions["withdraw"]["comment"] == "required"
    assert actions["withdraw"]["comment_required"] is True
    assert actions["submit"]["label"] == "Ajukan ke mentor"


def test_get_case_actions_depend_on_role(client, world):
    # The mentor can see the draft but has nothing to do on it yet.
    body = client.get(f"/api/v1/cases/{world.case.id}", headers=bearer(world.mentor)).json
    assert body["actions"] == []
    perform(world.case, "submit", world.trainee)
    body = client.get(f"/api/v1/cases/{world.case.id}", headers=bearer(world.mentor)).json
    assert {a["trigger"] for a in body["actions"]} == {"approve", "request_revision"}
    trainee = client.get(f"/api/v1/cases/{world.case.id}", headers=bearer(world.trainee)).json
    assert {a["trigger"] for a in trainee["actions"]} == {"withdraw"}


def test_get_case_lists_fields_an_action_collects(client, world):
    perform(world.case, "submit", world.trainee)
    perform(world.case, "approve", world.mentor)
    body = client.get(
        f"/api/v1/cases/{world.case.id}?lang=en", headers=bearer(world.executive)
    ).json
    endorse = next(a for a in body["actions"] if a["trigger"] == "endorse")
    assert [(f["name"], f["type"], f["required"]) for f in endorse["fields"]] == [
        ("letter_number", "text", True),
        ("letter_date", "date", True),
    ]
    assert endorse["fields"][0]["label"] == "Letter number"
    assert endorse["label"] == "Endorse"


def test_blocked_action_shows_guard_reasons(client, world):
    world.case.title = ""
    db.session.commit()
    body = client.get(f"/api/v1/cases/{world.case.id}", headers=bearer(world.trainee)).json
    submit = next(a for a in body["actions"] if a["trigger"] == "submit")
    assert submit["blocked"] is True
    # Indonesian by default.
    assert "Judul masih kosong." in submit["blocked_reasons"]
    english = client.get(
        f"/api/v1/cases/{world.case.id}?lang=en", headers=bearer(world.trainee)
    ).json
    submit = next(a for a in english["actions"] if a["trigger"] == "submit")
    assert "The title is empty." in submit["blocked_reasons"]


@pytest.mark.parametrize("method, path", CASE_PATHS)
def test_another_persons_case_is_404(client, world, method, path):
    other = factories.World()
    response = getattr(client, method)(path.format(id=other.case.id), headers=bearer(world.trainee))
    assert response.status_code == 404
    assert response.is_json and response.json["message"]
    assert event_count(other.case.id) == 0
    # Not even a stranger in the same cohort.
    response = getattr(client, method)(
        path.format(id=world.case.id), headers=bearer(world.stranger)
    )
    assert response.status_code == 404
    assert event_count(world.case.id) == 0


@pytest.mark.parametrize("case_id", ["999999", "2147483648", "0", "abc"])
def test_unknown_case_is_404(client, world, case_id):
    response = client.get(f"/api/v1/cases/{case_id}", headers=bearer(world.trainee))
    assert response.status_code == 404
    assert response.is_json and response.json["message"]


# ---------------------------------------------------------------- actions


@pytest.mark.parametrize("if_match", ["1", '"1"', 'W/"1"', None, "*"])
def test_action_success_writes_one_event_and_returns_new_version(client, world, if_match):
    headers = bearer(world.trainee)
    if if_match is not None:
        headers["If-Match"] = if_match
    response = client.post(
        f"/api/v1/cases/{world.case.id}/actions/submit",
        json={"comment": None, "data": {}},
        headers=headers,
    )
    assert response.status_code == 200, response.json
    assert response.json["state"] == "mentor_review"
    assert response.json["version"] == 2
    assert response.headers["ETag"] == '"2"'
    assert response.json["state_label"] == "Menunggu persetujuan mentor"
    assert event_count(world.case.id) == 1
    assert stored_version(world.case.id) == 2
    assert "Set-Cookie" not in response.headers


def test_action_with_data_and_comment_is_recorded_in_events(client, world):
    perform(world.case, "submit", world.trainee)
    perform(world.case, "approve", world.mentor, comment="Setuju.")
    response = client.post(
        f"/api/v1/cases/{world.case.id}/actions/endorse",
        json={"data": {"letter_number": "800/123/DPMD", "letter_date": "2026-03-05"}},
        headers={**bearer(world.executive), "If-Match": '"3"'},
    )
    assert response.status_code == 200, response.json
    assert response.json["state"] == "implementation"

    events = client.get(
        f"/api/v1/cases/{world.case.id}/events", headers=bearer(world.trainee)
    ).json["items"]
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert [e["trigger"] for e in events] == ["submit", "approve", "endorse"]
    assert events[0]["from"] == "draft" and events[0]["to"] == "mentor_review"
    assert events[0]["prev_hash"] == "" and events[1]["prev_hash"] == events[0]["hash"]
    assert events[2]["prev_hash"] == events[1]["hash"]
    assert events[1]["comment"] == "Setuju."
    assert events[1]["actor"] == {"id": world.mentor.id, "name": world.mentor.name}
    assert events[2]["data"] == {"letter_number": "800/123/DPMD", "letter_date": "2026-03-05"}
    assert events[2]["on_behalf_of"] is None
    for e in events:
        assert e["created_at"].endswith("Z") and "T" in e["created_at"]
        assert len(e["hash"]) == 64


def test_guard_block_is_422_with_reasons_and_writes_nothing(client, world):
    world.case.title = ""
    db.session.commit()
    version = world.case.version  # editing the proposal moved it
    response = client.post(
        f"/api/v1/cases/{world.case.id}/actions/submit",
        json={},
        headers={**bearer(world.trainee), "If-Match": f'"{version}"'},
    )
    assert response.status_code == 422
    body = response.json
    assert body["message"]
    assert "Judul masih kosong." in body["reasons"]
    assert body["fields"] == {}
    assert event_count(world.case.id) == 0
    assert stored_version(world.case.id) == version


def test_missing_required_input_is_422_with_fields(client, world):
    perform(world.case, "submit", world.trainee)
    response = client.post(
        f"/api/v1/cases/{world.case.id}/actions/request_revision",
        json={"comment": "   "},
        headers=bearer(world.mentor),
    )
    assert response.status_code == 422
    assert set(response.json["fields"]) == {"comment"}
    assert response.json["reasons"]
    assert event_count(world.case.id) == 1


def test_wrong_role_is_403_and_writes_nothing(client, world):
    response = client.post(
        f"/api/v1/cases/{world.case.id}/actions/submit", headers=bearer(world.mentor)
    )
    assert response.status_code == 403
    assert response.json["message"]
    assert event_count(world.case.id) == 0
    assert stored_version(world.case.id) == 1


def test_stale_version_is_409_and_writes_nothing(client, world):
    response = client.post(
        f"/api/v1/cases/{world.case.id}/actions/submit",
        json={"comment": None},
        headers={**bearer(world.trainee), "If-Match": '"7"'},
    )
    assert response.status_code == 409
    assert response.json["message"]
    assert event_count(world.case.id) == 0
    assert stored_version(world.case.id) == 1


def test_trigger_not_available_in_state_is_409(client, world):
    for trigger in ("approve", "no_such_trigger"):
        response = client.post(
            f"/api/v1/cases/{world.case.id}/actions/{trigger}", headers=bearer(world.trainee)
        )
        assert response.status_code == 409
        assert response.json["message"]
    assert event_count(world.case.id) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": "not json", "content_type": "application/json"},
        {"json": [1, 2]},
        {"json": "submit"},
        {"json": {"comment": 5}},
        {"json": {"data": [1]}},
        {"json": {"data": "x"}},
        {"json": {"comment": "ok", "extra": 1}},
        {"json": {"comment": "a\u0000b"}},
        {"data": '{"data": {"n": NaN}}', "content_type": "application/json"},
    ],
)
def test_bad_body_is_400_and_writes_nothing(client, world, kwargs):
    response = client.post(
        f"/api/v1/cases/{world.case.id}/actions/submit", headers=bearer(world.trainee), **kwargs
    )
    assert response.status_code == 400
    assert response.is_json and response.json["message"]
    assert event_count(world.case.id) == 0


@pytest.mark.parametrize("if_match", ["abc", '"1', "W/", "1, 2", "-1"])
def test_bad_if_match_is_400(client, world, if_match):
    response = client.post(
        f"/api/v1/cases/{world.case.id}/actions/submit",
        headers={**bearer(world.trainee), "If-Match": if_match},
    )
    if if_match == '"1':
        # A lone quote is tolerated: the digits are what count.
        assert response.status_code == 200
    else:
        assert response.status_code == 400
        assert response.json["message"]
        assert event_count(world.case.id) == 0


# ---------------------------------------------------------------- errors under /api/


@pytest.mark.parametrize("path", ["/api/v1/nothing", "/api/v2/cases", "/api/v1/cases/1/x"])
def test_unknown_api_path_is_404_json(client, world, path):
    response = client.get(path, headers=bearer(world.trainee))
    assert response.status_code == 404
    assert response.is_json and response.json["message"]


def test_wrong_method_is_405_json(client, world):
    response = client.delete("/api/v1/cases", headers=bearer(world.trainee))
    assert response.status_code == 405
    assert response.is_json and response.json["message"]
    assert "GET" in response.headers["Allow"]
    response = client.get(
        f"/api/v1/cases/{world.case.id}/actions/submit", headers=bearer(world.trainee)
    )
    assert response.status_code == 405 and response.is_json


def test_messages_follow_language(client, world):
    # Refusals are translatable strings rendered in the request's language.
    response = client.post(
        f"/api/v1/cases/{world.case.id}/actions/submit",
        headers={**bearer(world.mentor), "Accept-Language": "en"},
    )
    assert response.json["message"] == "You may not take this action on this case."


def test_overdue_counts_in_the_institution_calendar_and_not_after_the_end(world):
    # Due 2026-03-02 (the cohort's proposal deadline).
    assert is_overdue(world.case, today=date(2026, 3, 2)) is False
    assert is_overdue(world.case, today=date(2026, 3, 3)) is True
    perform(world.case, "withdraw", world.trainee, comment="Pindah tugas.")
    assert is_overdue(world.case, today=date(2030, 1, 1)) is False
