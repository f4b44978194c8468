"""Official region codes (Kemendagri): load them from the published CSVs, search, browse.

Codes are dotted — 18 / 18.04 / 18.04.11 / 18.04.11.2001 (province / regency / district /
village) — so a unit's descendants are the rows whose code starts with its code and a dot.
Rows without a code (made by hand or by older demos) are never touched by the loader.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import case, func, insert, select, update

from workflow.extensions import db
from workflow.models import Region
from workflow.models._base import utcnow

LEVELS = Region.LEVELS
LEVEL_RANK = {level: n for n, level in enumerate(LEVELS)}
PARENT_LEVEL = {"regency": "province", "district": "regency", "village": "district"}
CHILD_LEVEL = {parent: child for child, parent in PARENT_LEVEL.items()}
CODE_PATTERNS = {
    "province": re.compile(r"\d{2}"),
    "regency": re.compile(r"\d{2}\.\d{2}"),
    "district": re.compile(r"\d{2}\.\d{2}\.\d{2}"),
    "village": re.compile(r"\d{2}\.\d{2}\.\d{2}\.\d{4}"),
}
CODE_EXAMPLES = {
    "province": "18",
    "regency": "18.04",
    "district": "18.04.11",
    "village": "18.04.11.2001",
}
# level → (file name, header)
FILES = {
    "province": ("provinces.csv", ("code", "name")),
    "regency": ("regencies.csv", ("code", "province_code", "name")),
    "district": ("districts.csv", ("code", "regency_code", "name")),
    "village": ("villages.csv", ("code", "district_code", "name")),
}
NAME_MAX = 200  # Region.name
BATCH = 2000
ANY_CODE = re.compile(r"\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?")
SEPARATOR = " — "


def level_of_code(code: str) -> str | None:
    """The level an official code belongs to, or None when it is not one."""
    for level, pattern in CODE_PATTERNS.items():
        if pattern.fullmatch(code):
            return level
    return None


def is_official_code(code: str | None) -> bool:
    return bool(code) and ANY_CODE.fullmatch(code) is not None


def kind_of(level: str, code: str, name: str) -> str | None:
    if level == "regency":
        first = name.split(" ", 1)[0].lower()
        return first if first in ("kabupaten", "kota") else None
    if level == "village":
        return "kelurahan" if code.rsplit(".", 1)[1].startswith("1") else "desa"
    return None


# ---------------------------------------------------------------- reading the files


class RegionFileError(Exception):
    """A source file that cannot be loaded; names the file and the line."""

    def __init__(self, path, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}, line {line}" if line else self.path
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Unit:
    level: str
    code: str
    parent_code: str | None
    name: str
    kind: str | None


@dataclass
class Source:
    directory: Path
    package: str | None  # "idn-area-data 4.0.1" when a package.json sits beside the data
    units: dict[str, list[Unit]]  # level → units in file order


def default_directory() -> Path:
    configured = current_app.config.get("REGIONS_DIR")
    if configured:
        return Path(configured)
    root = Path(current_app.root_path).parent
    return root / "node_modules" / "idn-area-data" / "data"


def package_of(directory: Path) -> str | None:
    for candidate in (directory / "package.json", directory.parent / "package.json"):
        if candidate.is_file():
            try:
                meta = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            if isinstance(meta, dict) and meta.get("name"):
                return f"{meta['name']} {meta.get('version', '')}".strip()
    return None


def _read_level(directory: Path, level: str) -> list[Unit]:
    name, header = FILES[level]
    path = directory / name
    if not path.is_file():
        raise RegionFileError(path, None, "file not found")
    pattern = CODE_PATTERNS[level]
    parent_level = PARENT_LEVEL.get(level)
    units: list[Unit] = []
    seen: dict[str, int] = {}
    try:
        # A download or copy cut off between lines still parses; its missing line end
        # gives it away (every line of the package ends with one).
        with path.open("rb") as raw:
            size = raw.seek(0, 2)
            if size:
                raw.seek(size - 1)
                if raw.read(1) not in (b"\n", b"\r"):
                    lines = path.read_bytes().count(b"\n") + 1
                    raise RegionFileError(
                        path, lines, "the last line has no line end — is the file truncated?"
                    )
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            try:
                first = next(reader, None)
            except csv.Error as exc:
                raise RegionFileError(path, 1, f"not valid CSV ({exc})") from None
            if first is None:
                raise RegionFileError(path, 1, "the file is empty")
            if tuple(c.strip() for c in first) != header:
                raise RegionFileError(
                    path, 1, f"expected the header {','.join(header)}, found {','.join(first)}"
                )
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    raise RegionFileError(path, reader.line_num, f"not valid CSV ({exc})") from None
                line = reader.line_num
                if not row or row == [""]:
                    continue  # a blank line
                if len(row) != len(header):
                    raise RegionFileError(
                        path,
                        line,
                        f"expected {len(header)} fields ({','.join(header)}), found {len(row)}"
                        " — is the file truncated?",
                    )
                code = row[0].strip()
                unit_name = " ".join(row[-1].split())
                if not pattern.fullmatch(code):
                    raise RegionFileError(
                        path,
                        line,
                        f"{code!r} is not a {level} code (like {CODE_EXAMPLES[level]})",
                    )
                if code in seen:
                    raise RegionFileError(
                        path, line, f"duplicate code {code} (first on line {seen[code]})"
                    )
                seen[code] = line
                if not unit_name:
                    raise RegionFileError(path, line, f"{code} has an empty name")
                if len(unit_name) > NAME_MAX:
                    raise RegionFileError(
                        path, line, f"{code}: the name is longer than {NAME_MAX} characters"
                    )
                parent_code = None
                if parent_level:
                    parent_code = row[1].strip()
                    if parent_code != code.rsplit(".", 1)[0]:
                        raise RegionFileError(
                            path,
                            line,
                            f"{code}: the {header[1]} {parent_code!r} does not match the code",
                        )
                units.append(
                    Unit(level, code, parent_code, unit_name, kind_of(level, code, unit_name))
                )
    except UnicodeDecodeError as exc:
        raise RegionFileError(path, None, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise RegionFileError(path, None, f"cannot be read ({exc.strerror or exc})") from None
    return units


def read_source(directory: Path | str | None = None, provinces=()) -> Source:
    """Read and check all four files; raise RegionFileError on the first problem.

    `provinces` (codes like "18") keeps only those provinces' trees; the whole of every
    file is still checked, so a bad line anywhere is reported before anything is written."""
    directory = Path(directory) if directory is not None else default_directory()
    if not directory.is_dir():
        raise RegionFileError(directory, None, "no such directory")
    units: dict[str, list[Unit]] = {}
    known: set[str] = set()
    for level in LEVELS:
        rows = _read_level(directory, level)
        if level in PARENT_LEVEL:
            name, header = FILES[level]
            codes = {u.code for u in rows}
            for u in rows:
                if u.parent_code not in known:
                    line = _line_of(directory / name, u.code)
                    raise RegionFileError(
                        directory / name,
                        line,
                        f"{u.code}: unknown {header[1]} {u.parent_code} "
                        f"(not in {FILES[PARENT_LEVEL[level]][0]})",
                    )
            known |= codes
        else:
            known |= {u.code for u in rows}
        units[level] = rows
    wanted = [p.strip() for p in provinces if p and p.strip()]
    if wanted:
        present = {u.code for u in units["province"]}
        missing = [p for p in wanted if p not in present]
        if missing:
            raise RegionFileError(
                directory / FILES["province"][0],
                None,
                f"no province {', '.join(missing)} in the file",
            )
        keep = set(wanted)
        units = {
            level: [u for u in rows if u.code.split(".", 1)[0] in keep]
            for level, rows in units.items()
        }
    return Source(directory, package_of(directory), units)


def _line_of(path: Path, code: str) -> int | None:
    """The line of `code` in `path` (only to name it in an error; the file is small enough)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        for row in reader:
            if row and row[0].strip() == code:
                return reader.line_num
    return None


