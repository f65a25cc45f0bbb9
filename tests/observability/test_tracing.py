"""Tracer: one span per stage with the right parent, errors, no-op mode, and sinks that never hurt requests."""
from __future__ import annotations

import http.server
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from backend.observability.conventions import STAGES, to_otel_attributes, to_short_attributes
from backend.observability.tracing import CountingBatchSpanProcessor, NoopSpan, Tracer
from tests.observability.scripted import scripted_request


def test_one_span_per_stage_with_the_root_as_parent(settings, store):
    tracer = Tracer(store, settings)
    trace_ids = [scripted_request(tracer, f"question {i}") for i in range(3)]
    tracer.flush()

    for trace_id in trace_ids:
        spans = store.query_dicts("SELECT * FROM spans WHERE trace_id = ?", [trace_id])
        roots = [s for s in spans if s["parent_span_id"] is None]
        assert len(roots) == 1 and roots[0]["name"] == "rag.ask"
        children = [s for s in spans if s["parent_span_id"] is not None]
        assert sorted(s["name"] for s in children) == sorted(STAGES)
        assert {s["parent_span_id"] for s in children} == {roots[0]["span_id"]}
        assert all(s["duration_ms"] >= 0 for s in spans)
    rows = store.query_dicts("SELECT * FROM traces ORDER BY start_time")
    assert [r["trace_id"] for r in rows] == trace_ids
    # request figures set on a stage reach the trace row; the root's own attributes too
    assert rows[0]["tokens_in"] == 120 and rows[0]["tokens_out"] == 30 and rows[0]["model"] == "extractive"
    assert rows[0]["question"] == "question 0" and rows[0]["collection"] == "demo" and rows[0]["status"] == "ok"
    assert rows[0]["no_answer"] is False and rows[0]["top_score"] == pytest.approx(0.8)
    assert tracer.stats()["duckdb_exported"] == 3 * (len(STAGES) + 1)
    tracer.shutdown()


def test_nested_spans_and_thread_pool_keep_their_parents(settings, store):
    tracer = Tracer(store, settings)
    with tracer.request("rag.ask") as root:
        with tracer.span("retrieve") as retrieve:
            with ThreadPoolExecutor(2) as pool:  # bm25 and dense side by side, still children of retrieve
                futures = [pool.submit(tracer.bind(lambda name=n: _leaf(tracer, name))) for n in ("bm25", "dense")]
                leaf_parents = [f.result() for f in futures]
        assert tracer.current() is root
    assert tracer.current() is None
    tracer.flush()
    assert leaf_parents == [retrieve.span_id, retrieve.span_id]
    parents = dict(store.query("SELECT name, parent_span_id FROM spans WHERE trace_id = ?", [root.trace_id]))
    assert parents == {"rag.ask": None, "retrieve": root.span_id, "bm25": retrieve.span_id, "dense": retrieve.span_id}
    tracer.shutdown()


def _leaf(tracer: Tracer, name: str) -> str:
    with tracer.span(name) as span:
        return span.parent_span_id


def test_exception_marks_span_and_trace_error_and_reraises(settings, store):
    tracer = Tracer(store, settings)
    with pytest.raises(ValueError, match="no index"):
        with tracer.request("rag.ask", question="q") as root:
            with tracer.span("dense"):
                raise ValueError("no index")
    tracer.flush()
    statuses = dict(store.query("SELECT name, status FROM spans WHERE trace_id = ?", [root.trace_id]))
    assert statuses == {"rag.ask": "error", "dense": "error"}
    error = store.scalar("SELECT error FROM traces WHERE trace_id = ?", [root.trace_id])
    assert error == "ValueError: no index"
    tracer.shutdown()


def test_a_handled_error_attribute_marks_the_span(settings, store):
    tracer = Tracer(store, settings)
    trace_id = scripted_request(tracer, "q", fail_stage="rerank")
    tracer.flush()
    row = store.query_dicts("SELECT status, attributes->>'error' AS error FROM spans WHERE trace_id = ? AND name = 'rerank'", [trace_id])[0]
    assert row == {"status": "error", "error": "RuntimeError: rerank broke"}
    assert store.scalar("SELECT fallback FROM traces WHERE trace_id = ?", [trace_id]) is True
    tracer.shutdown()


def test_disabled_tracing_is_a_noop_with_the_same_api(settings, store):
    settings.tracing_enabled = False
    tracer = Tracer(store, settings)
    trace_id = scripted_request(tracer, "q")
    with tracer.request("rag.ask") as root:
        assert isinstance(root, NoopSpan) and root.set(tokens_in=1) is root
    tracer.flush()
    assert trace_id == ""
    assert store.scalar("SELECT count(*) FROM spans") == 0
    assert tracer.stats() == {}


