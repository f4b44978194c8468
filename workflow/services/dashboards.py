"""Oversight dashboards: what an organizer (their cohorts), a coach (their groups) or an
institution admin (every cohort of the institution) sees — cases per state, per cohort and
per province, the working days spent in each state, and the trainee table with filters,
search, sort and pages.

Every query is scoped by oversight_clause(user): the oversight terms of cases_visible_to(user),
never more. Counts are aggregated in SQL: a page runs a fixed number of queries whatever
the number of cases, and per-row Python (working days) runs only for the rows shown.
Nothing here writes, except bulk_act() at the end, which sends each case through perform()
(which commits per case).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Float,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    not_,
    or_,
    select,
)
from sqlalchemy.orm import aliased, joinedload

from ..engine import registry
from ..engine.definitions import Activity, Definition, Labels, State
from ..extensions import db
from ..models import (
    Agency,
    Case,
    Cohort,
    CohortMember,
    Group,
    Institution,
    InstitutionHoliday,
    Milestone,
    Program,
    Region,
    StateVisit,
    User,
)
from ..models._base import utcnow
from ..models.people import ZONE_LABELS
from ..permissions import (
    DEFAULT_ZONE,
    institution_cohorts,
    is_institution_admin,
    oversight_clause,
)
from . import mail
from .calendar import is_working_day, local_date
from .errors import WorkflowError
from .workflow import check_input, perform

# Aliases for the joins of the table: the scoped condition has subqueries over the plain
# tables (groups, cohorts, programs), which must never correlate with these.
T_USER = aliased(User, name="t_user")
T_AGENCY = aliased(Agency, name="t_agency")
T_REGION = aliased(Region, name="t_region")
T_PROVINCE = aliased(Region, name="t_province")
T_GROUP = aliased(Group, name="t_group")
T_COHORT = aliased(Cohort, name="t_cohort")
T_PROGRAM = aliased(Program, name="t_program")
T_INSTITUTION = aliased(Institution, name="t_institution")

PER_PAGE_CHOICES = (25, 50, 100)
DEFAULT_PER_PAGE = 25
MAX_PAGE = 1_000_000
SEARCH_MAX = 200
COHORTS_PER_PAGE = 50
NO_GROUP = "none"
SORTS = (
    "name",
    "title",
    "agency",
    "region",
    "province",
    "group",
    "cohort",
    "state",
    "days",
    "due",
    "overdue",
    "progress",
    "score",
)
DIRECTIONS = ("asc", "desc")
FILTERS = ("state", "cohort", "group", "agency", "region", "province", "overdue", "q")
PARAMS = (*FILTERS, "sort", "dir", "page", "per_page")

PROBLEMS = {
    "state": _l("Unknown state; the filter was ignored."),
    "cohort": _l("Unknown cohort; the filter was ignored."),
    "group": _l("Unknown group; the filter was ignored."),
    "agency": _l("Unknown agency; the filter was ignored."),
    "region": _l("Unknown regency or city; the filter was ignored."),
    "province": _l("Unknown province; the filter was ignored."),
    "overdue": _l("The overdue filter takes yes or no; it was ignored."),
    "q": _l("The search text is too long (at most %(n)d characters).", n=SEARCH_MAX),
    "sort": _l("Unknown sort column; sorted by name instead."),
    "dir": _l("The sort direction is asc or desc; ascending is used."),
    "page": _l("The page must be a whole number from 1; the first page is shown."),
    "per_page": _l("Rows per page must be 25, 50 or 100; 25 are shown."),
}


# ---------------------------------------------------------------- scope


def _oversight_cohort_clause(user: User):
    """SQL condition on Cohort: the user organizes it, coaches in it, or administers it."""
    uid = user.id
    clauses = [
        Cohort.id.in_(
            select(CohortMember.cohort_id).where(
                CohortMember.user_id == uid, CohortMember.role.in_(("organizer", "coach"))
            )
        ),
        Cohort.id.in_(select(Group.cohort_id).where(Group.coach_id == uid)),
    ]
    if is_institution_admin(user):
        clauses.append(Cohort.id.in_(institution_cohorts(user.institution_id)))
    return or_(*clauses)


def oversees_anything(user: User) -> bool:
    if user is None or not getattr(user, "id", None):
        return False
    return bool(db.session.scalar(select(exists().where(_oversight_cohort_clause(user)))))


def cohort_for(user: User, cohort_id: int) -> Cohort | None:
    """The cohort if the user oversees it (else None: answer 404), with its institution."""
    return db.session.scalar(
        select(Cohort)
        .where(Cohort.id == cohort_id, _oversight_cohort_clause(user))
        .options(joinedload(Cohort.program).joinedload(Program.institution))
    )


def cohort_roles(user: User, cohort: Cohort) -> set[str]:
    """The user's oversight roles on the cohort as a whole: organizer, coach, admin."""
    uid = user.id
    member = select(CohortMember.id).where(
        CohortMember.cohort_id == cohort.id, CohortMember.user_id == uid
    )
    organizer, coach = db.session.execute(
        select(
            member.where(CohortMember.role == "organizer").exists(),
            or_(
                member.where(CohortMember.role == "coach").exists(),
                select(Group.id)
                .where(Group.cohort_id == cohort.id, Group.coach_id == uid)
                .exists(),
            ),
        )
    ).one()
    roles = set()
    if organizer:
        roles.add("organizer")
    if coach:
        roles.add("coach")
    if is_institution_admin(user) and cohort.program.institution_id == user.institution_id:
        roles.add("admin")
    return roles


# ---------------------------------------------------------------- states


@dataclass(frozen=True)
class StateInfo:
    """A state key across definitions, labelled from the first definition that has it."""

    key: str
    labels: Labels
    terminal: bool
    passed: bool


def passed_states(definition: Definition) -> set[str]:
    """Where a case ends when its result reaches the pass mark."""
    return {t.dest for t in definition.transitions if "result_passed" in t.guards}


