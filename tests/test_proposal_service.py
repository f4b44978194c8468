"""The proposal draft service: validation, access, no lost or overwritten work, diff."""

from __future__ import annotations

from datetime import date

import pytest

from workflow.extensions import db
from workflow.models import Case, Milestone
from workflow.services import Blocked, Conflict, Forbidden, NotAvailable, perform
from workflow.services import proposals as P

GOOD_MILESTONE = {
    "term": "short",
    "activity": "Sosialisasi",
    "output": "Berita acara",
    "target_date": "2026-04-10",
    "target_quantity": "15",
    "target_unit": "kecamatan",
    "units": "Balik Bukit\nSumber Jaya\n\n",
}


def fresh(case: Case) -> Case:
    db.session.expire_all()
    return db.session.get(Case, case.id)


def snapshot(case: Case) -> dict:
    case = fresh(case)
    return {"version": case.version, **case.proposal_content()}


def test_save_text_bumps_version_and_stores_as_typed(world):
    case = world.case
    before = case.version
    script = "<script>alert('x')</script> & <b>tebal</b>\x00"
    new = P.save_fields(case, world.trainee, {"title": "Judul baru", "scope": script}, before)
    assert new == before + 1
    case = fresh(case)
    assert case.version == new
    assert case.title == "Judul baru"
    assert case.scope == "<script>alert('x')</script> & <b>tebal</b>"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "x" * 301}, "title"),
        ({"core_issue": "x" * 10001}, "core_issue"),
        ({"benefits": 12}, "benefits"),
        ({"state": "implementation"}, "state"),
        ({"team": "not a list"}, "team"),
        ({"team": [{"role": "Ketua"}]}, "team[0].name"),
        (
            {
                "stakeholders": [
                    {"name": "Bappeda", "kind": "partner", "influence": "high", "interest": "low"}
                ]
            },
            "stakeholders[0].kind",
        ),
        (
            {"stakeholders": [{"name": "Bappeda", "kind": "external", "interest": "low"}]},
            "stakeholders[0].influence",
        ),
        ({"risks": [{"risk": "", "mitigation": "x"}]}, "risks[0].risk"),
        ({"milestones": [{**GOOD_MILESTONE, "target_date": ""}]}, "milestones[0].target_date"),
        (
            {"milestones": [{**GOOD_MILESTONE, "target_date": "2026-02-30"}]},
            "milestones[0].target_date",
        ),
        (
            {"milestones": [{**GOOD_MILESTONE, "target_date": "2026-09-01"}]},
            "milestones[0].target_date",
        ),
        (
            {"milestones": [{**GOOD_MILESTONE, "term": "medium", "target_date": "2026-01-05"}]},
            "milestones[0].target_date",
        ),
        (
            {"milestones": [{**GOOD_MILESTONE, "target_quantity": "-1"}]},
            "milestones[0].target_quantity",
        ),
        (
            {"milestones": [{**GOOD_MILESTONE, "target_quantity": "banyak"}]},
            "milestones[0].target_quantity",
        ),
        ({"milestones": [{**GOOD_MILESTONE, "term": "someday"}]}, "milestones[0].term"),
        ({"milestones": [{**GOOD_MILESTONE, "activity": " "}]}, "milestones[0].activity"),
        ({"milestones": [{**GOOD_MILESTONE, "units": "x" * 301}]}, "milestones[0].units"),
    ],
)
def test_invalid_saves_name_the_field_and_write_nothing(world, changes, field):
    before = snapshot(world.case)
    with pytest.raises(Blocked) as info:
        P.save_fields(world.case, world.trainee, changes, world.case.version)
    assert field in info.value.fields
    assert str(info.value.fields[field])
    assert snapshot(world.case) == before


