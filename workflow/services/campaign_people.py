"""A campaign's people from a spreadsheet: the operators, camat offices and DPMP validators
of a campaign, one per row (role, name, e-mail, region code), become accounts of the
institution with their office region and members of the campaign.

The file is read with the participant import's checks (type, size, rows; see imports.py).
Every row is checked before anything is written; one bad row refuses the whole file with a
message per cell (line and column). Otherwise, in one transaction: an account per new
e-mail address (no password; an invitation is mailed by a job after the commit), existing
accounts of the institution reused, and the members added (those already there skipped).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Campaign, CampaignMember, Region, User
from . import accounts, imports, people, spreadsheets
from .campaigns import can_launch, definition_of_campaign, inside
from .errors import Conflict, Forbidden, NotAvailable
from .imports import Column, ImportRefused

TEXT_MAX = imports.TEXT_MAX
CHUNK = imports.CHUNK

COLUMNS = (
    Column(
        "peran",
        _l("Role"),
        ("role",),
        help=_l("The role in the campaign's flow: one of the keys listed below."),
    ),
    Column("nama", _l("Name"), ("name", "nama_lengkap", "full_name"), help=_l("Full name.")),
    Column(
        "email",
        _l("E-mail"),
        ("e_mail", "surel", "alamat_email", "email_address"),
        help=_l("The invitation to set a password is sent here (new accounts)."),
    ),
    Column(
        "kode_wilayah",
        _l("Region code"),
        ("kode", "region_code", "kode_kemendagri", "kode_desa", "kode_pekon"),
        help=_l(
            "The official (Kemendagri) code of the region the person serves, as 18.04.11.2001 "
            "for a pekon, 18.04.11 for a kecamatan, 18.04 for the regency. Format the column "
            "as text in Excel."
        ),
    ),
    Column(
        "nip",
        _l("NIP"),
        (),
        required=False,
        nip=True,
        help=_l("Optional: 18 digits; spaces are ignored."),
    ),
    Column(
        "jabatan",
        _l("Position"),
        ("position", "job_title"),
        required=False,
        help=_l("Optional; by default the role and the region, as “Operator pekon Sukau”."),
    ),
)
KEYS = tuple(c.key for c in COLUMNS)
REQUIRED_KEYS = tuple(c.key for c in COLUMNS if c.required)

NO_ROWS = _l("The file has a header but no rows of people.")
HAS_ERRORS = _l("Some rows have errors, so nothing was imported. Fix the file and upload it again.")
CLOSED = _l("This campaign is closed.")
NOT_ADMIN = _l("Only an administrator of the institution changes the members.")
RACE = _l("Someone changed these accounts at the same time. Upload the file again.")

UNKNOWN_ROLE = _l("Unknown role; use one of: %(roles)s.")
UNKNOWN_REGION = _l("No region has this code.")
OUTSIDE_AREA = _l("%(region)s is outside the campaign's area (%(area)s).")
DUPLICATE_ROW = _l("The same person, role and region are on line %(line)d.")
OTHER_NAME = _l("This e-mail address is on line %(line)d with another name.")
OTHER_NIP = _l("This e-mail address is on line %(line)d with another NIP.")
OTHER_INSTITUTION = _l("This e-mail address belongs to an account of another institution.")
INACTIVE = _l("The account with this e-mail address is deactivated.")
NIP_TAKEN = imports.NIP_TAKEN


class RowsRefused(ImportRefused):
    """Some rows are wrong: `rows` holds them, each with its line and errors per column."""

    def __init__(self, rows: list[dict]):
        super().__init__(HAS_ERRORS)
        self.rows = rows


@dataclass
class Outcome:
    created: int = 0
    linked: int = 0
    added: int = 0
    skipped: int = 0
    invited: int = 0
    errors: list = field(default_factory=list)


def region_roles(campaign: Campaign) -> list:
    """The roles of the campaign's flow held over a region (operator, camat, dpmp)."""
    return [r for r in definition_of_campaign(campaign).roles if r.assignment == "region"]


def _fmt(message, **params) -> str:
    return str(message) % params


# ---------------------------------------------------------------- reading


def read(file_storage) -> list[dict]:
    """The rows of an uploaded file as {"line", "values", "numeric", "extra"}, or
    ImportRefused for a file that is not such a list (the participant import's reader)."""
    data, name = imports.read_upload(file_storage)
    return imports.parse(data, name, COLUMNS, NO_ROWS)