# ---------------------------------------------------------------- writing


@dataclass
class Counts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class LoadResult:
    counts: dict[str, Counts] = field(default_factory=lambda: {lv: Counts() for lv in LEVELS})

    @property
    def inserted(self) -> int:
        return sum(c.inserted for c in self.counts.values())

    @property
    def updated(self) -> int:
        return sum(c.updated for c in self.counts.values())

    @property
    def unchanged(self) -> int:
        return sum(c.unchanged for c in self.counts.values())


def _batches(rows: list, size: int = BATCH):
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def load(source: Source) -> LoadResult:
    """Upsert the source's units by code in the current transaction (the caller commits).

    New codes are inserted, changed ones (name, kind, parent, level) updated; codes never
    change and rows without a code are left alone. One SELECT of the existing coded rows,
    then bulk statements in batches: the whole country is ~91,000 rows."""
    table = Region.__table__
    now = utcnow()
    wanted = {u.code for rows in source.units.values() for u in rows}
    existing: dict[str, tuple] = {}
    query = select(
        table.c.id, table.c.code, table.c.level, table.c.name, table.c.kind, table.c.parent_id
    ).where(table.c.code.is_not(None))
    for row in db.session.execute(query):
        if row.code in wanted:
            existing[row.code] = tuple(row)
    ids = {code: row[0] for code, row in existing.items()}
    result = LoadResult()
    for level in LEVELS:
        counts = result.counts[level]
        new_rows, changed = [], []
        for u in source.units.get(level, ()):
            parent_id = ids[u.parent_code] if u.parent_code else None
            values = {"level": level, "name": u.name, "kind": u.kind, "parent_id": parent_id}
            old = existing.get(u.code)
            if old is None:
                new_rows.append({"code": u.code, "updated_at": now, **values})
            elif (old[2], old[3], old[4], old[5]) != (level, u.name, u.kind, parent_id):
                changed.append({"id": old[0], "updated_at": now, **values})
            else:
                counts.unchanged += 1
        for batch in _batches(new_rows):
            returned = db.session.execute(insert(table).returning(table.c.id, table.c.code), batch)
            ids.update({code: id_ for id_, code in returned})
        for batch in _batches(changed):
            db.session.execute(update(Region), batch)  # bulk UPDATE by primary key
        counts.inserted, counts.updated = len(new_rows), len(changed)
    db.session.expire_all()
    return result


