"""The ingest pipeline: load, redact, clean, dedupe, chunk, embed, then write DuckDB first and the indexes after."""
from __future__ import annotations

import json
import threading
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa

from backend.ingest.chunking import chunk_text
from backend.ingest.clean import clean_text, content_hash
from backend.ingest.dedupe import NearDuplicateIndex, minhash_signature
from backend.models import ChunkSpan, InputError, LoadedDocument, Section
from backend.settings import Settings
from backend.store import corpus
from backend.store.db import Store

OUTCOMES = ("ingested", "updated", "unchanged", "duplicate", "near-duplicate", "failed")
# Outcomes that leave a stored, searchable document behind (a skipped near-duplicate has no document_id).
_STORED = {"ingested", "updated"}
# The title/heading prefix given to the embedder is capped so prefix + chunk stays inside the model window
# (chunk_tokens <= 200 by default leaves ~54 word pieces; 160 characters is about 40 of them).
_PREFIX_MAX_CHARS = 160


def embedding_text(title: str, heading_path: Sequence[str], text: str) -> str:
    """What the embedder and BM25 index see for a chunk: "title — heading path: chunk text".

    The stored chunk text stays plain; this context helps retrieval find a chunk whose own words never
    name its subject. Recovery rebuilds exactly this string from DuckDB, so keep it a pure function.
    """
    title = " ".join((title or "").split())
    headings = [h.strip() for h in heading_path if h and h.strip() and h.strip() != title]
    prefix = title
    if headings:
        prefix = f"{title} — {' > '.join(headings)}" if title else " > ".join(headings)
    if len(prefix) > _PREFIX_MAX_CHARS:
        prefix = prefix[:_PREFIX_MAX_CHARS].rsplit(" ", 1)[0]
    return f"{prefix}: {text}" if prefix else text


@dataclass
class FileOutcome:
    """What happened to one file or record in an ingest run."""

    path: str
    outcome: str  # one of OUTCOMES
    document_id: int | None = None
    title: str = ""
    chunks: int = 0
    version: int | None = None
    message: str = ""
    near_duplicate_of: int | None = None
    near_duplicate_title: str = ""
    similarity: float | None = None
    duration_ms: float = 0.0

    @property
    def stored(self) -> bool:
        return self.outcome in _STORED or (self.outcome == "near-duplicate" and self.chunks > 0)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class IngestEvent:
    """Progress of a run: `start`, `loaded` (a file read, waiting for its batch), `file` (its outcome is final),
    `saved` (indexes written to disk), `finish`."""

    kind: str
    done: int = 0  # files with a final outcome so far
    total: int | None = None  # files in the run when known
    path: str = ""
    outcome: FileOutcome | None = None
    message: str = ""


@dataclass
class IngestReport:
    collection: str
    run_id: int
    files: list[FileOutcome] = field(default_factory=list)
    status: str = "finished"
    duration_s: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        counts = {name: 0 for name in OUTCOMES}
        for item in self.files:
            counts[item.outcome] = counts.get(item.outcome, 0) + 1
        return counts

    @property
    def chunks_added(self) -> int:
        return sum(item.chunks for item in self.files if item.stored)

    @property
    def failed(self) -> list[FileOutcome]:
        return [item for item in self.files if item.outcome == "failed"]

    @property
    def all_failed(self) -> bool:
        return bool(self.files) and all(item.outcome == "failed" for item in self.files)

    def to_dict(self) -> dict:
        return {
            "collection": self.collection,
            "run_id": self.run_id,
            "status": self.status,
            "duration_s": round(self.duration_s, 3),
            "counts": self.counts,
            "chunks_added": self.chunks_added,
            "files": [item.to_dict() for item in self.files],
        }


# An item to ingest: the name it is reported under, and how to load it (raises InputError on bad input).
IngestItem = tuple[str, Callable[[], LoadedDocument]]


def expand_paths(paths: Iterable[Path | str]) -> Iterator[tuple[str, Path | None]]:
    """Files under the given paths (folders recursively, hidden entries skipped), in a stable order.

    A path that does not exist yields (path, None) so it is reported as a failed file.
    """
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            yield str(raw), None
        elif path.is_dir():
            root = path.resolve()
            for child in sorted(root.rglob("*")):
                if any(part.startswith(".") for part in child.relative_to(root).parts):
                    continue
                if child.is_file():
                    yield str(child), child
        else:
            yield str(path.resolve()), path.resolve()


