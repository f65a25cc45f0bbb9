"""Chunker invariants over varied generated texts: size limit, offsets, sections, overlap, no empty chunks."""
from __future__ import annotations

import random
import string

import pytest

from backend.ingest.chunking import chunk_text
from backend.models import Section
from backend.text.tokens import MODEL_WINDOW, SPECIAL_TOKENS, default_counter

WORDS = "refund transfer fee account policy retention security customer card payment annual review".split()


@pytest.fixture(scope="module")
def counter():
    return default_counter()


def prose(rng: random.Random, sentences: int = 120) -> str:
    out = []
    for _ in range(sentences):
        words = [rng.choice(WORDS) for _ in range(rng.randint(4, 18))]
        out.append(" ".join(words).capitalize() + rng.choice([".", ".", "!", "?"]))
    return " ".join(out)


def long_words(rng: random.Random) -> str:
    return " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(20, 140))) for _ in range(30))


def no_punctuation(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(900))


def cjk(rng: random.Random) -> str:
    chars = "退款政策规定客户可以在三十天内申请全额退款国际转账费用按网络计算数据保留七年"
    return "".join(rng.choice(chars) + ("。" if rng.random() < 0.05 else "") for _ in range(1200))


def table(rng: random.Random) -> str:
    return "\n".join(
        f"Product: {rng.choice(WORDS)} {i} | Fee: {rng.randint(0, 99)}.{rng.randint(0, 99):02d} EUR | Since: 2025-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
        for i in range(120)
    )


def code(rng: random.Random) -> str:
    lines = []
    for i in range(150):
        name = rng.choice(WORDS)
        lines.append(f"    def {name}_{i}(self, x_{i}: int) -> dict[str, int]:  # {rng.choice(WORDS)}")
        lines.append(f"        return {{'{name}': x_{i} * {i}, 'k': self.{name}_{i - 1}(x_{i})}}")
    return "\n".join(lines)


def giant_token(rng: random.Random) -> str:
    # Under the tokenizer's 100-character word limit, so it really is many pieces with no space to cut at.
    word = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(99))
    return ("-".join([word] * 40) + " " + "x" * 99 + "," + "y" * 99) * 3


def symbols(rng: random.Random) -> str:
    # Currency and other symbols are neither letters nor BERT punctuation: "5€" is one word of pieces.
    parts = "5€ 12°C 3™ 7© x±y 9€€ 1²³ 😀ok café№ µs".split()
    return " ".join("".join(rng.choice(parts) for _ in range(rng.randint(1, 12))) for _ in range(400))


def mixed(rng: random.Random) -> str:
    return "\n\n".join([prose(rng, 30), table(rng), cjk(rng)[:300], code(rng)[:2000], long_words(rng)])


GENERATORS = [prose, long_words, no_punctuation, cjk, table, code, giant_token, symbols, mixed]


def random_sections(rng: random.Random, text: str) -> list[Section]:
    cuts = sorted({0, len(text), *(rng.randrange(len(text)) for _ in range(rng.randint(0, 4)))})
    return [Section(a, b, page=i + 1, heading_path=(f"Part {i}",)) for i, (a, b) in enumerate(zip(cuts, cuts[1:]))]


def assert_chunk_invariants(text, sections, chunks, counter, max_tokens):
    assert chunks, "a text with words yields chunks"
    for chunk in chunks:
        assert text[chunk.char_start : chunk.char_end] == chunk.text
        assert chunk.text == chunk.text.strip()
        assert counter.count(chunk.text) == chunk.token_count <= max_tokens
        assert chunk.token_count + SPECIAL_TOKENS <= MODEL_WINDOW
        owners = [s for s in sections if s.start <= chunk.char_start and chunk.char_end <= s.end]
        assert len(owners) == 1, "a chunk lies inside exactly one section"
        assert (chunk.page, chunk.heading_path) == (owners[0].page, owners[0].heading_path)
    starts = [c.char_start for c in chunks]
    assert starts == sorted(starts)


@pytest.mark.parametrize("generator", GENERATORS, ids=[g.__name__ for g in GENERATORS])
def test_size_offsets_and_sections_hold_for_varied_text(counter, generator):
    rng = random.Random(generator.__name__)
    for max_tokens, overlap in [(254, 40), (128, 16), (48, 0), (20, 5)]:
        text = generator(rng)
        sections = random_sections(rng, text)
        chunks = chunk_text(text, sections, counter, max_tokens, overlap)
        assert_chunk_invariants(text, sections, chunks, counter, max_tokens)
        # Every word of the text lands in some chunk: nothing is dropped between chunks.
        covered = bytearray(len(text))
        for chunk in chunks:
            covered[chunk.char_start : chunk.char_end] = b"\x01" * (chunk.char_end - chunk.char_start)
        missed = "".join(ch if not covered[i] else " " for i, ch in enumerate(text))
        assert not any(ch.isalnum() for ch in missed), missed.split()[:5]


def test_window_limit_is_enforced(counter):
    with pytest.raises(ValueError, match="model window"):
        chunk_text("some text", [], counter, MODEL_WINDOW - SPECIAL_TOKENS + 1, 0)
    with pytest.raises(ValueError, match="overlap"):
        chunk_text("some text", [], counter, 100, 100)
    assert chunk_text("some text", [], counter, MODEL_WINDOW - SPECIAL_TOKENS, 0)[0].token_count == 2


