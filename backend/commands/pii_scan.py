"""`python -m backend pii-scan [--collection NAME]`: record personal-data findings of documents ingested before they were."""
from __future__ import annotations

import sys

from backend.commands.ingest import format_table
from backend.settings import get_settings


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pii-scan", help="record personal-data findings of documents that have none (ingested before they were)",
        description="Analyse each active document whose current version has no personal-data findings recorded "
                    "(it was ingested before ingest recorded them) and record them: entity types, chunks, pages and "
                    "salted hashes of the values. Prints counts per entity type, never a value.")
    parser.add_argument("--collection", default=None, help="only this collection (default: every collection)")
    parser.set_defaults(handler=run, local_only="the scan writes findings into the DuckDB file and the API has no "
                                                "route for it")


def run(args) -> int:
    from backend.corpus.personal_data import backfill_findings
    from backend.platform import Platform

    def progress(done: int, total: int) -> None:
        if done == total or done % 25 == 0:
            print(f"analysed {done:,} of {total:,} documents", file=sys.stderr)

    with Platform(get_settings()) as platform:
        if args.collection:
            platform.corpus.collection_row(args.collection)  # an unknown name: the one 'does not exist' message
        report = backfill_findings(platform, args.collection, progress=progress)
    where = f"collection {args.collection}" if args.collection else "every collection"
    if not report.documents:
        print(f"nothing to scan in {where}: every document's findings are recorded")
        return 0
    print(f"scanned {report.documents:,} document(s) in {where}: {report.with_findings:,} hold personal data, "
          f"{sum(report.counts.values()):,} finding(s)")
    if report.counts:
        print(format_table(["entity type", "findings"], [[t, n] for t, n in report.counts.most_common()], right={1}))
    if len(report.by_collection) > 1:
        print(format_table(["collection", "documents scanned"], [[c, n] for c, n in sorted(report.by_collection.items())],
                           right={1}))
    return 0
