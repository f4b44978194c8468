"""One-time links to set a password (services.accounts): invitations and resets, through a
real SMTP server; a link expires, works once, and a newer one replaces it."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timedelta

import pytest
import time_machine
from sqlalchemy import event, func, select

from tests import factories
from tests.conftest import BASE_CONFIG
from workflow import create_app
from workflow.extensions import db
from workflow.models import OneTimeToken, User
from workflow.models.people import hash_token
from workflow.services import accounts

BASE_URL = "https://aksi.example.test"
LINK = re.compile(r"(https?://\S+)/password/([A-Za-z0-9_\-]+)")
NEW_PASSWORD = "kopi-susu-2026"
TIMEOUT = 30


@pytest.fixture
def mail_app(app, smtp_server):
    app.config.update(smtp_server.config(), BASE_URL=BASE_URL)
    return app


def link_in(message) -> tuple[str, str]:
    """(base, raw token) of the one link in a mail."""
    found = LINK.findall(message.get_content())
    assert len(found) == 1, message.get_content()
    return found[0]


def tokens() -> int:
    return db.session.scalar(select(func.count(OneTimeToken.id)))


def snapshot(*users: User) -> tuple:
    """Everything a refused operation must leave as it was."""
    db.session.expire_all()
    rows = db.session.execute(
        select(OneTimeToken.id, OneTimeToken.used_at).order_by(OneTimeToken.id)
    ).all()
    return tuple(rows), tuple(db.session.get(User, u.id).password_hash for u in users)


def never_set(*users: User) -> None:
    for u in users:
        u.password_hash = ""
    db.session.commit()


# -- invitations ---------------------------------------------------------------------------


def test_invitation_mail_carries_a_link_that_works_once(mail_app, smtp_server, world):
    never_set(world.trainee, world.coach)
    assert accounts.invite([world.trainee.id, world.coach.id], inviter=world.organizer) == 2

    assert sorted(m["To"] for m in smtp_server.messages) == sorted(
        [world.trainee.email, world.coach.email]
    )
    (mail,) = smtp_server.to(world.trainee.email)
    base, raw = link_in(mail)
    assert base == BASE_URL
    body = mail.get_content()
    assert world.trainee.username in body and world.organizer.name in body
    assert mail["Content-Language"] == "id" and body.startswith(f"Yth. {world.trainee.name},")
    assert mail["From"] == mail_app.config["MAIL_FROM"]
    # Only the hash is stored: the raw token is nowhere in the table.
    row = db.session.scalar(select(OneTimeToken).where(OneTimeToken.user_id == world.trainee.id))
    assert row.token_hash == hash_token(raw) and raw not in row.token_hash
    assert row.purpose == "invite" and row.used_at is None
    assert row.expires_at - row.created_at == timedelta(days=7)
    assert accounts.check_token(raw).user_id == world.trainee.id

    user = accounts.set_password(raw, NEW_PASSWORD, NEW_PASSWORD)
    assert user.id == world.trainee.id and user.check_password(NEW_PASSWORD)
    assert accounts.check_token(raw) is None
    before = snapshot(world.trainee)
    with pytest.raises(accounts.InvalidLink):
        accounts.set_password(raw, "another-pass-99", "another-pass-99")
    assert snapshot(world.trainee) == before
    # The coach's link is the coach's own and still works.
    _base, coach_raw = link_in(smtp_server.to(world.coach.email)[0])
    assert accounts.check_token(coach_raw).user_id == world.coach.id


def test_invitation_skips_people_without_address_and_inactive_people(mail_app, smtp_server, world):
    world.coach.email = None
    world.mentor.active = False
    db.session.commit()
    ids = [world.trainee.id, world.coach.id, world.mentor.id, 999_999]
    assert accounts.invite(ids) == 1
    assert [m["To"] for m in smtp_server.messages] == [world.trainee.email]
    assert db.session.scalars(select(OneTimeToken.user_id)).all() == [world.trainee.id]
    assert accounts.invite([]) == 0


def test_invitation_is_in_the_persons_language(mail_app, smtp_server, world):
    world.trainee.locale = "en"
    world.trainee.institution = world.cohort.program.institution  # Asia/Makassar
    db.session.commit()
    accounts.invite([world.trainee.id])
    (mail,) = smtp_server.messages
    body = mail.get_content()
    assert mail["Content-Language"] == "en"
    assert body.startswith(f"Hello {world.trainee.name},")
    assert f"Your username: {world.trainee.username}" in body
    assert "The link works once and until" in body and "WITA" in body  # the institution's


def test_invitation_lifetime_comes_from_config(mail_app, smtp_server, world):
    mail_app.config["AKSI_INVITE_DAYS"] = 3
    with time_machine.travel(datetime(2026, 4, 1, 2, 0), tick=False):
        accounts.invite([world.trainee.id])
    _base, raw = link_in(smtp_server.messages[0])
    with time_machine.travel(datetime(2026, 4, 4, 1, 59), tick=False):
        assert accounts.check_token(raw) is not None
    with time_machine.travel(datetime(2026, 4, 4, 2, 0), tick=False):
        assert accounts.check_token(raw) is None


def test_the_link_inside_a_request_is_built_from_the_request(app, world):
    with app.test_request_context(base_url="https://portal.example.test"):
        raw = accounts.issue(world.trainee, "invite")
        assert accounts.link_for(raw) == f"https://portal.example.test/password/{raw}"
    assert accounts.link_for(raw) == f"{app.config['BASE_URL']}/password/{raw}"


def test_without_mail_server_the_invitation_is_logged(app, world, caplog):
    assert app.config["MAIL_SERVER"] == ""
    with caplog.at_level("INFO", logger="aksi.mail"):
        assert accounts.invite([world.trainee.id]) == 1
    assert "/password/" in caplog.text and f"To: {world.trainee.email}" in caplog.text


# -- expiry, reuse, revocation -------------------------------------------------------------


@pytest.mark.parametrize(
    ("purpose", "config", "lifetime"),
    [
        ("invite", {}, timedelta(days=7)),
        ("reset", {}, timedelta(hours=2)),
        ("reset", {"AKSI_RESET_HOURS": 5}, timedelta(hours=5)),
    ],
)
def test_a_link_expires(app, world, purpose, config, lifetime):
    app.config.update(config)
    start = datetime(2026, 4, 1, 2, 0)
    with time_machine.travel(start, tick=False):
        raw = accounts.issue(world.trainee, purpose)
        db.session.commit()
    with time_machine.travel(start + lifetime - timedelta(seconds=1), tick=False):
        assert accounts.check_token(raw) is not None
    with time_machine.travel(start + lifetime, tick=False):
        assert accounts.check_token(raw) is None
        before = snapshot(world.trainee)
        with pytest.raises(accounts.InvalidLink):
            accounts.set_password(raw, NEW_PASSWORD, NEW_PASSWORD)
        assert snapshot(world.trainee) == before


@pytest.mark.parametrize("raw", ["", "not-a-token", "x" * 500, None])
def test_unknown_links_do_not_work(app, world, raw):
    accounts.issue(world.trainee, "reset")
    db.session.commit()
    assert accounts.check_token(raw) is None
    with pytest.raises(accounts.InvalidLink):
        accounts.set_password(raw, NEW_PASSWORD, NEW_PASSWORD)


def test_a_new_link_revokes_the_older_ones_of_the_same_purpose(app, world):
    old_invite = accounts.issue(world.trainee, "invite")
    reset = accounts.issue(world.trainee, "reset")
    new_invite = accounts.issue(world.trainee, "invite")
    other = accounts.issue(world.coach, "invite")  # someone else's is untouched
    db.session.commit()
    assert accounts.check_token(old_invite) is None
    assert accounts.check_token(new_invite) is not None
    assert accounts.check_token(reset) is not None
    assert accounts.check_token(other) is not None
    with pytest.raises(accounts.InvalidLink):
        accounts.set_password(old_invite, NEW_PASSWORD, NEW_PASSWORD)


def test_setting_a_password_revokes_every_outstanding_link_of_the_person(app, world):
    invite = accounts.issue(world.trainee, "invite")
    reset = accounts.issue(world.trainee, "reset")
    other = accounts.issue(world.coach, "reset")
    db.session.commit()
    accounts.set_password(reset, NEW_PASSWORD, NEW_PASSWORD)
    # An old invitation must not overwrite the password chosen since.
    assert accounts.check_token(invite) is None
    assert accounts.check_token(other) is not None


def test_a_link_of_a_deactivated_person_does_not_work(app, world):
    raw = accounts.issue(world.trainee, "invite")
    world.trainee.active = False
    db.session.commit()
    assert accounts.check_token(raw) is None
    with pytest.raises(accounts.InvalidLink):
        accounts.set_password(raw, NEW_PASSWORD, NEW_PASSWORD)


# -- password rules ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plain_app():
    """No database: the rules are pure, only the language needs an app."""
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.app_context():
        yield app


RULES = [
    # password, confirm, {field: English message}
    ("", "", {"password": "Enter a new password."}),
    ("short-9ch", "short-9ch", {"password": "Use at least 10 characters."}),
    ("1234567890", "1234567890", {"password": "Do not use only digits."}),
    ("199001012020121001", "199001012020121001", {"password": "Do not use only digits."}),
    (
        "budi.santoso",
        "budi.santoso",
        {"password": "Do not use your username, NIP or e-mail address."},
    ),
    (
        "Budi.Santoso",
        "Budi.Santoso",
        {"password": "Do not use your username, NIP or e-mail address."},
    ),
    (
        "NIP-1990-0101",
        "NIP-1990-0101",
        {"password": "Do not use your username, NIP or e-mail address."},
    ),
    (
        "budi@example.test",
        "budi@example.test",
        {"password": "Do not use your username, NIP or e-mail address."},
    ),
    ("x" * 201, "x" * 201, {"password": "Use at most 200 characters."}),
    (NEW_PASSWORD, "kopi-susu-2025", {"confirm": "The two passwords are not the same."}),
    (NEW_PASSWORD, "", {"confirm": "The two passwords are not the same."}),
    (NEW_PASSWORD, NEW_PASSWORD, {}),
    ("1234567890a", "1234567890a", {}),
    ("x" * 200, "x" * 200, {}),
]


@pytest.mark.parametrize(("password", "confirm", "expected"), RULES)
def test_password_rules(plain_app, password, confirm, expected):
    user = User(
        username="budi.santoso", nip="nip-1990-0101", email="budi@example.test", locale="en"
    )
    assert accounts.password_problems(user, password, confirm) == expected


def test_rule_messages_follow_the_persons_language_outside_a_request(plain_app):
    english = User(username="budi", locale="en")
    indonesian = User(username="budi", locale=None)
    en = accounts.password_problems(english, "short", "short")["password"]
    id_ = accounts.password_problems(indonesian, "short", "short")["password"]
    assert en == "Use at least 10 characters."
    with plain_app.test_request_context():
        # In a request, the language being read decides (the default is Indonesian).
        assert accounts.password_problems(english, "short", "short")["password"] == id_


def test_a_rejected_password_writes_nothing_and_keeps_the_link(app, world):
    raw = accounts.issue(world.trainee, "invite")
    db.session.commit()
    before = snapshot(world.trainee)
    with pytest.raises(accounts.PasswordRejected) as caught:
        accounts.set_password(raw, NEW_PASSWORD, "something-else-1")
    assert set(caught.value.fields) == {"confirm"} and caught.value.status == 422
    with pytest.raises(accounts.PasswordRejected):
        accounts.set_password(raw, world.trainee.username, world.trainee.username)
    assert snapshot(world.trainee) == before
    assert accounts.check_token(raw) is not None


# -- two requests with the same link -------------------------------------------------------


class Overlap:
    """Whoever claims the token first keeps its transaction open until the other thread
    has sent its own claim (which then meets the row lock, or SQLite's write lock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.claiming = 0
        self.both = threading.Event()
        self.waited: list[bool] = []

    def attach(self, session) -> None:
        first = {"claim": True}

        @event.listens_for(session, "do_orm_execute")
        def claim(state):
            table = getattr(state.statement, "table", None)
            name = getattr(table, "name", None)
            if not (state.is_update and first["claim"] and name == OneTimeToken.__tablename__):
                return None
            first["claim"] = False
            with self.lock:
                self.claiming += 1
                if self.claiming == 2:
                    self.both.set()
            result = state.invoke_statement()
            if result.rowcount == 1:  # the winner: hold the lock while the other claims
                self.waited.append(self.both.wait(TIMEOUT))
                time.sleep(0.3)
            return result


def test_two_requests_with_one_link_only_one_succeeds(app, world):
    raw = accounts.issue(world.trainee, "reset")
    db.session.commit()
    user_id = world.trainee.id
    barrier = threading.Barrier(2, timeout=TIMEOUT)
    overlap = Overlap()
    results: list = [None, None]
    passwords = ["first-pass-long", "second-pass-long"]

    def run(i: int) -> None:
        with app.app_context():
            try:
                overlap.attach(db.session())
                barrier.wait()
                results[i] = accounts.set_password(raw, passwords[i], passwords[i]).id
            except Exception as exc:  # the test looks at what each thread got
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 2)
    assert not any(t.is_alive() for t in threads)
    winners = [i for i, r in enumerate(results) if r == user_id]
    losers = [r for r in results if isinstance(r, accounts.InvalidLink)]
    assert len(winners) == 1 and len(losers) == 1, results
    # The loser's claim really met the winner's open transaction.
    assert overlap.claiming == 2 and overlap.waited == [True]
    db.session.expire_all()
    user = db.session.get(User, user_id)
    assert user.check_password(passwords[winners[0]])
    assert not user.check_password(passwords[1 - winners[0]])
    used = db.session.scalar(
        select(func.count(OneTimeToken.id)).where(
            OneTimeToken.user_id == user_id, OneTimeToken.used_at.is_not(None)
        )
    )
    assert used == 1