# ---------------------------------------------------------------- checking


def _role_index(campaign: Campaign) -> dict[str, str]:
    """What a `peran` cell may say (lower-cased) → role key: the key or either label."""
    index: dict[str, str] = {}
    for spec in region_roles(campaign):
        for word in (spec.key, spec.labels.id, spec.labels.en):
            index.setdefault(word.strip().lower(), spec.key)
    return index


def _static_errors(row: dict, roles: dict[str, str], role_words: str) -> dict[str, str]:
    values, errors = row["values"], {}
    for key in KEYS:
        text = values[key]
        if spreadsheets.looks_like_formula(text) and key != "nip":
            errors[key] = str(imports.FORMULA)
        elif len(text) > TEXT_MAX:
            errors[key] = _fmt(imports.TOO_LONG, n=TEXT_MAX)
    for key in REQUIRED_KEYS:
        if not values[key] and key not in errors:
            errors[key] = str(imports.REQUIRED)
    if values["peran"] and "peran" not in errors and values["peran"].lower() not in roles:
        errors["peran"] = _fmt(UNKNOWN_ROLE, roles=role_words)
    if values["email"] and "email" not in errors and not imports.EMAIL_RE.match(values["email"]):
        errors["email"] = str(imports.BAD_EMAIL)
    if values["nip"] and "nip" not in errors:
        if "nip" in row["numeric"]:
            errors["nip"] = str(imports.NUMERIC_NIP)
        else:
            problem = people.check_nip(values["nip"]).error
            if problem:
                errors["nip"] = str(problem)
    if row.get("extra"):
        errors["_row"] = str(imports.EXTRA_CELLS)
    return errors


def _chunks(items: list):
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _regions(codes: set[str]) -> dict[str, Region]:
    found: dict[str, Region] = {}
    for part in _chunks(sorted(codes)):
        for region in db.session.scalars(select(Region).where(Region.code.in_(part))):
            found[region.code] = region
    return found


def _users_by_email(emails: set[str]) -> dict[str, User]:
    found: dict[str, User] = {}
    for part in _chunks(sorted(emails)):
        for user in db.session.scalars(select(User).where(func.lower(User.email).in_(part))):
            found[user.email.lower()] = user
    return found


def _users_by_nip(nips: set[str]) -> dict[str, User]:
    found: dict[str, User] = {}
    for part in _chunks(sorted(nips)):
        for user in db.session.scalars(select(User).where(User.nip.in_(part))):
            found[user.nip] = user
    return found


def check(campaign: Campaign, rows: list[dict]) -> list[dict]:
    """Each row with "errors" ({column: message}) and, when good, "role", "region",
    "user" (the existing account, or None for a new one). A fixed number of queries."""
    roles = _role_index(campaign)
    role_words = ", ".join(r.key for r in region_roles(campaign))
    area = campaign.region
    for row in rows:
        row["errors"] = _static_errors(row, roles, role_words)
        row["role"] = roles.get(row["values"]["peran"].lower())
        row["values"]["nip"] = imports.normal_nip(row["values"]["nip"])
    regions = _regions(
        {r["values"]["kode_wilayah"] for r in rows if "kode_wilayah" not in r["errors"]}
    )
    emails = {r["values"]["email"].lower() for r in rows if "email" not in r["errors"]}
    users = _users_by_email(emails)
    nips = _users_by_nip(
        {r["values"]["nip"] for r in rows if r["values"]["nip"] and "nip" not in r["errors"]}
    )
    first_of: dict[tuple, int] = {}
    person_of: dict[str, dict] = {}
    for row in rows:
        values, errors = row["values"], row["errors"]
        code = values["kode_wilayah"]
        region = regions.get(code) if "kode_wilayah" not in errors else None
        if "kode_wilayah" not in errors:
            if region is None:
                errors["kode_wilayah"] = str(UNKNOWN_REGION)
            # Inside the area, or holding it: DPMP of the regency over a kecamatan's campaign.
            elif not (inside(region.code, area.code) or inside(area.code, region.code)):
                errors["kode_wilayah"] = _fmt(OUTSIDE_AREA, region=region.name, area=area.name)
        row["region"] = region
        email = values["email"].lower()
        user = users.get(email) if "email" not in errors else None
        row["user"] = user
        if user is not None:
            if user.institution_id != campaign.institution_id:
                errors["email"] = str(OTHER_INSTITUTION)
            elif not user.active:
                errors["email"] = str(INACTIVE)
        nip = values["nip"]
        if nip and "nip" not in errors:
            holder = nips.get(nip)
            if holder is not None and (holder.email or "").lower() != email:
                errors["nip"] = str(NIP_TAKEN)
        if "email" in errors:
            continue
        key = (row["role"], email, code)
        if key in first_of and not errors:
            errors["_row"] = _fmt(DUPLICATE_ROW, line=first_of[key])
        first_of.setdefault(key, row["line"])
        first = person_of.setdefault(email, row)
        if first is not row:
            if values["nama"] and values["nama"] != first["values"]["nama"]:
                errors.setdefault("nama", _fmt(OTHER_NAME, line=first["line"]))
            if nip and first["values"]["nip"] and nip != first["values"]["nip"]:
                errors.setdefault("nip", _fmt(OTHER_NIP, line=first["line"]))
    return rows


