"""(issue 12) The repository: every change action of an institution, searchable.

Who sees what: a signed-in person sees the change actions of the institutions they belong
to — their own (User.institution_id) and those of every cohort where they hold a role (a
trainee, mentor, coach, examiner, organizer, executive) — once the proposal has passed
approval and unless it was withdrawn; a national administrator (User.national_admin) sees
those of every institution. Drafts never show (not even one's own: that is the case page).

The index: one RepositoryEntry per case, rewritten when the case, its milestones or its
final report change — a session hook collects the touched cases at each flush and
rewrites their entries just before the transaction commits, so every path (perform(), the
proposal editor, the demo) keeps it in step without being told. The database keeps its
full-text index in step with the entries (migration b2c0f0110012): FTS5 on SQLite,
tsvector + GIN on PostgreSQL; without either (AKSI_REPOSITORY_FULLTEXT=0, or an SQLite
built without FTS5) a plain LIKE search answers.

Search words are taken as words only (letters and digits): quotes, operators and
brackets cannot reach the full-text syntax. A page runs a fixed number of statements
whatever the number of change actions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import chain

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Float,
    Integer,
    String,
    and_,
    cast,
    delete,
    event,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from ..engine import registry
from ..extensions import db
from ..models import (
    Agency,
    Case,
    Cohort,
    CohortMember,
    FinalReport,
    Group,
    Institution,
    Milestone,
    MilestoneReport,
    Program,
    Region,
    User,
)
from ..models._base import utcnow
from ..models.showcase import RepositoryEntry

PER_PAGE_CHOICES = (20, 50, 100)
DEFAULT_PER_PAGE = 20
MAX_PAGE = 100_000
SEARCH_MAX = 200
MAX_TERMS = 10
TERM_MAX = 40
FACET_TOP = 15
# Phases before the proposal is approved: a case there is a draft, never listed.
DRAFT_PHASES = ("proposal", "approval", "mentor_approval")
RESULTS = ("passed", "not_passed", "ongoing")
SUSTAINABILITY = ("running", "stopped", "none")
SORTS = ("relevance", "newest", "oldest", "title", "agency", "region")
FACETS = (
    "institution",
    "program",
    "year",
    "province",
    "region",
    "agency",
    "result",
    "predicate",
    "sustainability",
)
FILTERS = ("q", *FACETS)
PARAMS = (*FILTERS, "sort", "page", "per_page")

RESULT_LABELS = {
    "passed": _l("Passed"),
    "not_passed": _l("Not passed"),
    "ongoing": _l("In progress"),
}
SUSTAINABILITY_LABELS = {
    "running": _l("Still running"),
    "stopped": _l("Stopped"),
    "none": _l("Not reported yet"),
}
SORT_LABELS = {
    "relevance": _l("Best match"),
    "newest": _l("Newest first"),
    "oldest": _l("Oldest first"),
    "title": _l("Title (A–Z)"),
    "agency": _l("Agency (A–Z)"),
    "region": _l("Region (A–Z)"),
}
FACET_LABELS = {
    "institution": _l("Institution"),
    "program": _l("Programme"),
    "year": _l("Year"),
    "province": _l("Province"),
    "region": _l("Regency/city"),
    "agency": _l("Agency"),
    "result": _l("Result"),
    "predicate": _l("Predicate"),
    "sustainability": _l("Sustainability"),
}
PROBLEMS = {
    "q": _l(
        "The search text is too long (at most %(n)d characters); it was ignored.", n=SEARCH_MAX
    ),
    "q_words": _l("The search text has no words to look for (letters or digits); it was ignored."),
    "sort": _l("Unknown sort order; the default is used."),
    "page": _l("The page must be a whole number from 1; the first page is shown."),
    "per_page": _l("Results per page must be 20, 50 or 100; 20 are shown."),
    "filter": _l("This filter value is not valid; the filter was ignored."),
}

WORD = re.compile(r"[^\W_]+")


def terms_of(q: str) -> list[str]:
    """The words of a search text: letters and digits only, lower case, at most MAX_TERMS.
    Everything else (quotes, *, -, NEAR, :, brackets) separates words, so no full-text
    operator can be typed."""
    seen: dict[str, None] = {}
    for word in WORD.findall(q.lower()):
        seen.setdefault(word[:TERM_MAX], None)
        if len(seen) == MAX_TERMS:
            break
    return list(seen)


# ---------------------------------------------------------------- states


@dataclass(frozen=True)
class StateKinds:
    listed: frozenset[tuple[str, int, str]]
    passed: frozenset[tuple[str, int, str]]
    failed: frozenset[tuple[str, int, str]]


def _reachable(definition, starts: set[str]) -> set[str]:
    found, todo = set(starts), list(starts)
    while todo:
        state = todo.pop()
        for t in definition.transitions_from(state):
            if t.dest not in found:
                found.add(t.dest)
                todo.append(t.dest)
    return found


def state_kinds() -> StateKinds:
    """Per (definition, version, state): listed in the repository? passed? not passed?
    Passed: where a result at the pass mark ends, and anything after it (the follow-up)."""
    listed, passed, failed = set(), set(), set()
    for d in registry.all():
        won = {t.dest for t in d.transitions if "result_passed" in t.guards}
        lost = {t.dest for t in d.transitions if "result_failed" in t.guards}
        won = _reachable(d, won)
        for s in d.states:
            key = (d.key, d.version, s.key)
            if s.key in won:
                passed.add(key)
            elif s.key in lost:
                failed.add(key)
            # A terminal state that is no result (withdrawn) is not a change action done.
            withdrawn = s.terminal and s.key not in won and s.key not in lost
            if s.phase not in DRAFT_PHASES and not withdrawn:
                listed.add(key)
    return StateKinds(frozenset(listed), frozenset(passed), frozenset(failed))


def result_of(kinds: StateKinds, key: str, version: int, state: str) -> str:
    if (key, version, state) in kinds.passed:
        return "passed"
    if (key, version, state) in kinds.failed:
        return "not_passed"
    return "ongoing"


def state_label(key: str, version: int, state: str) -> object:
    try:
        definition = registry.get(key, version)
        return definition.state(state).labels
    except (KeyError, LookupError, ValueError):
        return None


# ---------------------------------------------------------------- the index


def _joined(*parts: str) -> str:
    return "\n".join(p.strip() for p in parts if p and p.strip())


def _region_pair(region_id: int | None, regions: Mapping[int, Region]) -> tuple:
    """(regency/city id, province id) of a region at any level."""
    node = regions.get(region_id) if region_id else None
    if node is None:
        return None, None
    chain_ = [node]
    while node.parent_id and node.parent_id in regions:
        node = regions[node.parent_id]
        chain_.append(node)
    province = chain_[-1]
    regency = next((r for r in chain_ if r.level == "regency"), None)
    if regency is None and len(chain_) > 1:
        regency = chain_[-2]
    return (regency.id if regency else None), province.id


def _all_regions(ids: set[int]) -> dict[int, Region]:
    """The regions named and all their ancestors (at most four levels): few queries."""
    found: dict[int, Region] = {}
    wanted = {i for i in ids if i}
    while wanted:
        rows = db.session.scalars(select(Region).where(Region.id.in_(wanted))).all()
        for r in rows:
            found[r.id] = r
        wanted = {r.parent_id for r in rows if r.parent_id and r.parent_id not in found}
    return found


def reindex(case_ids: Iterable[int]) -> int:
    """Rewrite the entries of these cases from their current rows. Returns how many."""
    ids = sorted({int(i) for i in case_ids if i})
    if not ids:
        return 0
    written = 0
    for start in range(0, len(ids), 500):
        written += _reindex_batch(ids[start : start + 500])
    return written


def _reindex_batch(ids: list[int]) -> int:
    from .followup import sustainability_of

    kinds = state_kinds()
    session = db.session
    rows = session.execute(
        select(
            Case.id,
            Case.definition_key,
            Case.definition_version,
            Case.state,
            Case.cohort_id,
            Case.title,
            Case.background_current,
            Case.background_ideal,
            Case.core_issue,
            Case.objective_short,
            Case.objective_medium,
            Case.objective_long,
            Case.innovation,
            Case.predicate,
            Cohort.year,
            Program.code,
            Program.institution_id,
            User.agency_id,
            Agency.region_id,
        )
        .join(Cohort, Cohort.id == Case.cohort_id)
        .join(Program, Program.id == Cohort.program_id)
        .join(User, User.id == Case.trainee_id)
        .outerjoin(Agency, Agency.id == User.agency_id)
        .where(Case.id.in_(ids))
    ).all()
    present = [r.id for r in rows]
    previous = {
        e.case_id: (e.agency_id, e.region_id, e.province_id, e.result)
        for e in session.execute(
            select(
                RepositoryEntry.case_id,
                RepositoryEntry.agency_id,
                RepositoryEntry.region_id,
                RepositoryEntry.province_id,
                RepositoryEntry.result,
            ).where(RepositoryEntry.case_id.in_(ids))
        )
    }
    results: dict[int, list[str]] = {i: [] for i in present}
    if present:
        for m in session.execute(
            select(Milestone.case_id, Milestone.activity, Milestone.output, Milestone.closing_note)
            .where(Milestone.case_id.in_(present))
            .order_by(Milestone.case_id, Milestone.position)
        ):
            results[m.case_id].append(_joined(m.activity, m.output, m.closing_note))
        for f in session.scalars(select(FinalReport).where(FinalReport.case_id.in_(present))):
            texts = [str(v) for v in (f.results or {}).values() if v]
            results[f.case_id].append(
                _joined(
                    f.executive_summary,
                    f.implementation,
                    *texts,
                    f.lessons_learned,
                    f.continuation_medium,
                    f.continuation_long,
                )
            )
    regions = _all_regions({r.region_id for r in rows if r.region_id})
    sustained = sustainability_of(present) if present else {}
    now = utcnow()
    values = []
    for r in rows:
        result = result_of(kinds, r.definition_key, r.definition_version, r.state)
        agency_id = r.agency_id
        region_id, province_id = _region_pair(r.region_id, regions)
        kept = previous.get(r.id)
        if kept is not None and kept[3] != "ongoing":
            # Closed: the place it was done stays, though the alumnus moves on.
            agency_id, region_id, province_id = kept[0], kept[1], kept[2]
        values.append(
            {
                "case_id": r.id,
                "listed": (r.definition_key, r.definition_version, r.state) in kinds.listed,
                "institution_id": r.institution_id,
                "cohort_id": r.cohort_id,
                "program_code": (r.code or "")[:20],
                "year": r.year,
                "agency_id": agency_id,
                "region_id": region_id,
                "province_id": province_id,
                "state": r.state,
                "result": result,
                "predicate": (r.predicate or "")[:40],
                "sustainability": sustained.get(r.id, "")[:10],
                "title": r.title or "",
                "problem": _joined(
                    r.core_issue,
                    r.background_current,
                    r.background_ideal,
                    r.objective_short,
                    r.objective_medium,
                    r.objective_long,
                    r.innovation,
                ),
                "results": "\n".join(results.get(r.id, [])),
                "indexed_at": now,
            }
        )
    session.execute(delete(RepositoryEntry).where(RepositoryEntry.case_id.in_(ids)))
    if values:
        session.execute(insert(RepositoryEntry), values)
    return len(values)


def rebuild(batch: int = 500) -> int:
    """Index every case (after an upgrade, or to repair): returns how many. Commits per
    batch, so a large database is not one long transaction."""
    done, last = 0, 0
    while True:
        ids = db.session.scalars(
            select(Case.id).where(Case.id > last).order_by(Case.id).limit(batch)
        ).all()
        if not ids:
            return done
        done += reindex(ids)
        last = ids[-1]
        db.session.commit()


# Which rows touch a case's entry, and how to find the case.
_WATCHED = (Case, Milestone, FinalReport, MilestoneReport)
_DIRTY = "aksi_repository_dirty"


def _case_id_of(obj) -> int | None:
    return obj.id if isinstance(obj, Case) else getattr(obj, "case_id", None)


@event.listens_for(Session, "after_flush")
def _collect(session, flush_context) -> None:
    dirty = session.info.setdefault(_DIRTY, set())
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, _WATCHED):
            # A campaign's case (a region unit) has no entry: nothing to rewrite.
            if isinstance(obj, Case) and obj.cohort_id is None:
                continue
            case_id = _case_id_of(obj)
            if case_id:
                dirty.add(case_id)


@event.listens_for(Session, "before_commit")
def _write_entries(session) -> None:
    if not session.info.get(_DIRTY) and not session.new and not session.dirty:
        return
    if session.new or session.dirty or session.deleted:
        session.flush()
    ids = session.info.pop(_DIRTY, set())
    if ids and has_app_context() and session is db.session():
        reindex(ids)


@event.listens_for(Session, "after_rollback")
def _forget(session) -> None:
    session.info.pop(_DIRTY, None)


# ---------------------------------------------------------------- scope


def institutions_of(user: User) -> list[int]:
    """The institutions whose repository the user sees (one query)."""
    uid = user.id
    cohorts = union_all(
        select(Case.cohort_id).where(
            or_(Case.trainee_id == uid, Case.mentor_id == uid, Case.executive_id == uid)
        ),
        select(CohortMember.cohort_id).where(CohortMember.user_id == uid),
        select(Group.cohort_id).where(or_(Group.coach_id == uid, Group.examiner_id == uid)),
    ).subquery()
    found = set(
        db.session.scalars(
            select(Program.institution_id)
            .join(Cohort, Cohort.program_id == Program.id)
            .where(Cohort.id.in_(select(cohorts.c[0])))
            .distinct()
        )
    )
    if user.institution_id:
        found.add(user.institution_id)
    return sorted(found)


def scope_clause(user: User):
    if getattr(user, "national_admin", False):
        return RepositoryEntry.listed.is_(True)
    ids = institutions_of(user)
    if not ids:
        return and_(RepositoryEntry.listed.is_(True), literal(False))
    return and_(RepositoryEntry.listed.is_(True), RepositoryEntry.institution_id.in_(ids))


# ---------------------------------------------------------------- the query


@dataclass
class SearchQuery:
    q: str = ""
    institution: int | None = None
    program: str | None = None
    year: int | None = None
    province: str | None = None
    region: str | None = None
    agency: int | None = None
    result: str | None = None
    predicate: str | None = None
    sustainability: str | None = None
    sort: str = ""
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @property
    def terms(self) -> list[str]:
        return terms_of(self.q) if len(self.q) <= SEARCH_MAX else []

    @property
    def effective_sort(self) -> str:
        if self.sort and (self.sort != "relevance" or self.terms):
            return self.sort
        return "relevance" if self.terms else "newest"

    def args(self, **changes) -> dict:
        """The query as URL parameters (defaults left out), with some values changed."""
        values = replace(self, **changes) if changes else self
        out = {}
        for name in FILTERS:
            value = getattr(values, name)
            if value not in (None, ""):
                out[name] = value
        if values.sort:
            out["sort"] = values.sort
        if values.page != 1:
            out["page"] = values.page
        if values.per_page != DEFAULT_PER_PAGE:
            out["per_page"] = values.per_page
        return out


def _small_int(raw: str, high: int) -> int | None:
    raw = raw.strip()
    if raw.isascii() and raw.isdigit() and 0 < len(raw) < 10 and 1 <= int(raw) <= high:
        return int(raw)
    return None


def parse_query(args: Mapping[str, str]) -> tuple[SearchQuery, dict[str, str]]:
    """Read the page's parameters: what is not valid is ignored with a message (by name)."""
    sq = SearchQuery()
    problems: dict[str, str] = {}

    def get(name: str) -> str:
        value = args.get(name)
        return value.strip() if isinstance(value, str) else ""

    q = args.get("q") or ""
    if isinstance(q, str):
        sq.q = q.strip()
        if len(sq.q) > SEARCH_MAX:
            problems["q"] = str(PROBLEMS["q"])
        elif sq.q and not terms_of(sq.q):
            problems["q"] = str(PROBLEMS["q_words"])
    for name in ("institution", "agency"):
        raw = get(name)
        if raw:
            value = _small_int(raw, 2**31 - 1)
            if value is None:
                problems[name] = str(PROBLEMS["filter"])
            setattr(sq, name, value)
    raw = get("year")
    if raw:
        sq.year = _small_int(raw, 9999)
        if sq.year is None:
            problems["year"] = str(PROBLEMS["filter"])
    for name, limit in (("program", 20), ("province", 20), ("region", 20), ("predicate", 40)):
        raw = get(name)
        if raw:
            if len(raw) > limit or any(ord(ch) < 32 for ch in raw):
                problems[name] = str(PROBLEMS["filter"])
            else:
                setattr(sq, name, raw)
    raw = get("result")
    if raw:
        if raw in RESULTS:
            sq.result = raw
        else:
            problems["result"] = str(PROBLEMS["filter"])
    raw = get("sustainability")
    if raw:
        if raw in SUSTAINABILITY:
            sq.sustainability = raw
        else:
            problems["sustainability"] = str(PROBLEMS["filter"])
    raw = get("sort")
    if raw:
        if raw in SORTS:
            sq.sort = raw
        else:
            problems["sort"] = str(PROBLEMS["sort"])
    raw = get("page")
    if raw:
        page = _small_int(raw, MAX_PAGE)
        if page is None:
            problems["page"] = str(PROBLEMS["page"])
        sq.page = page or 1
    raw = get("per_page")
    if raw:
        if raw.isdigit() and int(raw) in PER_PAGE_CHOICES:
            sq.per_page = int(raw)
        else:
            problems["per_page"] = str(PROBLEMS["per_page"])
    return sq, problems


