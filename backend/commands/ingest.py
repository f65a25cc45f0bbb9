"""`python -m backend ingest PATH... [--collection NAME] [--json]`: ingest files and folders, print a per-file report."""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING

from backend.settings import get_settings

if TYPE_CHECKING:
    from backend.client import ServerClient

_SNIP = 70
# A batch is one upload request and one ingest run on the server: at most the API's 100 parts
# (backend/gateway/http_uploads.MAX_FILES), and a size a request can carry without a long silent wait.
MAX_BATCH_FILES = 100
MAX_BATCH_BYTES = 64 * 1024 * 1024


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
    parser.add_argument("--ocr", choices=("auto", "always", "off"), default=None,
                        help="OCR with Tesseract for these files: auto (default, from GROUNDWORK_OCR) reads PDF pages "
                             "without enough text layer and images, always every PDF page, off none")
    parser.set_defaults(handler=run, remote=run_remote)


def _progress_line(done: int, total: int | None, outcome: dict) -> str:
    detail = f"{outcome['chunks']} chunks" if outcome["chunks"] else ""
    if outcome["message"]:
        detail = f"{detail}; {outcome['message']}" if detail else outcome["message"]
    of = f"/{total}" if total else ""
    return f"[{done}{of}] {outcome['outcome']:<14} {outcome['path']}  {one_line(detail, 160)}"