def _definitions(keys: Iterable[tuple[str, int]] | None = None) -> list[Definition]:
    wanted = None if keys is None else set(keys)
    found = [d for d in registry.all() if wanted is None or (d.key, d.version) in wanted]
    # Newest version first within a key: its labels win.
    return sorted(found, key=lambda d: (d.key, -d.version))


def merged_states(definitions: Iterable[Definition]) -> list[StateInfo]:
    """The states of several definitions in one order: each definition's own order, a state
    only one of them has placed right after its predecessor there."""
    order: list[str] = []
    info: dict[str, StateInfo] = {}
    for d in definitions:
        passed = passed_states(d)
        previous = None
        for s in d.states:
            if s.key not in info:
                info[s.key] = StateInfo(s.key, s.labels, s.terminal, s.key in passed)
                at = order.index(previous) + 1 if previous is not None else 0
                order.insert(at, s.key)
            previous = s.key
    return [info[k] for k in order]


def all_state_keys() -> list[str]:
    return [s.key for s in merged_states(_definitions())]


def _states_where(test: Callable[[Definition, State], bool]):
    """SQL condition: the case's own definition says yes about its state. One IN list when
    every definition agrees on the state keys involved (the usual case)."""
    definitions = registry.all()
    keys = {s.key for d in definitions for s in d.states if test(d, s)}
    if not keys:
        return false()
    agree = all(test(d, d.state(k)) for d in definitions for k in keys if d.has_state(k))
    if agree:
        return Case.state.in_(sorted(keys))
    clauses = []
    for d in definitions:
        mine = [s.key for s in d.states if test(d, s)]
        if mine:
            clauses.append(
                and_(
                    Case.definition_key == d.key,
                    Case.definition_version == d.version,
                    Case.state.in_(mine),
                )
            )
    return or_(*clauses)


def terminal_clause():
    return _states_where(lambda d, s: s.terminal)


def _local_today(zone: str, now: datetime | None = None) -> date:
    return local_date(now or utcnow(), zone)


def overdue_clause(now: datetime | None = None):
    """As services.actions.is_overdue: past the due date, in the local date of the case's
    institution, in a state that is not terminal. Indonesia's three zones agree on the date
    22 hours a day: then it is one comparison; otherwise each zone's cohorts get their own
    (an institution in another zone counts in Asia/Jakarta), without joining any table."""
    fallback = _local_today(DEFAULT_ZONE, now)
    by_day: dict[date, list[str]] = {}
    for zone in ZONE_LABELS:
        by_day.setdefault(_local_today(zone, now), []).append(zone)
    if len(by_day) == 1 and fallback in by_day:
        late = Case.due_date < fallback
    else:
        clauses = []
        for day, zones in by_day.items():
            in_zone = Institution.timezone.in_(zones)
            if day == fallback:
                in_zone = or_(in_zone, Institution.timezone.not_in(list(ZONE_LABELS)))
            cohorts = (
                select(Cohort.id)
                .join(Program, Program.id == Cohort.program_id)
                .join(Institution, Institution.id == Program.institution_id)
                .where(in_zone)
            )
            clauses.append(and_(Case.due_date < day, Case.cohort_id.in_(cohorts)))
        late = or_(*clauses)
    # Cheapest and most selective first; "is not null" keeps NOT(overdue) true for no date.
    return and_(late, Case.due_date.is_not(None), not_(terminal_clause()))


def _as_int(condition):
    return case((condition, 1), else_=0)


def _province_id(region=T_REGION):
    return case((region.level == "province", region.id), else_=region.parent_id)


def _region_id():
    return case((T_REGION.level == "province", None), else_=T_REGION.id)


def _region_name():
    return case((T_REGION.level == "province", None), else_=T_REGION.name)


# ---------------------------------------------------------------- counts


@dataclass
class StateCount:
    state: StateInfo
    count: int = 0
    overdue: int = 0


@dataclass
class Counts:
    """Cases per state of one scope (a funnel), or one row of the per-cohort or per-province
    table. A state key means the same in every definition that has it (finished: terminal;
    passed: where a result at the pass mark ends)."""

    states: list[StateInfo]
    by_state: dict[str, StateCount] = field(default_factory=dict)
    total: int = 0
    overdue: int = 0
    finished: int = 0
    passed: int = 0
    id: int | None = None
    name: str = ""
    year: int | None = None

    @property
    def funnel(self) -> list[StateCount]:
        return [self.by_state.get(s.key) or StateCount(s) for s in self.states]

    def count(self, key: str) -> int:
        found = self.by_state.get(key)
        return found.count if found else 0

    def add(self, info: StateInfo, count: int, overdue: int) -> None:
        slot = self.by_state.setdefault(info.key, StateCount(info))
        slot.count += count
        slot.overdue += overdue
        self.total += count
        self.overdue += overdue
        if info.terminal:
            self.finished += count
        if info.passed:
            self.passed += count


class _Catalogue:
    """StateInfo by key: the listed states first, any other definition's next, and a state
    no loaded definition knows labelled by its key."""

    def __init__(self, states: list[StateInfo]):
        self.states = states
        self.listed = {s.key for s in states}
        self.known = {s.key: s for s in merged_states(_definitions())}
        self.known.update({s.key: s for s in states})

    def __call__(self, key: str) -> StateInfo:
        info = self.known.get(key)
        if info is None:
            info = self.known[key] = StateInfo(key, Labels(id=key, en=key), False, False)
        if key not in self.listed:
            self.listed.add(key)
            self.states.append(info)
        return info


def _of_cohorts(pairs: Iterable[tuple[str, int | None]]) -> list[Definition]:
    """The definitions the cohorts start their cases on ((key, version); None: newest)."""
    found: dict[tuple[str, int], Definition] = {}
    for key, version in sorted(set(pairs), key=lambda p: (p[0], p[1] or 0)):
        try:
            d = registry.latest(key) if version is None else registry.get(key, version)
        except LookupError:
            continue
        found[(d.key, d.version)] = d
    return list(found.values())


