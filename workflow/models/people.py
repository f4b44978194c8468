from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, timedelta

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, event, inspect, text
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ._base import utcnow

# IANA zone → the abbreviation Indonesians read on a clock.
ZONE_LABELS = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}


class Institution(db.Model):
    """A training institution (BPSDM, Puslatbang, PPSDM)."""

    __tablename__ = "institutions"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Jakarta")
    # Where its documents are signed: "Samarinda, 5 Desember 2026".
    city: Mapped[str] = mapped_column(String(100), default="", server_default=text("''"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))

    region: Mapped[Region | None] = relationship()
    holidays: Mapped[list[InstitutionHoliday]] = relationship(
        back_populates="institution", cascade="all, delete-orphan"
    )

    @property
    def zone_label(self) -> str:
        return ZONE_LABELS.get(self.timezone, self.timezone)


class InstitutionHoliday(db.Model):
    """An extra day off of one institution (cuti bersama, a local holiday)."""

    __tablename__ = "institution_holidays"
    __table_args__ = (UniqueConstraint("institution_id", "day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="CASCADE"))
    day: Mapped[date]
    name: Mapped[str] = mapped_column(String(200), default="")

    institution: Mapped[Institution] = relationship(back_populates="holidays")


class Region(db.Model):
    """provinsi → kabupaten/kota → kecamatan → desa/kelurahan/pekon."""

    __tablename__ = "regions"
    LEVELS = ("province", "regency", "district", "village")
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    level: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(20), unique=True)
    # desa, kelurahan, pekon, nagari, gampong… (villages), kabupaten or kota (regencies).
    kind: Mapped[str | None] = mapped_column(String(20))
    updated_at: Mapped[datetime | None]

    parent: Mapped[Region | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Region]] = relationship(back_populates="parent")

    def province(self) -> Region:
        node = self
        while node.parent is not None:
            node = node.parent
        return node


class Agency(db.Model):
    """An OPD, e.g. DPMD Kutai Kartanegara."""

    __tablename__ = "agencies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(80), default="")
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)

    region: Mapped[Region | None] = relationship()


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    email: Mapped[str | None] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Optional: non-ASN participants and elected kepala daerah have none.
    nip: Mapped[str | None] = mapped_column(String(30), unique=True)
    # Jabatan, and pangkat/golongan (e.g. "Pembina, IV/a").
    position: Mapped[str] = mapped_column(String(200), default="")
    rank: Mapped[str] = mapped_column(String(80), default="", server_default=text("''"))
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    # Deprecated: API tokens live in `api_tokens` (several per person, expiring). The
    # column stays (NULL) so a downgrade can put a token back; nothing reads it.
    api_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Part of every session's id (`get_id`): raising it ends every session and remember-me
    # cookie of the person at once (logout, new password, deactivation).
    session_version: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    # The region the person's office serves (a pekon office, a kecamatan, a regency).
    office_region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    is_admin: Mapped[bool] = mapped_column(default=False)
    # A national administrator (e.g. at LAN) searches the repository of every institution;
    # it grants nothing else.
    national_admin: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    institution: Mapped[Institution | None] = relationship()
    agency: Mapped[Agency | None] = relationship()
    office_region: Mapped[Region | None] = relationship()
    api_tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="ApiToken.id"
    )

    def get_id(self) -> str:
        # What Flask-Login keeps in the session and the remember-me cookie.
        return f"{self.id}:{self.session_version or 0}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    def issue_api_token(self, name: str = "") -> str:
        """A new bearer token (the others stay valid); only its hash is stored, so it is
        shown once. It expires after AKSI_TOKEN_DAYS (default 90)."""
        token = secrets.token_urlsafe(32)
        self.add_api_token_hash(hash_token(token), name)
        return token

    def add_api_token_hash(self, token_hash: str, name: str = "") -> ApiToken:
        now = utcnow()
        days = float(current_app.config.get("AKSI_TOKEN_DAYS", 90))
        token = ApiToken(
            token_hash=token_hash,
            name=name[:100],
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        self.api_tokens.append(token)
        return token


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(db.Model):
    """A bearer token of the JSON API. Only the sha256 of the token is stored; it expires,
    and its owner or an admin can revoke it (revoked_at set; rows are kept for the list)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="", server_default=text("''"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="api_tokens")

    def is_live(self, now: datetime | None = None) -> bool:
        return self.revoked_at is None and self.expires_at > (now or utcnow())


class LoginFailure(db.Model):
    """One failed (or still being checked) login, counted per account and per address.
    In the database, so every worker and node sees the same counts."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key", "kind", "key", "failed_at"),)
    KINDS = ("account", "address")
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    # account: sha256 of the typed username (people type passwords there); address: the IP
    # (IPv6: its /64).
    key: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(index=True)


@event.listens_for(Session, "before_flush")
def _credentials_changed(session, flush_context, instances) -> None:
    """A new password or a deactivation, by whatever path, ends every session and revokes
    every API token of the person."""
    for obj in list(session.dirty):
        if not isinstance(obj, User):
            continue
        attrs = inspect(obj).attrs
        password = attrs.password_hash.history
        active = attrs.active.history
        changed = bool(password.deleted and password.deleted[0] and password.added)
        deactivated = bool(active.deleted and active.deleted[0] and obj.active is False)
        if not (changed or deactivated):
            continue
        obj.session_version = (obj.session_version or 0) + 1
        now = utcnow()
        with session.no_autoflush:
            for token in obj.api_tokens:
                if token.revoked_at is None:
                    token.revoked_at = now


class OneTimeToken(db.Model):
    """A link to set a password: an invitation or a reset. Only the hash is stored; it
    expires and works once."""

    __tablename__ = "one_time_tokens"
    PURPOSES = ("invite", "reset")
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
