"""Invitations and password resets: one-time links that set a password.

A link carries a random token (`secrets.token_urlsafe(32)`); only its sha256 is stored, so
a database dump holds no working link. A token expires, works once (a conditional UPDATE
claims it, so two requests racing with the same link cannot both succeed), and issuing a
new one revokes the older unused ones of the same purpose. Setting a password revokes
every outstanding link of that person: an old invitation must not reset a password the
person has chosen since.

Asking for a reset never tells whether the address is known: the answer is the same and
takes about as long (see `request_reset`).

Sessions and API tokens have a lifecycle: a session's id carries the person's
`session_version`, so raising it (logout, a new password, deactivation) ends every session
and remember-me cookie at once; API tokens expire and are revoked by the same events.

Failed logins are counted in the database (`login_failures`), so the limits hold across
workers and nodes: per account (a few) and per address (many: a class behind one NAT).
Successful logins are not counted; an unknown username costs the same as a known one.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import random
import secrets
import threading
import time
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import current_app, has_request_context, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from limits import parse as parse_limit
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import OperationalError
from werkzeug.security import check_password_hash, generate_password_hash

from .. import jobs, tasks
from ..extensions import db
from ..models import OneTimeToken, User
from ..models._base import utcnow
from ..models.people import ZONE_LABELS, ApiToken, LoginFailure, hash_token
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
    revoke the person's other links, sessions and API tokens, clear the account's failed
    logins (a locked-out owner gets in again this way); one transaction."""
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
        .values(password_hash=password_hash, session_version=User.session_version + 1)
        .execution_options(synchronize_session=False)
    )
    _revoke_api_tokens(user_id, now)
    username = db.session.scalar(select(User.username).where(User.id == user_id))
    _clear_failures(ACCOUNT, _account_key(username))
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
    users = db.session.scalars(select(User).where(User.id.in_(_reachable(user_ids)))).all()
    items = [(user, INVITE, *_issue(user, INVITE)) for user in users]
    db.session.commit()  # the links work before any mail leaves
    return _send(items, inviter) if items else 0


def _reachable(user_ids: Iterable[int]):
    return (
        select(User.id)
        .where(
            User.id.in_(set(user_ids)),
            User.active.is_(True),
            User.email.is_not(None),
            User.email != "",
        )
        .order_by(User.id)
    )


def queue_invitations(user_ids: list[int], inviter: User | None = None) -> int:
    """Ask a job to invite these people (links and mail are made there, after the commit);
    how many of them can be invited (active, with an e-mail address)."""
    ids = list(db.session.scalars(_reachable(user_ids))) if user_ids else []
    if ids:
        jobs.after_commit(tasks.send_invitations, ids, inviter.id if inviter else None)
    return len(ids)


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
        # The link and the mail are made by a job: the answer does not wait on the mail
        # server, and both paths cost about the same here.
        user_id = user.id
        db.session.rollback()
        jobs.enqueue(tasks.send_reset, user_id)
        _reset_timing.record(time.monotonic() - started)
    else:
        db.session.rollback()
    # Pad to the typical duration, with a little jitter so the two paths overlap.
    remaining = target * random.uniform(1.0, 1.1) - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)


def send_reset(user_id: int) -> bool:
    """Issue a reset link to an active person and mail it (the job of request_reset)."""
    user = db.session.get(User, user_id)
    if user is None or not user.active or not user.email:
        return False
    raw, expires_at = _issue(user, RESET)
    db.session.commit()
    return _send([(user, RESET, raw, expires_at)], None) == 1


# -- sessions and API tokens ---------------------------------------------------------------


def user_for_session(session_id: str | None) -> User | None:
    """The active person of a Flask-Login id "<user id>:<session version>"; None when the
    id is malformed or the version has moved on (the session was ended)."""
    user_part, sep, version_part = (session_id or "").partition(":")
    if not sep or not user_part.isdigit() or not version_part.isdigit() or len(user_part) > 12:
        return None
    user = db.session.get(User, int(user_part))
    if user is None or not user.active or (user.session_version or 0) != int(version_part):
        return None
    return user