# ---------------------------------------------------------------- full text


_FTS_PRESENT: dict[str, bool] = {}


def fulltext_mode() -> str:
    """ "fts5", "tsvector" or "plain" for this app's database."""
    if has_app_context() and not current_app.config.get("AKSI_REPOSITORY_FULLTEXT", True):
        return "plain"
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        return "tsvector"
    if dialect == "sqlite":
        url = str(db.engine.url)
        if url not in _FTS_PRESENT:
            _FTS_PRESENT[url] = bool(
                db.session.scalar(
                    text("SELECT count(*) FROM sqlite_master WHERE name = 'repository_fts'")
                )
            )
        return "fts5" if _FTS_PRESENT[url] else "plain"
    return "plain"


def _hits(terms: list[str], mode: str):
    """(a CTE of (case_id, score) for the words, or None, and a plain WHERE condition)."""
    if not terms:
        return None, None
    if mode == "fts5":
        # Each word quoted: FTS5 reads it as a string, never as an operator.
        match = " AND ".join(f'"{t}"*' for t in terms)
        hits = (
            text(
                "SELECT rowid AS case_id, -bm25(repository_fts, 10.0, 4.0, 1.0) AS score"
                " FROM repository_fts WHERE repository_fts MATCH :match"
            )
            .bindparams(match=match)
            .columns(case_id=Integer, score=Float)
            .cte("hits")
        )
        return hits, None
    if mode == "tsvector":
        query = func.to_tsquery("simple", " & ".join(f"{t}:*" for t in terms))
        hits = (
            select(
                RepositoryEntry.case_id.label("case_id"),
                func.ts_rank(RepositoryEntry.search_vector, query, 1).label("score"),
            )
            .where(RepositoryEntry.search_vector.op("@@")(query))
            .cte("hits")
        )
        return hits, None
    conditions = []
    for t in terms:
        pattern = f"%{t}%"
        conditions.append(
            or_(
                RepositoryEntry.title.ilike(pattern),
                RepositoryEntry.problem.ilike(pattern),
                RepositoryEntry.results.ilike(pattern),
            )
        )
    return None, and_(*conditions)


