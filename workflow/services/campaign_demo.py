"""The demo's profil pekon campaign: DPMP Lampung Barat has every pekon of the regency fill
its profile by a date a few weeks ahead. Demo only; called at the end of the demo's build.

The official regions of Lampung are loaded from the idn-area-data package (as `flask aksi
regions load --province 18` does), so the campaign runs over the real 15 kecamatan and 136
pekon. Its history is the news story: 14 kecamatan done or nearly, Sukau left behind. Every
step is a perform() on a past date (clock_at), as in the rest of the demo, and every profile
is saved through the forms service: the data passes the same checks a person's would.

Accounts (password aksi-demo): `operator` (Pekon Buay Nyerupa, Sukau: the profile half
filled), `camat` (Kecamatan Sukau: profiles to verify, one of them late), `dpmp` (the
validators of DPMP Lampung Barat over the regency: profiles to validate).
"""

from __future__ import annotations

import random
import re
import secrets
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from ..extensions import db
from ..models import Agency, Case, Institution, InstitutionHoliday, Region, User
from ..models._base import clock_at

PASSWORD = "aksi-demo"
ACCOUNTS = [
    ("operator", "Operator pekon / village operator (Pekon Buay Nyerupa, Sukau): profil pekon"),
    ("camat", "Camat Sukau / district verifier: profil pekon to verify"),
    ("dpmp", "DPMP Lampung Barat / validator: profil pekon to validate"),
]
SEED = 20261124
PROVINCE = "18"
REGENCY = "18.04"  # Kabupaten Lampung Barat
SUKAU = "18.04.11"
OPERATOR_PEKON = "18.04.11.2003"  # Buay Nyerupa, the seat of Kecamatan Sukau
CAMPAIGN_NAME = "Profil Pekon 2026"
DEFINITION = "profil_pekon"
FORM = "profil"
INSTITUTION_CODE = "dpmp-lambar"
# Launched about six weeks ago; due three weeks from the day the demo is loaded.
LAUNCHED_DAYS_AGO = 30  # working days
DEADLINE_IN_DAYS = 21  # calendar days