def test_valid_lists_replace_and_milestones_keep_order(world):
    case = world.case
    second = {
        **GOOD_MILESTONE,
        "term": "medium",
        "target_date": "2026-12-01",
        "target_quantity": "2,5",
        "units": ["A", "B"],
    }
    P.save_fields(
        case,
        world.trainee,
        {
            "team": [{"name": "Ani", "role": "Ketua"}],
            "milestones": [GOOD_MILESTONE, second],
        },
        case.version,
    )
    case = fresh(case)
    assert case.team == [{"name": "Ani", "role": "Ketua"}]
    assert [(m.term, m.position) for m in case.milestones] == [("short", 0), ("medium", 1)]
    assert case.milestones[0].units == ["Balik Bukit", "Sumber Jaya"]
    assert case.milestones[0].target_date == date(2026, 4, 10)
    assert case.milestones[1].target_quantity == 2.5


@pytest.mark.parametrize(
    ("who", "state", "error"),
    [
        ("mentor", None, Forbidden),
        ("coach", None, Forbidden),
        ("stranger", None, Forbidden),
        ("trainee", "mentor_review", NotAvailable),
        ("trainee", "endorsement_pending", NotAvailable),
        ("trainee", "implementation", NotAvailable),
    ],
)
def test_only_the_trainee_while_editable(world, who, state, error):
    if state:
        world.case.state = state
        db.session.commit()
    before = snapshot(world.case)
    with pytest.raises(error):
        P.save_fields(world.case, world.by_role(who), {"title": "Bukan saya"}, world.case.version)
    with pytest.raises(error):
        P.add_row(world.case, world.by_role(who), "team", {"name": "X"}, world.case.version)
    assert snapshot(world.case) == before


def test_revision_requested_is_editable(world):
    world.case.state = "revision_requested"
    db.session.commit()
    P.save_fields(world.case, world.trainee, {"title": "Revisi"}, world.case.version)
    assert fresh(world.case).title == "Revisi"


def test_stale_version_conflicts_and_writes_nothing(world):
    case = world.case
    old = case.version
    P.save_fields(case, world.trainee, {"title": "Tab satu"}, old)
    before = snapshot(case)
    for call in (
        lambda: P.save_fields(case, world.trainee, {"title": "Tab dua"}, old),
        lambda: P.add_row(case, world.trainee, "risks", {"risk": "R"}, old),
        lambda: P.remove_row(case, world.trainee, "milestones", 0, old),
        lambda: P.save_fields(case, world.trainee, {"title": "Tanpa versi"}, None),
    ):
        with pytest.raises(Conflict):
            call()
    assert snapshot(case) == before
    assert fresh(case).title == "Tab satu"


@pytest.mark.parametrize("kind", ["stakeholders", "team", "risks", "milestones"])
def test_row_operations_bump_version(world, kind):
    case = world.case
    values = {
        "stakeholders": [
            {"name": n, "kind": "internal", "influence": "high", "interest": "low"}
            for n in ("A", "B")
        ],
        "team": [{"name": "A", "role": ""}, {"name": "B", "role": ""}],
        "risks": [{"risk": "A", "mitigation": ""}, {"risk": "B", "mitigation": ""}],
        "milestones": [{**GOOD_MILESTONE, "activity": "A"}, {**GOOD_MILESTONE, "activity": "B"}],
    }[kind]
    key = "activity" if kind == "milestones" else ("risk" if kind == "risks" else "name")

    def names():
        c = fresh(case)
        rows = c.milestones if kind == "milestones" else getattr(c, kind)
        return [getattr(r, key) if kind == "milestones" else r[key] for r in rows]

    start = names()
    v = case.version
    for row in values:
        v2 = P.add_row(case, world.trainee, kind, row, v)
        assert v2 == v + 1
        v = v2
    assert names() == [*start, "A", "B"]
    last = len(start) + 1
    v = P.move_row(case, world.trainee, kind, last, "up", v)
    assert names() == [*start, "B", "A"]
    v = P.update_row(case, world.trainee, kind, last, {**values[0], key: "A2"}, v)
    assert names() == [*start, "B", "A2"]
    with pytest.raises(NotAvailable):
        P.move_row(case, world.trainee, kind, last, "down", v)
    v = P.remove_row(case, world.trainee, kind, last - 1, v)
    assert names() == [*start, "A2"]
    assert fresh(case).version == v


