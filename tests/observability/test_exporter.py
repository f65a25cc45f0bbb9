"""The DuckDB exporter's trace row: request figures from the root, or from the stage that knows them best."""
from __future__ import annotations

import pytest


def test_trace_row_takes_relevance_from_the_dense_stage_and_reads_the_hot_path_names(tracer, store):
    with tracer.request("rag.ask", question="q", collection="demo") as root:
        with tracer.span("bm25") as span:
            span.set(top_score=12.5)
        with tracer.span("dense") as span:
            span.set(top_score=0.61, documents=[{"id": 1, "score": 0.61}, {"id": 2, "score": 0.41}])
        with tracer.span("fuse") as span:
            span.set(top_score=0.032, documents=[{"id": 1, "score": 0.032}])
        with tracer.span("generate") as span:
            span.set(tokens_in=50, tokens_out=10, cost_usd=0.001, model="m")
        root.set(found=False, cached=False, pii_found=2, answer="not found")
    tracer.flush()
    row = store.query_dicts("SELECT * FROM traces")[0]
    assert row["top_score"] == pytest.approx(0.61) and row["mean_score"] == pytest.approx(0.51)
    assert (row["no_answer"], row["cache_hit"], row["pii_hits"]) == (True, False, 2)
    assert (row["tokens_in"], row["tokens_out"], row["model"]) == (50, 10, "m")


def test_root_figures_win_over_children_and_a_cache_hit_is_not_a_no_answer(tracer, store):
    with tracer.request("rag.ask", question="q") as root:
        with tracer.span("cache_lookup") as span:
            span.set(cache_hit=True)
        root.set(tokens_in=0, top_score=0.9, grounded=False)
    tracer.flush()
    row = store.query_dicts("SELECT * FROM traces")[0]
    assert (row["cache_hit"], row["no_answer"], row["tokens_in"], row["top_score"]) == (True, None, 0, 0.9)


def test_children_in_an_earlier_batch_still_reach_their_root(tracer, store):
    with tracer.request("rag.ask", question="q") as root:
        with tracer.span("generate") as span:
            span.set(tokens_in=7)
        tracer.flush()  # the child is written before its root ends
        root.set(answer="a")
    tracer.flush()
    assert store.scalar("SELECT tokens_in FROM traces") == 7
