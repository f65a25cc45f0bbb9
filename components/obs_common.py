"""Shared pieces of the operator pages: time-range and collection filters, number formats, empty states."""
from __future__ import annotations

import streamlit as st

from backend.observability import queries

RANGES = {"Last hour": 1 / 24, "Last 24 hours": 1.0, "Last 7 days": 7.0, "Last 30 days": 30.0, "Last 90 days": 90.0}
ALL = "All collections"
STATUS_ICONS = {"ok": ":material/check_circle:", "warn": ":material/warning:", "alert": ":material/error:",
                "insufficient": ":material/hourglass_empty:"}
STATUS_COLOURS = {"ok": "green", "warn": "orange", "alert": "red", "insufficient": "gray"}


def collection_select(where, store, key: str) -> str | None:
    """The collection filter of the operator pages, in `where` (a column or st): a collection, None for all."""
    collection = where.selectbox("Collection", [ALL] + queries.trace_collections(store), key=key)
    return None if collection == ALL else collection


def time_and_collection(store, key: str, default_range: str = "Last 7 days") -> tuple[float, str | None]:
    """Two selectors side by side: the time range (in days) and a collection (None for all)."""
    left, right = st.columns(2)
    label = left.selectbox("Time range", list(RANGES), index=list(RANGES).index(default_range), key=f"{key}_range")
    return RANGES[label], collection_select(right, store, f"{key}_collection")


OPERATIONS_TTL_S = 30


@st.cache_data(ttl=OPERATIONS_TTL_S, max_entries=64, show_spinner=False)
def _operations_data(_store, data_dir: str, days: float, collection: str | None) -> dict:
    # keyed by the filters (and the data dir): flipping back and forth between ranges reruns no query
    return {
        "summary": queries.operations_summary(_store, days, collection),
        "series": queries.requests_over_time(_store, days, collection),
        "requests": queries.request_metrics(_store, days, collection),
        "stages": queries.stage_latency_summary(_store, days, collection),
        "daily": queries.requests_over_time(_store, max(days, 1), collection, bucket="day"),
    }


def operations_data(platform, days: float, collection: str | None) -> dict:
    """Every query of the operations dashboard for one filter, cached for OPERATIONS_TTL_S seconds."""
    return _operations_data(platform.store, str(platform.settings.data_dir), days, collection)


def no_traces_yet() -> None:
    """The empty state of every operator page: how traces come to exist."""
    st.info(
        "No traces yet. Every question asked in the app, through `python -m backend ask`, or replayed with "
        "`python -m backend simulate --questions data/traffic/baseline.txt --rate 2 --duration 60` becomes a "
        "trace with one span per pipeline stage. Reload this page afterwards.",
        icon=":material/timeline:",
    )


def has_traces(store) -> bool:
    return not queries.find_traces(store, limit=1).empty


def operator_page(title: str, caption: str):
    """Title and caption, then the shared platform; stops with the empty state while there are no traces."""
    from components.platform import get_platform

    st.title(title)
    st.caption(caption)
    platform = get_platform()
    platform.tracer.flush()  # spans of requests this process just served are written before we read
    if not has_traces(platform.store):
        no_traces_yet()
        st.stop()
    return platform


def ms(value) -> str:
    return "–" if value is None or value != value else (f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms")


def usd(value) -> str:
    if value is None or value != value:
        return "–"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    return f"${value:.3g}" if value else "$0"  # per-request costs are fractions of a cent


def pct(value) -> str:
    return "–" if value is None or value != value else f"{value:.1%}"


def table_expander(df, label: str = "Table", key: str | None = None) -> None:
    """The numbers behind a chart, one click away."""
    with st.expander(label, icon=":material/table:"):
        st.dataframe(df, hide_index=True, key=key)
