"""Shared pieces of the operator pages: time-range and collection filters, number formats, empty states."""
from __future__ import annotations

import streamlit as st

from backend.context import RequestContext
from backend.models import GroundworkError
from backend.observability import queries

RANGES = {"Last hour": 1 / 24, "Last 24 hours": 1.0, "Last 7 days": 7.0, "Last 30 days": 30.0, "Last 90 days": 90.0}
ALL = "All collections"
STATUS_ICONS = {"ok": ":material/check_circle:", "warn": ":material/warning:", "alert": ":material/error:",
                "insufficient": ":material/hourglass_empty:"}
STATUS_COLOURS = {"ok": "green", "warn": "orange", "alert": "red", "insufficient": "gray"}


Scope = str | tuple[str, ...] | None  # what the trace queries take as `collection=`: hashable, for st.cache_data


def trace_scope(platform, collection: str | None, ctx: RequestContext) -> Scope:
    """The collections a trace read of this caller may touch: the chosen one (if readable), else every readable one
    (a tuple; None when the caller reads every collection). Stops the page with the reason when not readable."""
    if ctx.tenants is None and ctx.collections is None:
        return collection or None  # an admin may also look at traces of a collection deleted since
    try:
        scope = platform.corpus.scope(collection, ctx)
    except GroundworkError as exc:
        st.error(str(exc))
        st.stop()
    return tuple(scope) if isinstance(scope, list) else scope


def collection_select(where, platform, key: str, ctx: RequestContext) -> Scope:
    """The collection filter of the operator pages, in `where` (a column or st): the trace scope of the chosen
    collection, or of every collection the caller may read ("All collections")."""
    readable = trace_scope(platform, None, ctx)
    collection = where.selectbox("Collection", [ALL] + queries.trace_collections(platform.store, readable), key=key)
    return readable if collection == ALL else trace_scope(platform, collection, ctx)


def time_and_collection(platform, key: str, ctx: RequestContext, default_range: str = "Last 7 days") -> tuple[float, Scope]:
    """Two selectors side by side: the time range (in days) and the trace scope of a collection (or of all)."""
    left, right = st.columns(2)
    label = left.selectbox("Time range", list(RANGES), index=list(RANGES).index(default_range), key=f"{key}_range")
    return RANGES[label], collection_select(right, platform, f"{key}_collection", ctx)


OPERATIONS_TTL_S = 30


@st.cache_data(ttl=OPERATIONS_TTL_S, max_entries=64, show_spinner=False)
def _operations_data(_store, data_dir: str, days: float, collection: Scope) -> dict:
    # keyed by the filters, the caller's scope (`collection`) and the data dir: flipping back and forth between
    # ranges reruns no query, and one caller's figures are never served to another with another scope
    return {
        "summary": queries.operations_summary(_store, days, collection),
        "series": queries.requests_over_time(_store, days, collection),
        "requests": queries.request_metrics(_store, days, collection),
        "stages": queries.stage_latency_summary(_store, days, collection),
        "daily": queries.requests_over_time(_store, max(days, 1), collection, bucket="day"),
    }


def operations_data(platform, days: float, collection: Scope) -> dict:
    """Every query of the operations dashboard for one filter and scope, cached for OPERATIONS_TTL_S seconds."""
    return _operations_data(platform.store, str(platform.settings.data_dir), days, collection)


def no_traces_yet() -> None:
    """The empty state of every operator page: how traces come to exist."""
    st.info(
        "No traces yet. Every question asked in the app, through `python -m backend ask`, or replayed with "
        "`python -m backend simulate --questions data/traffic/baseline.txt --rate 2 --duration 60` becomes a "
        "trace with one span per pipeline stage. Reload this page afterwards.",
        icon=":material/timeline:",
    )


def has_traces(store, scope: Scope = None) -> bool:
    return not queries.find_traces(store, limit=1, collection=scope).empty


def operator_header(title: str, caption: str):
    """Title and caption, then the shared platform."""
    from components.platform import get_platform

    st.title(title)
    st.caption(caption)
    return get_platform()


def require_traces(platform, ctx: RequestContext) -> None:
    """Stops with the empty state while the caller can see no trace."""
    platform.tracer.flush()  # spans of requests this process just served are written before we read
    if not has_traces(platform.store, trace_scope(platform, None, ctx)):
        no_traces_yet()
        st.stop()


def operator_page(title: str, caption: str, ctx: RequestContext):
    """Title and caption, then the shared platform; stops with the empty state while the caller can see no trace."""
    platform = operator_header(title, caption)
    require_traces(platform, ctx)
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
