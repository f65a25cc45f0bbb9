"""`python -m backend ingest PATH... [--collection NAME] [--json]`: ingest files and folders, print a per-file report."""
from __future__ import annotations

import json
import sys
from collections.abc import Collection
from pathlib import Path

from backend.settings import get_settings

_SNIP = 70


def format_table(headers: list[str], rows: list[list], right: Collection[int] = frozenset()) -> str:
    """A plain fixed-width text table (columns in `right` are right-aligned)."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths))).rstrip()

    return "\n".join([line(cells[0]), line(["-" * w for w in widths])] + [line(r) for r in cells[1:]])


def one_line(text: str, limit: int = _SNIP) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def register(subparsers) -> None:
    parser = subparsers.add_parser("ingest", help="ingest files and folders into a collection",
                                   description="Ingest files and folders (recursively) and print a per-file report.")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    parser.add_argument("--collection", default=None, help="collection to ingest into (created if missing; default from settings)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from backend.ingest.items import IngestEvent
    from backend.platform import Platform

    settings = get_settings()
    collection = args.collection or settings.default_collection
    # Progress goes to stdout as one line per file (so long runs show life); with --json stdout is the JSON only.
    out = sys.stderr if args.json else sys.stdout

    def progress(event: IngestEvent) -> None:
        if event.kind == "file" and event.outcome is not None:
            o = event.outcome
            total = f"/{event.total}" if event.total else ""
            detail = f"{o.chunks} chunks" if o.chunks else ""
            if o.message:
                detail = f"{detail}; {o.message}" if detail else o.message
            print(f"[{event.done}{total}] {o.outcome:<14} {o.path}  {one_line(detail, 160)}", file=out, flush=True)

    with Platform(settings) as platform:
        report = platform.corpus.ingest(list(args.paths), collection, progress=progress)
    missing = [str(p) for p in args.paths if not Path(p).expanduser().exists()]
    if args.json:
        print(json.dumps(report.to_dict(), default=str))
    else:
        rows = [[o.path, o.outcome, o.chunks, one_line(o.message, 100)] for o in report.files]
        print()
        print(format_table(["path", "outcome", "chunks", "message"], rows, right={2}))
        counts = ", ".join(f"{n} {name}" for name, n in report.counts.items() if n)
        print(f"\n{len(report.files)} files into {collection!r}: {counts or 'nothing to do'}; "
              f"{report.chunks_added} chunks added in {report.duration_s:.1f}s (run {report.run_id})")
    if missing:
        print(f"error: no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    if report.all_failed:
        print("error: every file failed; nothing was ingested", file=sys.stderr)
        return 1
    if not report.files:
        print("error: no files found under the given paths", file=sys.stderr)
        return 1
    return 0
