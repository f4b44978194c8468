"""`flask aksi create-admin`: the first administrator on a fresh server, with a one-time link
to set the password; bad arguments are named and write nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from workflow.extensions import db
from workflow.models import Institution, OneTimeToken, User

NEW = [
    "aksi", "create-admin", "--institution", "BPSDM-KALTIM",
    "--institution-name", "BPSDM Provinsi Kalimantan Timur", "--timezone", "Asia/Makassar",
    "--username", "admin.kaltim", "--name", "Rahmawati", "--email", "admin@bpsdm.example.go.id",
]  # fmt: skip


def counts() -> tuple[int, int, int]:
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Institution, User, OneTimeToken)
    )


def test_creates_institution_and_admin_and_prints_a_working_link(app, runner, client):
    result = runner.invoke(args=NEW)
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "admin.kaltim"))
    assert user.is_admin and not user.password_hash
    assert user.institution.timezone == "Asia/Makassar"
    link = re.search(r"https?://\S+/password/(\S+)", result.output)
    assert link, result.output
    assert client.get(f"/password/{link.group(1)}").status_code == 200
    # A second institution admin joins the existing institution without its name.
    again = runner.invoke(
        args=["aksi", "create-admin", "--institution", "BPSDM-KALTIM", "--username", "admin2",
              "--name", "Budi", "--email", "budi@bpsdm.example.go.id"]
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    assert db.session.scalar(select(func.count(Institution.id))) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--username": "admin.kaltim"}, "the username 'admin.kaltim' is taken"),
        ({"--email": "not-an-address"}, "is not an e-mail address"),
        ({"--username": "two words"}, "without spaces"),
        ({"--institution": "NEW", "--institution-name": ""}, "give --institution-name"),
    ],
)
def test_bad_arguments_are_named_and_write_nothing(app, runner, change, message):
    assert runner.invoke(args=NEW).exit_code == 0
    before = counts()
    args = list(NEW)
    for option, value in change.items():
        args[args.index(option) + 1] = value
    result = runner.invoke(args=args)
    assert result.exit_code == 2 and message in result.output
    assert counts() == before


def test_national_admin_is_granted_and_taken_by_username(app, runner):
    assert runner.invoke(args=NEW).exit_code == 0
    user = db.session.scalar(select(User).where(User.username == "admin.kaltim"))
    assert not user.national_admin
    assert runner.invoke(args=["aksi", "national-admin", "admin.kaltim"]).exit_code == 0
    db.session.refresh(user)
    assert user.national_admin
    assert runner.invoke(args=["aksi", "national-admin", "admin.kaltim", "--off"]).exit_code == 0
    db.session.refresh(user)
    assert not user.national_admin
    missing = runner.invoke(args=["aksi", "national-admin", "nobody"])
    assert missing.exit_code == 2 and "no user named 'nobody'" in missing.output
