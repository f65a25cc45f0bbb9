"""Plain typed values passed between stages: the contracts every box of the pipeline agrees on."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime


class GroundworkError(Exception):
    """An error with a one-line message meant for a person (CLI prints it, pages show it)."""


class InputError(GroundworkError):
    """Bad input from a user: a file, a field, a question. The message names the file or field (and `field`,
    when the raiser knows it, names it for a program: the HTTP API's error body)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class NotFound(InputError):
    """An unknown collection, document or conversation, or one the caller may not read (the same to it): HTTP 404."""


class Conflict(InputError):
    """A request the current state refuses (a document already deleted, an index built with other settings): HTTP 409."""


class Forbidden(GroundworkError):
    """403: a known caller, not allowed (role, scope or grant)."""


class StoreLockedError(GroundworkError):
    """The DuckDB file is held by another process (usually the running app)."""


@dataclass(frozen=True)
class Section:
    """A span of a document's text with its location: a page of a PDF, a heading's body, a sheet."""

    start: int
    end: int
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    ocr_confidence: float | None = None  # 0..1, Tesseract's mean word confidence when the text was read by OCR


@dataclass
class LoadedDocument:
    """What a loader returns: cleaned text plus where each part of it came from."""

    source: str
    title: str
    mime_type: str
    text: str
    sections: list[Section] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)


@dataclass
class Document:
    id: int
    collection: str
    tenant: str
    source: str
    title: str
    mime_type: str
    content_hash: str
    version: int
    status: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    text: str = ""
    sections: list[Section] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)


@dataclass
class ChunkSpan:
    """A chunk before it has an id: what the chunker produces."""

    text: str
    char_start: int
    char_end: int
    token_count: int
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    ocr_confidence: float | None = None  # set when the chunk's text was read by OCR


@dataclass
class Chunk:
    id: int
    document_id: int
    collection: str
    tenant: str
    ordinal: int
    text: str
    token_count: int
    char_start: int
    char_end: int
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    title: str = ""
    source: str = ""
    ocr_confidence: float | None = None  # set when the chunk's text was read by OCR


@dataclass
class Hit:
    """One retrieved chunk with the score and rank each retriever gave it and the fused result."""

    chunk_id: int
    scores: dict[str, float] = field(default_factory=dict)  # e.g. {"bm25": 7.1, "dense": 0.62}
    ranks: dict[str, int] = field(default_factory=dict)  # 1-based rank per retriever
    fused_score: float = 0.0
    rank: int = 0
    chunk: Chunk | None = None


@dataclass
class Citation:
    marker: int  # the n of [n] in the answer text
    chunk_id: int
    document_id: int
    title: str
    quote: str  # the cited span, verbatim from the chunk
    score: float  # support score of the answer sentence by the quote, 0..1
    supported: bool = True
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    quote_start: int = 0  # char offsets of the quote inside the chunk text (inside `context` once redacted)
    quote_end: int = 0
    context: str = ""  # the (redacted) chunk text the quote sits in, so a card renders without a lookup


@dataclass
class Answer:
    text: str
    citations: list[Citation] = field(default_factory=list)
    grounded: bool = False
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    trace_id: str = ""
    cached: bool = False
    latency_ms: float = 0.0
    stage_ms: dict[str, float] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)  # e.g. "LLM server unreachable: answered extractively"
    generator: str = "extractive"
    standalone_question: str = ""
    hits: list[Hit] = field(default_factory=list)
    found: bool = True  # False when the answer is "not found in the documents"
    model: str = ""
    conversation_id: str = ""
    message_id: int | None = None  # the stored assistant message (feedback attaches to it)
    pii_entities: list[str] = field(default_factory=list)  # entity types redacted from question and answer
    tool_calls: list[dict] = field(default_factory=list)  # the agent step's calls (backend.tools.spec.ToolCall.to_dict)

    def to_dict(self, with_hits: bool = False) -> dict:
        """JSON-ready dict (hits are left out unless asked: they carry whole chunks)."""
        data = asdict(self)
        if not with_hits:
            data.pop("hits")
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Answer":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known and k != "hits"}
        values["citations"] = [
            Citation(**{**c, "heading_path": tuple(c.get("heading_path") or ())}) for c in data.get("citations", [])
        ]
        return cls(**values)
