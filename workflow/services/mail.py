"""E-mail for notifications: one plain-text mail per notification, in the reader's language.

Delivery is AT MOST ONCE. Rows are claimed (emailed_at set, committed) before anything is
sent, with `WHERE emailed_at IS NULL`, so two runs at once (cron and an action) never
claim the same row. A send that fails for now (server down, 4xx) releases its row
(emailed_at back to NULL) for the next run; a permanent refusal (5xx for the recipient,
an unusable address) stays marked, so it cannot block the queue. Only a process killed
between claim and send loses a mail. We prefer one missing mail (the inbox still has it)
to a person getting the same mail twice.

Without MAIL_SERVER (development) the mail goes to the "aksi.mail" log instead, and the
row is marked all the same.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app, g
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update

from .. import jobs, tasks
from ..extensions import db
from ..models import Notification, User
from ..models._base import utcnow
from . import notifications


def _log() -> logging.Logger:
    logger = logging.getLogger("aksi.mail")
    # An in-process migration (alembic's fileConfig) disables loggers that already exist.
    logger.disabled = False
    return logger


@dataclass
class Outcome:
    sent: int = 0
    logged: int = 0
    failed: int = 0  # not sent now, pending again for the next run
    refused: int = 0  # refused for good (no such mailbox, unusable address): not retried

    @property
    def delivered(self) -> int:
        return self.sent + self.logged


def case_url(case_id: int | None) -> str:
    base = current_app.config.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    return f"{base}/cases/{case_id}" if case_id else f"{base}/inbox"


@dataclass(frozen=True)
class Attachment:
    filename: str
    maintype: str
    subtype: str
    data: bytes
    # Extra Content-Type parameters (a calendar invitation's method=REQUEST).
    params: dict = field(default_factory=dict)


@dataclass
class MailExtra:
    """What the mail of one kind of event adds: lines after the summary, attachments."""

    lines: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)


# trigger → fn(item, user, lang) -> MailExtra | None, registered by the service that owns
# the event (a seminar invitation carries its .ics), so this module names none of them.
EXTRAS: dict[str, Callable[[notifications.Item, User, str], MailExtra | None]] = {}


def extra_for(trigger: str):
    def register(fn):
        EXTRAS[trigger] = fn
        return fn

    return register


def _extra(item: notifications.Item, user: User, lang: str) -> MailExtra | None:
    """Best effort: the plain mail still goes out if the extra cannot be made."""
    fn = EXTRAS.get(item.event.trigger) if item.event is not None else None
    if fn is None:
        return None
    try:
        return fn(item, user, lang)
    except Exception:  # noqa: BLE001 - an attachment must never cost the mail itself
        _log().exception("mail extra for notification %s failed", item.note.id)
        return None


def compose(item: notifications.Item, user: User) -> EmailMessage:
    """The mail for one notification, in the recipient's language (default Indonesian)."""
    lang = user.locale if user.locale in notifications.LANGS else "id"
    words = notifications.describe(item, lang)
    extra = _extra(item, user, lang)
    with force_locale(lang):
        lines = [
            _("Hello %(name)s,", name=user.name),
            "",
            words["summary"],
        ]
        if extra is not None and extra.lines:
            lines += extra.lines
        if words["state"]:
            lines.append(_("Status now: %(state)s", state=words["state"]))
        if words["comment"]:
            lines += ["", _("Comment:"), words["comment"]]
        lines += [
            "",
            _("Open the case: %(url)s", url=case_url(item.note.case_id)),
            "",
            "-- ",
            _("Aksi · this message was sent automatically; replies are not read."),
        ]
        subject = "[Aksi] " + words["summary"]
    message = new_message(user.email, subject, "\n".join(lines) + "\n", lang)
    for part in extra.attachments if extra is not None else ():
        message.add_attachment(
            part.data,
            maintype=part.maintype,
            subtype=part.subtype,
            filename=part.filename,
            params=part.params,
        )
    return message


def new_message(to: str, subject: str, body: str, lang: str) -> EmailMessage:
    """A plain-text mail from MAIL_FROM to one recipient, marked as sent automatically."""
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())[:200]  # no header folding surprises
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = to
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=_domain(current_app.config["MAIL_FROM"]))
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    message["Content-Language"] = lang  # after set_content, which resets Content-* headers
    return message


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip("> ") or "localhost"


def _pending(limit: int, event_id: int | None):
    query = (
        select(Notification.id)
        .join(User, User.id == Notification.user_id)
        .where(
            Notification.emailed_at.is_(None),
            User.email.is_not(None),
            User.email != "",
            User.active.is_(True),
        )
        .order_by(Notification.id)
        .limit(limit)
    )
    if event_id is not None:
        query = query.where(Notification.event_id == event_id)
    return list(db.session.scalars(query))


def _claim(ids: list[int]) -> list[int]:
    """Mark the rows as mailed before sending; only rows still unclaimed are ours."""
    if not ids:
        return []
    claimed = list(
        db.session.scalars(
            update(Notification)
            .where(Notification.id.in_(ids), Notification.emailed_at.is_(None))
            .values(emailed_at=utcnow())
            .returning(Notification.id)
            .execution_options(synchronize_session=False)
        )
    )
    db.session.commit()
    return claimed


