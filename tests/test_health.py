"""GET /healthz answers after asking the database."""

from __future__ import annotations


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_healthz_needs_no_login_or_token(client):
    response = client.get("/healthz", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 200


def test_healthz_503_when_database_unreachable(app, make_app, tmp_path):
    # A SQLite file in a directory that does not exist cannot be opened.
    broken = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing/dir/aksi.db")
    with broken.app_context():
        response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "error"}
