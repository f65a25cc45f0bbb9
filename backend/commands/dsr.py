"""`python -m backend dsr find|export|erase --email X --phone Y --name "..." --customer-id Z`: data-subject requests."""
from __future__ import annotations

import datetime as dt
import getpass
import json
from pathlib import Path

from backend.commands.ingest import format_table, one_line
from backend.models import InputError
from backend.settings import get_settings

FOUND, NOTHING = 0, 1  # find: like grep, 0 when something was found; erase: 0 when nothing erasable is left
_LOCAL_ONLY = ("a data-subject request reads and rewrites every store and the data dir's files, and the API has no "
               "route for it (use the Data-subject requests page of the running app)")


def _identifiers(parser) -> None:
    parser.add_argument("--email", action="append", default=[], help="an e-mail address of the person (repeatable)")
    parser.add_argument("--phone", action="append", default=[], help="a phone number, any formatting (repeatable)")
    parser.add_argument("--name", action="append", default=[], help='a full name, "First Last" (repeatable)')
    parser.add_argument("--customer-id", action="append", default=[], dest="customer_id",
                        help="a customer id as stored (repeatable)")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "dsr", help="data-subject requests: find, export or erase everything held about one person",
        description="Find, export (JSON or PDF) or erase everything the platform holds about one person, in every "
                    "store. Every request is recorded in the audit log, without the identifiers.")
    sub = parser.add_subparsers(dest="dsr_command", required=True, metavar="ACTION")
    find = sub.add_parser("find", help="list every occurrence (identifiers masked); exit 0 if any, 1 if none")
    _identifiers(find)
    find.add_argument("--json", action="store_true", help="print the listing as one JSON object")
    find.set_defaults(handler=run_find, local_only=_LOCAL_ONLY)
    export = sub.add_parser("export", help="write the person's report (unmasked): JSON or PDF")
    _identifiers(export)
    export.add_argument("--format", choices=("json", "pdf"), default="json", help="report format (default json)")
    export.add_argument("--out", type=Path, default=None, help="file to write (default dsr-report-DATE.FORMAT here)")
    export.set_defaults(handler=run_export, local_only=_LOCAL_ONLY)
    erase = sub.add_parser("erase", help="redact or delete every occurrence, re-index, re-scan; exit 0 when none "
                                         "is left, 1 when some is")
    _identifiers(erase)
    erase.add_argument("--yes", action="store_true", help="confirm: erasure cannot be undone")
    erase.add_argument("--json", action="store_true", help="print the outcome as one JSON object")
    erase.set_defaults(handler=run_erase, local_only=_LOCAL_ONLY)


def _request(args):
    from backend.privacy.subject import subject_request

    return subject_request(args.email, args.phone, args.name, args.customer_id)


def _context(settings):
    from backend.context import RequestContext

    # The local CLI holds the DuckDB file itself, as an admin would; the audit names the account that ran it.
    return RequestContext(settings=settings, user=f"cli:{getpass.getuser()}", tenant=settings.default_tenant,
                          role="admin")


def _print_findings(request_id: str, findings, title: str = "found") -> None:
    counts = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in findings.request.identifier_counts().items() if n)
    print(f"request {request_id}: {title} {len(findings.occurrences)} occurrence(s) of {counts}")
    rows = [[o.store, o.table, o.row, o.column, o.kind, o.action, one_line(o.masked, 80)] for o in findings.occurrences]
    if rows:
        print(format_table(["store", "table", "row", "column", "kind", "erasure", "context (masked)"], rows))
    print(f"by store: {json.dumps(findings.by_store())}")
    print(f"tables with a specific finder: {', '.join(findings.covered)}")
    print(f"tables covered by the generic scan only: {', '.join(findings.generic_only) or 'none'}")
    print("files scanned: " + ", ".join(f"{k} {v}" for k, v in findings.files_scanned.items()))
    for store, why in findings.notes.items():
        print(f"{store}: {why}")


def run_find(args) -> int:
    from backend.platform import Platform
    from backend.privacy.subject_requests import find_subject_data

    request = _request(args)
    settings = get_settings()
    with Platform(settings) as platform:
        request_id, findings = find_subject_data(platform, _context(settings), request, via="cli")
    if args.json:
        print(json.dumps({"request_id": request_id, "occurrences": [o.listing() for o in findings.occurrences],
                          "by_store": findings.by_store(), "covered": findings.covered,
                          "generic_only": findings.generic_only, "notes": findings.notes}, default=str))
    else:
        _print_findings(request_id, findings)
    return FOUND if findings.occurrences else NOTHING


def run_export(args) -> int:
    from backend.platform import Platform
    from backend.privacy.subject_requests import export_subject_data

    request = _request(args)
    out = args.out or Path(f"dsr-report-{dt.date.today().isoformat()}.{args.format}")
    if out.is_dir():
        raise InputError(f"--out {out}: is a directory; give a file name", field="out")
    settings = get_settings()
    with Platform(settings) as platform:
        content = export_subject_data(platform, _context(settings), request, args.format, via="cli")
    out.write_bytes(content)
    print(f"wrote {out} ({len(content):,} bytes, {args.format}): the person's data, unmasked; send it securely")
    return 0


def run_erase(args) -> int:
    from backend.platform import Platform
    from backend.privacy.subject_requests import erase_subject_data

    request = _request(args)
    if not args.yes:
        raise InputError("erase rewrites and deletes stored data for good: run `dsr find` first, then add --yes",
                         field="yes")
    settings = get_settings()
    with Platform(settings) as platform:
        outcome = erase_subject_data(platform, _context(settings), request, via="cli")
    report = outcome.report
    if args.json:
        print(json.dumps({"request_id": outcome.request_id, "touched": report.touched, "files": report.files,
                          "chunks_replaced": report.chunks_replaced,
                          "collections_reindexed": report.collections_reindexed, "remaining": outcome.remaining,
                          "retained": [o.listing() for o in outcome.after.retained]}, default=str))
    else:
        print(f"request {outcome.request_id}: erased {sum(sum(t.values()) for t in report.touched.values())} row(s)")
        rows = [[store, table, n] for store, counts in report.touched.items() for table, n in counts.items()]
        if rows:
            print(format_table(["store", "table", "rows"], rows, right={2}))
        for what, n in report.files.items():
            print(f"{what}: {n}")
        if report.collections_reindexed:
            print(f"re-indexed: {', '.join(report.collections_reindexed)} ({report.chunks_replaced} chunk(s) replaced)")
        print(f"re-scan: {outcome.remaining} erasable occurrence(s) left, {len(outcome.after.retained)} retained")
        for store, row, why in dict.fromkeys((o.store, o.row, o.why) for o in outcome.after.retained):
            print(f"  kept {store} {row}: {why}")
    return 0 if outcome.remaining == 0 else 1  # 1: the re-scan still finds something erasable
