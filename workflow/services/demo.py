"""Demo data for `flask aksi demo`: institutions, regions, agencies, cohorts and cases in
every state of every shipped definition, one login per role. Demo only.

Names, places and the two showcase projects come from the news articles the design cites:
DPMD Kutai Kartanegara's "Penataan Tata Kelola Perencanaan Pembangunan Desa dengan
Pembinaan Secara Terpadu" (endorsed by the Bupati) and DPMP Lampung Barat's pembinaan of
aparatur pekon across its 15 kecamatan. Everything else is generated from a fixed seed, so
two loads on two machines give the same people and projects.

Every state change goes through perform(), so each case carries a real audit trail.
"""

from __future__ import annotations

import random
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import event, select
from werkzeug.security import generate_password_hash

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
    Score,
    User,
)
from ..models._base import utcnow
from .calendar import is_working_day
from .workflow import perform, start_case

PASSWORD = "aksi-demo"
ACCOUNTS = [
    ("peserta", "Peserta / trainee"),
    ("mentor", "Mentor (atasan langsung) / mentor"),
    ("pimpinan", "Pimpinan / executive sponsor"),
    ("coach", "Coach (widyaiswara)"),
    ("penguji", "Penguji / examiner"),
    ("penyelenggara", "Penyelenggara / organizer"),
    ("admin", "Admin"),
]
# The load is skipped when this institution exists: a second run changes nothing.
MARKER_CODE = "bpsdm-kaltim"
SEED = 20261123

LAMPUNG_BARAT_KECAMATAN = [
    "Balik Bukit",
    "Sukau",
    "Lumbok Seminung",
    "Belalau",
    "Batu Brak",
    "Kebun Tebu",
    "Sumber Jaya",
    "Way Tenong",
    "Air Hitam",
    "Gedung Surian",
    "Pagar Dewa",
    "Bandar Negeri Suoh",
    "Suoh",
    "Batu Ketulis",
    "Sekincau",
]
KUKAR_KECAMATAN = [
    "Tenggarong",
    "Tenggarong Seberang",
    "Loa Kulu",
    "Loa Janan",
    "Sebulu",
    "Muara Badak",
    "Anggana",
    "Samboja",
    "Kota Bangun",
    "Muara Kaman",
]
# Kemendagri codes: province → kabupaten/kota.
KALTIM_REGENCIES = [
    ("64.02", "Kabupaten Kutai Kartanegara", "Kukar"),
    ("64.72", "Kota Samarinda", "Samarinda"),
    ("64.71", "Kota Balikpapan", "Balikpapan"),
    ("64.74", "Kota Bontang", "Bontang"),
    ("64.08", "Kabupaten Kutai Timur", "Kutim"),
    ("64.03", "Kabupaten Berau", "Berau"),
    ("64.01", "Kabupaten Paser", "Paser"),
]
LAMPUNG_REGENCIES = [
    ("18.04", "Kabupaten Lampung Barat", "Lambar"),
    ("18.13", "Kabupaten Pesisir Barat", "Pesbar"),
    ("18.06", "Kabupaten Tanggamus", "Tanggamus"),
    ("18.01", "Kabupaten Lampung Selatan", "Lamsel"),
    ("18.71", "Kota Bandar Lampung", "Bandar Lampung"),
]

# Agency kinds: (name pattern, short pattern, units a trainee may head).
AGENCY_KINDS = {
    "pmd": (
        "Dinas Pemberdayaan Masyarakat dan Desa",
        "DPMD",
        ["Administrasi Pemerintahan Desa", "Pemberdayaan Masyarakat", "Keuangan dan Aset Desa"],
    ),
    "pmp": (
        "Dinas Pemberdayaan Masyarakat dan Pekon",
        "DPMP",
        ["Penataan dan Kerjasama Pekon", "Pemberdayaan Masyarakat", "Pemerintahan Pekon"],
    ),
    "plan": (
        "Badan Perencanaan Pembangunan Daerah",
        "Bappeda",
        [
            "Perencanaan Pemerintahan dan Pembangunan Manusia",
            "Perencanaan Infrastruktur",
            "Perencanaan Ekonomi",
        ],
    ),
    "health": (
        "Dinas Kesehatan",
        "Dinkes",
        ["Pelayanan Kesehatan", "Kesehatan Masyarakat", "Pencegahan dan Pengendalian Penyakit"],
    ),
    "edu": (
        "Dinas Pendidikan dan Kebudayaan",
        "Disdikbud",
        ["Pembinaan Sekolah Dasar", "Pembinaan Sekolah Menengah Pertama", "Ketenagaan"],
    ),
    "civil": (
        "Dinas Kependudukan dan Pencatatan Sipil",
        "Disdukcapil",
        [
            "Pelayanan Pendaftaran Penduduk",
            "Pelayanan Pencatatan Sipil",
            "Pengelolaan Informasi Administrasi Kependudukan",
        ],
    ),
    "finance": (
        "Badan Pengelolaan Keuangan dan Aset Daerah",
        "BPKAD",
        ["Anggaran", "Perbendaharaan", "Aset Daerah"],
    ),
    "ict": (
        "Dinas Komunikasi dan Informatika",
        "Diskominfo",
        ["Aplikasi Informatika", "Statistik dan Persandian", "Informasi dan Komunikasi Publik"],
    ),
    "hr": (
        "Badan Kepegawaian dan Pengembangan Sumber Daya Manusia",
        "BKPSDM",
        ["Pengembangan Kompetensi", "Mutasi dan Promosi", "Penilaian Kinerja Aparatur"],
    ),
    "setda": (
        "Sekretariat Daerah",
        "Setda",
        ["Bagian Tata Pemerintahan", "Bagian Organisasi", "Bagian Pengadaan Barang dan Jasa"],
    ),
}

