"""Corpus overview: contents by collection and type, chunk lengths against the model window, ingest runs, near-duplicates, embedding map."""
import pandas as pd
import streamlit as st

from backend.corpus.overview import (
    EmbeddingMap,
    chunk_lengths,
    corpus_breakdown,
    embedding_map,
    ingest_history,
    near_duplicate_groups,
)
from components.auth import scope_key
from components.corpus_charts import breakdown_figure, chunk_length_figure, embedding_figure, ingest_runs_figure
from components.corpus_common import collection_picker
from components.navigation import page_context
from components.platform import get_platform

identity, ctx = page_context(__file__)

SECTIONS = ["Contents", "Chunk lengths", "Ingest history", "Near-duplicates", "Embedding map"]

platform = get_platform()
st.title("Corpus overview")


@st.cache_data(show_spinner="Projecting chunk embeddings…", max_entries=16)
def _embedding_map(_platform, collection: str | None, limit: int, index_versions: tuple, scope: tuple,
                   _ctx) -> EmbeddingMap:
    # index_versions changes whenever any collection's chunks change, so a stale map is never shown; scope (the
    # caller's readable collections) keys it too, so one caller's map is never served to another
    return embedding_map(_platform, collection, limit, ctx=_ctx)


breakdown = corpus_breakdown(platform, ctx)
head = st.columns([2, 1, 1, 1])
collection = collection_picker(platform, "overview_collection", container=head[0], ctx=ctx)
scoped = [row for row in breakdown if collection in (None, row["collection"])]
head[1].metric("Documents", f"{sum(r['documents'] for r in scoped):,}")
head[2].metric("Chunks", f"{sum(r['chunks'] for r in scoped):,}")
head[3].metric("Tokens", f"{sum(r['tokens'] for r in scoped):,}")

section = st.segmented_control("Show", SECTIONS, default="Contents", key="section",
                                 bind="query-params") or "Contents"

if section == "Contents":
    if not scoped:
        st.info("No active documents here yet.")
    else:
        left, right = st.columns(2)
        left.plotly_chart(breakdown_figure(scoped, "documents"), key="overview_docs")
        right.plotly_chart(breakdown_figure(scoped, "chunks"), key="overview_chunks")
        with st.expander("As a table", icon=":material/table:"):
            st.dataframe(pd.DataFrame(scoped), hide_index=True, width="stretch")

elif section == "Chunk lengths":
    lengths = chunk_lengths(platform, collection, ctx=ctx)
    if not lengths.chunks:
        st.info("No chunks yet.")
    else:
        st.plotly_chart(chunk_length_figure(lengths), key="overview_lengths")
        st.caption(
            f"{lengths.chunks:,} chunks · median {lengths.p50:,.0f}, 95th percentile {lengths.p95:,.0f}, longest "
            f"{lengths.longest:,} word pieces · {lengths.over_target:,} over the chunk target of {lengths.target} "
            f"(GROUNDWORK_CHUNK_TOKENS). The model reads {lengths.limit} word pieces of text (its window of "
            f"{lengths.window} minus [CLS] and [SEP]); the title prefix added for embedding takes part of the rest.")
        with st.expander("As a table", icon=":material/table:"):
            st.dataframe(pd.DataFrame(lengths.bins, columns=["from tokens", "chunks"]), hide_index=True)

elif section == "Ingest history":
    runs = ingest_history(platform, 200, collection, ctx=ctx)
    if not runs:
        st.info("No ingest runs yet.")
    else:
        st.plotly_chart(ingest_runs_figure(runs), key="overview_runs")
        st.dataframe(pd.DataFrame(runs), hide_index=True, width="stretch")
        run_id = st.selectbox("Files of run", [r["id"] for r in runs], format_func=lambda i: f"#{i}", key="overview_run")
        files = platform.corpus.ingest_files(run_id)
        st.dataframe(pd.DataFrame(files), hide_index=True, width="stretch",
                     column_config={"message": st.column_config.TextColumn("message", width="large")})

elif section == "Near-duplicates":
    groups = near_duplicate_groups(platform, collection, ctx=ctx)
    threshold = platform.settings.near_duplicate_threshold
    st.caption(f"Documents ingest flagged as near-duplicates (MinHash similarity ≥ {threshold:g}, "
               f"GROUNDWORK_NEAR_DUPLICATE_THRESHOLD; action: {platform.settings.near_duplicate_action}).")
    if not groups:
        st.success("No near-duplicates recorded.", icon=":material/check_circle:")
    for number, members in enumerate(groups, start=1):
        st.markdown(f"**Group {number}** · {len(members)} files")
        st.dataframe(pd.DataFrame(members), hide_index=True, width="stretch")

else:
    controls = st.columns([1, 2])
    colour_by = controls[0].radio("Colour by", ["document", "collection"], horizontal=True, key="overview_colour")
    limit = controls[1].select_slider("Points at most", [500, 1000, 2000, 5000], value=2000, key="overview_limit")
    versions = tuple((c["name"], c["index_version"]) for c in platform.corpus.collections(ctx))
    points = _embedding_map(platform, collection, limit, versions, scope_key(ctx), ctx)
    if not points.points:
        st.info("Too few chunks to draw a map.")
    else:
        st.plotly_chart(embedding_figure(points, colour_by), key="overview_map")
        shown = f"a sample of {len(points.points):,} of {points.total:,}" if points.sampled else f"all {points.total:,}"
        st.caption(f"Showing {shown} chunks. Nearby points have similar embeddings, so a tight cluster of one colour "
                   "is a document that talks about one thing; mixed clusters are topics several documents share.")
