"""Where change actions reach, for one regency: which kecamatan and villages the aksi
perubahan the user oversees have covered (or plan to cover), summed across trainees and
cohorts.

The sources are the coverage milestones (`Milestone.units` planned, `UnitCoverage` covered)
and the region of the trainee's office or agency. Units are free text today ("Kecamatan
Sukau", "Pekon Hanakau", "sukau"): they are matched to the regency's regions by name,
case-insensitively, with or without the prefix of their level. A unit whose name fits two
villages of different kecamatan (and no kecamatan) is ambiguous and counted nowhere; it is
listed with those that match no region. A fixed number of queries, whatever the number of
cases, milestones or regions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import exists, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import Agency, Case, Milestone, Region, UnitCoverage, User
from ..permissions import oversight_clause

# Words a unit's name may start with, by the level they name (lower case, no dot).
DISTRICT_WORDS = ("kecamatan", "kec", "distrik")
VILLAGE_WORDS = ("desa", "pekon", "kelurahan", "kel", "nagari", "gampong", "kampung", "tiuh")
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> tuple[str | None, str]:
    """(level the text names by its prefix or None, the bare name in lower case)."""
    words = _SPACES.sub(" ", (text or "").replace(".", ". ").strip().lower()).split(" ")
    level = None
    if len(words) > 1:
        first = words[0].rstrip(".")
        if first in DISTRICT_WORDS:
            level, words = "district", words[1:]
        elif first in VILLAGE_WORDS:
            level, words = "village", words[1:]
    return level, " ".join(w for w in words if w).strip()


@dataclass
class DistrictReach:
    region: Region
    villages_total: int = 0
    # Case ids whose coverage (or office) reaches the kecamatan or one of its villages.
    cases: set[int] = field(default_factory=set)
    # Case ids that plan to reach it (a unit of a milestone) and have not yet.
    planned: set[int] = field(default_factory=set)
    trainees: set[int] = field(default_factory=set)
    cohorts: set[int] = field(default_factory=set)
    villages: set[int] = field(default_factory=set)

    @property
    def reached(self) -> bool:
        return bool(self.cases)


@dataclass
class Reach:
    regency: Region
    districts: list[DistrictReach]
    villages_total: int
    # Change actions reaching anything in the regency, and their trainees and cohorts.
    cases: set[int]
    trainees: set[int]
    cohorts: set[int]
    # Change actions whose trainee's office or agency serves the whole regency.
    regency_wide: set[int]
    # Units that name no region of the regency (or two villages): as typed.
    unmatched: list[str]

    @property
    def unreached(self) -> list[DistrictReach]:
        return [d for d in self.districts if not d.reached]

    @property
    def villages_reached(self) -> int:
        return sum(len(d.villages) for d in self.districts)


def regencies_with_regions() -> list[Region]:
    """Regencies with their kecamatan loaded: what the picker offers. One query."""
    child = aliased(Region)
    return list(
        db.session.scalars(
            select(Region)
            .where(
                Region.level == "regency",
                exists().where(child.parent_id == Region.id, child.level == "district"),
            )
            .order_by(Region.name)
        )
    )


def regency(code: str) -> Region | None:
    code = (code or "").strip()
    if not code or len(code) > 20:
        return None
    return db.session.scalar(select(Region).where(Region.code == code, Region.level == "regency"))


class _Index:
    """The regency's regions by bare name."""

    def __init__(self, regency: Region, regions: list[Region]):
        self.regency = regency
        self.districts = {r.id: r for r in regions if r.level == "district"}
        self.village_district: dict[int, int] = {}
        self.district_by_name: dict[str, list[int]] = {}
        self.village_by_name: dict[str, list[int]] = {}
        for r in regions:
            name = normalize(r.name)[1]
            if r.level == "district":
                self.district_by_name.setdefault(name, []).append(r.id)
            elif r.level == "village" and r.parent_id in self.districts:
                self.village_district[r.id] = r.parent_id
                self.village_by_name.setdefault(name, []).append(r.id)

    def match(self, text: str) -> tuple[int | None, int | None] | None:
        """(district id, village id or None) for a unit typed as `text`; None if it names
        no region of the regency, or two villages in different kecamatan."""
        level, name = normalize(text)
        if not name:
            return None
        if level != "village":
            districts = self.district_by_name.get(name, [])
            if len(districts) == 1:
                return districts[0], None
            if level == "district":
                return None
        villages = self.village_by_name.get(name, [])
        if len(villages) == 1:
            return self.village_district[villages[0]], villages[0]
        return None

    def place(self, region_id: int | None) -> tuple[int | None, int | None] | None:
        """Where an office's region lies: (district, village); (None, None) for the
        regency itself; None outside it."""
        if region_id is None:
            return None
        if region_id == self.regency.id:
            return None, None
        if region_id in self.districts:
            return region_id, None
        if region_id in self.village_district:
            return self.village_district[region_id], region_id
        return None


