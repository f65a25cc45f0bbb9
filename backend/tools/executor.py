"""The one way a tool runs: role and scope, step cap, argument size and schema, approval, rate limit, timeout, redaction, span, audit."""
from __future__ import annotations

import contextvars
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import ValidationError

from backend.gateway.identity import RateLimited
from backend.models import InputError
from backend.tools.registry import ToolRegistry, allowed
from backend.tools.spec import (
    FAILED,
    FORBIDDEN,
    INVALID,
    NEEDS_APPROVAL,
    OK,
    RATE_LIMITED,
    STEP_CAP,
    TIMEOUT,
    Tool,
    ToolCall,
    ToolCaller,
    ToolError,
    ToolOutput,
)

logger = logging.getLogger(__name__)

_TRACE_RESULT_CHARS = 2000  # a span keeps the start of a long result; the caller gets all of it


@dataclass
class ToolBudget:
    """One answer's allowance: at most `steps` calls, none started after `deadline` (time.monotonic)."""

    steps: int
    deadline: float
    used: int = 0

    @classmethod
    def of(cls, steps: int, seconds: float, clock: Callable[[], float] = time.monotonic) -> ToolBudget:
        return cls(steps=steps, deadline=clock() + seconds)

    def refusal(self, clock: Callable[[], float] = time.monotonic) -> str | None:
        if self.used >= self.steps:
            return f"step cap: this answer has made its {self.steps} tool calls"
        if clock() >= self.deadline:
            return "time budget: this answer's tool calls have used their time"
        return None


@dataclass
class _Attempt:
    tool: Tool | None
    arguments: dict[str, Any] = field(default_factory=dict)


