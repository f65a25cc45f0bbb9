"""Uploads from the corpus browser: files kept under the data dir by their own names, ingested by `Platform.ingest` in a
background thread, with each file's step and the time left; the start-up warm-up of what a first ingest loads."""
from __future__ import annotations

import importlib
import os
import shutil
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Sequence

from backend.context import RequestContext
from backend.ingest.items import FileOutcome, IngestEvent
from backend.ingest.steps import step_label
from backend.ingest.time_left import TimeLeft
from backend.models import InputError
from backend.store import collections as collection_store

MB = 1024 * 1024
# What the first ingest imports besides the models: the loaders (PDF: pypdf, pdfplumber, pypdfium2) and the indexes.
_MODULES = ("backend.ingest.loaders", "pypdf", "pdfplumber", "pypdfium2", "backend.retrieval.dense",
            "backend.retrieval.lexical")
_WARMED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_WARM_LOCK = threading.Lock()


@dataclass
class WarmUp:
    """The load of everything a first ingest needs, on a thread of its own; `durations` (s) per part once done."""

    durations: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # a part that failed: the first ingest loads it and says why
    _finished: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def ready(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)

    def summary(self) -> str:
        parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.durations.items())
        failed = "".join(f"; {name} failed: {error}" for name, error in self.errors.items())
        return f"models warm in {sum(self.durations.values()):.1f} s ({parts}){failed}"

    def _run(self, platform, on_done: Callable[[WarmUp], None] | None) -> None:
        # Each part once, with a first call, so its lazy set-up (torch's first forward, spaCy's first document) is paid.
        parts = (("embedder", lambda: platform.embedder.encode(["warm-up"])),
                 ("tokenizer", lambda: platform.counter.count("warm-up")),
                 ("personal data analyzer", lambda: platform.ingest_redactor().analyze("Jane Smith lives in Paris.")),
                 ("loaders and indexes", lambda: [importlib.import_module(name) for name in _MODULES]))
        try:
            for name, load in parts:
                started = time.perf_counter()
                try:
                    load()
                except Exception as exc:  # noqa: BLE001 - warming is an optimisation, never a failure of its own
                    self.errors[name] = f"{type(exc).__name__}: {exc}"
                self.durations[name] = round(time.perf_counter() - started, 2)
            if on_done is not None:  # before `ready`: whoever waits for it sees what on_done did (the server's log line)
                on_done(self)
        finally:
            self._finished.set()


def warm_up(platform, on_done: Callable[[WarmUp], None] | None = None) -> WarmUp:
    """Start loading the embedding model, tokenizer, PII analyzer, loaders and index libraries on a background
    thread, once per platform (the server does it at start), so a first upload does not wait for them.
    `on_done(warm_up)` runs on that thread when it is finished (only for the call that started it)."""
    with _WARM_LOCK:
        warm = _WARMED.get(platform)
        if warm is not None:
            return warm
        warm = _WARMED[platform] = WarmUp()
    threading.Thread(target=warm._run, args=(platform, on_done), name="ingest-warm-up", daemon=True).start()
    return warm


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
    notice = f"; {outcome.message}" if outcome.message else ""  # e.g. pages OCR could not read
    if outcome.outcome == "ingested":
        return f"ingested: {chunks}{notice}"
    if outcome.outcome == "updated":
        return f"new version {outcome.version}: {chunks}{notice}"
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
    """One uploaded file's progress: waiting, read (queued for embedding), then its outcome; its step meanwhile."""

    name: str
    size: int
    state: str = "waiting"  # waiting | read | ingested | updated | unchanged | duplicate | near-duplicate | failed
    detail: str = "waiting"
    chunks: int = 0
    step: str = ""  # the pipeline's step for it (backend/ingest/steps.py), "" before its turn
    document_id: int | None = None
    path: Path | None = None  # where it was stored (None: refused before ingest)
    previous: Path | None = None  # an earlier upload of the same name, put back if this one fails
    attachment_of: str = ""  # an e-mail's attachment (its own document): the mail's name; it has no path of its own
    source: str = ""  # an attachment: the name its ingest reports it under, "<mail's path> › <attachment>"