def reach_for(user: User, regency: Region) -> Reach:
    """The reach of the aksi perubahan `user` oversees in `regency`. Four queries."""
    regions = list(
        db.session.scalars(
            select(Region).where(
                Region.code.like(f"{regency.code}.%"), Region.level.in_(("district", "village"))
            )
        )
    )
    index = _Index(regency, regions)
    scope = (Case.cohort_id.is_not(None), oversight_clause(user))
    districts = {
        i: DistrictReach(region=r)
        for i, r in sorted(index.districts.items(), key=lambda kv: kv[1].name)
    }
    for district_id in index.village_district.values():
        districts[district_id].villages_total += 1

    cases_all: set[int] = set()
    trainees_all: set[int] = set()
    cohorts_all: set[int] = set()
    regency_wide: set[int] = set()
    # Per case: units that match nothing here (most name another regency's places).
    unmatched: dict[int, list[str]] = {}
    who: dict[int, tuple[int | None, int | None]] = {}

    def reached(case_id: int, spot: tuple[int | None, int | None]) -> None:
        trainee, cohort = who[case_id]
        cases_all.add(case_id)
        trainees_all.add(trainee)
        cohorts_all.add(cohort)
        district_id, village_id = spot
        if district_id is None:
            regency_wide.add(case_id)
            return
        d = districts[district_id]
        d.cases.add(case_id)
        d.trainees.add(trainee)
        d.cohorts.add(cohort)
        if village_id is not None:
            d.villages.add(village_id)

    # Who and where each case in scope is: its trainee, cohort and office's region.
    agency = aliased(Agency)
    rows = db.session.execute(
        select(Case.id, Case.trainee_id, Case.cohort_id, User.office_region_id, agency.region_id)
        .outerjoin(User, User.id == Case.trainee_id)
        .outerjoin(agency, agency.id == User.agency_id)
        .where(*scope)
    ).all()
    for case_id, trainee_id, cohort_id, office_region, agency_region in rows:
        who[case_id] = (trainee_id, cohort_id)
        spot = index.place(office_region) or index.place(agency_region)
        if spot is not None:
            reached(case_id, spot)
    if not who:
        return _report(regency, districts, index, set(), set(), set(), set(), [])

    covered_rows = db.session.execute(
        select(UnitCoverage.case_id, UnitCoverage.unit)
        .join(Case, Case.id == UnitCoverage.case_id)
        .where(*scope)
    ).all()
    for case_id, unit in covered_rows:
        spot = index.match(unit)
        if spot is None:
            unmatched.setdefault(case_id, []).append(unit.strip())
        else:
            reached(case_id, spot)

    planned_rows = db.session.execute(
        select(Milestone.case_id, Milestone.units)
        .join(Case, Case.id == Milestone.case_id)
        .where(*scope)
    ).all()
    for case_id, units in planned_rows:
        for unit in units or []:
            if not isinstance(unit, str) or not unit.strip():
                continue
            spot = index.match(unit)
            if spot is None:
                unmatched.setdefault(case_id, []).append(unit.strip())
            elif spot[0] is not None and case_id not in districts[spot[0]].cases:
                districts[spot[0]].planned.add(case_id)
    # A case that reached a kecamatan is no longer only planning to.
    here = set(cases_all)
    for d in districts.values():
        d.planned -= d.cases
        here |= d.planned
    # Only the units of change actions working in this regency: the others are elsewhere.
    odd = {u: None for case_id, units in unmatched.items() if case_id in here for u in units}
    return _report(
        regency,
        districts,
        index,
        cases_all,
        trainees_all,
        cohorts_all,
        regency_wide,
        sorted(odd, key=str.lower),
    )


def _report(regency, districts, index, cases, trainees, cohorts, regency_wide, unmatched):
    return Reach(
        regency=regency,
        districts=list(districts.values()),
        villages_total=len(index.village_district),
        cases=cases,
        # A participant's case always has both; None never counts as one.
        trainees=trainees - {None},
        cohorts=cohorts - {None},
        regency_wide=regency_wide,
        unmatched=unmatched,
    )
