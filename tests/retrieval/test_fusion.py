"""Fusion against hand-computed values."""
import pytest

from backend.retrieval.fusion import fuse_reciprocal_rank, fuse_weighted

RANKINGS = {
    "bm25": [(1, 9.0), (2, 6.0), (3, 3.0)],
    "dense": [(2, 0.8), (4, 0.6), (1, 0.4)],
}


def test_rrf_scores_ranks_and_order():
    hits = fuse_reciprocal_rank(RANKINGS, k=60)
    by_id = {h.chunk_id: h for h in hits}
    # chunk 1: 1/61 + 1/63; chunk 2: 1/62 + 1/61; chunk 3: 1/63; chunk 4: 1/62
    assert by_id[1].fused_score == pytest.approx(1 / 61 + 1 / 63)
    assert by_id[2].fused_score == pytest.approx(1 / 62 + 1 / 61)
    assert by_id[3].fused_score == pytest.approx(1 / 63)
    assert by_id[4].fused_score == pytest.approx(1 / 62)
    assert [h.chunk_id for h in hits] == [2, 1, 4, 3]
    assert [h.rank for h in hits] == [1, 2, 3, 4]
    assert by_id[1].ranks == {"bm25": 1, "dense": 3}
    assert by_id[1].scores == {"bm25": 9.0, "dense": 0.4}
    assert by_id[4].ranks == {"dense": 2} and "bm25" not in by_id[4].scores


def test_rrf_limit_and_small_k():
    hits = fuse_reciprocal_rank(RANKINGS, k=1, limit=2)
    # k=1: chunk 1: 1/2 + 1/4 = 0.75; chunk 2: 1/3 + 1/2 = 0.8333
    assert [h.chunk_id for h in hits] == [2, 1]
    assert hits[0].fused_score == pytest.approx(1 / 3 + 1 / 2)


def test_weighted_min_max():
    hits = fuse_weighted(RANKINGS, {"bm25": 0.3, "dense": 0.7})
    by_id = {h.chunk_id: h for h in hits}
    # bm25 normalised: 1 -> 1.0, 2 -> 0.5, 3 -> 0.0; dense: 2 -> 1.0, 4 -> 0.5, 1 -> 0.0
    assert by_id[1].fused_score == pytest.approx(0.3 * 1.0 + 0.7 * 0.0)
    assert by_id[2].fused_score == pytest.approx(0.3 * 0.5 + 0.7 * 1.0)
    assert by_id[3].fused_score == pytest.approx(0.0)
    assert by_id[4].fused_score == pytest.approx(0.7 * 0.5)
    assert [h.chunk_id for h in hits] == [2, 4, 1, 3]


def test_weighted_single_score_list_and_empty():
    hits = fuse_weighted({"bm25": [(5, 2.0)], "dense": []}, {"bm25": 0.5, "dense": 0.5})
    assert [(h.chunk_id, h.fused_score, h.rank) for h in hits] == [(5, 0.5, 1)]
    assert fuse_reciprocal_rank({"bm25": [], "dense": []}) == []
