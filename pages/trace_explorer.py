"""Trace explorer: find requests by time, text, latency or status; one request as a waterfall of its spans."""
from datetime import timedelta

import streamlit as st

from backend.observability import queries
from backend.observability.conventions import utc_now
from components.navigation import page_context
from components.obs_common import RANGES, collection_select, ms, operator_page, trace_scope, usd
from components.safe_markdown import safe_markdown
from components.trace_waterfall import span_table, waterfall_figure

identity, ctx = page_context(__file__)

platform = operator_page(
    "Trace explorer",
    "Every request is a trace and every pipeline stage a span. Find one, then see where its time went.",
    ctx,
)
store = platform.store

# --- search -----------------------------------------------------------------------------------------
with st.container(border=True):
    c1, c2, c3, c4, c5 = st.columns([1.2, 2, 1, 1, 1.3])
    range_label = c1.selectbox("Time range", list(RANGES), index=2, key="tx_range")
    text = c2.text_input("Question, answer or trace id contains", key="tx_text", placeholder="e.g. refund")
    min_ms = c3.number_input("Slower than (ms)", min_value=0, value=0, step=100, key="tx_min_ms")
    status = c4.selectbox("Status", ["any", "ok", "error"], key="tx_status")
    collection = collection_select(c5, platform, "tx_collection", ctx)

found = queries.find_traces(
    store,
    since=utc_now() - timedelta(days=RANGES[range_label]),
    text=text.strip() or None,
    min_ms=float(min_ms) or None,
    status=None if status == "any" else status,
    collection=collection,
    limit=500,
)
linked = st.query_params.get("trace")  # a deep link (?trace=<id>) opens that trace whatever the filters
if found.empty and not linked:
    st.info("No trace matches these filters.", icon=":material/search_off:")
    st.stop()

st.caption(f"{len(found):,} matching traces (newest first, at most 500).")
st.dataframe(
    found, hide_index=True, key="tx_results", height=220,
    column_order=["start_time", "duration_ms", "status", "collection", "question", "cache_hit", "no_answer",
                  "tokens_in", "tokens_out", "cost_usd", "trace_id"],
    column_config={"duration_ms": st.column_config.NumberColumn("ms", format="%.1f"),
                   "start_time": st.column_config.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm:ss"),
                   "cost_usd": st.column_config.NumberColumn("cost $", format="%.6f")},
)


def _label(trace_id: str) -> str:
    match = found[found["trace_id"] == trace_id]
    if match.empty:
        return trace_id
    row = match.iloc[0]
    question = (row["question"] or "")[:70]
    return f"{str(row['start_time'])[:19]} · {row['duration_ms']:.0f} ms · {row['status']} · {question}"


options = found["trace_id"].tolist()
if linked and linked not in options:
    options.insert(0, linked)
trace_id = st.selectbox("Trace", options, index=options.index(linked) if linked in options else 0,
                        format_func=_label, key="tx_trace")

# --- one trace ----------------------------------------------------------------------------------------
detail = queries.get_trace(store, trace_id, trace_scope(platform, None, ctx))
if detail is None:
    st.warning(f"Trace {trace_id} is not in the store (it may have been rolled up by retention).",
               icon=":material/history:")
    st.stop()
trace, spans = detail["trace"], detail["spans"]

row = st.columns(6)
row[0].metric("Duration", ms(trace.get("duration_ms")))
row[1].metric("Status", trace.get("status", "–"))
row[2].metric("Spans", f"{len(spans)}")
row[3].metric("Tokens in / out", f"{trace.get('tokens_in') or 0:,} / {trace.get('tokens_out') or 0:,}")
row[4].metric("Cost", usd(trace.get("cost_usd")))
row[5].metric("Cache", "hit" if trace.get("cache_hit") else "miss")
st.caption(f"Trace `{trace_id}` · collection **{trace.get('collection') or '–'}** · "
           f"model {trace.get('model') or '–'} · top relevance "
           + (f"{trace['top_score']:.3f}" if trace.get("top_score") is not None else "– (no retrieval)"))
if trace.get("error"):
    st.error(trace["error"], icon=":material/error:")

st.markdown("**Waterfall**")
if spans.empty:
    st.info("This trace has no spans stored.", icon=":material/info:")
else:
    st.plotly_chart(waterfall_figure(spans), key="tx_waterfall")
    with st.expander("Spans and attributes", icon=":material/table:"):
        st.dataframe(span_table(spans), hide_index=True, key="tx_spans")

left, right = st.columns(2)
with left:
    st.markdown("**Question** (as stored: redacted)")
    st.markdown(f"> {safe_markdown(trace.get('question') or '–')}")
with right:
    st.markdown("**Answer** (redacted)")
    st.markdown(safe_markdown(trace.get("answer") or "–"))

st.markdown("**Retrieved chunks**")
documents = detail["documents"]
if not documents:
    st.caption("No retrieval recorded for this request (a cache hit, or it failed before retrieval).")
else:
    ids = [int(d["id"]) for d in documents if str(d.get("id", "")).isdigit()]
    chunks = platform.corpus.chunks_by_ids(ids, ctx) if ids else {}
    for rank, document in enumerate(documents, start=1):
        chunk = chunks.get(int(document["id"])) if str(document.get("id", "")).isdigit() else None
        title = chunk.title if chunk else f"chunk {document.get('id')}"
        with st.expander(f"{rank}. {title} · score {float(document.get('score') or 0):.4f}"):
            st.markdown(safe_markdown(chunk.text if chunk else document.get("content") or "This chunk is no longer in the collection."))