def _counts_by_state(scope, *group_by):
    """(group keys…, state, cases, overdue) of the scope: one GROUP BY query."""
    return db.session.execute(
        select(*group_by, Case.state, func.count(Case.id), func.sum(_as_int(overdue_clause())))
        .where(scope)
        .group_by(*group_by, Case.state)
    ).all()


def funnel(user: User, cohort: Cohort | None = None, group: int | str | None = None) -> Counts:
    """Cases per state in the user's scope: everything overseen, one cohort, or one group
    of it (NO_GROUP: the cohort's cases without a group). One query."""
    scope = oversight_clause(user)
    pairs: list[tuple[str, int | None]] = []
    if cohort is not None:
        scope = and_(scope, Case.cohort_id == cohort.id)
        pairs.append((cohort.definition_key, cohort.definition_version))
    else:
        pairs = [
            tuple(row)
            for row in db.session.execute(
                select(Cohort.definition_key, Cohort.definition_version)
                .where(_oversight_cohort_clause(user))
                .distinct()
            )
        ]
    if group == NO_GROUP:
        scope = and_(scope, Case.group_id.is_(None))
    elif group is not None:
        scope = and_(scope, Case.group_id == group)
    counts = Counts(states=merged_states(_of_cohorts(pairs)))
    catalogue = _Catalogue(counts.states)
    for state, count, overdue in _counts_by_state(scope):
        counts.add(catalogue(state), count, overdue or 0)
    return counts


@dataclass
class Overview:
    funnel: Counts
    cohorts: list[Counts]
    provinces: list[Counts]
    cohort_total: int
    cohort_page: int
    cohort_pages: int

    @property
    def states(self) -> list[StateInfo]:
        return self.funnel.states


def overview(user: User, cohort_page: int = 1, per_page: int = COHORTS_PER_PAGE) -> Overview:
    """Counts for everything the user oversees: in total (the funnel), per cohort (one page
    of them, those without any case too) and per province. Four queries, each a GROUP BY
    or a page of cohorts, whatever the number of cases."""
    cohort_scope = _oversight_cohort_clause(user)
    kinds = db.session.execute(
        select(Cohort.definition_key, Cohort.definition_version, func.count(Cohort.id))
        .where(cohort_scope)
        .group_by(Cohort.definition_key, Cohort.definition_version)
    ).all()
    cohort_total = sum(n for _key, _version, n in kinds)
    pages = max(1, math.ceil(cohort_total / per_page))
    cohort_page = min(max(cohort_page, 1), pages)
    states = merged_states(_of_cohorts((key, version) for key, version, _n in kinds))
    catalogue = _Catalogue(states)

    listed = db.session.execute(
        select(Cohort.id, Cohort.name, Cohort.year)
        .where(cohort_scope)
        .order_by(Cohort.year.desc(), func.lower(Cohort.name), Cohort.id)
        .limit(per_page)
        .offset((cohort_page - 1) * per_page)
    ).all()
    cohorts = {c.id: Counts(states=states, id=c.id, name=c.name, year=c.year) for c in listed}
    total = Counts(states=states)
    scope = oversight_clause(user)
    # The listed cohorts only: their rows come through the (cohort, state) index.
    listed_scope = and_(scope, Case.cohort_id.in_(list(cohorts)))
    for cohort_id, state, count, overdue in _counts_by_state(listed_scope, Case.cohort_id):
        cohorts[cohort_id].add(catalogue(state), count, overdue or 0)

    # Per province: counted per agency first (one join), then agencies placed in their
    # province — the region joins run on those few rows, not on every case.
    by_agency = (
        select(
            T_USER.agency_id.label("agency_id"),
            Case.state.label("state"),
            func.count(Case.id).label("cases"),
            func.sum(_as_int(overdue_clause())).label("late"),
        )
        .select_from(Case)
        .join(T_USER, T_USER.id == Case.trainee_id)
        .where(scope)
        .group_by(T_USER.agency_id, Case.state)
        .subquery("by_agency")
    )
    rows = db.session.execute(
        select(
            T_PROVINCE.id,
            T_PROVINCE.name,
            by_agency.c.state,
            func.sum(by_agency.c.cases),
            func.sum(by_agency.c.late),
        )
        .select_from(by_agency)
        .outerjoin(T_AGENCY, T_AGENCY.id == by_agency.c.agency_id)
        .outerjoin(T_REGION, T_REGION.id == T_AGENCY.region_id)
        .outerjoin(T_PROVINCE, T_PROVINCE.id == _province_id())
        .group_by(T_PROVINCE.id, T_PROVINCE.name, by_agency.c.state)
    ).all()
    provinces: dict[int | None, Counts] = {}
    for pid, name, state, count, overdue in rows:
        row = provinces.setdefault(pid, Counts(states=states, id=pid, name=name or ""))
        row.add(catalogue(state), int(count or 0), int(overdue or 0))
        # The provinces (unknown included) partition the scope: their sum is the funnel,
        # without a second pass over every case.
        total.add(catalogue(state), int(count or 0), int(overdue or 0))
    # By name; trainees whose province is not known last.
    ordered = sorted(provinces.values(), key=lambda r: (r.id is None, r.name.lower(), r.id or 0))
    return Overview(
        funnel=total,
        cohorts=list(cohorts.values()),
        provinces=ordered,
        cohort_total=cohort_total,
        cohort_page=cohort_page,
        cohort_pages=pages,
    )


# ---------------------------------------------------------------- time in state


def percentile(values: list[float], p: float) -> float | None:
    """The p-th quantile (0..1) of sorted values, interpolated between the closest ranks
    (as numpy's default and Excel's PERCENTILE.INC); None for no values."""
    if not values:
        return None
    position = (len(values) - 1) * p
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return float(values[low])
    return values[low] + (values[high] - values[low]) * (position - low)


