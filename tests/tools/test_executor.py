"""The guarded executor trips every guard: role, scope, step cap, time budget, size, schema, approval, rate limit,
timeout, a tool's own failure; what it records (the ToolCall, the audit row) is redacted."""
from __future__ import annotations

import json
import threading
import time

import pytest
from pydantic import BaseModel, ConfigDict, Field

from backend.context import RequestContext
from backend.gateway.identity import Identity
from backend.platform import Platform
from backend.settings import Settings
from backend.tools.executor import ToolBudget, ToolExecutor
from backend.tools.registry import ToolRegistry
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
    ToolCaller,
    ToolError,
    ToolOutput,
)

EMAIL = "jane.roe@example.com"


class EchoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(..., max_length=500)
    times: int = Field(1, ge=1, le=3)


class SleepArgs(BaseModel):
    seconds: float = Field(..., ge=0, le=5)


class NoteArgs(BaseModel):
    note: str = Field(..., max_length=100)


written: list[str] = []


def _echo(platform, caller, args: EchoArgs) -> ToolOutput:
    return ToolOutput(text=" ".join([args.text] * args.times), data={"said": args.text, "by": caller.identity.user})


def _sleep(platform, caller, args: SleepArgs) -> ToolOutput:
    time.sleep(args.seconds)
    return ToolOutput(text="slept")


def _note(platform, caller, args: NoteArgs) -> ToolOutput:
    written.append(args.note)
    return ToolOutput(text=f"noted for {caller.ctx.tenant}")


def _refuse(platform, caller, args: EchoArgs) -> ToolOutput:
    raise ToolError(f"document {args.text}: not found among the documents you can read")


def _crash(platform, caller, args: EchoArgs) -> ToolOutput:
    raise RuntimeError("a bug")


TOOLS = [
    Tool("echo", "Say it again.", EchoArgs, _echo, per_minute=3),
    Tool("sleep", "Wait.", SleepArgs, _sleep, timeout_s=0.2),
    Tool("note", "Write a note.", NoteArgs, _note, writes=True, scope="tickets"),
    Tool("refuse", "Refuse.", EchoArgs, _refuse),
    Tool("crash", "Fail.", EchoArgs, _crash),
]


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with Platform(Settings(data_dir=tmp_path_factory.mktemp("tools") / "data")) as platform:
        yield platform


@pytest.fixture
def executor(platform):
    platform.gateway.limits.reset()
    written.clear()
    executor = ToolExecutor(platform, ToolRegistry(TOOLS))
    yield executor
    executor.close()


def _caller(platform, role="analyst", key_id=None, scopes=frozenset({"read", "ask"}), user="ann") -> ToolCaller:
    identity = Identity(user=user, tenant="acme", role=role, key_id=key_id, scopes=scopes)
    return ToolCaller(identity, RequestContext.for_tenant(platform.settings, "acme", user=user, role=role))


def test_a_call_runs_and_its_arguments_and_result_are_redacted_everywhere(platform, executor):
    call = executor.call("echo", {"text": f"write to {EMAIL}", "times": 2}, _caller(platform))
    assert call.outcome == OK and call.message == ""
    assert EMAIL not in call.result and call.result.count("<EMAIL_ADDRESS>") == 2
    assert EMAIL not in json.dumps(call.arguments) and EMAIL not in json.dumps(call.data)
    assert call.data["by"] == "<PERSON>" and call.duration_ms > 0  # the caller's user name, "ann", redacted as a name
    row = platform.gateway.audit_log(limit=1, action="tool.")[0]
    assert (row["actor"], row["action"], row["target"]) == ("ann", "tool.ok", "echo")
    details = json.loads(row["details"]) if isinstance(row["details"], str) else row["details"]
    assert details["tenant"] == "acme" and details["outcome"] == OK and EMAIL not in json.dumps(details)


def test_a_model_sends_its_arguments_as_a_json_string(platform, executor):
    assert executor.call("echo", '{"text": "hi"}', _caller(platform)).result == "hi"
    bad = executor.call("echo", '{"text": ', _caller(platform))
    assert bad.outcome == INVALID and bad.message.startswith("arguments: not valid JSON")
    assert executor.call("echo", "[1, 2]", _caller(platform)).message == "arguments: must be a JSON object of named arguments"


def test_an_unknown_tool_is_named_with_the_tools_there_are(platform, executor):
    call = executor.call("rm_rf", {}, _caller(platform))
    assert call.outcome == INVALID and "no tool named 'rm_rf'" in call.message and "echo" in call.message


def test_schema_failures_name_the_field(platform, executor):
    call = executor.call("echo", {"text": "x", "times": 9}, _caller(platform))
    assert call.outcome == INVALID and call.message.startswith("arguments.times:")
    extra = executor.call("echo", {"text": "x", "sql": "DROP TABLE users"}, _caller(platform))
    assert extra.outcome == INVALID and extra.message.startswith("arguments.sql:")


