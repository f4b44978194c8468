"""Failed logins are throttled in the database: per account (5 / 15 min by default) and per
address (50 / 15 min: a class behind one NAT), across workers and nodes; successful logins
are not counted; an unknown username costs the time of a known one."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests import factories
from tests.test_http_helpers import csrf_from, english, login
from tests.test_sessions import build_site
from workflow.extensions import db
from workflow.models._base import utcnow
from workflow.models.people import LoginFailure
from workflow.services import accounts


def attempt(client, username, password="wrong-password", ip="10.1.1.1"):
    client.environ_base["REMOTE_ADDR"] = ip
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def statuses(client, username, count, **kwargs):
    return [attempt(client, username, **kwargs).status_code for _ in range(count)]


def failures(site) -> int:
    with site.ctx():
        return db.session.scalar(select(func.count(LoginFailure.id)))


@pytest.fixture
def site(make_app):
    return build_site(make_app)


def test_an_account_locks_after_five_failures_and_a_reset_opens_it(site):
    client = site.client()
    english(client)
    assert statuses(client, site.trainee.username, 6) == [401] * 5 + [429]
    locked = attempt(client, site.trainee.username, factories.PASSWORD)
    assert locked.status_code == 429  # the right password does not pass a lock
    html = locked.get_data(as_text=True)
    assert "Too many attempts for this account. Try again in 15 minutes" in html
    assert 'href="/password/forgot"' in html
    assert 850 <= int(locked.headers["Retry-After"]) <= 900
    before = failures(site)
    attempt(client, site.trainee.username)
    assert failures(site) == before  # refused attempts are not counted: the lock ends

    # Other accounts from the same address are not affected.
    assert attempt(client, site.mentor.username, factories.PASSWORD).status_code == 302

    # The owner sets a new password through a reset link and is in at once.
    with site.ctx():
        raw = accounts.issue(site.user(site.trainee), accounts.RESET)
        db.session.commit()
        accounts.set_password(raw, "a-new-password-77", "a-new-password-77")
    owner = site.client()
    assert attempt(owner, site.trainee.username, "a-new-password-77").status_code == 302


def test_the_lock_ends_after_the_window(site):
    client = site.client()
    assert statuses(client, site.trainee.username, 6) == [401] * 5 + [429]
    with time_machine.travel(utcnow() + timedelta(minutes=15, seconds=1), tick=False):
        assert attempt(client, site.trainee.username, factories.PASSWORD).status_code == 302
        # Old rows are swept by the next failure of anyone.
        attempt(site.client(), "someone-else")
        assert failures(site) == 2  # that failure's own account and address rows


def test_an_unknown_username_locks_like_a_known_one(site):
    client = site.client()
    assert statuses(client, "no-such-person", 6) == [401] * 5 + [429]


def test_success_is_not_counted_and_clears_the_accounts_failures(site):
    client = site.client()
    assert statuses(client, site.trainee.username, 4) == [401] * 4
    assert attempt(client, site.trainee.username, factories.PASSWORD).status_code == 302
    with site.ctx():
        kinds = db.session.scalars(select(LoginFailure.kind)).all()
    assert kinds == ["address"] * 4  # the account's failures are gone, no row for success
    other = site.client()
    assert statuses(other, site.trainee.username, 6) == [401] * 5 + [429]


def test_an_address_has_a_higher_limit_and_successes_do_not_count(make_app):
    site = build_site(make_app, AKSI_LOGIN_ADDRESS_LIMIT="6 per 15 minutes")
    with site.ctx():
        people = [factories.create_user() for _ in range(8)]
        db.session.commit()
        names = [p.username for p in people]
    # A class behind one NAT: eight people log in, none of it counts.
    for name in names:
        assert attempt(site.client(), name, factories.PASSWORD, ip="203.0.113.7").status_code == 302
    # Wrong guesses at different accounts from one address: the address limit stops them.
    client = site.client()
    results = [attempt(client, f"guess{n}", ip="203.0.113.7").status_code for n in range(7)]
    assert results == [401] * 6 + [429]
    english(client)
    refused = attempt(client, names[0], factories.PASSWORD, ip="203.0.113.7")
    assert "Too many attempts from your network" in refused.get_data(as_text=True)
    # Another address, and another host of the same IPv6 /64 counts with its neighbours.
    assert attempt(client, names[0], factories.PASSWORD, ip="198.51.100.1").status_code == 302
    v6 = site.client()
    assert statuses(v6, "x", 6, ip="2001:db8:1:2::1") == [401] * 5 + [429]
    assert attempt(v6, "y", ip="2001:db8:1:2::ffff").status_code == 401  # 6th of the /64
    assert attempt(v6, "z", ip="2001:db8:1:2::abcd").status_code == 429


def test_the_limit_holds_across_two_app_instances(make_app):
    """Two create_app() objects on one database, as two workers or two nodes: requests
    alternate between them and the account still locks after five failures in all."""
    first = build_site(make_app)
    second = make_app()
    clients = [first.client(), second.test_client()]
    results = [attempt(clients[n % 2], first.trainee.username).status_code for n in range(8)]
    assert results == [401] * 5 + [429] * 3
    assert attempt(clients[1], first.trainee.username, factories.PASSWORD).status_code == 429


def test_an_unknown_username_takes_as_long_as_a_known_one(site):
    """The password hash runs either way (against a dummy hash for unknown names)."""

    def median(username: str) -> float:
        times = []
        with site.ctx():
            for n in range(5):
                started = time.perf_counter()
                outcome = accounts.attempt_login(username, f"wrong-{n}", f"192.0.2.{n}")
                times.append(time.perf_counter() - started)
                assert outcome is None
                db.session.execute(LoginFailure.__table__.delete())
                db.session.commit()
        return statistics.median(times)

    with site.ctx():
        hashing = site.user(site.trainee).password_hash.split("$")[0]
        assert accounts._dummy_hash().split("$")[0] == hashing  # same method and cost
    median("no-such-person")  # warm-up: the dummy hash is made once
    known, unknown = median(site.trainee.username), median("no-such-person")
    assert 0.5 < unknown / known < 2, (known, unknown)


def test_a_login_page_post_without_csrf_counts_nothing(make_app):
    site = build_site(make_app, WTF_CSRF_ENABLED=True)
    client = site.client()
    response = client.post("/login", data={"username": site.trainee.username, "password": "x"})
    assert response.status_code == 400
    assert failures(site) == 0
    login(client, site.trainee)


FAIL_THREE_TIMES = """
from workflow import create_app
from workflow.services import accounts
app = create_app()
with app.app_context():
    for _ in range(3):
        outcome = accounts.attempt_login({username!r}, "wrong-password", "10.9.9.9")
        print("failed" if outcome is None else "refused")
"""


def test_the_limit_holds_across_two_processes(make_app, database_url):
    """Two OS processes on one database (two gunicorn workers, or two nodes), failing at
    the same time: of six attempts, five fail and the sixth is refused, whichever process
    makes it; then the account is locked for everyone."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    site = build_site(make_app)
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKSI_")}
    env.update(AKSI_ENV="development", DATABASE_URL=database_url, PYTHONPATH=str(root))
    script = FAIL_THREE_TIMES.format(username=site.trainee.username)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script], cwd=root, env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    said = [w.communicate(timeout=120)[0].split() for w in workers]
    assert [w.returncode for w in workers] == [0, 0]
    assert sorted(said[0] + said[1]) == ["failed"] * 5 + ["refused"]
    client = site.client()
    assert attempt(client, site.trainee.username, factories.PASSWORD).status_code == 429