@dataclass(frozen=True)
class StateTime:
    state: StateInfo
    visits: int
    median: float
    p90: float


def summarize_visits(rows: Iterable[tuple[str, int]], states: list[StateInfo]) -> list[StateTime]:
    """Median and 90th percentile of working days per state, in the states' order."""
    by_state: dict[str, list[int]] = {}
    for state, days in rows:
        by_state.setdefault(state, []).append(days)
    known = {s.key for s in states}
    infos = list(states) + [
        StateInfo(k, Labels(id=k, en=k), False, False) for k in sorted(set(by_state) - known)
    ]
    result = []
    for info in infos:
        values = sorted(by_state.get(info.key, ()))
        if values:
            result.append(
                StateTime(info, len(values), percentile(values, 0.5), percentile(values, 0.9))
            )
    return result


def time_in_state(user: User, cohort: Cohort, states: list[StateInfo]) -> list[StateTime]:
    """Working days of finished stays, per state, of the cohort's cases the user oversees.
    One query (the cohort's rows only: bounded by its cases)."""
    scoped = select(Case.id).where(oversight_clause(user), Case.cohort_id == cohort.id)
    rows = db.session.execute(
        select(StateVisit.state, StateVisit.working_days).where(
            StateVisit.cohort_id == cohort.id, StateVisit.case_id.in_(scoped)
        )
    ).all()
    return summarize_visits(rows, states)


# ---------------------------------------------------------------- the trainee table


@dataclass(frozen=True)
class TableQuery:
    """Filters, search, sort and page of the trainee table (web and API alike)."""

    state: str | None = None
    cohort: int | None = None
    group: int | str | None = None  # a group id, or NO_GROUP
    agency: int | None = None
    region: int | None = None
    province: int | None = None
    overdue: bool | None = None
    q: str = ""
    sort: str = "name"
    dir: str = "asc"
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    def args(self, **changes) -> dict[str, str]:
        """URL parameters for this query with some changed, defaults left out."""
        values = replace(self, **changes)
        out: dict[str, str] = {}
        for name in PARAMS:
            value = getattr(values, name)
            if value == getattr(DEFAULT_QUERY, name) or value is None or value == "":
                continue
            if isinstance(value, bool):
                value = "yes" if value else "no"
            out[name] = str(value)
        return out

    def filter_args(self) -> dict[str, str]:
        """Only the filters and search: what a funnel link keeps."""
        return {k: v for k, v in self.args().items() if k in FILTERS}

    @property
    def filtered(self) -> bool:
        return any(k in FILTERS for k in self.args())


DEFAULT_QUERY = TableQuery()
_TRUE = ("yes", "true", "1")
_FALSE = ("no", "false", "0")


def _id(raw: str) -> int | None:
    if raw.isascii() and raw.isdigit() and len(raw) <= 9 and int(raw) >= 1:
        return int(raw)
    return None


def parse_table_query(
    args: Mapping[str, str], sorts: Iterable[str] = SORTS
) -> tuple[TableQuery, dict[str, str]]:
    """The query from URL parameters, and a message for each parameter that was not valid
    (that parameter is then left at its default). Empty values mean "not given"."""
    problems: dict[str, str] = {}
    values: dict = {}

    def given(name: str) -> str | None:
        raw = args.get(name)
        if raw is None:
            return None
        raw = str(raw).strip()
        return raw or None

    state = given("state")
    if state is not None:
        if state in all_state_keys():
            values["state"] = state
        else:
            problems["state"] = str(PROBLEMS["state"])
    for name in ("cohort", "agency", "region", "province"):
        raw = given(name)
        if raw is not None:
            found = _id(raw)
            if found is None:
                problems[name] = str(PROBLEMS[name])
            else:
                values[name] = found
    raw = given("group")
    if raw is not None:
        found = NO_GROUP if raw == NO_GROUP else _id(raw)
        if found is None:
            problems["group"] = str(PROBLEMS["group"])
        else:
            values["group"] = found
    raw = given("overdue")
    if raw is not None:
        if raw.lower() in _TRUE:
            values["overdue"] = True
        elif raw.lower() in _FALSE:
            values["overdue"] = False
        else:
            problems["overdue"] = str(PROBLEMS["overdue"])
    raw = given("q")
    if raw is not None:
        raw = raw.replace("\x00", "")
        if len(raw) > SEARCH_MAX:
            problems["q"] = str(PROBLEMS["q"])
        else:
            values["q"] = raw
    raw = given("sort")
    if raw is not None:
        if raw in tuple(sorts):
            values["sort"] = raw
        else:
            problems["sort"] = str(PROBLEMS["sort"])
    raw = given("dir")
    if raw is not None:
        if raw in DIRECTIONS:
            values["dir"] = raw
        else:
            problems["dir"] = str(PROBLEMS["dir"])
    raw = given("page")
    if raw is not None:
        found = _id(raw)
        if found is None or found > MAX_PAGE:
            problems["page"] = str(PROBLEMS["page"])
        else:
            values["page"] = found
    raw = given("per_page")
    if raw is not None:
        found = _id(raw)
        if found not in PER_PAGE_CHOICES:
            problems["per_page"] = str(PROBLEMS["per_page"])
        else:
            values["per_page"] = found
    return TableQuery(**values), problems


@dataclass
class TableRow:
    case_id: int
    version: int
    title: str
    trainee_id: int
    name: str
    agency_id: int | None
    agency: str | None
    region_id: int | None
    region: str | None
    province_id: int | None
    province: str | None
    group_id: int | None
    group: str | None
    cohort_id: int
    cohort: str
    state: StateInfo
    entered_at: datetime
    due_date: date | None
    overdue: bool
    final_score: float | None
    predicate: str | None
    institution_id: int
    zone: str
    closed: int = 0
    milestones: int = 0
    days_in_state: int | None = None

    @property
    def progress(self) -> str:
        if not self.milestones:
            return ""
        return str(_l("%(closed)d/%(total)d milestones", closed=self.closed, total=self.milestones))


