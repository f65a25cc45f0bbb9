"""AppTest of the operator pages: operations, trace explorer, drift; empty states and pages over real traces."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backend.observability.conventions import STAGES
from tests.observability.scripted import scripted_request
from tests.pages.conftest import open_page as run_page
from tests.pages.conftest import texts

ROOT = Path(__file__).resolve().parents[2]


def _traffic(platform, n: int = 12):
    rng = np.random.default_rng(1)
    ids = []
    for i in range(n):
        ids.append(scripted_request(platform.tracer, f"refund question {i}", cache_hit=i % 4 == 0,
                                    top_score=float(rng.uniform(0.5, 0.9)), tokens_in=100 + i))
    ids.append(scripted_request(platform.tracer, "what about mars rovers", collection="other", grounded=False,
                                fail_stage="generate"))
    platform.tracer.flush()
    return ids


@pytest.mark.parametrize("name", ["operations", "trace_explorer", "drift"])
def test_pages_explain_what_to_do_before_any_trace_exists(platform, name):
    app = run_page(name)
    assert "No traces yet" in texts(app) and "simulate" in texts(app)
    assert not app.get("plotly_chart")


def test_operations_shows_figures_and_charts_and_filters(platform):
    _traffic(platform)
    app = run_page("operations")
    shown = {m.label: m.value for m in app.metric}
    assert shown["Requests"] == "13"
    assert shown["Cache hit rate"] == "23.1%" and shown["Fallback rate"] == "7.7%"
    assert len(app.get("plotly_chart")) >= 4
    app.selectbox(key="ops_collection").set_value("other").run()
    assert not app.exception
    assert {m.label: m.value for m in app.metric}["Requests"] == "1"
    app.selectbox(key="ops_range").set_value("Last hour").run()
    assert not app.exception and {m.label: m.value for m in app.metric}["Requests"] == "1"


def test_trace_explorer_opens_the_newest_trace_and_a_linked_one(platform):
    ids = _traffic(platform)
    app = run_page("trace_explorer")
    assert app.selectbox(key="tx_trace").value == ids[-1]
    assert {m.label: m.value for m in app.metric}["Spans"] == str(len(STAGES) + 1)  # stages + the request
    assert len(app.get("plotly_chart")) == 1  # the waterfall
    assert "what about mars rovers" in texts(app)

    linked = run_page("trace_explorer", {"trace": ids[0]})
    assert linked.selectbox(key="tx_trace").value == ids[0]
    assert "refund question 0" in texts(linked)

    app.text_input(key="tx_text").set_value("no such words").run()
    assert "No trace matches" in texts(app)
    app.text_input(key="tx_text").set_value("refund question 3").run()
    assert app.selectbox(key="tx_trace").options and not app.exception
    app.text_input(key="tx_text").set_value("").run()
    app.selectbox(key="tx_status").set_value("error").run()
    assert "No trace matches" in texts(app)


def test_drift_page_waits_for_data_then_flags_a_planted_shift(platform):
    rng = np.random.default_rng(3)
    baseline = [q for q in (ROOT / "data/traffic/baseline.txt").read_text().splitlines() if q and not q.startswith("#")]
    shifted = [q for q in (ROOT / "data/traffic/shifted.txt").read_text().splitlines() if q and not q.startswith("#")]
    for questions, score, no_answer in ((baseline, 0.7, 0.05), (shifted, 0.45, 0.5)):
        for _ in range(60):
            miss = bool(rng.random() < no_answer)
            scripted_request(platform.tracer, str(rng.choice(questions)), top_score=float(rng.normal(score, 0.04)),
                             grounded=not miss, answer=" ".join(["w"] * (4 if miss else 30)))
        platform.tracer.flush()

    app = run_page("drift")  # by time: everything is in the current window, the reference is empty
    assert "insufficient" in texts(app)
    app.radio(key="drift_by").set_value("by request count").run()
    # the default 200 + 200 is more than the 120 recorded: say so, and no topic claims a 0% reference share
    warning = " ".join(w.value for w in app.warning)
    assert "Only 120 requests are recorded" in warning and "Lower **Current: last N requests**" in warning
    topics = [e.label for e in app.expander if e.label.startswith("Topic")]
    assert topics and all("(no reference window)" in label for label in topics), topics
    app.number_input(key="drift_current_n").set_value(60).run()
    app.number_input(key="drift_reference_n").set_value(60).run()
    assert not app.exception
    shown = texts(app)
    assert "**alert**" in shown
    assert "Query embeddings (clusters)" in shown and "Emerging topics" in [h.value for h in app.subheader]
    assert len(app.get("plotly_chart")) >= 4
    assert any(word in shown.lower() for word in ("bitcoin", "crypto", "mortgage"))


def test_operations_cost_axis_starts_at_zero_and_says_why_cost_is_zero(platform):
    # QA: with every cost $0 (extractive generator) the "$ per request" axis showed ticks up to 0.921
    for i in range(5):
        scripted_request(platform.tracer, f"free question {i}", cost_usd=0.0)
    platform.tracer.flush()
    app = run_page("operations")
    cost = next(c for c in app.get("plotly_chart") if "$ per request" in c.proto.spec)
    axis = __import__("json").loads(cost.proto.spec)["layout"]["yaxis2"]
    assert axis["range"][0] == 0 and axis["range"][1] <= 0.01
    assert "extractive generator has no per-token price" in texts(app)


def test_operations_reuses_query_results_for_filters_seen_before(platform, monkeypatch):
    # QA: every time-range change ran every query again; results are cached per filter for a short while
    from backend.observability import queries

    _traffic(platform)
    calls = []
    real = queries.operations_summary
    monkeypatch.setattr(queries, "operations_summary", lambda *a, **k: calls.append(a[1:]) or real(*a, **k))
    app = run_page("operations")
    app.selectbox(key="ops_range").set_value("Last 24 hours").run()
    app.selectbox(key="ops_range").set_value("Last 7 days").run()
    app.selectbox(key="ops_range").set_value("Last 24 hours").run()
    assert not app.exception
    assert sorted(calls, key=str) == sorted([(7.0, None), (1.0, None)], key=str)
