"""OpenTelemetry span exporter into DuckDB: a `spans` row per span, a `traces` row per finished request."""
from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any, Sequence

import pyarrow as pa
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

from backend.observability.conventions import (
    ALIASES,
    ANSWER,
    CACHE_HIT,
    COLLECTION,
    COST_USD,
    DOCUMENT_SCORE,
    DOCUMENTS,
    ERROR,
    FALLBACK,
    FOUND,
    GROUNDED,
    MEAN_SCORE,
    MODEL,
    NO_ANSWER,
    PII_HITS,
    QUESTION,
    SCORE_STAGES,
    STATUS_ERROR,
    STATUS_OK,
    TENANT,
    TIMEOUT,
    TOKENS_IN,
    TOKENS_OUT,
    TOP_SCORE,
    to_short_attributes,
)
from backend.observability.retention import apply_retention

logger = logging.getLogger(__name__)

SPAN_COLUMNS = (
    "trace_id", "span_id", "parent_span_id", "name", "kind", "start_time", "duration_ms",
    "status", "status_message", "attributes",
)
# The trace columns trace_fields() derives from attributes: each is named after the attribute it reads.
TRACE_FIELDS = (
    COLLECTION, TENANT, QUESTION, ANSWER, MODEL, TOKENS_IN, TOKENS_OUT, COST_USD, CACHE_HIT, GROUNDED,
    NO_ANSWER, FALLBACK, TIMEOUT, TOP_SCORE, MEAN_SCORE, PII_HITS, ERROR,
)
TRACE_COLUMNS = ("trace_id", "root_span_id", "name", "start_time", "duration_ms", "status", *TRACE_FIELDS, "attributes")

# Request-level figures the hot path may set on a stage rather than on the root: a root missing one
# takes it from its children (sums for counts and money, the first value otherwise).
_SUMMED_FROM_CHILDREN = (TOKENS_IN, TOKENS_OUT, COST_USD, PII_HITS)
_FIRST_FROM_CHILDREN = (MODEL, CACHE_HIT)
RETENTION_EVERY_S = 3600.0


PENDING_TRACES = 10_000  # traces whose children arrived before their root; the oldest are forgotten first


def _utc(ns: int | None) -> datetime | None:
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).replace(tzinfo=None)


def _bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "none")
    return bool(value)