def test_small_section_is_one_chunk_with_its_location(counter):
    text = "Refund policy\n\nRefunds within 30 days.\n\nTransfers\n\nSEPA costs 0.50 EUR."
    split = text.index("Transfers")
    sections = [Section(0, split - 2, 3, ("Refund policy",)), Section(split, len(text), 4, ("Transfers",))]
    chunks = chunk_text(text, sections, counter, 200, 20)
    assert [(c.text, c.page, c.heading_path) for c in chunks] == [
        ("Refund policy\n\nRefunds within 30 days.", 3, ("Refund policy",)),
        ("Transfers\n\nSEPA costs 0.50 EUR.", 4, ("Transfers",)),
    ]


def test_paragraphs_are_kept_whole_when_they_fit(counter):
    rng = random.Random(5)
    paragraphs = [prose(rng, 3) for _ in range(12)]
    text = "\n\n".join(paragraphs)
    chunks = chunk_text(text, [Section(0, len(text))], counter, 120, 0)
    assert len(chunks) > 1
    for chunk in chunks:
        # With no overlap, every chunk is a run of whole paragraphs.
        assert chunk.char_start == 0 or text[chunk.char_start - 2 : chunk.char_start] == "\n\n"
        assert chunk.char_end == len(text) or text[chunk.char_end : chunk.char_end + 2] == "\n\n"


def test_long_paragraph_splits_at_sentence_ends(counter):
    rng = random.Random(9)
    text = prose(rng, 80)
    chunks = chunk_text(text, [], counter, 64, 0)
    assert len(chunks) > 3
    assert all(c.text[-1] in ".!?" for c in chunks)


def test_consecutive_chunks_overlap_by_about_the_overlap(counter):
    rng = random.Random(3)
    text = no_punctuation(rng)
    chunks = chunk_text(text, [], counter, 100, 20)
    assert len(chunks) > 5
    for first, second in zip(chunks, chunks[1:]):
        assert second.char_start < first.char_end, "consecutive chunks share text"
        shared = counter.count(text[second.char_start : first.char_end])
        assert 10 <= shared <= 20
        assert text[second.char_start - 1] == " ", "the overlap starts on a whole word"


def test_overlap_prefers_whole_sentences(counter):
    text = " ".join(f"Rule {i} says fees are due." for i in range(200))  # 7 pieces a sentence
    chunks = chunk_text(text, [], counter, 60, 16)
    for first, second in zip(chunks, chunks[1:]):
        assert second.text.startswith("Rule ")
        assert 7 <= counter.count(text[second.char_start : first.char_end]) <= 16


def test_no_overlap_across_sections(counter):
    rng = random.Random(4)
    a, b = prose(rng, 40), prose(rng, 40)
    text = a + "\n\n" + b
    sections = [Section(0, len(a), 1), Section(len(a) + 2, len(text), 2)]
    chunks = chunk_text(text, sections, counter, 50, 10)
    assert all(c.char_end <= len(a) for c in chunks if c.page == 1)
    assert all(c.char_start >= len(a) + 2 for c in chunks if c.page == 2)


def test_punctuation_and_whitespace_only_chunks_are_dropped(counter):
    text = "Real words here.\n\n-----\n\n* * *\n\n   \n\nMore words."
    rule_start = text.index("-----")
    sections = [Section(0, rule_start - 2), Section(rule_start, rule_start + 12), Section(rule_start + 14, len(text))]
    assert [c.text for c in chunk_text(text, sections, counter, 50, 0)] == ["Real words here.", "More words."]
    assert chunk_text("", [], counter, 50, 0) == []


def test_text_outside_given_sections_is_still_chunked(counter):
    text = "Preface words.\n\nBody of the section."
    start = text.index("Body")
    chunks = chunk_text(text, [Section(start, len(text), 2, ("Body",))], counter, 50, 0)
    assert [(c.text, c.page) for c in chunks] == [("Preface words.", None), ("Body of the section.", 2)]


def test_huge_section_is_tokenised_in_blocks(counter, monkeypatch):
    import backend.ingest.chunking as chunking

    monkeypatch.setattr(chunking, "BLOCK_CHARS", 3000)  # a 50 MB CSV behaves like this, only bigger
    rng = random.Random(8)
    text = table(rng) + "\n" + "".join(rng.choice("abcdef") for _ in range(7000))
    sections = [Section(0, len(text), None, ("Sheet1",))]
    chunks = chunk_text(text, sections, counter, 100, 10)
    assert_chunk_invariants(text, sections, chunks, counter, 100)
    assert chunks[-1].char_end == len(text)


class OffsetsOnlyCounter:
    """A counter with only count() and offsets(): the chunker must guess word cuts and re-count chunks."""

    def __init__(self, inner):
        self.inner = inner

    def count(self, text):
        return self.inner.count(text)

    def offsets(self, text):
        return self.inner.offsets(text)


@pytest.mark.parametrize("generator", [mixed, symbols, giant_token], ids=["mixed", "symbols", "giant_token"])
def test_minimal_counter_keeps_the_invariants(counter, generator):
    minimal = OffsetsOnlyCounter(counter)
    rng = random.Random(21)
    text = generator(rng)
    sections = random_sections(rng, text)
    chunks = chunk_text(text, sections, minimal, 40, 8)
    assert_chunk_invariants(text, sections, chunks, counter, 40)
