"""Model-backed sentence helpers: a caching SentenceEncoder over the platform embedder, and a RelevanceScorer."""
from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from backend.text.sentences import content_stems, term_recall


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
            cached = [self._cache.get(t) for t in texts]
        rows = [r for r in cached if r is not None]
        if len(rows) < len(cached):  # evicted between the two locks by another thread: encode directly
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