def _release(ids: list[int]) -> None:
    if ids:
        db.session.execute(
            update(Notification)
            .where(Notification.id.in_(ids))
            .values(emailed_at=None)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()


def _connect() -> smtplib.SMTP:
    config = current_app.config
    timeout = config.get("MAIL_TIMEOUT", 10)
    if config.get("MAIL_USE_SSL"):
        smtp = smtplib.SMTP_SSL(
            config["MAIL_SERVER"],
            config["MAIL_PORT"],
            timeout=timeout,
            context=ssl.create_default_context(),
        )
    else:
        smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=timeout)
        if config.get("MAIL_USE_TLS"):
            smtp.starttls(context=ssl.create_default_context())
    if config.get("MAIL_USERNAME"):
        smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
    return smtp


def deliver_pending(limit: int = 200, *, event_id: int | None = None) -> Outcome:
    """Send the mail of up to `limit` notifications not mailed yet (only those of one event
    if `event_id` is given). Commits its own claims; call it with no other work pending."""
    outcome = Outcome()
    claimed = _claim(_pending(limit, event_id))
    if not claimed:
        return outcome
    done: set[int] = set()
    try:
        _send(claimed, outcome, done)
    finally:
        # Whatever was claimed and not delivered (a refused mail, a dead server, a bug)
        # goes back to pending.
        unsent = [i for i in claimed if i not in done]
        outcome.failed = len(unsent)
        if unsent:
            db.session.rollback()
            _release(unsent)
    return outcome


def _send(claimed: list[int], outcome: Outcome, done: set[int]) -> None:
    rows = db.session.execute(
        notifications._joined()
        .add_columns(User)
        .join(User, User.id == Notification.user_id)
        .where(Notification.id.in_(claimed))
        .order_by(Notification.id)
    ).all()
    messages = []
    for note, event, actor, case, user in rows:
        try:
            messages.append((note.id, compose(notifications.Item(note, event, actor, case), user)))
        except Exception as exc:  # noqa: BLE001 - e.g. an address the header parser chokes on
            _log().warning("mail for notification %d not composed, dropped: %s", note.id, exc)
            outcome.refused += 1
            done.add(note.id)
    for note_id, result in send_messages(messages, "notification").items():
        if result == SENT:
            outcome.sent += 1
        elif result == LOGGED:
            outcome.logged += 1
        elif result == REFUSED:
            outcome.refused += 1
        if result != FAILED:
            done.add(note_id)


SENT, LOGGED, REFUSED, FAILED = "sent", "logged", "refused", "failed"


def send_messages(messages: list[tuple[Hashable, EmailMessage]], what: str) -> dict:
    """Send each (key, message) over one SMTP connection; {key: SENT | LOGGED | REFUSED |
    FAILED}. REFUSED is for good (5xx for the recipient): retrying it every run would only
    hold up the queue. FAILED may work later (server down, 4xx). Without MAIL_SERVER every
    message goes to the "aksi.mail" log and counts as LOGGED. `what` names the keys in logs."""
    results = dict.fromkeys((key for key, _message in messages), FAILED)
    if not messages:
        return results
    if not current_app.config.get("MAIL_SERVER"):
        for key, message in messages:
            _log().info("mail (MAIL_SERVER not set, not sent):\n%s", message.as_string())
            results[key] = LOGGED
        return results
    try:
        smtp = _connect()
    except (OSError, smtplib.SMTPException) as exc:
        _log().warning("SMTP server unreachable, %d mail(s) stay pending: %s", len(messages), exc)
        return results
    try:
        for key, message in messages:
            try:
                smtp.send_message(message)
            except smtplib.SMTPRecipientsRefused as exc:
                if all(code >= 500 for code, _msg in exc.recipients.values()):
                    _log().warning("mail for %s %s refused for good: %s", what, key, exc)
                    results[key] = REFUSED
                else:
                    _log().warning("mail for %s %s deferred: %s", what, key, exc)
                continue
            except (OSError, smtplib.SMTPException) as exc:
                _log().warning("mail for %s %s not sent: %s", what, key, exc)
                continue
            results[key] = SENT
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
    return results


def deliver_for_event(event_id: int) -> None:
    """Right after an action committed: its mail becomes a job (inline: sent now). Never
    lets a mail problem reach the action; whatever is not sent stays pending for the
    worker's catch-up (or `flask aksi send-mail`)."""
    if not current_app.config.get("MAIL_SEND_IMMEDIATELY", True) or g.get("_aksi_mail_batch"):
        return
    jobs.enqueue(tasks.deliver_mail, event_id)


# Bulk actions touch up to this many cases; their mails go out in one delivery.
BATCH_LIMIT = 2000


@contextmanager
def batched_delivery() -> Iterator[None]:
    """Many actions in one request (a bulk action, assigning a cohort evenly): their mails
    go out together at the end over one connection, not one SMTP session per case, as one
    job."""
    outer = g.get("_aksi_mail_batch", False)
    g._aksi_mail_batch = True
    try:
        yield
    finally:
        g._aksi_mail_batch = outer
    if outer or not current_app.config.get("MAIL_SEND_IMMEDIATELY", True):
        return
    jobs.enqueue(tasks.deliver_mail, None)