# The news story: 14 kecamatan done, Sukau left behind. Elsewhere every profile is
# validated (some after a return); in Sukau they stand at every step, by official code:
#   filling:  the operator has saved part of it (empty: not a word yet)
#   returned: sent back with reasons per field
#   verification / validation: waiting for the camat / DPMP
#   _late:    longer ago than the five working days the step allows (shown overdue)
SUKAU_PLAN = {
    "18.04.11.2001": "validated",  # Tanjung Raya
    "18.04.11.2002": "verification_late",  # Hanakau
    "18.04.11.2003": "operator",  # Buay Nyerupa: the `operator` account's, half filled
    "18.04.11.2004": "filling_empty",  # Tapak Siring
    "18.04.11.2005": "returned_late",  # Jaga Raga
    "18.04.11.2009": "validation",  # Pagar Dewa
    "18.04.11.2012": "returned",  # Suka Mulya
    "18.04.11.2018": "verification",  # Bandar Baru
    "18.04.11.2019": "validated",  # Bumi Jaya
    "18.04.11.2020": "validation_late",  # Teba Pering Jaya
}
# Main commodities by kecamatan: robusta coffee almost everywhere, rice in the Suoh valley,
# fish on Lake Ranau (Lumbok Seminung), vegetables on the high ground.
COMMODITIES = {
    "Balik Bukit": ["kopi", "kopi", "sayuran", "padi"],
    "Sukau": ["kopi", "sayuran", "padi"],
    "Lumbok Seminung": ["perikanan", "kopi", "padi"],
    "Belalau": ["kopi", "kopi", "padi"],
    "Batu Brak": ["kopi", "padi", "sayuran"],
    "Kebun Tebu": ["kopi", "sayuran"],
    "Sumber Jaya": ["kopi"],
    "Way Tenong": ["kopi", "sayuran"],
    "Air Hitam": ["kopi", "lada"],
    "Gedung Surian": ["kopi", "sayuran"],
    "Pagar Dewa": ["kopi", "lada"],
    "Bandar Negeri Suoh": ["padi", "kakao", "kopi"],
    "Suoh": ["padi", "kakao"],
    "Batu Ketulis": ["kopi", "lada"],
    "Sekincau": ["kopi", "sayuran"],
}
LIVELIHOOD = {"perikanan": "nelayan", "sayuran": "petani", "padi": "petani"}
PROBLEMS = [
    "Jalan penghubung antardusun rusak dan licin pada musim hujan, sehingga pengangkutan "
    "hasil kebun ke pasar terhambat dan ongkos angkut naik.",
    "Harga kopi robusta di tingkat petani naik turun; belum ada gudang dan pengolahan "
    "pascapanen bersama, sehingga petani menjual kopi asalan.",
    "Sarana air bersih belum menjangkau dusun di perbukitan; warga masih mengambil air dari "
    "mata air yang jauh pada musim kemarau.",
    "Ruas jalan pekon rawan longsor pada musim hujan; belum ada talud dan saluran drainase.",
    "Anak yang melanjutkan ke SMA masih sedikit karena jarak sekolah jauh dan biaya "
    "transportasi tinggi.",
    "Sinyal telepon seluler lemah di sebagian dusun, sehingga layanan administrasi pekon "
    "secara daring belum berjalan.",
    "Sawah masih tadah hujan; saluran irigasi pekon rusak dan belum diperbaiki.",
    "Produktivitas kebun kopi menurun karena tanaman sudah tua dan peremajaan belum merata.",
]
LOCAL_PROBLEMS = {
    "Lumbok Seminung": "Hasil tangkapan ikan di Danau Ranau menurun dan keramba jaring apung "
    "mencemari perairan di sekitar pekon.",
    "Suoh": "Lahan sawah di sekitar Danau Suoh tergenang saat hujan lebat; akses jalan ke "
    "pusat kecamatan terputus beberapa hari.",
    "Bandar Negeri Suoh": "Sebagian kebun berbatasan dengan Taman Nasional Bukit Barisan "
    "Selatan; gangguan gajah liar masih terjadi.",
    "Batu Ketulis": "Sebagian kebun berbatasan dengan kawasan hutan lindung; status lahan "
    "garapan warga belum jelas.",
}
POTENTIAL = {
    "Lumbok Seminung": "Wisata Danau Ranau dan budi daya ikan air tawar.",
    "Suoh": "Wisata alam Kawah Keramikan dan Danau Suoh; padi sawah dan kakao.",
    "Bandar Negeri Suoh": "Wisata alam Danau Suoh; kakao dan padi sawah.",
    "Sukau": "Agrowisata kopi dan sayuran dataran tinggi di lereng Gunung Pesagi.",
    "Balik Bukit": "Pusat perdagangan dan jasa di Liwa; kopi bubuk produksi rumah tangga.",
    "Sekincau": "Kebun teh dan sayuran dataran tinggi; wisata alam Gunung Sekincau.",
}
GENERIC_POTENTIAL = [
    "Kopi robusta petik merah dan kopi bubuk olahan kelompok wanita tani.",
    "Pengembangan BUMPekon untuk pemasaran kopi dan hasil kebun.",
    "Wisata air terjun dan alam pegunungan yang belum dikelola.",
    "Peternakan kambing dan pupuk organik dari kulit kopi.",
]
FARMER_GROUPS = ["Sumber Rezeki", "Sido Makmur", "Tunas Harapan", "Maju Bersama", "Sinar Pagi"]
FARMER_GROUPS += ["Mekar Jaya", "Sepakat", "Karya Tani", "Harapan Baru", "Suka Maju"]
# Returns: (field, reason, how the operator fixes the value).
RETURNS = [
    ("jumlah_kk", "Jumlah KK berbeda dengan data Disdukcapil per 31 Desember; mohon disesuaikan."),
    ("luas_wilayah", "Luas wilayah tidak sesuai Perbup penetapan batas pekon; mohon dicek lagi."),
    (
        "rumah_tangga_berlistrik",
        "Persentase rumah tangga berlistrik lebih tinggi dari data PLN ULP Liwa; mohon diperiksa.",
    ),
    ("jumlah_posyandu", "Jumlah posyandu belum sesuai data Puskesmas kecamatan."),
    (
        "masalah_utama",
        "Uraikan masalah lebih rinci: lokasi (dusun) dan jumlah KK yang terdampak.",
    ),
]
VERIFY_NOTES = ["", "", "Data sesuai hasil klarifikasi dengan peratin.", "Sudah sesuai."]
VALIDATE_NOTES = ["", "", "", "Tervalidasi; data dipakai untuk penyusunan RPJM Pekon."]