# ---------------------------------------------------------------- reading the table


def get_by_code(code: str | None) -> Region | None:
    if not code or not isinstance(code, str) or len(code) > 20:
        return None
    return db.session.scalar(select(Region).where(Region.code == code.strip()))


def resolve(code_or_id) -> Region | None:
    """A Region from a Region, an id (int) or a code (str)."""
    if isinstance(code_or_id, Region):
        return code_or_id
    if isinstance(code_or_id, int) and not isinstance(code_or_id, bool):
        return db.session.get(Region, code_or_id)
    if isinstance(code_or_id, str):
        return get_by_code(code_or_id)
    return None


def _order():
    return (func.coalesce(Region.code, ""), Region.name, Region.id)


def children(code_or_id) -> list[Region]:
    region = resolve(code_or_id)
    if region is None:
        return []
    return list(
        db.session.scalars(select(Region).where(Region.parent_id == region.id).order_by(*_order()))
    )


def child_counts(regions) -> dict[int, int]:
    """How many children each region has (one query)."""
    ids = [r.id for r in regions]
    if not ids:
        return {}
    rows = db.session.execute(
        select(Region.parent_id, func.count(Region.id))
        .where(Region.parent_id.in_(ids))
        .group_by(Region.parent_id)
    )
    return {parent_id: n for parent_id, n in rows}


def _descendant_ids_by_parent(region: Region, level: str):
    """For regions without an official code: walk down by parent_id (bounded by depth)."""
    frontier = [region.id]
    for _ in LEVELS:
        if not frontier:
            break
        rows = db.session.execute(
            select(Region.id, Region.level).where(Region.parent_id.in_(frontier))
        ).all()
        found = [id_ for id_, lv in rows if lv == level]
        if found:
            return found
        frontier = [id_ for id_, _lv in rows]
    return []


