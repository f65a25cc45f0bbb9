"""The HTTP API's answers about what callers did: their conversations and ratings, and the traces of requests."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.chat.conversations import QUERY_MAX, TITLE_MAX
from backend.gateway.api_models import Citation, ConversationsQuery


# --- conversations and feedback -----------------------------------------------------------------------
class Rating(BaseModel):
    rating: Literal[0, 1]
    comment: str


class Feedback(Rating):
    message_id: int


class ConversationSummary(BaseModel):
    id: str
    collection: str
    tenant: str
    title: str
    created_at: datetime
    updated_at: datetime
    turns: int


class ConversationList(BaseModel):
    limit: int
    offset: int
    conversations: list[ConversationSummary] = Field(description="the caller's own, newest first")


class ConversationMessage(BaseModel):
    id: int | None
    turn: int
    role: Literal["user", "assistant"]
    content: str = Field(description="as stored: PII redacted")
    standalone_question: str | None = Field(None, description="user: the follow-up as it was searched")
    citations: list[Citation] | None = Field(None, description="assistant: the sources of its [n] markers")
    grounded: bool | None = None
    found: bool | None = None
    trace_id: str | None = None
    feedback: Rating | None = Field(None, description="assistant: the caller's rating, if any")


class Conversation(ConversationSummary):
    messages: list[ConversationMessage]


# --- managing conversations: search, rename, delete, export --------------------------------------------
class ConversationSearchQuery(ConversationsQuery):
    q: str | None = Field(None, max_length=QUERY_MAX, description="only conversations whose title, questions or "
                          "answers hold this text (any case); blank: all")


class RenameConversationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is named in a 422, never silently ignored
    title: str = Field(min_length=1, max_length=TITLE_MAX, description="the new title (stored with its PII redacted)")


class DeletedConversation(BaseModel):
    id: str
    collection: str
    title: str
    messages: int = Field(description="questions and answers deleted with it")
    feedback: int = Field(description="ratings deleted with it")


class ExportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["markdown", "json"] = Field("markdown", description="markdown: a readable document; json: "
                                                "ConversationExport")


class ExportedCitation(BaseModel):
    marker: int = Field(description="the n of [n] in the answer")
    title: str
    document_id: int
    chunk_id: int
    page: int | None = Field(description="the cited page of a paged document (PDF)")
    heading_path: list[str]
    quote: str
    support: float = Field(description="support of the answer sentence by the quote, 0 to 1")
    supported: bool


class ExportedTurn(BaseModel):
    turn: int
    question: str = Field(description="as stored: PII redacted")
    searched_as: str | None = Field(description="the follow-up rewritten to stand alone, when it was")
    answer: str | None
    found: bool | None
    grounded: bool | None
    trace_id: str | None
    citations: list[ExportedCitation]
    feedback: Rating | None


class ConversationExport(BaseModel):
    id: str
    title: str
    collection: str
    tenant: str
    created_at: datetime
    updated_at: datetime
    exported_at: datetime
    turns: list[ExportedTurn]


# --- traces -------------------------------------------------------------------------------------------
class TraceSummary(BaseModel):
    trace_id: str
    start_time: datetime
    duration_ms: float
    status: str
    collection: str | None
    question: str | None
    cache_hit: bool | None
    no_answer: bool | None
    tokens_in: int | None
    tokens_out: int | None
    cost_usd: float | None


class TraceList(BaseModel):
    collection: str | None
    limit: int
    offset: int
    traces: list[TraceSummary] = Field(description="newest first")


class Span(BaseModel):
    span_id: str
    parent_span_id: str | None
    name: str = Field(description="the stage: redact, bm25, dense, fuse, generate, ...")
    kind: str | None
    start_time: datetime
    duration_ms: float
    status: str
    status_message: str | None
    attributes: dict[str, Any]
    offset_ms: float = Field(description="start after the trace's first span")
    depth: int


class Trace(TraceSummary):
    root_span_id: str
    name: str
    tenant: str | None
    answer: str | None
    model: str | None
    grounded: bool | None
    fallback: bool | None
    timeout: bool | None
    top_score: float | None
    mean_score: float | None
    pii_hits: int | None
    error: str | None
    attributes: dict[str, Any] | None
    spans: list[Span] = Field(description="in start order")
    documents: list[dict[str, Any]] = Field(description="the chunks the request retrieved: id (a chunk id), score")
