"""One latency figure: an answer's latency_ms is its trace's root duration, stored in the turn and the trace alike."""
from __future__ import annotations

import pytest

from backend.observability.tracing import Tracer
from backend.platform import Platform
from backend.settings import Settings

FEES = """# Fees and Charges Policy

## Transfers

From 1 April 2025 an international transfer sent over SWIFT costs £3.50 per transfer, whatever the amount.
Domestic transfers are free for personal customers.
"""


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    root = tmp_path_factory.mktemp("latency")
    (root / "docs").mkdir()
    (root / "docs" / "fees.md").write_text(FEES)
    platform = Platform(Settings(data_dir=root / "data"))
    assert not platform.corpus.ingest([root / "docs"], "fees").failed
    yield platform
    platform.close()


def _root_duration(platform, trace_id: str) -> tuple[float, float]:
    platform.tracer.flush()
    trace = platform.store.scalar("SELECT duration_ms FROM traces WHERE trace_id = ?", [trace_id])
    span = platform.store.scalar("SELECT duration_ms FROM spans WHERE trace_id = ? AND parent_span_id IS NULL", [trace_id])
    return trace, span


def test_the_answer_the_stored_turn_and_the_trace_carry_the_same_latency(platform):
    answer = platform.chat.ask("How much does an international transfer cost?", "fees", use_cache=False)
    assert "£3.50" in answer.text and answer.latency_ms > 0
    trace, span = _root_duration(platform, answer.trace_id)
    assert trace == pytest.approx(answer.latency_ms, abs=1e-3) and span == pytest.approx(answer.latency_ms, abs=1e-3)
    turn = platform.chat.conversation(answer.conversation_id, platform.corpus.system)["turns"][-1]
    assert turn.answer_data["latency_ms"] == answer.latency_ms


def test_a_cached_answer_reports_its_own_request_not_the_one_that_filled_the_cache(platform):
    question = "Are domestic transfers free?"
    first = platform.chat.ask(question, "fees", remember=False)
    again = platform.chat.ask(question, "fees", remember=False)
    assert again.cached and again.trace_id != first.trace_id
    trace, _ = _root_duration(platform, again.trace_id)
    assert trace == pytest.approx(again.latency_ms, abs=1e-3)


def test_a_request_is_timed_when_tracing_is_off(settings, store):
    settings.tracing_enabled = False
    tracer = Tracer(store, settings)
    with tracer.request("rag.ask") as root:
        assert root.duration_ms is None  # known only once the request has ended
        sum(range(10_000))
    assert root.duration_ms is not None and root.duration_ms > 0
