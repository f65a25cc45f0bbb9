"""LexicalIndex over real bm25s: incremental segments against fresh builds, filters, persistence."""
import numpy as np
import pytest

from backend.models import GroundworkError
from backend.retrieval.lexical import LexicalIndex

TOPICS = ["refund", "password", "retention", "invoice", "laptop", "holiday", "audit", "encryption"]
QUERIES = ["refund invoice", "password encryption rotated", "holiday laptop", "audit retention policies"]


def corpus(n, start=0):
    """Deterministic small documents mixing a few topic words with filler."""
    rng = np.random.default_rng(start)
    texts = []
    for i in range(start, start + n):
        words = list(rng.choice(TOPICS, size=3)) + ["policy", "employees", f"clause{i % 7}"]
        texts.append(" ".join(words) + f" section {i}")
    return texts


def fresh(ids, texts):
    index = LexicalIndex()
    index.add(np.asarray(ids), texts)
    return index


def test_analysis_stems_and_drops_stop_words():
    index = LexicalIndex()
    assert index.tokenize_query("The Running Cats are rotating passwords!") == ["run", "cat", "rotat", "password"]
    assert LexicalIndex(stemmer="none", stopwords="none").tokenize_query("The cats") == ["the", "cats"]
    with pytest.raises(GroundworkError, match="bm25_stemmer"):
        LexicalIndex(stemmer="klingon")


def test_incremental_updates_match_a_fresh_build():
    texts = corpus(100)
    index = fresh(range(100), texts)
    assert index.segment_sizes() == {"main": 0, "delta": 100, "tombstones": 0}  # nothing built until needed
    index.search("refund", 5)
    assert index.segment_sizes() == {"main": 100, "delta": 0, "tombstones": 0}

    # a small addition goes to the delta segment
    extra = corpus(10, start=100)
    index.add(np.arange(100, 110), extra)
    index.remove([3, 4, 5])
    index.search("refund", 5)
    assert index.segment_sizes() == {"main": 100, "delta": 10, "tombstones": 3}
    live_ids = [i for i in range(110) if i not in (3, 4, 5)]
    all_texts = texts + extra
    reference = fresh(live_ids, [all_texts[i] for i in live_ids])
    for query in QUERIES:
        got = index.search(query, 200)
        want = reference.search(query, 200)
        assert {i for i, _ in got} == {i for i, _ in want}, query  # the matching set is exact
        assert not {3, 4, 5} & {i for i, _ in got}
        # scores are approximate (documented); the best hit of a distinctive query holds
        assert got[0][1] == pytest.approx(want[0][1], rel=0.25)

    # pushing the delta past the threshold merges: scores are then exactly a fresh build's
    more = corpus(30, start=110)
    index.add(np.arange(110, 140), more)
    index.search("refund", 5)
    assert index.segment_sizes() == {"main": 137, "delta": 0, "tombstones": 0}
    live_ids += list(range(110, 140))
    all_texts += more
    reference = fresh(live_ids, [all_texts[i] for i in live_ids])
    for query in QUERIES:
        assert index.search(query, 50) == reference.search(query, 50)


def test_tombstones_past_threshold_trigger_a_merge():
    index = fresh(range(50), corpus(50))
    index.search("audit", 3)
    index.remove(range(0, 11))  # 11 > 20% of 50
    index.search("audit", 3)
    assert index.segment_sizes() == {"main": 39, "delta": 0, "tombstones": 0}
    assert len(index) == 39 and set(index.ids()) == set(range(11, 50))


def test_readd_replaces_text_and_filters():
    index = fresh([1, 2, 3], ["alpha refund", "beta refund", "gamma laptop"])
    index.search("refund", 3)
    index.add([2], ["beta laptop"])
    assert {i for i, _ in index.search("refund", 10)} == {1}
    assert {i for i, _ in index.search("laptop", 10)} == {2, 3}
    assert index.texts([2, 9]) == {2: "beta laptop"}
    assert [i for i, _ in index.search("laptop", 10, allowed_ids={3})] == [3]
    assert index.search("laptop", 10, allowed_ids=set()) == []
    assert index.search("the of and", 10) == []  # only stop words
    assert index.search("zebra", 10) == []


def test_save_load_roundtrip_reuses_main(tmp_path):
    texts = corpus(60)
    index = fresh(range(60), texts)
    index.search("refund", 1)
    index.add([100], ["encryption of zeppelins"])
    index.remove([0])
    path = tmp_path / "lexical"
    index.save(path)
    loaded = LexicalIndex.load(path)
    assert loaded.segment_sizes() == index.segment_sizes()
    for query in QUERIES + ["zeppelins"]:
        assert loaded.search(query, 20) == index.search(query, 20)
    main_inode = (path / "main_ids.npy").stat().st_ino
    loaded.save(path)  # unchanged main segment: hard-linked, not rewritten
    assert (path / "main_ids.npy").stat().st_ino == main_inode
    assert not list(tmp_path.glob(".lexical*"))  # no temp or old directory left behind
    assert LexicalIndex.load(path).search("zeppelin", 5)[0][0] == 100


def test_interrupted_swap_is_recovered(tmp_path):
    path = tmp_path / "lexical"
    fresh([1, 2], ["refund policy", "laptop policy"]).save(path)
    path.rename(tmp_path / ".lexical.old")  # crash after the old directory was moved aside
    assert [i for i, _ in LexicalIndex.load(path).search("refund", 5)] == [1]


def test_k1_b_change_rebuilds_from_kept_texts():
    index = fresh(range(40), corpus(40))
    index.search("refund", 1)
    index.set_params(k1=0.9, b=0.4)
    reference = LexicalIndex(k1=0.9, b=0.4)
    reference.add(np.arange(40), corpus(40))
    assert index.search("refund audit", 10) == reference.search("refund audit", 10)

