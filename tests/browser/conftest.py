"""Browser fixtures: Debian's Chromium through Playwright, against the app served live on
127.0.0.1 from a thread, on its own SQLite file."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from tests import factories
from workflow import create_app
from workflow.extensions import db

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
def serve(sqlite_template, tmp_path):
    """serve(setup) → {"url": …, **setup()}: `setup` builds the data inside the app context
    and returns what the test needs to know of it."""
    servers = []

    def start(setup):
        path = tmp_path / "live.db"
        shutil.copy(sqlite_template, path)
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "browser-test",
                "RATELIMIT_ENABLED": False,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            }
        )
        with app.app_context():
            info = setup()
            db.session.remove()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((app, server, thread))
        return {"url": f"http://127.0.0.1:{server.server_port}", "app": app, **info}

    yield start
    for app, server, thread in servers:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", factories.PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{base}/")
