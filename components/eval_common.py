"""Shared pieces of the evaluation pages: metric names for people, number formats, run pickers."""
from __future__ import annotations

import streamlit as st

METRIC_LABELS = {
    "pass_rate": "Pass rate",
    "recall@k": "Recall@k",
    "precision@k": "Precision@k",
    "hit_rate@k": "Hit rate@k",
    "mrr@10": "MRR@10",
    "ndcg@10": "nDCG@10",
    "context_precision": "Context precision",
    "context_recall": "Context recall",
    "string_similarity": "String similarity",
    "rouge_l": "ROUGE-L",
    "bleu": "BLEU",
    "semantic_similarity": "Semantic similarity",
    "evidence_match": "Evidence in answer",
    "faithfulness": "Faithfulness (LLM judge)",
    "answer_relevancy": "Answer relevancy (LLM judge)",
    "llm_context_precision": "Context precision (LLM judge)",
    "latency_p50_ms": "Latency p50 (ms)",
    "latency_p95_ms": "Latency p95 (ms)",
    "latency_mean_ms": "Latency mean (ms)",
    "cost_per_query_usd": "Cost per query ($)",
    "tokens_per_query": "Tokens per query",
}
COST_AXES = ["latency_p50_ms", "latency_p95_ms", "cost_per_query_usd", "tokens_per_query"]
CLASS_LABELS = {
    "ok": "passed", "retrieval_miss": "retrieval miss", "ranking_miss": "ranking miss",
    "generation_failure": "generation failure", "error": "error",
}
CLASS_COLOURS = {"ok": "#2ca02c", "retrieval_miss": "#d62728", "ranking_miss": "#ff7f0e",
                 "generation_failure": "#9467bd", "error": "#7f7f7f"}


def label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def fmt(metric: str, value) -> str:
    if value is None or value != value:
        return "–"
    if metric.endswith("_ms"):
        return f"{value:,.0f} ms"
    if metric.endswith("_usd"):
        return f"${value:.4g}" if value else "$0"
    if metric == "tokens_per_query":
        return f"{value:,.0f}"
    return f"{value:.3f}"


def run_option(frame, run_id: int) -> str:
    row = frame.loc[frame["run"] == run_id].iloc[0]
    return f"#{run_id} · {row['label']} · {row['experiment'] or 'ad hoc'}"


def pick_run(frame, text: str, key: str, default: int | None = None, container=st) -> int:
    """A selectbox over the runs in `frame`; a `?run=` query parameter preselects one."""
    options = frame["run"].tolist()
    wanted = default
    param = st.query_params.get("run")
    if param and param.isdigit() and int(param) in options and key.endswith("_drill"):
        wanted = int(param)
    index = options.index(wanted) if wanted in options else 0
    return container.selectbox(text, options, index=index, format_func=lambda r: run_option(frame, r), key=key)


def empty_state(page_link: str | None = None) -> None:
    st.info(
        "No finished evaluation runs yet. Define an experiment on the **Experiments** page, or run one from a "
        "terminal: `python -m backend eval run --gold demo --config data/eval/demo-grid.yaml` (the demo "
        "corpus must be ingested: `make demo`). Runs appear here when every question is scored.",
        icon=":material/leaderboard:",
    )
    if page_link:
        link(page_link, "Open Experiments", ":material/science:")


def link(page: str, text: str, icon: str) -> None:
    """A link to another page of the app; a page run on its own (tests, `streamlit run pages/x.py`) has no
    navigation to link into, so it names the page instead."""
    from streamlit.errors import StreamlitAPIException

    try:
        st.page_link(page, label=text, icon=icon)
    except StreamlitAPIException:
        st.caption(f"{icon} {text}: see the sidebar.")