def finish(paths: list[Path], report: dict, as_json: bool) -> int:
    """Print a report in IngestReport.to_dict()'s shape (local, or assembled from the server's runs); the exit code."""
    files = report["files"]
    if as_json:
        print(json.dumps(report, default=str))
    else:
        rows = [[o["path"], o["outcome"], o["chunks"], one_line(o["message"], 100)] for o in files]
        print()
        print(format_table(["path", "outcome", "chunks", "message"], rows, right={2}))
        counts = ", ".join(f"{n} {name}" for name, n in report["counts"].items() if n)
        runs = report.get("run_ids", [report["run_id"]])  # the server makes one run per batch of files
        run_ids = f"run {runs[0]}" if len(runs) == 1 else f"runs {', '.join(str(r) for r in runs)}" if runs else "no run"
        print(f"\n{len(files)} files into {report['collection']!r}: {counts or 'nothing to do'}; "
              f"{report['chunks_added']} chunks added in {report['duration_s']:.1f}s ({run_ids})")
    missing = [str(p) for p in paths if not Path(p).expanduser().exists()]
    if missing:
        print(f"error: no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    if files and all(o["outcome"] == "failed" for o in files):
        print("error: every file failed; nothing was ingested", file=sys.stderr)
        return 1
    if not files:
        print("error: no files found under the given paths", file=sys.stderr)
        return 1
    return 0


def run(args) -> int:
    from backend.ingest.items import IngestEvent
    from backend.platform import Platform

    settings = get_settings()
    collection = args.collection or settings.default_collection
    # Progress goes to stdout as one line per file (so long runs show life); with --json stdout is the JSON only.
    out = sys.stderr if args.json else sys.stdout

    def progress(event: IngestEvent) -> None:
        if event.kind == "file" and event.outcome is not None:
            print(_progress_line(event.done, event.total, event.outcome.to_dict()), file=out, flush=True)

    with Platform(settings) as platform:
        report = platform.corpus.ingest(list(args.paths), collection, progress=progress, ocr=args.ocr)
    return finish(list(args.paths), report.to_dict(), args.json)


def run_remote(args, client: ServerClient) -> int:
    """The same ingest through the server: the files uploaded in batches to POST /api/v1/collections/{name}/documents
    (one ingest run each), their outcomes reported under the paths given here."""
    settings = get_settings()
    collection = args.collection or settings.default_collection
    out = sys.stderr if args.json else sys.stdout
    report = _upload_all(client, list(args.paths), collection, settings.upload_max_mb,
                         lambda done, total, o: print(_progress_line(done, total, o), file=out, flush=True),
                         ocr=getattr(args, "ocr", None))
    return finish(list(args.paths), report, args.json)


def _refusal(display: str, path: Path | None, taken: dict[str, str], upload_max_mb: float) -> str | None:
    """Why a file is not sent (in the words a local ingest uses), or None: the server refuses a whole request for
    any one of these, so they are failed here, one by one, as a local run fails them."""
    from backend.corpus.upload import check_upload
    from backend.ingest.loaders import SUPPORTED_EXTENSIONS
    from backend.models import InputError

    if path is None:
        return f"{display}: no such file or directory"
    extension = path.suffix.lower()
    if extension not in SUPPORTED_EXTENSIONS:
        kind = f"'{extension}'" if extension else "(no extension)"
        return f"{path.name}: unsupported file type {kind} (supported: {', '.join(SUPPORTED_EXTENSIONS)})"
    try:
        check_upload(path.name, path.stat().st_size, upload_max_mb)
    except (InputError, OSError) as exc:
        return str(exc)
    if path.name in taken:
        return (f"{path.name}: the server keeps uploads by file name, and {taken[path.name]} has this name too; "
                "rename one, or stop the server to ingest both by their paths")
    taken[path.name] = display
    return None


def _answered(display: str, answer: dict) -> dict:
    """The server's outcome of one uploaded file as a local run reports it (the upload answer has no title or version)."""
    from backend.ingest.items import FileOutcome

    return FileOutcome(path=display, outcome=answer["outcome"], document_id=answer["document_id"],
                       chunks=answer["chunks"], message=answer["message"] or "",
                       near_duplicate_of=answer["near_duplicate_of"],
                       near_duplicate_title=answer["near_duplicate_title"] or "", similarity=answer["similarity"],
                       duration_ms=answer["duration_ms"] or 0.0).to_dict()


def _upload_all(client: ServerClient, paths: list[Path], collection: str, upload_max_mb: float,
                progress: Callable[[int, int, dict], None], ocr: str | None = None) -> dict:
    """Upload the files under `paths` in batches, one request (and one ingest run) each; a report in
    IngestReport.to_dict()'s shape with the runs' ids in `run_ids`."""
    from backend.client import segment
    from backend.ingest.items import OUTCOMES, FileOutcome, expand_paths
    from backend.ingest.loaders.email import ATTACHMENT_SEPARATOR
    from backend.models import InputError, NotFound

    if collection not in {c["name"] for c in client.get("/api/v1/collections")["collections"]}:
        # As a local ingest does: a new collection, in the key's tenant (a taken name is the server's 409).
        client.post("/api/v1/collections", {"name": collection})
    route = f"/api/v1/collections/{segment(collection)}/documents" + (f"?ocr={ocr}" if ocr else "")
    items = list(expand_paths(paths))
    files: list[dict] = [{}] * len(items)
    attached: dict[int, list[dict]] = {}  # an e-mail's attachments (the server's own documents), by the mail's index
    done, run_ids, statuses, chunks_added = 0, [], [], 0
    batch: list[tuple[int, str, Path]] = []
    batch_bytes = 0
    started = time.perf_counter()

    def record(index: int, outcome: dict) -> None:
        nonlocal done
        files[index], done = outcome, done + 1
        progress(done, len(items), outcome)

    def send() -> None:
        nonlocal batch, batch_bytes, chunks_added
        if not batch:
            return
        try:
            result = client.upload(route, [path for _, _, path in batch])
        except NotFound:
            raise
        except InputError as exc:  # this batch refused as a whole (e.g. over the server's own limit): the rest go on
            for index, display, _ in batch:
                record(index, FileOutcome(display, "failed", message=str(exc)).to_dict())
        else:
            run_ids.append(result["run_id"])
            statuses.append(result["status"])
            chunks_added += result["chunks_added"]
            sent, index, display = iter(batch), -1, ""
            for answer in result["files"]:  # one per file sent, each e-mail's attachments right after it
                if answer.get("attachment_of") and index in attached:
                    name = answer["file"].partition(ATTACHMENT_SEPARATOR)[2]
                    attached[index].append(_answered(f"{display}{ATTACHMENT_SEPARATOR}{name}", answer))
                    progress(done, len(items), attached[index][-1])
                    continue
                index, display, _ = next(sent)
                attached[index] = []
                record(index, _answered(display, answer))
        batch, batch_bytes = [], 0

    taken: dict[str, str] = {}
    for index, (display, path) in enumerate(items):
        refusal = _refusal(display, path, taken, upload_max_mb)
        if refusal is not None or path is None:
            record(index, FileOutcome(display, "failed", message=refusal or "").to_dict())
            continue
        size = path.stat().st_size
        if batch and (len(batch) >= MAX_BATCH_FILES or batch_bytes + size > MAX_BATCH_BYTES):
            send()
        batch.append((index, display, path))
        batch_bytes += size
    send()
    files = [entry for index, outcome in enumerate(files) for entry in [outcome, *attached.get(index, [])]]
    counts = {name: sum(1 for f in files if f["outcome"] == name) for name in OUTCOMES}
    return {"collection": collection, "run_id": run_ids[0] if run_ids else None, "run_ids": run_ids,
            "status": next((s for s in statuses if s != "finished"), "finished"),
            "duration_s": round(time.perf_counter() - started, 3), "counts": counts, "chunks_added": chunks_added,
            "files": files}
