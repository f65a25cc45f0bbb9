"""The ingest pipeline: load, redact, clean, dedupe, chunk, embed, then write DuckDB first and the indexes after."""
from __future__ import annotations

import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from backend.ingest.chunking import chunk_text, embedding_text
from backend.ingest.clean import content_hash
from backend.ingest.dedupe import NearDuplicateIndex, minhash_signature
from backend.ingest.items import FileOutcome, IngestEvent, IngestItem, IngestReport, LoadedFile
from backend.ingest.personal_data import Finding, collection_mode, locate, redact_csv, redact_found, scan
from backend.ingest.progress import reporting
from backend.ingest.steps import embed_in_slices
from backend.models import ChunkSpan, InputError, LoadedDocument
from backend.settings import Settings
from backend.store import chunks as chunk_store
from backend.store import collections as collection_store
from backend.store import document_files as document_file_store
from backend.store import document_pii as document_pii_store
from backend.store import documents as document_store
from backend.store import ingest_runs as ingest_run_store
from backend.store.db import Store
from backend.store.sequences import allocate_ids


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
    original: bytes | None = None  # a KEPT_FILES original (PDF, CSV, XLSX), stored with its version
    findings: list[Finding] | None = None  # personal data in the stored text, each with its chunk's ordinal
    redacted: bool = False  # the stored text (and original) had its personal data replaced