# ---------------------------------------------------------------- search


@dataclass
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool = False


@dataclass
class Row:
    case_id: int
    title: str
    year: int
    program: str
    institution: str
    cohort: str
    agency: str
    region: str
    region_code: str
    province: str
    state: str
    state_labels: object
    result: str
    predicate: str
    sustainability: str
    problem: str


@dataclass
class SearchPage:
    query: SearchQuery
    rows: list[Row]
    total: int
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)
    mode: str = "plain"

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))


def _region_values(values: list[str]) -> tuple[list[int], list[str]]:
    ids = [int(v) for v in values if v.isascii() and v.isdigit() and len(v) < 10]
    return ids, values


def _region_ids(values: dict[str, str | None]) -> dict[str, int | None]:
    """Region filters by code (where the region has one) or by id: one query."""
    asked = {k: v for k, v in values.items() if v}
    if not asked:
        return {}
    ids, codes = _region_values(list(asked.values()))
    rows = db.session.execute(
        select(Region.id, Region.code).where(or_(Region.code.in_(codes), Region.id.in_(ids)))
    ).all()
    by_code = {r.code: r.id for r in rows if r.code}
    by_id = {str(r.id): r.id for r in rows}
    return {k: by_code.get(v) or by_id.get(v) or -1 for k, v in asked.items()}