def descendants_at_level(region, level: str) -> list[Region]:
    """Every unit at `level` inside `region` (e.g. the villages of a regency), by code."""
    region = resolve(region)
    if region is None or level not in LEVEL_RANK:
        return []
    if region.level in LEVEL_RANK and LEVEL_RANK[level] <= LEVEL_RANK[region.level]:
        return []
    if is_official_code(region.code):
        query = select(Region).where(Region.level == level, Region.code.like(f"{region.code}.%"))
    else:
        ids = _descendant_ids_by_parent(region, level)
        if not ids:
            return []
        query = select(Region).where(Region.id.in_(ids))
    return list(db.session.scalars(query.order_by(*_order())))


def with_ancestors(regions) -> dict[int, Region]:
    """The regions and all their ancestors, by id, in at most one query per level."""
    known = {r.id: r for r in regions}
    pending = {r.parent_id for r in regions if r.parent_id and r.parent_id not in known}
    for _ in LEVELS:
        if not pending:
            break
        rows = db.session.scalars(select(Region).where(Region.id.in_(pending))).all()
        known.update({r.id: r for r in rows})
        pending = {r.parent_id for r in rows if r.parent_id and r.parent_id not in known}
    return known


def chain_of(region: Region, known: dict[int, Region]) -> list[Region]:
    chain, node, seen = [], region, {region.id}
    while node.parent_id and node.parent_id in known and node.parent_id not in seen:
        node = known[node.parent_id]
        seen.add(node.id)
        chain.append(node)
    return chain


def ancestors(region) -> list[Region]:
    """The parent chain, nearest first: district → regency → province."""
    region = resolve(region)
    if region is None:
        return []
    return chain_of(region, with_ancestors([region]))


def label(region, known: dict[int, Region] | None = None) -> str:
    """ "Sukau — Kabupaten Lampung Barat, Lampung"."""
    if region is None:
        return ""
    known = known if known is not None else with_ancestors([region])
    names = [r.name for r in chain_of(region, known)]
    return f"{region.name}{SEPARATOR}{', '.join(names)}" if names else region.name


def labels(regions) -> dict[int, str]:
    """label() of many regions with a query per level, not per region."""
    known = with_ancestors(list(regions))
    return {r.id: label(r, known) for r in regions}


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(q: str | None, level: str | None = None, within=None, limit: int = 20) -> list[Region]:
    """Official units whose name contains `q` (case-insensitive; prefixes first) or whose
    code starts with it, optionally at one level and inside one unit (a Region or a code)."""
    q = " ".join((q or "").split())
    query = select(Region).where(Region.code.is_not(None))
    if level:
        if level not in LEVEL_RANK:
            return []
        query = query.where(Region.level == level)
    if within is not None:
        parent = resolve(within)
        if parent is None or not is_official_code(parent.code):
            return []
        query = query.where(Region.code.like(f"{parent.code}.%"))
    lowered = q.lower()
    by_code = bool(q) and re.fullmatch(r"[\d.]+", q) is not None
    if by_code:
        query = query.where(Region.code.like(f"{_like_escape(q)}%", escape="\\"))
        rank = case((Region.code == q, 0), else_=1)
    elif q:
        pattern = _like_escape(lowered)
        query = query.where(func.lower(Region.name).like(f"%{pattern}%", escape="\\"))
        rank = case(
            (func.lower(Region.name) == lowered, 0),
            (func.lower(Region.name).like(f"{pattern}%", escape="\\"), 1),
            (func.lower(Region.name).like(f"% {pattern}%", escape="\\"), 2),
            else_=3,
        )
    else:
        rank = None
    levels = case({lv: n for lv, n in LEVEL_RANK.items()}, value=Region.level, else_=9)
    if rank is None or by_code:
        order = [levels, Region.code] if rank is None else [rank, levels, Region.code]
    else:
        order = [rank, levels, Region.name, Region.code]
    return list(db.session.scalars(query.order_by(*order).limit(max(1, min(limit, 100)))))


__all__ = [
    "LEVELS",
    "Counts",
    "LoadResult",
    "RegionFileError",
    "Source",
    "ancestors",
    "child_counts",
    "children",
    "default_directory",
    "descendants_at_level",
    "get_by_code",
    "is_official_code",
    "label",
    "labels",
    "level_of_code",
    "load",
    "read_source",
    "resolve",
    "search",
]
