"""Structure-aware chunking sized in the embedder's word pieces: sections, paragraphs, sentences, words, pieces."""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from backend.models import ChunkSpan, Section
from backend.text.tokens import MODEL_WINDOW, SPECIAL_TOKENS, WordPieceCounter

# Strength of a break between two word pieces: the chunker ends a chunk at the strongest break that
# still fills it reasonably, which is the recursive paragraph > sentence > word > piece split.
PARAGRAPH, LINE_OR_SENTENCE, WORD, PUNCTUATION, INSIDE_WORD = 4, 3, 2, 1, 0
# A paragraph or sentence break is only taken if the chunk is at least this full; otherwise a
# later, weaker break packs more text (no one-line chunks in front of a long paragraph).
MIN_FILL = 0.5

_SENTENCE_END = set(".!?…")
_CJK_SENTENCE_END = set("。！？；")
_CLOSERS = set("\"')]}»”’")
_HAS_WORD_RE = re.compile(r"\w")


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x3040 <= code <= 0x30FF  # kana
        or 0x3400 <= code <= 0x4DBF
        or 0x4E00 <= code <= 0x9FFF
        or 0xAC00 <= code <= 0xD7AF  # hangul
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x2FA1F
    )


def _break_strengths(text: str, offsets: list[tuple[int, int]], word_ids: list[int | None] | None) -> list[int]:
    """strength[i]: how strong the break is before piece i (the first piece starts the section)."""
    strengths = [PARAGRAPH]
    append = strengths.append
    previous_end = offsets[0][1]
    for i in range(1, len(offsets)):
        start = offsets[i][0]
        if word_ids is not None and word_ids[i] is not None and word_ids[i] == word_ids[i - 1]:
            append(INSIDE_WORD)  # "super" "##cal": the tokenizer itself says the word goes on
        elif start == previous_end + 1 and text[previous_end] == " ":  # the common case: one space
            last = text[previous_end - 1]
            if last in _SENTENCE_END or (last in _CLOSERS and text[previous_end - 2 : previous_end - 1] in _SENTENCE_END):
                append(LINE_OR_SENTENCE)
            else:
                append(WORD)
        else:
            append(_break_strength(text, previous_end, start, guess_words=word_ids is None))
        previous_end = offsets[i][1]
    return strengths


def _break_strength(text: str, end_prev: int, start_next: int, guess_words: bool) -> int:
    gap = text[end_prev:start_next]
    if "\n" in gap:
        return PARAGRAPH if gap.count("\n") >= 2 else LINE_OR_SENTENCE
    last = text[end_prev - 1]
    if last in _CJK_SENTENCE_END:
        return LINE_OR_SENTENCE
    if gap:
        if last in _SENTENCE_END or (last in _CLOSERS and end_prev >= 2 and text[end_prev - 2] in _SENTENCE_END):
            return LINE_OR_SENTENCE
        return WORD
    if guess_words:  # no word ids from the counter: two letters with nothing between are one word
        following = text[start_next]
        if last.isalnum() and following.isalnum() and not (_is_cjk(last) or _is_cjk(following)):
            return INSIDE_WORD
    return PUNCTUATION


def _normalise_sections(text: str, sections: list[Section]) -> list[Section]:
    """Sections sorted, clipped to the text, without overlaps, and gaps covered by heading-less sections."""
    result: list[Section] = []
    cursor = 0
    for section in sorted(sections, key=lambda s: (s.start, s.end)):
        start, end = max(section.start, cursor, 0), min(section.end, len(text))
        if end <= start:
            continue
        if start > cursor:
            result.append(Section(cursor, start))
        result.append(Section(start, end, section.page, section.heading_path, section.ocr_confidence))
        cursor = end
    if cursor < len(text):
        result.append(Section(cursor, len(text)))
    return [piece for section in result for piece in _cut_long_section(text, section)]


# Above this many characters a section is tokenised in blocks cut at line breaks: a 50 MB CSV is one
# section, and its word-piece offsets in one list would take gigabytes.
BLOCK_CHARS = 200_000