# -- reset requests ------------------------------------------------------------------------


def test_reset_for_a_known_address_sends_one_working_link(mail_app, smtp_server, world):
    world.trainee.locale = "en"
    db.session.commit()
    accounts.request_reset("  " + world.trainee.email.upper() + " ")
    assert [m["To"] for m in smtp_server.messages] == [world.trainee.email]
    (mail,) = smtp_server.messages
    assert "ignore this mail" in mail.get_content()
    base, raw = link_in(mail)
    assert base == BASE_URL
    token = accounts.check_token(raw)
    assert token.purpose == "reset" and token.expires_at - token.created_at == timedelta(hours=2)
    accounts.set_password(raw, NEW_PASSWORD, NEW_PASSWORD)
    db.session.expire_all()
    assert db.session.get(User, world.trainee.id).check_password(NEW_PASSWORD)
    assert not db.session.get(User, world.trainee.id).check_password(factories.PASSWORD)


@pytest.mark.parametrize(
    "address", ["nobody@example.test", "", "   ", "not an address", "inactive", "no-mail"]
)
def test_reset_for_an_unknown_address_writes_and_sends_nothing(
    mail_app, smtp_server, world, address
):
    if address == "inactive":
        world.mentor.active = False
        address = world.mentor.email
    elif address == "no-mail":
        address = world.coach.email
        world.coach.email = None
    db.session.commit()
    before = snapshot(world.trainee, world.mentor, world.coach)
    started = time.monotonic()
    assert accounts.request_reset(address) is None
    # It takes as long as a known address would (the floor, at least).
    assert time.monotonic() - started >= accounts.RESET_FLOOR_SECONDS
    assert snapshot(world.trainee, world.mentor, world.coach) == before
    assert tokens() == 0
    assert smtp_server.messages == []


