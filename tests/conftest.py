"""Fixtures: `app` runs every database-facing test on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import shutil

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from tests import factories
from tests.pg import TestServer
from tests.smtp import smtp_server  # noqa: F401  (a real SMTP server fixture)
from workflow import create_app, jobs
from workflow.engine import registry
from workflow.extensions import db, limiter

BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test",
    "RATELIMIT_ENABLED": False,
    "SERVER_NAME": None,
    # Lexical vectors only: the model costs ~0.1 s a submission; its own tests turn it on.
    "AKSI_EMBEDDING_MODEL": "off",
}


def _migrated(url: str) -> None:
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("db") / "template.db"
    _migrated(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url():
    server = TestServer()
    url = server.start()
    try:
        _migrated(url)
        yield url
    finally:
        server.stop()


def _truncate_all() -> None:
    names = ", ".join(t.name for t in db.metadata.sorted_tables)
    db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    db.session.commit()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request):
    return request.param


@pytest.fixture(scope="session")
def sqlite_path(tmp_path_factory):
    # One file per test process, refilled from the template before each test, so that the
    # app built on it can be kept from one test to the next (see make_app).
    return tmp_path_factory.mktemp("current") / "aksi.db"


@pytest.fixture
def database_url(backend, request):
    if backend == "sqlite":
        path = request.getfixturevalue("sqlite_path")
        for app, _ in _APPS.values():
            with app.app_context():
                db.engine.dispose()
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    return request.getfixturevalue("postgres_url")


# The app of the default configuration, per backend, kept for the whole test process with a
# snapshot of its config: building one costs ~150 ms (its URL rules), ~15 minutes of CPU
# over the suite. Each test gets a fresh database and the app as it was built.
_APPS: dict[str, tuple] = {}


def _reused(backend: str, database_url: str):
    kept = _APPS.get(backend)
    if kept is None or kept[0].config["SQLALCHEMY_DATABASE_URI"] != database_url:
        app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url})
        _APPS[backend] = (app, dict(app.config))
        return app
    app, config = kept
    app.config.clear()
    app.config.update(config)
    # Process-wide state another test's app may have taken over.
    registry.load(app.config["DEFINITIONS_DIR"])
    jobs.init_app(app)
    app.extensions.pop("aksi_similarity_indexes", None)
    # The limiter is one object for every app: a test's app with limits on left it enabled.
    limiter.enabled = app.config["RATELIMIT_ENABLED"]
    if limiter.enabled:
        limiter.reset()
    return app


@pytest.fixture
def make_app(database_url, backend):
    """Build the app on this test's database; extra config merges over the test defaults."""
    apps = []

    def build(**config):
        if config:
            app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url, **config})
        else:
            app = _reused(backend, database_url)
        apps.append(app)
        return app

    yield build
    for app in apps[:1]:
        with app.app_context():
            db.session.remove()
            if backend == "postgresql":
                _truncate_all()
            db.engine.dispose()
    for app in apps[1:]:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def world(app):
    return factories.World()


@pytest.fixture
def world_pkn2(app):
    return factories.World("aksi_perubahan_pkn2")