@dataclass
class TablePage:
    rows: list[TableRow]
    query: TableQuery
    total: int
    pages: int
    states: list[StateInfo]

    @property
    def page(self) -> int:
        return self.query.page

    @property
    def per_page(self) -> int:
        return self.query.per_page

    @property
    def first(self) -> int:
        return 0 if not self.total else (self.page - 1) * self.per_page + 1

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.per_page)


def _closed_milestone():
    return or_(
        Milestone.status == "verified",
        and_(Milestone.status == "not_achieved", func.trim(Milestone.closing_note) != ""),
    )


def _short_milestones(closed: bool):
    condition = [Milestone.case_id == Case.id, Milestone.term == "short"]
    if closed:
        condition.append(_closed_milestone())
    return select(func.count(Milestone.id)).where(*condition).correlate(Case).scalar_subquery()


# The joins each filter, search or sort column needs; a query joins only those it uses.
_NEEDS = {
    "name": {"user"},
    "q": {"user"},
    "agency": {"user", "agency"},
    "region": {"user", "agency", "region"},
    "province": {"user", "agency", "region", "province"},
    "group": {"group"},
    "cohort": {"cohort"},
}
_ALL_JOINS = {"user", "agency", "region", "province", "group", "cohort", "institution"}


def _join(query, needs: set[str]):
    if needs & {"user", "agency", "region", "province"}:
        query = query.join(T_USER, T_USER.id == Case.trainee_id)
    if needs & {"agency", "region", "province"}:
        query = query.outerjoin(T_AGENCY, T_AGENCY.id == T_USER.agency_id)
    if needs & {"region", "province"}:
        query = query.outerjoin(T_REGION, T_REGION.id == T_AGENCY.region_id)
    if "province" in needs:
        query = query.outerjoin(T_PROVINCE, T_PROVINCE.id == _province_id())
    if "group" in needs:
        query = query.outerjoin(T_GROUP, T_GROUP.id == Case.group_id)
    if needs & {"cohort", "institution"}:
        query = query.join(T_COHORT, T_COHORT.id == Case.cohort_id)
    if "institution" in needs:
        query = query.join(T_PROGRAM, T_PROGRAM.id == T_COHORT.program_id).join(
            T_INSTITUTION, T_INSTITUTION.id == T_PROGRAM.institution_id
        )
    return query


def _conditions(user: User, tq: TableQuery, cohort: Cohort | None) -> tuple[list, set[str]]:
    """The WHERE terms of the query's scope and filters, and the joins they need."""
    terms = [oversight_clause(user)]
    needs: set[str] = set()
    if cohort is not None:
        terms.append(Case.cohort_id == cohort.id)
    if tq.cohort is not None:
        terms.append(Case.cohort_id == tq.cohort)
    if tq.state is not None:
        terms.append(Case.state == tq.state)
    if tq.group == NO_GROUP:
        terms.append(Case.group_id.is_(None))
    elif tq.group is not None:
        terms.append(Case.group_id == tq.group)
    if tq.agency is not None:
        needs |= {"user"}
        terms.append(T_USER.agency_id == tq.agency)
    if tq.region is not None:
        needs |= _NEEDS["region"]
        terms.append(_region_id() == tq.region)
    if tq.province is not None:
        needs |= _NEEDS["province"]
        terms.append(T_PROVINCE.id == tq.province)
    if tq.overdue is not None:
        overdue = overdue_clause()
        terms.append(overdue if tq.overdue else not_(overdue))
    if tq.q:
        needs |= _NEEDS["q"]
        terms.append(
            or_(
                T_USER.name.icontains(tq.q, autoescape=True),
                Case.title.icontains(tq.q, autoescape=True),
            )
        )
    return terms, needs


def _sort_keys(tq: TableQuery, states: list[StateInfo]) -> tuple[list, set[str]]:
    """ORDER BY for the chosen column: empty values last in both directions, then the case
    id (in the same direction) so equal values keep a stable order across pages."""
    expressions = {
        "name": lambda: func.lower(T_USER.name),
        "title": lambda: func.lower(Case.title),
        "agency": lambda: func.lower(T_AGENCY.name),
        "region": lambda: func.lower(_region_name()),
        "province": lambda: func.lower(T_PROVINCE.name),
        "group": lambda: func.lower(T_GROUP.name),
        "cohort": lambda: func.lower(T_COHORT.name),
        "state": lambda: case(
            {s.key: i for i, s in enumerate(states)}, value=Case.state, else_=len(states)
        ),
        # More days in the state = entered earlier; a terminal state counts no days.
        "days": lambda: case((terminal_clause(), None), else_=Case.state_entered_at),
        "due": lambda: Case.due_date,
        "overdue": lambda: _as_int(overdue_clause()),
        "progress": lambda: case(
            (_short_milestones(False) == 0, None),
            else_=cast(_short_milestones(True), Float) / _short_milestones(False),
        ),
        "score": lambda: Case.final_score,
    }
    expression = expressions[tq.sort]()
    descending = tq.dir == "desc"
    if tq.sort == "days":
        value = expression.asc() if descending else expression.desc()
    else:
        value = expression.desc() if descending else expression.asc()
    tie = Case.id.desc() if descending else Case.id.asc()
    return [expression.is_(None), value, tie], _NEEDS.get(tq.sort, set())


def _row_columns():
    return (
        Case.id,
        Case.version,
        Case.title,
        T_USER.id,
        T_USER.name,
        T_AGENCY.id,
        T_AGENCY.name,
        _region_id(),
        _region_name(),
        T_PROVINCE.id,
        T_PROVINCE.name,
        Case.group_id,
        T_GROUP.name,
        Case.cohort_id,
        T_COHORT.name,
        Case.state,
        Case.state_entered_at,
        Case.due_date,
        _as_int(overdue_clause()),
        Case.final_score,
        Case.predicate,
        T_INSTITUTION.id,
        T_INSTITUTION.timezone,
    )