@dataclass
class Unit:
    region: Region
    district: Region
    plan: str
    case: Case | None = None
    operator: User | None = None
    data: dict = field(default_factory=dict)
    returned: list[str] = field(default_factory=list)
    ids: tuple[int, int] = (0, 0)


def seed(builder) -> None:
    """Load Lampung's official regions, the DPMP Lampung Barat institution and people, and
    run the campaign. `builder` is the demo's _Builder (its dates, people helpers and names);
    call it at the end of its build()."""
    _Campaign(builder).run()


def load_regions() -> None:
    """`flask aksi regions load --province 18`, in the current transaction. The demo's
    hand-made kecamatan of Lampung Barat ("Kecamatan Sukau", no code) first get their
    official code, so the load renames them instead of adding the regency a second Sukau."""
    from . import regions

    source = regions.read_source(None, [PROVINCE])
    official = {
        u.name.casefold(): u.code
        for u in source.units["district"]
        if u.code.startswith(REGENCY + ".")
    }
    regency = db.session.scalar(select(Region).where(Region.code == REGENCY))
    if regency is None:
        return
    loose = db.session.scalars(
        select(Region).where(
            Region.parent_id == regency.id, Region.level == "district", Region.code.is_(None)
        )
    ).all()
    taken = set(db.session.scalars(select(Region.code).where(Region.code.like(REGENCY + ".%"))))
    for r in loose:
        code = official.get(r.name.removeprefix("Kecamatan ").casefold())
        if code and code.startswith(REGENCY + ".") and code not in taken:
            r.code = code
            taken.add(code)
    db.session.flush()
    regions.load(source)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


