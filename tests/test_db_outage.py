"""The database unreachable (restarting, failing over): a 503 with Retry-After whose page
needs no database, for a signed-in person too, not the server's bare error page."""

from __future__ import annotations

import pytest

from tests.conftest import BASE_CONFIG
from workflow import create_app


@pytest.fixture
def unreachable(tmp_path):
    # A SQLite file in a folder that does not exist: every connection attempt fails.
    return create_app(
        {**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing/aksi.db"}
    )


@pytest.mark.parametrize(
    ("path", "lang", "expected"),
    [
        ("/inbox", None, "Aksi tidak dapat menghubungi basis datanya"),
        ("/inbox", "en", "Aksi cannot reach its database for a moment"),
        ("/api/v1/cases", None, "Aksi tidak dapat menghubungi basis datanya"),
    ],
)
def test_signed_in_requests_get_a_503_page_that_needs_no_database(
    unreachable, path, lang, expected
):
    client = unreachable.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = "1:0"  # a signed-in person: loading them needs the database
        session["_fresh"] = True
        if lang:
            session["lang"] = lang
    response = client.get(path, headers={"Authorization": "Bearer x"} if "api" in path else {})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert expected in response.get_data(as_text=True)
