"""The Generator protocol, the values it consumes and produces, and `build_generator` choosing a backend by name."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Generator as PyGenerator, Iterator, Protocol, runtime_checkable

from backend.models import Chunk, InputError
from backend.settings import Settings


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


def _extractive(settings: Settings, embedder) -> Generator:
    from backend.generation.extractive import ExtractiveGenerator

    return ExtractiveGenerator(settings, embedder)


def _openai(settings: Settings, embedder) -> Generator:
    from backend.generation.openai_backend import OpenAIGenerator

    return OpenAIGenerator(settings, fallback=_extractive(settings, embedder))


def _vllm(settings: Settings, embedder) -> Generator:
    from backend.generation.vllm_backend import VLLMGenerator

    return VLLMGenerator(settings)


GENERATORS: dict[str, Callable[[Settings, object], Generator]] = {
    "extractive": _extractive,
    "openai": _openai,
    "vllm": _vllm,
}

_BUILT: dict[tuple, Generator] = {}
_BUILD_LOCK = threading.Lock()


def build_generator(settings: Settings, embedder=None, name: str | None = None) -> Generator:
    """The generator named `name` (default: settings.generator), built once per configuration per process."""
    name = name or settings.generator
    factory = GENERATORS.get(name)
    if factory is None:
        raise InputError(f"generator {name!r} is unknown; choose one of: {', '.join(GENERATORS)}")
    key = (name, id(embedder), settings.model_dump_json(include=_GENERATION_FIELDS))
    with _BUILD_LOCK:
        generator = _BUILT.get(key)
        if generator is None:
            generator = _BUILT[key] = factory(settings, embedder)
        return generator


_GENERATION_FIELDS = {
    "answer_threshold", "max_answer_sentences", "max_output_tokens", "openai_base_url", "openai_model",
    "openai_api_key", "openai_timeout_s", "openai_max_retries", "vllm_model", "vllm_quantization",
    "vllm_speculative_model", "vllm_num_speculative_tokens", "vllm_gpu_memory_utilization",
}