class _Campaign:
    def __init__(self, builder):
        from .demo import Timeline

        self.b = builder
        self.today: date = builder.today
        self.rng = random.Random(SEED)
        self.Timeline = Timeline
        self._hash = None

    # ---- people --------------------------------------------------------------------------
    def demo_hash(self) -> str:
        if self._hash is None:
            self._hash = getattr(self.b, "demo_hash", None) or generate_password_hash(PASSWORD)
        return self._hash

    def asn(self, name, position, username, grade, region, agency, female=None) -> User:
        # The campaign's members are the institution's people (its application's accounts).
        u = self.b.user(
            name,
            position,
            username=username,
            grade=grade,
            agency=agency,
            institution=self.institution,
            female=female,
            office_region=region,
        )
        if username in {a for a, _ in ACCOUNTS}:
            u.password_hash = self.demo_hash()
        return u

    def operator(self, unit: Unit, name: str | None = None, username: str | None = None) -> User:
        """A pekon's operator: a perangkat pekon, no ASN (no NIP, no pangkat)."""
        from .demo import FEMALE, MALE, SURNAME_F, SURNAME_M

        female = self.rng.random() < 0.45
        while name is None:
            first = self.rng.choice(FEMALE if female else MALE)
            last = self.rng.choice(SURNAME_F if female else SURNAME_M)
            candidate = f"{first} {last}"
            if candidate not in self.b.names and first[:4] != last[:4]:
                name = candidate
        self.b.names.add(name)
        if username is None:
            base = "op." + _slug(unit.region.name)
            username, n = base, 2
            while username in self.b.usernames:
                username, n = f"{base}{n}", n + 1
        self.b.usernames.add(username)
        kind = "Kelurahan" if unit.region.kind == "kelurahan" else "Pekon"
        u = User(
            username=username,
            name=name,
            position=f"Operator {kind} {unit.region.name}, Kecamatan {unit.district.name}",
            office_region_id=unit.region.id,
            institution_id=self.institution.id,
            password_hash=(
                self.demo_hash()
                if username == "operator"
                else generate_password_hash(secrets.token_urlsafe(32), method="pbkdf2:sha256:1000")
            ),
        )
        db.session.add(u)
        return u

    # ---- the run -------------------------------------------------------------------------
    def run(self) -> None:
        db.session.commit()
        db.session.expunge_all()
        load_regions()
        regency = db.session.scalar(select(Region).where(Region.code == REGENCY))
        districts = {
            r.id: r
            for r in db.session.scalars(
                select(Region).where(Region.level == "district", Region.code.like(REGENCY + ".%"))
            )
        }
        villages = db.session.scalars(
            select(Region)
            .where(Region.level == "village", Region.code.like(REGENCY + ".%"))
            .order_by(Region.code)
        ).all()
        self.institution = self.build_institution(regency)
        db.session.flush()
        self.units = [Unit(v, districts[v.parent_id], self.plan_of(v)) for v in villages]
        self.build_people(regency, districts)
        db.session.flush()
        self.launch(regency)
        db.session.commit()
        self.play()

    def plan_of(self, village: Region) -> str:
        district = village.code.rsplit(".", 1)[0]
        if district == SUKAU:
            return SUKAU_PLAN.get(village.code, "filling")
        return "validated"

    def build_institution(self, regency: Region) -> Institution:
        inst = Institution(
            code=INSTITUTION_CODE,
            name="Dinas Pemberdayaan Masyarakat dan Pekon Kabupaten Lampung Barat",
            timezone="Asia/Jakarta",
            city="Liwa",
            region_id=regency.id,
        )
        for year in (self.today.year, self.today.year + 1):
            inst.holidays.append(
                InstitutionHoliday(day=date(year, 9, 24), name="Hari Jadi Kabupaten Lampung Barat")
            )
        db.session.add(inst)
        return inst

    def build_people(self, regency: Region, districts: dict[int, Region]) -> None:
        dpmp_agency = db.session.get(Agency, self.b.dpmp_lambar.id)
        # Each kecamatan's office: the camat verifies (the `camat` account for Sukau).
        self.camats: dict[str, User] = {}
        for d in sorted(districts.values(), key=lambda r: r.code or ""):
            agency = Agency(name=f"Kecamatan {d.name}", short_name=f"Kec. {d.name}", region_id=d.id)
            db.session.add(agency)
            db.session.flush()
            if d.code == SUKAU:
                self.camats[d.code] = self.asn(
                    "Syamsul Hidayat, S.STP., M.Si.",
                    "Camat Sukau",
                    "camat",
                    "bidang",
                    d,
                    agency,
                    female=False,
                )
            else:
                female = self.b.rng.random() < 0.3
                self.camats[d.code] = self.asn(
                    self.b.person_name(female), f"Camat {d.name}", None, "bidang", d, agency, female
                )
        # DPMP's validators: the `dpmp` account and a colleague.
        self.dpmp = self.asn(
            "Rina Oktaviani, S.IP., M.AP.",
            "Kepala Seksi Administrasi Pemerintahan Pekon pada Dinas Pemberdayaan Masyarakat "
            "dan Pekon Kabupaten Lampung Barat",
            "dpmp",
            "pkp",
            regency,
            dpmp_agency,
            female=True,
        )
        self.dpmp2 = self.asn(
            self.b.person_name(False),
            "Analis Pemerintahan Pekon pada Dinas Pemberdayaan Masyarakat dan Pekon "
            "Kabupaten Lampung Barat",
            None,
            "staff",
            regency,
            dpmp_agency,
            female=False,
        )
        # The institution's admin launches the campaign.
        self.admin = self.asn(
            self.b.person_name(True),
            "Pranata Komputer Ahli Pertama pada Dinas Pemberdayaan Masyarakat dan Pekon "
            "Kabupaten Lampung Barat",
            None,
            "staff",
            regency,
            dpmp_agency,
            female=True,
        )
        self.admin.is_admin = True
        for unit in self.units:
            if unit.region.code == OPERATOR_PEKON:
                unit.operator = self.operator(unit, "Dedi Saputra", "operator")
            else:
                unit.operator = self.operator(unit)

    def launch(self, regency: Region) -> None:
        from . import campaigns

        self.launched = self.b.earlier(self.today, LAUNCHED_DAYS_AGO)
        self.deadline = self.b.day(DEADLINE_IN_DAYS)
        tl = self.timeline()
        members = (
            [("operator", u.operator, u.region) for u in self.units]
            + [("camat", camat, _district(self.units, code)) for code, camat in self.camats.items()]
            + [("dpmp", self.dpmp, regency), ("dpmp", self.dpmp2, regency)]
        )
        with clock_at(tl.at(self.launched, 8 * 60, 10 * 60)):
            self.campaign = campaigns.launch(
                self.institution,
                self.admin,
                DEFINITION,
                CAMPAIGN_NAME,
                REGENCY,
                self.deadline,
                [campaigns.Holder(*m) for m in members],
                today=self.launched,
            )
        cases = {
            c.region_id: c
            for c in db.session.scalars(select(Case).where(Case.campaign_id == self.campaign.id))
        }
        for unit in self.units:
            unit.case = cases[unit.region.id]

    def timeline(self):
        return self.Timeline("Asia/Jakarta", self.b.limit, self.rng)

    # ---- the history ---------------------------------------------------------------------
    def play(self) -> None:
        from .workflow import perform

        self.perform = perform
        for unit in self.units:
            unit.data = profile(
                unit.region, unit.district, random.Random(f"{SEED}:{unit.region.code}")
            )
            unit.ids = (unit.case.id, unit.operator.id)
        camats = {code: u.id for code, u in self.camats.items()}
        validators = (self.dpmp.id, self.dpmp2.id)
        db.session.commit()
        for unit in self.units:
            # One unit at a time in the session: each commit flushes only what it touched.
            db.session.expunge_all()
            unit.case = db.session.get(Case, unit.ids[0])
            unit.operator = db.session.get(User, unit.ids[1])
            self.camat = db.session.get(User, camats[unit.district.code])
            self.validators = [db.session.get(User, i) for i in validators]
            self.play_unit(unit)
            db.session.commit()
        db.session.expunge_all()

    def play_unit(self, unit: Unit) -> None:
        plan = unit.plan
        tl = self.timeline()
        tl.at(self.launched)  # nothing before the launch
        yesterday = self.b.yesterday
        if plan == "filling_empty":
            return
        if plan in ("filling", "operator"):
            day = self.b.earlier(self.today, self.rng.randint(1, 8))
            self.save(unit, {k: v for k, v in unit.data.items() if k in PARTIAL}, tl.at(day))
            return
        # Submitted: when depends on how far it went and whether it is late.
        late = plan.endswith("_late")
        state = plan.removesuffix("_late")
        if state == "verification":
            submit_day = self.b.earlier(self.today, 8 if late else self.rng.randint(0, 2))
        elif state in ("validation", "returned"):
            submit_day = self.b.earlier(self.today, self.rng.randint(12, 20))
        else:
            submit_day = self.b.earlier(self.today, self.rng.randint(6, LAUNCHED_DAYS_AGO - 4))
        submit_day = max(submit_day, self.b.later(self.launched, 2))
        fill_day = self.b.earlier(submit_day, self.rng.randint(0, 3))
        fill_day = max(fill_day, self.b.later(self.launched, 1))
        self.save(unit, unit.data, tl.at(fill_day))
        self.act(unit, "submit", unit.operator, tl.at(submit_day))
        if state == "verification":
            return
        camat = self.camat
        # Some profiles go back once before they pass (camat or DPMP), and are fixed.
        bounce = state == "validated" and self.rng.random() < 0.08
        verify_day = min(self.b.later(submit_day, self.rng.randint(1, 4)), yesterday)
        if state == "returned":
            back_day = self.b.earlier(self.today, 9 if late else self.rng.randint(1, 3))
            self.give_back(unit, camat, tl.at(max(back_day, submit_day)))
            return
        if bounce and self.rng.random() < 0.6:
            self.give_back(unit, camat, tl.at(verify_day))
            fixed = min(self.b.later(verify_day, self.rng.randint(1, 3)), yesterday)
            self.fix(unit, tl.at(fixed))
            self.act(unit, "submit", unit.operator, tl.at(fixed))
            verify_day = min(self.b.later(fixed, self.rng.randint(1, 2)), yesterday)
            bounce = False
        if state == "validation":
            verify_day = self.b.earlier(self.today, 8 if late else self.rng.randint(0, 3))
        self.act(unit, "verify", camat, tl.at(verify_day), self.rng.choice(VERIFY_NOTES))
        if state == "validation":
            return
        validator = self.validators[0 if self.rng.random() < 0.7 else 1]
        validate_day = min(self.b.later(verify_day, self.rng.randint(1, 5)), yesterday)
        if bounce:
            self.give_back(unit, validator, tl.at(validate_day))
            fixed = min(self.b.later(validate_day, self.rng.randint(1, 3)), yesterday)
            self.fix(unit, tl.at(fixed))
            self.act(unit, "submit", unit.operator, tl.at(fixed))
            self.act(unit, "verify", camat, tl.at(fixed), "Perbaikan sudah sesuai.")
            validate_day = min(self.b.later(fixed, self.rng.randint(1, 2)), yesterday)
        self.act(unit, "validate", validator, tl.at(validate_day), self.rng.choice(VALIDATE_NOTES))

    def save(self, unit: Unit, data: dict, moment) -> None:
        from . import forms

        with clock_at(moment):
            entry = forms.entry_of(unit.case, FORM)
            forms.save(unit.case, FORM, data, unit.operator, forms.version_of(entry), atomic=True)
        db.session.commit()

    def act(self, unit: Unit, trigger: str, actor: User, moment, comment: str = "", data=None):
        with clock_at(moment):
            self.perform(unit.case, trigger, actor, comment=comment or None, data=data)

    def give_back(self, unit: Unit, actor: User, moment) -> None:
        picks = self.rng.sample(RETURNS, self.rng.choice((1, 1, 2)))
        unit.returned = [f for f, _ in picks]
        self.act(unit, "return", actor, moment, data={"reasons": dict(picks)})

    def fix(self, unit: Unit, moment) -> None:
        changed = {}
        for name in unit.returned:
            changed[name] = fixed_value(name, unit.data)
        unit.data.update(changed)
        self.save(unit, changed, moment)


