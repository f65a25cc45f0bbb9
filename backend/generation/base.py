"""The Generator protocol and the values it consumes and produces; backends are chosen by name in factory."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generator as PyGenerator
from typing import Iterator, Protocol, runtime_checkable

from backend.models import Chunk


@dataclass
class Passage:
    """One numbered passage of the context: `text` is what the generator reads (maybe compressed),
    `chunk.text` the whole chunk that citations are checked against."""

    number: int
    chunk: Chunk
    text: str
    tokens: int
    score: float = 0.0
    superseded: bool = False  # from a document a newer version replaces (demoted in retrieval)


@dataclass
class GenerationRequest:
    question: str  # redacted and standalone
    passages: list[Passage]
    summary: str = ""  # redacted summary of older turns
    history: list[dict] = field(default_factory=list)  # redacted recent turns as chat messages
    max_tokens: int = 400
    tool_results: str = ""  # what the agent step's tools returned (redacted), for an LLM to answer from too


@dataclass
class Generation:
    """What a generator produced, known once its stream is exhausted."""

    text: str
    generator: str
    model: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    found: bool = True  # False when the generator answered "not found in the documents"
    best_score: float | None = None  # extractive: the best sentence's relevance
    notices: list[str] = field(default_factory=list)
    priced: bool = False  # True when the tokens were spent on a paid/LLM backend


class GenerationStream:
    """Iterate for text deltas as they are produced; afterwards `.result` holds the Generation."""

    def __init__(self, chunks: PyGenerator[str, None, Generation]):
        self._chunks = chunks
        self.result: Generation | None = None

    def __iter__(self) -> Iterator[str]:
        self.result = yield from self._chunks

    def collect(self) -> Generation:
        for _ in self:
            pass
        assert self.result is not None
        return self.result


@runtime_checkable
class Generator(Protocol):
    name: str
    is_llm: bool  # an LLM can also rewrite follow-ups and summarise conversations

    def stream(self, request: GenerationRequest) -> GenerationStream: ...

    def complete(self, messages: list[dict], max_tokens: int) -> str:
        """One short non-streamed completion (rewrites, summaries). Only LLM backends implement it."""
        ...
