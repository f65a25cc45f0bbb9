"""Operations: usage against each visible tenant's quota, the ticket desk; traffic, latency percentiles, tokens, cost, cache, error rates."""
import streamlit as st

from components.navigation import page_context
from components.obs_charts import cost_figure, latency_figure, latency_histogram, requests_figure, stage_figure
from components.obs_common import (
    ms,
    operations_data,
    operator_header,
    pct,
    require_traces,
    table_expander,
    time_and_collection,
    usd,
)
from components.quota_usage import usage_section
from components.tickets_table import tickets_section
from components.tool_servers import tool_servers_section

identity, ctx = page_context(__file__)

platform = operator_header(
    "Operations",
    "What the hot path did: volume, the latency tail, what it cost, what the cache saved, and how often it failed.",
)
usage_section(platform.gateway, ctx, "ops")  # quotas apply before the first trace exists
if ctx.may_change():  # stakeholders read this page only; tickets are for the people who take the hand-overs
    tickets_section(platform, ctx, "ops_tickets")
    tool_servers_section(platform, ctx, "ops_tool_servers")
require_traces(platform, ctx)
store = platform.store

days, collection = time_and_collection(platform, "ops", ctx)
data = operations_data(platform, days, collection)
summary = data["summary"]
if summary["requests"] == 0:
    st.info("No requests in this time range for this collection: widen the range or pick another collection.",
            icon=":material/filter_alt_off:")
    st.stop()

# --- headline figures ---------------------------------------------------------------------------
row = st.columns(6)
row[0].metric("Requests", f"{summary['requests']:,}")
row[1].metric("p50 latency", ms(summary["p50_ms"]))
row[2].metric("p95 latency", ms(summary["p95_ms"]))
row[3].metric("p99 latency", ms(summary["p99_ms"]))
row[4].metric("Tokens per request", f"{summary['tokens_in_mean'] + summary['tokens_out_mean']:,.0f}",
              help=f"{summary['tokens_in_mean']:,.0f} in, {summary['tokens_out_mean']:,.0f} out on average")
row[5].metric("Cost per request", usd(summary["cost_mean_usd"]), help=f"total {usd(summary['cost_total_usd'])}")
row = st.columns(6)
row[0].metric("Cache hit rate", pct(summary["cache_hit_rate"]))
row[1].metric("Saved by the cache", usd(summary["money_saved_usd"]),
              help="What the cache recorded as saved; without records, cache hits × the mean cost of an uncached answer.")
row[2].metric("Error rate", pct(summary["error_rate"]))
row[3].metric("Timeout rate", pct(summary["timeout_rate"]))
row[4].metric("Fallback rate", pct(summary["fallback_rate"]), help="Answers produced by a fallback (e.g. the LLM "
              "server failed and the extractive generator answered).")
row[5].metric("No-answer rate", pct(summary["no_answer_rate"]), help="'Not found in the documents' answers.")
feedback = summary["feedback_score"]
st.caption(
    f":material/thumb_up: Feedback: {pct(feedback)} positive over {summary['feedback_count']:,} rated answers"
    if summary["feedback_count"] else ":material/thumb_up: Feedback: no rated answers in this range yet."
)

# --- charts, each with its table ------------------------------------------------------------------
series = data["series"]
traffic_tab, stages_tab, cost_tab = st.tabs(["Traffic and latency", "Stages", "Tokens and cost"])
with traffic_tab:
    left, right = st.columns(2)
    with left:
        st.markdown("**Requests over time**")
        st.plotly_chart(requests_figure(series), key="ops_requests")
    with right:
        st.markdown("**Latency percentiles over time**")
        st.plotly_chart(latency_figure(series), key="ops_latency")
    st.markdown("**Latency distribution**")
    st.plotly_chart(latency_histogram(data["requests"]), key="ops_histogram")
    table_expander(series, key="ops_series_table")

with stages_tab:
    stages = data["stages"]
    if stages.empty:
        st.info("No stage spans in this range.", icon=":material/info:")
    else:
        st.markdown("**Latency per stage (p50, p95, p99)**")
        st.plotly_chart(stage_figure(stages), key="ops_stages")
        slowest = stages.sort_values("p95_ms", ascending=False).iloc[0]
        st.caption(f"The slowest stage at p95 is **{slowest['stage']}** ({ms(slowest['p95_ms'])}).")
        table_expander(stages, key="ops_stages_table")

with cost_tab:
    st.markdown("**Tokens per period and cost per request**")
    st.plotly_chart(cost_figure(series), key="ops_cost")
    if not series["cost_per_request_usd"].fillna(0).any():
        st.caption(":material/info: Every request in this range cost $0: the extractive generator has no per-token "
                   "price, so tokens are counted but not charged. An LLM generator with a price in the pricing "
                   "catalog shows its cost here.")
    daily = data["daily"]
    table_expander(daily[["bucket", "requests", "tokens_in", "tokens_out", "cost_usd", "cost_per_request_usd",
                          "tokens_per_request", "cache_hits"]], label="Per day", key="ops_daily_table")

sink = platform.tracer.stats()
if sink:
    st.caption(
        f":material/database: Span export this session: {sink.get('duckdb_exported', 0):,} written, "
        f"{sink.get('duckdb_dropped', 0):,} dropped (queue full), {sink.get('duckdb_failed', 0):,} failed"
        + (f"; OTLP {sink['otlp_exported']:,} sent, {sink['otlp_failed']:,} failed, {sink['otlp_dropped']:,} dropped"
           if "otlp_exported" in sink else "")
    )
