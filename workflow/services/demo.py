"""Demo data for `flask aksi demo`: institutions, regions, agencies, cohorts and cases in
every state of every shipped definition, one login per role. Demo only.

Names, places and the two showcase projects come from the news articles the design cites:
DPMD Kutai Kartanegara's "Penataan Tata Kelola Perencanaan Pembangunan Desa dengan
Pembinaan Secara Terpadu" (endorsed by the Bupati) and DPMP Lampung Barat's pembinaan of
aparatur pekon across its 15 kecamatan. Everything else is generated from a fixed seed, so
two loads on two machines give the same people and projects.

Every change to a case goes through perform() — transitions and the implementation
activities alike (progress reports, covered kecamatan, the mentor's verifications and
returns, with real evidence files) — so each case carries a real audit trail. Final reports
are written through their service before submit_report, scores through the evaluation
service.

The history happened on past dates: each action runs under clock_at() at a moment of its
case's timeline (drafting two to four weeks, approvals in days, seminars on dates, letters
before the implementation, two months of implementation, the seminar laporan in the
evaluation week), relative to the day loaded, so stays in states and due dates read as
real working days whenever the demo is loaded. Three cohorts of each stage run side by
side: closing (report seminars, results), implementing, proposing (seminars ahead, the
jadwal seminar). Seminars are rows written here (the organizer's scheduling and the
attendance), booked without clashes; their outcome goes through perform(). BPSDM Lampung's
cohort began on version 1 of the PKA flow and is migrated to version 2 at the end, as
`flask aksi migrate-cases` would; a case with sheets on the old rubric stays on version 1.

The whole load is one database transaction: interrupted, it leaves nothing behind (nor any
evidence file), and the next run starts afresh.
"""

from __future__ import annotations

import io
import math
import random
import re
import secrets
import textwrap
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import event, select
from werkzeug.datastructures import FileStorage
from werkzeug.security import generate_password_hash

from .. import jobs
from ..engine import registry
from ..extensions import db
from ..models import (
    Agency,
    Case,
    Cohort,
    CohortMember,
    Delegation,
    Document,
    Group,
    Institution,
    InstitutionHoliday,
    Milestone,
    Program,
    Region,
    Seminar,
    SeminarPanelist,
    User,
)
from ..models._base import clock_at
from . import campaign_demo, evaluation
from . import final_report as reports
from .calendar import is_working_day
from .documents import upload_dir
from .workflow import definition_of, migrate_case, perform, plan_migration, start_case

PASSWORD = "aksi-demo"
ACCOUNTS = [
    ("peserta", "Peserta / trainee (implementation, kecamatan covered)"),
    ("peserta2", "Peserta / trainee (proposal under revision)"),
    ("mentor", "Mentor (atasan langsung) / mentor"),
    ("pimpinan", "Pimpinan / executive sponsor (Bupati)"),
    ("coach", "Coach (widyaiswara)"),
    ("penguji", "Penguji / examiner"),
    ("penyelenggara", "Penyelenggara / organizer"),
    ("admin", "Admin"),
    *campaign_demo.ACCOUNTS,
]
# The load is skipped when this institution exists: a second run changes nothing.
MARKER_CODE = "bpsdm-kaltim"
SEED = 20261123
# What evaluators write beside a score, for a pass (False) and a fail (True).
SCORE_NOTES = {
    False: [
        "Sesuai dengan rancangan dan didukung bukti yang lengkap.",
        "Konsisten; tindak lanjut bimbingan dilaksanakan dengan baik.",
        "Paparan jelas dan menguasai substansi dalam tanya jawab.",
        "",
    ],
    True: [
        "Bukti dukung belum lengkap untuk sebagian tahapan.",
        "Keterlibatan tim efektif dan pemangku kepentingan masih terbatas.",
        "Paparan kurang fokus pada hasil jangka pendek.",
        "",
    ],
}
SHEET_NOTES = {
    False: [
        "Aksi perubahan layak dilanjutkan ke jangka menengah.",
        "Perlu dijaga keberlanjutannya dengan dukungan anggaran.",
    ],
    True: [
        "Capaian jangka pendek belum memadai; perlu pendampingan lanjutan.",
        "Terobosan belum berjalan di unit kerja sesuai target.",
    ],
}

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
# The pembinaan tour of seed 000, in the order visited; Sukau is the last stop, still ahead.
LAMBAR_ROUTE = [
    "Balik Bukit",
    "Batu Brak",
    "Belalau",
    "Batu Ketulis",
    "Kebun Tebu",
    "Sumber Jaya",
    "Way Tenong",
    "Air Hitam",
    "Sekincau",
    "Pagar Dewa",
    "Suoh",
    "Bandar Negeri Suoh",
    "Gedung Surian",
    "Lumbok Seminung",
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
# Pangkat/golongan by grade, and the years of birth that go with it (the NIP begins with
# the date of birth; CPNS at 23–28).
RANKS = {
    "pka": ["Penata Tingkat I, III/d", "Pembina, IV/a", "Pembina, IV/a"],
    "pkn": ["Pembina Tingkat I, IV/b", "Pembina Utama Muda, IV/c"],
    "pkp": ["Penata, III/c", "Penata Tingkat I, III/d"],
    "head": ["Pembina Tingkat I, IV/b", "Pembina Utama Muda, IV/c"],
    "sekda": ["Pembina Utama Madya, IV/d"],
    "bidang": ["Penata Tingkat I, III/d", "Pembina, IV/a"],
    "wi_utama": ["Pembina Utama Madya, IV/d"],
    "wi_madya": ["Pembina, IV/a", "Pembina Tingkat I, IV/b", "Pembina Utama Muda, IV/c"],
    "staff": ["Penata, III/c", "Penata Tingkat I, III/d"],
}
BORN = {
    "pka": (1976, 1988),
    "pkn": (1968, 1978),
    "pkp": (1982, 1993),
    "head": (1966, 1976),
    "sekda": (1965, 1972),
    "bidang": (1972, 1984),
    "wi_utama": (1964, 1972),
    "wi_madya": (1968, 1980),
    "staff": (1984, 1994),
}
# Seminar slots (local time) and rooms; trainees far from the capital join online.
SLOTS = [(8, 0), (9, 45), (11, 30), (13, 30), (15, 15)]
ROOMS = {
    "bpsdm-kaltim": ["Ruang Mahakam 1", "Ruang Mahakam 2"],
    "bpsdm-lampung": ["Ruang Siger 1", "Ruang Siger 2"],
}
ONLINE_PLACES = {"Berau", "Kutim", "Paser", "Pesbar"}
# States before the implementation, in the current flows and in version 1.
PROPOSAL_STATES = {
    "draft",
    "proposal_review",
    "mentor_review",
    "revision_requested",
    "seminar_proposal",
    "seminar_fixes",
    "fixes_review",
    "ratification",
    "endorsement_pending",
}
APPROVE_NOTES = [
    "",
    "Rancangan sudah sesuai, silakan diseminarkan.",
    "Layak diseminarkan; perhatikan target jangka pendek saat paparan.",
]
PASSED_NOTES = [
    "Rancangan layak dilaksanakan; panel sepakat tanpa perbaikan.",
    "Layak. Isu inti tajam dan didukung data; lanjutkan ke pengesahan.",
]
FIXES_NOTES = [
    "Perjelas indikator keberhasilan jangka pendek dan sesuaikan jadwal dengan anggaran.",
    "Tambahkan peta pemangku kepentingan di tingkat kecamatan dan mitigasi risiko jadwal.",
    "Sempitkan lokus uji coba agar target jangka pendek realistis dalam dua bulan.",
]
FAILED_NOTES = [
    "Isu yang diangkat belum menjadi kewenangan unit kerja peserta; rumuskan ulang isu inti "
    "bersama mentor dan ajukan seminar ulang.",
    "Terobosan belum jelas dan target tidak terukur; rancangan perlu disusun ulang.",
]
RETURN_FIXES_NOTES = [
    "Perbaikan indikator belum sesuai catatan panel; mohon lengkapi.",
    "Jadwal kegiatan belum disesuaikan; cek kembali catatan seminar.",
]
ACCEPT_NOTES = ["", "Perbaikan sudah sesuai catatan panel.", "Sudah sesuai; lanjut pengesahan."]
# The `peserta` account's sosialisasi so far: six of the ten kecamatan.
PESERTA_ROUTE = ["Tenggarong", "Loa Kulu", "Sebulu", "Tenggarong Seberang", "Loa Janan", "Anggana"]


def _overlaps(spans, start: datetime, end: datetime) -> bool:
    return any(s < end and start < e for s, e in spans)


@dataclass
class Plan:
    """What one demo case should become."""

    trainee: User
    mentor: User
    executive: User | None
    group: Group
    target: str
    topic: dict
    area: str
    revise_first: bool = False
    case: Case | None = None
    special: str = ""
    case_id: int = 0
    cohort_id: int = 0
    tl: Timeline | None = None
    # How the target is reached: the seminar_proposal case whose first seminar failed, the
    # evaluation case whose report seminar is still ahead, the withdrawal's stage…
    variant: str = ""
    short: str = ""  # the regency (KALTIM_REGENCIES / LAMPUNG_REGENCIES short name)


@dataclass
class CohortSpec:
    cohort: Cohort
    organizers: list[User]
    groups: list[Group] = field(default_factory=list)


class Timeline:
    """One case's clock. Each action happens at a moment after the previous one, in office
    hours of the institution's zone, and never after `limit` (now): the history is written
    through perform() under clock_at(), so events, stays and due dates carry these dates."""

    def __init__(self, zone: str, limit: datetime, rng: random.Random):
        self.zone, self.limit, self.rng = ZoneInfo(zone), limit, rng
        self.last: datetime | None = None

    def utc(self, day: date, minutes: int) -> datetime:
        local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=self.zone)
        return local.astimezone(UTC).replace(tzinfo=None)

    def at(self, day: date, earliest: int = 8 * 60, latest: int = 15 * 60 + 30) -> datetime:
        return self.exact(self.utc(day, self.rng.randint(earliest, latest)))

    def exact(self, moment: datetime) -> datetime:
        if self.last is not None and moment <= self.last:
            moment = self.last + timedelta(minutes=self.rng.randint(3, 25))
        if moment > self.limit:
            moment = max(self.limit, (self.last or self.limit) + timedelta(seconds=1))
        self.last = moment
        return moment

    @property
    def day(self) -> date | None:
        if self.last is None:
            return None
        return self.last.replace(tzinfo=UTC).astimezone(self.zone).date()


