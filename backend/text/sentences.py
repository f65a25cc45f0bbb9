"""Pure text helpers shared by ingest, chat and cache: sentence spans, words, content-word stems, numbers, token counts."""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import Stemmer
from spacy.lang.en.stop_words import STOP_WORDS

from backend.text.tokens import default_counter

_STEMMER = Stemmer.Stemmer("english")
_STEM_LOCK = threading.Lock()  # PyStemmer objects are not thread-safe
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?|\d+(?:[.,]\d+)*%?")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# A sentence ends at . ! ? (optionally closed by a quote or bracket) followed by whitespace; a line break ends one
# too, so list items, table rows and headings are units of their own, unless it only wraps a sentence (below).
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9£$€])|\n+")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "no.", "approx.", "incl.", "Mr.", "Ms.", "Dr.", "St.")
# A hard-wrapped line (a PDF's text layer, Markdown wrapped at 120 columns) goes on in lower case, a figure or a
# bracket after a line that no punctuation closed: "... over SWIFT\ncosts £3.50" is one sentence, not two halves.
_CONTINUES = re.compile(r"[ \t]*(?:[a-z(£$€]|\d(?!\d*[.)]\s))")
_LINE_CLOSED = re.compile(r"(?:[.!?:;|]|^\s*(?:#|\|).*)[\"')\]]*\s*$")


@dataclass(frozen=True)
class SentenceSpan:
    start: int
    end: int
    text: str


def split_sentences(text: str) -> list[SentenceSpan]:
    """Sentences of `text` with their character offsets, trimmed of whitespace and list/table markup."""
    spans: list[SentenceSpan] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        head = text[start:match.start()]
        if match.group(0).strip() == "" and "\n" not in match.group(0) and head.rstrip().endswith(_ABBREVIATIONS):
            continue  # "e.g. Visa" is not a sentence end
        if match.group(0) == "\n" and _wraps(text, match.start(), match.end()):
            continue
        _append(spans, text, start, match.start())
        start = match.end()
    _append(spans, text, start, len(text))
    return spans


def _wraps(text: str, newline: int, after: int) -> bool:
    """Whether the single line break at `newline` only wraps a sentence (see _CONTINUES)."""
    line = text[text.rfind("\n", 0, newline) + 1:newline]
    return bool(line.strip()) and not _LINE_CLOSED.search(line) and bool(_CONTINUES.match(text, after))


def _append(spans: list[SentenceSpan], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    # Leading markdown list, heading and table markers are layout, not content.
    lead = re.match(r"\s*(?:[-*+]\s+|\d+[.)]\s+|#+\s+|\|\s*)?", piece)
    offset = lead.end() if lead else 0
    body = piece[offset:].rstrip()
    if body.endswith("|"):
        body = body[:-1].rstrip()
    if not stripped or not body or re.fullmatch(r"[\s|:\-]+", body):
        return
    spans.append(SentenceSpan(start + offset, start + offset + len(body), body))


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_stems(text: str) -> set[str]:
    """Stems of the words that carry meaning (stop words dropped, numbers kept)."""
    tokens = [w for w in words(text) if w not in STOP_WORDS and (len(w) > 1 or w.isdigit())]
    with _STEM_LOCK:
        return set(_STEMMER.stemWords(tokens))


def numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def term_recall(query_stems: set[str], text_stems: set[str]) -> float:
    """Share of the query's content stems that the text contains."""
    if not query_stems:
        return 0.0
    return len(query_stems & text_stems) / len(query_stems)


def count_tokens(text: str) -> int:
    """Tokens of `text` in the embedder's word pieces (close to an LLM's BPE count for English prose)."""
    if not text:
        return 0
    try:
        return default_counter().count(text)
    except Exception:  # tokenizer unavailable: the usual 4-characters-per-token rule
        return max(1, len(text) // 4)
