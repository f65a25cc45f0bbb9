"""Request tracing on the OpenTelemetry SDK: one trace per request, one span per stage, exported off-thread."""
from __future__ import annotations

import collections
import contextvars
import logging
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Status, StatusCode

from backend.observability.conventions import CHAIN, ERROR, OWN_PREFIX, SPAN_KIND_KEY, SPAN_KINDS, to_otel_attributes
from backend.observability.exporter import DuckDBSpanExporter

logger = logging.getLogger(__name__)


class Span:
    """A live span: `trace_id` / `span_id` are hex strings; `set(**attributes)` adds attributes."""

    __slots__ = ("_tracer", "_otel", "name", "trace_id", "span_id", "parent_span_id")

    def __init__(self, tracer: "Tracer", otel_span, name: str, parent_span_id: str | None):
        self._tracer = tracer
        self._otel = otel_span
        self.name = name
        ctx = otel_span.get_span_context()
        self.trace_id = format(ctx.trace_id, "032x")
        self.span_id = format(ctx.span_id, "016x")
        self.parent_span_id = parent_span_id

    @property
    def duration_ms(self) -> float | None:
        """Once the span has ended, its duration exactly as the exporter stores it (None before)."""
        end, start = getattr(self._otel, "end_time", None), getattr(self._otel, "start_time", None)
        return None if end is None or start is None else (end - start) / 1e6

    def set(self, **attributes: Any) -> "Span":
        self._otel.set_attributes(to_otel_attributes(attributes))
        error = attributes.get(ERROR)
        if error:  # an error the stage handled (e.g. a fallback) still marks the span
            self._otel.set_status(Status(StatusCode.ERROR, str(error)[:500]))
        return self

    def _fail(self, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}"[:500]
        self._otel.record_exception(exc)
        self._otel.set_attribute(OWN_PREFIX + ERROR, message)
        self._otel.set_status(Status(StatusCode.ERROR, message))


class NoopSpan:
    """What spans are when tracing is off (or outside a request): same API, records nothing."""

    __slots__ = ("name", "start_ns", "end_ns")
    trace_id = ""
    span_id = ""
    parent_span_id = None

    def __init__(self, name: str = ""):
        self.name = name
        self.start_ns: int | None = None  # timed only as a request's root, so a request has a duration untraced too
        self.end_ns: int | None = None

    @property
    def duration_ms(self) -> float | None:
        return None if self.start_ns is None or self.end_ns is None else (self.end_ns - self.start_ns) / 1e6

    def set(self, **attributes: Any) -> "NoopSpan":
        return self


# The innermost live span of this thread/task; each Span knows its Tracer, so two platforms never mix.
_current_span: contextvars.ContextVar[Span | None] = contextvars.ContextVar("groundwork_span", default=None)


class _CountingDeque(collections.deque):
    """The SDK processor's queue: counts the oldest span it evicts when full (the SDK only logs that).

    The check and the append share a lock with the worker's pops, so a pop in between is never
    mistaken for an eviction; the lock covers one deque operation, never an export.
    """

    def __init__(self, maxlen: int):
        super().__init__([], maxlen)
        self.lock = threading.Lock()
        self.dropped = 0

    def appendleft(self, item) -> None:
        with self.lock:
            if len(self) == self.maxlen:
                self.dropped += 1
            super().appendleft(item)

    def pop(self):
        with self.lock:
            return super().pop()


class CountingBatchSpanProcessor(BatchSpanProcessor):
    """BatchSpanProcessor whose full queue drops the oldest span and counts it in `dropped`."""

    def __init__(self, exporter: SpanExporter, max_queue_size: int = 2048, **options):
        super().__init__(exporter, max_queue_size=max_queue_size, **options)
        inner = getattr(self, "_batch_processor", None)
        self._queue = _CountingDeque(max_queue_size)
        if inner is not None and isinstance(getattr(inner, "_queue", None), collections.deque):
            inner._queue = self._queue  # still empty: the processor was created a moment ago
        else:  # an SDK without that internal: spans still flow, drops go uncounted
            logger.warning("BatchSpanProcessor internals changed: dropped spans are not counted")

    @property
    def dropped(self) -> int:
        return self._queue.dropped


class _OncePerMinute(logging.Filter):
    """Lets each message template through once a minute: a dead collector or a full queue would otherwise
    log on every batch or every span, and the counters in `Tracer.stats()` already tell how many."""

    def __init__(self, seconds: float = 60.0):
        super().__init__()
        self.seconds = seconds
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(str(record.msg), float("-inf")) < self.seconds:
                return False
            self._last[str(record.msg)] = now
        return True