def test_invalid_row_edit_writes_nothing(world):
    before = snapshot(world.case)
    with pytest.raises(Blocked) as info:
        P.update_row(
            world.case,
            world.trainee,
            "milestones",
            0,
            {**GOOD_MILESTONE, "target_quantity": "-3"},
            world.case.version,
        )
    assert set(info.value.fields) == {"target_quantity"}
    assert snapshot(world.case) == before


def test_missing_row_is_not_available(world):
    with pytest.raises(NotAvailable):
        P.remove_row(world.case, world.trainee, "team", 5, world.case.version)


# ---------------------------------------------------------------- diff


def texts(section):
    return [(s["op"], s["text"]) for s in section["spans"] if s["op"] != "equal"]


@pytest.mark.parametrize(
    ("old", "new", "changes"),
    [
        (
            "Perencanaan desa belum terpadu.",
            "Perencanaan desa sudah terpadu.",
            [("delete", "belum"), ("insert", "sudah")],
        ),
        ("A B", "A B C", [("insert", " "), ("insert", "C")]),
        ("", "Baru", [("insert", "Baru")]),
        ("Sama", "Sama", []),
    ],
)
def test_text_diff(old, new, changes):
    base = {"title": "", "milestones": []}
    diff = P.diff_snapshots({**base, "core_issue": old}, {**base, "core_issue": new})
    section = next(s for s in diff if s["field"] == "core_issue")
    got = texts(section)
    # Adjacent inserts may come as one span; compare the joined text per op.
    assert "".join(t for op, t in got if op == "insert") == "".join(
        t for op, t in changes if op == "insert"
    )
    assert "".join(t for op, t in got if op == "delete") == "".join(
        t for op, t in changes if op == "delete"
    )
    assert section["changed"] is bool(changes)


def milestone(activity, day="2026-04-01"):
    return {
        "term": "short",
        "activity": activity,
        "output": "",
        "target_date": day,
        "target_quantity": None,
        "target_unit": "",
        "units": [],
    }


@pytest.mark.parametrize(
    ("old", "new", "ops"),
    [
        ([milestone("A")], [milestone("A"), milestone("B")], ["same", "added"]),
        ([milestone("A"), milestone("B")], [milestone("B")], ["removed", "same"]),
        ([milestone("A")], [milestone("A", "2026-05-01")], ["changed"]),
        ([], [], []),
    ],
)
def test_milestone_diff(old, new, ops):
    diff = P.diff_snapshots({"milestones": old}, {"milestones": new})
    section = next(s for s in diff if s["field"] == "milestones")
    assert [r["op"] for r in section["rows"]] == ops
    assert section["changed"] is any(op != "same" for op in ops)
    if ops == ["changed"]:
        assert section["rows"][0]["changes"] == [
            {"column": "target_date", "old": "2026-04-01", "new": "2026-05-01"}
        ]


def test_previous_and_current_follow_snapshots(world):
    case = world.case
    assert P.previous_and_current(case) == (None, case.proposal_content())
    perform(case, "submit", world.trainee)
    first = case.proposal_content()
    assert P.previous_and_current(case) == (None, first)
    perform(case, "request_revision", world.mentor, comment="Perbaiki judul")
    P.save_fields(case, world.trainee, {"title": "Judul kedua"}, case.version)
    perform(case, "submit", world.trainee)
    previous, current = P.previous_and_current(fresh(case))
    assert previous == first
    assert current["title"] == "Judul kedua"
    diff = P.diff_snapshots(previous, current)
    changed = [s["field"] for s in diff if s["changed"]]
    assert changed == ["title"]
    assert P.snapshot_pair(fresh(case), 2) == (previous, current)
    assert P.snapshot_pair(fresh(case), 3) is None
    assert isinstance(fresh(case).milestones[0], Milestone)


def test_unchanged_text_is_not_a_new_revision(world):
    case = world.case
    version = case.version
    assert P.save_fields(case, world.trainee, {"title": case.title}, version) == version
    assert fresh(case).version == version
