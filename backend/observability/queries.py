"""Read side of the traces: latency percentiles, tokens and cost, rates, trace search, one trace's spans."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from backend.observability.conventions import (
    DOCUMENT_STAGES,
    DOCUMENTS,
    PERCENTILE_COLUMNS,
    PERCENTILES,
    STATUS_ERROR,
    STATUS_OK,
    stage_order,
    utc_now,
)
from backend.store.rows import Scope, scope_condition


def _since(days: float) -> datetime:
    return utc_now() - timedelta(days=days)


def _where(days: float | None, collection: Scope, alias: str = "t") -> tuple[str, list]:
    """The window and the collection scope: one collection, the collections a caller may read (a list,
    from `platform.corpus.scope`), or None for every collection."""
    clauses: list[str] = ["TRUE"]
    params: list[Any] = []
    if days is not None:
        clauses.append(f"{alias}.start_time >= ?")
        params.append(_since(days))
    condition, scope_params = scope_condition(collection, f"{alias}.collection")
    if condition:
        clauses.append(condition)
        params += scope_params
    return " AND ".join(clauses), params


# --- what the economics pages read ------------------------------------------------------------
def stage_latency_summary(store, days: int = 7, collection: Scope = None) -> pd.DataFrame:
    """Per stage (child spans of requests): count, p50_ms, p95_ms, p99_ms, in pipeline order."""
    where, params = _where(days, collection)
    df = store.query_df(
        f"SELECT s.name AS stage, count(*) AS count, {PERCENTILES.format(col='s.duration_ms')}"
        f" FROM spans s JOIN traces t ON s.trace_id = t.trace_id"
        f" WHERE s.parent_span_id IS NOT NULL AND {where} GROUP BY s.name",
        params,
    )
    if df.empty:
        return pd.DataFrame({"stage": pd.Series(dtype=str), "count": pd.Series(dtype="int64"),
                             **{column: pd.Series(dtype=float) for column in PERCENTILE_COLUMNS}})
    df["count"] = df["count"].astype("int64")
    df = df.sort_values("stage", key=lambda s: s.map(stage_order), kind="stable").reset_index(drop=True)
    return df


# per-request means over a window of traces (0 when the window is empty)
REQUEST_MEANS = (
    "count(*) AS requests, coalesce(avg(coalesce(tokens_in, 0)), 0) AS tokens_in_mean,"
    " coalesce(avg(coalesce(tokens_out, 0)), 0) AS tokens_out_mean, coalesce(avg(coalesce(cost_usd, 0)), 0) AS cost_mean_usd,"
    " coalesce(avg(CASE WHEN cache_hit THEN 1.0 ELSE 0.0 END), 0) AS cache_hit_rate"
)


def request_token_summary(store, days: int = 7, collection: Scope = None) -> dict[str, float]:
    """requests, tokens_in_mean, tokens_out_mean, cost_mean_usd, cache_hit_rate (0.0 when no requests)."""
    where, params = _where(days, collection)
    row = store.query_dicts(f"SELECT {REQUEST_MEANS} FROM traces t WHERE {where}", params)[0]
    return {key: (int(value) if key == "requests" else float(value)) for key, value in row.items()}


# --- operations dashboard ------------------------------------------------------------------------
def trace_collections(store, collections: Scope = None) -> list[str]:
    """Collections (within the caller's scope) that have traces or rollups, for the dashboards' filter."""
    condition, params = scope_condition(collections, "collection")
    rows = store.query(
        "SELECT DISTINCT collection FROM (SELECT collection FROM traces UNION SELECT collection FROM trace_daily)"
        f" WHERE collection IS NOT NULL AND {condition or 'TRUE'} ORDER BY 1", params
    )
    return [r[0] for r in rows]


def operations_summary(store, days: int = 7, collection: Scope = None) -> dict[str, Any]:
    """Headline figures of a window: volume, latency percentiles, tokens, cost, cache savings, rates, feedback."""
    where, params = _where(days, collection)
    row = store.query_dicts(
        f"SELECT {REQUEST_MEANS}, {PERCENTILES.format(col='duration_ms')},"
        f" sum(coalesce(cost_usd, 0)) AS cost_total_usd, count(*) FILTER (WHERE cache_hit) AS cache_hits,"
        f" avg(cost_usd) FILTER (WHERE NOT coalesce(cache_hit, FALSE) AND status = '{STATUS_OK}') AS cost_uncached_mean_usd,"
        f" avg(CASE WHEN status = '{STATUS_ERROR}' THEN 1.0 ELSE 0.0 END) AS error_rate,"
        f" avg(CASE WHEN timeout THEN 1.0 ELSE 0.0 END) AS timeout_rate,"
        f" avg(CASE WHEN fallback THEN 1.0 ELSE 0.0 END) AS fallback_rate,"
        f" avg(CASE WHEN no_answer THEN 1.0 ELSE 0.0 END) AS no_answer_rate"
        f" FROM traces t WHERE {where}",
        params,
    )[0]
    out = {k: (float(v) if isinstance(v, (int, float)) and k != "requests" else v) for k, v in row.items()}
    out["requests"] = int(row["requests"])
    # The cache records what each hit saved; without such records, a hit saves what an uncached
    # answer costs on average in the same window.
    recorded = cache_savings_usd(store, days, collection)
    estimate = float(row["cache_hits"] or 0) * float(row["cost_uncached_mean_usd"] or 0.0)
    out["money_saved_usd"] = float(recorded) if recorded is not None else estimate
    out.update(feedback_summary(store, days, collection))
    return out


def requests_over_time(store, days: int = 7, collection: Scope = None, bucket: str = "auto") -> pd.DataFrame:
    """Per time bucket: requests, errors, cache hits, p50/p95/p99 ms, tokens and cost.

    Days already rolled up by retention come from `trace_daily` (day buckets only).
    """
    where, params = _where(days, collection)
    if bucket == "auto":
        bucket = _bucket_for(store, where, params)
    raw = store.query_df(
        f"SELECT date_trunc('{bucket}', start_time) AS bucket, count(*) AS requests,"
        f" count(*) FILTER (WHERE status = '{STATUS_ERROR}') AS errors, count(*) FILTER (WHERE cache_hit) AS cache_hits,"
        f" {PERCENTILES.format(col='duration_ms')}, sum(coalesce(tokens_in, 0)) AS tokens_in,"
        f" sum(coalesce(tokens_out, 0)) AS tokens_out, sum(coalesce(cost_usd, 0)) AS cost_usd"
        f" FROM traces t WHERE {where} GROUP BY 1",
        params,
    )
    if bucket == "day":
        rwhere: list[str] = ["day >= ?"]
        rparams: list[Any] = [_since(days).date()]
        condition, scope_params = scope_condition(collection, "collection")
        if condition:
            rwhere.append(condition)
            rparams += scope_params
        rolled = store.query_df(
            "SELECT CAST(day AS TIMESTAMP) AS bucket, sum(requests) AS requests, sum(errors) AS errors,"
            " sum(cache_hits) AS cache_hits, max(p50_ms) AS p50_ms, max(p95_ms) AS p95_ms, max(p99_ms) AS p99_ms,"
            " sum(tokens_in_sum) AS tokens_in, sum(tokens_out_sum) AS tokens_out, sum(cost_usd_sum) AS cost_usd"
            f" FROM trace_daily WHERE {' AND '.join(rwhere)} GROUP BY 1",
            rparams,
        )
        frames = [f for f in (raw, rolled) if not f.empty]
        raw = pd.concat(frames, ignore_index=True) if frames else raw
    raw = raw.sort_values("bucket").reset_index(drop=True)
    if not raw.empty:
        raw["cost_per_request_usd"] = raw["cost_usd"] / raw["requests"].clip(lower=1)
        raw["tokens_per_request"] = (raw["tokens_in"] + raw["tokens_out"]) / raw["requests"].clip(lower=1)
    return raw


def _bucket_for(store, where: str, params: list) -> str:
    """A bucket that gives a readable series for the traffic actually there: minutes for a burst, days for months."""
    first, last = store.query(f"SELECT min(start_time), max(start_time) FROM traces t WHERE {where}", params)[0]
    span = (last - first) if first is not None else timedelta(0)
    if span <= timedelta(hours=3):
        return "minute"
    return "hour" if span <= timedelta(days=3) else "day"


def request_metrics(store, days: int = 7, collection: Scope = None, limit: int = 5000) -> pd.DataFrame:
    """One row per request (newest first): start_time, duration_ms, tokens, cost, cache hit, status."""
    where, params = _where(days, collection)
    return store.query_df(
        "SELECT trace_id, start_time, duration_ms, coalesce(tokens_in, 0) AS tokens_in,"
        " coalesce(tokens_out, 0) AS tokens_out, coalesce(cost_usd, 0) AS cost_usd,"
        " coalesce(cache_hit, FALSE) AS cache_hit, status, collection"
        f" FROM traces t WHERE {where} ORDER BY start_time DESC LIMIT ?",
        params + [int(limit)],
    )


# --- feedback (the chat tables) ------------------------------------------------------------------
def _has_table(store, name: str) -> bool:
    return bool(store.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]))


def feedback_summary(store, days: int = 7, collection: Scope = None) -> dict[str, Any]:
    """feedback_count and feedback_score (share of positive ratings, 0..1; None without feedback)."""
    df = feedback_by_trace(store, days, collection)
    if df.empty:
        return {"feedback_count": 0, "feedback_score": None}
    return {"feedback_count": int(len(df)), "feedback_score": float(df["score"].mean())}


def feedback_by_trace(store, days: float | None = 7, collection: Scope = None) -> pd.DataFrame:
    """Ratings joined to their requests (010_chat's feedback.trace_id): trace_id, start_time, score 0..1."""
    empty = pd.DataFrame({"trace_id": pd.Series(dtype=str), "start_time": pd.Series(dtype="datetime64[us]"),
                          "score": pd.Series(dtype=float)})
    if not _has_table(store, "feedback"):
        return empty
    where, params = _where(days, collection)
    return store.query_df(
        "SELECT t.trace_id, t.start_time, avg(CAST(f.score AS DOUBLE)) AS score"
        " FROM feedback f JOIN traces t ON f.trace_id = t.trace_id"
        f" WHERE {where} GROUP BY t.trace_id, t.start_time ORDER BY t.start_time",
        params,
    )


def cache_savings_usd(store, days: int = 7, collection: Scope = None) -> float | None:
    """Money the answer cache saved, as recorded by the cache (010_chat's cache_events); None without it."""
    if not _has_table(store, "cache_events"):
        return None
    clauses: list[str] = ["created_at >= ?"]
    params: list[Any] = [_since(days)]
    condition, scope_params = scope_condition(collection, "collection")
    if condition:
        clauses.append(condition)
        params += scope_params
    return store.scalar(f"SELECT sum(cost_saved_usd) FROM cache_events WHERE {' AND '.join(clauses)}", params)


# --- trace explorer ------------------------------------------------------------------------------
def find_traces(
    store,
    since: datetime | None = None,
    until: datetime | None = None,
    text: str | None = None,
    min_ms: float | None = None,
    status: str | None = None,
    collection: Scope = None,
    limit: int = 200,
    offset: int = 0,
) -> pd.DataFrame:
    """Traces newest first, filtered by time (UTC), question/answer text, latency, status, collection scope; a page
    of `limit` from `offset`."""
    clauses, params = ["TRUE"], []
    for clause, value in (
        ("start_time >= ?", since), ("start_time <= ?", until), ("duration_ms >= ?", min_ms), ("status = ?", status),
    ):
        if value not in (None, ""):
            clauses.append(clause)
            params.append(value)
    condition, scope_params = scope_condition(collection, "collection")
    if condition:
        clauses.append(condition)
        params += scope_params
    if text:
        clauses.append("(question ILIKE ? OR answer ILIKE ? OR trace_id = ?)")
        params += [f"%{text}%", f"%{text}%", text.strip()]
    return store.query_df(
        "SELECT trace_id, start_time, duration_ms, status, collection, question, cache_hit, no_answer,"
        " tokens_in, tokens_out, cost_usd"
        f" FROM traces WHERE {' AND '.join(clauses)} ORDER BY start_time DESC, trace_id LIMIT ? OFFSET ?",
        params + [int(limit), int(offset)],
    )


def trace_spans(store, trace_id: str) -> pd.DataFrame:
    """A trace's spans in start order, with offset from the root, depth, and attributes as dicts."""
    df = store.query_df(
        "SELECT span_id, parent_span_id, name, kind, start_time, duration_ms, status, status_message, attributes"
        " FROM spans WHERE trace_id = ? ORDER BY start_time, duration_ms DESC",
        [trace_id],
    )
    if df.empty:
        return df
    df["attributes"] = df["attributes"].map(lambda a: json.loads(a) if isinstance(a, str) else (a or {}))
    start = df["start_time"].min()
    df["offset_ms"] = (df["start_time"] - start).dt.total_seconds() * 1000.0
    df["parent_span_id"] = df["parent_span_id"].astype(object).where(df["parent_span_id"].notna(), None)
    parents = dict(zip(df["span_id"], df["parent_span_id"]))

    def depth(span_id: str) -> int:
        level, seen = 0, set()
        while parents.get(span_id) and span_id not in seen:
            seen.add(span_id)
            span_id = parents[span_id]
            level += 1
        return level

    df["depth"] = df["span_id"].map(depth)
    return df


def get_trace(store, trace_id: str, collections: Scope = None) -> dict[str, Any] | None:
    """One request: its trace row, its spans (DataFrame) and the chunks retrieved for it; None when it does
    not exist or lies outside the caller's collection scope (a trace of a collection nobody names is system's)."""
    rows = store.query_dicts("SELECT * FROM traces WHERE trace_id = ?", [trace_id])
    if collections is not None and (not rows or not _in_scope(rows[0].get("collection"), collections)):
        return None
    spans = trace_spans(store, trace_id)
    if not rows and spans.empty:
        return None
    trace = rows[0] if rows else {"trace_id": trace_id}
    if isinstance(trace.get("attributes"), str):
        trace["attributes"] = json.loads(trace["attributes"])
    documents = []
    for name in DOCUMENT_STAGES:
        docs = [a.get(DOCUMENTS) for n, a in zip(spans.get("name", []), spans.get("attributes", [])) if n == name]
        if docs and docs[0]:
            documents = docs[0]
            break
    return {"trace": trace, "spans": spans, "documents": documents}


def _in_scope(collection: str | None, collections: Scope) -> bool:
    if collections is None or collections == "":
        return True
    return collection == collections if isinstance(collections, str) else collection in collections


def recent_traces(store, limit: int = 20, collections: Scope = None) -> list[dict[str, Any]]:
    """The newest traces (within a collection scope), each with its spans: `traces list`."""
    condition, params = scope_condition(collections, "collection")
    rows = store.query_dicts(
        "SELECT trace_id, name, start_time, duration_ms, status, collection, question"
        f" FROM traces WHERE {condition or 'TRUE'} ORDER BY start_time DESC LIMIT ?",
        params + [int(limit)],
    )
    for row in rows:
        spans = trace_spans(store, row["trace_id"])
        row["spans"] = [
            {"name": s.name, "span_id": s.span_id, "parent_span_id": s.parent_span_id,
             "duration_ms": round(float(s.duration_ms), 3), "status": s.status, "attributes": s.attributes}
            for s in spans.itertuples()
        ]
    return rows