def _filters(sq: SearchQuery) -> dict[str, object]:
    """SQL condition per facet filter that is set."""
    E = RepositoryEntry
    out: dict[str, object] = {}
    if sq.institution is not None:
        out["institution"] = E.institution_id == sq.institution
    if sq.program:
        out["program"] = E.program_code == sq.program
    if sq.year is not None:
        out["year"] = E.year == sq.year
    regions = _region_ids({"province": sq.province, "region": sq.region})
    if "province" in regions:
        out["province"] = E.province_id == regions["province"]
    if "region" in regions:
        out["region"] = E.region_id == regions["region"]
    if sq.agency is not None:
        out["agency"] = E.agency_id == sq.agency
    if sq.result:
        out["result"] = E.result == sq.result
    if sq.predicate:
        out["predicate"] = E.predicate == sq.predicate
    if sq.sustainability:
        value = "" if sq.sustainability == "none" else sq.sustainability
        out["sustainability"] = E.sustainability == value
    return out


FACET_COLUMNS = {
    "institution": RepositoryEntry.institution_id,
    "program": RepositoryEntry.program_code,
    "year": RepositoryEntry.year,
    "province": RepositoryEntry.province_id,
    "region": RepositoryEntry.region_id,
    "agency": RepositoryEntry.agency_id,
    "result": RepositoryEntry.result,
    "predicate": RepositoryEntry.predicate,
    "sustainability": RepositoryEntry.sustainability,
}


