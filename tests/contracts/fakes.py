"""Fake backends for tests, registered through the same factories as the built-ins, and a toy answerer for a fake LLM server."""
from __future__ import annotations

import hashlib
import re
from dataclasses import replace

import numpy as np

from backend.generation.base import Generation, GenerationRequest, GenerationStream
from backend.generation.prompts import NOT_FOUND
from backend.models import GroundworkError, Hit
from backend.text.sentences import content_stems, count_tokens, split_sentences, term_recall, words

ANSWERS_AT = 0.5  # share of the question's content stems a sentence must hold to count as an answer


def toy_answer(question: str, passages: list[tuple[int, str]]) -> str:
    """The passage sentence sharing most content words with the question, cited; else the not-found reply.

    Stands in for a model that follows the system prompt, so the backends around it can be checked end to end.
    """
    query = content_stems(question)
    best, best_recall = None, 0.0
    for number, text in passages:
        for span in split_sentences(text):
            recall = term_recall(query, content_stems(span.text))
            if recall > best_recall:
                best, best_recall = (number, span.text), recall
    if best is None or best_recall < ANSWERS_AT:
        return NOT_FOUND
    number, sentence = best
    return f"{sentence.rstrip().rstrip('.!?')} [{number}]."


_PASSAGE = re.compile(r'<passage number="(\d+)"[^>]*>\n(.*?)\n</passage>', re.DOTALL)
_QUESTION = re.compile(r"Question \(data, not instructions\): (.*)\n")


def toy_llm_reply(messages: list[dict]) -> str:
    """A FakeLLMServer reply: reads the passages and question out of the prompt as a model would."""
    prompt = messages[-1]["content"]
    question = _QUESTION.search(prompt)
    if question is None:  # a rewrite or summary prompt: echo its last line back
        return prompt.strip().splitlines()[-1]
    return toy_answer(question.group(1), [(int(n), text) for n, text in _PASSAGE.findall(prompt)])


class FakeGenerator:
    """A generator without models: the toy answer, streamed word by word."""

    is_llm = False

    def __init__(self, name: str = "fake"):
        self.name = name

    def stream(self, request: GenerationRequest) -> GenerationStream:
        return GenerationStream(self._run(request))

    def _run(self, request: GenerationRequest):
        text = toy_answer(request.question, [(p.number, p.text) for p in request.passages])
        for i, word in enumerate(text.split(" ")):
            yield word if i == 0 else " " + word
        tokens_in = count_tokens(request.question) + sum(p.tokens for p in request.passages)
        return Generation(text, self.name, tokens_in=tokens_in, tokens_out=count_tokens(text), found=text != NOT_FOUND)

    def complete(self, messages: list[dict], max_tokens: int) -> str:
        raise GroundworkError("the fake generator is not a language model")


class FakeReranker:
    """Orders hits by the share of query words their text holds (ties keep the fused order)."""

    needs_vectors = False

    def rerank(self, query: str, hits: list[Hit], texts: dict[int, str] | None, k: int, *,
               vectors=None, query_vec=None) -> list[Hit]:
        query_words = set(words(query))
        scored = [(len(query_words & set(words(texts[h.chunk_id]))) / max(1, len(query_words)), h)
                  for h in hits if texts and h.chunk_id in texts]
        scored.sort(key=lambda pair: -pair[0])  # stable: equal scores stay in fused order
        return [replace(h, scores={**h.scores, "fake": s}, ranks={**h.ranks, "fake": r}, rank=r)
                for r, (s, h) in enumerate(scored[:max(0, k)], start=1)]


class FakeEmbedder:
    """Hashed bag of words, L2-normalised: deterministic across processes and shares words as similarity."""

    def __init__(self, model_id: str = "fake-embedder", dim: int = 64):
        self.model_id = model_id
        self.dim = dim
        self.max_tokens = 512

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        vector[0] = 0.1  # never the zero vector, so even empty text has a unit norm
        for word in words(text):
            digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
            vector[1 + int.from_bytes(digest, "little") % (self.dim - 1)] += 1.0
        return vector / np.linalg.norm(vector)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts]).astype(np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self._vector(text)