# Project themes per agency kind: title (with {area}), current and ideal condition, core
# issue, innovation, and the short-term milestones (activity, output, quantity, unit).
TOPICS = {
    "pmd": [
        dict(
            title="Penguatan Kapasitas Aparatur Desa dalam Pengelolaan Keuangan Desa melalui "
            "Klinik Siskeudes di {area}",
            current="Banyak laporan pertanggungjawaban Dana Desa terlambat dan perlu diperbaiki "
            "berulang kali; perangkat desa yang baru dilantik belum memahami Siskeudes.",
            ideal="Setiap desa menyusun laporan keuangan tepat waktu dan sesuai regulasi.",
            issue="Belum optimalnya kapasitas aparatur desa dalam pengelolaan keuangan desa.",
            innovation="Klinik Siskeudes keliling: pendampingan langsung di kantor camat "
            "dengan jadwal bergilir dan layanan konsultasi daring.",
            milestones=[
                (
                    "Menyusun modul dan jadwal Klinik Siskeudes",
                    "Modul dan jadwal klinik",
                    1,
                    "dokumen",
                ),
                (
                    "Melaksanakan klinik di kecamatan percontohan",
                    "Aparatur desa terdampingi",
                    4,
                    "kecamatan",
                ),
            ],
        ),
        dict(
            title="Optimalisasi Peran Kecamatan dalam Pembinaan Pemerintah Desa melalui Rumah "
            "Bersama Layanan Dasar di {area}",
            current="Pembinaan desa oleh kecamatan belum berbasis data; belanja desa untuk "
            "layanan dasar belum seimbang dengan kebutuhan.",
            ideal="Kecamatan menjadi rumah bersama yang menyinkronkan perencanaan desa dengan "
            "pemerintah daerah.",
            issue="Belum sinkronnya perencanaan pembangunan desa dengan perencanaan daerah.",
            innovation="Forum Rumah Bersama di kecamatan dengan dasbor capaian layanan dasar desa.",
            milestones=[
                ("Membentuk forum Rumah Bersama", "SK forum", 1, "dokumen"),
                ("Menyusun dasbor capaian layanan dasar desa", "Dasbor daring", 1, "aplikasi"),
            ],
        ),
        dict(
            title="Penguatan Badan Usaha Milik Desa melalui Pendampingan Tata Kelola dan "
            "Kemitraan Usaha di {area}",
            current="Banyak BUMDes belum aktif; laporan keuangan dan rencana usaha tidak tersedia.",
            ideal="BUMDes aktif dengan unit usaha yang sesuai potensi desa dan laporan tertib.",
            issue="Belum optimalnya tata kelola BUMDes.",
            innovation="Klinik BUMDes dan forum kemitraan dengan pelaku usaha daerah.",
            milestones=[
                ("Pemetaan status dan potensi BUMDes", "Peta BUMDes", 1, "dokumen"),
                ("Pendampingan rencana usaha BUMDes", "Rencana usaha tersusun", 10, "BUMDes"),
            ],
        ),
        dict(
            title="Digitalisasi Administrasi Pemerintahan Desa melalui Sistem Informasi Desa "
            "Terpadu di {area}",
            current="Administrasi desa masih manual; data kependudukan desa berbeda dengan data "
            "kabupaten.",
            ideal="Setiap desa mengelola administrasi dan layanan surat secara daring.",
            issue="Belum terdigitalisasinya administrasi pemerintahan desa.",
            innovation="Sistem informasi desa terpadu dengan data kependudukan yang disinkronkan.",
            milestones=[
                ("Pelatihan operator sistem informasi desa", "Operator terlatih", 20, "desa"),
                ("Layanan surat daring di desa percontohan", "Desa melayani daring", 5, "desa"),
            ],
        ),
        dict(
            title="Percepatan Penetapan dan Penegasan Batas Desa melalui Tim Terpadu di {area}",
            current="Sebagian besar desa belum memiliki batas yang ditetapkan dengan peraturan "
            "kepala daerah; sengketa batas menghambat pembangunan.",
            ideal="Seluruh batas desa ditetapkan dan dipetakan secara digital.",
            issue="Belum tuntasnya penetapan batas desa.",
            innovation="Tim terpadu penegasan batas desa bersama kecamatan dan badan pertanahan.",
            milestones=[
                ("Membentuk tim terpadu penegasan batas desa", "SK tim", 1, "dokumen"),
                ("Penelusuran dan kesepakatan batas desa", "Berita acara kesepakatan", 8, "desa"),
            ],
        ),
    ],
    "pmp": [
        dict(
            title="Pemutakhiran Profil Pekon Berbasis Aplikasi untuk Data yang Valid dan Faktual "
            "di {area}",
            current="Data profil pekon belum mutakhir dan diisi manual, sehingga tidak dapat "
            "dipakai sebagai input musyawarah pembangunan.",
            ideal="Seluruh pekon memiliki profil yang valid, faktual dan diperbarui setiap tahun.",
            issue="Belum validnya data profil pekon sebagai dasar perencanaan.",
            innovation="Sosialisasi dan pendampingan operator pekon dalam pengisian profil "
            "melalui aplikasi pemerintah pusat.",
            milestones=[
                (
                    "Sosialisasi pengisian profil pekon bagi operator",
                    "Operator terlatih",
                    30,
                    "pekon",
                ),
                ("Verifikasi data profil pekon", "Profil pekon terverifikasi", 30, "pekon"),
            ],
        ),
    ],
    "plan": [
        dict(
            title="Sinkronisasi Perencanaan Pembangunan Daerah dan Desa melalui Aplikasi "
            "e-Musrenbang Terpadu di {area}",
            current="Usulan musrenbang desa dan kecamatan direkap manual dan sering tidak "
            "terakomodasi dalam RKPD.",
            ideal="Usulan desa terlacak dari musrenbangdes hingga RKPD secara transparan.",
            issue="Belum terintegrasinya usulan pembangunan desa dalam dokumen perencanaan daerah.",
            innovation="e-Musrenbang terpadu yang menautkan usulan desa, kecamatan dan OPD.",
            milestones=[
                ("Menyusun rancangan alur usulan terpadu", "Dokumen alur", 1, "dokumen"),
                ("Uji coba e-Musrenbang di kecamatan", "Usulan terinput", 3, "kecamatan"),
            ],
        ),
        dict(
            title="Penguatan Perencanaan Berbasis Kinerja melalui Pendampingan Renja Perangkat "
            "Daerah di {area}",
            current="Indikator kinerja dalam Renja perangkat daerah belum selaras dengan RPJMD.",
            ideal="Renja seluruh perangkat daerah memakai indikator yang selaras dan terukur.",
            issue="Belum selarasnya indikator kinerja Renja dengan RPJMD.",
            innovation="Pendampingan penyusunan Renja melalui coaching clinic per urusan.",
            milestones=[
                ("Menyusun pedoman penyelarasan indikator", "Pedoman", 1, "dokumen"),
                ("Coaching clinic Renja perangkat daerah", "Renja terdampingi", 10, "OPD"),
            ],
        ),
    ],
    "health": [
        dict(
            title="Percepatan Penurunan Stunting melalui Gerakan Posyandu Aktif Terintegrasi di "
            "{area}",
            current="Data balita stunting tersebar di puskesmas dan desa tanpa pemantauan bersama.",
            ideal="Setiap balita berisiko terpantau bulanan dan mendapat intervensi tepat waktu.",
            issue="Belum terintegrasinya pemantauan balita berisiko stunting.",
            innovation="Posyandu aktif dengan pencatatan elektronik dan rapat konvergensi bulanan.",
            milestones=[
                ("Pelatihan kader posyandu pencatatan elektronik", "Kader terlatih", 40, "kader"),
                (
                    "Rapat konvergensi stunting tingkat kecamatan",
                    "Notula dan rencana tindak",
                    3,
                    "kali",
                ),
            ],
        ),
        dict(
            title="Peningkatan Mutu Layanan Puskesmas melalui Sistem Antrean Daring di {area}",
            current="Antrean pasien puskesmas panjang dan tidak terpantau; keluhan berulang.",
            ideal="Pasien memperoleh nomor antrean daring dan waktu tunggu terukur.",
            issue="Belum optimalnya manajemen antrean layanan puskesmas.",
            innovation="Antrean daring terhubung dengan papan informasi di puskesmas.",
            milestones=[
                ("Menyiapkan aplikasi antrean daring", "Aplikasi siap pakai", 1, "aplikasi"),
                ("Uji coba di puskesmas percontohan", "Puskesmas menerapkan", 3, "puskesmas"),
            ],
        ),
    ],
    "edu": [
        dict(
            title="Peningkatan Literasi Peserta Didik melalui Gerakan Sekolah Membaca Terpadu di "
            "{area}",
            current="Hasil asesmen nasional menunjukkan literasi peserta didik di bawah rata-rata.",
            ideal="Setiap sekolah menjalankan program literasi terukur.",
            issue="Rendahnya capaian literasi peserta didik.",
            innovation="Gerakan membaca terpadu dengan pojok baca dan pendampingan guru.",
            milestones=[
                ("Menyusun panduan gerakan membaca", "Panduan", 1, "dokumen"),
                ("Peluncuran di sekolah percontohan", "Sekolah menerapkan", 10, "sekolah"),
            ],
        ),
    ],
    "civil": [
        dict(
            title="Jemput Bola Layanan Administrasi Kependudukan hingga Desa Terpencil di {area}",
            current="Penduduk desa terpencil harus menempuh perjalanan jauh untuk mengurus "
            "dokumen kependudukan.",
            ideal="Seluruh penduduk memiliki dokumen kependudukan tanpa biaya perjalanan besar.",
            issue="Rendahnya kepemilikan dokumen kependudukan di desa terpencil.",
            innovation="Layanan keliling terjadwal dan aktivasi Identitas Kependudukan Digital "
            "di kantor desa.",
            milestones=[
                ("Menyusun jadwal layanan keliling", "Jadwal", 1, "dokumen"),
                ("Layanan jemput bola di desa terpencil", "Desa terlayani", 12, "desa"),
            ],
        ),
    ],
    "finance": [
        dict(
            title="Percepatan Penatausahaan Aset Daerah melalui Rekonsiliasi Terpadu Berbasis "
            "Aplikasi di {area}",
            current="Rekonsiliasi aset antara OPD dan BPKAD dilakukan manual dan sering terlambat.",
            ideal="Data aset daerah mutakhir setiap semester dan bebas temuan berulang.",
            issue="Belum tertibnya penatausahaan aset daerah.",
            innovation="Rekonsiliasi aset terpadu melalui aplikasi dan jadwal bersama.",
            milestones=[
                ("Menyusun SOP rekonsiliasi aset", "SOP", 1, "dokumen"),
                ("Rekonsiliasi aset bersama OPD", "Berita acara rekonsiliasi", 15, "OPD"),
            ],
        ),
    ],
    "ict": [
        dict(
            title="Integrasi Layanan Publik Digital melalui Satu Portal Layanan di {area}",
            current="Setiap OPD mengelola aplikasi layanan sendiri tanpa integrasi data.",
            ideal="Masyarakat mengakses layanan publik melalui satu portal terintegrasi.",
            issue="Belum terintegrasinya aplikasi layanan publik.",
            innovation="Satu portal layanan dengan akun tunggal warga.",
            milestones=[
                ("Inventarisasi aplikasi layanan OPD", "Daftar aplikasi", 1, "dokumen"),
                ("Integrasi layanan prioritas ke portal", "Layanan terintegrasi", 5, "layanan"),
            ],
        ),
    ],
    "hr": [
        dict(
            title="Pengembangan Kompetensi ASN melalui Sistem Pembelajaran Terintegrasi "
            "(Corporate University) di {area}",
            current="Pengembangan kompetensi ASN belum terencana dan tidak tercatat terpusat.",
            ideal="Setiap ASN memenuhi 20 jam pelajaran pengembangan kompetensi per tahun.",
            issue="Belum terpenuhinya hak pengembangan kompetensi ASN.",
            innovation="Katalog pembelajaran bersama dan pencatatan jam pelajaran daring.",
            milestones=[
                ("Menyusun katalog pembelajaran", "Katalog", 1, "dokumen"),
                ("Pembelajaran daring perdana", "ASN mengikuti", 200, "orang"),
            ],
        ),
    ],
    "setda": [
        dict(
            title="Penguatan Akuntabilitas Kinerja Instansi Pemerintah melalui Pendampingan "
            "SAKIP Terpadu di {area}",
            current="Nilai SAKIP perangkat daerah beragam dan belum ada pendampingan rutin.",
            ideal="Seluruh perangkat daerah mencapai predikat SAKIP minimal BB.",
            issue="Belum optimalnya akuntabilitas kinerja perangkat daerah.",
            innovation="Pendampingan SAKIP terpadu oleh tim lintas bagian Setda.",
            milestones=[
                ("Membentuk tim pendamping SAKIP", "SK tim", 1, "dokumen"),
                ("Pendampingan perangkat daerah", "OPD terdampingi", 12, "OPD"),
            ],
        ),
        dict(
            title="Percepatan Pengadaan Barang dan Jasa melalui Katalog Elektronik Lokal di {area}",
            current="Produk usaha kecil lokal belum tercantum dalam katalog elektronik.",
            ideal="Belanja pemerintah daerah menyerap produk usaha kecil lokal.",
            issue="Rendahnya penyerapan produk lokal dalam pengadaan pemerintah.",
            innovation="Pendampingan pelaku usaha lokal untuk tayang di katalog elektronik.",
            milestones=[
                ("Identifikasi pelaku usaha lokal", "Daftar pelaku usaha", 1, "dokumen"),
                ("Penayangan produk di katalog elektronik", "Produk tayang", 25, "produk"),
            ],
        ),
    ],
}