@dataclass
class UploadJob:
    """An upload ingest running on its own thread; `snapshot()` is safe to call from any thread."""

    collection: str
    files: list[UploadFile]
    ocr: str | None = None  # auto, always or off for these files; None: the settings' GROUNDWORK_OCR
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    run_id: int | None = None
    error: str = ""
    ingesting: bool = False  # False until the pipeline starts (the models and the index load first)
    models_were_warm: bool | None = None  # whether the warm-up had loaded everything when this job began
    waited_for_models_s: float = 0.0  # how long it waited for the warm-up (0 when warm)
    clock: Callable[[], float] = field(default=time.perf_counter, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _time_left: TimeLeft | None = field(default=None, repr=False)

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

    def time_left(self) -> tuple[float, bool] | None:
        """(seconds, complete) from this run's measured rates (see TimeLeft.estimate); None: no rate yet."""
        if self._time_left is None or not self.ingesting or self.finished:
            return None
        with self._lock:
            return self._time_left.estimate(self.clock())

    def stages(self) -> dict[str, float]:
        """Seconds spent so far: "models" (waiting for the warm-up), then per ingest step over all files."""
        with self._lock:
            spent = dict(self._time_left.stages) if self._time_left is not None else {}
        return {"models": self.waited_for_models_s, **spent}

    # --- the run -------------------------------------------------------------------------
    def _on_event(self, event: IngestEvent) -> None:
        if event.kind == "start":
            self.ingesting = True
        with self._lock:
            if self._time_left is not None:
                self._time_left.observe(event, self.clock())
            item = self._by_path.get(event.path)
            if item is None:
                return
            if event.kind == "step" and item.state in ("waiting", "read") and event.step != "done":
                item.step, item.detail = event.step, step_label(event.step, event.done, event.total)
            elif event.kind == "loaded":
                item.state, item.chunks = "read", event.chunks
                item.step, item.detail = "", f"read: {event.chunks} chunk{'' if event.chunks == 1 else 's'}, waiting to embed"
            elif event.kind == "file" and event.outcome is not None:
                outcome = event.outcome
                item.step, item.state, item.detail = "", outcome.outcome, describe(outcome)
                item.chunks, item.document_id = outcome.chunks, outcome.document_id

    def _run(self, platform) -> None:
        staged = [f for f in self.files if f.path is not None]
        paths = [f.path for f in staged if f.path is not None]  # every staged file has a path (mypy cannot see it)
        warm = warm_up(platform)  # started at server start; here only if this process has not warmed up yet
        self.models_were_warm = warm.ready
        if not warm.ready:
            started = self.clock()
            warm.wait()
            self.waited_for_models_s = round(self.clock() - started, 3)
        try:
            report = platform.corpus.ingest(paths, self.collection, progress=self._on_event, ocr=self.ocr)
            self.run_id = report.run_id
            by_path = {outcome.path: outcome for outcome in report.files}
            with self._lock:  # the report is the final word (events can be missed if a callback raised)
                for item, path in zip(staged, paths):
                    outcome = by_path.get(str(path.resolve()))
                    if outcome is not None:
                        item.state, item.detail = outcome.outcome, describe(outcome)
                        item.chunks, item.document_id = outcome.chunks, outcome.document_id
                for item in self.files:
                    if item.attachment_of:
                        _settle_attachment(item, by_path.get(item.source))
        except Exception as exc:  # noqa: BLE001 - shown on the page; the files keep whatever state they reached
            self.error = f"ingest stopped: {exc}"
            with self._lock:
                for item in self.files:  # staged files and their attachments
                    if item.state in ("waiting", "read"):
                        item.state, item.detail = "failed", f"not ingested: {exc}"
        finally:
            with self._lock:
                for item in self.files:  # a step is the run's: none is under way once it is over
                    item.step = ""
            _settle_files(staged)
            self._withhold_originals(platform)
            self.finished_at = time.time()

    def _withhold_originals(self, platform) -> None:
        """A collection that redacts at ingest keeps no uploaded original (backend/corpus/privacy.py says why)."""
        from backend.corpus.privacy import withhold_originals

        try:
            withhold_originals(platform, self.collection, uploads_dir(platform, self.collection))
        except Exception as exc:  # noqa: BLE001 - shown on the page: an original may still hold personal data
            self.error = (self.error + "; " if self.error else "") + f"uploaded originals not removed: {exc}"

    def start(self, platform) -> "UploadJob":
        # Platform.ingest reports a file under its resolved path
        self._by_path = {str(f.path.resolve()): f for f in self.files if f.path is not None}
        self._by_path.update(self._list_attachments(int(platform.settings.max_file_mb * MB)))
        self._time_left = TimeLeft({path: item.size for path, item in self._by_path.items()})
        if not self._by_path:
            self.finished_at = time.time()
            return self
        self._thread = threading.Thread(target=self._run, args=(platform,), name="corpus-upload", daemon=True)
        self._thread.start()
        return self


    def _list_attachments(self, max_bytes: int) -> dict[str, UploadFile]:
        """Each uploaded e-mail's attachments as files of their own, right after their mail, waiting as it does
        (ingest makes each its own document); by the name ingest reports each under."""
        from backend.ingest.items import mail_attachment_sizes
        from backend.ingest.loaders.email import ATTACHMENT_SEPARATOR

        listed: dict[str, UploadFile] = {}
        files: list[UploadFile] = []
        for item in self.files:
            files.append(item)
            if item.path is None:  # refused before ingest
                continue
            mail = item.path.resolve()
            for name, size in mail_attachment_sizes(mail, max_bytes):
                source = f"{mail}{ATTACHMENT_SEPARATOR}{name}"
                files.append(UploadFile(name=f"{item.name}{ATTACHMENT_SEPARATOR}{name}", size=size,
                                        attachment_of=item.name, source=source))
                listed[source] = files[-1]
        self.files = files
        return listed


def _settle_attachment(item: UploadFile, outcome: FileOutcome | None) -> None:
    if outcome is not None:
        item.state, item.detail = outcome.outcome, describe(outcome)
        item.chunks, item.document_id = outcome.chunks, outcome.document_id
    elif item.state in ("waiting", "read"):  # listed at upload, then not found when its mail was read again
        item.state, item.detail = "failed", "not ingested: no longer found in its mail"


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
                 create: bool = False, ctx: RequestContext | None = None, ocr: str | None = None) -> UploadJob:
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
    return UploadJob(collection=collection, files=items, ocr=ocr).start(platform)


def _size(handle: BinaryIO) -> int:
    size = getattr(handle, "size", None)
    if size is not None:
        return int(size)
    position = handle.tell()
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(position)
    return size
