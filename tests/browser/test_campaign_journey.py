"""Journey: a pekon's operator fills the profil pekon on a phone — one value out of range is
refused beside its box with what was typed kept — and sends it; the camat returns it with a
reason on one field; the operator sees the reason beside that field, fixes it and sends it
again; the camat verifies, DPMP validates, and the campaign dashboard's count for the
kecamatan moves from 1 of 2 to 2 of 2. Real Chromium, live server, a campaign launched
through the campaigns service over a small region tree."""

from __future__ import annotations

import random
import re
from datetime import date, timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from tests import factories
from tests.browser.conftest import ARTIFACTS, log_in
from workflow.extensions import db
from workflow.models import Case, Institution, Region
from workflow.services import campaign_demo, campaigns, forms, perform

SUKAU, BALIK_BUKIT = "18.04.11", "18.04.04"
MINE, NEIGHBOUR, LIWA = "18.04.11.2003", "18.04.11.2001", "18.04.04.2002"
RETURN_REASON = "Jumlah KK berbeda dengan data Disdukcapil per 31 Desember; mohon disesuaikan."
# What the operator types, box by box (ids f-<field>): text boxes, then the choices.
TYPED = {
    "penduduk_laki_laki": "1214",
    "penduduk_perempuan": "1187",
    "jumlah_penduduk": "2401",
    "jumlah_kk": "702",
    "luas_wilayah": "1850",
    "luas_lahan_pertanian": "1130",
    "luas_sawah": "95",
    "pendidikan_tidak_tamat_sd": "520",
    "pendidikan_sd": "731",
    "pendidikan_smp": "498",
    "pendidikan_sma": "455",
    "pendidikan_tinggi": "118",
    "jumlah_anggota_bpd": "7",
    "jumlah_posyandu": "4",
    "panjang_jalan_desa": "12,5",
    "masalah_utama": "Jalan penghubung antardusun rusak pada musim hujan; pengangkutan kopi "
    "ke pasar Liwa terhambat.",
}
CHOSEN = {"komoditas_utama": "kopi", "mata_pencaharian_utama": "pekebun", "kondisi_jalan": "sedang"}
YES = ("bpd_ada", "bumdes_ada", "lpm_ada", "air_bersih")
VALIDATED = "validation"  # the dashboard column "DPMP validation done"


def setup_campaign() -> dict:
    """Lampung › Lampung Barat › Sukau (two pekon) and Balik Bukit (one); DPMP Lampung
    Barat launches the campaign; the neighbouring pekon of Sukau is already validated."""
    province = Region(level="province", name="Lampung", code="18")
    regency = Region(level="regency", name="Kabupaten Lampung Barat", code="18.04", parent=province)
    sukau = Region(level="district", name="Sukau", code=SUKAU, parent=regency)
    balik_bukit = Region(level="district", name="Balik Bukit", code=BALIK_BUKIT, parent=regency)
    village = {"level": "village", "kind": "desa"}
    pekon = {
        MINE: Region(name="Buay Nyerupa", code=MINE, parent=sukau, **village),
        NEIGHBOUR: Region(name="Tanjung Raya", code=NEIGHBOUR, parent=sukau, **village),
        LIWA: Region(name="Kubu Perahu", code=LIWA, parent=balik_bukit, **village),
    }
    institution = Institution(
        code="dpmp-lambar",
        name="Dinas Pemberdayaan Masyarakat dan Pekon Kabupaten Lampung Barat",
        timezone="Asia/Jakarta",
        city="Liwa",
        region=regency,
    )
    db.session.add_all([province, institution])
    db.session.flush()

    def person(username, name, region, **attrs):
        return factories.create_user(
            username, name=name, institution=institution, office_region=region, **attrs
        )

    admin = person("admin.dpmp", "Admin DPMP", regency, is_admin=True)
    operators = {
        code: person(f"op.{code[-4:]}", f"Operator {r.name}", r) for code, r in pekon.items()
    }
    camat = person("camat.sukau", "Syamsul Hidayat", sukau, position="Camat Sukau")
    camat_bb = person("camat.bb", "Camat Balik Bukit", balik_bukit)
    dpmp = person("dpmp.val", "Rina Oktaviani", regency)
    holders = [("operator", u, pekon[code]) for code, u in operators.items()]
    holders += [("camat", camat, sukau), ("camat", camat_bb, balik_bukit), ("dpmp", dpmp, regency)]
    campaign = campaigns.launch(
        institution,
        admin,
        "profil_pekon",
        "Profil Pekon 2026",
        "18.04",
        date.today() + timedelta(days=21),
        [campaigns.Holder(*h) for h in holders],
    )
    cases = {
        c.region_code: c
        for c in db.session.scalars(select(Case).where(Case.campaign_id == campaign.id))
    }
    # The neighbour went first: filled, sent, verified, validated.
    done = cases[NEIGHBOUR]
    data = campaign_demo.profile(pekon[NEIGHBOUR], sukau, random.Random(1))
    forms.save(done, "profil", data, operators[NEIGHBOUR], 0, atomic=True)
    db.session.commit()
    perform(done, "submit", operators[NEIGHBOUR])
    perform(done, "verify", camat)
    perform(done, "validate", dpmp)
    return {
        "case_id": cases[MINE].id,
        "campaign_id": campaign.id,
        "operator": operators[MINE].username,
        "camat": camat.username,
        "dpmp": dpmp.username,
    }


def new_page(browser, problems, phone: bool = True):
    size = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
    context = browser.new_context(viewport=size, locale="id-ID")
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return context, page