class IngestPipeline:
    """One ingest run into one collection. The caller holds the collection's writer lock for the run.

    Write order: per batch, one DuckDB transaction stores documents, versions and chunks (with their
    embeddings) and bumps the collection's index version; only then are FAISS and BM25 updated, and
    they are saved every `settings.ingest_save_every` documents and at the end. A crash between the
    two leaves DuckDB ahead of the indexes, which `recovery.reconcile` repairs from the stored embeddings.

    With a `redactor`, each stored document's personal data is found (one analysis of its text) and recorded in
    the transaction of its chunks; a collection set to 'redact' (pii_at_ingest) stores the text redacted as well.
    """

    def __init__(self, store: Store, settings: Settings, collection: dict, index, embedder, counter,
                 index_lock: threading.RLock | None = None, redactor=None,
                 progress: Callable[[IngestEvent], None] | None = None):
        self.store = store
        self.settings = settings
        self.collection = collection
        self.index = index
        self.embedder = embedder
        self.counter = counter
        self.index_lock = index_lock or nullcontext()
        self.redactor = redactor
        self.redacts = redactor is not None and collection_mode(collection, settings) == "redact"
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
            run_id = ingest_run_store.start_run(cur, collection_id, label[:500], total or 0)
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
                ingest_run_store.record_files(cur, run_id, [o.to_dict() for o in self._unrecorded])
                ingest_run_store.finish_run(cur, run_id, status, len(self.report.files), ok,
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

    def _step(self, path: str, step: str, done: int | None = None, total: int | None = None) -> None:
        self._emit(IngestEvent("step", done=done or 0, total=total, path=path, step=step))

    def _final(self, outcome: FileOutcome, started: float, recorded: bool = False) -> None:
        self._positions.setdefault(id(outcome), self._position)
        self.report.files.append(outcome)
        if not recorded:  # batch outcomes are written inside their batch's transaction, their duration set there
            outcome.duration_ms = round((time.perf_counter() - started) * 1000, 2)
            self._unrecorded.append(outcome)
        self._step(outcome.path, "done")
        self._emit(IngestEvent("file", done=len(self.report.files), total=self._total, path=outcome.path, outcome=outcome))

    # --- state the run dedupes against: the collection's active documents, kept current in memory ------
    def _load_state(self) -> None:
        collection_id = self.collection["id"]
        with self.store.cursor() as cur:
            rows = document_store.active_document_keys(cur, collection_id)
            signatures = document_store.active_minhashes(cur, collection_id)
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
            self._step(name, "reading")
            # The loader's own steps (OCR page i of n) reach the listener through backend/ingest/progress.py.
            with reporting(None if self.progress is None else lambda step, done, total: self._step(name, step, done, total)):
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
            self._emit(IngestEvent("loaded", done=len(self.report.files), total=self._total, path=name,
                                   chunks=len(pending.spans)))

    def _prepare(self, name: str, document: LoadedDocument, started: float) -> _Pending | None:
        original = document.original if isinstance(document, LoadedFile) else None  # records have no file
        findings = None
        if self.redacts:  # before the content hash: the redacted text is what is stored and compared
            self._step(name, "personal data")
            found = scan(self.redactor, self.settings.data_dir, document.text)
            values = {document.text[f.start:f.end]: f.entity_type for f in found}
            document, findings = redact_found(document, found, self.redactor)
            # A CSV's cells are redacted as its text was; a PDF or XLSX cannot be, so its original is not kept.
            original = redact_csv(original, values, self.redactor) \
                if original is not None and document.mime_type == "text/csv" else None
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
                count = chunk_store.count_document_chunks(cur, existing["id"])
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
        # A file read only in part (pages OCR could not read) is stored, and its outcome says what is missing.
        notice = str(document.metadata.get("ocr_notice") or "")
        outcome = FileOutcome(path=name, outcome="updated" if existing else "ingested", title=title, message=notice)
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
        self._step(name, "chunking")
        spans = chunk_text(text, document.sections, self.counter, self.settings.chunk_tokens, self.settings.chunk_overlap,
                           model_window=getattr(self.embedder, "max_tokens", 256))
        if not spans:
            raise InputError(f"{name}: no text to index after chunking")
        if self.redactor is not None:  # only now in 'flag' mode: an unchanged or duplicate file is never analysed
            if findings is None:
                self._step(name, "personal data")
            findings = locate(findings if findings is not None else scan(self.redactor, self.settings.data_dir, text),
                              spans, document.sections)
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
                        document_id=document_id, existing=existing, size_bytes=size, started=started,
                        original=original, findings=findings, redacted=self.redacts)

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
            if self.progress is None:
                vectors = self.embedder.encode(texts, batch_size=self.settings.embedding_batch_size)
            else:  # in slices, so each file's "embedding" step counts its chunks as they are done
                vectors = embed_in_slices(
                    lambda part: self.embedder.encode(part, batch_size=self.settings.embedding_batch_size), texts,
                    [o.outcome.path for o in owners], self.settings.embedding_batch_size,
                    lambda path, done, total: self._step(path, "embedding", done, total))
            for pending in batch:
                self._step(pending.outcome.path, "writing")
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
                real_ids = allocate_ids(cur, "document_id_seq", len(new_docs))
                for p, real_id in zip(new_docs, real_ids):
                    placeholders[real_id] = p.document_id
                    p.document_id = real_id
                    p.outcome.version = 1
                document_store.insert_documents(
                    cur, collection_id, [p.document_id for p in new_docs], [p.document.source for p in new_docs],
                    [p.document.title for p in new_docs], [p.document.mime_type for p in new_docs],
                    [p.content_hash for p in new_docs], [p.size_bytes for p in new_docs],
                    [p.document.metadata for p in new_docs])
            for p in batch:
                if p.existing is not None:
                    p.outcome.version = document_store.update_document_version(
                        cur, p.document_id, p.document.title, p.document.mime_type, p.content_hash, p.size_bytes,
                        p.document.metadata)
                    removed += chunk_store.delete_document_chunks(cur, p.document_id)
                    p.outcome.message = p.outcome.message or (
                        f"new version {p.outcome.version} replaces version {p.existing['version']}")
            document_store.insert_versions(
                cur, [p.document_id for p in batch], [p.outcome.version for p in batch], [p.content_hash for p in batch],
                [p.document.text for p in batch], [p.document.sections for p in batch], [p.minhash for p in batch])
            document_file_store.insert_files(cur, [
                (p.document_id, p.outcome.version, p.document.mime_type, p.original) for p in batch
                if p.original is not None and p.outcome.version is not None])
            chunk_ids = allocate_ids(cur, "chunk_id_seq", len(vectors))
            doc_ids, versions, ordinals, spans = [], [], [], []
            for p in batch:
                assert p.outcome.version is not None  # set when the document passed dedupe
                for ordinal, span in enumerate(p.spans):
                    doc_ids.append(p.document_id)
                    versions.append(p.outcome.version)
                    ordinals.append(ordinal)
                    spans.append(span)
            chunk_store.insert_chunks(cur, chunk_store.chunk_table(
                chunk_ids, doc_ids, versions, collection_id, tenant, ordinals, [s.text for s in spans],
                [s.token_count for s in spans], [s.char_start for s in spans], [s.char_end for s in spans],
                [s.page for s in spans], [s.heading_path for s in spans], vectors,
                ocr_confidences=[s.ocr_confidence for s in spans],
            ))
            self._write_findings(cur, batch, chunk_ids)
            collection_store.bump_index_version(cur, collection_id)
            for p in batch:
                p.outcome.document_id = p.document_id
                p.outcome.chunks = len(p.spans)
                p.outcome.duration_ms = round((time.perf_counter() - p.started) * 1000, 2)  # as recorded in the run
            ingest_run_store.record_files(cur, self.report.run_id,
                                          [o.to_dict() for o in self._unrecorded] + [p.outcome.to_dict() for p in batch])
        self._unrecorded = []
        self._replace_placeholders(placeholders, batch)
        return removed, chunk_ids

    @staticmethod
    def _write_findings(cur, batch: list[_Pending], chunk_ids: list[int]) -> None:
        """Each analysed document's findings with their chunk ids (the batch's chunks are numbered in order),
        replacing its earlier version's."""
        scans, rows, first = [], [], 0
        for p in batch:
            if p.findings is not None and p.outcome.version is not None:
                scans.append((p.document_id, p.outcome.version, p.redacted))
                rows += [(p.document_id, p.outcome.version, chunk_ids[first + f.chunk] if f.chunk is not None else None,
                          f.entity_type, f.start, f.end, f.page, f.score, f.value_hash) for f in p.findings]
            first += len(p.spans)
        document_pii_store.write_findings(cur, scans, rows)

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