MALE = """Ahmad Muhammad Rudi Hendra Agus Budi Eko Dedi Syamsul Rahmat Hasanuddin Arief Fajar
Yusuf Irwan Taufik Andi Firman Rusdi Bambang Joko Wahyu Heri Supriadi Ridwan Zulkifli Darmawan
Herman Junaidi Samsudin Aidil Rizal Iskandar Hamdani Saprudin Marzuki Ismail Yohanes Markus
Lukas Awang Syahrir Hairul Sugeng Edi Nanang Gusti Ardiansyah""".split()
FEMALE = """Siti Nur Dewi Sri Rina Yuliana Fitri Ratna Wahyuni Endang Lilis Nurhayati Herlina
Maria Novita Indah Ani Desi Eka Rosmiati Kartika Mardiana Syarifah Dayang Yustina Mega Rika
Nurul Hasanah Anisa""".split()
SURNAME_M = """Saputra Pratama Hidayat Wijaya Setiawan Kurniawan Nugroho Santoso Rahman Hakim
Syahputra Ramadhan Gunawan Susanto Hamzah Effendi Siregar Firmansyah Hidayatullah Prasetyo
Sulaiman Fauzi Mansyur Saleh Azhari Anwar Rasyid Lubis Harahap Mulyadi""".split()
SURNAME_F = """Handayani Lestari Wulandari Puspitasari Anggraini Susilawati Rahmawati Maharani
Permatasari Oktaviani Yuliani Fitriani Kusumawati Safitri Amalia Aprilia Novianti""".split()
BACHELOR = ["S.Sos.", "S.E.", "S.T.", "S.H.", "S.IP.", "S.STP.", "S.Kom.", "S.Pd.", "S.AP."]
MASTER = ["M.Si.", "M.M.", "M.AP.", "M.T.", "M.H.", "M.Pd.", "M.Kes."]
TEAM_ROLES = [
    "Koordinator pelaksana",
    "Sekretaris",
    "Pengolah data",
    "Anggota bidang teknis",
    "Anggota bidang dokumentasi",
]
REVISION_NOTES = [
    "Mohon pertajam isu inti dan kaitkan dengan data kondisi saat ini.",
    "Target jangka pendek belum terukur; tambahkan jumlah dan satuan capaian.",
    "Peta stakeholder perlu melibatkan camat dan kepala desa.",
    "Lengkapi mitigasi risiko anggaran dan jadwal.",
]
WITHDRAW_NOTES = [
    "Peserta mendapat penugasan mendesak dari pimpinan daerah dan tidak dapat melanjutkan.",
    "Peserta berhalangan karena alasan kesehatan; surat keterangan terlampir.",
    "Peserta dimutasi ke jabatan lain sehingga lokus aksi perubahan tidak relevan.",
]
ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]


@dataclass
class Plan:
    """What one demo case should become."""

    trainee: User
    mentor: User
    executive: User
    group: Group
    target: str
    topic: dict
    area: str
    revise_first: bool = False
    case: Case | None = None
    special: str = ""


@dataclass
class CohortSpec:
    cohort: Cohort
    organizers: list[User]
    groups: list[Group] = field(default_factory=list)


