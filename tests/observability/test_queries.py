"""Dashboard queries over real traces: stage percentiles, token and cost means, rates, search, one trace."""
from __future__ import annotations

from datetime import timedelta

import pytest

from backend.observability import queries
from backend.observability.conventions import STAGES, utc_now
from tests.observability.scripted import scripted_request


@pytest.fixture
def traced(tracer, store):
    ids = [scripted_request(tracer, f"refund policy {i}", tokens_in=100 + 100 * i) for i in range(4)]
    ids.append(scripted_request(tracer, "cached refund question", cache_hit=True, tokens_in=0))
    ids.append(scripted_request(tracer, "what about mars", collection="other", grounded=False, fail_stage="generate"))
    tracer.flush()
    return ids


def test_stage_latency_summary_lists_every_stage_in_pipeline_order(store, traced):
    df = queries.stage_latency_summary(store, days=7)
    assert list(df.columns) == ["stage", "count", "p50_ms", "p95_ms", "p99_ms"]
    assert list(df["stage"]) == list(STAGES)
    assert set(df["count"]) == {6}
    assert (df["p50_ms"] <= df["p95_ms"]).all() and (df["p95_ms"] <= df["p99_ms"]).all()
    assert set(queries.stage_latency_summary(store, collection="other")["count"]) == {1}


def test_stage_latency_summary_is_empty_with_the_same_columns_without_traces(store):
    df = queries.stage_latency_summary(store)
    assert df.empty and list(df.columns) == ["stage", "count", "p50_ms", "p95_ms", "p99_ms"]
    assert queries.request_token_summary(store) == {
        "requests": 0, "tokens_in_mean": 0.0, "tokens_out_mean": 0.0, "cost_mean_usd": 0.0, "cache_hit_rate": 0.0,
    }


def test_request_token_summary_means(store, traced):
    summary = queries.request_token_summary(store, days=7, collection="demo")
    assert summary["requests"] == 5
    assert summary["tokens_in_mean"] == pytest.approx((100 + 200 + 300 + 400 + 0) / 5)
    assert summary["tokens_out_mean"] == pytest.approx(30)
    assert summary["cost_mean_usd"] == pytest.approx(1000 * 5e-6 / 5)
    assert summary["cache_hit_rate"] == pytest.approx(1 / 5)


def test_operations_summary_rates_and_cache_savings(store, traced):
    summary = queries.operations_summary(store, days=7)
    assert summary["requests"] == 6
    assert summary["fallback_rate"] == pytest.approx(1 / 6)
    assert summary["no_answer_rate"] == pytest.approx(1 / 6)
    assert summary["error_rate"] == 0.0  # the generate failure was handled: the request itself succeeded
    uncached_costs = [t * 5e-6 for t in (100, 200, 300, 400, 120)]
    assert summary["money_saved_usd"] == pytest.approx(sum(uncached_costs) / len(uncached_costs))
    assert summary["p50_ms"] <= summary["p99_ms"]
    assert summary["feedback_count"] == 0 and summary["feedback_score"] is None
    over_time = queries.requests_over_time(store, days=1)
    assert over_time["requests"].sum() == 6 and over_time["cache_hits"].sum() == 1
    assert queries.trace_collections(store) == ["demo", "other"]


def test_find_traces_by_text_latency_status_and_time(store, traced):
    assert len(queries.find_traces(store)) == 6
    found = queries.find_traces(store, text="MARS")
    assert list(found["trace_id"]) == [traced[-1]]
    assert queries.find_traces(store, text=traced[0])["trace_id"].tolist() == [traced[0]]
    assert queries.find_traces(store, status="error").empty
    assert queries.find_traces(store, min_ms=60_000).empty
    assert queries.find_traces(store, since=utc_now() + timedelta(minutes=1)).empty
    assert len(queries.find_traces(store, collection="demo", limit=2)) == 2


def test_get_trace_returns_spans_with_depth_offsets_and_documents(tracer, store):
    with tracer.request("rag.ask", question="q") as root:
        with tracer.span("dense") as dense:
            dense.set(documents=[{"id": 3, "score": 0.7, "content": "chunk three"}])
        with tracer.span("generate"):
            pass
    tracer.flush()
    trace = queries.get_trace(store, root.trace_id)
    spans = trace["spans"]
    assert list(spans["name"]) == ["rag.ask", "dense", "generate"]
    assert list(spans["depth"]) == [0, 1, 1]
    assert spans["offset_ms"].iloc[0] == 0 and (spans["offset_ms"] >= 0).all()
    assert trace["documents"] == [{"id": 3, "score": 0.7, "content": "chunk three"}]
    assert trace["trace"]["question"] == "q"
    assert queries.get_trace(store, "0" * 32) is None


def test_recent_traces_carry_their_spans(store, traced):
    recent = queries.recent_traces(store, limit=2)
    assert [r["trace_id"] for r in recent] == traced[::-1][:2]
    names = [s["name"] for s in recent[0]["spans"]]
    assert names[0] == "rag.ask" and sorted(names[1:]) == sorted(STAGES)
    assert all({"duration_ms", "attributes"} <= set(s) for s in recent[0]["spans"])


def test_feedback_score_joins_ratings_to_their_traces(store, traced):
    for trace_id, score in ((traced[0], 1), (traced[1], 0), (traced[2], 1), ("f" * 32, 0)):  # the last has no trace
        store.execute(
            "INSERT INTO feedback (message_id, conversation_id, collection, trace_id, score) VALUES (1, 'c', 'demo', ?, ?)",
            [trace_id, score],
        )
    summary = queries.operations_summary(store, days=7, collection="demo")
    assert summary["feedback_count"] == 3 and summary["feedback_score"] == pytest.approx(2 / 3)
    assert queries.operations_summary(store, days=7, collection="other")["feedback_count"] == 0


def test_every_trace_read_keeps_inside_a_collection_scope(tracer, store):
    """Dashboards read traces through a collection scope (platform.corpus.scope gives a caller's readable
    collections): another tenant's requests never appear, and an empty scope reads nothing."""
    from backend.observability import drift

    ours = [scripted_request(tracer, f"our question {i}", collection="acme-docs") for i in range(3)]
    theirs = scripted_request(tracer, "their secret question", collection="globex-docs")
    tracer.flush()
    mine = ["acme-docs"]
    assert queries.trace_collections(store) == ["acme-docs", "globex-docs"]
    assert queries.trace_collections(store, mine) == ["acme-docs"]
    assert queries.request_token_summary(store, 7, mine)["requests"] == 3
    assert queries.request_token_summary(store, 7, [])["requests"] == 0
    assert queries.operations_summary(store, 7, mine)["requests"] == 3
    assert int(queries.requests_over_time(store, 7, mine)["requests"].sum()) == 3
    assert set(queries.request_metrics(store, 7, mine)["trace_id"]) == set(ours)
    assert set(queries.stage_latency_summary(store, 7, mine)["count"]) == {3}
    found = queries.find_traces(store, text="question", collection=mine)
    assert set(found["trace_id"]) == set(ours) and theirs not in set(found["trace_id"])
    assert queries.get_trace(store, theirs, mine) is None and queries.get_trace(store, theirs) is not None
    assert queries.get_trace(store, ours[0], mine)["trace"]["collection"] == "acme-docs"
    assert {t["collection"] for t in queries.recent_traces(store, 10, mine)} == {"acme-docs"}
    start, end = utc_now() - timedelta(days=1), utc_now() + timedelta(minutes=1)
    loaded = drift.load_traces(store, start, end, mine)
    assert set(loaded["trace_id"]) == set(ours) and "their secret question" not in set(loaded["question"])
