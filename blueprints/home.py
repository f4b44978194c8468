"""Home: the cases the user must act on (the results ready to finalize among them), then
every case the user can see."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from workflow.extensions import db
from workflow.models import Campaign, Case, Cohort, Program
from workflow.permissions import cases_awaiting, cases_visible_to
from workflow.services import definition_of, progress
from workflow.services.actions import is_overdue
from workflow.services.evaluation import awaiting_finalize, finalizer_roles
from workflow.services.notifications import case_subject

from ._web import label, user_roles

bp = Blueprint("home", __name__)

PER_PAGE = 50


def _eager(query):
    # Everything a row shows, in the same query: the count stays flat as rows grow.
    return query.options(
        joinedload(Case.trainee),
        joinedload(Case.cohort).joinedload(Cohort.program).joinedload(Program.institution),
        # A region unit's case: its unit and its campaign (whose institution dates it).
        joinedload(Case.region),
        joinedload(Case.campaign).joinedload(Campaign.institution),
    )


def _ordered(query):
    return query.order_by(Case.due_date.is_(None), Case.due_date, Case.id)


def row(case: Case) -> dict:
    definition = definition_of(case)
    subject, context = case_subject(case)
    return {
        "case": case,
        "state": definition.state(case.state),
        "overdue": is_overdue(case),
        # Who or what it is about (trainee or unit) and where (cohort or campaign); a
        # region unit's case has no title of its own: its flow names it.
        "subject": subject,
        "context": context,
        "title": case.title or (label(definition.labels) if case.region_id is not None else ""),
    }


def columns(rows: list[dict]) -> dict:
    """The table's headings for what its rows are about: trainees, units, or both."""
    units = any(r["case"].region_id is not None for r in rows)
    people = any(r["case"].region_id is None for r in rows)
    if units and not people:
        return {"subject": _("Unit"), "context": _("Campaign")}
    if units:
        return {"subject": _("Trainee or unit"), "context": _("Cohort or campaign")}
    return {"subject": _("Trainee"), "context": _("Cohort")}


@bp.get("/")
@login_required
def index():
    awaiting = db.session.scalars(_ordered(_eager(cases_awaiting(current_user)))).unique().all()
    page = db.paginate(
        _ordered(_eager(cases_visible_to(current_user))), per_page=PER_PAGE, error_out=False
    )
    # Milestones: a fixed number of queries each, and only for those who hold the role.
    roles = user_roles(current_user)
    # The results whose every sheet is in, for who finalizes them (the organizer): one
    # query, whatever the number of cases.
    ready = []
    if set(roles) & finalizer_roles():
        listed = {c.id for c in awaiting}
        ready = [
            c
            for c in db.session.scalars(_ordered(_eager(awaiting_finalize(current_user)))).all()
            if c.id not in listed
        ]
    mine = progress.trainee_milestones(current_user) if "trainee" in roles else None
    to_verify = progress.awaiting_verification_for(current_user) if "mentor" in roles else []
    visible = [row(c) for c in page.items]
    return render_template(
        "home/index.html",
        returned=mine.returned if mine else [],
        due_milestones=mine.due if mine else [],
        to_verify=to_verify,
        awaiting=[row(c) for c in awaiting],
        ready=[row(c) for c in ready],
        visible=visible,
        columns=columns(visible),
        page=page,
    )
