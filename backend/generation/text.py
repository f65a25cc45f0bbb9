"""Text helpers shared by generation: sentence spans, content-word stems, token counts, sentence relevance scoring."""
from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import Stemmer
from spacy.lang.en.stop_words import STOP_WORDS

_STEMMER = Stemmer.Stemmer("english")
_STEM_LOCK = threading.Lock()  # PyStemmer objects are not thread-safe
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?|\d+(?:[.,]\d+)*%?")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# A sentence ends at . ! ? (optionally closed by a quote or bracket) followed by whitespace; a line break
# always ends one, so list items, table rows and headings are units of their own.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9£$€])|\n+")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "no.", "approx.", "incl.", "Mr.", "Ms.", "Dr.", "St.")


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
        _append(spans, text, start, match.start())
        start = match.end()
    _append(spans, text, start, len(text))
    return spans


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
        from backend.ingest.tokens import default_counter

        return default_counter().count(text)
    except Exception:  # tokenizer unavailable: the usual 4-characters-per-token rule
        return max(1, len(text) // 4)


class SentenceEncoder:
    """Embeds sentences through the platform embedder, remembering recent ones (chunks recur across questions)."""

    def __init__(self, embedder, capacity: int = 20_000):
        self.embedder = embedder
        self.capacity = capacity
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, getattr(self.embedder, "dim", 384)), dtype=np.float32)
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vectors = self.embedder.encode(missing)
            with self._lock:
                for text, vector in zip(missing, vectors):
                    self._cache[text] = vector
                while len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
        with self._lock:
            rows = [self._cache.get(t) for t in texts]
        if any(r is None for r in rows):  # evicted between the two locks by another thread: encode directly
            return np.asarray(self.embedder.encode(texts), dtype=np.float32)
        return np.vstack(rows).astype(np.float32, copy=False)


_ENCODERS: dict[int, SentenceEncoder] = {}
_ENCODERS_LOCK = threading.Lock()


def shared_encoder(embedder) -> SentenceEncoder:
    """One sentence cache per embedder per process, shared by every RAG instance (the app, CLI, evaluation)."""
    with _ENCODERS_LOCK:
        encoder = _ENCODERS.get(id(embedder))
        if encoder is None or encoder.embedder is not embedder:
            encoder = _ENCODERS[id(embedder)] = SentenceEncoder(embedder)
        return encoder


class RelevanceScorer:
    """Scores sentences against a question: a blend of embedding cosine and question-term recall.

    Lexical recall catches exact figures and names the embedding blurs; the cosine catches paraphrase.
    """

    def __init__(self, encoder: SentenceEncoder, dense_weight: float = 0.6):
        self.encoder = encoder
        self.dense_weight = dense_weight

    def score(self, question: str, sentences: list[str], question_vector: np.ndarray | None = None,
              always: set[int] | None = None, embed_at_most: int | None = None) -> np.ndarray:
        """Blended scores. With `embed_at_most`, only the sentences in `always` plus the lexically closest
        others (up to that many in all) are embedded; the rest keep their lexical score alone."""
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        query_stems = content_stems(question)
        lexical = np.array([term_recall(query_stems, content_stems(s)) for s in sentences], dtype=np.float32)
        chosen = list(range(len(sentences)))
        if embed_at_most is not None and len(sentences) > embed_at_most:
            keep = set(always or ()) & set(chosen)
            others = sorted((i for i in chosen if i not in keep), key=lambda i: (-lexical[i], i))
            chosen = sorted(keep | set(others[: max(0, embed_at_most - len(keep))]))
        if question_vector is None:
            question_vector = self.encoder.encode([question])[0]
        cosine = np.zeros(len(sentences), dtype=np.float32)
        if chosen:
            cosine[chosen] = self.encoder.encode([sentences[i] for i in chosen]) @ question_vector
        return self.dense_weight * np.clip(cosine, 0.0, 1.0) + (1.0 - self.dense_weight) * lexical