def _make_row(r, catalogue: _Catalogue) -> TableRow:
    return TableRow(
        case_id=r[0],
        version=r[1],
        title=r[2] or "",
        trainee_id=r[3],
        name=r[4],
        agency_id=r[5],
        agency=r[6],
        region_id=r[7],
        region=r[8],
        province_id=r[9],
        province=r[10],
        group_id=r[11],
        group=r[12],
        cohort_id=r[13],
        cohort=r[14],
        state=catalogue(r[15]),
        entered_at=r[16],
        due_date=r[17],
        overdue=bool(r[18]),
        final_score=r[19],
        predicate=r[20],
        institution_id=r[21],
        zone=r[22] or DEFAULT_ZONE,
    )


def _days_off(institution_ids: Iterable[int]) -> dict[int, frozenset[date]]:
    """Each institution's own days off, in one query."""
    found: dict[int, set[date]] = {i: set() for i in institution_ids}
    rows = db.session.execute(
        select(InstitutionHoliday.institution_id, InstitutionHoliday.day).where(
            InstitutionHoliday.institution_id.in_(list(found))
        )
    ).all()
    for institution_id, day in rows:
        found[institution_id].add(day)
    return {k: frozenset(v) for k, v in found.items()}


def working_days_since(starts: Iterable[date], today: date, days_off=frozenset()) -> dict:
    """{start: working days after it up to today} as calendar.working_days_between counts
    them (0 for a start today or later), walking the calendar once for all the starts."""
    wanted = sorted(set(starts))
    if not wanted:
        return {}
    counted: dict[date, int] = {}
    day, total = wanted[0], 0
    while day < today:
        counted[day] = total
        day += timedelta(days=1)
        if is_working_day(day, days_off):
            total += 1
    return {start: total - counted[start] if start < today else 0 for start in wanted}


def _fill_days(rows: list[TableRow], now: datetime | None = None) -> None:
    """Working days in the current state, in each cohort's calendar, for these rows only:
    one walk over the calendar per institution, however many rows (an export has many)."""
    days_off = _days_off({r.institution_id for r in rows})
    moment = now or utcnow()
    open_rows = [r for r in rows if not r.state.terminal]
    by_institution: dict[tuple[int, str], list[TableRow]] = {}
    for r in open_rows:
        by_institution.setdefault((r.institution_id, r.zone), []).append(r)
    for (institution_id, zone), group in by_institution.items():
        starts = {id(r): local_date(r.entered_at, zone) for r in group}
        counts = working_days_since(
            starts.values(), local_date(moment, zone), days_off[institution_id]
        )
        for r in group:
            r.days_in_state = counts[starts[id(r)]]


def table_states(cohort: Cohort | None = None) -> list[StateInfo]:
    """The states the table orders and labels by: the cohort's definition first."""
    definitions = _definitions()
    if cohort is not None:
        first = [d for d in definitions if d.key == cohort.definition_key]
        definitions = first + [d for d in definitions if d.key != cohort.definition_key]
    return merged_states(definitions)


def _details(ids: list[int], extra=()):
    """Everything a row shows for these cases: the joins run on these rows only."""
    return _join(select(*_row_columns(), *extra).select_from(Case), _ALL_JOINS).where(
        Case.id.in_(ids)
    )


def table_page(user: User, tq: TableQuery, cohort: Cohort | None = None) -> TablePage:
    """One page of the trainee table, in five queries whatever the number of cases: the
    count, the page's ids (joining only what the filters and sort need), their details,
    their milestones (one aggregate), their institutions' days off. A page past the end
    shows the last one."""
    states = table_states(cohort)
    terms, needs = _conditions(user, tq, cohort)
    total = (
        db.session.scalar(_join(select(func.count(Case.id)).select_from(Case), needs).where(*terms))
        or 0
    )
    pages = max(1, math.ceil(total / tq.per_page))
    if tq.page > pages:
        tq = replace(tq, page=pages)
    order, sort_needs = _sort_keys(tq, states)
    ids = list(
        db.session.scalars(
            _join(select(Case.id).select_from(Case), needs | sort_needs)
            .where(*terms)
            .order_by(*order)
            .limit(tq.per_page)
            .offset((tq.page - 1) * tq.per_page)
        )
    )
    catalogue = _Catalogue(list(states))
    found = {r[0]: _make_row(r, catalogue) for r in db.session.execute(_details(ids)).all()}
    rows = [found[i] for i in ids if i in found]
    progress = db.session.execute(
        select(Milestone.case_id, func.count(Milestone.id), func.sum(_as_int(_closed_milestone())))
        .where(Milestone.case_id.in_(ids), Milestone.term == "short")
        .group_by(Milestone.case_id)
    ).all()
    done = {case_id: (n, closed or 0) for case_id, n, closed in progress}
    for r in rows:
        r.milestones, r.closed = done.get(r.case_id, (0, 0))
    _fill_days(rows)
    return TablePage(rows=rows, query=tq, total=total, pages=pages, states=states)


def table_rows(user: User, tq: TableQuery, cohort: Cohort | None = None) -> list[TableRow]:
    """Every row of the table with its filters and sort, all pages (an export). Three
    queries however many rows: the rows with their milestones as one aggregate subquery
    (all joined in SQL), and the institutions' days off."""
    states = table_states(cohort)
    terms, needs = _conditions(user, tq, cohort)
    order, _sort_needs = _sort_keys(tq, states)
    ids = _join(select(Case.id).select_from(Case), needs).where(*terms)
    progress = (
        select(
            Milestone.case_id.label("case_id"),
            func.count(Milestone.id).label("total"),
            func.sum(_as_int(_closed_milestone())).label("closed"),
        )
        .where(Milestone.term == "short", Milestone.case_id.in_(ids))
        .group_by(Milestone.case_id)
        .subquery("progress")
    )
    query = (
        _join(
            select(*_row_columns(), progress.c.total, progress.c.closed).select_from(Case),
            _ALL_JOINS,
        )
        .outerjoin(progress, progress.c.case_id == Case.id)
        .where(*terms)
        .order_by(*order)
    )
    catalogue = _Catalogue(list(states))
    rows = []
    for r in db.session.execute(query).all():
        row = _make_row(r, catalogue)
        row.milestones, row.closed = r[-2] or 0, r[-1] or 0
        rows.append(row)
    _fill_days(rows)
    return rows


