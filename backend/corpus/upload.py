"""Uploads from the corpus browser: files kept under the data dir by their own names, ingested by `Platform.ingest` in a background thread."""
from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Sequence

from backend.context import RequestContext
from backend.ingest.items import FileOutcome, IngestEvent
from backend.models import InputError
from backend.store import collections as collection_store

MB = 1024 * 1024
_WARMED: "weakref.WeakSet" = weakref.WeakSet()
_WARM_LOCK = threading.Lock()


def warm_up(platform) -> None:
    """Load the embedding model on a background thread, once per platform, so a first upload need not wait for it."""
    with _WARM_LOCK:
        if platform in _WARMED:
            return
        _WARMED.add(platform)
    threading.Thread(target=lambda: platform.embedder, name="embedder-warm-up", daemon=True).start()


def uploads_dir(platform, collection: str) -> Path:
    """Where a collection's uploaded files live: keyed by collection id, so a rename keeps their sources valid."""
    with platform.store.cursor() as cur:
        row = collection_store.require_collection(cur, collection)
    return platform.settings.data_dir / "uploads" / f"collection-{row['id']}"


def check_upload(name: str, size: int, upload_max_mb: float) -> str:
    """The file name to store an upload under, or an InputError naming the file and the reason."""
    clean = Path(str(name).replace("\\", "/")).name.strip()
    if not clean or clean in (".", "..") or clean.startswith("."):
        raise InputError(f"{name or '(no name)'}: not a usable file name")
    if size > upload_max_mb * MB:
        raise InputError(
            f"{clean}: {size / MB:,.1f} MB is over the upload limit of {upload_max_mb:g} MB (GROUNDWORK_UPLOAD_MAX_MB)")
    return clean


def describe(outcome: FileOutcome) -> str:
    """What happened to one file, in a sentence that does not repeat the file's name."""
    chunks = f"{outcome.chunks} chunk{'' if outcome.chunks == 1 else 's'}"
    if outcome.outcome == "ingested":
        return f"ingested: {chunks}"
    if outcome.outcome == "updated":
        return f"new version {outcome.version}: {chunks}"
    if outcome.outcome == "unchanged":
        return f"already indexed, unchanged (version {outcome.version})"
    if outcome.outcome == "near-duplicate":
        kept = f"kept, {chunks}" if outcome.chunks else "skipped"
        similarity = f", similarity {outcome.similarity:.2f}" if outcome.similarity is not None else ""
        return f"near-duplicate of “{outcome.near_duplicate_title}” (document {outcome.near_duplicate_of}{similarity}); {kept}"
    message = outcome.message
    for prefix in (outcome.path, Path(outcome.path).name):  # loader messages start with the file's name
        if prefix and message.startswith(prefix + ": "):
            message = message[len(prefix) + 2:]
            break
    if outcome.outcome == "duplicate":
        return f"duplicate: {message}"
    return message


@dataclass
class UploadFile:
    """One uploaded file's progress: waiting, read (queued for embedding), then its outcome."""

    name: str
    size: int
    state: str = "waiting"  # waiting | read | ingested | updated | unchanged | duplicate | near-duplicate | failed
    detail: str = "waiting"
    chunks: int = 0
    document_id: int | None = None
    path: Path | None = None  # where it was stored (None: refused before ingest)
    previous: Path | None = None  # an earlier upload of the same name, put back if this one fails