def saved(page) -> None:
    """Wait for the autosave (it fires half a second after the last change) to settle."""
    page.wait_for_timeout(800)
    page.wait_for_load_state("networkidle")
    expect(page.locator("#fs-form")).to_have_class(re.compile(r"\bis-saved\b"))


def validated_count(page, base: str, campaign_id: int) -> str:
    page.goto(f"{base}/campaigns/{campaign_id}")
    cell = page.locator(f'tr[data-district="{SUKAU}"] td[data-stage="{VALIDATED}"] .stage-count')
    return cell.inner_text().strip()


def in_state(page, state: str) -> None:
    expect(page.locator("#case-status .state-label")).to_have_attribute("data-state", state)


def act(page, trigger: str) -> None:
    """Fire an action of the case page: a plain button, or a form under its summary."""
    action = page.locator(f'.actions [data-trigger="{trigger}"]')
    summary = action.locator("summary")
    if summary.count():
        summary.click()
    action.locator("button[type=submit]").click()


def test_operator_fills_camat_returns_one_field_dpmp_validates_dashboard_moves(serve, browser):
    srv = serve(setup_campaign)
    base, case_id, campaign_id = srv["url"], srv["case_id"], srv["campaign_id"]
    problems: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)

    # DPMP's dashboard before: one of Sukau's two pekon validated.
    dpmp_ctx, dpmp = new_page(browser, problems, phone=False)
    log_in(dpmp, base, srv["dpmp"])
    assert re.fullmatch(r"1 (dari|of) 2", validated_count(dpmp, base, campaign_id))

    # The operator, on a phone: home → the pekon's case → the form.
    op_ctx, op = new_page(browser, problems)
    log_in(op, base, srv["operator"])
    op.locator(f'.todo-list a[href="/cases/{case_id}"]').click()
    op.wait_for_url(f"{base}/cases/{case_id}")
    expect(op.locator("h1")).to_contain_text("Buay Nyerupa")
    op.locator(f'a[href="/cases/{case_id}/forms/profil"]').first.click()
    op.wait_for_url(f"{base}/cases/{case_id}/forms/profil")

    # A share above 100 % is refused beside its box; what was typed stays.
    box = op.locator("#f-rumah_tangga_berlistrik")
    box.fill("120")
    box.blur()
    error = op.locator("#e-rumah_tangga_berlistrik")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Rumah tangga yang menikmati listrik")
    expect(error).to_contain_text(re.compile(r"(antara|between) 0\b.* (dan|and) 100 ?%"))
    expect(box).to_have_value("120")
    expect(box).to_have_attribute("aria-invalid", "true")
    error.scroll_into_view_if_needed()
    op.screenshot(path=str(ARTIFACTS / "profil-form-phone.png"))

    # Fixed, and every required box filled; the form saves as it is typed.
    box.fill("96")
    for name, value in TYPED.items():
        op.locator(f"#f-{name}").fill(value)
    for name, value in CHOSEN.items():
        op.locator(f"#f-{name}").select_option(value)
    for name in YES:
        op.locator(f"#f-{name}").check()
    op.locator("#f-masalah_utama").blur()
    saved(op)
    expect(op.locator(".field-error")).to_have_count(0)

    # Sent to the kecamatan from the case page.
    op.goto(f"{base}/cases/{case_id}")
    act(op, "submit")
    in_state(op, "verification")

    # The camat returns it with a reason beside one field only.
    camat_ctx, camat = new_page(browser, problems)
    log_in(camat, base, srv["camat"])
    camat.goto(f"{base}/cases/{case_id}")
    action = camat.locator('.actions [data-trigger="return"]')
    action.locator("summary").first.click()
    reason = action.locator("#return-reasons-jumlah_kk")
    reason.locator("xpath=ancestor::details[1]/summary").click()
    reason.fill(RETURN_REASON)
    action.locator("button[type=submit]").click()
    in_state(camat, "returned")

    # The operator finds the reason beside that field, and no other; fixes it; sends again.
    op.goto(f"{base}/cases/{case_id}/forms/profil")
    note = op.locator("#m-jumlah_kk .form-note")
    expect(note).to_contain_text(RETURN_REASON)
    expect(op.locator(".field-msgs .form-note")).to_have_count(1)
    expect(op.locator("#f-jumlah_kk")).to_have_value("702")
    op.locator("#f-jumlah_kk").fill("688")
    op.locator("#f-jumlah_kk").blur()
    saved(op)
    op.goto(f"{base}/cases/{case_id}")
    act(op, "submit")
    in_state(op, "verification")

    # The camat verifies; DPMP validates.
    camat.goto(f"{base}/cases/{case_id}")
    act(camat, "verify")
    in_state(camat, "validation")
    dpmp.goto(f"{base}/cases/{case_id}")
    act(dpmp, "validate")
    in_state(dpmp, "validated")

    # The dashboard's count for Sukau moved.
    assert re.fullmatch(r"2 (dari|of) 2", validated_count(dpmp, base, campaign_id))
    dpmp.screenshot(path=str(ARTIFACTS / "campaign-dashboard.png"), full_page=True)

    with srv["app"].app_context():
        case = db.session.get(Case, case_id)
        assert case.state == "validated"
        entry = forms.entry_of(case, "profil")
        assert entry.data["jumlah_kk"] == 688 and entry.data["rumah_tangga_berlistrik"] == 96
        assert entry.notes == {}
    for ctx in (op_ctx, camat_ctx, dpmp_ctx):
        ctx.close()
    assert problems == []
