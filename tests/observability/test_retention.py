"""Retention: expired days become daily aggregates (traces and stages), then their rows are deleted."""
from __future__ import annotations

from datetime import timedelta

from backend.observability import queries
from backend.observability.conventions import STAGES, utc_now
from backend.observability.retention import apply_retention, retention_cutoff
from tests.observability.scripted import scripted_request


def _age(store, trace_ids, days):
    for table in ("traces", "spans"):
        store.execute(
            f"UPDATE {table} SET start_time = start_time - INTERVAL (?) DAY WHERE list_contains(?, trace_id)",
            [days, trace_ids],
        )


def test_old_traces_are_rolled_up_then_deleted(tracer, store):
    old = [scripted_request(tracer, f"old {i}", tokens_in=100, cache_hit=i == 0) for i in range(3)]
    old.append(scripted_request(tracer, "old failing", fail_stage="generate", grounded=False))
    recent = [scripted_request(tracer, "recent")]
    tracer.flush()
    _age(store, old, 40)
    store.execute("INSERT INTO trace_embeddings VALUES (?, 'm', [0.1, 0.2])", [old[0]])

    result = apply_retention(store, retention_days=30)
    assert result == {"traces_deleted": 4, "spans_deleted": 4 * (len(STAGES) + 1), "days_rolled_up": 1}
    assert store.query("SELECT trace_id FROM traces") == [(recent[0],)]
    assert store.scalar("SELECT count(*) FROM spans WHERE list_contains(?, trace_id)", [old]) == 0
    assert store.scalar("SELECT count(*) FROM trace_embeddings") == 0

    day = store.query_dicts("SELECT * FROM trace_daily")
    assert len(day) == 1 and day[0]["collection"] == "demo"
    assert (day[0]["requests"], day[0]["cache_hits"], day[0]["fallbacks"], day[0]["no_answers"]) == (4, 1, 1, 1)
    assert day[0]["tokens_in_sum"] == 3 * 100 + 120
    assert day[0]["p50_ms"] <= day[0]["p99_ms"]
    stages = dict(store.query("SELECT stage, count FROM span_daily"))
    assert stages == {stage: 4 for stage in STAGES}
    # the daily series still shows the rolled-up day next to the live one
    series = queries.requests_over_time(store, days=60, bucket="day")
    assert series["requests"].sum() == 5 and len(series) == 2
    # a second run finds nothing to do
    assert apply_retention(store, retention_days=30)["traces_deleted"] == 0


def test_a_late_trace_merges_into_its_rolled_up_day(tracer, store):
    first = scripted_request(tracer, "first", tokens_in=100)
    tracer.flush()
    _age(store, [first], 40)
    apply_retention(store, retention_days=30)
    late = scripted_request(tracer, "late", tokens_in=300)
    tracer.flush()
    _age(store, [late], 40)
    apply_retention(store, retention_days=30)
    row = store.query_dicts("SELECT requests, tokens_in_sum FROM trace_daily")
    assert row == [{"requests": 2, "tokens_in_sum": 400}]
    assert set(dict(store.query("SELECT stage, count FROM span_daily")).values()) == {2}


def test_cutoff_is_a_midnight_so_days_roll_up_whole():
    now = utc_now().replace(hour=15, minute=42, second=0, microsecond=0)
    cutoff = retention_cutoff(30, now)
    assert (cutoff.hour, cutoff.minute, cutoff.second) == (0, 0, 0)
    assert now - cutoff == timedelta(days=30, hours=15, minutes=42)


def test_the_exporter_applies_retention_off_the_request_thread(settings, store):
    from backend.observability.tracing import Tracer

    tracer = Tracer(store, settings)
    stale = scripted_request(tracer, "stale")
    tracer.flush()
    _age(store, [stale], settings.trace_retention_days + 2)
    fresh_tracer = Tracer(store, settings)  # a new exporter checks retention on its first batch
    scripted_request(fresh_tracer, "fresh")
    fresh_tracer.flush()
    assert store.query("SELECT question FROM traces") == [("fresh",)]
    assert store.scalar("SELECT sum(requests) FROM trace_daily") == 1
    tracer.shutdown()
    fresh_tracer.shutdown()