class ToolExecutor:
    """Runs tool calls for callers. Thread-safe: tools run on a small pool so a timeout can stop waiting."""

    def __init__(self, platform: Any, registry: ToolRegistry, workers: int = 4):
        # `platform` untyped: the Platform builds this, and a type import back would close an import cycle.
        self.platform = platform
        self.registry = registry
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tool")
        self._redactor: Any = None

    def budget(self) -> ToolBudget:
        settings = self.platform.settings
        self._load_redactor()  # a cold analyzer takes seconds: never out of an answer's tool time
        return ToolBudget.of(settings.agent_max_steps, settings.agent_time_budget_s)

    def call(self, name: str, arguments: dict | str | None, caller: ToolCaller, budget: ToolBudget | None = None,
             *, approved: bool = False, call_id: str = "", offered: frozenset[str] | None = None) -> ToolCall:
        """One call, whatever happens: a ToolCall whose outcome says if it ran. Never raises for a refusal.
        `offered`, for a model's calls: the tools it was told about for this question; any other is refused."""
        started = time.perf_counter()
        budget = budget or self.budget()
        attempt = _Attempt(self.registry.get(name))
        with self.platform.tracer.span("tool", tool=name) as span:
            try:
                outcome, message, output = self._guarded(name, arguments, caller, budget, approved, attempt, offered)
            except Exception:  # a tool's own bug: reported as failed, logged with its traceback, never raised
                logger.exception("tool %s failed", name)
                outcome, message, output = FAILED, f"{name}: the tool failed (see the server log)", None
            call = ToolCall(tool=name, arguments=attempt.arguments, outcome=outcome, message=message,
                            duration_ms=round((time.perf_counter() - started) * 1000, 3),
                            writes=bool(attempt.tool and attempt.tool.writes), call_id=call_id)
            if output is not None:
                call.result, call.data, call.chunk_ids = output.text, output.data, output.chunk_ids
            span.set(outcome=outcome, arguments=json.dumps(call.arguments, ensure_ascii=False, default=str),
                     result=call.result[:_TRACE_RESULT_CHARS], message=message or None, duration_ms=call.duration_ms,
                     writes=call.writes)
        self._audit(call, caller)
        return call

    def _guarded(self, name: str, arguments: dict | str | None, caller: ToolCaller, budget: ToolBudget,
                 approved: bool, attempt: _Attempt, offered: frozenset[str] | None) -> tuple[str, str, ToolOutput | None]:
        settings = self.platform.settings
        raw, problem = _parse(arguments)
        # Redacted before anything else, so every record of the call (span, audit, the caller's view) is.
        attempt.arguments = self._redacted(raw)
        tool = attempt.tool
        if tool is None:
            return INVALID, f"tool: there is no tool named {name!r} (tools: {', '.join(self.registry.names())})", None
        if offered is not None and name not in offered:
            return FORBIDDEN, f"{name}: not offered for this question (a model may call only the tools it was given)", None
        if not allowed(tool, caller):
            needs = "role" if caller.identity.role not in tool.roles else "scope"
            return FORBIDDEN, (f"{name}: the {caller.identity.role} role may not call it" if needs == "role" else
                               f"{name}: this API key lacks the {tool.scope!r} scope"), None
        if problem:
            return INVALID, problem, None
        refusal = budget.refusal()
        if refusal:
            return STEP_CAP, refusal, None
        budget.used += 1
        size = len(json.dumps(raw, ensure_ascii=False, default=str))
        if size > settings.tool_argument_max_chars:
            return INVALID, (f"arguments: {size} characters, more than the {settings.tool_argument_max_chars} a "
                             "tool call may send"), None
        try:
            parsed = tool.arguments.model_validate(raw)
        except ValidationError as exc:
            return INVALID, _validation_message(exc), None
        if tool.writes and not approved and not _key_may_write(tool, caller):
            return NEEDS_APPROVAL, f"{name} changes data: it runs once you approve it", None
        try:
            self.platform.gateway.limits.check_tool(caller.identity, name,
                                                    tool.per_minute or settings.tool_rate_limit_per_minute)
        except RateLimited as exc:
            return RATE_LIMITED, str(exc), None
        context = contextvars.copy_context()  # the tool's own spans nest under this call's span
        future = self._pool.submit(context.run, tool.run, self.platform, caller, parsed)
        try:
            output = future.result(timeout=tool.timeout_s)
        except FutureTimeout:
            future.cancel()
            return TIMEOUT, f"{name}: no result within {tool.timeout_s:g} s", None
        except (ToolError, InputError) as exc:
            return FAILED, str(exc), None
        return OK, "", ToolOutput(self._redact_text(output.text), self._redacted(output.data), list(output.chunk_ids))

    def _load_redactor(self) -> Any:
        if self._redactor is None:
            from backend.pii import get_redactor  # loads the analyzer: only once tools are used

            self._redactor = get_redactor(self.platform.settings)
        return self._redactor

    def _redact_text(self, text: str) -> str:
        return self._load_redactor()(text) if text else text

    def _redacted(self, value: Any) -> Any:
        """Strings anywhere in a JSON-like value, redacted (numbers, booleans and keys as they are)."""
        if isinstance(value, str):
            return self._redact_text(value)
        if isinstance(value, dict):
            return {k: self._redacted(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._redacted(v) for v in value]
        return value

    def _audit(self, call: ToolCall, caller: ToolCaller) -> None:
        details = {"tenant": caller.ctx.tenant, "arguments": call.arguments, "outcome": call.outcome,
                   "duration_ms": call.duration_ms, "message": call.message or None, "key_id": caller.identity.key_id}
        self.platform.gateway.audit(caller.identity.user, f"tool.{call.outcome}", call.tool, details)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _parse(arguments: dict | str | None) -> tuple[dict, str]:
    """(the arguments as a dict, a problem naming them or ''). A model sends a JSON string, MCP and the API a dict."""
    if arguments is None or arguments == "":
        return {}, ""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as exc:
            return {"_raw": arguments[:200]}, f"arguments: not valid JSON ({exc.msg} at character {exc.pos})"
    if not isinstance(arguments, dict):
        return {"_raw": str(arguments)[:200]}, "arguments: must be a JSON object of named arguments"
    return arguments, ""


def _validation_message(exc: ValidationError) -> str:
    """The first problem, with its field: 'arguments.expression: String should have at most 200 characters'."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"arguments.{where}: {first.get('msg', 'invalid')}" if where else f"arguments: {first.get('msg')}"


def _key_may_write(tool: Tool, caller: ToolCaller) -> bool:
    """An API key that holds the tool's scope was given the right to write without a person approving each call."""
    return caller.identity.key_id is not None and tool.scope in caller.identity.scopes