def _number(value: Any, kind=float):
    try:
        return None if value is None else kind(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _first(attrs: dict[str, Any], column: str) -> Any:
    for name in ALIASES.get(column, (column,)):
        if attrs.get(name) is not None:
            return attrs[name]
    return None


def _document_scores(attrs: dict[str, Any]) -> list[float]:
    scores = [_number(d.get(DOCUMENT_SCORE)) for d in attrs.get(DOCUMENTS) or [] if isinstance(d, dict)]
    return [s for s in scores if s is not None]


def trace_fields(attrs: dict[str, Any], status: str, status_message: str | None) -> dict[str, Any]:
    """The typed trace columns derived from a root span's short-name attributes (plus what children gave)."""
    scores = _document_scores(attrs)
    grounded = _bool(attrs.get(GROUNDED))
    cache_hit = _bool(_first(attrs, CACHE_HIT))
    no_answer = _bool(attrs.get(NO_ANSWER))
    if no_answer is None and attrs.get(FOUND) is not None:
        no_answer = not _bool(attrs.get(FOUND))
    elif no_answer is None and grounded is not None and not cache_hit:
        no_answer = not grounded
    error = _text(attrs.get(ERROR)) or (status_message if status == STATUS_ERROR else None)
    fallback = attrs.get(FALLBACK)
    mentions_timeout = any("timeout" in str(v).lower() or "timed out" in str(v).lower() for v in (error, fallback) if v)
    top_score, mean_score = _number(attrs.get(TOP_SCORE)), _number(attrs.get(MEAN_SCORE))
    return {
        COLLECTION: _text(attrs.get(COLLECTION)),
        TENANT: _text(attrs.get(TENANT)),
        QUESTION: _text(attrs.get(QUESTION)),
        ANSWER: _text(attrs.get(ANSWER)),
        MODEL: _text(attrs.get(MODEL)),
        TOKENS_IN: _number(attrs.get(TOKENS_IN), int),
        TOKENS_OUT: _number(attrs.get(TOKENS_OUT), int),
        COST_USD: _number(attrs.get(COST_USD)),
        CACHE_HIT: cache_hit,
        GROUNDED: grounded,
        NO_ANSWER: no_answer,
        FALLBACK: _bool(fallback),
        TIMEOUT: bool(_bool(attrs.get(TIMEOUT)) or mentions_timeout),
        TOP_SCORE: top_score if top_score is not None else (max(scores) if scores else None),
        MEAN_SCORE: mean_score if mean_score is not None else (sum(scores) / len(scores) if scores else None),
        PII_HITS: _number(_first(attrs, PII_HITS), int),
        ERROR: error,
    }


class DuckDBSpanExporter(SpanExporter):
    """Writes each batch in one transaction on the BatchSpanProcessor's thread, never the request's."""

    def __init__(self, store, retention_days: int | None = None):
        self.store = store
        self.retention_days = retention_days
        self._retention_checked = float("-inf")  # the first batch checks
        self._shutdown = False
        # Children end (and are exported) before their root, sometimes in an earlier batch: what they
        # carry for the trace row waits here until the root arrives. Only the worker thread touches it.
        self._pending: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def _collect_child(self, trace_id: str, name: str, attrs: dict[str, Any]) -> None:
        pending = self._pending.setdefault(trace_id, {})
        for key in _SUMMED_FROM_CHILDREN:
            value = _number(attrs.get(key))
            if value is not None:
                pending[key] = pending.get(key, 0) + value
        for column in _FIRST_FROM_CHILDREN:
            value = _first(attrs, column)
            if value is not None:
                pending.setdefault(column, value)
        if name in SCORE_STAGES:
            rank = SCORE_STAGES.index(name)
            scores = _document_scores(attrs)
            top = _number(attrs.get(TOP_SCORE))
            top = top if top is not None else (max(scores) if scores else None)
            if top is not None and rank < pending.get("_score_rank", len(SCORE_STAGES)):
                mean = _number(attrs.get(MEAN_SCORE))
                if mean is None and scores:
                    mean = sum(scores) / len(scores)
                pending.update({"_score_rank": rank, TOP_SCORE: top, MEAN_SCORE: mean})
        while len(self._pending) > PENDING_TRACES:
            self._pending.popitem(last=False)

    def rows(self, spans: Sequence[ReadableSpan]) -> tuple[list[tuple], list[tuple]]:
        span_rows, trace_rows = [], []
        for span in sorted(spans, key=lambda sp: sp.parent is None):  # children before roots
            ctx = span.context
            trace_id, span_id = format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
            parent = format(span.parent.span_id, "016x") if span.parent is not None else None
            attrs, kind = to_short_attributes(dict(span.attributes or {}))
            status = STATUS_ERROR if span.status.status_code is StatusCode.ERROR else STATUS_OK
            message = span.status.description
            start_ns = span.start_time
            assert start_ns is not None, "an exported span has ended, so it has a start time"
            start = _utc(start_ns)
            duration_ms = ((span.end_time or start_ns) - start_ns) / 1e6
            attributes_json = json.dumps(attrs, default=str)
            span_rows.append((trace_id, span_id, parent, span.name, kind, start, duration_ms, status, message, attributes_json))
            if parent is not None:
                self._collect_child(trace_id, span.name, attrs)
            else:
                from_children = self._pending.pop(trace_id, {})
                fields = trace_fields({**from_children, **attrs}, status, message)
                trace_rows.append(
                    (trace_id, span_id, span.name, start, duration_ms, status)
                    + tuple(fields[c] for c in TRACE_FIELDS)
                    + (attributes_json,)
                )
        return span_rows, trace_rows

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown or not spans:
            return SpanExportResult.FAILURE if self._shutdown else SpanExportResult.SUCCESS
        span_rows, trace_rows = self.rows(spans)
        # Arrow batches: one INSERT per table per batch, ~100x faster than executemany row by row.
        with self.store.transaction("telemetry") as cur:
            self._insert(cur, "spans", SPAN_COLUMNS, span_rows)
            if trace_rows:
                self._insert(cur, "traces", TRACE_COLUMNS, trace_rows)
        self._maybe_apply_retention()
        return SpanExportResult.SUCCESS

    def _maybe_apply_retention(self) -> None:
        """Trace retention, hourly, on this exporter thread (never the request's), in any process that traces; the
        server's retention job (backend/privacy/retention.py) also covers documents and conversations, on its timer."""
        if self.retention_days is None or time.monotonic() - self._retention_checked < RETENTION_EVERY_S:
            return
        self._retention_checked = time.monotonic()
        try:
            result = apply_retention(self.store, self.retention_days)
            if result["traces_deleted"]:
                logger.info("trace retention: %s", result)
        except Exception:  # retention failing must not cost the batch that was just written
            logger.exception("trace retention failed")

    @staticmethod
    def _insert(cur, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        batch = pa.table([list(column) for column in zip(*rows)], names=list(columns))
        view = f"_export_{table}"
        cur.register(view, batch)
        try:
            cur.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM {view}")
        finally:
            cur.unregister(view)

    def shutdown(self) -> None:
        self._shutdown = True

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True