def _district(units: list[Unit], code: str) -> Region:
    return next(u.district for u in units if u.district.code == code)


# The part of a profile an operator fills first: population and natural resources.
PARTIAL = (
    "penduduk_laki_laki",
    "penduduk_perempuan",
    "jumlah_penduduk",
    "jumlah_kk",
    "luas_wilayah",
    "luas_lahan_pertanian",
    "luas_sawah",
    "komoditas_utama",
)


def profile(village: Region, district: Region, rng: random.Random) -> dict:
    """A credible profil pekon of a Lampung Barat village (all checks pass)."""
    kelurahan = village.kind == "kelurahan"
    total = rng.randint(3500, 7000) if kelurahan else rng.randint(850, 3600)
    men = round(total * rng.uniform(0.50, 0.525))
    households = round(total / rng.uniform(3.4, 3.9))
    area = rng.randint(250, 900) if kelurahan else rng.randint(400, 4800)
    farmland = round(area * rng.uniform(0.2, 0.35) if kelurahan else area * rng.uniform(0.4, 0.72))
    commodity = rng.choice(COMMODITIES.get(district.name, ["kopi"]))
    paddy_share = rng.uniform(0.3, 0.6) if commodity == "padi" else rng.uniform(0.02, 0.2)
    shares = [0.22, 0.3, 0.21, 0.19, 0.05] if not kelurahan else [0.14, 0.22, 0.22, 0.3, 0.1]
    education = [round(total * s * rng.uniform(0.9, 1.05)) for s in shares]
    if sum(education) > total:
        education[0] -= sum(education) - total
    year = rng.randint(1978, 1990)
    rows = [
        {
            "nama": f"TP PKK {'Kelurahan' if kelurahan else 'Pekon'} {village.name}",
            "jenis": "pkk",
            "tahun_berdiri": year,
        },
        {
            "nama": f"Karang Taruna {village.name}",
            "jenis": "karang_taruna",
            "tahun_berdiri": rng.randint(1995, 2015),
        },
        {
            "nama": f"Kelompok Tani {rng.choice(FARMER_GROUPS)}",
            "jenis": "kelompok_tani",
            "tahun_berdiri": rng.randint(2005, 2020),
        },
    ]
    if not kelurahan and rng.random() < 0.5:
        rows.append({"nama": "Lembaga Adat Saibatin", "jenis": "lembaga_adat"})
    if commodity == "kopi" and rng.random() < 0.35:
        rows.append(
            {
                "nama": f"Koperasi Produsen Kopi {village.name}",
                "jenis": "koperasi",
                "tahun_berdiri": rng.randint(2016, 2024),
            }
        )
    problem = LOCAL_PROBLEMS.get(district.name) if rng.random() < 0.5 else None
    data = {
        "penduduk_laki_laki": men,
        "penduduk_perempuan": total - men,
        "jumlah_penduduk": total,
        "jumlah_kk": households,
        "luas_wilayah": area,
        "luas_lahan_pertanian": farmland,
        "luas_sawah": round(farmland * paddy_share),
        "komoditas_utama": commodity,
        "pendidikan_tidak_tamat_sd": education[0],
        "pendidikan_sd": education[1],
        "pendidikan_smp": education[2],
        "pendidikan_sma": education[3],
        "pendidikan_tinggi": education[4],
        "mata_pencaharian_utama": (
            "pedagang"
            if kelurahan
            else LIVELIHOOD.get(commodity, rng.choice(["pekebun", "petani"]))
        ),
        # A kelurahan has no BPD nor BUMDes (it is not a desa).
        "bpd_ada": not kelurahan,
        "bumdes_ada": not kelurahan and rng.random() < 0.85,
        "lpm_ada": True,
        "jumlah_posyandu": rng.randint(2, 4) + total // 1500,
        "lembaga": rows,
        "panjang_jalan_desa": round(rng.uniform(4, 28), 1),
        "kondisi_jalan": rng.choice(["baik", "sedang", "sedang", "rusak_ringan", "rusak_berat"]),
        "air_bersih": rng.random() < 0.85,
        "rumah_tangga_berlistrik": round(rng.uniform(88, 100), 1),
        "masalah_utama": problem or " ".join(rng.sample(PROBLEMS, 2)),
        "potensi": POTENTIAL.get(district.name) or rng.choice(GENERIC_POTENTIAL),
    }
    if not kelurahan:
        data["jumlah_anggota_bpd"] = rng.choice((5, 7, 7, 9))
    return data


def fixed_value(name: str, data: dict):
    """The corrected value of a returned field (still within its checks)."""
    value = data[name]
    if name == "jumlah_kk":
        return max(1, value - 14)
    if name == "luas_wilayah":
        return value + 35
    if name == "rumah_tangga_berlistrik":
        return round(max(0, value - 4.5), 1)
    if name == "jumlah_posyandu":
        return value + 1
    if name == "masalah_utama":
        return value + " Terdampak terutama Dusun II dan Dusun III (sekitar 120 KK)."
    return value
