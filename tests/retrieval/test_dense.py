"""DenseIndex over real FAISS: exact and IVF, removal, filters, persistence."""
import numpy as np
import pytest

from backend.models import GroundworkError
from backend.retrieval.dense import DenseIndex


def unit_vectors(n, dim=32, seed=0):
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_exact_search_add_remove_filter(tmp_path):
    vectors = unit_vectors(200)
    ids = np.arange(1000, 1200, dtype=np.int64)
    index = DenseIndex(32)
    index.add(ids, vectors)
    assert index.kind == "flat" and len(index) == 200
    [top] = index.search(vectors[7], 3)
    assert top[0][0] == 1007 and top[0][1] == pytest.approx(1.0, abs=1e-5)
    brute = np.argsort(-(vectors @ vectors[7]))[:3] + 1000
    assert [i for i, _ in top] == list(brute)
    assert index.remove([1007, 5]) == 1
    assert 1007 not in set(index.ids()) and len(index) == 199
    [filtered] = index.search(vectors[7], 5, allowed_ids={1001, 1002})
    assert {i for i, _ in filtered} == {1001, 1002}
    assert index.search(vectors[7], 5, allowed_ids=set()) == [[]]
    # batch of queries: one list per query
    results = index.search(vectors[:2], 1)
    assert [r[0][0] for r in results] == [1000, 1001]
    index.save(tmp_path / "d.faiss")
    loaded = DenseIndex.load(tmp_path / "d.faiss", 32)
    assert sorted(loaded.ids()) == sorted(index.ids())
    assert loaded.search(vectors[3], 1)[0][0][0] == 1003
    with pytest.raises(GroundworkError, match="dimension"):
        DenseIndex.load(tmp_path / "d.faiss", 16)


def test_readding_an_id_replaces_its_vector():
    vectors = unit_vectors(3)
    index = DenseIndex(32)
    index.add([1, 2, 3], vectors)
    index.add([1], vectors[2])
    assert len(index) == 3
    assert np.allclose(index.vectors([1])[1], vectors[2])


def test_switches_to_ivf_and_keeps_removal_and_filters(tmp_path):
    vectors = unit_vectors(900, seed=1)
    index = DenseIndex(32, exact_below=500, nprobe=64)
    index.add(np.arange(400), vectors[:400])
    assert index.kind == "flat"
    index.add(np.arange(400, 900), vectors[400:])
    assert index.kind == "ivf" and len(index) == 900
    assert sorted(index.ids()) == list(range(900))
    assert index.search(vectors[650], 1)[0][0][0] == 650
    assert index.remove([650, 651]) == 2 and len(index) == 898
    index.add([5], vectors[899])  # replacing a vector inside the IVF keeps one copy
    assert len(index) == 898 and {i for i, _ in index.search(vectors[899], 2)[0]} == {5, 899}
    index.add([5], vectors[5])
    assert 650 not in {i for i, _ in index.search(vectors[650], 10)[0]}
    [filtered] = index.search(vectors[10], 3, allowed_ids={10, 20, 30})
    assert {i for i, _ in filtered} == {10, 20, 30}
    index.save(tmp_path / "ivf.faiss")
    loaded = DenseIndex.load(tmp_path / "ivf.faiss", 32, exact_below=500, nprobe=64)
    assert loaded.kind == "ivf" and loaded.search(vectors[5], 1)[0][0][0] == 5
    assert loaded.remove(np.arange(700)) == 698
    # shrunk below half the threshold: back to exact search, same ids
    assert loaded.kind == "flat" and sorted(loaded.ids()) == list(range(700, 900))


def test_bad_shapes_are_clear():
    index = DenseIndex(8)
    with pytest.raises(GroundworkError, match="dimension 8"):
        index.add([1], np.zeros((1, 4), dtype=np.float32))
    with pytest.raises(GroundworkError, match="2 ids but 1 vectors"):
        index.add([1, 2], np.zeros((1, 8), dtype=np.float32))
    assert index.search(np.zeros(8, dtype=np.float32), 5) == [[]]


def test_ivf_is_retrained_after_growing_fourfold():
    vectors = unit_vectors(2600, dim=16, seed=2)
    index = DenseIndex(16, exact_below=500, nprobe=16)
    index.add(np.arange(600), vectors[:600])
    first_nlist = index._index.nlist
    index.add(np.arange(600, 2600), vectors[600:])
    assert index.kind == "ivf" and index._index.nlist > first_nlist
    assert index.search(vectors[2500], 1)[0][0][0] == 2500 and len(index) == 2600