def test_span_outside_a_request_or_of_another_tracer_records_nothing(settings, store):
    first, second = Tracer(store, settings), Tracer(store, settings)
    with first.span("bm25") as lonely:
        assert isinstance(lonely, NoopSpan)
    with first.request("rag.ask") as root:
        with second.span("dense") as foreign:
            assert isinstance(foreign, NoopSpan)
    first.flush()
    second.flush()
    assert store.query("SELECT name FROM spans") == [("rag.ask",)]
    assert root.trace_id
    first.shutdown()
    second.shutdown()


def test_openinference_names_round_trip_to_short_names():
    short = {
        "question": "who?", "answer": "them", "tokens_in": 10, "tokens_out": 3, "model": "m", "k": 5,
        "cache_hit": False, "documents": [{"id": 7, "score": 0.5, "content": "text"}], "skipped": None,
    }
    otel = to_otel_attributes(short)
    assert otel["input.value"] == "who?" and otel["output.value"] == "them"
    assert otel["llm.token_count.prompt"] == 10 and otel["llm.token_count.completion"] == 3
    assert otel["llm.model_name"] == "m" and otel["groundwork.k"] == 5
    assert otel["retrieval.documents.0.document.id"] == 7 and otel["retrieval.documents.0.document.score"] == 0.5
    back, kind = to_short_attributes({**otel, "openinference.span.kind": "LLM"})
    assert kind == "LLM"
    assert back == {k: v for k, v in short.items() if v is not None}


class _BlockingExporter(SpanExporter):
    def __init__(self):
        self.release = threading.Event()
        self.exported = 0

    def export(self, spans):
        self.release.wait(30)
        self.exported += len(spans)
        return SpanExportResult.SUCCESS


def test_a_full_queue_drops_and_counts_instead_of_blocking(settings, caplog):
    from opentelemetry.sdk.trace import TracerProvider

    exporter = _BlockingExporter()
    processor = CountingBatchSpanProcessor(exporter, max_queue_size=4, max_export_batch_size=1, schedule_delay_millis=10)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    otel = provider.get_tracer("test")
    for i in range(40):  # the exporter is stuck: these calls must still return
        otel.start_span(f"s{i}").end()
    assert processor.dropped >= 40 - 4 - 1  # queue capacity plus at most one batch in flight
    # the SDK warns on every dropped span; ours lets that warning through once a minute at most
    assert len([r for r in caplog.records if "Queue full" in r.getMessage()]) <= 1
    exporter.release.set()
    processor.force_flush()
    assert exporter.exported + processor.dropped == 40
    provider.shutdown()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed when the block ends: connections are refused


class _Hanging:
    """A loopback server that accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def _wait_for(predicate, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.parametrize("endpoint_kind", ["closed", "hanging"])
def test_failing_otlp_endpoint_does_not_fail_or_stall_requests(settings, store, endpoint_kind):
    hanging = _Hanging() if endpoint_kind == "hanging" else None
    port = hanging.port if hanging else _closed_port()
    settings.otlp_endpoint = f"http://127.0.0.1:{port}"
    settings.otlp_timeout_s = 0.5
    tracer = Tracer(store, settings)
    try:
        trace_ids = [scripted_request(tracer, f"q{i}") for i in range(20)]
        assert all(trace_ids)  # every request completed and got its trace id
        tracer.flush()  # only waits for DuckDB, never for the collector
        assert store.scalar("SELECT count(*) FROM traces") == 20
        assert store.scalar("SELECT count(*) FROM spans") == 20 * (len(STAGES) + 1)
        # the collector's failures are counted, not raised
        assert _wait_for(lambda: tracer.stats()["otlp_failed"] > 0)
        assert tracer.stats()["otlp_exported"] == 0 and tracer.stats()["duckdb_failed"] == 0
    finally:
        tracer.shutdown(timeout_s=1.0)
        if hanging:
            hanging.close()


def test_spans_reach_a_working_otlp_endpoint_with_openinference_names(settings, store):
    bodies: list[bytes] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            bodies.append((self.path.encode(), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.otlp_endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    tracer = Tracer(store, settings)
    try:
        scripted_request(tracer, "what is the refund policy?")
        tracer.shutdown(timeout_s=5.0)  # shutdown drains the OTLP queue
        assert bodies and bodies[0][0] == b"/v1/traces"
        payload = b"".join(body for _, body in bodies)
        for name in (b"input.value", b"llm.token_count.prompt", b"openinference.span.kind", b"what is the refund policy?"):
            assert name in payload
    finally:
        server.shutdown()
