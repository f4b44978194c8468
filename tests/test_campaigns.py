"""Campaigns over region units (profil pekon): launch in one transaction, every refusal
writing nothing, who sees which unit, the flow through perform(), the dashboard's numbers
and its constant query count, reminders for campaign cases."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta

import pytest
import time_machine
from flask_babel import force_locale
from sqlalchemy import func, select

from tests.factories import create_user
from tests.test_http_home import counting_statements
from workflow.extensions import db
from workflow.models import (
    AuditEvent,
    Campaign,
    CampaignMember,
    Case,
    FormEntry,
    Institution,
    Notification,
    Region,
    Reminder,
)
from workflow.permissions import get_case_for
from workflow.services import Blocked, Forbidden, NotAvailable, perform, reminders
from workflow.services import campaigns as camp
from workflow.services.audit import event_hash, verify_all

TODAY = date(2026, 3, 2)  # a Monday
DEADLINE = date(2026, 3, 31)
_codes = itertools.count(1)

# A complete, consistent profil pekon (the form's checks hold: 612 + 598 = 1210, ...).
PROFILE = {
    "penduduk_laki_laki": 612,
    "penduduk_perempuan": 598,
    "jumlah_penduduk": 1210,
    "jumlah_kk": 356,
    "luas_wilayah": 1250.5,
    "luas_lahan_pertanian": 830,
    "luas_sawah": 210,
    "komoditas_utama": "kopi",
    "pendidikan_tidak_tamat_sd": 240,
    "pendidikan_sd": 380,
    "pendidikan_smp": 260,
    "pendidikan_sma": 230,
    "pendidikan_tinggi": 60,
    "mata_pencaharian_utama": "pekebun",
    "bpd_ada": True,
    "jumlah_anggota_bpd": 7,
    "bumdes_ada": True,
    "lpm_ada": True,
    "jumlah_posyandu": 3,
    "lembaga": [
        {"nama": "PKK Pekon Sukamaju", "jenis": "pkk", "tahun_berdiri": 1998},
        {"nama": "Gapoktan Maju Bersama", "jenis": "kelompok_tani", "tahun_berdiri": 2011},
    ],
    "panjang_jalan_desa": 12.4,
    "kondisi_jalan": "sedang",
    "air_bersih": True,
    "rumah_tangga_berlistrik": 92,
    "masalah_utama": "Jalan usaha tani rusak saat musim hujan.",
    "potensi": "Kopi robusta dan wisata air terjun.",
}


class Area:
    """Province / regency / two districts with 3 and 2 villages (or `villages` each), an
    institution and its admin, one operator per village, one camat per district, a DPMP
    validator over the regency."""

    def __init__(self, villages=(3, 2), *, with_people: bool = True):
        n = next(_codes)
        self.province = Region(level="province", name=f"Lampung {n}", code=f"9{n:02d}")
        self.regency = Region(
            level="regency",
            name=f"Lampung Barat {n}",
            code=f"{self.province.code}.04",
            parent=self.province,
        )
        self.institution = Institution(
            code=f"dpmp{n}",
            name=f"DPMP Lampung Barat {n}",
            timezone="Asia/Jakarta",
            region=self.regency,
        )
        db.session.add_all([self.province, self.regency, self.institution])
        names = ["Balik Bukit", "Sukau", "Suoh", "Batu Brak", "Belalau"]
        self.districts, self.villages = [], []
        for d, count in enumerate(villages, 1):
            district = Region(
                level="district",
                name=names[(d - 1) % len(names)] + ("" if d <= 5 else f" {d}"),
                code=f"{self.regency.code}.{d:02d}",
                parent=self.regency,
            )
            self.districts.append(district)
            for v in range(1, count + 1):
                self.villages.append(
                    Region(
                        level="village",
                        name=f"Pekon {district.name} {v}",
                        code=f"{district.code}.2{v:03d}",
                        parent=district,
                        kind="pekon",
                    )
                )
        db.session.add_all(self.districts + self.villages)
        db.session.flush()
        self.admin = create_user(is_admin=True, institution=self.institution)
        self.operators, self.camats, self.dpmp = [], [], None
        if with_people:
            for v in self.villages:
                self.operators.append(
                    create_user(institution=self.institution, office_region=v, name=f"Op {v.name}")
                )
            for d in self.districts:
                self.camats.append(
                    create_user(
                        institution=self.institution, office_region=d, name=f"Camat {d.name}"
                    )
                )
            self.dpmp = create_user(
                institution=self.institution, office_region=self.regency, name="Validator DPMP"
            )
        db.session.commit()

    def holders(self):
        return (
            [("operator", u, None) for u in self.operators]
            + [("camat", u, None) for u in self.camats]
            + [("dpmp", self.dpmp, None)]
        )

    def launch(self, **changes) -> Campaign:
        args = {
            "definition_key": "profil_pekon",
            "name": "Profil Pekon 2026",
            "area_code": self.regency.code,
            "deadline": DEADLINE,
            "today": TODAY,
        }
        args.update(changes)
        if "holders" not in args:
            args["holders"] = self.holders()
        return camp.launch(self.institution, self.admin, **args)

    def case_of(self, campaign, village) -> Case:
        return db.session.scalar(
            select(Case).where(Case.campaign_id == campaign.id, Case.region_id == village.id)
        )


def fill_profile(case, data=None) -> FormEntry:
    """The profile as the operator would have saved it (written directly)."""
    entry = db.session.scalar(
        select(FormEntry).where(FormEntry.case_id == case.id, FormEntry.form_key == "profil")
    )
    if entry is None:
        entry = FormEntry(case_id=case.id, form_key="profil", data={}, notes={})
        db.session.add(entry)
    entry.data = dict(data or PROFILE)
    db.session.commit()
    return entry


@pytest.fixture
def area(app):
    return Area()


def counts() -> tuple[int, ...]:
    return tuple(
        db.session.scalar(select(func.count()).select_from(m))
        for m in (Campaign, CampaignMember, Case, AuditEvent)
    )


# ---------------------------------------------------------------- launch


def test_launch_makes_one_case_per_village_with_a_trail(area):
    campaign = area.launch()
    cases = db.session.scalars(
        select(Case).where(Case.campaign_id == campaign.id).order_by(Case.region_code)
    ).all()
    assert [c.region_code for c in cases] == [v.code for v in area.villages]
    assert {c.state for c in cases} == {"filling"}
    assert {c.due_date for c in cases} == {DEADLINE}
    assert {(c.definition_key, c.definition_version) for c in cases} == {("profil_pekon", 1)}
    assert all(c.region_id and c.cohort_id is None and c.trainee_id is None for c in cases)
    # Each case's trail starts with the launch, chained and hashed as perform() would.
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.case_id)).all()
    assert [(e.trigger, e.seq, e.to_state) for e in events] == [("launched", 1, "filling")] * 5
    assert all(e.hash == event_hash(e) for e in events)
    assert [c.audit_head for c in cases] == [e.hash for e in events]
    assert {c.event_count for c in cases} == {1}
    assert verify_all() == []
    members = db.session.scalars(select(CampaignMember)).all()
    assert sorted((m.role, m.region_code) for m in members) == sorted(
        [("operator", v.code) for v in area.villages]
        + [("camat", d.code) for d in area.districts]
        + [("dpmp", area.regency.code)]
    )
    # perform() then continues the chain.
    case = cases[0]
    fill_profile(case)
    perform(case, "submit", area.operators[0])
    assert case.event_count == 2 and verify_all() == []


def test_launch_over_a_district_takes_only_its_villages(area):
    campaign = area.launch(
        area_code=area.districts[1].code,
        holders=area.holders()[3:5] + [("camat", area.camats[1], None), ("dpmp", area.dpmp, None)],
    )
    codes = db.session.scalars(select(Case.region_code).where(Case.campaign_id == campaign.id))
    assert sorted(codes) == [v.code for v in area.villages[3:]]


def test_a_closed_campaign_frees_its_units(area):
    first = area.launch()
    with pytest.raises(Blocked):
        area.launch(name="Lagi")
    camp.close(first, area.admin)
    with pytest.raises(NotAvailable):
        camp.close(first, area.admin)
    second = area.launch(name="Profil Pekon 2027")
    assert db.session.scalar(select(func.count()).where(Case.campaign_id == second.id)) == 5


def _refusals(area):
    stranger_region = Region(level="district", name="Elsewhere", code="77.01")
    db.session.add(stranger_region)
    outsider = create_user(institution=area.institution, office_region=stranger_region)
    other_inst = Institution(code=f"x{outsider.id}", name="Lain")
    db.session.add(other_inst)
    foreign = create_user(institution=other_inst, office_region=area.villages[0])
    homeless = create_user(institution=area.institution)
    empty = Region(
        level="district", name="Kosong", code=f"{area.regency.code}.99", parent=area.regency
    )
    db.session.add(empty)
    db.session.commit()
    h = area.holders()
    return [
        ("definition", {"definition_key": "nope"}, "Unknown flow"),
        ("definition", {"definition_key": "aksi_perubahan_pka"}, "not a flow over region units"),
        ("name", {"name": "  "}, "name"),
        ("area", {"area_code": "99.99.99"}, "no region with the code 99.99.99"),
        ("area", {"area_code": empty.code}, "has no villages"),
        ("deadline", {"deadline": TODAY - timedelta(days=1)}, "deadline has passed"),
        ("deadline", {"deadline": "31-03-2026"}, "must be a date"),
        ("holders", {"holders": h + [("bupati", area.dpmp, None)]}, "not a role of this flow"),
        ("holders", {"holders": h + [("camat", outsider, None)]}, "is outside"),
        ("holders", {"holders": h + [("camat", foreign, None)]}, "does not belong"),
        ("holders", {"holders": h + [("camat", homeless, None)]}, "no office region"),
        ("holders", {"holders": h[1:]}, "No Village operator for 1 units"),
    ]


def test_every_refusal_writes_nothing(area):
    for fieldname, changes, words in _refusals(area):
        before = counts()
        with pytest.raises(Blocked) as caught, force_locale("en"):
            area.launch(**changes)
        assert fieldname in caught.value.fields, (changes, caught.value.fields)
        assert words.lower() in caught.value.fields[fieldname].lower(), caught.value.fields
        assert counts() == before


def test_a_unit_in_an_open_campaign_is_named(area):
    first = area.launch()
    before = counts()
    with pytest.raises(Blocked) as caught:
        area.launch(name="Kedua", area_code=area.districts[1].code, holders=[])
    message = caught.value.fields["area"]
    assert area.villages[3].name in message and first.name in message
    assert counts() == before


def test_without_operators_it_launches_only_when_told(area):
    with pytest.raises(Blocked) as caught, force_locale("en"):
        area.launch(holders=[("dpmp", area.dpmp, None)])
    assert "Village operator" in caught.value.fields["holders"]
    assert "District office" in caught.value.fields["holders"]
    campaign = area.launch(holders=[("dpmp", area.dpmp, None)], allow_unassigned=True)
    assert db.session.scalar(select(func.count()).where(Case.campaign_id == campaign.id)) == 5


def test_only_the_institution_admin_launches(area):
    with pytest.raises(Forbidden):
        camp.launch(
            area.institution,
            area.dpmp,
            "profil_pekon",
            "X",
            area.regency.code,
            DEADLINE,
            area.holders(),
            today=TODAY,
        )
    assert counts()[0] == 0


# ---------------------------------------------------------------- who sees what


def test_an_operator_sees_only_their_own_pekon(area):
    campaign = area.launch()
    mine = area.case_of(campaign, area.villages[0])
    other = area.case_of(campaign, area.villages[1])
    operator = area.operators[0]
    assert get_case_for(operator, mine.id) is not None
    assert get_case_for(operator, other.id) is None
    fill_profile(other)
    with pytest.raises(Exception):  # noqa: B017 - not theirs: perform() refuses
        perform(other, "submit", operator)
    db.session.rollback()
    assert other.state == "filling"


def test_a_camat_sees_only_their_kecamatan(area):
    campaign = area.launch()
    camat = area.camats[1]
    summ = camp.summary(campaign, camat, today=TODAY)
    assert [r.code for r in summ.rows] == [area.districts[1].code]
    assert summ.total.total == 2
    rows, total = camp.units(campaign, camat)
    assert total == 2 and {r.code for r in rows} == {v.code for v in area.villages[3:]}
    # The whole regency for DPMP and the admin.
    for user in (area.dpmp, area.admin):
        assert camp.summary(campaign, user, today=TODAY).total.total == 5
    assert camp.campaign_for(area.operators[0], campaign.id) is not None
    assert camp.campaign_for(create_user(), campaign.id) is None


# ---------------------------------------------------------------- the flow


def _passed(campaign, user):
    summ = camp.summary(campaign, user, today=TODAY)
    row = next(r for r in summ.rows if r.code == summ.rows[0].code)
    return row.passed


def test_the_flow_moves_the_dashboard(area):
    campaign = area.launch()
    case = area.case_of(campaign, area.villages[0])
    operator, camat = area.operators[0], area.camats[0]
    assert _passed(campaign, area.dpmp) == [0, 0, 0]
    fill_profile(case)
    perform(case, "submit", operator)
    assert case.state == "verification"
    assert _passed(campaign, area.dpmp) == [1, 0, 0]
    perform(
        case,
        "return",
        camat,
        data={"reasons": {"jumlah_kk": "Jumlah KK tidak sesuai data Dukcapil."}},
    )
    assert case.state == "returned"
    assert _passed(campaign, area.dpmp) == [0, 0, 0]
    perform(case, "submit", operator)
    perform(case, "verify", camat)
    assert _passed(campaign, area.dpmp) == [1, 1, 0]
    perform(case, "validate", area.dpmp)
    assert case.state == "validated"
    assert _passed(campaign, area.dpmp) == [1, 1, 1]
    # The operator heard of the return, the camat of the submission.
    kinds = {(n.user_id, n.kind) for n in db.session.scalars(select(Notification))}
    assert (operator.id, "return") in kinds and (camat.id, "submit") in kinds
    assert verify_all() == []


def test_overdue_units_are_named(area):
    campaign = area.launch()
    late = DEADLINE + timedelta(days=3)
    summ = camp.summary(campaign, area.dpmp, today=late)
    first = next(r for r in summ.rows if r.code == area.districts[0].code)
    assert first.overdue == 3
    assert first.overdue_names == [v.name for v in area.villages[:3]]
    assert summ.districts_left == [d.name for d in area.districts]
    only_late = camp.summary(campaign, area.dpmp, today=TODAY, show="overdue")
    assert only_late.rows == []


def test_dashboard_queries_do_not_grow_with_units(app):
    def statements(villages):
        area = Area(villages, with_people=False)
        campaign = area.launch(holders=[], allow_unassigned=True)
        db.session.expire_all()
        campaign = db.session.get(Campaign, campaign.id)
        with counting_statements() as seen:
            camp.summary(campaign, area.admin, today=DEADLINE + timedelta(days=1))
            camp.units(campaign, area.admin, district=area.districts[0].code)
        return len(seen)

    assert statements((3, 2)) == statements((15, 15))


def test_bulk_remind_reaches_the_owners(area):
    campaign = area.launch()
    cases = [area.case_of(campaign, v) for v in area.villages[:2]]
    outcomes = camp.bulk_remind(area.dpmp, campaign, [c.id for c in cases] + [999999], "Segera")
    assert [o.ok for o in outcomes] == [True, True, False]
    assert outcomes[2].status == 404
    got = {n.user_id for n in db.session.scalars(select(Notification)) if n.kind == "remind"}
    assert got == {area.operators[0].id, area.operators[1].id}
    # Once a day per case.
    again = camp.bulk_remind(area.dpmp, campaign, [cases[0].id])
    assert not again[0].ok


# ---------------------------------------------------------------- reminders


def test_remind_includes_campaign_cases(area, app):
    app.config.update(REMIND_DAYS_BEFORE=2, REMIND_HOUR=7, MAIL_SEND_IMMEDIATELY=False)
    campaign = area.launch()
    operator = area.operators[0]
    with time_machine.travel(datetime(2026, 3, 27, 1, 0), tick=False):  # Friday 08:00 WIB
        reminders.collect()
    soon = db.session.scalars(select(Reminder).where(Reminder.kind == "due_soon")).all()
    assert {r.user_id for r in soon} == {u.id for u in area.operators}
    # After the deadline: the operators are late; the camat and DPMP hear of it.
    with time_machine.travel(datetime(2026, 4, 1, 1, 0), tick=False):
        outcome = reminders.run()
    late = db.session.scalars(select(Reminder).where(Reminder.kind == "overdue")).all()
    case = area.case_of(campaign, area.villages[0])
    on_case = {(r.user_id, r.role) for r in late if r.case_id == case.id}
    assert on_case == {
        (operator.id, "operator"),
        (area.camats[0].id, "camat"),
        (area.dpmp.id, "dpmp"),
    }
    assert outcome.digests.items > 0
    digest = db.session.scalar(
        select(Notification).where(
            Notification.user_id == area.camats[0].id, Notification.kind == "reminder"
        )
    )
    assert digest is not None
    # A closed campaign is no longer reminded.
    camp.close(campaign, area.admin)
    with time_machine.travel(datetime(2026, 4, 3, 1, 0), tick=False):
        assert reminders.plan() == []
