"""The in-app inbox: the user's notifications, the unread badge, mark read."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import ngettext
from flask_login import current_user, login_required

from workflow.extensions import db
from workflow.services import notifications

from ._web import lang, page_or_fragment

bp = Blueprint("inbox", __name__, url_prefix="/inbox")

PER_PAGE = 20
BADGE_MAX = 99


def _page_arg() -> int:
    page = request.args.get("page", 1, type=int)
    return page if page and 1 <= page <= 1_000_000 else 1


@bp.get("")
@login_required
def index():
    page = _page_arg()
    unread_only = request.args.get("unread") == "1"
    items, total = notifications.page_of(
        current_user.id, page=page, per_page=PER_PAGE, unread_only=unread_only
    )
    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    reader = lang()
    rows = [{"note": i.note, "words": i.text(reader)} for i in items]
    return page_or_fragment(
        "inbox/index.html",
        "inbox/_list.html",
        rows=rows,
        page_no=page,
        pages=pages,
        total=total,
        unread_only=unread_only,
        unread=notifications.unread_count(current_user.id),
    )


@bp.get("/<int:note_id>")
@login_required
def open_item(note_id: int):
    """Opening a notification marks it read and goes to its case."""
    found = notifications.item(current_user.id, note_id)
    if found is None:
        abort(404)
    notifications.mark_read(found.note)
    db.session.commit()
    if found.note.case_id is None:
        return redirect(url_for("inbox.index"))
    return redirect(url_for("cases.show", case_id=found.note.case_id))


@bp.post("/read-all")
@login_required
def read_all():
    count = notifications.mark_all_read(current_user.id)
    db.session.commit()
    flash(
        ngettext("%(num)d notification marked read.", "%(num)d notifications marked read.", count),
        "success",
    )
    return redirect(url_for("inbox.index"))


@bp.get("/badge")
def badge():
    """The nav's unread count, polled by htmx: a tiny fragment and one indexed query."""
    if not current_user.is_authenticated:
        # A background poll after the session ended must not yank the page (and whatever
        # is being typed) to the login form: 204 leaves the badge as it is.
        return "", 204
    count = notifications.unread_count(current_user.id)
    response = render_template("inbox/_badge.html", unread=count, badge_max=BADGE_MAX)
    return response, 200, {"Cache-Control": "no-store", "Vary": "Cookie"}