def test_known_and_unknown_addresses_take_comparable_time(mail_app, smtp_server, world):
    def timed(address: str) -> float:
        started = time.monotonic()
        accounts.request_reset(address)
        return time.monotonic() - started

    known = [timed(world.trainee.email) for _ in range(2)]
    unknown = [timed("nobody@example.test") for _ in range(2)]
    assert len(smtp_server.messages) == 2
    assert min(unknown) >= 0.5 * max(known)
    assert max(unknown) <= 2 * max(known) + 0.1


# -- the command ---------------------------------------------------------------------------


def test_invite_command_invites_the_cohorts_people_without_a_password(
    mail_app, smtp_server, world, runner
):
    never_set(world.trainee, world.mentor, world.examiner)
    world.examiner.email = None
    factories.create_user().password_hash = ""  # not in the cohort: left out
    db.session.commit()
    result = runner.invoke(args=["aksi", "invite", "--cohort", str(world.cohort.id)])
    assert result.exit_code == 0, result.output
    assert "invited 2 of 3" in result.output and "1 without an e-mail address" in result.output
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(
        [world.trainee.email, world.mentor.email]
    )
    # Again: new links replace the old ones; people who set a password meanwhile are left out.
    _base, raw = link_in(smtp_server.to(world.trainee.email)[0])
    accounts.set_password(raw, NEW_PASSWORD, NEW_PASSWORD)
    result = runner.invoke(args=["aksi", "invite", "--cohort", str(world.cohort.id)])
    assert "invited 1 of 2" in result.output
    assert len(smtp_server.to(world.mentor.email)) == 2
    first, second = (link_in(m)[1] for m in smtp_server.to(world.mentor.email))
    assert accounts.check_token(first) is None and accounts.check_token(second) is not None


def test_invite_command_refuses_an_unknown_cohort(app, runner):
    result = runner.invoke(args=["aksi", "invite", "--cohort", "424242"])
    assert result.exit_code == 2
    assert "no cohort" in result.output
    assert tokens() == 0
