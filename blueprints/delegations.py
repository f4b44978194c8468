"""Acting officials (Plt./Plh./Pj.): a principal or an organizer sets who acts for whom,
when, and under which decree (SK)."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from workflow.extensions import db
from workflow.models import Delegation, User
from workflow.permissions import DELEGABLE, delegable_roles, get_case_for
from workflow.services import WorkflowError
from workflow.services import delegations as service

from ._web import localdate

bp = Blueprint("delegations", __name__, url_prefix="/delegations")
# The printable proposal sits under /cases/ but is registered from here (see init_app).
printing_bp = Blueprint("printing", __name__, url_prefix="/cases")

FORM_FIELDS = (
    "principal",
    "delegate",
    "role",
    "kind",
    "starts_on",
    "ends_on",
    "sk_number",
    "sk_date",
    "reason",
)


def _role_choices(own_roles: list[str], organized_pairs) -> list[str]:
    """An organizer may delegate any built-in role (and a campaign's institution admin the
    declared roles of its people); a principal only a role they hold."""
    if not organized_pairs:
        return own_roles
    roles = {role for _person, role in organized_pairs}
    builtin = list(DELEGABLE) if roles & set(DELEGABLE) else []
    return list(
        dict.fromkeys([*own_roles, *builtin, *(r for r in delegable_roles() if r in roles)])
    )


def _page(*, typed: dict | None = None, errors: dict | None = None, message=None, status=200):
    user = current_user._get_current_object()
    today = service.today_for(user)
    rows = db.session.scalars(
        service.delegations_visible_to(user)
        .options(
            joinedload(Delegation.principal),
            joinedload(Delegation.delegate),
        )
        .order_by(Delegation.starts_on.desc(), Delegation.id.desc())
    ).all()
    # One entry per person the organizer may set a delegation for.
    organized_pairs = service.principals_organized_by(user)
    organized = list({p.id: p for p, _role in organized_pairs}.values())
    own_roles = [r for r in delegable_roles() if service.holds_role(user, r)]
    return (
        render_template(
            "delegations/index.html",
            rows=[
                {
                    "d": d,
                    "status": service.status_of(d, today),
                    "can_revoke": d.revoked_at is None
                    and d.ends_on >= today
                    and service.can_manage(user, d),
                }
                for d in rows
            ],
            today=today,
            own_roles=own_roles,
            # An organizer may delegate the roles of the people they organize; a principal
            # only a role they hold.
            role_choices=_role_choices(own_roles, organized_pairs),
            organized=organized,
            candidates=service.candidates_for(user),
            typed=typed or {"kind": "plh", "starts_on": today.isoformat()},
            errors=errors or {},
            message=message,
            KIND_LABELS=service.KIND_LABELS,
            KIND_ABBREVIATIONS=service.KIND_ABBREVIATIONS,
            ROLE_LABELS=service.role_labels(),
            STATUS_LABELS=service.STATUS_LABELS,
        ),
        status,
    )


@bp.get("")
@login_required
def index():
    return _page()


@bp.post("")
@login_required
def create():
    typed = {name: (request.form.get(name) or "").strip() for name in FORM_FIELDS}
    typed["reason"] = request.form.get("reason") or ""
    user = current_user._get_current_object()
    principal = user
    if typed["principal"] and typed["principal"] != str(user.id):
        raw = typed["principal"]
        # A number past any id is nobody (and would overflow the query).
        if not (raw.isascii() and raw.isdigit() and len(raw) < 10):
            principal = None
        else:
            principal = db.session.get(User, int(raw))
    try:
        delegation = service.create_delegation(
            principal,
            service.find_user(typed["delegate"]),
            typed["role"],
            typed["kind"],
            typed["starts_on"],
            typed["ends_on"],
            typed["reason"],
            user,
            sk_number=typed["sk_number"],
            sk_date=typed["sk_date"],
        )
    except WorkflowError as exc:
        db.session.rollback()
        errors = dict(exc.fields)
        message = str(exc.message)
        return _page(typed=typed, errors=errors, message=message, status=exc.status)
    flash(
        _(
            "%(name)s acts as %(kind)s %(role)s from %(start)s to %(end)s.",
            name=delegation.delegate.name,
            kind=service.KIND_ABBREVIATIONS[delegation.kind],
            role=service.role_label(delegation.role),
            start=localdate(delegation.starts_on),
            end=localdate(delegation.ends_on),
        ),
        "success",
    )
    return redirect(url_for("delegations.index"))


@bp.post("/<int:delegation_id>/revoke")
@login_required
def revoke(delegation_id: int):
    user = current_user._get_current_object()
    delegation = service.get_delegation_for(user, delegation_id)
    if delegation is None:
        abort(404)
    try:
        service.revoke_delegation(delegation, user)
    except WorkflowError as exc:
        db.session.rollback()
        return _page(message=str(exc.message), status=exc.status)
    flash(_("The delegation is revoked."), "success")
    return redirect(url_for("delegations.index"))


@printing_bp.get("/<int:case_id>/proposal.pdf")
@login_required
def proposal_pdf(case_id: int):
    from workflow.services import printing

    case = get_case_for(current_user, case_id)
    if case is None:
        abort(404)
    response = make_response(printing.proposal_pdf(case))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{printing.pdf_filename(case)}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


class _RoleLabels:
    """DELEGATION_ROLE_LABELS[role] in templates: a role's name, looked up when read."""

    def __getitem__(self, role: str) -> str:
        return service.role_label(role)


def init_app(app: Flask) -> None:
    app.register_blueprint(printing_bp)

    @app.context_processor
    def _acting_context():
        def acting_now():
            """Delegations the current user acts under today (queried only when shown)."""
            if not getattr(current_user, "is_authenticated", False):
                return []
            return service.active_delegations(current_user._get_current_object())

        return {
            "acting_now": acting_now,
            "acting_abbreviation": service.acting_abbreviation,
            "KIND_ABBREVIATIONS": service.KIND_ABBREVIATIONS,
            "DELEGATION_ROLE_LABELS": _RoleLabels(),
        }