# ---------------------------------------------------------------- importing


def _position(campaign: Campaign, row: dict) -> str:
    if row["values"]["jabatan"]:
        return row["values"]["jabatan"]
    label = definition_of_campaign(campaign).role_label(row["role"], "id") or row["role"]
    return f"{label} {row['region'].name}"[:200]


def import_people(campaign: Campaign, actor: User, file_storage) -> Outcome:
    """Read, check and import a file of people (see the module's docstring). Raises
    ImportRefused (RowsRefused with the bad rows) having written nothing."""
    if not can_launch(actor, campaign.institution):
        raise Forbidden(NOT_ADMIN)
    if campaign.closed_at is not None:
        raise NotAvailable(CLOSED)
    rows = check(campaign, read(file_storage))
    bad = [r for r in rows if r["errors"]]
    if bad:
        raise RowsRefused(bad)
    return _write(campaign, actor, rows)


def _write(campaign: Campaign, actor: User, rows: list[dict]) -> Outcome:
    out = Outcome()
    try:
        accounts_by_email: dict[str, User] = {}
        new_rows, seen = [], set()
        for row in rows:
            email = row["values"]["email"].lower()
            if email in seen:
                continue
            seen.add(email)
            if row["user"] is not None:
                user = row["user"]
                accounts_by_email[email] = user
                out.linked += 1
                # What the account lacks comes from its (first) row; nothing is overwritten.
                if user.office_region_id is None:
                    user.office_region_id = row["region"].id
                if not user.nip and row["values"]["nip"]:
                    user.nip = row["values"]["nip"]
                if not user.position and row["values"]["jabatan"]:
                    user.position = row["values"]["jabatan"]
            else:
                new_rows.append(row)
        usernames = imports.free_usernames([imports.username_base(r["values"]) for r in new_rows])
        created = []
        for row, username in zip(new_rows, usernames, strict=True):
            values = row["values"]
            user = User(
                username=username,
                name=values["nama"],
                email=values["email"],
                nip=values["nip"] or None,
                position=_position(campaign, row),
                password_hash="",
                institution_id=campaign.institution_id,
                office_region_id=row["region"].id,
            )
            accounts_by_email[values["email"].lower()] = user
            created.append(user)
        db.session.add_all(created)
        db.session.flush()
        out.created = len(created)
        have = set(
            db.session.execute(
                select(CampaignMember.role, CampaignMember.user_id, CampaignMember.region_id).where(
                    CampaignMember.campaign_id == campaign.id
                )
            ).all()
        )
        for row in rows:
            user = accounts_by_email[row["values"]["email"].lower()]
            key = (row["role"], user.id, row["region"].id)
            if key in have:
                out.skipped += 1
                continue
            have.add(key)
            db.session.add(
                CampaignMember(
                    campaign_id=campaign.id,
                    role=row["role"],
                    user_id=user.id,
                    region_id=row["region"].id,
                    region_code=row["region"].code,
                )
            )
            out.added += 1
        # The invitations' job starts after the commit (and is forgotten on a rollback).
        out.invited = accounts.queue_invitations([u.id for u in created], actor)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(RACE) from None
    except BaseException:
        db.session.rollback()
        raise
    return out