def end_sessions(user: User) -> None:
    """End every session of `user` (every device, remember-me cookies too). Commits."""
    db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(session_version=User.session_version + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def deactivate(user: User) -> None:
    """Switch the account off: its sessions end and its API tokens are revoked (the model's
    flush hook does both for any change of `active` to False). Commits."""
    user.active = False
    db.session.commit()


def issue_api_token(user: User, name: str = "", *, replace: bool = False) -> str:
    """A new API token for `user`; with `replace`, their live tokens of the same name are
    revoked first (the CLI's "a new token replaces the old one"). Commits; returns the raw
    token, which is shown once."""
    name = (name or "").strip()[:100]
    if replace:
        db.session.execute(
            update(ApiToken)
            .where(
                ApiToken.user_id == user.id,
                ApiToken.name == name,
                ApiToken.revoked_at.is_(None),
            )
            .values(revoked_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    raw = user.issue_api_token(name)
    db.session.commit()
    return raw


# last_used_at is written at most this often per token: not one write per API call.
LAST_USED_STEP = timedelta(minutes=5)


def user_for_api_token(raw: str | None) -> User | None:
    """The active person whose live (unrevoked, unexpired) token this is, else None."""
    if not raw or len(raw) > 200:
        return None
    now = utcnow()
    row = db.session.execute(
        select(ApiToken.id, ApiToken.last_used_at, User)
        .join(User, User.id == ApiToken.user_id)
        .where(
            ApiToken.token_hash == hash_token(raw),
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > now,
            User.active.is_(True),
        )
    ).first()
    if row is None:
        return None
    token_id, last_used_at, user = row
    if last_used_at is None or last_used_at <= now - LAST_USED_STEP:
        # Its own short transaction: the request's session stays as it is (a GET never
        # commits, and committing it here would expire what it has loaded).
        with db.engine.begin() as conn:
            conn.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
    return user


def tokens_of(user_id: int) -> list[ApiToken]:
    """Every token of a person, newest first (revoked and expired ones too, marked so)."""
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
        )
    )


def token_visible_to(token_id: int, actor: User) -> ApiToken | None:
    """The token if `actor` owns it or is an admin; None otherwise (a 404, not a 403)."""
    query = select(ApiToken).where(ApiToken.id == token_id)
    if not actor.is_admin:
        query = query.where(ApiToken.user_id == actor.id)
    return db.session.scalar(query)


def revoke_api_token(token: ApiToken) -> bool:
    """Revoke one token; False when it was revoked already. Commits."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    db.session.commit()
    return True


def _revoke_api_tokens(user_id: int, now: datetime) -> None:
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


# -- login protection ----------------------------------------------------------------------

ACCOUNT, ADDRESS = "account", "address"
DEFAULT_LIMITS = {ACCOUNT: "5 per 15 minutes", ADDRESS: "50 per 15 minutes"}
CONFIG_KEYS = {ACCOUNT: "AKSI_LOGIN_ACCOUNT_LIMIT", ADDRESS: "AKSI_LOGIN_ADDRESS_LIMIT"}


@dataclass(frozen=True)
class LoginRefused:
    """Too many failures for this account (`kind` "account") or from this address."""

    kind: str
    retry_after: int  # seconds

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


def _limit(kind: str) -> tuple[int, timedelta]:
    item = parse_limit(current_app.config.get(CONFIG_KEYS[kind], DEFAULT_LIMITS[kind]))
    return item.amount, timedelta(seconds=item.get_expiry())


def _account_key(username: str | None) -> str:
    # Hashed: people sometimes type their password into the username field.
    return hashlib.sha256((username or "").strip().casefold().encode()).hexdigest()


def _address_key(address: str | None) -> str:
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return (address or "unknown")[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        # One IPv6 host has a whole /64 to hop around in.
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@cache
def _dummy_hash() -> str:
    # Same method and cost as a real password hash, so an unknown name takes as long.
    return generate_password_hash(secrets.token_urlsafe(16))


def _clear_failures(kind: str, key: str, ids: Iterable[int] | None = None) -> None:
    query = delete(LoginFailure).where(LoginFailure.kind == kind, LoginFailure.key == key)
    if ids is not None:
        query = query.where(LoginFailure.id.in_(list(ids)))
    db.session.execute(query.execution_options(synchronize_session=False))


def _over_limit(kind: str, row: LoginFailure, now: datetime) -> LoginRefused | None:
    """Whether the attempts before and including `row` in the window exceed the limit."""
    amount, window = _limit(kind)
    count, oldest = db.session.execute(
        select(func.count(LoginFailure.id), func.min(LoginFailure.failed_at)).where(
            LoginFailure.kind == kind,
            LoginFailure.key == row.key,
            LoginFailure.failed_at > now - window,
            LoginFailure.id <= row.id,
        )
    ).one()
    if count <= amount:
        return None
    retry = (oldest + window - now).total_seconds() if oldest else window.total_seconds()
    return LoginRefused(kind, max(1, math.ceil(retry)))


def attempt_login(username: str, password: str, address: str | None) -> User | LoginRefused | None:
    """Check a login. Returns the person (their account's failures are cleared), None for
    a wrong name or password (counted), or LoginRefused when the account or the address
    has failed too often recently (nothing counted, the password not even checked).

    The attempt is written first and counted with the ones before it, so parallel
    requests on other workers cannot all slip under the limit; it is removed again when
    it succeeds or is refused. Commits."""
    now = utcnow()
    rows = {
        ACCOUNT: LoginFailure(kind=ACCOUNT, key=_account_key(username), failed_at=now),
        ADDRESS: LoginFailure(kind=ADDRESS, key=_address_key(address), failed_at=now),
    }
    db.session.add_all(rows.values())
    db.session.commit()  # visible to every other worker before the slow hash
    for kind in (ACCOUNT, ADDRESS):
        refused = _over_limit(kind, rows[kind], now)
        if refused is not None:
            for own in rows.values():
                _clear_failures(own.kind, own.key, [own.id])
            db.session.commit()
            return refused

    name = (username or "").strip()
    user = db.session.scalar(select(User).where(User.username == name)) if name else None
    stored = user.password_hash if user is not None and user.password_hash else None
    # Unknown, password-less and inactive accounts all pay for one hash, like a known one.
    matches = check_password_hash(stored or _dummy_hash(), password or "")
    if stored and matches and user.active:
        _clear_failures(ACCOUNT, rows[ACCOUNT].key)
        _clear_failures(ADDRESS, rows[ADDRESS].key, [rows[ADDRESS].id])
        db.session.commit()
        return user
    # Old rows of every key go: the table holds only what a window can still count.
    oldest_kept = now - max(_limit(ACCOUNT)[1], _limit(ADDRESS)[1])
    db.session.execute(
        delete(LoginFailure)
        .where(LoginFailure.failed_at <= oldest_kept)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return None
