"""`python -m backend retention [--dry-run] [--collection NAME] [--json]`: what retention deletes, listed or done now."""
from __future__ import annotations

import json

from backend.commands.ingest import format_table, one_line
from backend.settings import get_settings


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "retention", help="apply retention now: expired documents, conversations and trace days (or list them)",
        description="Apply every retention policy now (each collection's retention days, "
                    "GROUNDWORK_CONVERSATION_RETENTION_DAYS, GROUNDWORK_TRACE_RETENTION_DAYS) and print what went; "
                    "with --dry-run, print what would go and delete nothing. Exit 1 when a part failed.")
    parser.add_argument("--dry-run", action="store_true", help="list what would be deleted; change nothing")
    parser.add_argument("--collection", default=None, metavar="NAME",
                        help="only this collection's documents and conversations (traces are left alone)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.set_defaults(handler=run, local_only="retention deletes from the DuckDB file and the API has no route for "
                        "it (the running server applies retention itself, hourly; its Admin page has a preview)")


def _when(value) -> str:
    return "-" if value is None else str(value)[:19]


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def format_report(report) -> str:
    """The report as the terminal shows it: per collection the documents (title, age), conversations per tenant
    (count, oldest), the trace days to roll up; 'would go' for a dry run, 'went' otherwise."""
    verb = "would go" if report.dry_run else "went"
    lines = [f"retention {'dry run: nothing is deleted' if report.dry_run else 'applied'} "
             f"(now {_when(report.now)} UTC)"]
    for c in report.collections:
        if c.retention_days is None:
            lines.append(f"collection {c.name} ({c.tenant}): kept for ever")
            continue
        count = len(c.documents)
        lines.append(f"collection {c.name} ({c.tenant}): keeps {_plural(c.retention_days, 'day')} (last ingest before "
                     f"{_when(c.cutoff)}); {_plural(count, 'document')} {verb}"
                     + (f", {c.chunks} chunks, {c.cache_entries} cached answers" if not report.dry_run else ""))
        if c.documents:
            rows = [[d["id"], one_line(d["title"], 60), d["age_days"], _when(d["last_ingested_at"])] for d in c.documents]
            lines += ["    " + line for line in
                      format_table(["id", "title", "age (days)", "last ingested"], rows, right={0, 2}).splitlines()]
        if c.error:
            lines.append(f"    failed: {c.error}")
    conv = report.conversations
    if conv is not None:
        if not conv.retention_days:
            lines.append("conversations: kept for ever (GROUNDWORK_CONVERSATION_RETENTION_DAYS=0)")
        else:
            total = sum(t["conversations"] for t in conv.tenants)
            lines.append(f"conversations: keep {_plural(conv.retention_days, 'day')} after their last message (before "
                         f"{_when(conv.cutoff)}); {total} {verb}, with {conv.cache_entries} cached answers"
                         + (f", {conv.messages} messages and {conv.feedback} ratings" if not report.dry_run else ""))
            if conv.tenants:
                rows = [[t["tenant"], t["conversations"], _when(t["oldest"])] for t in conv.tenants]
                lines += ["    " + line for line in
                          format_table(["tenant", "conversations", "oldest"], rows, right={1}).splitlines()]
        if conv.error:
            lines.append(f"    failed: {conv.error}")
    traces = report.traces
    if traces is not None:
        days = _plural(traces.days, "day")
        lines.append(f"traces: keep {_plural(traces.retention_days, 'day')} (before {_when(traces.cutoff)}); "
                     + (f"{days} to roll up: {traces.traces} traces and {traces.spans} spans would be deleted"
                        if report.dry_run else f"{days} rolled up: {traces.traces} traces and {traces.spans} spans deleted"))
        if traces.error:
            lines.append(f"    failed: {traces.error}")
    return "\n".join(lines)


def run(args) -> int:
    from backend.platform import Platform
    from backend.privacy.retention import apply_retention_policies

    with Platform(get_settings()) as platform:
        report = apply_retention_policies(platform, dry_run=args.dry_run, collection=args.collection, trigger="cli")
    print(json.dumps(report.to_dict(), default=str) if args.json else format_report(report))
    return 1 if report.failures else 0