def _base(scope, hits, plain, conditions: Iterable, columns, ranked: bool = False):
    """The entries in scope that match: the words' hits drive the join when ranked by
    them (each hit looks up its entry by key), else they are one IN list (an index the
    planner builds once), never a join scanning the hits per entry."""
    where = [scope, *conditions]
    if hits is not None and ranked:
        stmt = (
            select(*columns)
            .select_from(hits)
            .join(RepositoryEntry, RepositoryEntry.case_id == hits.c.case_id)
        )
    else:
        stmt = select(*columns).select_from(RepositoryEntry)
        if hits is not None:
            where.append(RepositoryEntry.case_id.in_(select(hits.c.case_id)))
    if plain is not None:
        where.append(plain)
    return stmt.where(*where)


def _order(sort: str, hits, agency, region):
    E = RepositoryEntry
    if sort == "relevance" and hits is not None:
        return [hits.c.score.desc(), E.case_id.desc()]
    if sort == "oldest":
        return [E.year, E.case_id]
    if sort == "title":
        return [func.lower(E.title), E.case_id]
    if sort == "agency":
        return [agency.name.is_(None), agency.name, E.case_id]
    if sort == "region":
        return [region.name.is_(None), region.name, E.case_id]
    return [E.year.desc(), E.case_id.desc()]