class _Builder:
    def __init__(self, today: date):
        self.today = today
        self.rng = random.Random(SEED)
        self.usernames: set[str] = set()
        self.nips: set[str] = set()
        self.titles: set[str] = set()
        self.heads: dict[int, User] = {}
        self.bidang_heads: dict[tuple[int, str], User] = {}
        self.plans: list[Plan] = []
        self.senior_agencies: set[int] = set()
        self.used_pairs: set[tuple[str, str]] = set()
        self.names: set[str] = set()
        self.letter_no = 100
        self.letters: dict[int, dict] = {}
        # Its own generators: the implementation story and the calendar leave the
        # generated world as it was.
        self.prng = random.Random(SEED + 4)
        self.trng = random.Random(SEED + 7)
        self.scenario = 0
        self.closed = 0
        self.evidence_count = 0
        self.timelines: dict[int, Timeline] = {}
        # Seminar bookings: who and which room is taken when (naive UTC spans).
        self.busy_people: dict[int, list[tuple[datetime, datetime]]] = {}
        self.busy_rooms: dict[tuple[int, str], list[tuple[datetime, datetime]]] = {}
        self.last_report_day: date | None = None
        # Plt.: principal id → (delegate id, first day, last day).
        self.acting: dict[int, tuple[int, date, date]] = {}
        # Nothing happens after now, nor after the day being loaded.
        now = datetime.now(UTC).replace(tzinfo=None)
        end_of_today = datetime.combine(today + timedelta(days=1), time(0)) - timedelta(hours=9)
        self.limit = min(now, end_of_today) - timedelta(minutes=1)
        self.yesterday = _working_days_before(today, 1)
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

    @staticmethod
    def later(d: date, n: int) -> date:
        """`n` working days after `d` (`d` itself, or the next working day, for 0)."""
        while not is_working_day(d):
            d += timedelta(days=1)
        while n > 0:
            d += timedelta(days=1)
            if is_working_day(d):
                n -= 1
        return d

    @staticmethod
    def earlier(d: date, n: int) -> date:
        return _working_days_before(d, n) if n > 0 else d

    @staticmethod
    def between(a: date, b: date) -> int:
        """Working days after `a` up to `b`."""
        n, d = 0, a
        while d < b:
            d += timedelta(days=1)
            if is_working_day(d):
                n += 1
        return n

    def past(self, d: date) -> date:
        """`d`, but not after the last working day before today."""
        return min(d, self.yesterday)

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
        """NIP: date of birth, month of appointment as CPNS, sex (1 male, 2 female), serial."""
        while True:
            born = date(
                self.rng.randint(born_from, born_to),
                self.rng.randint(1, 12),
                self.rng.randint(1, 28),
            )
            hired = min(born.year + self.rng.randint(23, 28), self.today.year - 2)
            value = (
                f"{born:%Y%m%d}{hired}{self.rng.choice((1, 3, 12)):02d}"
                f"{2 if female else 1}{self.rng.randint(1, 999):03d}"
            )
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
        grade: str = "pka",
        agency: Agency | None = None,
        institution: Institution | None = None,
        username: str | None = None,
        female: bool | None = None,
        **attrs,
    ) -> User:
        """A person with jabatan, pangkat/golongan and NIP as their grade has them; an
        elected kepala daerah (grade "elected") is no ASN: no NIP, no pangkat."""
        if female is None:
            female = name.split()[0] in FEMALE
        if username:
            self.usernames.add(username)
        else:
            username = self.username_for(name)
        elected = grade == "elected"
        user = User(
            username=username,
            name=name,
            nip=None if elected else self.nip(*BORN[grade], female),
            rank="" if elected else self.rng.choice(RANKS[grade]),
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
                position, grade = f"Sekretaris Daerah {agency.region.name}", "sekda"
            else:
                position, grade = f"Kepala {agency.name}", "head"
            self.heads[agency.id] = self.generated_user(position, agency=agency, grade=grade)
        return self.heads[agency.id]

    def bidang_head(self, agency: Agency, kind: str, unit: str) -> User:
        """A Kepala Bidang (Kepala Bagian in the Setda): the mentor of a PKP trainee."""
        key = (agency.id, unit)
        if key not in self.bidang_heads:
            if kind == "setda":
                position = f"Kepala {unit} Sekretariat Daerah {agency.region.name}"
            else:
                position = f"Kepala Bidang {unit} pada {agency.name}"
            self.bidang_heads[key] = self.generated_user(position, agency=agency, grade="bidang")
        return self.bidang_heads[key]

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
            city="Samarinda",
            region=self.kaltim,
        )
        self.bpsdm_lampung = Institution(
            code="bpsdm-lampung",
            name="BPSDM Provinsi Lampung",
            timezone="Asia/Jakarta",
            city="Bandar Lampung",
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
            grade="head",
        )
        self.heads[self.dpmd_kukar.id] = self.mentor
        # An elected kepala daerah: no NIP, no pangkat.
        self.pimpinan = self.user(
            "Aulia Rahman",
            "Bupati Kutai Kartanegara",
            agency=self.setda_kukar,
            username="pimpinan",
            grade="elected",
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
            grade="wi_utama",
            female=False,
        )
        self.penguji = self.user(
            "Dr. Ratna Wulandari, M.AP.",
            "Widyaiswara Ahli Utama BPSDM Provinsi Kalimantan Timur",
            agency=ag_k,
            institution=inst_k,
            username="penguji",
            grade="wi_utama",
        )
        self.penyelenggara = self.user(
            "Yuliana Permatasari, S.E.",
            "Analis Kebijakan Ahli Muda pada Bidang Kepemimpinan BPSDM Provinsi Kalimantan Timur",
            agency=ag_k,
            institution=inst_k,
            username="penyelenggara",
            grade="staff",
        )
        self.admin = self.user(
            "Fajar Ramadhan, S.Kom.",
            "Pranata Komputer Ahli Muda BPSDM Provinsi Kalimantan Timur",
            agency=ag_k,
            institution=inst_k,
            username="admin",
            grade="staff",
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
            grade="head",
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
        # Regional heads: the executives who endorse; elected, so without a NIP.
        self.executives: dict[str, User] = {"Kukar": self.pimpinan}
        for short, region in self.regencies.items():
            if short in self.executives:
                continue
            title = "Wali Kota" if region.name.startswith("Kota") else "Bupati"
            place = region.name.removeprefix("Kabupaten ").removeprefix("Kota ")
            female = self.rng.random() < 0.25
            self.executives[short] = self.user(
                self.person_name(female, degrees=self.rng.random() < 0.6),
                f"{title} {place}",
                agency=self.agencies[("setda", short)],
                grade="elected",
                female=female,
            )
        self.widyaiswara_k = [
            self.generated_user(
                "Widyaiswara Ahli Madya BPSDM Provinsi Kalimantan Timur",
                agency=ag_k,
                institution=inst_k,
                grade="wi_madya",
            )
            for _ in range(8)
        ]
        self.widyaiswara_l = [
            self.generated_user(
                "Widyaiswara Ahli Madya BPSDM Provinsi Lampung",
                agency=ag_l,
                institution=inst_l,
                grade="wi_madya",
            )
            for _ in range(2)
        ]
        self.organizer_l = self.generated_user(
            "Analis Kebijakan Ahli Muda BPSDM Provinsi Lampung",
            agency=ag_l,
            institution=inst_l,
            grade="staff",
        )
        self.organizer_k2 = self.generated_user(
            "Analis Kebijakan Ahli Pertama pada Bidang Kepemimpinan BPSDM Provinsi Kalimantan "
            "Timur",
            agency=ag_k,
            institution=inst_k,
            grade="staff",
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
        version: int | None = None,
    ) -> CohortSpec:
        start, deadline, impl_start, impl_end, evaluation, end = (self.day(o) for o in offsets)
        # The name without the year: pages print the year beside it.
        c = Cohort(
            program=program,
            name=name,
            year=start.year,
            quota=quota,
            definition_key=program.definition_key,
            definition_version=version,
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
        spec = CohortSpec(c, organizers)
        self.cohorts.append(spec)
        return spec

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
        staged = dict(topic, title=topic["title"].replace(" di {area}", " Tahap II di {area}"))
        if staged["title"].format(area=area) in self.titles:
            staged["title"] = topic["title"].replace(" di {area}", " Tahap III di {area}")
        return staged

    def trainee_for(self, kind: str, short: str, level: str) -> tuple[User, Agency, User]:
        """(trainee, agency, mentor) for a trainee of `level`: pka (a Kepala Bidang, mentored
        by the agency's head), pkn (the head, mentored by the Sekda), pkp (a Kepala Seksi,
        mentored by the Kepala Bidang)."""
        agency = self.agencies[(kind, short)]
        _name, _, units = AGENCY_KINDS[kind]
        if level == "pkn":
            mentor = self.head_of(self.agencies[("setda", short)], "setda")
            return self.head_of(agency, kind), agency, mentor
        unit = self.rng.choice(units)
        if level == "pkp":
            if kind == "setda":
                position = f"Kepala Subbagian pada {unit} Sekretariat Daerah {agency.region.name}"
            elif agency.name.startswith("Badan"):
                position = f"Kepala Subbidang pada Bidang {unit} {agency.name}"
            else:
                position = f"Kepala Seksi pada Bidang {unit} {agency.name}"
            trainee = self.generated_user(position, agency=agency, grade="pkp")
            return trainee, agency, self.bidang_head(agency, kind, unit)
        if kind == "setda":
            position = f"Kepala {unit} Sekretariat Daerah {agency.region.name}"
        else:
            position = f"Kepala Bidang {unit} pada {agency.name}"
        trainee = self.generated_user(position, agency=agency, grade="pka")
        return trainee, agency, self.head_of(agency, kind)

    def plan(
        self,
        group: Group,
        targets: list[str | tuple[str, str]],
        places: list[str],
        level: str = "pka",
    ) -> None:
        """Cases for `group`, one per target ("state" or ("state", "variant"))."""
        kinds = ["plan", "health", "edu", "civil", "finance", "ict", "hr", "setda", "pmd"]
        if level == "pkn":
            # A Sekda mentors the PKN II heads, so is not one of them.
            kinds = [k for k in kinds if k != "setda"]
        pairs = [
            ("pmp" if (kind, short) == ("pmd", "Lambar") else kind, short)
            for kind in kinds
            for short in places
        ]
        for target in targets:
            target, variant = target if isinstance(target, tuple) else (target, "")
            if level == "pkn":
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
            if level == "pkn":
                self.senior_agencies.add(self.agencies[(kind, short)].id)
            trainee, agency, mentor = self.trainee_for(kind, short, level)
            area = self.regencies[short].name
            topic = self.pick_topic(kind, area)
            self.titles.add(topic["title"].format(area=area))
            self.plans.append(
                Plan(
                    trainee=trainee,
                    mentor=mentor,
                    executive=None if level == "pkp" else self.executives[short],
                    group=group,
                    target=target,
                    topic=topic,
                    area=area,
                    revise_first=self.rng.random() < 0.3,
                    variant=variant,
                    short=short,
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
        pkp_k = self.program(
            self.bpsdm_kaltim, "PKP", "Pelatihan Kepemimpinan Pengawas", "aksi_perubahan_pkp"
        )
        pka_l = self.program(
            self.bpsdm_lampung, "PKA", "Pelatihan Kepemimpinan Administrator", "aksi_perubahan_pka"
        )
        self.cohorts: list[CohortSpec] = []
        w = self.widyaiswara_k
        kaltim = ["Kukar", "Samarinda", "Balikpapan", "Bontang", "Kutim", "Berau", "Paser"]
        both = [self.penyelenggara, self.admin]
        # Start, proposal deadline, implementation start and end, evaluation (the last day
        # of the seminar laporan), end: days from today. Three stages run side by side.
        finishing, implementing, proposing = (
            (-150, -126, -91, -25, 2, 9),
            (-105, -84, -46, 20, 30, 37),
            (-45, -12, 12, 75, 85, 92),
        )

        # A: closing — report seminars under way, results coming in.
        a = self.cohort(pka_k, "PKA Angkatan XXI", 40, finishing, both)
        a1 = self.group(a, self.coach, self.penguji)
        a2 = self.group(a, w[0], w[1])
        a3 = self.group(a, w[2], self.penguji)
        self.plan(
            a1,
            ["completed", "completed", "not_passed", "deferred", ("evaluation", "upcoming")],
            kaltim,
        )
        self.plan(
            a2,
            [
                "completed",
                "completed",
                "completed",
                ("evaluation", "scored"),
                ("evaluation", "upcoming"),
                ("withdrawn", "implementation"),
                "deferred",
            ],
            kaltim,
        )
        self.plan(
            a3,
            [
                "completed",
                "not_passed",
                ("evaluation", "scored"),
                ("evaluation", "upcoming"),
                "implementation",  # late: the report is overdue
                ("withdrawn", "draft"),
            ],
            kaltim,
        )
        # B: implementing — milestones reported, verified, returned.
        b = self.cohort(pka_k, "PKA Angkatan XXII", 40, implementing, [self.penyelenggara])
        b1 = self.group(b, self.coach, w[3])
        b2 = self.group(b, w[4], w[5])
        self.plan(b1, ["implementation"] * 4 + ["endorsement_pending"], kaltim)
        self.plan(
            b2,
            ["implementation"] * 4 + [("withdrawn", "implementation"), "ratification"],
            kaltim,
        )
        # C: proposing — approvals, seminars ahead (the schedule), fixes, signatures.
        c = self.cohort(
            pka_k, "PKA Angkatan XXIII", 40, proposing, [self.penyelenggara, self.organizer_k2]
        )
        c1 = self.group(c, self.coach, self.penguji)
        c2 = self.group(c, w[6], w[7])
        self.plan(
            c1,
            [
                "draft",
                "proposal_review",
                ("seminar_proposal", "held"),
                ("seminar_proposal", "failed"),
                "seminar_fixes",
                "fixes_review",
                ("ratification", "signing"),
                "endorsement_pending",
            ],
            kaltim,
        )
        self.plan(
            c2,
            [
                "draft",
                "draft",
                "proposal_review",
                "revision_requested",
                ("revision_requested", "declined"),
                "seminar_proposal",
                "seminar_proposal",
                "fixes_review",
                "ratification",
                ("withdrawn", "proposal_review"),
            ],
            kaltim,
        )
        # PKN II: one angkatan closing, the next one proposing.
        d = self.cohort(pkn_k, "PKN Tingkat II Angkatan I", 30, finishing, [self.penyelenggara])
        d1 = self.group(d, w[0], self.penguji)
        self.plan(
            d1,
            [
                "completed",
                "completed",
                "not_passed",
                "deferred",
                ("evaluation", "scored"),
                ("evaluation", "upcoming"),
                "implementation",
                ("withdrawn", "implementation"),
            ],
            kaltim,
            level="pkn",
        )
        e = self.cohort(pkn_k, "PKN Tingkat II Angkatan II", 30, proposing, [self.penyelenggara])
        e1 = self.group(e, self.coach, w[1])
        self.plan(
            e1,
            [
                "draft",
                "proposal_review",
                "revision_requested",
                "seminar_proposal",
                ("seminar_proposal", "failed"),
                "seminar_fixes",
                "fixes_review",
                "ratification",
                "endorsement_pending",
            ],
            kaltim,
            level="pkn",
        )
        # PKP: no executive endorsement; the panel's signatures open the implementation.
        f = self.cohort(pkp_k, "PKP Angkatan VII", 40, finishing, [self.organizer_k2])
        f1 = self.group(f, w[2], w[3])
        self.plan(
            f1,
            [
                "completed",
                "completed",
                "not_passed",
                "deferred",
                ("evaluation", "scored"),
                ("evaluation", "upcoming"),
                "implementation",
                ("withdrawn", "draft"),
            ],
            kaltim,
            level="pkp",
        )
        g = self.cohort(pkp_k, "PKP Angkatan VIII", 40, proposing, [self.organizer_k2])
        g1 = self.group(g, w[4], self.penguji)
        self.plan(
            g1,
            [
                "draft",
                "proposal_review",
                "revision_requested",
                "seminar_proposal",
                "seminar_fixes",
                "fixes_review",
                "ratification",
            ],
            kaltim,
            level="pkp",
        )
        # BPSDM Lampung (WIB): began on version 1 of the PKA flow; its running cases are
        # migrated to version 2 at the end of the load (see migrate_legacy).
        lampung = ["Lambar", "Pesbar", "Tanggamus", "Lamsel", "Bandar Lampung"]
        wl = self.widyaiswara_l
        self.legacy = self.cohort(
            pka_l, "PKA Angkatan IX", 30, (-100, -78, -62, 6, 14, 20), [self.organizer_l], 1
        )
        # An external examiner from BPSDM Kaltim, as is common for seminars: the `penguji`
        # account can open the Lampung Barat case (14 of 15 kecamatan) too.
        l1 = self.group(self.legacy, wl[0], self.penguji)
        l2 = self.group(self.legacy, wl[1], wl[0])
        self.plan(
            l1,
            ["implementation", "implementation", "endorsement_pending", "mentor_review", "draft"],
            lampung,
        )
        self.plan(
            l2,
            [
                "implementation",
                ("evaluation", "scored"),  # v1 sheets submitted: stays on version 1
                "evaluation",
                ("withdrawn", "implementation"),
                "revision_requested",
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
                short="Kukar",
            )
        )
        # `peserta` implements (cohort B), after one revision; one coverage milestone.
        self.plans.append(
            Plan(
                trainee=self.peserta,
                mentor=self.mentor,
                executive=self.pimpinan,
                group=b1,
                target="implementation",
                topic=PESERTA_TOPIC,
                area="Kabupaten Kutai Kartanegara",
                revise_first=True,
                special="peserta",
                short="Kukar",
            )
        )
        for target, group in (
            ("proposal_review", c1),  # the coach has approved; the `mentor` account's turn
            ("endorsement_pending", c1),
            ("implementation", b1),
        ):
            trainee = self.generated_user(
                f"Kepala Bidang {self.rng.choice(AGENCY_KINDS['pmd'][2])} pada Dinas "
                "Pemberdayaan Masyarakat dan Desa Kabupaten Kutai Kartanegara",
                agency=self.dpmd_kukar,
            )
            area = "Kabupaten Kutai Kartanegara"
            topic = self.pick_topic("pmd", area)
            self.titles.add(topic["title"].format(area=area))
            self.plans.append(
                Plan(
                    trainee=trainee,
                    mentor=self.mentor,
                    executive=self.pimpinan,
                    group=group,
                    target=target,
                    topic=topic,
                    area=area,
                    # Its report waits in the mentor account's queue.
                    special="queue" if target == "implementation" else "",
                    variant="coach_first" if target == "proposal_review" else "",
                    short="Kukar",
                )
            )
        self.plans.append(
            Plan(
                trainee=self.desmon,
                mentor=self.bulki,
                executive=self.executives["Lambar"],
                group=l1,
                target="implementation",
                topic=LAMBAR_TOPIC,
                area="Kabupaten Lampung Barat",
                special="lambar",
                short="Lambar",
            )
        )
        # An acting head: the Sekretaris of Dinkes Samarinda is Plt. Kepala Dinas, by the
        # Wali Kota's decree, and acts as mentor of a trainee of cohort B.
        dinkes = self.agencies[("health", "Samarinda")]
        head = self.head_of(dinkes, "health")
        self.plt = self.generated_user(f"Sekretaris {dinkes.name}", agency=dinkes, grade="head")
        trainee, _agency, _mentor = self.trainee_for("health", "Samarinda", "pka")
        area = dinkes.region.name
        topic = self.pick_topic("health", area)
        self.titles.add(topic["title"].format(area=area))
        self.plans.append(
            Plan(
                trainee=trainee,
                mentor=head,
                executive=self.executives["Samarinda"],
                group=b2,
                target="implementation",
                topic=topic,
                area=area,
                special="plt",
                short="Samarinda",
            )
        )
        # A second trainee account keeps the proposal phase at hand (the editor, a revision
        # requested by the mentor) while `peserta` implements. Made last, so the generated
        # people above stay the same.
        self.peserta2 = self.user(
            "Herlina Rahayu, S.E., M.Si.",
            "Kepala Bidang Keuangan dan Aset Desa pada Dinas Pemberdayaan Masyarakat dan Desa "
            "Kabupaten Kutai Kartanegara",
            agency=self.dpmd_kukar,
            username="peserta2",
            female=True,
        )
        self.plans.append(
            Plan(
                trainee=self.peserta2,
                mentor=self.mentor,
                executive=self.pimpinan,
                group=c1,
                target="revision_requested",
                topic=PESERTA2_TOPIC,
                area="Kabupaten Kutai Kartanegara",
                variant="mentor",
                short="Kukar",
            )
        )
        self.alumni_cohorts()

    def alumni_cohorts(self) -> None:
        """Issue 12: alumni followed up after graduation. PKP Angkatan V closed about 13
        months ago — among its alumni the `peserta2` account (since promoted, now in PKA
        XXIII): her 12-month follow-up is due; PKA Angkatan XVIII closed about 25 months ago
        and was followed up at 6, 12 and 24 months. Their own generator, and made last, so
        the rest of the demo stays as it was."""
        saved, self.rng = self.rng, random.Random(SEED + 12)
        self.alumni: list[tuple[Plan, tuple]] = []
        kaltim = ["Kukar", "Samarinda", "Balikpapan", "Bontang", "Kutim", "Berau", "Paser"]
        w = self.widyaiswara_k
        programs = {
            s.cohort.program.definition_key: s.cohort.program
            for s in self.cohorts
            if s.cohort.program.institution is self.bpsdm_kaltim
        }
        pkp, pka = programs["aksi_perubahan_pkp"], programs["aksi_perubahan_pka"]
        v = self.cohort(
            pkp, "PKP Angkatan V", 40, (-540, -516, -481, -415, -388, -381), [self.organizer_k2]
        )
        v1 = self.group(v, w[4], w[5])
        first = len(self.plans)
        self.plan(v1, ["completed", "completed", "completed"], kaltim, level="pkp")
        unit = "Keuangan dan Aset Desa"
        self.plans.append(
            Plan(
                trainee=self.peserta2,
                mentor=self.bidang_head(self.dpmd_kukar, "pmd", unit),
                executive=None,
                group=v1,
                target="completed",
                topic=self.pick_topic("pmd", "Kabupaten Kutai Kartanegara"),
                area="Kabupaten Kutai Kartanegara",
                short="Kukar",
            )
        )
        # (horizon, still running, confirmed): what each alumnus reported so far.
        scripts = [
            ((6, True, True), (12, True, True)),  # 12 months early: confirmed, running
            ((6, True, True),),  # 12-month report due
            ((6, False, True),),  # stopped: no more follow-up asked
            ((6, True, True),),  # `peserta2`: 6-month confirmed, 12-month due
        ]
        self.alumni += list(zip(self.plans[first:], scripts, strict=True))
        xviii = self.cohort(
            pka,
            "PKA Angkatan XVIII",
            40,
            (-910, -886, -851, -785, -758, -751),
            [self.penyelenggara],
        )
        x1 = self.group(xviii, w[0], self.penguji)
        first = len(self.plans)
        self.plan(x1, ["completed"] * 4, kaltim)
        scripts = [
            ((6, True, True), (12, True, True), (24, True, True)),
            ((6, True, True), (12, False, True)),  # stopped after a year
            ((6, True, True), (12, True, True), (24, True, False)),  # awaits the mentor
            ((6, True, True), (12, True, True), (24, False, True)),
        ]
        self.alumni += list(zip(self.plans[first:], scripts, strict=True))
        self.rng = saved

    def follow_ups(self) -> None:
        """The alumni's follow-up reports and their mentors' confirmations, through perform()
        on their dates: a few days after each horizon, confirmed within a week. (Without
        evidence files: the demo's evidence is the implementation's, one per milestone.)"""
        from . import followup

        r = random.Random(SEED + 13)
        for plan, script in self.alumni:
            case = db.session.get(Case, plan.case_id)
            if case is None or case.state != "completed":
                continue
            plan.case, self.cur = case, plan
            completed = followup.follow_up_of(case).completed
            followed = [m for m in case.milestones if m.term in ("medium", "long")]
            for horizon, running, confirm in script:
                day = self.later(followup.add_months(completed, horizon), r.randint(2, 8))
                if day >= self.today:
                    break
                status = "running" if running else "stopped"
                results = {
                    str(m.id): {
                        "status": "achieved"
                        if running and m.term == "medium" and horizon > 6
                        else status,
                        "achieved_quantity": (m.target_quantity or 1) if running else None,
                    }
                    for m in followed
                }
                narrative = (
                    f"Aksi perubahan “{case.title}” tetap berjalan {horizon} bulan setelah "
                    "pelatihan: tim efektif melanjutkan pembinaan dan anggaran tersedia."
                    if running
                    else f"Aksi perubahan terhenti pada bulan ke-{horizon}: anggaran tidak "
                    "dilanjutkan setelah pergantian pimpinan unit."
                )
                self.act(
                    day,
                    "report_follow_up",
                    case.trainee,
                    data={
                        "horizon": horizon,
                        "running": running,
                        "narrative": narrative,
                        "report_date": day.isoformat(),
                        "results": results,
                    },
                )
                if not confirm:
                    break
                decided = self.past(self.later(day, r.randint(1, 5)))
                self.act(
                    decided,
                    "confirm_follow_up",
                    case.mentor,
                    comment=r.choice(["", "Sesuai kondisi di lapangan.", "Terverifikasi."]),
                    data={"horizon": horizon},
                )
            db.session.commit()
            db.session.expunge_all()

    def acting_official(self) -> None:
        """The Plt. Kepala Dinkes Samarinda: a decree (SK) of the Wali Kota, a date range
        covering cohort B; meanwhile the mentor's actions on its cases are the Plt.'s."""
        plan = next(p for p in self.plans if p.special == "plt")
        starts = self.cohorts[1].cohort.start_date - timedelta(days=30)
        ends = starts + timedelta(days=180)
        self.letter_no += self.rng.randint(3, 40)
        db.session.add(
            Delegation(
                principal_id=plan.mentor.id,
                delegate_id=self.plt.id,
                role="mentor",
                kind="plt",
                starts_on=starts,
                ends_on=ends,
                reason="Kepala Dinas definitif menjalani perawatan kesehatan jangka panjang.",
                sk_number=f"800.1.3.3/{self.letter_no}/BKPSDM/{ROMAN[starts.month - 1]}/"
                f"{starts.year}",
                sk_date=starts - timedelta(days=3),
                created_by_id=self.penyelenggara.id,
            )
        )
        self.acting[plan.mentor.id] = (self.plt.id, starts, ends)

    def fill(self, plan: Plan, n: int) -> Case:
        t = plan.topic
        cohort = plan.group.cohort
        plan.tl = Timeline(cohort.program.institution.timezone, self.limit, random.Random(n))
        # Registered by the organizer on the first day of the training.
        with clock_at(plan.tl.at(cohort.start_date, 7 * 60 + 30, 9 * 60)):
            case = start_case(
                cohort,
                plan.trainee,
                group=plan.group,
                mentor=plan.mentor,
                executive=plan.executive,
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

    def assign_ndh(self) -> None:
        """NDH (nomor daftar hadir): 1..n per cohort, in the order of the trainees' names."""
        by_cohort: dict[int, list[Case]] = {}
        for plan in self.plans:
            by_cohort.setdefault(id(plan.group.cohort), []).append(plan.case)
        for cases in by_cohort.values():
            cases.sort(key=lambda c: c.trainee.name.casefold())
            for number, case in enumerate(cases, start=1):
                case.ndh = number

    def stakeholders(self, plan: Plan) -> list[dict]:
        sponsor = (
            plan.executive.position if plan.executive else f"Kepala {plan.trainee.agency.name}"
        )
        return [
            {
                "name": sponsor,
                "kind": "external" if plan.executive else "internal",
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

    # ---- moving cases: only through perform(), each at its moment ---------------------
    def act(self, day: date, trigger: str, actor: User, **kw):
        with clock_at(self.cur.tl.at(day)):
            return perform(self.cur.case, trigger, actor, **kw)

    def act_at(self, moment: datetime, trigger: str, actor: User, **kw):
        with clock_at(self.cur.tl.exact(moment)):
            return perform(self.cur.case, trigger, actor, **kw)

    def organizer(self, case: Case) -> User:
        return db.session.get(User, self.organizer_of[case.cohort_id])

    def person(self, case: Case, role: str, day: date) -> User:
        """Who acts as `role` on `day`: a Plt. in place of the mentor while the decree runs."""
        if role == "trainee":
            return case.trainee
        if role == "coach":
            return case.group.coach
        if role == "examiner":
            return case.group.examiner
        if role == "executive":
            return case.executive
        if role == "mentor":
            acting = self.acting.get(case.mentor_id)
            if acting and acting[1] <= day <= acting[2]:
                return db.session.get(User, acting[0])
            return case.mentor
        return self.organizer(case)

    def drive(self, plan: Plan) -> None:
        case, r = plan.case, self.trng
        target = plan.target
        if target == "draft":
            return
        if target == "withdrawn":
            stage = plan.variant or "draft"
            if stage != "draft":
                self.walk_to(plan, stage)
            base = max(plan.tl.day, case.cohort.start_date)
            if stage == "implementation":
                short = [m for m in case.milestones if m.term == "short"]
                self.milestone_to(plan, short[0], "in_progress")
                base = max(plan.tl.day, case.cohort.implementation_start)
            day = self.past(self.later(base, r.randint(4, 12)))
            actor = case.trainee if r.random() < 0.5 else self.organizer(case)
            self.act(day, "withdraw", actor, comment=r.choice(WITHDRAW_NOTES))
            return
        self.walk_to(plan, target)
        if target == "implementation":
            self.implementation(plan)
        elif target not in PROPOSAL_STATES:
            self.finish(plan)

    def walk_to(self, plan: Plan, goal: str) -> None:
        if definition_of(plan.case).has_state("mentor_review"):  # version 1 of PKA
            steps = self.v1_steps(plan, goal)
        else:
            steps = self.proposal_steps(plan, goal)
        cohort, r = plan.case.cohort, self.trng
        if goal not in PROPOSAL_STATES:
            end = self.earlier(cohort.implementation_start, r.randint(1, 3))
        elif cohort.implementation_start <= self.today:
            # A straggler of a cohort already implementing: stuck there for weeks.
            end = self.earlier(cohort.implementation_start, r.randint(1, 4))
        else:
            end = self.earlier(self.today, r.randint(1, 4))
        self.walk(plan, steps, end)

    def v1_steps(self, plan: Plan, goal: str) -> list[tuple[str, str, int]]:
        """Version 1 of the PKA flow: the mentor alone approves, no seminar."""
        r = self.trng
        steps = [("submit", "trainee", 0)]
        if plan.revise_first and goal != "revision_requested":
            steps += [("revise", "mentor", r.randint(1, 3)), ("submit", "trainee", r.randint(3, 5))]
        if goal == "revision_requested":
            return [*steps, ("revise", "mentor", r.randint(1, 3))]
        if goal == "mentor_review":
            return steps
        steps.append(("approve", "mentor", r.randint(1, 4)))
        if goal == "endorsement_pending":
            return steps
        return [*steps, ("endorse", "executive", r.randint(2, 5))]

    def proposal_steps(self, plan: Plan, goal: str) -> list[tuple[str, str, int]]:
        """The proposal phase of the current flows up to `goal`: (action, who, working days
        after the previous action). Coach and mentor both approve, the panel hears the
        seminar rancangan, fixes go to the coach, the panel signs, the executive endorses
        (not in PKP)."""
        r = self.trng
        endorsement = definition_of(plan.case).has_state("endorsement_pending")
        declined = goal == "revision_requested" and plan.variant == "declined"
        if declined:
            goal = "endorsement_pending"
        steps = [("submit", "trainee", 0)]
        if plan.revise_first and goal != "revision_requested":
            who = r.choice(("coach", "mentor"))
            steps += [("revise", who, r.randint(1, 4)), ("submit", "trainee", r.randint(3, 6))]
        if goal == "revision_requested":
            who = "mentor" if plan.variant == "mentor" else r.choice(("coach", "mentor"))
            return [*steps, ("revise", who, r.randint(1, 4))]
        first, second = r.sample(("coach", "mentor"), 2)
        if plan.variant == "coach_first":
            first, second = "coach", "mentor"
        steps.append(("approve", first, r.randint(1, 3)))
        if goal == "proposal_review":
            if plan.variant != "coach_first" and r.random() < 0.5:
                steps.pop()  # nobody has signed yet
            return steps
        steps.append(("approve", second, r.randint(0, 3)))
        if goal == "seminar_proposal":
            if plan.variant == "held":  # held; the examiner has yet to record the outcome
                return [*steps, ("held", "", r.randint(3, 6))]
            if plan.variant == "failed":
                steps.append(("seminar", "failed", r.randint(3, 6)))
            return [*steps, ("upcoming", "", r.randint(0, 1))]
        if goal in ("seminar_fixes", "fixes_review"):
            outcome = "fixes"
        else:
            outcome = r.choices(("passed", "fixes", "failed"), (5, 4, 1))[0]
        if outcome == "failed":
            steps.append(("seminar", "failed", r.randint(3, 6)))
            outcome = r.choice(("passed", "fixes"))
            steps.append(("seminar", outcome, r.randint(4, 7)))
        else:
            steps.append(("seminar", outcome, r.randint(3, 7)))
        if goal == "seminar_fixes":
            return steps
        if outcome == "fixes":
            steps.append(("fixes", "trainee", r.randint(2, 5)))
            if goal == "fixes_review":
                return steps
            if r.random() < 0.25:
                steps += [("return_fixes", "coach", r.randint(1, 2))]
                steps += [("fixes", "trainee", r.randint(1, 3))]
            steps.append(("accept", "coach", r.randint(1, 3)))
        signers = r.sample(("examiner", "coach", "mentor"), 3)
        if goal == "ratification":
            signers = signers[: r.randint(1, 2)] if plan.variant == "signing" else []
        steps += [("ratify", who, r.randint(0, 2)) for who in signers]
        if goal == "ratification" or not endorsement:
            return steps
        if declined:
            return [*steps, ("decline", "executive", r.randint(2, 4))]
        if goal == "endorsement_pending":
            return steps
        return [*steps, ("endorse", "executive", r.randint(2, 5))]

    def walk(self, plan: Plan, steps: list[tuple[str, str, int]], end: date) -> None:
        """Take the steps so the last falls on `end`: drafting first (at least eight working
        days), the gaps shrunk in proportion when the cohort leaves less room."""
        if not steps:
            return
        cohort = plan.case.cohort
        total = sum(gap for *_, gap in steps)
        lower = self.later(cohort.start_date, 8)
        start = self.earlier(end, total)
        if start < lower:
            room = max(self.between(lower, end), 0)
            steps = [(k, who, gap * room // total) for k, who, gap in steps] if total else steps
            start = lower
        day = start
        for kind, who, gap in steps:
            day = max(self.past(self.later(day, gap)), plan.tl.day)
            self.step(plan, kind, who, day)
            day = plan.tl.day

    def step(self, plan: Plan, kind: str, who: str, day: date) -> None:
        case, r = plan.case, self.trng
        actor = self.person(case, who, day)
        if kind == "submit":
            self.act(day, "submit", actor)
        elif kind == "revise":
            self.act(day, "request_revision", actor, comment=r.choice(REVISION_NOTES))
        elif kind == "approve":
            self.act(day, "approve", actor, comment=r.choice(APPROVE_NOTES))
        elif kind == "seminar":
            self.proposal_seminar(plan, day, who)
        elif kind == "held":
            s = self.seminar(plan, "proposal", day, scheduled=plan.tl.day, latest=self.yesterday)
            self.hold(s, "Panel meminta peserta mempertajam analisis pemangku kepentingan.")
            plan.tl.exact(s.ends_at)
        elif kind == "upcoming":
            ahead = self.later(self.today, r.randint(1, 6))
            self.seminar(plan, "proposal", ahead, scheduled=day)
        elif kind == "fixes":
            self.act(day, "submit_fixes", actor)
        elif kind == "return_fixes":
            self.act(day, "return_fixes", actor, comment=r.choice(RETURN_FIXES_NOTES))
        elif kind == "accept":
            self.act(day, "accept_fixes", actor, comment=r.choice(ACCEPT_NOTES))
        elif kind == "ratify":
            self.act(day, "ratify", actor)
        elif kind == "endorse":
            self.letters[case.id] = self.letter(case, day, plan.tl.day)
            self.act(day, "endorse", actor, data=self.letters[case.id])
        elif kind == "decline":
            self.act(
                day,
                "decline_endorsement",
                actor,
                comment="Mohon selaraskan dengan prioritas RPJMD sebelum didukung.",
            )
        else:  # pragma: no cover - a typo in the steps above
            raise ValueError(kind)

    def letter(self, case: Case, day: date, signed_after: date) -> dict:
        """The sponsor's letter: dated on the day it is recorded or a little before, never
        before the panel's signatures, so always before the implementation it enables."""
        self.letter_no += self.rng.randint(3, 40)
        when = max(self.earlier(day, self.trng.randint(0, 2)), signed_after)
        return {
            "letter_number": f"000.1.5/{self.letter_no}/"
            f"{case.executive.agency.short_name.replace(' ', '-')}/{ROMAN[when.month - 1]}/"
            f"{when.year}",
            "letter_date": when.isoformat(),
        }

    # ---- seminars: scheduled by the organizer, held on a date, the panel's outcome -----
    def seminar(
        self, plan: Plan, kind: str, day: date, scheduled: date, latest: date | None = None
    ) -> Seminar:
        """Book the first free slot from `day` (no person twice, no room twice; online for
        trainees far from the provincial capital) and write the seminar as scheduled on
        `scheduled`. With `latest`, the slot is found on or before it (a past seminar)."""
        case = plan.case
        institution = case.cohort.program.institution
        panel = [
            ("examiner", case.group.examiner),
            ("coach", case.group.coach),
            ("mentor", self.person(case, "mentor", day)),
        ]
        people = {u.id for _, u in panel} | {case.trainee_id}
        online = plan.short in ONLINE_PLACES
        minutes = 90 if kind == "report" else 75
        days = [self.later(day, i) for i in range(15)]
        if latest is not None:
            days = [d for d in days if d <= latest] + [self.earlier(day, i) for i in range(1, 15)]
        # Each group keeps to its own room when it is free.
        rooms = ROOMS[institution.code]
        first = (int(case.group.name.split()[-1]) - 1) % len(rooms)
        rooms = rooms[first:] + rooms[:first]
        # A random first slot, so the day is not always opened by the same hour.
        turn = self.trng.randrange(len(SLOTS))
        for d in days:
            for hour, minute in SLOTS[turn:] + SLOTS[:turn]:
                start = plan.tl.utc(d, hour * 60 + minute)
                end = start + timedelta(minutes=minutes)
                if any(_overlaps(self.busy_people.get(p, ()), start, end) for p in people):
                    continue
                room = ""
                if not online:
                    busy = self.busy_rooms
                    free = [
                        name
                        for name in rooms
                        if not _overlaps(busy.get((institution.id, name), ()), start, end)
                    ]
                    if not free:
                        continue
                    room = free[0]
                    self.busy_rooms.setdefault((institution.id, room), []).append((start, end))
                for p in people:
                    self.busy_people.setdefault(p, []).append((start, end))
                break
            else:
                continue
            break
        else:  # pragma: no cover - fifteen days without a free slot
            raise RuntimeError("no free seminar slot")
        link = ""
        if online:
            link = f"https://zoom.us/j/{self.trng.randint(81_000_000_000, 89_999_999_999)}"
        created = plan.tl.at(min(scheduled, d))
        s = Seminar(
            cohort_id=case.cohort_id,
            case_id=case.id,
            kind=kind,
            starts_at=start,
            ends_at=end,
            room=room,
            online_link=link,
            status="scheduled",
            uid=uuid.UUID(int=self.trng.getrandbits(128)).hex,
            sequence=0,
            created_by_id=self.organizer_of[case.cohort_id],
            created_at=created,
            notes="",
        )
        s.panel = [SeminarPanelist(user_id=u.id, role=role) for role, u in panel]
        db.session.add(s)
        db.session.flush()
        return s

    def hold(self, s: Seminar, notes: str = "") -> None:
        """Held: the trainee presented; now and then a mentor sends apologies."""
        s.status = "held"
        s.trainee_attended = True
        absent = "mentor" if self.trng.random() < 0.15 else None
        for p in s.panel:
            p.attended = p.role != absent
        s.notes = notes
        s.updated_at = s.ends_at
        db.session.flush()

    def proposal_seminar(self, plan: Plan, day: date, outcome: str) -> None:
        case, r = plan.case, self.trng
        s = self.seminar(plan, "proposal", day, scheduled=plan.tl.day, latest=self.yesterday)
        trigger, comment = {
            "passed": ("seminar_passed", r.choice(PASSED_NOTES)),
            "fixes": ("seminar_passed_with_fixes", r.choice(FIXES_NOTES)),
            "failed": ("seminar_failed", r.choice(FAILED_NOTES)),
        }[outcome]
        self.hold(s, comment)
        moment = s.ends_at + timedelta(minutes=r.randint(5, 20))
        self.act_at(moment, trigger, case.group.examiner, comment=comment)

    # ---- the seminar laporan, the scores, the result -----------------------------------
    def finish(self, plan: Plan) -> None:
        """After the implementation: every short-term milestone closed, the report written
        and submitted, the report seminar on a day of the evaluation week, the panel's and
        the organizer's sheets, the result."""
        case, r = plan.case, self.trng
        cohort = case.cohort
        self.close_short_term(plan)
        if cohort.implementation_end > self.today:  # an early finisher
            due = self.earlier(self.today, r.randint(3, 6))
        else:
            due = self.earlier(cohort.implementation_end, r.randint(0, 4))
        submitted = self.past(max(self.later(plan.tl.day, 1), due))
        with clock_at(plan.tl.at(submitted)):
            self.write_final_report(plan)
        self.act(submitted, "submit_report", case.trainee)
        if definition_of(case).has_state("mentor_review"):  # version 1 of PKA
            if plan.variant == "scored":
                # Sheets on the version 1 rubric: this case cannot move to version 2.
                day = self.past(self.later(submitted, r.randint(1, 3)))
                self.score(plan, day, ("examiner", "coach"))
            return
        scheduled = self.past(self.later(submitted, r.randint(1, 3)))
        rubric = evaluation.rubric_of(case)
        panel_roles = tuple(x for x in rubric.roles if x != "organizer")
        if "organizer" in rubric.roles:
            # Sikap perilaku: scored by the organizer, from the classroom weeks.
            self.score(plan, scheduled, ("organizer",))
        week = [
            d
            for d in (self.earlier(cohort.evaluation_date, i) for i in range(10))
            if d > self.later(submitted, 2)
        ]
        held_days = [d for d in week if d <= self.yesterday]
        ahead = [d for d in week if d > self.today]
        if plan.variant == "upcoming" or not held_days:
            day = r.choice(ahead) if ahead else self.later(self.today, 1)
            self.seminar(plan, "report", day, scheduled=scheduled)
            return
        day = r.choice(held_days)
        if plan.special == "kukar":
            day = held_days[0]  # the latest: the scores are coming in
        s = self.seminar(plan, "report", day, scheduled=scheduled, latest=self.yesterday)
        if plan.target == "deferred":
            s.status = "cancelled"
            s.notes = "Peserta berhalangan hadir (sakit, surat keterangan dokter terlampir)."
            s.updated_at = s.starts_at - timedelta(hours=2)
            db.session.flush()
            self.act_at(
                s.starts_at,
                "defer",
                self.organizer(case),
                comment="Peserta berhalangan hadir pada seminar laporan; dijadwalkan ulang "
                "oleh penyelenggara.",
            )
            return
        self.hold(s, "Seminar laporan berjalan sesuai jadwal; panel memberikan masukan.")
        plan.tl.exact(s.ends_at)
        day = s.ends_at.replace(tzinfo=UTC).astimezone(plan.tl.zone).date()
        fail = plan.target == "not_passed"
        if plan.special == "kukar":
            # The coach has submitted, the examiner's sheet is half done, the mentor's
            # not started: the `mentor` account's turn.
            self.score(plan, day, ("coach", "examiner"), draft=("examiner",))
            return
        self.score(plan, day, panel_roles, fail=fail)
        if plan.variant == "scored":
            return  # every sheet in: the organizer's "Perlu tindakan Anda"
        self.act(self.past(self.later(day, r.randint(0, 1))), "finalize", self.organizer(case))

    def score(
        self, plan: Plan, day: date, roles: tuple[str, ...], fail: bool = False, draft=()
    ) -> None:
        """Sheets through the evaluation service, as the evaluators would: per-aspect scores
        with notes and, where the rubric asks, a rating per short-term milestone. Its own
        generator, so the cases made after this one stay the same. A role in `draft` leaves
        its sheet a draft with the last aspect open."""
        case = plan.case
        rng = random.Random(f"{SEED}-score-{case.id}-{'-'.join(roles)}")
        rubric = evaluation.rubric_of(case)
        ratings = {
            m.id: {
                "rating": "kurang"
                if m.status == "not_achieved"
                else (
                    "melampaui"
                    if (m.achieved_quantity or 0) > (m.target_quantity or math.inf)
                    else "sesuai"
                ),
                "note": "" if m.status == "verified" else (m.closing_note or "")[:200],
            }
            for m in evaluation.short_term(case)
        }
        for role in rubric.roles:
            if role not in roles:
                continue
            who = self.person(case, role, day)
            # Sikap perilaku is no reason to fail: the change action is.
            failing = fail and role != "organizer"
            low, high = (45, 58) if failing else ((72, 88) if role == "organizer" else (78, 95))
            scores = {
                a.key: {
                    "value": float(rng.randint(low, high)),
                    "note": rng.choice(SCORE_NOTES[failing]),
                }
                for a in rubric.aspects_for(role)
            }
            note = rng.choice(SHEET_NOTES[failing])
            rated = ratings if rubric.rates_milestones(role) else None
            if role in draft:
                last = rubric.aspects_for(role)[-1].key
                scores[last] = {"value": None, "note": ""}
                with clock_at(plan.tl.at(day)):
                    evaluation.save_draft(case, who, role, scores=scores, note=note)
                continue
            data = {"role": role, "scores": scores, "note": note}
            if rated is not None:
                data["ratings"] = rated
            self.act(day, "submit_scores", who, data=data)

    # ---- version 1 cases moved to version 2 --------------------------------------------
    def migrate_legacy(self) -> None:
        """The Lampung cohort began on version 1 of the PKA flow. Its running cases move to
        version 2 as `flask aksi migrate-cases` would (audited "migrated"); one whose mapping
        is blocked (sheets submitted on the old rubric) stays on version 1. New trainees of
        the cohort then start on version 2."""
        target = registry.get("aksi_perubahan_pka", 2)
        night = self.earlier(self.today, 2)
        cohort_id = self.legacy.cohort.id
        for plan in self.plans:
            if plan.cohort_id != cohort_id:
                continue
            case = db.session.get(Case, plan.case_id)
            plan.case, self.cur = case, plan
            if definition_of(case).state(case.state).terminal:
                continue
            if not plan_migration(case, target).ok:
                continue
            with clock_at(plan.tl.at(night, 19 * 60, 20 * 60)):
                migrate_case(case, target)
            if case.state == "evaluation":
                ahead = self.later(self.today, self.trng.randint(2, 5))
                self.seminar(plan, "report", ahead, scheduled=plan.tl.day)
            db.session.commit()
            db.session.expunge_all()
        cohort = db.session.get(Cohort, cohort_id)
        cohort.definition_version = target.version
        db.session.commit()

    # ---- implementation: only through the activities of perform() ---------------------
    def recent(self, case: Case, back: int) -> date:
        """`back` working days before today."""
        return _working_days_before(self.today, back)

    def around(self, case: Case, m: Milestone, early: int = 5) -> date:
        """A working day near the milestone's target date, inside the implementation window
        so far, after the case entered it, and before today."""
        start = max(case.cohort.implementation_start, self.cur.tl.day)
        latest = self.recent(case, 1)
        d = min(m.target_date - timedelta(days=self.prng.randint(0, early)), latest)
        if start <= latest:
            d = max(d, start)
        while not is_working_day(d) and d > start:
            d -= timedelta(days=1)
        return d

    def report(
        self,
        case: Case,
        m: Milestone,
        status: str,
        narrative: str,
        quantity: float | None = None,
        when: date | None = None,
        files: list[tuple[str, bytes]] | None = None,
    ) -> None:
        when = when or self.recent(case, 1)
        data = {"milestone_id": m.id, "status": status, "narrative": narrative}
        if quantity is not None:
            data["achieved_quantity"] = quantity
        data["report_date"] = when.isoformat()
        self.last_report_day = when
        self.act(when, "report_progress", case.trainee, data=data, files=_uploads(files))

    def decide(
        self, case: Case, m: Milestone, trigger: str, comment: str = "", day: date | None = None
    ) -> None:
        """The mentor (or the Plt.) decides a working day or two after the report."""
        if day is None:
            day = self.past(self.later(self.last_report_day, self.prng.randint(1, 2)))
        self.act(
            day,
            trigger,
            self.person(case, "mentor", day),
            comment=comment,
            data={"milestone_id": m.id},
        )

    def cover(self, case: Case, m: Milestone, unit: str, day: date, note: str, files) -> None:
        self.act(
            day,
            "cover_unit",
            case.trainee,
            data={"milestone_id": m.id, "unit": unit, "covered_on": day.isoformat(), "note": note},
            files=_uploads(files),
        )

    def evidence(
        self,
        plan: Plan,
        m: Milestone,
        when: date,
        photo: bool | None = None,
        done: float | None = None,
    ) -> tuple[str, bytes]:
        """One evidence file for a milestone: the document itself when the output is one,
        otherwise a photo of the activity or its berita acara."""
        case = plan.case
        self.evidence_count += 1
        if photo is None:
            photo = m.target_unit not in ("dokumen", "aplikasi") and self.evidence_count % 3 != 0
        if photo:
            return _photo_file(
                [m.activity],
                [
                    f"{m.output} — {case.trainee.agency.short_name}",
                    f"{plan.area}, {_tanggal(when)}",
                ],
                when,
                self.evidence_count,
            )
        if m.target_unit in ("dokumen", "aplikasi"):
            lines = [
                f"Aksi perubahan: {case.title}",
                f"Tahapan: {m.activity}. Keluaran: {m.output}.",
                f"Disusun oleh tim efektif {case.trainee.agency.name} dan dibahas bersama "
                "mentor sebelum ditetapkan.",
            ]
            return _pdf_file(_document_title(m), lines, case.trainee, plan.area, when)
        lines = [
            f"Pada tanggal {_tanggal(when)} telah dilaksanakan kegiatan {m.activity} dalam "
            f"rangka aksi perubahan “{case.title}”.",
            f"Keluaran: {m.output}. Capaian: {done or m.target_quantity or 0:g} {m.target_unit}.",
            "Daftar hadir dan dokumentasi kegiatan terlampir.",
            "Demikian berita acara ini dibuat untuk dipergunakan sebagaimana mestinya.",
        ]
        return _pdf_file(f"Berita Acara {m.activity}", lines, case.trainee, plan.area, when)

    def milestone_to(
        self,
        plan: Plan,
        m: Milestone,
        status: str,
        *,
        with_file: bool = True,
        returned_first: bool = False,
    ) -> None:
        """Take a planned milestone to `status` the way a trainee and a mentor would."""
        case, rng = plan.case, self.prng
        target = m.target_quantity or 0
        partial = max(1.0, math.floor(target * rng.uniform(0.3, 0.7))) if target > 1 else 0.0
        words = {"target": f"{target:g}", "unit": m.target_unit, "activity": m.activity}
        if status == "planned":
            return
        if status == "in_progress":
            texts = [t for t in IN_PROGRESS_TEXT if partial or "{done}" not in t]
            text = rng.choice(texts).format(done=f"{partial:g}", **words)
            when = self.recent(case, rng.randint(2, 6))
            self.report(case, m, "in_progress", text, partial if target > 1 else None, when)
            return
        if status == "not_achieved":
            text = rng.choice(NOT_ACHIEVED_TEXT)
            if partial:
                text += f" Capaian sementara {partial:g} dari {target:g} {m.target_unit}."
            self.report(case, m, "not_achieved", text, partial, self.around(case, m, 2))
            return
        # reported, verified or returned: a report for the mentor first.
        done = float(target)
        if target >= 4 and rng.random() < 0.25:
            done = target + math.ceil(target * rng.uniform(0.1, 0.3))  # melampaui
        text = rng.choice(REPORTED_TEXT).format(done=f"{done:g}", output=m.output, **words)
        if done > target:
            text += ABOVE_TEXT
        if status == "verified":
            when = self.around(case, m)
        else:
            when = self.recent(case, rng.randint(1, 3))
        if returned_first and status == "verified":
            # Sent back once, fixed, then verified: the history shows both reports.
            first = _working_days_before(when, 3)
            note, fixed = rng.choice(RETURN_NOTES)
            self.report(
                case, m, "reported", text, done, max(first, case.cohort.implementation_start)
            )
            self.decide(case, m, "return_milestone", note.format(**words))
            text = f"Perbaikan sesuai catatan mentor: {fixed}. {text}"
        files = [self.evidence(plan, m, when, done=done)] if with_file else []
        self.report(case, m, "reported", text, done, when, files)
        if status == "verified":
            self.decide(case, m, "verify_milestone", rng.choice(VERIFY_NOTES))
        elif status == "returned":
            note, _fixed = rng.choice(RETURN_NOTES)
            self.decide(case, m, "return_milestone", note.format(**words))

    def implementation(self, plan: Plan) -> None:
        """Progress of a case still implementing: milestones in every status, evidence,
        the mentor's verifications and returns — all through the activities."""
        case = plan.case
        short = [m for m in case.milestones if m.term == "short"]
        if plan.special == "lambar":
            return self.lambar_story(plan, short)
        if plan.special == "peserta":
            return self.peserta_story(plan, short)
        if plan.special == "queue":
            # A report waiting in the mentor account's queue; the next milestone overdue.
            self.milestone_to(plan, short[0], "reported")
            return None
        if case.cohort.implementation_start > self.today:
            statuses = ("in_progress",) if self.scenario % 2 else ()
        else:
            statuses = SCENARIOS[self.scenario % len(SCENARIOS)]
        self.scenario += 1
        for m, status in zip(short, statuses, strict=False):
            self.milestone_to(
                plan, m, status, returned_first=status == "verified" and self.prng.random() < 0.2
            )
        if statuses and all(s == "verified" for s in statuses):
            # Everything verified: the final report is being drafted.
            with clock_at(plan.tl.at(self.yesterday)):
                reports.save_report(
                    case,
                    case.trainee,
                    {k: v for k, v in self.final_report_text(plan).items() if k in DRAFT_FIELDS},
                    expected_version=reports.version_of(case),
                )
        return None

    def close_short_term(self, plan: Plan) -> None:
        """Before submit_report: every short-term milestone verified by the mentor or closed
        as not achieved with an explanation."""
        short = [m for m in plan.case.milestones if m.term == "short"]
        if plan.special == "kukar":
            return self.kukar_story(plan, short)
        missed = None
        if plan.target == "not_passed" or self.prng.random() < 0.1:
            missed = short[-1]
        # Evidence on every other case keeps the load small; the showcase carries plenty.
        self.closed += 1
        for i, m in enumerate(short):
            if m is missed:
                self.milestone_to(plan, m, "not_achieved")
            else:
                self.milestone_to(
                    plan,
                    m,
                    "verified",
                    with_file=i == 0 and self.closed % 2 == 0,
                    returned_first=self.prng.random() < 0.2,
                )
        return None

    def lambar_story(self, plan: Plan, short: list[Milestone]) -> None:
        """DPMP Lampung Barat: pembinaan held in 14 of the 15 kecamatan, Sukau last (seed
        000); the profil pekon sosialisasi reported to the mentor (seed 003)."""
        case = plan.case
        tour, profil = short
        start = case.cohort.implementation_start
        last = self.recent(case, 1)
        days = [
            start + timedelta(days=i)
            for i in range((last - start).days + 1)
            if is_working_day(start + timedelta(days=i))
        ] or [last]
        for i, kecamatan in enumerate(LAMBAR_ROUTE):
            day = days[i * len(days) // len(LAMBAR_ROUTE)]
            pekon = self.prng.randint(7, 19)
            files = []
            if i % 2 == 0:  # seven photos: the team does not photograph every stop
                self.evidence_count += 1
                files = [
                    _photo_file(
                        ["Pembinaan Tata Kelola Pemerintahan Pekon", f"Kecamatan {kecamatan}"],
                        [
                            f"Peratin dan Pj. Peratin se-Kecamatan {kecamatan} ({pekon} pekon)",
                            f"Aula Kantor Camat {kecamatan}, {_tanggal(day)}",
                        ],
                        day,
                        self.evidence_count,
                    )
                ]
            self.cover(
                case,
                tour,
                kecamatan,
                day,
                f"Pembinaan Peratin dan Pj. Peratin di aula kantor camat; {pekon} pekon hadir. "
                "Dibahas administrasi pemerintahan, pengelolaan Dana Desa dan pemberdayaan "
                "masyarakat.",
                files,
            )
        self.report(
            case,
            tour,
            "in_progress",
            "Pembinaan tata kelola pemerintahan pekon telah dilaksanakan di 14 dari 15 "
            "kecamatan. Tinggal Kecamatan Sukau yang belum dikunjungi; dijadwalkan sebagai "
            "titik terakhir bersama camat setempat.",
            when=last,
        )
        when = self.recent(case, 2)
        self.report(
            case,
            profil,
            "reported",
            "Sosialisasi pengisian profil pekon berbasis aplikasi bagi operator pekon telah "
            "dilaksanakan dua angkatan: angkatan I untuk Kecamatan Belalau dan Batu Ketulis di "
            "kantor Kecamatan Batu Ketulis, angkatan II untuk Kecamatan Balik Bukit dan Sukau "
            "di Liwa. Peserta memahami tata cara penyusunan profil pekon sesuai Permendagri "
            "Nomor 81 Tahun 2015.",
            2,
            when,
            [
                _pdf_file(
                    "Daftar Hadir Sosialisasi Profil Pekon",
                    [
                        "Sosialisasi pengisian profil pekon berbasis aplikasi bagi operator "
                        "pekon, angkatan I dan II.",
                        "Angkatan I: operator pekon Kecamatan Belalau dan Batu Ketulis "
                        "(24 orang). Angkatan II: operator pekon Kecamatan Balik Bukit dan "
                        "Sukau (21 orang).",
                        "Narasumber: Bidang Penataan dan Kerjasama Pekon DPMP Lampung Barat.",
                    ],
                    case.trainee,
                    "Liwa",
                    when,
                ),
            ],
        )

    def peserta_story(self, plan: Plan, short: list[Milestone]) -> None:
        """The `peserta` account: one milestone verified, one covering kecamatan (six of ten
        so far, with photos and a berita acara), one awaiting the mentor's verification
        (above target), one returned by the mentor with a comment."""
        case = plan.case
        curriculum, tour, school, musrenbang = short
        when = self.around(case, curriculum)
        self.report(
            case,
            curriculum,
            "reported",
            "Kurikulum Sekolah Musrenbangdes (6 sesi: hak dan peran perempuan dalam "
            "perencanaan desa, membaca APBDes, menyusun usulan, berbicara di forum) dan lembar "
            "usulan baku telah disusun bersama Bidang Pemberdayaan Masyarakat dan PKK.",
            1,
            when,
            [
                _pdf_file(
                    "Kurikulum Sekolah Musrenbangdes",
                    [
                        "Sesi 1: Hak dan peran perempuan dalam perencanaan pembangunan desa.",
                        "Sesi 2: Membaca RPJMDes, RKPDes dan APBDes.",
                        "Sesi 3: Menggali kebutuhan layanan dasar bersama kelompok perempuan.",
                        "Sesi 4: Menyusun usulan dengan lembar usulan baku.",
                        "Sesi 5: Menyampaikan usulan dalam Musrenbangdes.",
                        "Sesi 6: Mengawal usulan hingga masuk RKPDes.",
                    ],
                    case.trainee,
                    "Tenggarong",
                    when,
                )
            ],
        )
        self.decide(
            case,
            curriculum,
            "verify_milestone",
            "Kurikulum sudah sesuai; lembar usulan baku mudah dipakai kader.",
        )
        self.peserta_tour(plan, tour)
        self.report(
            case,
            musrenbang,
            "in_progress",
            "Pendampingan berjalan: dua Musrenbangdes sudah didampingi, empat desa lagi "
            "terjadwal minggu depan.",
            2,
            self.recent(case, 12),
        )
        when = self.recent(case, 4)
        self.report(
            case,
            musrenbang,
            "reported",
            "Kader perempuan hadir dan menyampaikan usulan pada Musrenbangdes di 6 desa "
            "percontohan; 23 usulan kelompok perempuan tercatat, 9 di antaranya masuk "
            "prioritas RKPDes.",
            6,
            when,
            [self.evidence(plan, musrenbang, when, photo=True)],
        )
        when = self.recent(case, 1)
        self.report(
            case,
            school,
            "reported",
            "Sekolah Musrenbangdes dilaksanakan di 6 desa percontohan di Kecamatan Loa Kulu "
            "dan Sebulu, diikuti 64 kader perempuan (target 60). Laporan disusun setelah "
            "rekap daftar hadir dari keenam desa lengkap.",
            64,
            when,
            [
                self.evidence(plan, school, self.recent(case, 9), photo=True),
                self.evidence(plan, school, self.recent(case, 7), photo=True),
                _pdf_file(
                    "Rekap Daftar Hadir Sekolah Musrenbangdes",
                    [
                        "Peserta: kader perempuan dari 6 desa percontohan di Kecamatan Loa Kulu "
                        "dan Sebulu.",
                        "Jumlah peserta hadir: 64 orang (target 60 orang).",
                        "Daftar hadir per desa bertanda tangan terlampir pada arsip bidang.",
                    ],
                    case.trainee,
                    "Tenggarong",
                    when,
                ),
            ],
        )
        self.decide(
            case,
            musrenbang,
            "return_milestone",
            "Berita acara Musrenbangdes baru terlampir untuk 4 dari 6 desa, dan capaian belum "
            "diuraikan per desa. Lampirkan berita acara keenam desa beserta daftar usulan "
            "kelompok perempuan yang masuk RKPDes.",
        )

    def peserta_tour(self, plan: Plan, tour: Milestone) -> None:
        """Sosialisasi of the Sekolah Musrenbangdes in six of the ten kecamatan so far."""
        case = plan.case
        first = self.later(self.cur.tl.day, 2)
        last = self.recent(case, 13)
        span = max(self.between(first, last), 0)
        for i, kecamatan in enumerate(PESERTA_ROUTE):
            day = self.later(first, span * i // len(PESERTA_ROUTE))
            files = []
            if i % 2 == 0:
                self.evidence_count += 1
                files = [
                    _photo_file(
                        ["Sosialisasi Sekolah Musrenbangdes", f"Kecamatan {kecamatan}"],
                        [
                            f"Camat, TP-PKK dan kader perempuan Kecamatan {kecamatan}",
                            f"Pendopo Kantor Camat {kecamatan}, {_tanggal(day)}",
                        ],
                        day,
                        self.evidence_count,
                    )
                ]
            elif i == 3:
                files = [
                    _pdf_file(
                        f"Berita Acara Sosialisasi Sekolah Musrenbangdes Kecamatan {kecamatan}",
                        [
                            f"Pada tanggal {_tanggal(day)} telah dilaksanakan sosialisasi "
                            f"Sekolah Musrenbangdes di Kecamatan {kecamatan}.",
                            "Hadir: camat, Ketua TP-PKK kecamatan, kepala desa dan kader "
                            "perempuan dari desa se-kecamatan.",
                            "Demikian berita acara ini dibuat untuk dipergunakan sebagaimana "
                            "mestinya.",
                        ],
                        case.trainee,
                        kecamatan,
                        day,
                    )
                ]
            self.cover(
                case,
                tour,
                kecamatan,
                day,
                "Sosialisasi kepada camat, TP-PKK kecamatan dan kepala desa; jadwal Sekolah "
                "Musrenbangdes di desa disepakati.",
                files,
            )

    def kukar_story(self, plan: Plan, short: list[Milestone]) -> None:
        """DPMD Kukar (seed 001): the team's decree sent back once as a draft, then the
        guideline and the pilot villages, all verified with their evidence."""
        case = plan.case
        decree, guideline, villages = short
        when = self.around(case, decree)
        self.report(
            case,
            decree,
            "reported",
            "Tim pembina terpadu lintas sektor dibentuk: DPMD, Bappeda, camat dan fasilitator "
            "pembangunan desa. Rancangan SK terlampir.",
            1,
            _working_days_before(when, 3),
        )
        self.decide(
            case,
            decree,
            "return_milestone",
            "Yang dilampirkan masih rancangan. Mohon unggah SK yang sudah ditandatangani dan "
            "bernomor.",
        )
        self.report(
            case,
            decree,
            "reported",
            "SK Kepala DPMD Kutai Kartanegara tentang Tim Pembina Terpadu Perencanaan "
            "Pembangunan Desa telah ditandatangani dan bernomor; terlampir.",
            1,
            when,
            [
                _pdf_file(
                    "Keputusan Kepala DPMD Kutai Kartanegara tentang Tim Pembina Terpadu",
                    [
                        "Menetapkan Tim Pembina Terpadu Perencanaan Pembangunan Desa yang "
                        "terdiri atas unsur DPMD, Bappeda, camat dan fasilitator pembangunan "
                        "desa.",
                        "Tim bertugas melaksanakan pelatihan, pendampingan dan fasilitasi "
                        "Musrenbangdes secara sistematis.",
                        "Keputusan ini berlaku sejak tanggal ditetapkan.",
                    ],
                    case.mentor,
                    "Tenggarong",
                    when,
                )
            ],
        )
        self.decide(case, decree, "verify_milestone", "SK sudah sesuai.")
        when = self.around(case, guideline)
        self.report(
            case,
            guideline,
            "reported",
            "Pedoman pembinaan terpadu perencanaan pembangunan desa disusun bersama tim "
            "pembina dan dibahas dalam rapat koordinasi dengan camat.",
            1,
            when,
            [
                _pdf_file(
                    "Pedoman Pembinaan Terpadu Perencanaan Pembangunan Desa",
                    [
                        "Bab I: Latar belakang dan dasar hukum.",
                        "Bab II: Tim pembina terpadu dan pembagian peran.",
                        "Bab III: Tahapan pembinaan: pelatihan, pendampingan, fasilitasi "
                        "Musrenbangdes.",
                        "Bab IV: Penyelarasan RKPDes dengan RKPD.",
                        "Bab V: Pemantauan dan evaluasi.",
                    ],
                    case.trainee,
                    "Tenggarong",
                    when,
                )
            ],
        )
        self.decide(case, guideline, "verify_milestone")
        when = self.around(case, villages)
        self.report(
            case,
            villages,
            "reported",
            "Pelatihan perangkat desa dan fasilitasi Musrenbangdes oleh tim pembina terpadu "
            "dilaksanakan di 12 desa percontohan di Kecamatan Tenggarong, Loa Kulu dan Sebulu. "
            "Usulan desa disusun dengan format yang selaras dengan RKPD.",
            12,
            when,
            [
                self.evidence(plan, villages, _working_days_before(when, 6), photo=True),
                self.evidence(plan, villages, _working_days_before(when, 2), photo=True),
                self.evidence(plan, villages, when, photo=False),
            ],
        )
        self.decide(
            case, villages, "verify_milestone", "Bukti lengkap. Lanjutkan ke seluruh kecamatan."
        )

    # ---- the final report: written through its service ---------------------------------
    def final_report_text(self, plan: Plan) -> dict:
        case = plan.case
        if plan.special == "kukar":
            texts = dict(KUKAR_REPORT)
        else:
            texts = self.generic_report(plan)
        letter = self.letters.get(case.id)
        if letter:
            texts["sponsor_commitment"] = texts["sponsor_commitment"].format(
                number=letter["letter_number"],
                date=_tanggal(date.fromisoformat(letter["letter_date"])),
            )
        elif case.executive is None:
            # PKP: the mentor's signature on the lembar pengesahan is the unit's commitment.
            texts["sponsor_commitment"] = (
                f"{case.mentor.position} selaku mentor menandatangani lembar pengesahan "
                "rancangan dan berkomitmen melanjutkan layanan ini dalam rencana kerja unit "
                "tahun berikutnya."
            )
        texts["video_link"] = f"https://video.example.org/aksi-perubahan/{case.id}"
        texts["results"] = {
            str(m.id): _result_text(m) for m in case.milestones if m.term == "short"
        }
        return texts

    def generic_report(self, plan: Plan) -> dict:
        case = plan.case
        short = [m for m in case.milestones if m.term == "short"]
        closed = [m for m in short if m.status == "verified"]
        cohort = case.cohort
        summary = (
            f"Aksi perubahan “{case.title}” dilaksanakan pada "
            f"{_tanggal(cohort.implementation_start)} – {_tanggal(cohort.implementation_end)}. "
            f"{len(closed)} dari {len(short)} tahapan jangka pendek terverifikasi mentor. "
            f"Terobosan: {case.innovation}"
        )
        team = ", ".join(member["name"] for member in (case.team or [])[1:])
        steps = "; ".join(f"{m.activity.lower()} ({_progress(m)})" for m in short)
        return {
            "executive_summary": summary,
            "implementation": (
                f"Tim efektif ({team}) melaksanakan tahapan berikut: {steps}. Pemangku "
                "kepentingan dilibatkan melalui rapat koordinasi dan pendampingan di lapangan; "
                "mentor memverifikasi setiap tahapan berdasarkan bukti yang diunggah."
            ),
            "lessons_learned": " ".join(self.prng.sample(LESSONS, 2)),
            "continuation_medium": case.objective_medium
            + " Rencana tindak dibahas dalam rapat pimpinan dan dimasukkan ke Renja tahun depan.",
            "continuation_long": case.objective_long,
            "sponsor_commitment": f"{(case.executive or case.mentor).position} mendukung "
            "aksi perubahan ini "
            "melalui surat dukungan Nomor {number} tanggal {date} dan berkomitmen memasukkan "
            "kegiatan lanjutan ke dalam rencana kerja dan anggaran tahun berikutnya.",
        }

    def write_final_report(self, plan: Plan) -> None:
        case = plan.case
        reports.save_report(
            case,
            case.trainee,
            self.final_report_text(plan),
            expected_version=reports.version_of(case),
        )

    def build(self) -> None:
        self.build_regions()
        self.build_institutions()
        self.build_agencies()
        self.build_people()
        self.build_cohorts()
        db.session.flush()
        self.organizer_of = {s.cohort.id: s.organizers[0].id for s in self.cohorts}
        self.acting_official()
        for n, plan in enumerate(self.plans):
            self.fill(plan, n)
        self.assign_ndh()
        db.session.commit()
        for plan in self.plans:
            plan.case_id, plan.cohort_id = plan.case.id, plan.case.cohort_id
        # One case at a time in the session: each perform() flushes and commits only what
        # that case touched, not the whole demo world.
        db.session.expunge_all()
        for plan in self.plans:
            plan.case = db.session.get(Case, plan.case_id)
            self.cur = plan
            self.drive(plan)
            db.session.commit()
            db.session.expunge_all()
        self.migrate_legacy()
        self.follow_ups()
        campaign_demo.seed(self)


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
        (
            "Menyusun kurikulum Sekolah Musrenbangdes",
            "Kurikulum dan lembar usulan baku",
            1,
            "dokumen",
        ),
        (
            "Sosialisasi Sekolah Musrenbangdes kepada camat dan TP-PKK kecamatan",
            "Kecamatan tersosialisasi",
            10,
            "kecamatan",
            KUKAR_KECAMATAN,
        ),
        ("Sekolah Musrenbangdes di desa percontohan", "Kader perempuan terlatih", 60, "orang"),
        (
            "Pendampingan kader perempuan pada Musrenbangdes",
            "Usulan kelompok perempuan tercatat dalam berita acara Musrenbangdes",
            6,
            "desa",
        ),
    ],
)

PESERTA2_TOPIC = dict(
    title="Percepatan Penyaluran Dana Desa melalui Verifikasi Persyaratan Berbasis Aplikasi di "
    "Kabupaten Kutai Kartanegara",
    current="Dokumen persyaratan penyaluran Dana Desa diperiksa manual dan bolak-balik antara "
    "desa, kecamatan dan DPMD; penyaluran tahap I sering terlambat.",
    ideal="Persyaratan penyaluran diverifikasi daring sekali jalan dan Dana Desa tersalur tepat "
    "waktu.",
    issue="Lambatnya verifikasi dokumen persyaratan penyaluran Dana Desa.",
    innovation="Aplikasi verifikasi persyaratan penyaluran Dana Desa dengan daftar periksa baku "
    "dan status yang dapat dipantau desa.",
    milestones=[
        (
            "Menyusun daftar periksa baku persyaratan penyaluran",
            "Daftar periksa baku",
            1,
            "dokumen",
        ),
        (
            "Uji coba verifikasi daring di kecamatan percontohan",
            "Desa terverifikasi daring",
            20,
            "desa",
        ),
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


KUKAR_REPORT = dict(
    executive_summary="Aksi perubahan “Penataan Tata Kelola Perencanaan Pembangunan Desa "
    "dengan Pembinaan Secara Terpadu” menyatukan pembinaan perencanaan desa yang selama ini "
    "berjalan sendiri-sendiri ke dalam satu tim pembina lintas sektor. Selama masa "
    "implementasi tim pembina terpadu ditetapkan dengan SK Kepala DPMD, pedoman pembinaan "
    "terpadu tersusun, dan 12 desa percontohan di Kecamatan Tenggarong, Loa Kulu dan Sebulu "
    "didampingi hingga Musrenbangdes dengan usulan yang selaras dengan RKPD.",
    implementation="Tahap pertama membentuk tim pembina terpadu (DPMD, Bappeda, camat dan "
    "fasilitator pembangunan desa); rancangan SK sempat dikembalikan mentor sampai SK yang "
    "ditandatangani terlampir. Tim lalu menyusun pedoman pembinaan terpadu dan membahasnya "
    "dalam rapat koordinasi dengan camat. Pelatihan perangkat desa dan fasilitasi "
    "Musrenbangdes dilaksanakan bergilir di 12 desa percontohan; setiap kegiatan dilaporkan "
    "dengan berita acara dan dokumentasi, lalu diverifikasi mentor.",
    lessons_learned="Pembinaan yang terpadu menghemat waktu desa: satu jadwal, satu format "
    "usulan, satu tim. Dukungan tertulis Bupati sejak awal memudahkan keterlibatan Bappeda "
    "dan camat. Pergantian perangkat desa menuntut modul yang dapat dipelajari ulang, "
    "sehingga materi pelatihan direkam dan dibagikan.",
    continuation_medium=KUKAR_TOPIC["medium"] + " Jadwal pembinaan per kecamatan disepakati "
    "dalam rapat koordinasi camat triwulan pertama.",
    continuation_long=KUKAR_TOPIC["long"] + " Pedoman pembinaan terpadu diusulkan menjadi "
    "Peraturan Bupati.",
    sponsor_commitment="Bupati Kutai Kartanegara, Aulia Rahman, mendukung penuh aksi perubahan "
    "ini melalui surat dukungan Nomor {number} tanggal {date}, dengan komitmen penganggaran "
    "dan dukungan teknis agar pembinaan terpadu menjangkau seluruh desa.",
)

# ---- the implementation story: texts and evidence --------------------------------------
# Statuses of the short-term milestones of the cases still implementing, in turn, so every
# status shows: verified, reported (awaiting the mentor), returned, not achieved, etc.
SCENARIOS = [
    ("verified", "reported"),
    ("verified", "returned"),
    ("in_progress", "planned"),
    ("verified", "not_achieved"),
    ("reported", "planned"),
    ("verified", "in_progress"),
    ("returned", "planned"),
    ("verified", "verified"),
]
# What a trainee who has verified everything has drafted of the final report so far.
DRAFT_FIELDS = ("executive_summary", "implementation", "results")
REPORTED_TEXT = [
    "{activity} telah dilaksanakan bersama tim efektif. Capaian: {done} {unit} ({output}). "
    "Dokumentasi dan dokumen pendukung terlampir.",
    "Kegiatan selesai sesuai rencana kerja: {output}, {done} {unit} dari target {target}. "
    "Pelaksanaan dikoordinasikan dengan mentor dan pemangku kepentingan terkait.",
    "{output}: tercapai {done} {unit}. Kegiatan didukung staf bidang dan mitra di lapangan; "
    "bukti kegiatan terlampir.",
]
ABOVE_TEXT = " Capaian melampaui target berkat dukungan camat dan antusiasme peserta."
IN_PROGRESS_TEXT = [
    "Persiapan berjalan: rapat tim efektif sudah dilaksanakan dan jadwal disepakati dengan mitra.",
    "Sedang berjalan; sejauh ini {done} {unit} terlaksana. Sisanya dijadwalkan dalam dua "
    "pekan ke depan.",
    "Bahan dan undangan sudah disiapkan; pelaksanaan menunggu konfirmasi jadwal dari pimpinan.",
]
NOT_ACHIEVED_TEXT = [
    "Tidak tercapai dalam masa implementasi: anggaran kegiatan baru tersedia pada APBD "
    "Perubahan. Sisanya dijadwalkan pada triwulan berikutnya dan masuk rencana jangka menengah.",
    "Jadwal bertabrakan dengan agenda pemerintah daerah sehingga kegiatan ditunda atas arahan "
    "pimpinan; dilanjutkan setelah pelatihan dengan komitmen mentor.",
    "Mitra pelaksana belum siap karena pergantian pejabat; kegiatan dialihkan ke rencana "
    "jangka menengah.",
]
# (the mentor's comment, what the trainee fixed before reporting again)
RETURN_NOTES = [
    (
        "Foto kegiatan belum menunjukkan jumlah peserta; lampirkan daftar hadir yang "
        "ditandatangani.",
        "daftar hadir bertanda tangan dilampirkan",
    ),
    (
        "Yang dilampirkan masih draf. Mohon unggah dokumen yang sudah ditandatangani dan bernomor.",
        "dokumen yang sudah ditandatangani dan bernomor dilampirkan",
    ),
    (
        "Capaian belum diuraikan; lampirkan rincian per lokasi kegiatan beserta dokumentasinya.",
        "rincian capaian per lokasi dan dokumentasinya dilampirkan",
    ),
    (
        "Mohon lengkapi berita acara kegiatan dan notula rapat sebagai bukti.",
        "berita acara dan notula rapat dilampirkan",
    ),
]
VERIFY_NOTES = [
    "",
    "Sudah sesuai. Terima kasih.",
    "Bukti lengkap, capaian sesuai target.",
    "Terverifikasi. Lanjutkan ke tahapan berikutnya.",
]
LESSONS = [
    "Keterlibatan mentor sejak awal mempercepat keputusan di setiap tahapan.",
    "Koordinasi lintas perangkat daerah menentukan keberhasilan; rapat singkat yang rutin "
    "lebih efektif daripada rapat besar yang jarang.",
    "Data awal yang valid memudahkan penetapan sasaran dan pengukuran capaian.",
    "Bukti kegiatan perlu dikumpulkan saat kegiatan berlangsung, bukan di akhir.",
    "Tim efektif yang kecil dengan pembagian tugas jelas bekerja lebih cepat.",
]
BULAN = [
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
]
PHOTO_WALLS = [(46, 111, 84), (33, 86, 140), (150, 84, 40), (96, 64, 138), (124, 45, 62)]
SHIRTS = [(235, 235, 235), (40, 60, 110), (160, 40, 40), (200, 170, 60), (60, 120, 70)]


def _tanggal(d: date) -> str:
    return f"{d.day} {BULAN[d.month - 1]} {d.year}"


def _working_days_before(d: date, n: int) -> date:
    while n > 0:
        d -= timedelta(days=1)
        if is_working_day(d):
            n -= 1
    return d


def _progress(m: Milestone) -> str:
    return f"{m.achieved_quantity or 0:g} dari {m.target_quantity or 0:g} {m.target_unit}"


def _result_text(m: Milestone) -> str:
    """The final report's result against one short-term milestone."""
    done, target = m.achieved_quantity or 0, m.target_quantity or 0
    if m.status == "not_achieved":
        return f"Belum tercapai ({_progress(m)}). {m.closing_note}"
    rating = "melampaui target" if done > target else "sesuai target"
    if done < target:
        rating = "di bawah target"
    return f"Tercapai {_progress(m)} ({rating}): {m.output}. Diverifikasi mentor."


def _uploads(files: list[tuple[str, bytes]] | None) -> list[FileStorage]:
    return [FileStorage(stream=io.BytesIO(data), filename=name) for name, data in files or []]


def _latin1(text: str) -> str:
    # The PDF core fonts and the default bitmap font know Latin-1 only.
    for fancy, plain in (("—", "-"), ("–", "-"), ("“", '"'), ("”", '"'), ("’", "'")):
        text = text.replace(fancy, plain)
    return text.encode("latin-1", "replace").decode("latin-1")


def _slug(text: str, limit: int = 60) -> str:
    """A file name as people type it: words joined by underscores, cut between words."""
    name = ""
    for word in re.sub(r"[^A-Za-z0-9]+", " ", _latin1(text)).split():
        if name and len(name) + 1 + len(word) > limit:
            break
        name = f"{name}_{word}" if name else word
    return name or "dokumen"


def _document_title(m: Milestone) -> str:
    """The title of the document a milestone produced: "Menyusun SOP rekonsiliasi aset"
    gives "SOP rekonsiliasi aset", "Membentuk tim …" the decree forming it."""
    activity = m.activity
    if activity.startswith("Menyusun "):
        rest = activity.removeprefix("Menyusun ")
        return rest[:1].upper() + rest[1:]
    if activity.startswith("Membentuk "):
        return "Keputusan tentang Pembentukan " + activity.removeprefix("Membentuk ")
    return f"{m.output}: {activity}"


def _wrap(draw, text: str, font, width: int, lines: int) -> list[str]:
    out: list[str] = []
    for word in _latin1(text).split():
        if out and draw.textlength(f"{out[-1]} {word}", font=font) <= width:
            out[-1] = f"{out[-1]} {word}"
        else:
            out.append(word)
    return out[:lines]


def _photo_file(banner: list[str], caption: list[str], day: date, n: int) -> tuple[str, bytes]:
    """A small JPEG that reads as a photo of the event: banner, audience, caption strip —
    and says it is demo data. Named as a phone names its photos."""
    from PIL import Image, ImageDraw, ImageFont

    rng = random.Random(n)
    w, h = 560, 373
    wall = PHOTO_WALLS[n % len(PHOTO_WALLS)]
    img = Image.new("RGB", (w, h), tuple(min(255, c + 90) for c in wall))
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 220, w, h], fill=(122, 100, 80))
    draw.rectangle([50, 18, w - 50, 88], fill=wall)
    big, small = ImageFont.load_default(size=19), ImageFont.load_default(size=14)
    lines = [line for text in banner for line in _wrap(draw, text.upper(), big, w - 120, 2)]
    for i, line in enumerate(lines[:2]):
        draw.text((w // 2, 40 + i * 26), line, font=big, fill="white", anchor="mm")
    for row in range(3):
        for col in range(8):
            x = 36 + col * 66 + rng.randint(-8, 8) + (row % 2) * 22
            y = 176 + row * 42
            draw.rectangle([x - 15, y, x + 15, y + 38], fill=rng.choice(SHIRTS))
            draw.ellipse([x - 10, y - 22, x + 10, y - 1], fill=(110 + rng.randint(0, 40), 80, 55))
    draw.rectangle([0, h - 50, w, h], fill=(20, 20, 20))
    for i, text in enumerate(caption[:2]):
        line = _wrap(draw, text, small, w - 24, 1)
        draw.text((12, h - 43 + i * 20), line[0] if line else "", font=small, fill="white")
    draw.text((w - 8, 6), "data demo", font=small, fill=(255, 255, 255), anchor="ra")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=60, optimize=True)
    name = f"IMG_{day:%Y%m%d}_{rng.randint(8, 16):02d}{rng.randint(0, 59):02d}{n % 60:02d}.jpg"
    return name, out.getvalue()


def _pdf_file(title: str, lines: list[str], signer: User, place: str, day: date):
    """A one-page PDF (berita acara, decree, guideline…) marked as demo data."""
    from fpdf import FPDF

    def row(text: str, height: float, x: float | None = None, align: str = "L") -> None:
        if x is not None:
            pdf.set_x(x)
        pdf.cell(0, height, text, align=align, new_x="LMARGIN", new_y="NEXT")

    # Wrapped by character count: fpdf2's multi_cell measures every glyph and would take
    # most of the demo's time.
    pdf = FPDF(format="A4")
    pdf.set_title(_latin1(title))
    pdf.set_creator("Aksi - data demo")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    for line in textwrap.wrap(_latin1(title.upper()), 52):
        row(line, 7, align="C")
    pdf.set_font("Helvetica", "I", 9)
    row("Dokumen contoh - data demo Aksi", 6, align="C")
    pdf.ln(6)
    pdf.set_font("Helvetica", "", 11)
    for text in lines:
        for line in textwrap.wrap(_latin1(text), 88):
            row(line, 6)
        pdf.ln(2)
    pdf.ln(10)
    row(_latin1(f"{place}, {_tanggal(day)}"), 6, x=115)
    pdf.ln(18)
    row(_latin1(signer.name), 6, x=115)
    if signer.nip:
        row(f"NIP {signer.nip}", 6, x=115)
    return f"{_slug(title)}.pdf", bytes(pdf.output())


def load(today: date | None = None) -> bool:
    """Create the demo data unless present. Returns True when it created it. Its jobs
    (mail, thumbnails) start once it is committed: until then it holds the database."""
    with jobs.held(), _one_transaction():
        marker = select(Institution.id).where(Institution.code == MARKER_CODE)
        if db.session.scalar(marker) is not None:
            return False
        _Builder(today or date.today()).build()
    # After the jobs: the public photos are the thumbnails they make.
    from .showcase_demo import give_demo_consents

    give_demo_consents()
    db.session.commit()
    return True


@contextmanager
def _one_transaction():
    """Run the block as one database transaction although perform() commits after every
    action: the session joins an outer transaction, so each of its commits only releases a
    savepoint. A failure or an interruption rolls everything back and removes the evidence
    files written so far, so the next run starts afresh instead of finding half a demo.
    (On SQLite it is also fast: one commit, one sync.)"""
    db.session.remove()
    connection = db.engine.connect()
    driver = connection.connection.driver_connection
    sqlite = connection.dialect.name == "sqlite"
    isolation = None
    if sqlite:
        # pysqlite begins and commits on its own, which breaks savepoints; take over, so
        # that exactly BEGIN, SAVEPOINT, RELEASE and COMMIT are sent.
        isolation = driver.isolation_level
        driver.isolation_level = None
    written: list[str] = []

    def track(_session, instance) -> None:
        if isinstance(instance, Document):
            written.extend(n for n in (instance.stored_name, instance.thumb_name) if n)

    # Nothing else writes meanwhile, so what a commit leaves in memory stays true: keeping it
    # (expire_on_commit=False) spares reloading each case after every one of ~450 actions.
    session = db.session.session_factory(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    # Flask-SQLAlchemy's get_bind would hand out the engine, i.e. another connection.
    session.get_bind = lambda *args, **kwargs: connection
    event.listen(session, "transient_to_pending", track)
    outer = connection.begin()
    try:
        if sqlite:
            connection.exec_driver_sql("BEGIN")
        db.session.registry.set(session)
        yield
        session.commit()
        db.session.remove()
        outer.commit()
    except BaseException:
        db.session.remove()
        outer.rollback()
        folder = upload_dir()
        for name in written:
            (folder / name).unlink(missing_ok=True)
        raise
    finally:
        if sqlite:
            driver.isolation_level = isolation
        connection.close()
