"""Invitations and password resets: one-time links that set a password.

A link carries a random token (`secrets.token_urlsafe(32)`); only its sha256 is stored, so
a database dump holds no working link. A token expires, works once (a conditional UPDATE
claims it, so two requests racing with the same link cannot both succeed), and issuing a
new one revokes the older unused ones of the same purpose. Setting a password revokes
every outstanding link of that person: an old invitation must not reset a password the
person has chosen since.

Asking for a reset never tells whether the address is known: the answer is the same and
takes about as long (see `request_reset`).
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from collections.abc import Iterable
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import current_app, has_request_context, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from werkzeug.security import generate_password_hash

from ..extensions import db
from ..models import OneTimeToken, User
from ..models._base import utcnow
from ..models.people import ZONE_LABELS, hash_token
from . import mail
from .errors import Blocked, WorkflowError

INVITE, RESET = "invite", "reset"
LANGS = ("id", "en")
MIN_LENGTH = 10
MAX_LENGTH = 200  # a password is hashed on every login; no megabyte passwords
DEFAULT_ZONE = "Asia/Jakarta"

# A reset request takes at least this long, known address or not, and an unknown address
# waits as long as recent known ones took (sending mail is the slow part).
RESET_FLOOR_SECONDS = 0.25
CLAIM_ATTEMPTS = 3


class InvalidLink(WorkflowError):
    """The link is unknown, used, revoked or expired."""

    status = 410


class PasswordRejected(Blocked):
    """The new password breaks a rule; `.fields` = {"password"|"confirm": message}."""


def _log() -> logging.Logger:
    return logging.getLogger("aksi.accounts")


def lang_of(user: User) -> str:
    return user.locale if user.locale in LANGS else "id"


def invite_lifetime() -> timedelta:
    return timedelta(days=float(current_app.config.get("AKSI_INVITE_DAYS", 7)))


def reset_lifetime() -> timedelta:
    return timedelta(hours=float(current_app.config.get("AKSI_RESET_HOURS", 2)))


# -- tokens --------------------------------------------------------------------------------


def issue(user: User, purpose: str) -> str:
    """A new link token for `user` (not committed); older unused ones of this purpose stop
    working. Returns the raw token: it exists only in the mail."""
    return _issue(user, purpose)[0]


def _issue(user: User, purpose: str) -> tuple[str, datetime]:
    if purpose not in OneTimeToken.PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    now = utcnow()
    _revoke(user.id, [purpose], now)
    raw = secrets.token_urlsafe(32)
    lifetime = invite_lifetime() if purpose == INVITE else reset_lifetime()
    db.session.add(
        OneTimeToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=hash_token(raw),
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    db.session.flush()
    return raw, now + lifetime


def _revoke(user_id: int, purposes: Iterable[str], now) -> None:
    # A revoked link is a used one: used_at is what every check looks at.
    db.session.execute(
        update(OneTimeToken)
        .where(
            OneTimeToken.user_id == user_id,
            OneTimeToken.purpose.in_(list(purposes)),
            OneTimeToken.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )


def check_token(raw: str | None) -> OneTimeToken | None:
    """The token behind a link if it still works (exists, unused, unexpired, its person
    active), else None."""
    if not raw or len(raw) > 200:
        return None
    token = db.session.scalar(
        select(OneTimeToken).where(OneTimeToken.token_hash == hash_token(raw))
    )
    if token is None or token.used_at is not None or token.expires_at <= utcnow():
        return None
    if not token.user.active:
        return None
    return token


def link_for(raw: str) -> str:
    """The absolute link to set a password with this token."""
    if has_request_context():
        return url_for("auth.set_password", token=raw, _external=True)
    base = current_app.config.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    return f"{base}/password/{raw}"


# -- password rules ------------------------------------------------------------------------


def password_problems(user: User, password: str, confirm: str) -> dict[str, str]:
    """{field: message} for each rule the password breaks; empty when it is fine. The
    messages are in the language being read: the request's, or the person's outside one."""
    context = nullcontext() if has_request_context() else force_locale(lang_of(user))
    problems: dict[str, str] = {}
    password = password or ""
    with context:
        own = {v.strip().casefold() for v in (user.username, user.nip, user.email) if v}
        if not password:
            problems["password"] = _("Enter a new password.")
        elif len(password) < MIN_LENGTH:
            problems["password"] = _("Use at least %(count)d characters.", count=MIN_LENGTH)
        elif len(password) > MAX_LENGTH:
            problems["password"] = _("Use at most %(count)d characters.", count=MAX_LENGTH)
        elif password.isdigit():
            problems["password"] = _("Do not use only digits.")
        elif password.strip().casefold() in own:
            problems["password"] = _("Do not use your username, NIP or e-mail address.")
        if "password" not in problems and password != (confirm or ""):
            problems["confirm"] = _("The two passwords are not the same.")
    return problems


def set_password(raw_token: str, password: str, confirm: str) -> User:
    """Set the password of the link's person and spend the link. Raises InvalidLink (the
    link does not work) or PasswordRejected (with field messages); either writes nothing."""
    token = check_token(raw_token)
    if token is None:
        raise InvalidLink(_("This link does not work any more."))
    user = token.user
    problems = password_problems(user, password, confirm)
    if problems:
        raise PasswordRejected(
            _("Please check the new password."), reasons=list(problems.values()), fields=problems
        )
    password_hash = generate_password_hash(password)  # slow: before any lock is taken
    token_id, user_id = token.id, user.id
    # End the read transaction, so the claim below starts a fresh one (SQLite cannot turn
    # a reader into a writer once another connection has written).
    db.session.rollback()
    for attempt in range(CLAIM_ATTEMPTS):
        try:
            _redeem(token_id, user_id, password_hash)
            break
        except OperationalError as exc:
            # SQLite's write lock is held by another redemption: look again after it.
            db.session.rollback()
            if "locked" not in str(exc.orig).lower() or attempt == CLAIM_ATTEMPTS - 1:
                raise
            time.sleep(0.1 * (attempt + 1))
    return db.session.get(User, user_id)


def _redeem(token_id: int, user_id: int, password_hash: str) -> None:
    """Claim the token (only one request can: the UPDATE is conditional), set the password,
    revoke the person's other links; one transaction."""
    now = utcnow()
    claimed = db.session.execute(
        update(OneTimeToken)
        .where(
            OneTimeToken.id == token_id,
            OneTimeToken.used_at.is_(None),
            OneTimeToken.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:  # someone else redeemed it a moment ago
        db.session.rollback()
        raise InvalidLink(_("This link does not work any more."))
    _revoke(user_id, OneTimeToken.PURPOSES, now)
    db.session.execute(
        update(User)
        .where(User.id == user_id)
        .values(password_hash=password_hash)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


# -- mail ----------------------------------------------------------------------------------


def _until(moment: datetime, user: User, lang: str) -> str:
    zone_name = user.institution.timezone if user.institution else DEFAULT_ZONE
    zone = ZoneInfo(zone_name)
    aware = moment.replace(tzinfo=UTC).astimezone(zone)
    text = format_datetime(aware, "d MMMM y, HH:mm", tzinfo=zone, locale=lang)
    return f"{text} {ZONE_LABELS.get(zone_name, zone_name)}"


def compose(user: User, purpose: str, raw: str, expires_at: datetime, inviter: User | None = None):
    """The invitation or reset mail, in the person's language (default Indonesian)."""
    lang = lang_of(user)
    link = link_for(raw)
    with force_locale(lang):
        lines = [_("Hello %(name)s,", name=user.name), ""]
        if purpose == INVITE:
            subject = _("[Aksi] Your account: set your password")
            if inviter is not None:
                lines.append(
                    _(
                        "%(inviter)s has registered you in Aksi, the application for the "
                        "change actions of leadership training.",
                        inviter=inviter.name,
                    )
                )
            else:
                lines.append(
                    _(
                        "You have been registered in Aksi, the application for the change "
                        "actions of leadership training."
                    )
                )
            lines += [
                _("Your username: %(username)s", username=user.username),
                "",
                _("Choose your password with this link:"),
            ]
        else:
            subject = _("[Aksi] Set a new password")
            lines += [
                _("Someone, hopefully you, asked to set a new password for your Aksi account."),
                _("Your username: %(username)s", username=user.username),
                "",
                _("Choose a new password with this link:"),
            ]
        lines += [
            link,
            "",
            _(
                "The link works once and until %(until)s.",
                until=_until(expires_at, user, lang),
            ),
        ]
        if purpose == RESET:
            lines.append(
                _("If you did not ask for it, ignore this mail: your password stays as it is.")
            )
        lines += [
            "",
            "-- ",
            _("Aksi · this message was sent automatically; replies are not read."),
        ]
    return mail.new_message(user.email, subject, "\n".join(lines) + "\n", lang)


def _send(items: list[tuple[User, str, str, datetime]], inviter: User | None) -> int:
    """Mail each (user, purpose, raw, expires_at); how many went out (or to the log)."""
    messages = []
    for user, purpose, raw, expires_at in items:
        try:
            messages.append((user.id, compose(user, purpose, raw, expires_at, inviter)))
        except Exception as exc:  # noqa: BLE001 - e.g. an address the header parser rejects
            _log().warning("%s mail for user %d not composed: %s", purpose, user.id, exc)
    results = mail.send_messages(messages, "user")
    return sum(1 for r in results.values() if r in (mail.SENT, mail.LOGGED))


# -- the operations ------------------------------------------------------------------------


def invite(user_ids: list[int], inviter: User | None = None) -> int:
    """Mail an invitation link to each active person with an e-mail address among
    `user_ids` (a new link revokes their older invitation); how many were invited.
    People without an address are skipped. Commits."""
    if not user_ids:
        return 0
    users = db.session.scalars(
        select(User)
        .where(
            User.id.in_(set(user_ids)),
            User.active.is_(True),
            User.email.is_not(None),
            User.email != "",
        )
        .order_by(User.id)
    ).all()
    items = [(user, INVITE, *_issue(user, INVITE)) for user in users]
    db.session.commit()  # the links work before any mail leaves
    return _send(items, inviter) if items else 0


def without_password(cohort_id: int) -> list[User]:
    """The active people of a cohort (trainees, mentors, executives, the groups' coaches
    and examiners, cohort-wide members) who have never set a password."""
    from ..models import Case, CohortMember, Group

    people = (
        select(Case.trainee_id.label("uid"))
        .where(Case.cohort_id == cohort_id)
        .union(
            select(Case.mentor_id).where(Case.cohort_id == cohort_id),
            select(Case.executive_id).where(Case.cohort_id == cohort_id),
            select(Group.coach_id).where(Group.cohort_id == cohort_id),
            select(Group.examiner_id).where(Group.cohort_id == cohort_id),
            select(CohortMember.user_id).where(CohortMember.cohort_id == cohort_id),
        )
        .subquery()
    )
    return list(
        db.session.scalars(
            select(User)
            .where(
                User.id.in_(select(people.c.uid)),
                User.active.is_(True),
                func.coalesce(User.password_hash, "") == "",
            )
            .order_by(User.id)
        )
    )


class _Timing:
    """How long recent known-address resets took: an unknown one waits about as long."""

    def __init__(self, initial: float):
        self.lock = threading.Lock()
        self.typical = initial

    def record(self, seconds: float) -> None:
        with self.lock:
            self.typical = 0.8 * self.typical + 0.2 * seconds

    def target(self) -> float:
        with self.lock:
            return max(RESET_FLOOR_SECONDS, self.typical)


_reset_timing = _Timing(RESET_FLOOR_SECONDS)


def request_reset(email: str | None) -> None:
    """Mail a reset link if `email` belongs to an active person; otherwise do nothing.
    Either way it returns nothing and takes about as long, so the caller cannot tell."""
    started = time.monotonic()
    target = _reset_timing.target()
    address = (email or "").strip()
    user = None
    if address and len(address) <= 200:
        user = db.session.scalar(
            select(User).where(
                func.lower(User.email) == address.lower(),
                User.active.is_(True),
            )
        )
    if user is not None:
        raw, expires_at = _issue(user, RESET)
        db.session.commit()
        _send([(user, RESET, raw, expires_at)], None)
        _reset_timing.record(time.monotonic() - started)
    else:
        db.session.rollback()
    # Pad to the typical duration, with a little jitter so the two paths overlap.
    remaining = target * random.uniform(1.0, 1.1) - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)