R_AGENCY = aliased(Agency, name="r_agency")
R_REGION = aliased(Region, name="r_region")
R_PROVINCE = aliased(Region, name="r_province")
R_INSTITUTION = aliased(Institution, name="r_institution")
R_COHORT = aliased(Cohort, name="r_cohort")
ROW_COLUMNS = (
    RepositoryEntry.case_id,
    RepositoryEntry.title,
    RepositoryEntry.year,
    RepositoryEntry.program_code,
    RepositoryEntry.state,
    RepositoryEntry.result,
    RepositoryEntry.predicate,
    RepositoryEntry.sustainability,
    func.substr(RepositoryEntry.problem, 1, 300).label("problem"),
    R_INSTITUTION.name.label("institution"),
    R_COHORT.name.label("cohort"),
    R_COHORT.definition_key.label("definition_key"),
    R_AGENCY.name.label("agency"),
    R_REGION.name.label("region"),
    R_REGION.code.label("region_code"),
    R_PROVINCE.name.label("province"),
)


def _with_names(stmt):
    E = RepositoryEntry
    return (
        stmt.join(R_INSTITUTION, R_INSTITUTION.id == E.institution_id)
        .join(R_COHORT, R_COHORT.id == E.cohort_id)
        .outerjoin(R_AGENCY, R_AGENCY.id == E.agency_id)
        .outerjoin(R_REGION, R_REGION.id == E.region_id)
        .outerjoin(R_PROVINCE, R_PROVINCE.id == E.province_id)
    )


def _row(r) -> Row:
    return Row(
        case_id=r.case_id,
        title=r.title,
        year=r.year,
        program=r.program_code,
        institution=r.institution,
        cohort=r.cohort,
        agency=r.agency or "",
        region=r.region or "",
        region_code=r.region_code or "",
        province=r.province or "",
        state=r.state,
        state_labels=None,
        result=r.result,
        predicate=r.predicate,
        sustainability=r.sustainability,
        problem=r.problem or "",
    )


def _labels_for_states(rows: list[Row]) -> None:
    """A state's label from the newest definition that has it (no query)."""
    by_key: dict[str, object] = {}
    for d in sorted(registry.all(), key=lambda d: -d.version):
        for s in d.states:
            by_key.setdefault(s.key, s.labels)
    for r in rows:
        r.state_labels = by_key.get(r.state)


