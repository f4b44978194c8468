"""Region-unit cases (a pekon of a campaign) on the generic case services: available
actions, notification and mail texts, delegation of a declared role. The definition is a
small test flow (tests/data/region_cases), loaded beside the shipped ones; the campaign,
its members and its cases are built here row by row, without the campaigns service.

RegionWorld and the `region_app` fixture are shared with the HTTP and reach tests."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests import factories
from workflow.engine import registry
from workflow.extensions import db
from workflow.models import (
    AuditEvent,
    Campaign,
    CampaignMember,
    Case,
    Institution,
    Notification,
    Region,
)
from workflow.models._base import utcnow
from workflow.services import Blocked, mail, notifications, perform
from workflow.services import delegations as delegation_service
from workflow.services.actions import available_actions

ROOT = Path(__file__).resolve().parent.parent
REGION_DIR = ROOT / "tests" / "data" / "region_cases"
KEY = "region_profile_test"
DEADLINE = date(2026, 9, 30)


def definitions_dir() -> str:
    shipped = os.environ.get("AKSI_DEFINITIONS_DIR", str(ROOT / "state_machines"))
    return os.pathsep.join([shipped, str(REGION_DIR)])


@pytest.fixture
def region_app(make_app):
    app = make_app(DEFINITIONS_DIR=definitions_dir())
    with app.app_context():
        yield app


class RegionWorld:
    """Kabupaten Lampung Barat with the kecamatan Sukau (pekon Tanjung Raya and Hanakau) and
    Balik Bukit (pekon Way Mengaku); a campaign over the regency with an operator per pekon,
    the camat of Sukau, a DPMP validator; a case per pekon of Sukau (and `extra` more)."""

    def __init__(self, extra: int = 0):
        self.province = Region(level="province", name="Lampung", code="18")
        self.regency = Region(
            level="regency",
            name="Kabupaten Lampung Barat",
            code="18.04",
            kind="kabupaten",
            parent=self.province,
        )
        self.sukau = Region(level="district", name="Sukau", code="18.04.11", parent=self.regency)
        self.balik_bukit = Region(
            level="district", name="Balik Bukit", code="18.04.04", parent=self.regency
        )
        self.tanjung_raya = self._pekon("Tanjung Raya", "18.04.11.2001", self.sukau)
        self.hanakau = self._pekon("Hanakau", "18.04.11.2002", self.sukau)
        self.way_mengaku = self._pekon("Way Mengaku", "18.04.04.2001", self.balik_bukit)
        self.institution = Institution(
            code="dpmp-lambar", name="DPMP Lampung Barat", timezone="Asia/Jakarta"
        )
        self.campaign = Campaign(
            institution=self.institution,
            name="Profil Pekon 2026",
            definition_key=KEY,
            definition_version=1,
            region=self.regency,
            deadline=DEADLINE,
        )
        db.session.add_all([self.province, self.campaign])
        self.operator = factories.create_user(name="Operator Tanjung Raya")
        self.operator2 = factories.create_user(name="Operator Hanakau")
        self.camat = factories.create_user(name="Camat Sukau", institution=self.institution)
        self.dpmp = factories.create_user(name="Validator DPMP")
        self.stranger = factories.create_user(name="Orang Lain")
        self.member("operator", self.operator, self.tanjung_raya)
        self.member("operator", self.operator2, self.hanakau)
        self.member("camat", self.camat, self.sukau)
        self.member("dpmp", self.dpmp, self.regency)
        self.case = self.add_case(self.tanjung_raya)
        self.case2 = self.add_case(self.hanakau)
        for i in range(extra):
            pekon = self._pekon(f"Pekon Tambahan {i}", f"18.04.11.{2100 + i}", self.sukau)
            self.add_case(pekon)
        db.session.commit()

    def _pekon(self, name: str, code: str, district: Region) -> Region:
        return Region(level="village", name=name, code=code, kind="pekon", parent=district)

    def member(self, role: str, user, region: Region) -> None:
        db.session.add(
            CampaignMember(
                campaign=self.campaign, role=role, user=user, region=region, region_code=region.code
            )
        )

    def add_case(self, pekon: Region, state: str = "filling") -> Case:
        case = Case(
            campaign=self.campaign,
            region=pekon,
            region_code=pekon.code,
            definition_key=KEY,
            definition_version=1,
            state=state,
            state_entered_at=utcnow(),
            due_date=DEADLINE,
        )
        db.session.add(case)
        db.session.flush()
        return case


@pytest.fixture
def region(region_app):
    return RegionWorld()


def to_verification(w: RegionWorld, case: Case | None = None) -> Case:
    case = case or w.case
    perform(case, "submit", w.operator if case is w.case else w.operator2)
    return case


# ---------------------------------------------------------------- actions


@pytest.mark.parametrize(
    ("state", "role", "triggers"),
    [
        ("filling", "operator", ["submit"]),
        ("filling", "camat", []),
        ("verification", "camat", ["verify", "return"]),
        ("verification", "operator", []),
        ("validation", "dpmp", ["validate"]),
        ("validation", "camat", []),
    ],
)
def test_available_actions_follow_the_declared_roles(region, state, role, triggers):
    region.case.state = state
    db.session.commit()
    actions = available_actions(region.case, getattr(region, role))
    assert [a.trigger for a in actions] == triggers


def test_a_return_with_reasons_names_its_form(region):
    to_verification(region)
    (ret,) = [a for a in available_actions(region.case, region.camat) if a.trigger == "return"]
    assert ret.form_reasons == "profil" and ret.needs_form


def test_another_pekons_operator_has_no_action(region):
    assert available_actions(region.case, region.operator2) == []


# ---------------------------------------------------------------- notifications and mail


def test_notification_and_mail_name_the_unit_and_campaign(region):
    to_verification(region)
    note = db.session.query(Notification).filter_by(user_id=region.camat.id).one()
    items, total = notifications.page_of(region.camat.id, page=1, per_page=10)
    assert total == 1 and items[0].note.id == note.id
    words = items[0].text("en")
    assert words["title"] == "Pekon Tanjung Raya · Profil Pekon 2026"
    assert (
        words["summary"] == "Operator Tanjung Raya Submit — Pekon Tanjung Raya · Profil Pekon 2026"
    )
    assert words["state"] == "District verification"
    message = mail.compose(items[0], region.camat)
    body = message.get_content()
    assert "Pekon Tanjung Raya" in message["Subject"]
    assert "Pekon Tanjung Raya · Profil Pekon 2026" in body
    assert "Status sekarang" in body or "Status now" in body


@pytest.mark.parametrize(
    ("level", "kind", "name", "shown"),
    [
        ("village", "pekon", "Tanjung Raya", "Pekon Tanjung Raya"),
        ("village", None, "Sukamaju", "Desa Sukamaju"),
        ("village", "kelurahan", "Kelurahan Way Mengaku", "Kelurahan Way Mengaku"),
        ("district", None, "Sukau", "Kec. Sukau"),
        ("district", "kecamatan", "Sukau", "Kec. Sukau"),
        ("regency", "kabupaten", "Kabupaten Lampung Barat", "Kabupaten Lampung Barat"),
        ("province", None, "Lampung", "Provinsi Lampung"),
    ],
)
def test_unit_names_as_officials_write_them(level, kind, name, shown):
    assert notifications.unit_name(Region(level=level, kind=kind, name=name)) == shown


def test_unit_chain_stops_at_the_regency(region):
    assert notifications.unit_chain(region.tanjung_raya) == [
        "Pekon Tanjung Raya",
        "Kec. Sukau",
        "Kabupaten Lampung Barat",
    ]


# ---------------------------------------------------------------- delegation of a declared role


def test_the_camat_names_an_acting_camat_who_acts_on_their_behalf(region):
    acting = factories.create_user(name="Sekcam Sukau")
    to_verification(region)
    assert "camat" in delegation_service.role_labels()
    # Labelled as a definition declaring it says (the first loaded, when several do).
    declared = {d.role_label("camat", "en") for d in registry.all() if "camat" in d.role_keys}
    assert delegation_service.role_label("camat", "en") in declared
    today = delegation_service.today_for(region.camat)
    delegation_service.create_delegation(
        region.camat,
        acting,
        "camat",
        "plh",
        today,
        today + timedelta(days=5),
        "Cuti",
        region.camat,
    )
    assert [a.trigger for a in available_actions(region.case, acting)] == ["verify", "return"]
    event = perform(region.case, "verify", acting)
    assert event.on_behalf_of_id == region.camat.id and event.actor_id == acting.id
    assert region.case.state == "validation"


def test_one_who_does_not_hold_the_role_cannot_delegate_it(region):
    acting = factories.create_user()
    today = delegation_service.today_for(region.operator)
    with pytest.raises(Blocked) as refused:
        delegation_service.create_delegation(
            region.operator, acting, "camat", "plh", today, today, "", region.operator
        )
    assert "role" in refused.value.fields
    assert db.session.query(AuditEvent).count() == 0
    assert delegation_service.holds_role(region.operator, "operator")
    assert not delegation_service.holds_role(region.operator, "camat")


def test_a_role_not_declared_delegable_is_refused(region):
    today = delegation_service.today_for(region.camat)
    with pytest.raises(Blocked) as refused:
        delegation_service.create_delegation(
            region.camat, region.stranger, "pendamping", "plh", today, today, "", region.camat
        )
    assert "role" in refused.value.fields