def _cut_long_section(text: str, section: Section) -> list[Section]:
    pieces = []
    start = section.start
    while section.end - start > BLOCK_CHARS:
        limit = start + BLOCK_CHARS
        cut = text.rfind("\n\n", start + BLOCK_CHARS // 2, limit)
        if cut < 0:
            cut = text.rfind("\n", start + BLOCK_CHARS // 2, limit)
        if cut < 0:
            cut = text.rfind(" ", start + BLOCK_CHARS // 2, limit)
        if cut < 0:
            cut = limit
        pieces.append(Section(start, cut, section.page, section.heading_path, section.ocr_confidence))
        start = cut
    pieces.append(Section(start, section.end, section.page, section.heading_path, section.ocr_confidence))
    return pieces


def chunk_text(
    text: str,
    sections: list[Section],
    counter: WordPieceCounter,
    max_tokens: int,
    overlap: int,
    *,
    model_window: int = MODEL_WINDOW,
) -> list[ChunkSpan]:
    """Split text into chunks of at most max_tokens word pieces that never cross a section boundary.

    text[c.char_start:c.char_end] == c.text and counter.count(c.text) == c.token_count <= max_tokens
    for every chunk. Consecutive chunks of one section share about `overlap` word pieces.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    if max_tokens + SPECIAL_TOKENS > model_window:
        raise ValueError(
            f"max_tokens {max_tokens} + {SPECIAL_TOKENS} special tokens exceeds the model window of {model_window}"
        )
    if not 0 <= overlap < max_tokens:
        raise ValueError(f"overlap must be >= 0 and below max_tokens ({max_tokens}), got {overlap}")
    if not text:
        return []
    spans = _normalise_sections(text, sections)
    section_texts = [text[s.start : s.end] for s in spans]
    all_pieces: Sequence[tuple[list[tuple[int, int]], list[int | None] | None]]
    if hasattr(counter, "pieces_many"):
        all_pieces = counter.pieces_many(section_texts)
    else:  # any counter with offsets() will do; word cuts are then guessed from the characters
        all_pieces = [(counter.offsets(t), None) for t in section_texts]
    exact = getattr(counter, "boundary_exact", False)
    chunks: list[ChunkSpan] = []
    for section, section_text, (offsets, word_ids) in zip(spans, section_texts, all_pieces):
        for start, end, pieces in _split_section(section_text, offsets, word_ids, counter, max_tokens, overlap, exact):
            piece = section_text[start:end]
            if not _HAS_WORD_RE.search(piece):
                continue  # only whitespace or punctuation: nothing to retrieve
            chunks.append(
                ChunkSpan(
                    text=piece,
                    char_start=section.start + start,
                    char_end=section.start + end,
                    token_count=pieces,
                    page=section.page,
                    heading_path=tuple(section.heading_path),
                    ocr_confidence=section.ocr_confidence,
                )
            )
    return chunks


def _split_section(
    text: str,
    offsets: list[tuple[int, int]],
    word_ids: list[int | None] | None,
    counter: WordPieceCounter,
    max_tokens: int,
    overlap: int,
    exact: bool,
) -> list[tuple[int, int, int]]:
    """(char start, char end, word pieces of the chunk text) of the chunks of one section."""
    n = len(offsets)
    if n == 0:
        return []
    if n <= max_tokens and exact:
        return [(offsets[0][0], offsets[-1][1], n)]
    # strength[i]: the break before piece i (1 <= i < n).
    strength = _break_strengths(text, offsets, word_ids)
    by_strength: dict[int, list[int]] = {level: [] for level in range(PARAGRAPH + 1)}
    for i in range(1, n):
        by_strength[strength[i]].append(i)

    def latest_at_least(level: int, low: int, high: int) -> int | None:
        """Latest break index in [low, high] whose strength is >= level."""
        best = None
        for lv in range(level, PARAGRAPH + 1):
            positions = by_strength[lv]
            k = bisect_right(positions, high) - 1
            if k >= 0 and positions[k] >= low and (best is None or positions[k] > best):
                best = positions[k]
        return best

    def earliest_at_least(level: int, low: int, high: int) -> int | None:
        best = None
        for lv in range(level, PARAGRAPH + 1):
            positions = by_strength[lv]
            k = bisect_left(positions, low)
            if k < len(positions) and positions[k] <= high and (best is None or positions[k] < best):
                best = positions[k]
        return best

    counted: dict[tuple[int, int], int] = {}

    def pieces(first: int, stop: int) -> int:
        """Word pieces of the chunk [first, stop) re-tokenised on its own."""
        # Counting by offsets is exact unless the chunk starts inside a word: a word's tail re-tokenised
        # alone ("##cal" -> "cal") can take more pieces. Other tokenizers are always re-counted.
        if exact and strength[first] != INSIDE_WORD:
            return stop - first
        key = (first, stop)
        if key not in counted:
            counted[key] = counter.count(text[offsets[first][0] : offsets[stop - 1][1]])
        return counted[key]

    def fits(first: int, stop: int) -> bool:
        return pieces(first, stop) <= max_tokens

    spans: list[tuple[int, int, int]] = []
    first, previous_stop = 0, 0
    while True:
        limit = first + max_tokens
        if limit >= n and fits(first, n):
            spans.append((offsets[first][0], offsets[-1][1], pieces(first, n)))
            break
        limit = min(limit, n - 1)
        lowest = max(first + 1, previous_stop + 1)  # each chunk must reach past the previous one
        stop = None
        filled = first + max(1, int(max_tokens * MIN_FILL))
        for level in (PARAGRAPH, LINE_OR_SENTENCE):
            stop = latest_at_least(level, max(lowest, filled), limit)
            if stop is not None:
                break
        if stop is None:
            for level in (WORD, PUNCTUATION, INSIDE_WORD):
                stop = latest_at_least(level, lowest, limit)
                if stop is not None:
                    break
        if stop is None:
            stop = limit
        while stop > lowest and not fits(first, stop):
            stop -= 1
        if not fits(first, stop):
            if first < previous_stop:
                first = previous_stop  # the overlap's word tail is what overflows: start fresh
                continue
            raise ValueError(f"max_tokens {max_tokens} is too small for a single word piece of this text")
        spans.append((offsets[first][0], offsets[stop - 1][1], pieces(first, stop)))
        previous_stop = stop
        first = _overlap_start(stop, first, overlap, earliest_at_least)
    return spans


def _overlap_start(stop: int, first: int, overlap: int, earliest_at_least) -> int:
    """Where the next chunk starts: about `overlap` pieces before `stop`, on a sentence or word start."""
    if overlap <= 0:
        return stop
    low = max(first + 1, stop - overlap)
    # Whole sentences when they give at least half the wanted overlap, else whole words, else pieces.
    start = earliest_at_least(LINE_OR_SENTENCE, low, max(low, stop - overlap // 2))
    if start is None:
        start = earliest_at_least(WORD, low, stop)
    if start is None:
        start = earliest_at_least(PUNCTUATION, low, stop)
    return start if start is not None else max(low, stop - overlap)


# The title/heading prefix given to the embedder is capped so prefix + chunk stays inside the model window
# (chunk_tokens <= 200 by default leaves ~54 word pieces; 160 characters is about 40 of them).
_PREFIX_MAX_CHARS = 160


def embedding_text(title: str, heading_path: Sequence[str], text: str) -> str:
    """What the embedder and BM25 index see for a chunk: "title — heading path: chunk text".

    The stored chunk text stays plain; this context helps retrieval find a chunk whose own words never
    name its subject. Recovery rebuilds exactly this string from DuckDB, so keep it a pure function.
    """
    title = " ".join((title or "").split())
    headings = [h.strip() for h in heading_path if h and h.strip() and h.strip() != title]
    prefix = title
    if headings:
        prefix = f"{title} — {' > '.join(headings)}" if title else " > ".join(headings)
    if len(prefix) > _PREFIX_MAX_CHARS:
        prefix = prefix[:_PREFIX_MAX_CHARS].rsplit(" ", 1)[0]
    return f"{prefix}: {text}" if prefix else text
