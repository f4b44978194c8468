"""The near-duplicate thresholds hold on the labelled pairs (tests/data/similarity_pairs.yaml):
a floor of precision and recall at the chosen threshold, for the real model and for the
lexical fallback. No database: the vectors are compared directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from workflow.services import similarity as S

PAIRS_FILE = Path(__file__).parent / "data" / "similarity_pairs.yaml"
# Unrelated pairs: a topic's anchor with the "other" action of the topic this far down.
UNRELATED_OFFSET = 11

# Floors at the thresholds in workflow/services/similarity.py (measured: model P 0.92 R 0.92;
# lexical P 0.89 R 0.67, see bench/similarity.py).
FLOORS = {S.MODEL_ID: (0.85, 0.85), S.LEXICAL_ID: (0.80, 0.55)}


def labelled_pairs() -> list[tuple[str, str, str]]:
    """(kind, text a, text b): kind is paraphrase, same_topic or unrelated."""
    topics = yaml.safe_load(PAIRS_FILE.read_text(encoding="utf-8"))["topics"]

    def text(item):
        return S.proposal_text(item["title"], item["problem"])

    pairs = []
    for i, topic in enumerate(topics):
        far = topics[(i + UNRELATED_OFFSET) % len(topics)]
        pairs.append(("paraphrase", text(topic["a"]), text(topic["same"])))
        pairs.append(("same_topic", text(topic["a"]), text(topic["other"])))
        pairs.append(("unrelated", text(topic["a"]), text(far["other"])))
    return pairs


def scores(model: str, pairs) -> list[float]:
    texts = sorted({t for _, a, b in pairs for t in (a, b)})
    vectors = {}
    for t in texts:
        vec = S.embed(t, model)
        assert vec is not None, f"{model} gave no vector"
        vectors[t] = vec
    return [S.cosine(vectors[a], vectors[b]) for _, a, b in pairs]


def test_the_labelled_set_has_at_least_60_pairs_of_each_kind_in_indonesian():
    pairs = labelled_pairs()
    kinds = [k for k, _, _ in pairs]
    assert len(pairs) >= 60
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "paraphrase": 24,
        "same_topic": 24,
        "unrelated": 24,
    }
    assert len({(a, b) for _, a, b in pairs}) == len(pairs)


@pytest.fixture(scope="module")
def model_ready():
    status = S.engine_status()  # outside an app: AKSI_EMBEDDING_MODEL or the bundled model
    assert status.mode == "model", f"the embedding model does not load: {status}"


@pytest.mark.parametrize("model", [S.MODEL_ID, S.LEXICAL_ID])
def test_precision_and_recall_at_the_threshold_reach_the_floor(model, model_ready):
    pairs = labelled_pairs()
    labels = [kind == "paraphrase" for kind, _, _ in pairs]
    precision, recall = S.precision_recall(scores(model, pairs), labels, S.DUPLICATE[model])
    floor_p, floor_r = FLOORS[model]
    assert precision >= floor_p and recall >= floor_r, (model, precision, recall)


def test_the_model_ranks_a_paraphrase_above_the_same_topic_for_most_topics(model_ready):
    pairs = labelled_pairs()
    values = scores(S.MODEL_ID, pairs)
    by_kind: dict[str, list[float]] = {}
    for (kind, _, _), value in zip(pairs, values, strict=True):
        by_kind.setdefault(kind, []).append(value)
    wins = np.array(by_kind["paraphrase"]) > np.array(by_kind["same_topic"])
    assert wins.mean() >= 0.9
    assert np.mean(by_kind["unrelated"]) < np.mean(by_kind["same_topic"])


def test_the_lexical_vector_is_normalised_and_ignores_case_and_stop_words():
    a = S.lexical_vector("Digitalisasi LAYANAN adminduk di kecamatan")
    b = S.lexical_vector("digitalisasi layanan adminduk kecamatan")
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-5
    assert S.cosine(a, b) == pytest.approx(1.0, abs=1e-5)
    assert not np.any(S.lexical_vector("di ke dari"))  # only stop words: nothing to compare


def test_the_compared_text_is_the_title_and_the_problem_cut_to_a_bound():
    text = S.proposal_text("  Judul  aksi ", "masalah " * 500)
    assert text.startswith("Judul aksi\nmasalah")
    assert len(text) == S.MAX_CHARS
