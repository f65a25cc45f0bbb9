"""The HTTP API's bodies as pydantic models: requests are validated with them, responses documented (OpenAPI) by them."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["bm25", "dense", "hybrid"]  # backend.retrieval.collection_index.MODES (a test keeps them equal)
DocumentOrder = Literal["updated_at", "created_at", "title", "source", "mime_type", "id", "version", "chunks"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is named in a 422, never silently ignored


# --- requests ------------------------------------------------------------------------------------
class SearchRequest(_Request):
    query: str = Field(min_length=1, description="the question or keywords")
    collection: str | None = Field(None, description="collection to search (default: the server's default collection)")
    mode: Mode | None = Field(None, description="retriever (default: the server's retrieval mode)")
    k: int | None = Field(None, ge=1, le=50, description="number of chunks (default: the server's top_k)")


class CreateCollectionRequest(_Request):
    name: str = Field(min_length=1, max_length=64, description="1-64 letters, digits, '-', '_' or '.'")
    description: str = Field("", max_length=500)
    tenant: str | None = Field(None, description="the tenant it belongs to (default: the caller's)")


class AskRequest(_Request):
    question: str = Field(min_length=1)
    collection: str | None = Field(None, description="collection to ask (default: the server's default collection)")
    conversation_id: str | None = Field(None, description="continue a conversation: an earlier answer's conversation_id")
    mode: Mode | None = None
    k: int | None = Field(None, ge=1, le=50, description="chunks given to the generator")


class DocumentsQuery(_Request):
    status: Literal["active", "deleted", "all"] = "active"
    title_contains: str | None = None
    mime_type: str | None = None
    order_by: DocumentOrder = "updated_at"
    descending: bool = True
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=1_000_000_000)


class _Page(_Request):
    limit: int = Field(50, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=1_000_000_000)


class ConversationsQuery(_Page):
    collection: str | None = Field(None, description="only this collection's conversations")


class TracesQuery(_Page):
    collection: str | None = Field(None, description="only this collection's traces (default: every one the caller reads)")


class FeedbackRequest(_Request):
    message_id: int = Field(ge=1, le=2**63 - 1, description="the answer's message_id (from ask, or a conversation's message)")
    rating: Literal[0, 1] = Field(description="1 thumbs up, 0 thumbs down (a new rating replaces the earlier one)")
    comment: str | None = Field(None, max_length=2000, description="optional; stored with its PII redacted")


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat completion request; its other parameters (temperature, max_tokens, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, description="the collection to answer from (GET /v1/models lists the caller's)")
    messages: list[ChatMessage] = Field(min_length=1, description="the last must be the user's question; earlier "
                                        "user and assistant messages are the conversation so far")
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(None, ge=1, le=1, description="only one choice is produced")


# --- responses (documentation; tests check the server's answers against them) ----------------------
class ErrorDetail(BaseModel):
    message: str
    field: str | None = None
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok"]


class Collection(BaseModel):
    name: str
    tenant: str
    description: str | None = None
    documents: int
    chunks: int
    tokens: int
    created_at: datetime | None = None
    index_version: int
    last_ingest_at: datetime | None = None
    index_settings: dict[str, Any] | None = None


class CollectionList(BaseModel):
    collections: list[Collection]


class _DocumentFields(BaseModel):
    """What every document answer carries: the listing adds counts, the single document its text."""

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


class DocumentSummary(_DocumentFields):
    size_bytes: int | None = None
    chunks: int


class DocumentList(BaseModel):
    collection: str
    total: int
    limit: int
    offset: int
    documents: list[DocumentSummary]


class Section(BaseModel):
    start: int
    end: int
    page: int | None = None
    heading_path: list[str]


class Document(_DocumentFields):
    text: str
    sections: list[Section]
    metadata: dict[str, Any]


class SearchHit(BaseModel):
    rank: int
    chunk_id: int
    document_id: int | None
    fused_score: float
    scores: dict[str, float]
    ranks: dict[str, int]
    title: str
    source: str
    page: int | None = None
    heading_path: list[str]
    text: str


class SearchResponse(BaseModel):
    query: str
    collection: str
    mode: Mode
    k: int
    hits: list[SearchHit]


class Citation(BaseModel):
    marker: int = Field(description="the n of [n] in the answer")
    document_id: int
    chunk_id: int
    title: str
    quote: str
    score: float = Field(description="support of the answer sentence by the quote, 0 to 1")
    supported: bool
    page: int | None = None
    heading_path: list[str]


class AskResponse(BaseModel):
    answer: str
    citations: list[Citation]
    grounded: bool
    found: bool
    cached: bool
    conversation_id: str | None = Field(description="pass it back to ask a follow-up")
    session: str | None = Field(description="the same as conversation_id (the CLI's name)")
    message_id: int | None = None
    trace_id: str | None = None
    generator: str
    notices: list[str]
    latency_ms: float
    tokens_in: int
    tokens_out: int
    cost_usd: float
    tool_calls: list[dict[str, Any]] = Field(
        default_factory=list, description="the agent step's tool calls, each a record as POST /api/v1/tools/{name} "
        "returns it (tool, arguments, outcome, result, message, duration_ms, data, chunk_ids, writes, call_id); a "
        "write (create_ticket) runs only for a key holding its scope, and is listed as forbidden otherwise")


class Model(BaseModel):
    id: str = Field(description="a collection name")
    object: Literal["model"]
    created: int
    owned_by: str = Field(description="the collection's tenant")


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[Model]


class AssistantMessage(BaseModel):
    role: Literal["assistant"]
    content: str
    citations: list[Citation] = Field(description="Groundwork's extension: the sources of the answer's [n] markers")


class Choice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop"]


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
