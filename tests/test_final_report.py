"""The final report: validated, versioned saves; the submit guard listing everything missing;
submission and return; the editor, read view and PDF over HTTP."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
import time_machine
from flask_babel import force_locale
from flask_login import login_user
from pypdf import PdfReader
from sqlalchemy import func, select

from tests.factories import (
    COMPLETE_REPORT,
    add_coverage_milestone,
    fill_final_report,
    to_implementation,
)
from tests.test_http_helpers import check_markup, english, login, page_token, triggers_in
from tests.test_http_home import counting_statements
from workflow.extensions import db
from workflow.models import AuditEvent, Case, FinalReport, Milestone
from workflow.services import Blocked, Conflict, Forbidden, NotAvailable, perform, printing
from workflow.services import final_report as R

NOT_CLOSED = "is neither verified nor closed with an explanation."


@pytest.fixture
def started(world):
    with time_machine.travel(date(2026, 3, 10)):
        to_implementation(world)
    return world


def fresh(case) -> Case:
    db.session.expire_all()
    return db.session.get(Case, case.id)


def stored() -> list[tuple]:
    """Every report row as it is in the database (to show a refusal wrote nothing)."""
    db.session.expire_all()
    return [
        (r.id, r.version, *(getattr(r, f) for f in FinalReport.TEXT_FIELDS), dict(r.results))
        for r in db.session.scalars(select(FinalReport).order_by(FinalReport.id))
    ]


def events(case) -> int:
    return db.session.scalar(select(func.count()).where(AuditEvent.case_id == case.id))


def close_milestones(case) -> None:
    for m in case.milestones:
        m.status = "verified"
    db.session.commit()


def short_id(world) -> str:
    return str(world.case.milestones[0].id)


def complete_changes(case) -> dict:
    return {
        **COMPLETE_REPORT,
        "results": {m.id: f"Hasil {m.activity}" for m in case.milestones if m.term == "short"},
    }


def add_medium_milestone(case) -> Milestone:
    m = Milestone(
        position=len(case.milestones),
        term="medium",
        activity="Replikasi",
        target_date=date(2026, 12, 1),
    )
    case.milestones.append(m)
    db.session.commit()
    return m


# --- saving ----------------------------------------------------------------------------


def test_first_save_creates_the_report_and_later_saves_merge(started):
    case = started.case
    assert stored() == [] and R.version_of(case) == 0
    first = R.save_report(case, started.trainee, {"executive_summary": "Ringkas."}, None)
    assert first == 1
    coverage = add_coverage_milestone(case)
    second = R.save_report(
        case, started.trainee, {"results": {coverage.id: "Empat kecamatan."}}, first
    )
    third = R.save_report(case, started.trainee, {"results": {short_id(started): "Pedoman."}}, 2)
    assert (second, third) == (2, 3)
    report = fresh(case).final_report
    assert report.executive_summary == "Ringkas."
    assert report.results == {str(coverage.id): "Empat kecamatan.", short_id(started): "Pedoman."}
    # Clearing one result removes it and leaves the other.
    R.save_report(case, started.trainee, {"results": {str(coverage.id): "  "}}, 3)
    assert fresh(case).final_report.results == {short_id(started): "Pedoman."}
    # Saving what is already there writes nothing (the `change` after an autosaved `input`).
    assert R.save_report(case, started.trainee, {"executive_summary": "Ringkas."}, 4) == 4
    assert fresh(case).final_report.version == 4


def test_saving_empty_fields_before_anything_is_stored_writes_nothing(started):
    assert R.save_report(started.case, started.trainee, {"lessons_learned": ""}, 0) == 0
    assert stored() == []


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"executive_summary": "x" * 10001}, "executive_summary", "at most 10000 characters"),
        ({"implementation": 123}, "implementation", "Must be text."),
        ({"lessons_learned": ["a"]}, "lessons_learned", "Must be text."),
        ({"video_link": "javascript:alert(1)"}, "video_link", "http:// or https://"),
        ({"video_link": "JaVaScRiPt://x.test/%0aalert(1)"}, "video_link", "http:// or https://"),
        ({"video_link": "data:text/html,<b>x</b>"}, "video_link", "http:// or https://"),
        ({"video_link": "ftp://video.test/a.mp4"}, "video_link", "http:// or https://"),
        ({"video_link": "https://"}, "video_link", "http:// or https://"),
        ({"video_link": "www.youtube.com/watch?v=x"}, "video_link", "http:// or https://"),
        ({"video_link": "https://you tube.com/x"}, "video_link", "http:// or https://"),
        ({"video_link": "http://[::1"}, "video_link", "http:// or https://"),
        ({"video_link": "https://v.test/" + "a" * 490}, "video_link", "at most 500 characters"),
        ({"results": "semua tercapai"}, "results", "Must be an object"),
        ({"results": {"999999": "x"}}, "results.999999", "No such short-term milestone"),
        ({"results": {"abc": "x"}}, "results.abc", "No such short-term milestone"),
        ({"results": {"SHORT": "x" * 5001}}, "results.SHORT", "at most 5000 characters"),
        ({"results": {"SHORT": 5}}, "results.SHORT", "Must be text."),
        ({"results": {"MEDIUM": "x"}}, "results.MEDIUM", "No such short-term milestone"),
        ({"title": "Judul"}, "title", "Unknown field."),
    ],
)
def test_each_bad_field_is_refused_beside_it_and_nothing_is_written(
    started, changes, field, message
):
    case = started.case
    medium = add_medium_milestone(case)
    R.save_report(case, started.trainee, {"executive_summary": "Awal."}, None)
    ids = {"SHORT": short_id(started), "MEDIUM": str(medium.id)}
    if isinstance(changes.get("results"), dict):
        changes = {"results": {ids.get(k, k): v for k, v in changes["results"].items()}}
    field = field.replace("SHORT", ids["SHORT"]).replace("MEDIUM", ids["MEDIUM"])
    # A valid change in the same call is not saved either.
    changes = {"implementation": "Dilaksanakan.", **changes}
    before = stored()
    with force_locale("en"), pytest.raises(Blocked) as caught:
        R.save_report(case, started.trainee, changes, 1)
    with force_locale("en"):
        assert list(caught.value.fields) == [field]
        assert message in str(caught.value.fields[field])
    assert stored() == before


def test_good_video_links_are_kept(started):
    for n, link in enumerate(
        ["https://www.youtube.com/watch?v=abc&t=1", "HTTP://video.test/a", ""], start=1
    ):
        version = R.save_report(started.case, started.trainee, {"video_link": f" {link} "}, n - 1)
        assert (version, fresh(started.case).final_report.video_link) == (n, link)


def test_changes_must_be_an_object(started):
    with pytest.raises(Blocked):
        R.save_report(started.case, started.trainee, ["executive_summary"], None)
    assert stored() == []


@pytest.mark.parametrize(
    ("stored_first", "expected", "outcome"),
    [
        (False, None, 1),
        (False, 0, 1),
        (False, 1, Conflict),  # nothing stored: only None or 0
        (True, 1, 2),
        (True, None, Conflict),  # once stored, the version must be named
        (True, 0, Conflict),
        (True, 2, Conflict),
    ],
)
def test_version_rule(started, stored_first, expected, outcome):
    if stored_first:
        R.save_report(started.case, started.trainee, {"implementation": "Awal."}, None)
    before = stored()
    change = {"implementation": "Berikutnya."}
    if outcome is Conflict:
        with pytest.raises(Conflict):
            R.save_report(started.case, started.trainee, change, expected)
        assert stored() == before
    else:
        assert R.save_report(started.case, started.trainee, change, expected) == outcome
        assert fresh(started.case).final_report.implementation == "Berikutnya."


@pytest.mark.parametrize("role", ["mentor", "coach", "examiner", "organizer", "stranger"])
def test_only_the_trainee_may_save(started, role):
    with pytest.raises(Forbidden):
        R.save_report(started.case, started.by_role(role), {"implementation": "x"}, None)
    assert stored() == []
    assert not R.can_edit(started.case, started.by_role(role))
    assert R.can_edit(started.case, started.trainee)


def test_not_editable_before_implementation(world):
    assert not R.is_editable(world.case)
    with pytest.raises(NotAvailable):
        R.save_report(world.case, world.trainee, {"implementation": "x"}, None)
    assert stored() == []


# --- the guard, submission and return ---------------------------------------------------


def test_guard_lists_open_milestones_and_missing_sections_together(started):
    case = started.case
    coverage = add_coverage_milestone(case)
    add_medium_milestone(case)  # needs no result
    with force_locale("en"):
        reasons = [str(r) for r in R.missing_sections(case)]
        assert reasons == [
            "The executive summary is empty.",
            "The implementation is not described.",
            "The result against milestone “Menyusun pedoman” is not written.",
            "The result against milestone “Sosialisasi ke kecamatan” is not written.",
            "The lessons learned are empty.",
            "The medium-term continuation plan is empty.",
            "The long-term continuation plan is empty.",
        ]
        before = (events(case), case.version, case.state)
        with pytest.raises(Blocked) as caught:
            perform(case, "submit_report", started.trainee)
        got = [str(r) for r in caught.value.reasons]
    assert [r for r in got if NOT_CLOSED in r] == [
        f"Milestone “Menyusun pedoman” {NOT_CLOSED}",
        f"Milestone “Sosialisasi ke kecamatan” {NOT_CLOSED}",
    ]
    assert got[2:] == reasons
    assert (events(case), case.version, case.state) == before
    assert stored() == []

    # Part done: only what is left.
    R.save_report(
        case,
        started.trainee,
        {"executive_summary": "Ringkas.", "results": {coverage.id: "Empat."}},
        None,
    )
    case.milestones[0].status = "not_achieved"
    case.milestones[0].closing_note = "Anggaran dipotong."
    db.session.commit()
    with force_locale("en"), pytest.raises(Blocked) as caught:
        perform(case, "submit_report", started.trainee)
    with force_locale("en"):
        assert [str(r) for r in caught.value.reasons] == [
            f"Milestone “Sosialisasi ke kecamatan” {NOT_CLOSED}",
            "The implementation is not described.",
            "The result against milestone “Menyusun pedoman” is not written.",
            "The lessons learned are empty.",
            "The medium-term continuation plan is empty.",
            "The long-term continuation plan is empty.",
        ]


def test_optional_sections_are_not_required(started):
    changes = complete_changes(started.case)
    changes.update(sponsor_commitment="", video_link="")
    R.save_report(started.case, started.trainee, changes, None)
    assert R.missing_sections(started.case) == []


def test_submit_then_return_makes_it_editable_again(started):
    case = started.case
    version = R.save_report(case, started.trainee, complete_changes(case), None)
    close_milestones(case)
    assert R.status_of(case) == "draft"
    with time_machine.travel("2026-06-01 02:00"):
        perform(case, "submit_report", started.trainee)
    case = fresh(case)
    assert case.state == "evaluation"
    report = case.final_report
    assert report.submitted_at is not None and report.submitted_at.date() == date(2026, 6, 1)
    # The stamp moved the report's version: an editor still open on it is stale.
    assert report.version == version + 1
    assert not R.is_editable(case) and R.status_of(case) == "submitted"
    before = stored()
    with pytest.raises(NotAvailable):
        R.save_report(case, started.trainee, {"implementation": "Lagi."}, report.version)
    assert stored() == before

    perform(case, "return_report", started.coach, comment="Lengkapi bukti.")
    case = fresh(case)
    assert case.state == "implementation"
    assert R.is_editable(case) and R.status_of(case) == "returned"
    submitted_version = report.version
    new = R.save_report(case, started.trainee, {"implementation": "Diperbaiki."}, submitted_version)
    assert new == submitted_version + 1
    perform(case, "submit_report", started.trainee)
    assert fresh(case).state == "evaluation"


def test_report_content_is_plain_data(started):
    case = started.case
    empty = R.report_content(case)
    assert (empty["version"], empty["status"], empty["submitted_at"]) == (0, "empty", None)
    assert len(empty["missing"]) == 6
    fill_final_report(case)
    content = R.report_content(fresh(case))
    json.dumps(content)  # JSON-ready
    assert content["executive_summary"] == COMPLETE_REPORT["executive_summary"]
    (result,) = content["results"]
    assert result["milestone_id"] == case.milestones[0].id
    assert result["text"] == "Tercapai: Menyusun pedoman."
    assert (result["target_quantity"], result["target_unit"]) == (1, "dokumen")
    assert (content["status"], content["missing"], content["editable"]) == ("draft", [], True)
    assert content["updated_at"].endswith("Z")


# --- HTTP ------------------------------------------------------------------------------


def hx(client, url, data, token):
    return client.post(url, data=data, headers={"HX-Request": "true", "X-CSRFToken": token})


@pytest.fixture
def trainee(started, client):
    english(client)
    login(client, started.trainee)
    return page_token(client, f"/cases/{started.case.id}/report")


def test_editor_page(started, client, trainee):
    case = started.case
    response = client.get(f"/cases/{case.id}/report")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    check_markup(html)
    for name in FinalReport.TEXT_FIELDS:
        assert f'id="f-{name}"' in html
    assert f'id="f-result-{short_id(started)}"' in html
    assert "1 dokumen" in html and "Planned" in html  # the milestone's target and status
    assert 'id="report-version" name="version" value="0"' in html
    assert triggers_in(html) == ["submit_report"]  # blocked, with what is missing
    assert "The executive summary is empty." in html and NOT_CLOSED in html
    assert "js/editor.js" in html


def test_autosave_saves_and_sends_the_new_version(started, client, trainee):
    case = started.case
    url = f"/cases/{case.id}/report/fields/executive_summary"
    response = hx(client, url, {"executive_summary": "<b>Ringkas</b>", "version": 0}, trainee)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="fs-executive_summary"' in html and "Saved" in html
    assert 'id="report-submit"' in html and 'hx-swap-oob="true"' in html
    assert json.loads(response.headers["HX-Trigger"]) == {"aksiReportVersion": {"value": 1}}
    assert "HX-Request" in response.headers["Vary"]
    result = f"/cases/{case.id}/report/fields/result-{short_id(started)}"
    response = hx(
        client, result, {f"result-{short_id(started)}": "Selesai.", "version": 1}, trainee
    )
    assert json.loads(response.headers["HX-Trigger"]) == {"aksiReportVersion": {"value": 2}}
    report = fresh(case).final_report
    assert (report.executive_summary, report.results) == (
        "<b>Ringkas</b>",
        {short_id(started): "Selesai."},
    )
    page = client.get(f"/cases/{case.id}/report").get_data(as_text=True)
    assert "&lt;b&gt;Ringkas&lt;/b&gt;" in page and "<b>Ringkas" not in page


def test_second_tab_is_told_and_keeps_its_text(started, client, trainee):
    case = started.case
    url = f"/cases/{case.id}/report/fields/lessons_learned"
    assert (
        hx(client, url, {"lessons_learned": "Tab satu", "version": 0}, trainee).status_code == 200
    )
    before = stored()
    second = hx(client, url, {"lessons_learned": "Tab dua", "version": 0}, trainee)
    assert second.status_code == 409
    html = second.get_data(as_text=True)
    assert "another tab" in html and f'href="/cases/{case.id}/report"' in html
    # Only the save state is swapped: the textarea, and what was typed in it, stay.
    assert html.lstrip().startswith('<p id="fs-lessons_learned"') and "<textarea" not in html
    assert "HX-Trigger" not in second.headers
    assert stored() == before


@pytest.mark.parametrize(
    ("name", "value", "status", "message"),
    [
        ("video_link", "javascript:alert(1)", 422, "http:// or https://"),
        ("implementation", "x" * 10001, 422, "at most 10000 characters"),
        ("result-SHORT", "x" * 5001, 422, "at most 5000 characters"),
    ],
)
def test_autosave_refusal_beside_the_field(started, client, trainee, name, value, status, message):
    name = name.replace("SHORT", short_id(started))
    url = f"/cases/{started.case.id}/report/fields/{name}"
    response = hx(client, url, {name: value, "version": 0}, trainee)
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert f'id="fs-{name}"' in html and message in html
    assert stored() == []


def test_autosave_of_unknown_field_or_milestone_is_404(started, client, trainee):
    medium = add_medium_milestone(started.case)
    for name in ("title", f"result-{medium.id}", "result-999999", "result-x"):
        response = hx(client, f"/cases/{started.case.id}/report/fields/{name}", {}, trainee)
        assert response.status_code == 404, name
    assert stored() == []


def test_without_javascript_the_form_saves_and_keeps_typed_text(started, client, trainee):
    case = started.case
    url = f"/cases/{case.id}/report"
    key = f"result-{short_id(started)}"
    data = {
        "csrf_token": trainee,
        "version": 0,
        **COMPLETE_REPORT,
        key: "Pedoman <selesai>",
        "video_link": "javascript:alert(1)",
    }
    response = client.post(url, data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "http:// or https://" in html
    assert COMPLETE_REPORT["lessons_learned"] in html and "Pedoman &lt;selesai&gt;" in html
    assert 'value="javascript:alert(1)"' in html  # kept to correct, never linked
    assert stored() == []
    data["video_link"] = "https://video.test/aksi"
    response = client.post(url, data=data)
    assert response.status_code == 302 and response.headers["Location"].endswith(url)
    report = fresh(case).final_report
    assert report.results == {short_id(started): "Pedoman <selesai>"}
    assert report.video_link == "https://video.test/aksi"
    assert "Saved." in client.get(url).get_data(as_text=True)
    # A stale full form is a conflict that keeps the text.
    data["lessons_learned"] = "Ketinggalan"
    response = client.post(url, data=data)
    assert response.status_code == 409
    assert "Ketinggalan" in response.get_data(as_text=True)
    assert fresh(case).final_report.lessons_learned == COMPLETE_REPORT["lessons_learned"]


def test_submit_from_the_editor_then_read_view(started, client, trainee):
    case = started.case
    fill_final_report(case)
    close_milestones(case)
    html = client.get(f"/cases/{case.id}/report").get_data(as_text=True)
    assert f'action="/cases/{case.id}/actions/submit_report"' in html
    response = client.post(
        f"/cases/{case.id}/actions/submit_report",
        data={"csrf_token": trainee, "version": fresh(case).version},
    )
    assert response.status_code == 302
    assert fresh(case).state == "evaluation"
    html = client.get(f"/cases/{case.id}/report").get_data(as_text=True)
    check_markup(html)
    assert "<textarea" not in html and "Submitted" in html
    assert COMPLETE_REPORT["executive_summary"] in html
    token = page_token(client, f"/cases/{case.id}")
    response = hx(client, f"/cases/{case.id}/report/fields/implementation", {}, token)
    assert response.status_code == 403


@pytest.mark.parametrize("role", ["mentor", "coach", "examiner", "organizer", "executive"])
def test_read_view_for_the_others_on_the_case(started, client, role):
    case = started.case
    fill_final_report(case)
    english(client)
    login(client, started.by_role(role))
    response = client.get(f"/cases/{case.id}/report")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    check_markup(html)
    assert "<textarea" not in html and 'name="version"' not in html
    assert "Draft" in html and "Tercapai: Menyusun pedoman." in html
    assert (
        'href="{}"'.format(COMPLETE_REPORT["video_link"]) in html
        and 'rel="noopener noreferrer nofollow"' in html
    )
    token = page_token(client, f"/cases/{case.id}")
    response = hx(client, f"/cases/{case.id}/report/fields/implementation", {"version": 1}, token)
    assert response.status_code == 403
    assert stored()[0][1] == 1


def test_a_stranger_gets_404_everywhere(started, client):
    fill_final_report(started.case)
    login(client, started.stranger)
    case_id = started.case.id
    token = page_token(client, "/")
    assert client.get(f"/cases/{case_id}/report").status_code == 404
    assert client.get(f"/cases/{case_id}/report/pdf").status_code == 404
    assert (
        hx(client, f"/cases/{case_id}/report/fields/implementation", {}, token).status_code == 404
    )
    response = client.post(f"/cases/{case_id}/report", data={"csrf_token": token, "version": 1})
    assert response.status_code == 404
    assert stored()[0][1] == 1


@pytest.mark.parametrize("role", ["trainee", "mentor"])
def test_pdf_is_served(started, client, role):
    case = started.case
    fill_final_report(case)
    english(client)
    login(client, started.by_role(role))
    response = client.get(f"/cases/{case.id}/report/pdf")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert f"laporan-aksi-perubahan-{case.id}.pdf" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "private, no-store"
    text = "".join(
        "".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(response.data)).pages
    )
    for expected in (
        "CHANGEACTIONFINALREPORT",
        "Executivesummary",
        "Resultsagainstthetargets",
        "Tercapai:Menyusunpedoman.",
        "Long-termcontinuationplan",
        COMPLETE_REPORT["video_link"],
        "APPROVALPAGE",
    ):
        assert expected in text, expected


def test_pdf_of_an_empty_report_prints(started):
    assert printing.final_report_pdf(started.case).startswith(b"%PDF")


def test_editor_query_count_does_not_grow_with_milestones(started, client, trainee):
    case = started.case
    add_coverage_milestone(case)
    with counting_statements() as few:
        small = client.get(f"/cases/{case.id}/report")
    for n in range(6):
        add_coverage_milestone(case, units=(f"Kecamatan {n}a", f"Kecamatan {n}b"))
    with counting_statements() as many:
        big = client.get(f"/cases/{case.id}/report")
    assert small.status_code == big.status_code == 200
    assert big.get_data(as_text=True).count('id="f-result-') == 8
    assert len(few) == len(many), "\n".join(many)


@pytest.mark.parametrize(
    ("setup", "role", "shown", "link"),
    [
        ("draft", "trainee", None, None),
        ("implementation", "trainee", "Not started", "Write the final report"),
        ("saved", "trainee", "Draft", "Continue the final report"),
        ("saved", "mentor", "Draft", "Read the final report"),
        ("implementation", "mentor", "Not started", None),
        ("submitted", "trainee", "Submitted", "Read the final report"),
        ("submitted", "examiner", "Submitted", "Read the final report"),
    ],
)
def test_summary_card_for_the_case_page(world, app, setup, role, shown, link):
    from flask import render_template

    case = world.case
    if setup != "draft":
        with time_machine.travel(date(2026, 3, 10)):
            to_implementation(world)
    if setup in ("saved", "submitted"):
        fill_final_report(case)
    if setup == "submitted":
        close_milestones(case)
        perform(case, "submit_report", world.trainee)
    with app.test_request_context("/"), force_locale("en"):
        login_user(world.by_role(role))
        html = render_template("final_report/_summary.html", case=fresh(case))
    if shown is None:
        assert html.strip() == ""
        return
    assert shown in html
    if link:
        assert link in html and f'href="/cases/{case.id}/report"' in html
    else:
        assert f'href="/cases/{case.id}/report"' not in html