def test_an_oversized_call_is_refused_before_the_tool_runs(platform, executor):
    call = executor.call("echo", {"text": "x" * 5000}, _caller(platform))
    assert call.outcome == INVALID and "more than the 2000 a tool call may send" in call.message


def test_a_role_or_a_key_without_the_scope_is_forbidden(platform, executor):
    stakeholder = executor.call("echo", {"text": "x"}, _caller(platform, role="stakeholder"))
    assert stakeholder.outcome == FORBIDDEN and "stakeholder role may not call it" in stakeholder.message
    narrow_key = executor.call("echo", {"text": "x"}, _caller(platform, key_id=7, scopes=frozenset({"read"})))
    assert narrow_key.outcome == FORBIDDEN and "lacks the 'ask' scope" in narrow_key.message


def test_the_step_cap_and_the_time_budget(platform, executor):
    budget = ToolBudget.of(steps=2, seconds=60)
    outcomes = [executor.call("echo", {"text": "x"}, _caller(platform), budget).outcome for _ in range(3)]
    assert outcomes == [OK, OK, STEP_CAP]
    spent = ToolBudget(steps=5, deadline=time.monotonic() - 1)
    call = executor.call("echo", {"text": "x"}, _caller(platform), spent)
    assert call.outcome == STEP_CAP and call.message.startswith("time budget")


def test_past_the_per_user_per_tool_limit_comes_rate_limited(platform, executor):
    outcomes = [executor.call("echo", {"text": "x"}, _caller(platform)).outcome for _ in range(4)]
    assert outcomes == [OK, OK, OK, RATE_LIMITED]
    limited = executor.call("echo", {"text": "x"}, _caller(platform))
    assert "3 requests per minute for tool echo by user 'ann'; retry in" in limited.message
    assert executor.call("echo", {"text": "x"}, _caller(platform, user="bob")).outcome == OK  # per user


def test_a_slow_tool_times_out(platform, executor):
    started = time.monotonic()
    call = executor.call("sleep", {"seconds": 2}, _caller(platform))
    assert call.outcome == TIMEOUT and call.message == "sleep: no result within 0.2 s"
    assert time.monotonic() - started < 1.5  # the caller stopped waiting; the tool's thread finishes on its own


def test_a_write_waits_for_approval_unless_a_key_holds_its_scope(platform, executor):
    proposed = executor.call("note", {"note": "call the customer"}, _caller(platform))
    assert proposed.outcome == NEEDS_APPROVAL and proposed.writes and written == []
    approved = executor.call("note", {"note": "call the customer"}, _caller(platform), approved=True)
    assert approved.outcome == OK and approved.result == "noted for acme" and written == ["call the customer"]
    key = _caller(platform, key_id=9, scopes=frozenset({"read", "ask", "tickets"}))
    assert executor.call("note", {"note": "by key"}, key).outcome == OK and written[-1] == "by key"
    # A key without the scope may not even propose it; a session (no key) holds every scope of its role.
    no_scope = _caller(platform, key_id=9, scopes=frozenset({"read", "ask"}))
    assert executor.call("note", {"note": "x"}, no_scope).outcome == FORBIDDEN


def test_a_tools_refusal_and_a_tools_bug_are_failed_calls_never_exceptions(platform, executor):
    refused = executor.call("refuse", {"text": "42"}, _caller(platform))
    assert refused.outcome == FAILED and refused.message == "document 42: not found among the documents you can read"
    crashed = executor.call("crash", {"text": "x"}, _caller(platform))
    assert crashed.outcome == FAILED and crashed.message == "crash: the tool failed (see the server log)"
    assert "a bug" not in crashed.message


def test_every_outcome_is_an_audit_row(platform, executor):
    caller = _caller(platform, user="audited")
    executor.call("echo", {"text": "x"}, caller)
    executor.call("echo", {"text": "x", "times": 0}, caller)
    executor.call("note", {"note": "x"}, caller)
    actions = [row["action"] for row in platform.gateway.audit_log(limit=10, actor="audited")]
    assert actions == ["tool.needs_approval", "tool.invalid", "tool.ok"]


def test_calls_from_many_threads_keep_their_own_callers(platform, executor):
    results: dict[str, str] = {}

    def ask(user: str) -> None:
        results[user] = executor.call("echo", {"text": user}, _caller(platform, user=user)).data["by"]

    threads = [threading.Thread(target=ask, args=(f"user{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {f"user{i}": f"user{i}" for i in range(8)}


def test_a_model_may_call_only_the_tools_it_was_offered(platform, executor):
    call = executor.call("note", {"note": "from a passage"}, _caller(platform), offered=frozenset({"echo"}), approved=True)
    assert call.outcome == FORBIDDEN and "not offered for this question" in call.message and written == []
    assert executor.call("echo", {"text": "x"}, _caller(platform), offered=frozenset({"echo"})).outcome == OK