def search(user: User | None, sq: SearchQuery, *, scope=None, facets: bool = True) -> SearchPage:
    """One page of the repository for `user` (or for the given `scope` condition, as the
    public showcase does): rows, total and facet counts. Fixed number of statements."""
    scope = scope_clause(user) if scope is None else scope
    mode = fulltext_mode()
    hits, plain = _hits(sq.terms, mode)
    filters = _filters(sq)
    sort = sq.effective_sort
    if sort == "relevance" and hits is None:
        sort = "newest"
    total = db.session.scalar(_base(scope, hits, plain, filters.values(), [func.count()]))
    ranked = sort == "relevance"
    stmt = _with_names(_base(scope, hits, plain, filters.values(), ROW_COLUMNS, ranked))
    stmt = stmt.order_by(*_order(sort, hits, R_AGENCY, R_REGION))
    pages = max(1, -(-(total or 0) // sq.per_page))
    page = min(sq.page, pages)
    stmt = stmt.limit(sq.per_page).offset((page - 1) * sq.per_page)
    rows = [_row(r) for r in db.session.execute(stmt)]
    _labels_for_states(rows)
    result = SearchPage(replace(sq, page=page), rows, total or 0, mode=mode)
    if facets:
        result.facets = _facets(user, sq, scope, hits, plain, filters)
    return result


def _facets(user, sq: SearchQuery, scope, hits, plain, filters: dict) -> dict:
    names = [f for f in FACETS if f != "institution" or getattr(user, "national_admin", False)]
    parts = []
    for name in names:
        column = FACET_COLUMNS[name]
        others = [c for k, c in filters.items() if k != name]
        parts.append(
            _base(
                scope,
                hits,
                plain,
                others,
                [
                    literal(name, String).label("facet"),
                    cast(column, String).label("value"),
                    func.count().label("n"),
                ],
            ).group_by(column)
        )
    counts: dict[str, list[tuple[str, int]]] = {n: [] for n in names}
    for facet, value, n in db.session.execute(union_all(*parts)):
        if value is None or value == "":
            if facet == "sustainability":
                counts[facet].append(("none", n))
            continue
        counts[facet].append((value, n))
    return _facet_labels(sq, counts)


def _facet_labels(sq: SearchQuery, counts: dict[str, list[tuple[str, int]]]) -> dict:
    """Top values by count (and the chosen one), labelled: names from one query per kind."""
    for name, pairs in counts.items():
        pairs.sort(key=lambda p: (-p[1], p[0]))
        if name in ("agency", "institution", "region"):
            counts[name] = pairs[:FACET_TOP] + [
                p for p in pairs[FACET_TOP:] if p[0] == str(getattr(sq, name) or "")
            ]
    region_ids = {int(v) for n in ("province", "region") for v, _ in counts.get(n, [])}
    agency_ids = {int(v) for v, _ in counts.get("agency", [])}
    inst_ids = {int(v) for v, _ in counts.get("institution", [])}
    regions = (
        {r.id: r for r in db.session.scalars(select(Region).where(Region.id.in_(region_ids)))}
        if region_ids
        else {}
    )
    agencies = (
        dict(
            db.session.execute(
                select(Agency.id, Agency.name).where(Agency.id.in_(agency_ids))
            ).all()
        )
        if agency_ids
        else {}
    )
    institutions = (
        dict(
            db.session.execute(
                select(Institution.id, Institution.name).where(Institution.id.in_(inst_ids))
            ).all()
        )
        if inst_ids
        else {}
    )
    out: dict[str, list[FacetValue]] = {}
    for name, pairs in counts.items():
        values = []
        chosen = getattr(sq, name)
        for value, n in pairs:
            shown, label = value, value
            if name in ("province", "region"):
                region = regions.get(int(value))
                if region is None:
                    continue
                shown = region.code or str(region.id)
                label = f"{region.name} ({region.code})" if region.code else region.name
            elif name == "agency":
                label = agencies.get(int(value), value)
            elif name == "institution":
                label = institutions.get(int(value), value)
            elif name == "result":
                label = str(RESULT_LABELS.get(value, value))
            elif name == "sustainability":
                label = str(SUSTAINABILITY_LABELS.get(value, value))
            values.append(FacetValue(shown, label, n, str(chosen or "") == shown))
        if name in ("year",):
            values.sort(key=lambda v: v.value, reverse=True)
        out[name] = values
    return out


def export_rows(user: User | None, sq: SearchQuery, *, scope=None) -> Iterator[Row]:
    """Every row of the current result (its filters and sort), streamed."""
    scope = scope_clause(user) if scope is None else scope
    hits, plain = _hits(sq.terms, fulltext_mode())
    sort = sq.effective_sort
    if sort == "relevance" and hits is None:
        sort = "newest"
    ranked = sort == "relevance"
    stmt = _with_names(_base(scope, hits, plain, _filters(sq).values(), ROW_COLUMNS, ranked))
    stmt = stmt.order_by(*_order(sort, hits, R_AGENCY, R_REGION))
    batch: list[Row] = []
    for r in db.session.execute(stmt.execution_options(yield_per=1000)):
        batch.append(_row(r))
        if len(batch) == 1000:
            _labels_for_states(batch)
            yield from batch
            batch = []
    _labels_for_states(batch)
    yield from batch


EXPORT_HEADERS = (
    _l("Id"),
    _l("Title"),
    _l("Institution"),
    _l("Programme"),
    _l("Cohort"),
    _l("Year"),
    _l("Agency"),
    _l("Regency/city"),
    _l("Region code"),
    _l("Province"),
    _l("State"),
    _l("Result"),
    _l("Predicate"),
    _l("Sustainability"),
    _l("Problem"),
)


def export_table(rows: Iterable[Row], lang: str) -> tuple[list[str], Iterator[list]]:
    headers = [str(h) for h in EXPORT_HEADERS]

    def body():
        for r in rows:
            labels = r.state_labels
            yield [
                r.case_id,
                r.title,
                r.institution,
                r.program,
                r.cohort,
                r.year,
                r.agency,
                r.region,
                r.region_code,
                r.province,
                labels.get(lang) if labels is not None else r.state,
                str(RESULT_LABELS.get(r.result, r.result)),
                r.predicate,
                str(SUSTAINABILITY_LABELS.get(r.sustainability or "none", "")),
                r.problem,
            ]

    return headers, body()


def export_file(user, sq: SearchQuery, fmt: str, lang: str) -> bytes:
    from .spreadsheets import csv_bytes, xlsx_bytes

    headers, body = export_table(export_rows(user, sq), lang)
    if fmt == "csv":
        return csv_bytes(headers, body)
    sheet = str(_l("Change actions"))
    return xlsx_bytes([(sheet, headers, body)], {sheet: (8, 50, 30, 10, 24, 8, 30, 24)})


# ---------------------------------------------------------------- one change action


@dataclass
class Summary:
    entry: RepositoryEntry
    case: Case
    institution: str
    cohort: str
    program: str
    agency: str
    region: str
    region_code: str
    province: str
    trainee: str
    state_labels: object
    milestones: list[Milestone]
    report: FinalReport | None


def entry_for(user: User, case_id: int, *, scope=None) -> RepositoryEntry | None:
    scope = scope_clause(user) if scope is None else scope
    return db.session.scalar(
        select(RepositoryEntry).where(RepositoryEntry.case_id == case_id, scope)
    )


def summary(user: User | None, case_id: int, *, scope=None) -> Summary | None:
    """A read-only summary of one listed change action (None: not the user's to see)."""
    entry = entry_for(user, case_id, scope=scope)
    if entry is None:
        return None
    row = db.session.execute(
        _with_names(
            select(*ROW_COLUMNS, User.name.label("trainee"))
            .select_from(RepositoryEntry)
            .join(Case, Case.id == RepositoryEntry.case_id)
            .join(User, User.id == Case.trainee_id)
        ).where(RepositoryEntry.case_id == case_id)
    ).one()
    case = db.session.get(Case, case_id)
    milestones = list(
        db.session.scalars(
            select(Milestone).where(Milestone.case_id == case_id).order_by(Milestone.position)
        )
    )
    report = db.session.scalar(select(FinalReport).where(FinalReport.case_id == case_id))
    return Summary(
        entry=entry,
        case=case,
        institution=row.institution,
        cohort=row.cohort,
        program=row.program_code,
        agency=row.agency or "",
        region=row.region or "",
        region_code=row.region_code or "",
        province=row.province or "",
        trainee=row.trainee,
        state_labels=state_label(case.definition_key, case.definition_version, case.state),
        milestones=milestones,
        report=report if report is not None and report.submitted_at is not None else None,
    )
