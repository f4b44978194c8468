"""The background jobs. Each re-reads what it needs from the database, so it may run late,
twice or in any worker; the periodic ones catch up on work whose job was lost."""

from __future__ import annotations

import logging

from huey import crontab

from .jobs import job, periodic

log = logging.getLogger("aksi.jobs")


@job()
def deliver_mail(event_id: int | None = None) -> None:
    """The mail of one event's notifications, or (None) of every notification not mailed."""
    from .services import mail

    if event_id is None:
        mail.deliver_pending(limit=mail.BATCH_LIMIT)
    else:
        mail.deliver_pending(event_id=event_id)


@job()
def send_invitations(user_ids: list[int], inviter_id: int | None = None) -> None:
    """Invitation links for these people (a new link replaces an older one), then the mail.
    Made here, not in the request: 800 imported people are 800 mails."""
    from .extensions import db
    from .models import User
    from .services import accounts

    inviter = db.session.get(User, inviter_id) if inviter_id else None
    accounts.invite(user_ids, inviter)


@job()
def send_reset(user_id: int) -> None:
    from .services import accounts

    accounts.send_reset(user_id)


@job()
def make_thumbnail(stored_name: str) -> None:
    from .services import documents

    documents.make_thumbnail(stored_name)


@job()
def run_import(batch_id: int, actor_id: int, skip_errors: bool) -> None:
    from .services import imports

    imports.run_queued(batch_id, actor_id, skip_errors)


@periodic(crontab(minute="*/5"))
def remind() -> None:
    """Deadline reminders and the daily digests. Safe on every node at once: reminders are
    unique per deadline and claimed in the database before a digest is sent."""
    from .services import reminders

    reminders.run()


@periodic(crontab(minute="*"))
def catch_up() -> None:
    """What a job lost in a crash (or a mail server that was down) left undone."""
    from .services import documents, mail, similarity

    mail.deliver_pending(limit=mail.BATCH_LIMIT)
    documents.make_missing_thumbnails()
    similarity.catch_up()


@job()
def embed_case(case_id: int) -> None:
    """The similarity vectors of a case's latest submission (once per submitted text)."""
    from .services import similarity

    similarity.embed_submitted(case_id)


@job()
def embed_draft(case_id: int) -> None:
    """The model's vector of a trainee's draft, for the similar-proposals panel of the editor
    (asked for at most once a minute per case, when the text changed)."""
    from .services import similarity

    similarity.embed_draft(case_id)
