"""`python -m backend traces list [--limit N] [--json]` and `traces prune`: recent requests and their spans."""
from __future__ import annotations

import json

from backend.commands.ingest import format_table, one_line
from backend.models import InputError
from backend.settings import get_settings


def register(subparsers) -> None:
    parser = subparsers.add_parser("traces", help="recent request traces with their spans; trace retention",
                                   description="Recent traces (one per request), each with its spans.")
    sub = parser.add_subparsers(dest="traces_command", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="recent traces, newest first, each with its spans")
    listing.add_argument("--limit", type=int, default=10, help="how many traces (default 10)")
    listing.add_argument("--json", action="store_true", help="print one JSON list")
    listing.set_defaults(handler=run_list)
    prune = sub.add_parser("prune", help="roll up and delete traces older than the retention period now")
    prune.add_argument("--days", type=int, default=None, help="retention in days (default GROUNDWORK_TRACE_RETENTION_DAYS)")
    prune.set_defaults(handler=run_prune)


def run_list(args) -> int:
    from backend.observability.queries import recent_traces

    if not 1 <= args.limit <= 1000:
        raise InputError(f"--limit: {args.limit} is out of range (1 to 1000)")
    from backend.platform import Platform

    with Platform(get_settings()) as platform:
        traces = recent_traces(platform.store, args.limit)
    if args.json:
        print(json.dumps(traces, default=str))
        return 0
    if not traces:
        print("no traces yet: ask a question (python -m backend ask ...) or replay traffic (python -m backend simulate ...)")
        return 0
    for trace in traces:
        print(f"{trace['trace_id']}  {str(trace['start_time'])[:19]}  {trace['duration_ms']:.1f} ms  {trace['status']}"
              f"  {trace['collection'] or '-'}  {one_line(trace['question'] or '', 70)}")
        rows = [[s["name"], f"{s['duration_ms']:.2f}", s["status"], one_line(json.dumps(s["attributes"], default=str), 90)]
                for s in trace["spans"]]
        print("\n".join("    " + line for line in format_table(["span", "ms", "status", "attributes"], rows, right={1}).splitlines()))
        print()
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
