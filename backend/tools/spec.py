"""What a tool declares (name, arguments schema, reads or writes, timeout, roles) and what one call of it produced."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from pydantic import BaseModel

from backend.context import RequestContext
from backend.models import GroundworkError

if TYPE_CHECKING:
    from backend.gateway.identity import Identity

ALL_ROLES = frozenset({"admin", "operator", "analyst", "stakeholder"})
READERS = frozenset({"admin", "operator", "analyst"})  # who may read documents' text (stakeholders see dashboards)

# Outcomes of one call, as the audit log, the trace and the Chat page show them.
OK, INVALID, FORBIDDEN, RATE_LIMITED, TIMEOUT, STEP_CAP, NEEDS_APPROVAL, FAILED = (
    "ok", "invalid", "forbidden", "rate_limited", "timeout", "step_cap", "needs_approval", "failed")


class ToolError(GroundworkError):
    """A call the tool itself refuses with a message for the caller (nothing found, a document not readable)."""


@dataclass(frozen=True)
class ToolCaller:
    """Who calls: the identity the gateway resolved (role, key scopes) and the context every read is scoped by."""

    identity: Identity
    ctx: RequestContext
    collection: str | None = None  # the collection the question is about (search's default)


@dataclass
class ToolOutput:
    """A tool's result: `text` for the model and the reader (redacted by the executor), `data` for programs."""

    text: str
    data: dict[str, Any] = field(default_factory=dict)
    chunk_ids: list[int] = field(default_factory=list)  # passages the result quotes (citable)


@dataclass(frozen=True)
class Tool:
    """One tool. `run(platform, caller, arguments)` does the work; the executor does every check around it."""

    name: str
    description: str
    arguments: type[BaseModel]
    run: Callable[[Any, ToolCaller, Any], ToolOutput]  # (the Platform, caller, parsed arguments)
    writes: bool = False  # a write runs only once the user approved it, or with a key holding `scope`
    timeout_s: float = 5.0
    roles: frozenset[str] = READERS
    scope: str = "ask"  # the API-key scope a call needs (a session holds every scope of its role)
    per_minute: int | None = None  # calls per user per minute; None: settings.tool_rate_limit_per_minute

    def schema(self) -> dict[str, Any]:
        """The arguments' JSON schema, as OpenAI `tools` and MCP list it."""
        return self.arguments.model_json_schema()

    def openai(self) -> dict[str, Any]:
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": self.schema()}}


@dataclass
class ToolCall:
    """One call as it happened: arguments and result redacted, the outcome, how long it took."""

    tool: str
    arguments: dict[str, Any]
    outcome: str
    result: str = ""  # the redacted result text (empty unless ok)
    message: str = ""  # why it did not run, or how it failed, naming the field
    duration_ms: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)
    chunk_ids: list[int] = field(default_factory=list)
    writes: bool = False
    call_id: str = ""  # the model's tool_call id, when a model asked for it

    @property
    def ok(self) -> bool:
        return self.outcome == OK

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
