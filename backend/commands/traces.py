"""`python -m backend traces list [--limit N] [--json]` and `traces prune`: recent requests and their spans."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from backend.commands.ingest import format_table, one_line
from backend.models import InputError
from backend.settings import get_settings

if TYPE_CHECKING:
    from backend.client import ServerClient


def register(subparsers) -> None:
    parser = subparsers.add_parser("traces", help="recent request traces with their spans; trace retention",
                                   description="Recent traces (one per request), each with its spans.")
    sub = parser.add_subparsers(dest="traces_command", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="recent traces, newest first, each with its spans")
    listing.add_argument("--limit", type=int, default=10, help="how many traces (default 10)")
    listing.add_argument("--json", action="store_true", help="print one JSON list")
    listing.set_defaults(handler=run_list, remote=run_list_remote)
    prune = sub.add_parser("prune", help="roll up and delete traces older than the retention period now")
    prune.add_argument("--days", type=int, default=None, help="retention in days (default GROUNDWORK_TRACE_RETENTION_DAYS)")
    prune.set_defaults(handler=run_prune, local_only="pruning deletes from the DuckDB file and the API has no route "
                       "for it (the running server applies GROUNDWORK_TRACE_RETENTION_DAYS itself, hourly)")


def _checked_limit(args) -> None:
    if not 1 <= args.limit <= 1000:
        raise InputError(f"--limit: {args.limit} is out of range (1 to 1000)")


def print_traces(traces: list[dict], as_json: bool) -> None:
    """Traces in recent_traces' shape (local, or assembled from the API), newest first, each with its spans."""
    if as_json:
        print(json.dumps(traces, default=str))
        return
    if not traces:
        print("no traces yet: ask a question (python -m backend ask ...) or replay traffic (python -m backend simulate ...)")
        return
    for trace in traces:
        print(f"{trace['trace_id']}  {str(trace['start_time'])[:19]}  {trace['duration_ms']:.1f} ms  {trace['status']}"
              f"  {trace['collection'] or '-'}  {one_line(trace['question'] or '', 70)}")
        rows = [[s["name"], f"{s['duration_ms']:.2f}", s["status"], one_line(json.dumps(s["attributes"], default=str), 90)]
                for s in trace["spans"]]
        print("\n".join("    " + line for line in format_table(["span", "ms", "status", "attributes"], rows, right={1}).splitlines()))
        print()


def run_list(args) -> int:
    from backend.observability.queries import recent_traces

    _checked_limit(args)
    from backend.platform import Platform

    with Platform(get_settings()) as platform:
        traces = recent_traces(platform.store, args.limit)
    print_traces(traces, args.json)
    return 0


def run_list_remote(args, client: ServerClient) -> int:
    """The same listing from GET /api/v1/traces, each trace's spans from GET /api/v1/traces/{trace_id}."""
    from backend.client import parse_time, segment

    _checked_limit(args)
    traces = []
    for row in client.get("/api/v1/traces", {"limit": args.limit})["traces"]:
        trace = client.get(f"/api/v1/traces/{segment(row['trace_id'])}")
        spans = [{"name": s["name"], "span_id": s["span_id"], "parent_span_id": s["parent_span_id"],
                  "duration_ms": round(float(s["duration_ms"]), 3), "status": s["status"], "attributes": s["attributes"]}
                 for s in trace["spans"]]
        traces.append({"trace_id": trace["trace_id"], "name": trace["name"], "start_time": parse_time(trace["start_time"]),
                       "duration_ms": trace["duration_ms"], "status": trace["status"], "collection": trace["collection"],
                       "question": trace["question"], "spans": spans})
    print_traces(traces, args.json)
    return 0


def run_prune(args) -> int:
    from backend.observability.retention import apply_retention

    settings = get_settings()
    days = settings.trace_retention_days if args.days is None else args.days
    if days < 0:
        raise InputError(f"--days: {days} must be 0 or more")
    from backend.platform import Platform

    with Platform(settings) as platform:
        result = apply_retention(platform.store, days)
    print(f"rolled up {result['days_rolled_up']} day(s): deleted {result['traces_deleted']} traces and "
          f"{result['spans_deleted']} spans older than {days} days")
    return 0
