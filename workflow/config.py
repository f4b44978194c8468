"""Settings from the environment. SQLite in instance/ unless DATABASE_URL says otherwise."""

import os
from pathlib import Path


def _database_url(instance_path: str) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        # Heroku-style URLs name the old driver; psycopg 3 is the one installed.
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://") :]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        return url
    return "sqlite:///" + str(Path(instance_path) / "aksi.db")


def _whole_number(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None


def load(instance_path: str) -> dict:
    return {
        "SECRET_KEY": os.environ.get("SECRET_KEY", "dev-only-change-me"),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "BABEL_DEFAULT_LOCALE": "id",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "LANGUAGES": ["id", "en"],
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute"),
        # Password-reset requests per e-mail address (the per-IP limit is LOGIN_RATE_LIMIT).
        "RESET_RATE_LIMIT": os.environ.get("RESET_RATE_LIMIT", "5 per hour"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "0") == "1",
        "WTF_CSRF_TIME_LIMIT": None,
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", ""),
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "25")),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "aksi@localhost"),
        "MAIL_USE_TLS": os.environ.get("MAIL_USE_TLS", "0") == "1",  # STARTTLS
        "MAIL_USE_SSL": os.environ.get("MAIL_USE_SSL", "0") == "1",  # implicit TLS (465)
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD", ""),
        "MAIL_TIMEOUT": float(os.environ.get("MAIL_TIMEOUT", "10")),
        # Send right after each action (best effort); `flask aksi send-mail` catches up.
        "MAIL_SEND_IMMEDIATELY": os.environ.get("MAIL_SEND_IMMEDIATELY", "1") == "1",
        "BASE_URL": os.environ.get("BASE_URL", "http://127.0.0.1:5000"),
        # One-time links to set a password: an invitation works this many days, a reset
        # this many hours.
        "AKSI_INVITE_DAYS": _whole_number("AKSI_INVITE_DAYS", 7),
        "AKSI_RESET_HOURS": _whole_number("AKSI_RESET_HOURS", 2),
        # `flask aksi remind`: remind this many working days before a due date, and mail
        # the daily digest not before this hour, local time of the institution.
        "REMIND_DAYS_BEFORE": _whole_number("AKSI_REMIND_DAYS_BEFORE", 2),
        "REMIND_HOUR": _whole_number("AKSI_REMIND_HOUR", 7),
        # Uploads (signed letters, evidence): the limit per file, decided by content not name.
        "MAX_UPLOAD_MB": float(os.environ.get("MAX_UPLOAD_MB", "10")),
        # A whole request (a report may carry several photos): larger ones get a 413.
        "MAX_CONTENT_LENGTH": int(float(os.environ.get("MAX_REQUEST_MB", "40")) * 1024 * 1024),
        "UPLOAD_DIR": os.environ.get("UPLOAD_DIR", str(Path(instance_path) / "uploads")),
        # Graphviz's `dot` that draws the flow diagrams: a name on PATH or a full path.
        "GRAPHVIZ_DOT": os.environ.get("AKSI_GRAPHVIZ_DOT", "dot"),
        "DEFINITIONS_DIR": os.environ.get(
            "AKSI_DEFINITIONS_DIR", str(Path(__file__).resolve().parent.parent / "state_machines")
        ),
    }