@dataclass
class UploadJob:
    """An upload ingest running on its own thread; `snapshot()` is safe to call from any thread."""

    collection: str
    files: list[UploadFile]
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    run_id: int | None = None
    error: str = ""
    ingesting: bool = False  # False until the pipeline starts (the model and the index load first)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    def snapshot(self) -> list[UploadFile]:
        with self._lock:
            return [UploadFile(**vars(f)) for f in self.files]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.snapshot():
            counts[item.state] = counts.get(item.state, 0) + 1
        return counts

    @property
    def done(self) -> int:
        return sum(1 for f in self.snapshot() if f.state not in ("waiting", "read"))

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.finished

    # --- the run -------------------------------------------------------------------------
    def _on_event(self, event: IngestEvent) -> None:
        if event.kind == "start":
            self.ingesting = True
        if event.kind not in ("loaded", "file"):
            return
        with self._lock:
            item = self._by_path.get(event.path)
            if item is None:
                return
            if event.kind == "loaded":
                item.state, item.detail = "read", "read; embedding"
            elif event.outcome is not None:
                outcome = event.outcome
                item.state, item.detail = outcome.outcome, describe(outcome)
                item.chunks, item.document_id = outcome.chunks, outcome.document_id

    def _run(self, platform) -> None:
        staged = [f for f in self.files if f.path is not None]
        paths = [f.path for f in staged if f.path is not None]  # every staged file has a path (mypy cannot see it)
        try:
            report = platform.corpus.ingest(paths, self.collection, progress=self._on_event)
            self.run_id = report.run_id
            by_path = {outcome.path: outcome for outcome in report.files}
            with self._lock:  # the report is the final word (events can be missed if a callback raised)
                for item, path in zip(staged, paths):
                    outcome = by_path.get(str(path.resolve()))
                    if outcome is not None:
                        item.state, item.detail = outcome.outcome, describe(outcome)
                        item.chunks, item.document_id = outcome.chunks, outcome.document_id
        except Exception as exc:  # noqa: BLE001 - shown on the page; the files keep whatever state they reached
            self.error = f"ingest stopped: {exc}"
            with self._lock:
                for item in staged:
                    if item.state in ("waiting", "read"):
                        item.state, item.detail = "failed", f"not ingested: {exc}"
        finally:
            _settle_files(staged)
            self.finished_at = time.time()

    def start(self, platform) -> "UploadJob":
        # Platform.ingest reports a file under its resolved path
        self._by_path = {str(f.path.resolve()): f for f in self.files if f.path is not None}
        if not self._by_path:
            self.finished_at = time.time()
            return self
        self._thread = threading.Thread(target=self._run, args=(platform,), name="corpus-upload", daemon=True)
        self._thread.start()
        return self


def _settle_files(items: Sequence[UploadFile]) -> None:
    """Keep the files that are now a document's source; put back what a failed upload replaced."""
    for item in items:
        if item.path is None:  # refused before ingest: nothing was stored
            continue
        kept = item.state in ("ingested", "updated", "unchanged") or (item.state == "near-duplicate" and item.chunks)
        if kept:
            if item.previous is not None:
                item.previous.unlink(missing_ok=True)
        elif item.previous is not None:
            os.replace(item.previous, item.path)
        else:
            item.path.unlink(missing_ok=True)


def start_upload(platform, collection: str, files: Sequence[tuple[str, BinaryIO | bytes]],
                 create: bool = False, ctx: RequestContext | None = None) -> UploadJob:
    """Store the files under the collection's upload folder with their own names and start ingesting them.

    A refused file (bad name, over the upload limit) is reported as failed and never stops the others.
    With `create`, the collection is created first (an InputError if the name is taken or invalid). Nothing is
    stored unless the caller may change the collection (NotFound when it may not read it, Forbidden for a reader).
    """
    if create:
        platform.corpus.create_collection(collection, ctx=ctx)
    else:
        platform.corpus.writable(collection, ctx)
    folder = uploads_dir(platform, collection)
    folder.mkdir(parents=True, exist_ok=True)
    items: list[UploadFile] = []
    taken: set[str] = set()
    for name, data in files:
        size = len(data) if isinstance(data, (bytes, bytearray)) else _size(data)
        item = UploadFile(name=Path(str(name)).name or str(name), size=size)
        items.append(item)
        try:
            clean = check_upload(name, size, platform.settings.upload_max_mb)
            if clean in taken:
                raise InputError(f"{clean}: uploaded twice in one batch; the first copy is used")
        except InputError as exc:
            item.state, item.detail = "failed", describe(FileOutcome(path=item.name, outcome="failed", message=str(exc)))
            continue
        taken.add(clean)
        item.name = clean
        item.path = folder / clean
        if item.path.exists():
            item.previous = folder / f".{clean}.previous-{uuid.uuid4().hex[:8]}"
            os.replace(item.path, item.previous)
        temporary = folder / f".{clean}.incoming-{uuid.uuid4().hex[:8]}"
        with open(temporary, "wb") as handle:
            if isinstance(data, (bytes, bytearray)):
                handle.write(data)
            else:
                data.seek(0)
                shutil.copyfileobj(data, handle, 4 * MB)
        os.replace(temporary, item.path)
    return UploadJob(collection=collection, files=items).start(platform)


def _size(handle: BinaryIO) -> int:
    size = getattr(handle, "size", None)
    if size is not None:
        return int(size)
    position = handle.tell()
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(position)
    return size