class _Builder:
    def __init__(self, today: date):
        self.today = today
        self.rng = random.Random(SEED)
        self.usernames: set[str] = set()
        self.nips: set[str] = set()
        self.titles: set[str] = set()
        self.heads: dict[int, User] = {}
        self.plans: list[Plan] = []
        self.senior_agencies: set[int] = set()
        self.used_pairs: set[tuple[str, str]] = set()
        self.names: set[str] = set()
        self.letter_no = 100
        # One cheap hash for all non-demo users would still be unguessable, but each gets
        # its own random secret; 256 random bits need no slow key stretching.
        self._fast_hash = "pbkdf2:sha256:1000"
        self.demo_hash: str | None = None

    # ---- dates -------------------------------------------------------------------------
    def day(self, offset: int) -> date:
        """`today + offset` calendar days, moved forward to a working day."""
        d = self.today + timedelta(days=offset)
        while not is_working_day(d):
            d += timedelta(days=1)
        return d

    # ---- people ------------------------------------------------------------------------
    def person_name(self, female: bool | None = None, degrees: bool = True) -> str:
        female = self.rng.random() < 0.4 if female is None else female
        while True:
            first = self.rng.choice(FEMALE if female else MALE)
            last = self.rng.choice(SURNAME_F if female else SURNAME_M)
            name = f"{first} {last}"
            if name not in self.names and first[:4] != last[:4]:
                self.names.add(name)
                break
        if degrees:
            name += ", " + self.rng.choice(BACHELOR)
            if self.rng.random() < 0.6:
                name += ", " + self.rng.choice(MASTER)
        return name

    def nip(self, born_from: int, born_to: int, female: bool) -> str:
        while True:
            born = date(
                self.rng.randint(born_from, born_to),
                self.rng.randint(1, 12),
                self.rng.randint(1, 28),
            )
            hired = f"{born.year + self.rng.randint(23, 28)}{self.rng.randint(1, 12):02d}"
            value = f"{born:%Y%m%d}{hired}{2 if female else 1}{self.rng.randint(1, 999):03d}"
            if value not in self.nips:
                self.nips.add(value)
                return value

    def username_for(self, name: str) -> str:
        base = name.split(",")[0].lower().replace(".", "").replace("'", "")
        base = ".".join(base.split())
        candidate, n = base, 2
        while candidate in self.usernames:
            candidate, n = f"{base}{n}", n + 1
        self.usernames.add(candidate)
        return candidate

    def user(
        self,
        name: str,
        position: str,
        *,
        agency: Agency | None = None,
        institution: Institution | None = None,
        username: str | None = None,
        senior: bool = False,
        female: bool | None = None,
        **attrs,
    ) -> User:
        if female is None:
            female = name.split()[0] in FEMALE
        if username:
            self.usernames.add(username)
        else:
            username = self.username_for(name)
        born = (1966, 1976) if senior else (1975, 1990)
        user = User(
            username=username,
            name=name,
            nip=self.nip(*born, female),
            position=position,
            agency=agency,
            institution=institution,
            **attrs,
        )
        if username in {u for u, _ in ACCOUNTS}:
            # One slow hash, shared by the demo accounts (same password, demo only).
            if self.demo_hash is None:
                user.set_password(PASSWORD)
                self.demo_hash = user.password_hash
            user.password_hash = self.demo_hash
        else:
            user.password_hash = generate_password_hash(
                secrets.token_urlsafe(32), method=self._fast_hash
            )
        db.session.add(user)
        return user

    def generated_user(self, position: str, **kw) -> User:
        female = self.rng.random() < 0.4
        return self.user(self.person_name(female), position, female=female, **kw)

    def head_of(self, agency: Agency, kind: str) -> User:
        """The agency's head: the direct superior (mentor) of its trainees."""
        if agency.id not in self.heads:
            if kind == "setda":
                position = f"Sekretaris Daerah {agency.region.name}"
            else:
                position = f"Kepala {agency.name}"
            self.heads[agency.id] = self.generated_user(position, agency=agency, senior=True)
        return self.heads[agency.id]

    # ---- structure ---------------------------------------------------------------------
    def build_regions(self) -> None:
        self.kaltim = Region(level="province", name="Provinsi Kalimantan Timur", code="64")
        self.lampung = Region(level="province", name="Provinsi Lampung", code="18")
        db.session.add_all([self.kaltim, self.lampung])
        self.regencies: dict[str, Region] = {}
        self.short: dict[str, str] = {}
        for province, rows in ((self.kaltim, KALTIM_REGENCIES), (self.lampung, LAMPUNG_REGENCIES)):
            for code, name, short in rows:
                r = Region(level="regency", name=name, code=code, parent=province)
                self.regencies[short] = r
                self.short[name] = short
        for name in LAMPUNG_BARAT_KECAMATAN:
            Region(level="district", name=f"Kecamatan {name}", parent=self.regencies["Lambar"])
        for name in KUKAR_KECAMATAN:
            Region(level="district", name=f"Kecamatan {name}", parent=self.regencies["Kukar"])

    def build_institutions(self) -> None:
        self.bpsdm_kaltim = Institution(
            code=MARKER_CODE,
            name="BPSDM Provinsi Kalimantan Timur",
            timezone="Asia/Makassar",
            region=self.kaltim,
        )
        self.bpsdm_lampung = Institution(
            code="bpsdm-lampung",
            name="BPSDM Provinsi Lampung",
            timezone="Asia/Jakarta",
            region=self.lampung,
        )
        db.session.add_all([self.bpsdm_kaltim, self.bpsdm_lampung])
        # Provincial anniversaries: days off at the institution, not national holidays.
        for year in (self.today.year, self.today.year + 1):
            self.bpsdm_kaltim.holidays.append(
                InstitutionHoliday(day=date(year, 1, 9), name="Hari Jadi Provinsi Kalimantan Timur")
            )
            self.bpsdm_lampung.holidays.append(
                InstitutionHoliday(day=date(year, 3, 18), name="Hari Jadi Provinsi Lampung")
            )

    def agency(self, kind: str, short: str) -> Agency:
        key = (kind, short)
        if key not in self.agencies:
            name, abbrev, _ = AGENCY_KINDS[kind]
            region = self.regencies[short]
            a = Agency(name=f"{name} {region.name}", short_name=f"{abbrev} {short}", region=region)
            db.session.add(a)
            self.agencies[key] = a
        return self.agencies[key]

    def build_agencies(self) -> None:
        self.agencies: dict[tuple[str, str], Agency] = {}
        kinds = ["pmd", "plan", "health", "edu", "civil", "finance", "ict", "hr", "setda"]
        for short in ("Kukar", "Samarinda", "Balikpapan", "Bontang", "Kutim", "Berau", "Paser"):
            for kind in kinds:
                self.agency(kind, short)
        for short in ("Lambar", "Pesbar", "Tanggamus", "Lamsel", "Bandar Lampung"):
            for kind in ["pmp" if short == "Lambar" else "pmd", *kinds[1:]]:
                self.agency(kind, short)
        self.dpmd_kukar = self.agencies[("pmd", "Kukar")]
        self.dpmd_kukar.short_name = "DPMD Kukar"
        self.dpmp_lambar = self.agencies[("pmp", "Lambar")]
        self.dpmp_lambar.short_name = "DPMP Lampung Barat"
        self.setda_kukar = self.agencies[("setda", "Kukar")]
        self.setda_lambar = self.agencies[("setda", "Lambar")]
        self.bpsdm_kaltim_agency = Agency(
            name="Badan Pengembangan Sumber Daya Manusia Provinsi Kalimantan Timur",
            short_name="BPSDM Kaltim",
            region=self.kaltim,
        )
        self.bpsdm_lampung_agency = Agency(
            name="Badan Pengembangan Sumber Daya Manusia Provinsi Lampung",
            short_name="BPSDM Lampung",
            region=self.lampung,
        )
        db.session.add_all([self.bpsdm_kaltim_agency, self.bpsdm_lampung_agency])
        db.session.flush()

    def build_people(self) -> None:
        inst_k, inst_l = self.bpsdm_kaltim, self.bpsdm_lampung
        ag_k, ag_l = self.bpsdm_kaltim_agency, self.bpsdm_lampung_agency
        # The demo accounts.
        self.mentor = self.user(
            "Hamdani Saleh, S.Sos., M.Si.",
            "Kepala Dinas Pemberdayaan Masyarakat dan Desa Kabupaten Kutai Kartanegara",
            agency=self.dpmd_kukar,
            username="mentor",
            senior=True,
        )
        self.heads[self.dpmd_kukar.id] = self.mentor
        self.pimpinan = self.user(
            "Aulia Rahman",
            "Bupati Kutai Kartanegara",
            agency=self.setda_kukar,
            username="pimpinan",
            senior=True,
        )
        self.peserta = self.user(
            "Nurul Hasanah, S.STP., M.AP.",
            "Kepala Bidang Pemberdayaan Masyarakat pada Dinas "
            "Pemberdayaan Masyarakat dan Desa Kabupaten Kutai Kartanegara",
            agency=self.dpmd_kukar,
            username="peserta",
        )
        self.coach = self.user(
            "Dr. Syahrir Hakim, M.Si.",
            "Widyaiswara Ahli Utama BPSDM Provinsi Kalimantan Timur",
            agency=ag_k,
            institution=inst_k,
            username="coach",
            senior=True,
            female=False,
        )
        self.penguji = self.user(
            "Dr. Ratna Wulandari, M.AP.",
            "Widyaiswara Ahli Utama BPSDM Provinsi Kalimantan Timur",
            agency=ag_k,
            institution=inst_k,
            username="penguji",
            senior=True,
        )
        self.penyelenggara = self.user(
            "Yuliana Permatasari, S.E.",
            "Analis Kebijakan Ahli Muda pada Bidang Kepemimpinan BPSDM Provinsi Kalimantan Timur",
            agency=ag_k,
            institution=inst_k,
            username="penyelenggara",
        )
        self.admin = self.user(
            "Fajar Ramadhan, S.Kom.",
            "Pranata Komputer Ahli Muda BPSDM Provinsi Kalimantan Timur",
            agency=ag_k,
            institution=inst_k,
            username="admin",
            is_admin=True,
        )
        # People from the articles.
        self.poino = self.user(
            "Poino",
            "Kepala Bidang Administrasi Pemerintahan Desa pada Dinas Pemberdayaan "
            "Masyarakat dan Desa Kabupaten Kutai Kartanegara",
            agency=self.dpmd_kukar,
            female=False,
        )
        self.bulki = self.user(
            "Bulki, S.Pd., M.M.",
            "Kepala Dinas Pemberdayaan Masyarakat dan Pekon Kabupaten Lampung Barat",
            agency=self.dpmp_lambar,
            senior=True,
            female=False,
        )
        self.heads[self.dpmp_lambar.id] = self.bulki
        self.desmon = self.user(
            "Desmon Irawan, S.T.",
            "Kepala Bidang Penataan dan Kerjasama Pekon pada Dinas "
            "Pemberdayaan Masyarakat dan Pekon Kabupaten Lampung Barat",
            agency=self.dpmp_lambar,
            female=False,
        )
        # Regional heads: the executives who endorse.
        self.executives: dict[str, User] = {"Kukar": self.pimpinan}
        for short, region in self.regencies.items():
            if short in self.executives:
                continue
            title = "Wali Kota" if region.name.startswith("Kota") else "Bupati"
            place = region.name.removeprefix("Kabupaten ").removeprefix("Kota ")
            self.executives[short] = self.generated_user(
                f"{title} {place}", agency=self.agencies[("setda", short)], senior=True
            )
        self.widyaiswara_k = [
            self.generated_user(
                "Widyaiswara Ahli Madya BPSDM Provinsi Kalimantan Timur",
                agency=ag_k,
                institution=inst_k,
                senior=True,
            )
            for _ in range(6)
        ]
        self.widyaiswara_l = [
            self.generated_user(
                "Widyaiswara Ahli Madya BPSDM Provinsi Lampung",
                agency=ag_l,
                institution=inst_l,
                senior=True,
            )
            for _ in range(2)
        ]
        self.organizer_l = self.generated_user(
            "Analis Kebijakan Ahli Muda BPSDM Provinsi Lampung", agency=ag_l, institution=inst_l
        )

    def program(self, institution: Institution, code: str, name: str, key: str) -> Program:
        p = Program(institution=institution, code=code, name=name, definition_key=key)
        db.session.add(p)
        return p

    def cohort(
        self,
        program: Program,
        name: str,
        quota: int,
        offsets: tuple[int, ...],
        organizers: list[User],
    ) -> CohortSpec:
        start, deadline, impl_start, impl_end, evaluation, end = (self.day(o) for o in offsets)
        c = Cohort(
            program=program,
            name=name,
            year=start.year,
            quota=quota,
            definition_key=program.definition_key,
            start_date=start,
            proposal_deadline=deadline,
            implementation_start=impl_start,
            implementation_end=impl_end,
            evaluation_date=evaluation,
            end_date=end,
        )
        db.session.add(c)
        for u in organizers:
            db.session.add(CohortMember(cohort=c, user=u, role="organizer"))
        return CohortSpec(c, organizers)

    def group(self, spec: CohortSpec, coach: User, examiner: User) -> Group:
        g = Group(
            cohort=spec.cohort,
            name=f"Kelompok {len(spec.groups) + 1}",
            coach=coach,
            examiner=examiner,
        )
        db.session.add(g)
        spec.groups.append(g)
        return g

    # ---- cases -------------------------------------------------------------------------
    def pick_topic(self, kind: str, area: str) -> dict:
        options = TOPICS.get(kind) or TOPICS["setda"]
        for topic in self.rng.sample(options, len(options)):
            if topic["title"].format(area=area) not in self.titles:
                return topic
        # Every theme already runs there: this one is its second stage.
        topic = self.rng.choice(options)
        return dict(topic, title=topic["title"].replace(" di {area}", " Tahap II di {area}"))

    def trainee_for(self, kind: str, short: str, senior: bool) -> tuple[User, Agency]:
        agency = self.agencies[(kind, short)]
        name, _, units = AGENCY_KINDS[kind]
        if senior:
            return self.head_of(agency, kind), agency
        unit = self.rng.choice(units)
        if kind == "setda":
            position = f"Kepala {unit} Sekretariat Daerah {agency.region.name}"
        else:
            position = f"Kepala Bidang {unit} pada {agency.name}"
        return self.generated_user(position, agency=agency), agency

    def plan(
        self,
        spec: CohortSpec,
        group: Group,
        targets: list[str],
        places: list[str],
        senior: bool = False,
    ) -> None:
        kinds = ["plan", "health", "edu", "civil", "finance", "ict", "hr", "setda", "pmd"]
        if senior:
            # A Sekda mentors the PKN II heads, so is not one of them; the head of DPMD
            # Kukar is the mentor demo account.
            kinds = [k for k in kinds if k != "setda"]
        pairs = [
            ("pmp" if (kind, short) == ("pmd", "Lambar") else kind, short)
            for kind in kinds
            for short in places
        ]
        for target in targets:
            if senior:
                # The head of DPMD Kukar is the mentor demo account; a head trains once.
                pairs = [
                    p
                    for p in pairs
                    if p != ("pmd", "Kukar") and self.agencies[p].id not in self.senior_agencies
                ]
            # Spread agencies and places: an unused pair first, so titles rarely repeat.
            fresh = [p for p in pairs if p not in self.used_pairs]
            kind, short = self.rng.choice(fresh or pairs)
            self.used_pairs.add((kind, short))
            if senior:
                self.senior_agencies.add(self.agencies[(kind, short)].id)
            trainee, agency = self.trainee_for(kind, short, senior)
            if senior:
                mentor = self.head_of(self.agencies[("setda", short)], "setda")
            else:
                mentor = self.head_of(agency, kind)
            area = self.regencies[short].name
            topic = self.pick_topic(kind, area)
            self.titles.add(topic["title"].format(area=area))
            self.plans.append(
                Plan(
                    trainee=trainee,
                    mentor=mentor,
                    executive=self.executives[short],
                    group=group,
                    target=target,
                    topic=topic,
                    area=area,
                    revise_first=self.rng.random() < 0.3,
                )
            )

    def build_cohorts(self) -> None:
        pka_k = self.program(
            self.bpsdm_kaltim, "PKA", "Pelatihan Kepemimpinan Administrator", "aksi_perubahan_pka"
        )
        pkn_k = self.program(
            self.bpsdm_kaltim,
            "PKN II",
            "Pelatihan Kepemimpinan Nasional Tingkat II",
            "aksi_perubahan_pkn2",
        )
        pka_l = self.program(
            self.bpsdm_lampung, "PKA", "Pelatihan Kepemimpinan Administrator", "aksi_perubahan_pka"
        )
        year = self.today.year
        w = self.widyaiswara_k
        # A: late — implementation closing, seminars under way, first results in.
        a = self.cohort(
            pka_k,
            f"PKA Angkatan XXII Tahun {year}",
            40,
            (-115, -85, -80, 4, 11, 18),
            [self.penyelenggara, self.admin],
        )
        # B: early — proposals being drafted and approved.
        b = self.cohort(
            pka_k,
            f"PKA Angkatan XXIII Tahun {year}",
            40,
            (-21, 4, 9, 95, 105, 112),
            [self.penyelenggara],
        )
        # C: PKN II — proposal seminars and the first endorsements.
        c = self.cohort(
            pkn_k,
            f"PKN Tingkat II Angkatan II Tahun {year}",
            30,
            (-45, -10, -5, 55, 65, 70),
            [self.penyelenggara],
        )
        # D: BPSDM Lampung (WIB), mid implementation.
        d = self.cohort(
            pka_l,
            f"PKA Angkatan IX Tahun {year}",
            30,
            (-50, -20, -15, 45, 55, 60),
            [self.organizer_l],
        )
        self.cohorts = [a, b, c, d]

        kaltim = ["Kukar", "Samarinda", "Balikpapan", "Bontang", "Kutim", "Berau", "Paser"]
        a1 = self.group(a, self.coach, self.penguji)
        a2 = self.group(a, w[0], w[1])
        a3 = self.group(a, w[2], self.penguji)
        self.plan(
            a,
            a1,
            ["evaluation"] * 4
            + ["completed", "completed", "not_passed", "deferred", "implementation"],
            kaltim,
        )
        self.plan(
            a,
            a2,
            [
                "evaluation",
                "evaluation",
                "completed",
                "completed",
                "completed",
                "implementation",
                "implementation",
                "withdrawn",
                "deferred",
            ],
            kaltim,
        )
        self.plan(
            a,
            a3,
            [
                "evaluation",
                "evaluation",
                "implementation",
                "implementation",
                "implementation",
                "not_passed",
                "withdrawn",
                "draft",
            ],
            kaltim,
        )
        b1 = self.group(b, self.coach, w[3])
        b2 = self.group(b, w[4], w[5])
        self.plan(
            b,
            b1,
            [
                "draft",
                "draft",
                "mentor_review",
                "mentor_review",
                "endorsement_pending",
                "endorsement_pending",
                "revision_requested",
                "implementation",
                "draft",
                "mentor_review",
            ],
            kaltim,
        )
        self.plan(
            b,
            b2,
            [
                "draft",
                "draft",
                "draft",
                "mentor_review",
                "revision_requested",
                "endorsement_pending",
                "endorsement_pending",
                "implementation",
                "withdrawn",
                "mentor_review",
            ],
            kaltim,
        )
        c1 = self.group(c, w[0], self.penguji)
        c2 = self.group(c, self.coach, w[1])
        self.plan(
            c,
            c1,
            [
                "proposal_seminar",
                "proposal_seminar",
                "proposal_seminar",
                "mentor_review",
                "revision_requested",
                "endorsement_pending",
                "evaluation",
                "deferred",
            ],
            kaltim,
            senior=True,
        )
        self.plan(
            c,
            c2,
            [
                "draft",
                "implementation",
                "implementation",
                "completed",
                "not_passed",
                "withdrawn",
                "proposal_seminar",
                "endorsement_pending",
            ],
            kaltim,
            senior=True,
        )
        lampung = ["Lambar", "Pesbar", "Tanggamus", "Lamsel", "Bandar Lampung"]
        wl = self.widyaiswara_l
        d1 = self.group(d, wl[0], wl[1])
        d2 = self.group(d, wl[1], wl[0])
        self.plan(
            d,
            d1,
            [
                "implementation",
                "implementation",
                "implementation",
                "endorsement_pending",
                "mentor_review",
                "draft",
            ],
            lampung,
        )
        self.plan(
            d,
            d2,
            [
                "implementation",
                "implementation",
                "evaluation",
                "withdrawn",
                "revision_requested",
                "implementation",
            ],
            lampung,
        )

        # The showcase cases and the demo accounts' own cases.
        self.plans.append(
            Plan(
                trainee=self.poino,
                mentor=self.mentor,
                executive=self.pimpinan,
                group=a1,
                target="evaluation",
                topic=KUKAR_TOPIC,
                area="Kabupaten Kutai Kartanegara",
                special="kukar",
            )
        )
        self.plans.append(
            Plan(
                trainee=self.peserta,
                mentor=self.mentor,
                executive=self.pimpinan,
                group=b1,
                target="revision_requested",
                topic=PESERTA_TOPIC,
                area="Kabupaten Kutai Kartanegara",
            )
        )
        for target in ("mentor_review", "endorsement_pending", "implementation"):
            trainee = self.generated_user(
                f"Kepala Bidang {self.rng.choice(AGENCY_KINDS['pmd'][2])} pada Dinas "
                "Pemberdayaan Masyarakat dan Desa Kabupaten Kutai Kartanegara",
                agency=self.dpmd_kukar,
            )
            cohort_group = a1 if target == "implementation" else b1
            area = "Kabupaten Kutai Kartanegara"
            topic = self.pick_topic("pmd", area)
            self.titles.add(topic["title"].format(area=area))
            self.plans.append(
                Plan(
                    trainee=trainee,
                    mentor=self.mentor,
                    executive=self.pimpinan,
                    group=cohort_group,
                    target=target,
                    topic=topic,
                    area=area,
                )
            )
        self.plans.append(
            Plan(
                trainee=self.desmon,
                mentor=self.bulki,
                executive=self.executives["Lambar"],
                group=d1,
                target="implementation",
                topic=LAMBAR_TOPIC,
                area="Kabupaten Lampung Barat",
                special="lambar",
            )
        )

    def fill(self, plan: Plan, cohort: Cohort) -> Case:
        t = plan.topic
        case = start_case(
            cohort, plan.trainee, group=plan.group, mentor=plan.mentor, executive=plan.executive
        )
        plan.case = case
        if plan.target == "draft" and self.rng.random() < 0.5:
            # A fresh draft: only the title and the problem so far.
            case.title = t["title"].format(area=plan.area)
            case.background_current = t["current"]
            return case
        case.title = t["title"].format(area=plan.area)
        case.background_current = t["current"]
        case.background_ideal = t["ideal"]
        case.core_issue = t["issue"]
        steps = t["milestones"]
        case.objective_short = (
            "Pada akhir pelatihan: "
            + "; ".join(f"{a[1].lower()} ({a[2]:g} {a[3]})" for a in steps)
            + "."
        )
        case.objective_medium = t.get(
            "medium",
            "Dalam 6–12 bulan: cakupan diperluas ke seluruh wilayah "
            f"{plan.area} dan dilembagakan melalui peraturan kepala daerah.",
        )
        case.objective_long = t.get(
            "long",
            "Dalam 1–2 tahun: menjadi praktik baik yang direplikasi perangkat daerah "
            "lain dan masuk dokumen perencanaan daerah.",
        )
        case.benefits = t.get(
            "benefits",
            "Bagi masyarakat: layanan lebih cepat dan tepat sasaran. Bagi organisasi: "
            "tata kelola yang terukur. Bagi peserta: kepemimpinan perubahan yang teruji.",
        )
        case.scope = t.get("scope", f"Wilayah {plan.area}; lokus di {plan.trainee.agency.name}.")
        case.innovation = t["innovation"]
        case.resources = t.get(
            "resources",
            "Anggaran DPA perangkat daerah tahun berjalan; tim efektif; sarana "
            "kantor dan aplikasi yang tersedia.",
        )
        case.stakeholders = t.get("stakeholders") or self.stakeholders(plan)
        case.team = [{"name": plan.mentor.name, "role": "Mentor / penjamin kualitas"}] + [
            {"name": self.person_name(degrees=self.rng.random() < 0.7), "role": role}
            for role in self.rng.sample(TEAM_ROLES, 3)
        ]
        case.risks = t.get("risks") or [
            {
                "risk": "Keterbatasan anggaran tahun berjalan",
                "mitigation": "Memanfaatkan kegiatan rutin yang sudah teranggarkan dan "
                "kolaborasi dengan mitra.",
            },
            {
                "risk": "Jadwal bertabrakan dengan agenda pimpinan daerah",
                "mitigation": "Jadwal disepakati di awal dan dikomunikasikan melalui mentor.",
            },
        ]
        window = (cohort.implementation_start, cohort.implementation_end)
        span = (window[1] - window[0]).days
        for i, (activity, output, qty, unit, *units) in enumerate(steps):
            target_date = window[0] + timedelta(days=span * (i + 1) // (len(steps) + 1))
            case.milestones.append(
                Milestone(
                    position=i,
                    term="short",
                    activity=activity,
                    output=output,
                    target_date=target_date,
                    target_quantity=qty,
                    target_unit=unit,
                    units=units[0] if units else [],
                )
            )
        n = len(steps)
        case.milestones.append(
            Milestone(
                position=n,
                term="medium",
                activity="Perluasan penerapan ke seluruh wilayah",
                output="Penerapan menyeluruh",
                target_date=window[1] + timedelta(days=180),
                target_unit="laporan",
                target_quantity=1,
            )
        )
        case.milestones.append(
            Milestone(
                position=n + 1,
                term="long",
                activity="Pelembagaan melalui peraturan kepala daerah",
                output="Peraturan kepala daerah",
                target_date=window[1] + timedelta(days=540),
                target_unit="dokumen",
                target_quantity=1,
            )
        )
        return case

    def stakeholders(self, plan: Plan) -> list[dict]:
        return [
            {
                "name": plan.executive.position,
                "kind": "external",
                "role": "Sponsor kebijakan",
                "influence": "high",
                "interest": "high",
                "strategy": "Melaporkan kemajuan secara berkala dan meminta dukungan tertulis.",
            },
            {
                "name": plan.mentor.position,
                "kind": "internal",
                "role": "Mentor",
                "influence": "high",
                "interest": "high",
                "strategy": "Konsultasi mingguan dan persetujuan setiap tahapan.",
            },
            {
                "name": "Bappeda " + plan.area.removeprefix("Kabupaten ").removeprefix("Kota "),
                "kind": "external",
                "role": "Penyelarasan perencanaan",
                "influence": "high",
                "interest": "low",
                "strategy": "Melibatkan dalam rapat koordinasi.",
            },
            {
                "name": "Camat dan kepala desa/lurah",
                "kind": "external",
                "role": "Pelaksana di lapangan",
                "influence": "low",
                "interest": "high",
                "strategy": "Sosialisasi dan pendampingan langsung.",
            },
            {
                "name": "Staf bidang",
                "kind": "internal",
                "role": "Tim efektif",
                "influence": "low",
                "interest": "high",
                "strategy": "Pembagian tugas yang jelas.",
            },
        ]

    # ---- moving cases: only through perform() ------------------------------------------
    def path(self, plan: Plan, pkn2: bool) -> list[str]:
        to_mentor = ["submit", "record_seminar"] if pkn2 else ["submit"]
        loop = ["submit", "seminar_revision"] if pkn2 else ["submit", "request_revision"]
        if not pkn2 and self.rng.random() < 0.3:
            loop_full = ["submit", "approve", "decline_endorsement"]
        else:
            loop_full = loop
        endorse = [*to_mentor, "approve", "endorse"]
        report = [*endorse, "verify", "submit_report"]
        paths = {
            "draft": [],
            "proposal_seminar": ["submit"],
            "mentor_review": to_mentor,
            "revision_requested": ["submit", "request_revision"] if not pkn2 else loop,
            "endorsement_pending": [*to_mentor, "approve"],
            "implementation": endorse,
            "evaluation": report,
            "deferred": [*report, "defer"],
            "completed": [*report, "score_pass", "finalize"],
            "not_passed": [*report, "score_fail", "finalize"],
        }
        if plan.target == "withdrawn":
            before = self.rng.choice(["draft", "mentor_review", "implementation"])
            steps = [*paths[before], "withdraw"]
        else:
            steps = list(paths[plan.target])
        if (
            plan.revise_first
            and steps
            and steps[0] == "submit"
            and plan.target != ("revision_requested")
        ):
            steps = loop_full + steps
        if plan.special == "kukar":
            steps = ["submit", "request_revision", *report]
        return steps

    def drive(self, plan: Plan) -> None:
        case = plan.case
        pkn2 = case.definition_key == "aksi_perubahan_pkn2"
        cohort = case.cohort
        organizer = db.session.get(User, self.organizer_of[cohort.id])
        for step in self.path(plan, pkn2):
            if step == "verify":
                # Milestone verification has no service yet; set the result directly.
                for m in case.milestones:
                    if m.term == "short":
                        m.status = "verified"
                        m.achieved_quantity = m.target_quantity
                db.session.commit()
            elif step in ("score_pass", "score_fail"):
                base = (78, 95) if step == "score_pass" else (50, 66)
                for role, who in (
                    ("examiner", case.group.examiner),
                    ("coach", case.group.coach),
                    ("mentor", case.mentor),
                ):
                    db.session.add(
                        Score(
                            case_id=case.id,
                            evaluator_id=who.id,
                            role=role,
                            aspect="overall",
                            value=float(self.rng.randint(*base)),
                            submitted_at=utcnow(),
                        )
                    )
                db.session.commit()
            elif step == "submit" or step == "submit_report":
                perform(case, step, case.trainee)
            elif step == "approve":
                perform(
                    case,
                    step,
                    case.mentor,
                    comment=self.rng.choice(
                        ["", "Rancangan sudah sesuai, silakan lanjutkan ke pimpinan."]
                    ),
                )
            elif step == "request_revision":
                perform(case, step, case.mentor, comment=self.rng.choice(REVISION_NOTES))
            elif step == "decline_endorsement":
                perform(
                    case,
                    step,
                    case.executive,
                    comment="Mohon selaraskan dengan prioritas RPJMD sebelum didukung.",
                )
            elif step == "endorse":
                perform(case, step, case.executive, data=self.letter(case))
            elif step == "record_seminar":
                perform(
                    case,
                    step,
                    case.group.examiner,
                    data={
                        "seminar_date": self.past_working_day(self.rng.randint(1, 6)).isoformat(),
                        "seminar_outcome": self.rng.choice(["accepted", "accepted_with_notes"]),
                    },
                    comment="Seminar rancangan dihadiri mentor dan coach.",
                )
            elif step == "seminar_revision":
                perform(
                    case,
                    step,
                    case.group.examiner,
                    comment="Rancangan perlu diperbaiki sesuai masukan seminar.",
                )
            elif step == "defer":
                perform(
                    case,
                    step,
                    organizer,
                    comment="Peserta berhalangan hadir pada "
                    "seminar laporan; dijadwalkan ulang oleh penyelenggara.",
                )
            elif step == "finalize":
                perform(case, step, organizer)
            elif step == "withdraw":
                actor = case.trainee if self.rng.random() < 0.5 else organizer
                perform(case, step, actor, comment=self.rng.choice(WITHDRAW_NOTES))
            else:  # pragma: no cover - a typo in a path above
                raise ValueError(step)

    def past_working_day(self, back: int) -> date:
        d = self.today
        while back > 0:
            d -= timedelta(days=1)
            if is_working_day(d):
                back -= 1
        return d

    def letter(self, case: Case) -> dict:
        self.letter_no += self.rng.randint(3, 40)
        when = self.past_working_day(self.rng.randint(1, 8))
        return {
            "letter_number": f"000.1.5/{self.letter_no}/"
            f"{case.executive.agency.short_name.replace(' ', '-')}/{ROMAN[when.month - 1]}/"
            f"{when.year}",
            "letter_date": when.isoformat(),
        }

    def progress(self, plan: Plan) -> None:
        """Cases in implementation report some progress (no milestone service yet)."""
        if plan.case.state != "implementation":
            return
        short = [m for m in plan.case.milestones if m.term == "short"]
        if plan.special == "lambar":
            # Fourteen of fifteen kecamatan done; Sukau is the last stop.
            short[0].status = "in_progress"
            short[0].achieved_quantity = 14
            return
        if short and self.rng.random() < 0.6:
            short[0].status = "verified"
            short[0].achieved_quantity = short[0].target_quantity
            if len(short) > 1:
                short[1].status = self.rng.choice(["in_progress", "reported"])

    def build(self) -> None:
        self.build_regions()
        self.build_institutions()
        self.build_agencies()
        self.build_people()
        self.build_cohorts()
        db.session.flush()
        cohort_of_group = {g.id: s.cohort for s in self.cohorts for g in s.groups}
        for plan in self.plans:
            self.fill(plan, cohort_of_group[plan.group.id])
        db.session.commit()
        # Ids, not objects: the session is emptied between cases below.
        self.organizer_of = {s.cohort.id: s.organizers[0].id for s in self.cohorts}
        case_ids = [plan.case.id for plan in self.plans]
        # Every commit expires all loaded objects; keeping the session small keeps each
        # perform() from reloading the whole demo world.
        db.session.expunge_all()
        for plan, case_id in zip(self.plans, case_ids, strict=True):
            plan.case = db.session.get(Case, case_id)
            self.drive(plan)
            self.progress(plan)
            db.session.commit()
            db.session.expunge_all()


KUKAR_TOPIC = dict(
    title="Penataan Tata Kelola Perencanaan Pembangunan Desa dengan Pembinaan Secara Terpadu",
    current="Perencanaan pembangunan desa di Kabupaten Kutai Kartanegara belum sepenuhnya "
    "terintegrasi dan partisipatif; pembinaan perangkat daerah kepada desa berjalan "
    "sendiri-sendiri sehingga program desa kerap tidak tepat sasaran.",
    ideal="Perencanaan pembangunan desa yang terstruktur, inklusif dan berdampak nyata, dengan "
    "partisipasi masyarakat dan program yang tepat sasaran serta berkelanjutan.",
    issue="Belum optimalnya tata kelola perencanaan pembangunan desa karena pembinaan kepada "
    "desa belum terpadu.",
    innovation="Pembinaan secara terpadu lintas sektor: pelatihan, pendampingan dan fasilitasi "
    "Musrenbangdes secara sistematis oleh satu tim pembina.",
    medium="Dalam 6–12 bulan: pembinaan terpadu dan fasilitasi Musrenbangdes menjangkau seluruh "
    "kecamatan di Kabupaten Kutai Kartanegara.",
    long="Dalam 1–2 tahun: seluruh desa di Kabupaten Kutai Kartanegara menyusun RKPDes yang "
    "selaras dengan RKPD melalui pembinaan terpadu.",
    benefits="Masyarakat desa memperoleh program pembangunan yang tepat sasaran; perangkat desa "
    "memahami perencanaan; DPMD Kukar memiliki pola pembinaan yang efisien.",
    scope="Seluruh desa di Kabupaten Kutai Kartanegara; tahap awal kecamatan Tenggarong, "
    "Loa Kulu dan Sebulu.",
    stakeholders=[
        {
            "name": "Bupati Kutai Kartanegara",
            "kind": "external",
            "role": "Sponsor; dukungan penganggaran dan teknis",
            "influence": "high",
            "interest": "high",
            "strategy": "Dukungan resmi dan laporan kemajuan berkala.",
        },
        {
            "name": "Kepala DPMD Kutai Kartanegara",
            "kind": "internal",
            "role": "Mentor",
            "influence": "high",
            "interest": "high",
            "strategy": "Konsultasi mingguan.",
        },
        {
            "name": "Bappeda Kutai Kartanegara",
            "kind": "external",
            "role": "Penyelarasan RKPDes dengan RKPD",
            "influence": "high",
            "interest": "low",
            "strategy": "Dilibatkan dalam tim pembina terpadu.",
        },
        {
            "name": "Camat se-Kutai Kartanegara",
            "kind": "external",
            "role": "Pembina wilayah",
            "influence": "low",
            "interest": "high",
            "strategy": "Rapat koordinasi dan pembagian jadwal pembinaan.",
        },
        {
            "name": "Kepala desa, perangkat desa dan BPD",
            "kind": "external",
            "role": "Sasaran pembinaan",
            "influence": "low",
            "interest": "high",
            "strategy": "Pelatihan dan pendampingan Musrenbangdes.",
        },
        {
            "name": "Fasilitator pembangunan desa",
            "kind": "external",
            "role": "Pendamping lapangan",
            "influence": "low",
            "interest": "high",
            "strategy": "Bagian dari tim pembina terpadu.",
        },
    ],
    risks=[
        {
            "risk": "Jadwal Musrenbangdes serentak sehingga tim pembina tidak dapat hadir di "
            "semua desa",
            "mitigation": "Pembinaan berjenjang melalui kecamatan dan daring.",
        },
        {
            "risk": "Pergantian perangkat desa",
            "mitigation": "Modul dan rekaman pelatihan tersedia untuk perangkat baru.",
        },
    ],
    milestones=[
        (
            "Membentuk tim pembina terpadu lintas sektor",
            "SK Kepala Dinas tentang tim pembina",
            1,
            "dokumen",
        ),
        (
            "Menyusun pedoman pembinaan terpadu perencanaan pembangunan desa",
            "Pedoman pembinaan terpadu",
            1,
            "dokumen",
        ),
        (
            "Pelatihan dan fasilitasi Musrenbangdes di desa percontohan",
            "Desa percontohan terbina",
            12,
            "desa",
        ),
    ],
)

PESERTA_TOPIC = dict(
    title="Peningkatan Partisipasi Perempuan dalam Musyawarah Perencanaan Pembangunan Desa "
    "melalui Sekolah Musrenbangdes di Kabupaten Kutai Kartanegara",
    current="Kehadiran dan usulan kelompok perempuan dalam Musrenbangdes masih rendah; usulan "
    "layanan dasar jarang masuk RKPDes.",
    ideal="Kelompok perempuan hadir dan usulannya tercatat dalam setiap Musrenbangdes.",
    issue="Rendahnya partisipasi perempuan dalam perencanaan pembangunan desa.",
    innovation="Sekolah Musrenbangdes: pembekalan singkat kader perempuan sebelum musyawarah, "
    "dengan lembar usulan baku.",
    milestones=[
        ("Menyusun kurikulum Sekolah Musrenbangdes", "Kurikulum", 1, "dokumen"),
        ("Sekolah Musrenbangdes di desa percontohan", "Kader perempuan terlatih", 60, "orang"),
    ],
)

LAMBAR_TOPIC = dict(
    title="Penguatan Tata Kelola Pemerintahan Pekon melalui Pembinaan Aparatur Pekon di 15 "
    "Kecamatan Kabupaten Lampung Barat",
    current="Banyak Peratin dan Pj. Peratin baru dilantik dan belum memahami tata kelola "
    "pemerintahan pekon, pengelolaan keuangan pekon dan administrasi pemerintahan.",
    ideal="Pemerintahan pekon yang kuat, transparan dan berorientasi pada kesejahteraan "
    "masyarakat di seluruh kecamatan.",
    issue="Belum meratanya pemahaman aparatur pekon tentang tata kelola pemerintahan pekon.",
    innovation="Pembinaan keliling ke seluruh 15 kecamatan dengan ruang dialog langsung antara "
    "pemerintah daerah dan pemerintah pekon, ditindaklanjuti pemutakhiran profil pekon "
    "berbasis aplikasi.",
    scope="Seluruh pekon di 15 kecamatan Kabupaten Lampung Barat.",
    stakeholders=[
        {
            "name": "Bupati Lampung Barat",
            "kind": "external",
            "role": "Sponsor",
            "influence": "high",
            "interest": "high",
            "strategy": "Dukungan resmi dan laporan.",
        },
        {
            "name": "Kepala DPMP Lampung Barat",
            "kind": "internal",
            "role": "Mentor",
            "influence": "high",
            "interest": "high",
            "strategy": "Konsultasi mingguan.",
        },
        {
            "name": "Camat se-Lampung Barat",
            "kind": "external",
            "role": "Tuan rumah pembinaan",
            "influence": "high",
            "interest": "high",
            "strategy": "Penjadwalan bersama.",
        },
        {
            "name": "Peratin dan Pj. Peratin",
            "kind": "external",
            "role": "Sasaran pembinaan",
            "influence": "low",
            "interest": "high",
            "strategy": "Dialog dan bimbingan teknis.",
        },
        {
            "name": "Operator pekon",
            "kind": "external",
            "role": "Pengisi profil pekon",
            "influence": "low",
            "interest": "high",
            "strategy": "Sosialisasi aplikasi profil pekon.",
        },
    ],
    milestones=[
        (
            "Pembinaan tata kelola pemerintahan pekon bagi Peratin dan Pj. Peratin di seluruh "
            "kecamatan",
            "Aparatur pekon terbina",
            15,
            "kecamatan",
            LAMPUNG_BARAT_KECAMATAN,
        ),
        (
            "Sosialisasi pengisian profil pekon berbasis aplikasi",
            "Operator pekon terlatih",
            2,
            "angkatan",
        ),
    ],
)


def load(today: date | None = None) -> bool:
    """Create the demo data unless present. Returns True when it created it."""
    exists = db.session.scalar(select(Institution.id).where(Institution.code == MARKER_CODE))
    db.session.commit()  # hand the connection back before _relaxed_sqlite hooks the pool
    if exists is not None:
        return False
    with _relaxed_sqlite():
        _Builder(today or date.today()).build()
    return True


@contextmanager
def _relaxed_sqlite():
    """On SQLite, skip the fsync of each of the ~300 commits while the demo loads; the
    setting is put back when each connection returns to the pool. A crash mid-load loses
    only demo data, which `flask aksi demo` recreates on an empty database."""
    engine = db.engine
    if engine.dialect.name != "sqlite":
        yield
        return

    def relax(dbapi_connection, record, _proxy):
        cursor = dbapi_connection.cursor()
        record.info["aksi_synchronous"] = cursor.execute("PRAGMA synchronous").fetchone()[0]
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()

    def restore(dbapi_connection, record):
        previous = record.info.pop("aksi_synchronous", None)
        if dbapi_connection is not None and previous is not None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA synchronous={int(previous)}")
            cursor.close()

    event.listen(engine, "checkout", relax)
    event.listen(engine, "checkin", restore)
    try:
        yield
    except BaseException:
        db.session.rollback()  # hands the connection back too, restoring its setting
        raise
    else:
        db.session.commit()
    finally:
        event.remove(engine, "checkout", relax)
        event.remove(engine, "checkin", restore)