_QUIET = _OncePerMinute()
for _name in ("opentelemetry.sdk._shared_internal", "opentelemetry.exporter.otlp.proto.http.trace_exporter"):
    if not any(isinstance(f, _OncePerMinute) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(_QUIET)


class CountingExporter(SpanExporter):
    """Wraps an exporter: counts spans exported and failed, and never lets an exception escape."""

    def __init__(self, inner: SpanExporter):
        self.inner = inner
        self.exported = 0
        self.failed = 0

    def export(self, spans) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception:  # a sink must never take the worker thread down
            logger.exception("span export to %s failed", type(self.inner).__name__)
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self.exported += len(spans)
        else:
            self.failed += len(spans)
        return result

    def shutdown(self, timeout_millis: float = 30_000) -> None:
        try:
            self.inner.shutdown()
        except Exception:
            logger.exception("span exporter shutdown failed")

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


class Tracer:
    """One trace per request, one span per stage, on a TracerProvider of its own (never the global one).

    Spans go through a BatchSpanProcessor to the DuckDB exporter, and through a second one to OTLP/HTTP
    when `settings.otlp_endpoint` is set; each sink has its own queue and thread, so a dead collector
    never delays the DuckDB sink, and no sink ever blocks or fails a request (a full queue drops spans
    and counts them in `stats()`).

    What the trace row (and so the dashboards and drift) reads from the root span, or else from its stages:
    collection, tenant, question and answer (both redacted), model, tokens_in, tokens_out, cost_usd,
    cache_hit (or cached), found / no_answer, grounded, fallback, timeout, pii_hits (or pii_found), error;
    relevance comes from `top_score` / `mean_score` (or `documents` scores), the dense stage's first.
    """

    def __init__(self, store, settings):
        self.settings = settings
        self.enabled = bool(settings.tracing_enabled)
        self._duckdb: CountingExporter | None = None
        self._otlp: CountingExporter | None = None
        self._processors: dict[str, CountingBatchSpanProcessor] = {}
        self._provider: TracerProvider | None = None
        self._otel = None
        if not self.enabled:
            return
        provider = self._provider = TracerProvider(resource=Resource.create({"service.name": "groundwork"}))
        queue_size = int(settings.trace_queue_size)
        batch = min(256, queue_size)
        if store is not None and not getattr(store, "read_only", False):
            self._duckdb = CountingExporter(DuckDBSpanExporter(store, settings.trace_retention_days))
            self._add(provider, "duckdb", self._duckdb, queue_size, batch, delay_ms=500)
        if settings.otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            endpoint = settings.otlp_endpoint.rstrip("/")
            if not endpoint.endswith("/v1/traces"):
                endpoint += "/v1/traces"
            self._otlp = CountingExporter(OTLPSpanExporter(endpoint=endpoint, timeout=float(settings.otlp_timeout_s)))
            self._add(provider, "otlp", self._otlp, queue_size, batch, delay_ms=1000)
        self._otel = provider.get_tracer("groundwork")

    def _add(self, provider: TracerProvider, name: str, exporter: SpanExporter, queue_size: int, batch: int,
             delay_ms: int) -> None:
        processor = CountingBatchSpanProcessor(
            exporter, max_queue_size=queue_size, max_export_batch_size=batch, schedule_delay_millis=delay_ms
        )
        self._processors[name] = processor
        provider.add_span_processor(processor)

    # --- spans -----------------------------------------------------------------------------
    @contextmanager
    def request(self, name: str, **attributes: Any) -> Iterator[Span | NoopSpan]:
        """Start a new trace whose root span is `name`; stages inside become its children. The span's
        `duration_ms` is set once the block exits (traced or not): a request's one latency figure."""
        if self._otel is None:
            untraced = NoopSpan(name)
            untraced.start_ns = time.time_ns()
            try:
                yield untraced
            finally:
                untraced.end_ns = time.time_ns()
            return
        otel_span = self._otel.start_span(name, context=otel_context.Context())  # empty context: a new trace
        otel_span.set_attribute(SPAN_KIND_KEY, CHAIN)
        with self._activate(Span(self, otel_span, name, None), attributes) as span:
            yield span

    @contextmanager
    def span(self, name: str, **attributes: Any) -> Iterator[Span | NoopSpan]:
        """A child of the current span; outside a request of this tracer it records nothing."""
        parent = _current_span.get()
        if self._otel is None or parent is None or parent._tracer is not self:
            yield NoopSpan(name)
            return
        parent_ctx = otel_trace.set_span_in_context(parent._otel, otel_context.Context())
        otel_span = self._otel.start_span(name, context=parent_ctx)
        otel_span.set_attribute(SPAN_KIND_KEY, SPAN_KINDS.get(name, CHAIN))
        with self._activate(Span(self, otel_span, name, parent.span_id), attributes) as span:
            yield span

    @contextmanager
    def _activate(self, span: Span, attributes: dict[str, Any]) -> Iterator[Span]:
        if attributes:
            span.set(**attributes)
        token = _current_span.set(span)
        try:
            yield span
        except Exception as exc:
            span._fail(exc)
            raise
        finally:
            _current_span.reset(token)
            span._otel.end()

    def current(self) -> Span | None:
        """The innermost live span of this tracer in this thread/task, if any."""
        span = _current_span.get()
        return span if span is not None and span._tracer is self else None

    @staticmethod
    def bind(fn: Callable) -> Callable:
        """`fn` bound to the caller's context, so stages run in a thread pool stay children of this span."""
        ctx = contextvars.copy_context()
        return lambda *args, **kwargs: ctx.run(fn, *args, **kwargs)

    # --- lifecycle -------------------------------------------------------------------------
    def flush(self) -> None:
        """Write every finished span to DuckDB now (tests, shutdown). The OTLP sink is not waited for."""
        processor = self._processors.get("duckdb")
        if processor is not None:
            processor.force_flush()

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Flush DuckDB, give OTLP at most `timeout_s`, stop the worker threads."""
        if self._provider is None:
            return
        self.flush()
        for processor in self._processors.values():
            try:  # the inner BatchProcessor takes a timeout; BatchSpanProcessor.shutdown() does not
                inner = getattr(processor, "_batch_processor", None)
                if inner is not None:
                    inner.shutdown(timeout_millis=int(timeout_s * 1000))
                else:
                    processor.shutdown()
            except Exception:
                logger.exception("span processor shutdown failed")
        self._otel = None
        self._provider = None

    def stats(self) -> dict[str, int]:
        """Spans exported, failed and dropped (queue full) per sink."""
        out: dict[str, int] = {}
        for name, exporter in (("duckdb", self._duckdb), ("otlp", self._otlp)):
            if exporter is None:
                continue
            out[f"{name}_exported"] = exporter.exported
            out[f"{name}_failed"] = exporter.failed
            out[f"{name}_dropped"] = self._processors[name].dropped
        return out
