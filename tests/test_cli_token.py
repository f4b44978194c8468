"""`flask aksi token USERNAME` prints a bearer token that opens the API."""

from __future__ import annotations

from workflow.extensions import db
from workflow.models.people import hash_token


def test_printed_token_authenticates(runner, client, world):
    result = runner.invoke(args=["aksi", "token", world.trainee.username])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token and "\n" not in token
    db.session.expire_all()
    # Only the hash is stored.
    assert hash_token(token) in {t.token_hash for t in world.trainee.api_tokens}
    assert token not in (world.trainee.api_token_hash or "")

    response = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert [c["id"] for c in response.json["items"]] == [world.case.id]


def test_new_token_replaces_the_old_one(runner, client, world):
    first = runner.invoke(args=["aksi", "token", world.mentor.username]).output.strip()
    second = runner.invoke(args=["aksi", "token", world.mentor.username]).output.strip()
    assert first != second
    old = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {first}"})
    new = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {second}"})
    assert old.status_code == 401
    assert new.status_code == 200


def test_unknown_user_exits_2(runner, world):
    result = runner.invoke(args=["aksi", "token", "nobody-here"])
    assert result.exit_code == 2
    assert "nobody-here" in result.output