def matching_ids(user: User, tq: TableQuery, cohort: Cohort, limit: int) -> list[int]:
    """The ids of every row the filters match (all pages), at most `limit`."""
    terms, needs = _conditions(user, tq, cohort)
    query = _join(select(Case.id).select_from(Case), needs).where(*terms)
    return list(db.session.scalars(query.order_by(Case.id).limit(limit)))


@dataclass(frozen=True)
class Choice:
    value: int | str
    label: str


@dataclass
class FilterChoices:
    groups: list[Choice]
    agencies: list[Choice]
    regions: list[Choice]
    provinces: list[Choice]
    cohorts: list[Choice]


def filter_choices(user: User, cohort: Cohort | None = None) -> FilterChoices:
    """What the filter lists offer: the cohort's groups (or the cohorts overseen), and the
    agencies, regencies and provinces of the trainees in scope. Two queries."""
    if cohort is not None:
        # A group's coach lists their groups; who oversees the whole cohort, every group.
        whole = [
            Group.cohort_id.in_(
                select(CohortMember.cohort_id).where(
                    CohortMember.user_id == user.id,
                    CohortMember.role.in_(("organizer", "coach")),
                )
            )
        ]
        if is_institution_admin(user):
            whole.append(Group.cohort_id.in_(institution_cohorts(user.institution_id)))
        units = select(Group.id, Group.name).where(
            Group.cohort_id == cohort.id, or_(Group.coach_id == user.id, *whole)
        )
    else:
        units = select(Cohort.id, Cohort.name).where(_oversight_cohort_clause(user))
    units_found = [Choice(i, n) for i, n in db.session.execute(units).all()]
    scope = oversight_clause(user)
    if cohort is not None:
        scope = and_(scope, Case.cohort_id == cohort.id)
    agency_ids = (
        select(T_USER.agency_id)
        .select_from(Case)
        .join(T_USER, T_USER.id == Case.trainee_id)
        .where(scope)
        .distinct()
    )
    places = db.session.execute(
        select(
            T_AGENCY.id,
            T_AGENCY.name,
            _region_id(),
            _region_name(),
            T_PROVINCE.id,
            T_PROVINCE.name,
        )
        .select_from(T_AGENCY)
        .outerjoin(T_REGION, T_REGION.id == T_AGENCY.region_id)
        .outerjoin(T_PROVINCE, T_PROVINCE.id == _province_id())
        .where(T_AGENCY.id.in_(agency_ids))
    ).all()
    agencies, regions, provinces = {}, {}, {}
    for agency_id, agency, region_id, region, province_id, province in places:
        agencies[agency_id] = agency
        if region_id is not None:
            regions[region_id] = region
        if province_id is not None:
            provinces[province_id] = province

    def listed(found) -> list[Choice]:
        pairs = found.items() if isinstance(found, dict) else [(c.value, c.label) for c in found]
        return [Choice(k, v) for k, v in sorted(pairs, key=lambda kv: (kv[1].lower(), kv[0]))]

    return FilterChoices(
        groups=listed(units_found) if cohort is not None else [],
        agencies=listed(agencies),
        regions=listed(regions),
        provinces=listed(provinces),
        cohorts=listed(units_found) if cohort is None else [],
    )


# ---------------------------------------------------------------- bulk actions

BULK_ACTIONS = ("remind", "extend_deadline", "assign_group")
BULK_MAX = 500


def offered_actions(roles: set[str], definition: Definition) -> list[Activity]:
    """The bulk actions the cohort's definition gives one of the user's roles."""
    offered = []
    for key in BULK_ACTIONS:
        act = definition.activity(key)
        if act is not None and roles & set(act.roles):
            offered.append(act)
    return offered


def check_bulk_form(
    act: Activity, comment: str | None, data: dict, group_ids: Iterable[int]
) -> tuple[str, dict, dict[str, str]]:
    """The form's comment and fields as the definition wants them, checked once for every
    row (a missing reason is one message, not 500 refusals); errors by field name."""
    clean_comment, clean_data, errors = check_input(act, comment, data)
    if act.key == "assign_group":
        raw = str(data.get("group_id") or "").strip()
        group_id = _id(raw)
        if group_id is None or group_id not in set(group_ids):
            errors["group_id"] = str(_l("Choose one of this cohort's groups."))
        else:
            clean_data["group_id"] = group_id
    return clean_comment, clean_data, errors


@dataclass
class BulkOutcome:
    case_id: int
    name: str
    title: str
    ok: bool
    status: int = 200
    message: str = ""
    reasons: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def explanation(self) -> str:
        """The message, then whatever the reasons and fields add to it."""
        parts = [self.message] if self.message else []
        for text in [*self.fields.values(), *self.reasons]:
            if text and text not in parts:
                parts.append(text)
        return " ".join(parts)


NOT_YOURS = _l("Not found, or not yours to oversee.")


