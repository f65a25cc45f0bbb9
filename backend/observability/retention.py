"""Trace retention: whole days older than the retention period become daily aggregates, then are deleted."""
from __future__ import annotations

from datetime import datetime, timedelta

from backend.observability.conventions import PERCENTILE_COLUMNS, PERCENTILES, STATUS_ERROR, utc_now


# Days are rolled up whole (the cutoff is a midnight, UTC), so each day's percentiles are computed once
# from all its requests. A straggler landing on an already rolled-up day merges in: counts and sums add
# up exactly, percentiles become the count-weighted mean of the two (an approximation, said here).
def _merge(table: str, count: str, sums: tuple[str, ...]) -> str:
    """The ON CONFLICT assignments merging a new aggregate row into an existing one (RHS = old values)."""
    percentiles = [
        f"{p} = ({table}.{p} * {table}.{count} + excluded.{p} * excluded.{count}) / ({table}.{count} + excluded.{count})"
        for p in PERCENTILE_COLUMNS
    ]
    return ", ".join(percentiles + [f"{c} = {table}.{c} + excluded.{c}" for c in sums])


TRACE_SUMS = ("requests", "errors", "timeouts", "fallbacks", "cache_hits", "no_answers", "duration_ms_sum",
              "tokens_in_sum", "tokens_out_sum", "cost_usd_sum")
SPAN_SUMS = ("count", "errors", "duration_ms_sum")


def retention_cutoff(retention_days: int, now: datetime | None = None) -> datetime:
    """Midnight (UTC) starting the oldest day that is kept."""
    today = (now or utc_now()).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=retention_days)


def pending_rollup(store, retention_days: int, now: datetime | None = None) -> dict[str, int]:
    """What apply_retention would roll up and delete now (a dry run): traces, spans and whole days."""
    cutoff = retention_cutoff(retention_days, now)
    traces, days = store.query("SELECT count(*), count(DISTINCT CAST(start_time AS DATE)) FROM traces"
                               " WHERE start_time < ?", [cutoff])[0]
    spans = store.scalar("SELECT count(*) FROM spans WHERE start_time < ?", [cutoff])
    return {"traces_deleted": int(traces), "spans_deleted": int(spans), "days_rolled_up": int(days)}


def apply_retention(store, retention_days: int, now: datetime | None = None) -> dict[str, int]:
    """Roll up and delete every trace (and span, and cached embedding) that started before the cutoff."""
    cutoff = retention_cutoff(retention_days, now)
    with store.transaction("telemetry") as cur:
        old_traces = cur.execute("SELECT count(*) FROM traces WHERE start_time < ?", [cutoff]).fetchone()[0]
        old_spans = cur.execute("SELECT count(*) FROM spans WHERE start_time < ?", [cutoff]).fetchone()[0]
        if not old_traces and not old_spans:
            return {"traces_deleted": 0, "spans_deleted": 0, "days_rolled_up": 0}
        days = cur.execute(
            "SELECT count(DISTINCT CAST(start_time AS DATE)) FROM traces WHERE start_time < ?", [cutoff]
        ).fetchone()[0]
        cur.execute(
            "INSERT INTO trace_daily SELECT CAST(start_time AS DATE) AS day, coalesce(collection, '') AS collection,"
            f" count(*), count(*) FILTER (WHERE status = '{STATUS_ERROR}'), count(*) FILTER (WHERE timeout),"
            " count(*) FILTER (WHERE fallback), count(*) FILTER (WHERE cache_hit), count(*) FILTER (WHERE no_answer),"
            f" sum(duration_ms), {PERCENTILES.format(col='duration_ms')},"
            " sum(coalesce(tokens_in, 0)), sum(coalesce(tokens_out, 0)), sum(coalesce(cost_usd, 0))"
            " FROM traces WHERE start_time < ? GROUP BY 1, 2"
            f" ON CONFLICT (day, collection) DO UPDATE SET {_merge('trace_daily', 'requests', TRACE_SUMS)}",
            [cutoff],
        )
        # spans whose root was lost (a dropped span, a crash) still count for their stage, under collection ''
        cur.execute(
            "INSERT INTO span_daily SELECT CAST(s.start_time AS DATE) AS day, coalesce(t.collection, '') AS collection,"
            f" s.name AS stage, count(*), count(*) FILTER (WHERE s.status = '{STATUS_ERROR}'), sum(s.duration_ms),"
            f" {PERCENTILES.format(col='s.duration_ms')}"
            " FROM spans s LEFT JOIN traces t ON s.trace_id = t.trace_id"
            " WHERE s.start_time < ? AND s.parent_span_id IS NOT NULL GROUP BY 1, 2, 3"
            f" ON CONFLICT (day, collection, stage) DO UPDATE SET {_merge('span_daily', 'count', SPAN_SUMS)}",
            [cutoff],
        )
        cur.execute(
            "DELETE FROM trace_embeddings WHERE trace_id IN (SELECT trace_id FROM traces WHERE start_time < ?)", [cutoff]
        )
        cur.execute("DELETE FROM spans WHERE start_time < ?", [cutoff])
        cur.execute("DELETE FROM traces WHERE start_time < ?", [cutoff])
    return {"traces_deleted": int(old_traces), "spans_deleted": int(old_spans), "days_rolled_up": int(days)}