def redact_document(document: LoadedDocument, redact: Callable[[str], str]) -> LoadedDocument:
    """Redact a document piece by piece so section offsets stay true after the text changes length."""
    bounds = sorted({0, len(document.text), *(s.start for s in document.sections), *(s.end for s in document.sections)})
    pieces, new_pos = [], {}
    position = 0
    for start, end in zip(bounds, bounds[1:]):
        new_pos[start] = position
        piece = redact(document.text[start:end]) if end > start else ""
        pieces.append(piece)
        position += len(piece)
    new_pos[len(document.text)] = position
    sections = [Section(new_pos[s.start], new_pos[s.end], s.page, s.heading_path) for s in document.sections]
    return LoadedDocument(
        source=document.source, title=document.title, mime_type=document.mime_type, text="".join(pieces),
        sections=sections, metadata={**document.metadata, "redacted": True},
    )


@dataclass
class _Pending:
    """A document that passed dedupe and is chunked, waiting for its batch to be embedded and written."""

    outcome: FileOutcome
    document: LoadedDocument
    content_hash: str
    minhash: bytes
    spans: list[ChunkSpan]
    document_id: int
    existing: dict | None  # the active document row this becomes a new version of
    size_bytes: int | None
    started: float


class IngestPipeline:
    """One ingest run into one collection. The caller holds the collection's writer lock for the run.

    Write order: per batch, one DuckDB transaction stores documents, versions and chunks (with their
    embeddings) and bumps the collection's index version; only then are FAISS and BM25 updated, and
    they are saved every `settings.ingest_save_every` documents and at the end. A crash between the
    two leaves DuckDB ahead of the indexes, which `recovery.reconcile` repairs from the stored embeddings.
    """

    def __init__(self, store: Store, settings: Settings, collection: dict, index, embedder, counter,
                 index_lock: threading.RLock | None = None, redact: Callable[[str], str] | None = None,
                 progress: Callable[[IngestEvent], None] | None = None):
        self.store = store
        self.settings = settings
        self.collection = collection
        self.index = index
        self.embedder = embedder
        self.counter = counter
        self.index_lock = index_lock or nullcontext()
        self.redact = redact
        self.progress = progress
        self.batch_docs = max(1, settings.ingest_batch_docs)
        self.batch_chunks = max(1, settings.embedding_batch_size * 8)
        self.save_every = max(1, settings.ingest_save_every)
        self.max_bytes = int(settings.max_file_mb * 1024 * 1024)

    # --- run -----------------------------------------------------------------------------
    def run(self, items: Iterable[IngestItem], total: int | None = None, label: str = "") -> IngestReport:
        started = time.perf_counter()
        collection_id = self.collection["id"]
        with self.store.transaction() as cur:
            run_id = corpus.start_run(cur, collection_id, label[:500], total or 0)
        self.report = IngestReport(collection=self.collection["name"], run_id=run_id)
        self._total = total
        self._unrecorded: list[FileOutcome] = []
        self._pending: list[_Pending] = []
        self._since_save = 0
        self._index_dirty = False
        self._positions: dict[int, int] = {}  # id(outcome) -> input position
        self._seen = self._position = 0
        self._load_state()
        self._emit(IngestEvent("start", total=total, message=label))
        status = "interrupted"
        try:
            for name, load in items:
                self._process(name, load)
                if len(self._pending) >= self.batch_docs or sum(len(p.spans) for p in self._pending) >= self.batch_chunks:
                    self._flush()
            self._flush()
            status = "finished"
        finally:
            # Outcomes arrive as decided (a skipped duplicate before the batch it was read in); report in input order.
            self.report.files.sort(key=lambda outcome: self._positions.get(id(outcome), 0))
            self._save_indexes()
            counts = self.report.counts
            ok = counts["ingested"] + counts["updated"] + counts["unchanged"] + sum(
                1 for f in self.report.files if f.outcome == "near-duplicate" and f.chunks > 0)
            with self.store.transaction() as cur:
                corpus.record_files(cur, run_id, [o.to_dict() for o in self._unrecorded])
                corpus.finish_run(cur, run_id, status, len(self.report.files), ok,
                                  len(self.report.files) - ok - counts["failed"], counts["failed"],
                                  self.report.chunks_added)
            self._unrecorded = []
            self.report.status = status
            self.report.duration_s = time.perf_counter() - started
        self._emit(IngestEvent("finish", done=len(self.report.files), total=total, message=status))
        return self.report

    def _emit(self, event: IngestEvent) -> None:
        if self.progress is not None:
            self.progress(event)

    def _final(self, outcome: FileOutcome, started: float, recorded: bool = False) -> None:
        outcome.duration_ms = round((time.perf_counter() - started) * 1000, 2)
        self._positions.setdefault(id(outcome), self._position)
        self.report.files.append(outcome)
        if not recorded:  # batch outcomes are written inside their batch's transaction
            self._unrecorded.append(outcome)
        self._emit(IngestEvent("file", done=len(self.report.files), total=self._total, path=outcome.path, outcome=outcome))

    # --- state the run dedupes against: the collection's active documents, kept current in memory ------
    def _load_state(self) -> None:
        collection_id = self.collection["id"]
        with self.store.cursor() as cur:
            rows = cur.execute(
                "SELECT id, source, title, content_hash, version FROM documents"
                " WHERE collection_id = ? AND status = 'active' ORDER BY id",
                [collection_id],
            ).fetchall()
            signatures = corpus.active_minhashes(cur, collection_id)
        self._by_source: dict[str, dict] = {}
        self._by_hash: dict[str, tuple[int, str]] = {}
        self._titles: dict[int, str] = {}
        for doc_id, source, title, digest, version in rows:
            self._by_source.setdefault(source, {"id": doc_id, "title": title, "content_hash": digest, "version": version})
            self._by_hash.setdefault(digest, (doc_id, title))
            self._titles[doc_id] = title
        self._placeholder = 0
        self._near = NearDuplicateIndex(self.settings.near_duplicate_threshold)
        for doc_id, signature in signatures:
            try:
                self._near.add(doc_id, signature)
            except ValueError:
                continue  # a signature from another MinHash configuration: that document is just not compared

    # --- one item ------------------------------------------------------------------------
    def _process(self, name: str, load: Callable[[], LoadedDocument]) -> None:
        started = time.perf_counter()
        self._position = self._seen
        self._seen += 1
        try:
            document = load()
            pending = self._prepare(name, document, started)
        except InputError as exc:
            self._final(FileOutcome(path=name, outcome="failed", message=str(exc)), started)
            return
        except Exception as exc:  # noqa: BLE001
            # One bad file never stops the others: an unexpected loader failure is that file's error.
            self._final(FileOutcome(path=name, outcome="failed", message=f"{name}: {type(exc).__name__}: {exc}"), started)
            return
        if pending is not None:
            self._pending.append(pending)
            self._emit(IngestEvent("loaded", done=len(self.report.files), total=self._total, path=name))

    def _prepare(self, name: str, document: LoadedDocument, started: float) -> _Pending | None:
        if self.redact is not None:
            document = redact_document(document, self.redact)
        text = document.text
        if not text.strip():
            raise InputError(f"{name}: no text to index (the file is empty or has no extractable text)")
        digest = content_hash(text)
        source = document.source or name
        title = document.title or Path(source).name
        existing = self._by_source.get(source)
        if existing is not None and any(p.document_id == existing["id"] for p in self._pending):
            self._flush()  # the same source twice in one batch: write the first before versioning it again
            existing = self._by_source.get(source)
        if existing is None and self._by_hash.get(digest, (0,))[0] < 0:
            self._flush()  # a copy of a document still waiting in this batch: report it by its real id
        if existing is not None and existing["content_hash"] == digest:
            with self.store.cursor() as cur:
                count = cur.execute("SELECT count(*) FROM chunks WHERE document_id = ?", [existing["id"]]).fetchone()[0]
            self._final(FileOutcome(
                path=name, outcome="unchanged", document_id=existing["id"], title=existing["title"], chunks=count,
                version=existing["version"], message=f"unchanged since version {existing['version']}",
            ), started)
            return None
        if existing is None and digest in self._by_hash:
            dup_id, dup_title = self._by_hash[digest]
            self._final(FileOutcome(
                path=name, outcome="duplicate", document_id=dup_id, title=title,
                message=f"same content as document {dup_id} ({dup_title!r}); skipped",
            ), started)
            return None
        signature = minhash_signature(text)
        outcome = FileOutcome(path=name, outcome="updated" if existing else "ingested", title=title)
        self._positions[id(outcome)] = self._position
        if existing is None:
            matches = self._near.query(signature)
            if matches and matches[0][0] < 0:
                self._flush()
                matches = self._near.query(signature)
            if matches:
                near_id, similarity = matches[0]
                near_title = self._titles.get(near_id, "")
                outcome.outcome = "near-duplicate"
                outcome.near_duplicate_of = near_id
                outcome.near_duplicate_title = near_title
                outcome.similarity = round(similarity, 4)
                if self.settings.near_duplicate_action == "skip":
                    outcome.message = f"near-duplicate of document {near_id} ({near_title!r}, similarity {similarity:.2f}); skipped"
                    self._final(outcome, started)
                    return None
                outcome.message = f"near-duplicate of document {near_id} ({near_title!r}, similarity {similarity:.2f}); kept"
        spans = chunk_text(text, document.sections, self.counter, self.settings.chunk_tokens, self.settings.chunk_overlap,
                           model_window=getattr(self.embedder, "max_tokens", 256))
        if not spans:
            raise InputError(f"{name}: no text to index after chunking")
        if existing is not None:
            document_id = existing["id"]
        else:
            # A placeholder until the batch's transaction allocates the real id (see _write).
            self._placeholder -= 1
            document_id = self._placeholder
        size = document.metadata.get("size_bytes")
        if size is None:
            size = len(text.encode("utf-8"))
        document = LoadedDocument(source=source, title=title, mime_type=document.mime_type, text=text,
                                  sections=document.sections, metadata=document.metadata)
        # Visible to the next items at once, so two equal files in one batch are caught too.
        self._remember(document_id, source, title, digest, (existing or {}).get("version", 0) + 1, signature,
                       old_hash=(existing or {}).get("content_hash"))
        return _Pending(outcome=outcome, document=document, content_hash=digest, minhash=signature, spans=spans,
                        document_id=document_id, existing=existing, size_bytes=size, started=started)

    def _remember(self, document_id, source, title, digest, version, signature, old_hash=None) -> None:
        if old_hash and self._by_hash.get(old_hash, (None,))[0] == document_id:
            del self._by_hash[old_hash]
        self._by_source[source] = {"id": document_id, "title": title, "content_hash": digest, "version": version}
        self._by_hash.setdefault(digest, (document_id, title))
        self._titles[document_id] = title
        self._near.add(document_id, signature)

    # --- a batch: embed, one transaction, then the indexes --------------------------------
    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        texts, owners = [], []
        for pending in batch:
            for span in pending.spans:
                texts.append(embedding_text(pending.document.title, span.heading_path, span.text))
                owners.append(pending)
        try:
            vectors = self.embedder.encode(texts, batch_size=self.settings.embedding_batch_size)
            removed_ids, chunk_ids = self._write(batch, vectors)
        except Exception as exc:  # noqa: BLE001 - the transaction rolled back: this batch is not stored
            self._load_state()
            for pending in batch:
                pending.outcome.outcome = "failed"
                pending.outcome.message = f"{pending.outcome.path}: not stored: {type(exc).__name__}: {exc}"
                pending.outcome.chunks = 0
                pending.outcome.document_id = None
                self._final(pending.outcome, pending.started)
            return
        with self.index_lock:
            if removed_ids:
                self.index.remove(removed_ids)
            self.index.add(chunk_ids, vectors, texts)
        self._index_dirty = True
        for pending in batch:
            self._final(pending.outcome, pending.started, recorded=True)
        self._since_save += len(batch)
        if self._since_save >= self.save_every:
            self._save_indexes()

    def _write(self, batch: list[_Pending], vectors: np.ndarray) -> tuple[list[int], list[int]]:
        collection_id, tenant = self.collection["id"], self.collection["tenant"]
        removed: list[int] = []
        placeholders: dict[int, int] = {}  # real id -> placeholder
        new_docs = [p for p in batch if p.existing is None]
        with self.store.transaction() as cur:
            if new_docs:
                real_ids = corpus.allocate_ids(cur, "document_id_seq", len(new_docs))
                for p, real_id in zip(new_docs, real_ids):
                    placeholders[real_id] = p.document_id
                    p.document_id = real_id
                    p.outcome.version = 1
                with corpus.registered(cur, "new_documents_view", pa.table({
                    "id": pa.array([p.document_id for p in new_docs], type=pa.int32()),
                    "source": [p.document.source for p in new_docs],
                    "title": [p.document.title for p in new_docs],
                    "mime_type": [p.document.mime_type for p in new_docs],
                    "content_hash": [p.content_hash for p in new_docs],
                    "size_bytes": pa.array([p.size_bytes for p in new_docs], type=pa.int64()),
                    "metadata": [json.dumps(p.document.metadata, default=str) for p in new_docs],
                })):
                    cur.execute(
                        "INSERT INTO documents (id, collection_id, source, title, mime_type, content_hash, version,"
                        " size_bytes, metadata) SELECT id, ?, source, title, mime_type, content_hash, 1, size_bytes,"
                        " metadata::JSON FROM new_documents_view",
                        [collection_id],
                    )
            for p in batch:
                if p.existing is not None:
                    p.outcome.version = corpus.update_document_version(
                        cur, p.document_id, p.document.title, p.document.mime_type, p.content_hash, p.size_bytes,
                        p.document.metadata)
                    removed += corpus.delete_document_chunks(cur, p.document_id)
                    p.outcome.message = p.outcome.message or (
                        f"new version {p.outcome.version} replaces version {p.existing['version']}")
            with corpus.registered(cur, "new_versions_view", pa.table({
                "document_id": pa.array([p.document_id for p in batch], type=pa.int32()),
                "version": pa.array([p.outcome.version for p in batch], type=pa.int32()),
                "content_hash": [p.content_hash for p in batch],
                "text": [p.document.text for p in batch],
                "sections": [corpus.sections_to_json(p.document.sections) for p in batch],
                "minhash": pa.array([p.minhash for p in batch], type=pa.binary()),
            })):
                cur.execute(
                    "INSERT INTO document_versions (document_id, version, content_hash, text, sections, minhash)"
                    " SELECT document_id, version, content_hash, text, sections::JSON, minhash FROM new_versions_view"
                )
            chunk_ids = corpus.allocate_ids(cur, "chunk_id_seq", len(vectors))
            doc_ids, versions, ordinals, spans = [], [], [], []
            for p in batch:
                for ordinal, span in enumerate(p.spans):
                    doc_ids.append(p.document_id)
                    versions.append(p.outcome.version)
                    ordinals.append(ordinal)
                    spans.append(span)
            corpus.insert_chunks(cur, corpus.chunk_table(
                chunk_ids, doc_ids, versions, collection_id, tenant, ordinals, [s.text for s in spans],
                [s.token_count for s in spans], [s.char_start for s in spans], [s.char_end for s in spans],
                [s.page for s in spans], [s.heading_path for s in spans], vectors,
            ))
            corpus.bump_index_version(cur, collection_id)
            for p in batch:
                p.outcome.document_id = p.document_id
                p.outcome.chunks = len(p.spans)
            corpus.record_files(cur, self.report.run_id,
                                [o.to_dict() for o in self._unrecorded] + [p.outcome.to_dict() for p in batch])
        self._unrecorded = []
        self._replace_placeholders(placeholders, batch)
        return removed, chunk_ids

    def _replace_placeholders(self, placeholders: dict[int, int], batch: list[_Pending]) -> None:
        """Once committed, the batch's new documents are known to the dedupe state by their real ids."""
        for pending in batch:
            placeholder = placeholders.get(pending.document_id)
            if placeholder is None:
                continue
            real_id = pending.document_id
            entry = self._by_source.get(pending.document.source)
            if entry is not None and entry["id"] == placeholder:
                entry["id"] = real_id
            doc_id, title = self._by_hash.get(pending.content_hash, (None, ""))
            if doc_id == placeholder:
                self._by_hash[pending.content_hash] = (real_id, title)
            self._titles[real_id] = self._titles.pop(placeholder, pending.document.title)
            self._near.remove(placeholder)
            self._near.add(real_id, pending.minhash)

    def _save_indexes(self) -> None:
        if not self._index_dirty:
            return
        with self.index_lock:
            self.index.save()
        self._index_dirty = False
        self._since_save = 0
        self._emit(IngestEvent("saved", done=len(self.report.files), total=self._total))


def file_item(display: str, path: Path | None, max_bytes: int) -> IngestItem:
    """An ingest item for a path from `expand_paths` (None: it does not exist)."""

    def load() -> LoadedDocument:
        from backend.ingest.loaders import load_file

        if path is None:
            raise InputError(f"{display}: no such file or directory")
        document = load_file(path, max_bytes)
        document.source = str(path)
        document.metadata.setdefault("size_bytes", path.stat().st_size)
        return document

    return display, load


def record_item(document: LoadedDocument) -> IngestItem:
    """An ingest item for an already-loaded document (e.g. a BEIR corpus row); its text is cleaned here."""

    def load() -> LoadedDocument:
        if document.sections:
            return document  # offsets point into this exact text: cleaning would shift them
        return LoadedDocument(source=document.source, title=document.title, mime_type=document.mime_type,
                              text=clean_text(document.text), sections=[], metadata=dict(document.metadata))

    return document.source, load