def bulk_act(
    user: User,
    cohort: Cohort,
    act: Activity,
    case_ids: list[int],
    comment: str = "",
    data: dict | None = None,
) -> list[BulkOutcome]:
    """Each selected case through perform() on its own: audited and committed per case; a
    refused case is reported with the reason and has nothing written."""
    wanted = list(dict.fromkeys(case_ids))
    loaded = db.session.scalars(
        select(Case)
        .where(oversight_clause(user), Case.cohort_id == cohort.id, Case.id.in_(wanted))
        .options(joinedload(Case.trainee))
    ).all()
    # Plain values first: every commit below expires the loaded objects.
    names = {c.id: (c.trainee.name, c.title or "") for c in loaded}
    by_id = {c.id: c for c in loaded}
    outcomes = []
    with mail.batched_delivery():
        for case_id in wanted:
            outcomes.append(_bulk_one(user, act, by_id.get(case_id), names, case_id, comment, data))
    return outcomes


def _bulk_one(user, act, found, names, case_id, comment, data) -> BulkOutcome:
    if found is None:
        return BulkOutcome(case_id, "", "", False, 404, str(NOT_YOURS))
    name, title = names[case_id]
    try:
        perform(found, act.key, user, comment=comment, data=dict(data or {}))
    except WorkflowError as exc:
        return BulkOutcome(
            case_id,
            name,
            title,
            False,
            exc.status,
            str(exc.message),
            [str(r) for r in exc.reasons],
            {k: str(v) for k, v in exc.fields.items()},
        )
    return BulkOutcome(case_id, name, title, True)


# ---------------------------------------------------------------- sustainability (issue 12)

# The horizons the dashboards compare, and the kinds of result: the term of the milestone
# a result belongs to, as the trainee planned it in the proposal (medium: 6-12 months,
# long: 1-2 years). The term is the one structured field every case has; the innovation
# is free text that no two trainees word alike.
SUSTAINABILITY_HORIZONS = (12, 24)
RESULT_KINDS = ("medium", "long")


@dataclass
class Share:
    """How many of `known` are still running (or achieved, for a result)."""

    running: int = 0
    known: int = 0

    @property
    def percent(self) -> int | None:
        return None if not self.known else round(100 * self.running / self.known)

    def add(self, running: bool) -> None:
        self.known += 1
        self.running += bool(running)


@dataclass
class SustainabilityRow:
    id: int
    name: str
    year: int | None = None
    institution: str = ""
    followed: int = 0
    # horizon → share of change actions still running.
    cases: dict[int, Share] = field(default_factory=dict)
    # (horizon, kind) → share of results still running or achieved.
    results: dict[tuple[int, str], Share] = field(default_factory=dict)

    def __post_init__(self):
        for h in SUSTAINABILITY_HORIZONS:
            self.cases.setdefault(h, Share())
            for k in RESULT_KINDS:
                self.results.setdefault((h, k), Share())


@dataclass
class Sustainability:
    cohorts: list[SustainabilityRow]
    institutions: list[SustainabilityRow]
    total: SustainabilityRow
    horizons: tuple[int, ...] = SUSTAINABILITY_HORIZONS
    kinds: tuple[str, ...] = RESULT_KINDS


def _status_at(confirmed: dict[int, bool], horizon: int) -> tuple[bool, int] | None:
    """(running, the horizon whose report says so) at `horizon`: its own confirmed report,
    else an earlier confirmed "stopped" (nothing is asked after it); None: not known."""
    if horizon in confirmed:
        return confirmed[horizon], horizon
    stops = [h for h, running in confirmed.items() if h < horizon and not running]
    return (False, max(stops)) if stops else None


def sustainability(user: User, cohort: Cohort | None = None) -> Sustainability:
    """Per cohort and per institution overseen: the share of change actions still running
    at 12 and 24 months (their confirmed follow-up report says so; one reported stopped
    earlier counts as stopped), and per kind of result the share of medium- and long-term
    results still running or achieved. Four queries whatever the number of cases."""
    from . import followup

    scope = oversight_clause(user)
    if cohort is not None:
        scope = and_(scope, Case.cohort_id == cohort.id)
    followed = dict(followup.followed_count(scope))
    confirmed: dict[int, dict[int, bool]] = {}
    cohort_of: dict[int, int] = {}
    for case_id, cohort_id, horizon, running in followup.confirmed_rows(scope):
        confirmed.setdefault(case_id, {})[horizon] = running
        cohort_of[case_id] = cohort_id
    results: dict[tuple[int, int], list[tuple[str, str]]] = {}
    for case_id, horizon, term, status in followup.confirmed_results(scope):
        results.setdefault((case_id, horizon), []).append((term, status))
    cohort_ids = set(followed) | set(cohort_of.values())
    names = db.session.execute(
        select(Cohort.id, Cohort.name, Cohort.year, Institution.id, Institution.name)
        .join(Program, Program.id == Cohort.program_id)
        .join(Institution, Institution.id == Program.institution_id)
        .where(Cohort.id.in_(sorted(cohort_ids) or [0]))
    ).all()
    cohorts = {
        cid: SustainabilityRow(cid, name, year, iname, followed.get(cid, 0))
        for cid, name, year, _iid, iname in names
    }
    institutions: dict[int, SustainabilityRow] = {}
    institution_of = {}
    for cid, _name, _year, iid, iname in names:
        institution_of[cid] = iid
        row = institutions.setdefault(iid, SustainabilityRow(iid, iname))
        row.followed += followed.get(cid, 0)
    total = SustainabilityRow(0, "", followed=sum(followed.values()))
    for case_id, by_horizon in confirmed.items():
        cid = cohort_of[case_id]
        rows = (cohorts[cid], institutions[institution_of[cid]], total)
        for h in SUSTAINABILITY_HORIZONS:
            status = _status_at(by_horizon, h)
            if status is None:
                continue
            running, said_at = status
            for row in rows:
                row.cases[h].add(running)
            for term, result in results.get((case_id, said_at), ()):
                if term not in RESULT_KINDS:
                    continue
                for row in rows:
                    row.results[(h, term)].add(running and result != "stopped")
    return Sustainability(
        cohorts=sorted(cohorts.values(), key=lambda r: (r.institution, -(r.year or 0), r.name)),
        institutions=sorted(institutions.values(), key=lambda r: r.name),
        total=total,
    )
