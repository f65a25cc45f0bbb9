"""The tool routes' bodies (/api/v1/tools): the listing, a call's request, its record, a refusal, external servers."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.gateway.api_models import ErrorBody

Outcome = Literal["ok", "invalid", "forbidden", "rate_limited", "timeout", "step_cap", "needs_approval", "failed"]


class ToolCallRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is named in a 422, never silently ignored
    arguments: dict[str, Any] = Field(default_factory=dict, description="the tool's named arguments, as its JSON "
                                      "schema in GET /api/v1/tools describes them; checked by the server, naming the field")
    collection: str | None = Field(None, min_length=1, max_length=200,
                                   description="the collection the call is about: search_documents' default")


class ToolInfo(BaseModel):
    name: str
    description: str
    arguments: dict[str, Any] = Field(description="JSON schema of the tool's arguments")
    writes: bool = Field(description="the tool changes data (a write tool needs a key holding its scope)")
    scope: str = Field(description="the API-key scope a call needs")
    timeout_s: float


class ToolList(BaseModel):
    tools: list[ToolInfo] = Field(description="the tools this key may call: its role may, and it holds their scope")


class ToolCallRecord(BaseModel):
    """One call as it happened (arguments and result with their PII redacted), as the audit log records it."""

    tool: str
    arguments: dict[str, Any]
    outcome: Outcome
    result: str = Field(description="the result text (empty unless ok)")
    message: str = Field(description="why it did not run or how it failed, naming the field")
    duration_ms: float
    data: dict[str, Any] = Field(description="the result for programs (e.g. search hits with their chunk ids)")
    chunk_ids: list[int] = Field(description="chunks the result quotes")
    writes: bool
    call_id: str


class ToolRefusal(ErrorBody):
    """The API's error, with the record of the refused or failed call."""

    call: ToolCallRecord | None = Field(None, description="the call's record (absent when the request itself was bad)")


class ToolServer(BaseModel):
    """One configured external MCP server and what its last listing found."""

    name: str
    url: str = Field(description="its endpoint, without any query or credentials")
    state: Literal["connected", "failed", "not_configured"] = Field(
        description="connected: its allowlisted tools are registered; failed: it did not answer as it should; "
                    "not_configured: never asked (its token or the setting is missing)")
    tool_count: int
    tools: list[str] = Field(description="its registered tools, as <server>__<tool>")
    error: str = Field(description="why the last listing failed (empty when connected)")
    checked_at: datetime = Field(description="when it was last listed (UTC)")
    missing: list[str] = Field(description="allowlisted tools the server does not have")
    refused: list[str] = Field(description="allowlisted tools whose input schema is unusable, with the reason")


class ToolServerList(BaseModel):
    servers: list[ToolServer] = Field(description="every configured server, in configuration order")
