"""The Platform: one object that wires store, embedder, indexes, ingest and search; shared by every session."""
from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Callable, Iterable

from backend.ingest import recovery
from backend.ingest.pipeline import (
    FileOutcome, IngestEvent, IngestPipeline, IngestReport, embedding_text, expand_paths, file_item, record_item,
)
from backend.models import Chunk, Document, GroundworkError, Hit, InputError, LoadedDocument
from backend.retrieval.retriever import Retriever
from backend.settings import Settings, get_settings
from backend.store import corpus
from backend.store.db import Store

_COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _manifest_dict(manifest) -> dict:
    if hasattr(manifest, "to_dict"):
        return manifest.to_dict()
    from dataclasses import asdict

    return asdict(manifest)


def _dir_bytes(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


class Platform:
    """Thread-safe: a DuckDB cursor per call, one writer lock per collection (held for a whole ingest run,
    a delete or a move) and one index lock per collection (held while its FAISS/BM25 index is read or changed)."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.settings.ensure_dirs()
        self.store = Store(self.settings.db_path)
        with self.store.transaction() as cur:
            corpus.mark_interrupted_runs(cur)  # this process owns the file now: a 'running' run died with its process
            corpus.repair_sequences(cur)
        self._embedder = None
        self._embedder_lock = threading.Lock()
        self._indexes: dict[int, object] = {}
        self._open_lock = threading.Lock()
        self._index_locks: dict[int, threading.RLock] = {}
        self._writer_locks: dict[int, threading.RLock] = {}
        self._locks_lock = threading.Lock()
        self.last_reconcile: dict[str, recovery.ReconcileReport] = {}
        self._tracer = None
        self._closed = False

    # --- parts -------------------------------------------------------------------------
    @property
    def embedder(self):
        if self._embedder is None:
            with self._embedder_lock:
                if self._embedder is None:
                    from backend.retrieval.embedder import get_embedder

                    self._embedder = get_embedder(self.settings.embedding_model)
        return self._embedder

    @property
    def tracer(self):
        """The platform's one Tracer (backend.observability.tracing): a trace per request, spans to DuckDB."""
        if self._tracer is None:
            with self._locks_lock:
                if self._tracer is None:
                    from backend.observability.tracing import Tracer

                    self._tracer = Tracer(self.store, self.settings)
        return self._tracer

    @property
    def counter(self):
        from backend.ingest.tokens import counter_for_model

        return counter_for_model(self.settings.embedding_model)

    def _index_lock(self, collection_id: int) -> threading.RLock:
        with self._locks_lock:
            return self._index_locks.setdefault(collection_id, threading.RLock())

    def _writer_lock(self, collection_id: int) -> threading.RLock:
        with self._locks_lock:
            return self._writer_locks.setdefault(collection_id, threading.RLock())

    def _index_directory(self, collection_id: int) -> Path:
        # Keyed by id, not name, so renaming a collection never moves files.
        return self.settings.index_dir / f"collection-{collection_id}"

    def _manifest(self):
        from backend.retrieval.manifest import IndexManifest

        return IndexManifest.from_settings(self.settings, self.embedder.dim)

    def _open_index(self, row: dict):
        """Open (cached) the collection's index, check it was built like this one, and reconcile it with DuckDB."""
        collection_id = row["id"]
        index = self._indexes.get(collection_id)
        if index is not None:
            return index
        with self._open_lock:
            index = self._indexes.get(collection_id)
            if index is not None:
                return index
            from backend.retrieval.collection_index import CollectionIndex
            from backend.retrieval.manifest import IndexManifest

            manifest = self._manifest()
            with self.store.cursor() as cur:
                recorded = corpus.index_settings(cur, collection_id)
            if recorded:
                try:
                    IndexManifest.from_dict(recorded).check_compatible(manifest)
                except GroundworkError as exc:
                    raise GroundworkError(f"collection {row['name']!r}: {exc}") from None
            else:
                with self.store.transaction() as cur:
                    corpus.set_index_settings(cur, collection_id, _manifest_dict(manifest))
            index = CollectionIndex.open(self._index_directory(collection_id), manifest, self.settings)
            self.last_reconcile[row["name"]] = recovery.reconcile(self.store, row, index, self._index_lock(collection_id))
            self._indexes[collection_id] = index
            return index

    def collection_index(self, name: str):
        with self.store.cursor() as cur:
            row = corpus.require_collection(cur, name)
        return self._open_index(row)

    def reconcile(self, name: str) -> recovery.ReconcileReport:
        """Re-check a collection's index against DuckDB now (also done whenever an index is first opened)."""
        with self.store.cursor() as cur:
            row = corpus.require_collection(cur, name)
        index = self._open_index(row)
        return recovery.reconcile(self.store, row, index, self._index_lock(row["id"]))

    def _retriever(self, collection_id: int) -> Retriever:
        return Retriever(self.store, self.settings, lambda: self.embedder, self._index_lock(collection_id))

    def _redactor(self) -> Callable[[str], str] | None:
        if not self.settings.redact_at_ingest:
            return None
        from backend.pii import get_redactor

        return get_redactor(self.settings)

    # --- collections -------------------------------------------------------------------
    def collections(self) -> list[dict]:
        with self.store.cursor() as cur:
            rows = corpus.list_collections(cur)
        return [
            {"name": r["name"], "tenant": r["tenant"], "description": r["description"], "documents": r["documents"],
             "chunks": r["chunks"], "tokens": int(r["tokens"]), "created_at": r["created_at"],
             "index_version": r["index_version"], "last_ingest_at": r["last_ingest_at"],
             "index_settings": corpus._json(r["index_settings"])}
            for r in rows
        ]

    def collection_names(self) -> list[str]:
        with self.store.cursor() as cur:
            return corpus.collection_names(cur)

    def has_collection(self, name: str) -> bool:
        with self.store.cursor() as cur:
            return corpus.collection_row(cur, name) is not None

    def index_version(self, name: str) -> int:
        with self.store.cursor() as cur:
            return corpus.require_collection(cur, name)["index_version"]

    def create_collection(self, name: str, tenant: str | None = None, description: str = "") -> dict:
        if not isinstance(name, str) or not _COLLECTION_NAME.match(name):
            raise InputError(
                f"collection name {name!r}: use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit")
        with self.store.transaction() as cur:
            if corpus.collection_row(cur, name) is not None:
                raise InputError(f"collection {name!r} already exists")
            corpus.insert_collection(cur, name, tenant or self.settings.default_tenant, description)
            corpus.audit(cur, "collection.create", name, {"tenant": tenant or self.settings.default_tenant})
            return corpus.collection_row(cur, name)

    def _ensure_collection(self, name: str) -> dict:
        with self.store.cursor() as cur:
            row = corpus.collection_row(cur, name)
        if row is not None:
            return row
        try:
            return self.create_collection(name)
        except InputError:
            with self.store.cursor() as cur:  # created by another thread in between
                row = corpus.collection_row(cur, name)
            if row is None:
                raise
            return row

    def rename_collection(self, old: str, new: str) -> None:
        if not isinstance(new, str) or not _COLLECTION_NAME.match(new):
            raise InputError(
                f"collection name {new!r}: use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit")
        with self.store.transaction() as cur:
            row = corpus.require_collection(cur, old)
            if old == new:
                return
            if corpus.collection_row(cur, new) is not None:
                raise InputError(f"collection {new!r} already exists")
            corpus.rename_collection(cur, row["id"], new)
            corpus.audit(cur, "collection.rename", old, {"to": new})

    def delete_collection(self, name: str) -> None:
        with self.store.cursor() as cur:
            row = corpus.require_collection(cur, name)
        with self._writer_lock(row["id"]):
            with self.store.transaction() as cur:
                documents = corpus.count_active_documents(cur, row["id"])
                if documents:
                    raise InputError(
                        f"collection {name!r} holds {documents} document(s); delete or move them first")
                cur.execute("DELETE FROM chunks WHERE collection_id = ?", [row["id"]])
                corpus.delete_collection(cur, row["id"])
                corpus.audit(cur, "collection.delete", name)
            with self._open_lock, self._index_lock(row["id"]):
                index = self._indexes.pop(row["id"], None)
                if index is not None:
                    index.delete_directory()
                else:
                    import shutil

                    shutil.rmtree(self._index_directory(row["id"]), ignore_errors=True)

    # --- ingest ------------------------------------------------------------------------
    def _run(self, collection: str, items, total: int | None, label: str,
             progress: Callable[[IngestEvent], None] | None) -> IngestReport:
        row = self._ensure_collection(collection)
        with self._writer_lock(row["id"]):
            index = self._open_index(row)
            pipeline = IngestPipeline(
                self.store, self.settings, row, index, self.embedder, self.counter,
                index_lock=self._index_lock(row["id"]), redact=self._redactor(), progress=progress,
            )
            return pipeline.run(items, total=total, label=label)

    def ingest(self, paths: list[Path], collection: str | None = None,
               progress: Callable[[IngestEvent], None] | None = None) -> IngestReport:
        """Ingest files and folders (recursively, hidden entries skipped); one outcome per file, never stopping early."""
        collection = collection or self.settings.default_collection
        max_bytes = int(self.settings.max_file_mb * 1024 * 1024)
        found = list(expand_paths(paths))
        items = [file_item(display, path, max_bytes) for display, path in found]
        label = " ".join(str(p) for p in paths)
        return self._run(collection, items, len(items), label, progress)

    def ingest_records(self, collection: str, records: Iterable[LoadedDocument],
                       progress: Callable[[IngestEvent], None] | None = None, label: str = "records") -> IngestReport:
        """Ingest already-loaded documents (e.g. a BEIR corpus; source = its id), embedding across documents in batches."""
        total = len(records) if hasattr(records, "__len__") else None
        return self._run(collection, (record_item(r) for r in records), total, label, progress)

    def delete_document(self, document_id: int) -> None:
        """Mark the document deleted (its versions stay recorded) and remove its chunks from DuckDB, FAISS and BM25."""
        with self.store.cursor() as cur:
            doc = corpus.require_document(cur, document_id)
        if doc["status"] == "deleted":
            raise InputError(f"document {document_id} is already deleted")
        row = self._collection_by_id(doc["collection_id"])
        with self._writer_lock(row["id"]):
            index = self._open_index(row)
            with self.store.transaction() as cur:
                removed = corpus.delete_document_chunks(cur, document_id)
                corpus.mark_document_deleted(cur, document_id)
                corpus.bump_index_version(cur, row["id"])
                corpus.audit(cur, "document.delete", str(document_id), {"title": doc["title"], "chunks": len(removed)})
            with self._index_lock(row["id"]):
                if removed:
                    index.remove(removed)
                index.save()

    def move_document(self, document_id: int, collection: str) -> None:
        """Move a document and its chunks to another collection (created if missing), reusing the stored embeddings."""
        with self.store.cursor() as cur:
            doc = corpus.require_document(cur, document_id)
        if doc["status"] == "deleted":
            raise InputError(f"document {document_id} is deleted; it cannot be moved")
        source_row = self._collection_by_id(doc["collection_id"])
        if source_row["name"] == collection:
            return
        target_row = self._ensure_collection(collection)
        first, second = sorted([source_row["id"], target_row["id"]])
        with self._writer_lock(first), self._writer_lock(second):
            source_index, target_index = self._open_index(source_row), self._open_index(target_row)
            with self.store.transaction() as cur:
                clash = corpus.active_document_by_hash(cur, target_row["id"], doc["content_hash"])
                if clash is not None:
                    raise InputError(
                        f"collection {collection!r} already holds the same content as document {clash['id']} ({clash['title']!r})")
                corpus.move_document(cur, document_id, target_row["id"], target_row["tenant"])
                corpus.bump_index_version(cur, source_row["id"])
                corpus.bump_index_version(cur, target_row["id"])
                corpus.audit(cur, "document.move", str(document_id), {"from": source_row["name"], "to": collection})
                ids, vectors, texts, titles, headings = corpus.chunk_index_rows(
                    cur, [c for (c,) in cur.execute("SELECT id FROM chunks WHERE document_id = ?", [document_id]).fetchall()])
            with self._index_lock(first), self._index_lock(second):
                if len(ids):
                    source_index.remove(ids)
                    target_index.add(ids, vectors, [embedding_text(t, h, x) for x, t, h in zip(texts, titles, headings)])
                source_index.save()
                target_index.save()

    def reingest_document(self, document_id: int) -> FileOutcome:
        """Load the document's source file again: a changed file becomes a new version, an unchanged one stays."""
        with self.store.cursor() as cur:
            doc = corpus.require_document(cur, document_id)
        if doc["status"] == "deleted":
            raise InputError(f"document {document_id} is deleted; ingest its file again instead")
        path = Path(doc["source"])
        if not path.is_file():
            raise InputError(f"{doc['source']}: the source file of document {document_id} no longer exists")
        row = self._collection_by_id(doc["collection_id"])
        item = file_item(str(path), path, int(self.settings.max_file_mb * 1024 * 1024))
        report = self._run(row["name"], [item], 1, f"reingest document {document_id}", None)
        return report.files[0]

    def _collection_by_id(self, collection_id: int) -> dict:
        with self.store.cursor() as cur:
            row = corpus.collection_by_id(cur, collection_id)
        if row is None:
            raise InputError(f"unknown collection id {collection_id}")
        return row

    # --- search ------------------------------------------------------------------------
    def search(self, query: str, collection: str | None = None, mode: str | None = None, k: int | None = None,
               candidate_k: int | None = None, filters: dict | None = None) -> list[Hit]:
        """Ranked chunks with each retriever's score and rank and the fused score; `hit.chunk` is filled.

        filters (document fields): mime_type (str or list), title_contains, source, source_contains,
        updated_after, updated_before (datetime), document_ids (list of ints).
        """
        with self.store.cursor() as cur:
            row = corpus.require_collection(cur, collection or self.settings.default_collection)
        index = self._open_index(row)
        return self._retriever(row["id"]).search(index, row, query, mode, k, candidate_k, filters)

    def search_modes(self, query: str, collection: str | None = None, modes=("bm25", "dense", "hybrid"),
                     k: int | None = None, candidate_k: int | None = None,
                     filters: dict | None = None) -> dict[str, list[Hit]]:
        """`search` in several modes at once (the corpus browser's side-by-side view), embedding the query once."""
        with self.store.cursor() as cur:
            row = corpus.require_collection(cur, collection or self.settings.default_collection)
        index = self._open_index(row)
        vectors: dict[str, object] = {}

        class _QueryOnce:  # the platform's embedder, remembering this one query's vector across the modes
            def __init__(self, embedder):
                self.embedder, self.dim = embedder, embedder.dim

            def encode_query(self, text: str):
                if text not in vectors:
                    vectors[text] = self.embedder.encode_query(text)
                return vectors[text]

        once = _QueryOnce(self.embedder) if any(m != "bm25" for m in modes) else None
        retriever = Retriever(self.store, self.settings, lambda: once, self._index_lock(row["id"]))
        return {mode: retriever.search(index, row, query, mode, k, candidate_k, filters) for mode in modes}

    def search_documents(self, query: str, collection: str, mode: str | None = None,
                         k: int = 10) -> list[tuple[int, float]]:
        with self.store.cursor() as cur:
            row = corpus.require_collection(cur, collection)
        index = self._open_index(row)
        return self._retriever(row["id"]).search_documents(index, row, query, mode, k)

    def document_source_map(self, collection: str) -> dict[int, str]:
        with self.store.cursor() as cur:
            row = corpus.require_collection(cur, collection)
            return corpus.document_source_map(cur, row["id"])

    # --- corpus queries (for the pages) --------------------------------------------------
    def documents(self, collection: str | None = None, status: str | None = "active", title_contains: str | None = None,
                  mime_type: str | None = None, updated_after=None, updated_before=None, order_by: str = "updated_at",
                  descending: bool = True, limit: int | None = 1000, offset: int = 0) -> list[dict]:
        with self.store.cursor() as cur:
            collection_id = corpus.require_collection(cur, collection)["id"] if collection else None
            return corpus.list_documents(cur, collection_id, status, title_contains, mime_type, updated_after,
                                         updated_before, order_by, descending, limit, offset)

    def count_documents(self, collection: str | None = None, status: str | None = "active",
                        title_contains: str | None = None, mime_type: str | None = None,
                        updated_after=None, updated_before=None) -> int:
        with self.store.cursor() as cur:
            collection_id = corpus.require_collection(cur, collection)["id"] if collection else None
            return corpus.count_documents(cur, collection_id, status, title_contains, mime_type, updated_after,
                                          updated_before)

    def document(self, document_id: int) -> Document:
        with self.store.cursor() as cur:
            return corpus.document(cur, document_id)

    def chunks(self, document_id: int) -> list[Chunk]:
        with self.store.cursor() as cur:
            corpus.require_document(cur, document_id)
            return corpus.document_chunks(cur, document_id)

    def chunks_by_ids(self, chunk_ids: list[int]) -> dict[int, Chunk]:
        with self.store.cursor() as cur:
            return corpus.chunks_by_ids(cur, chunk_ids)

    def document_versions(self, document_id: int) -> list[dict]:
        with self.store.cursor() as cur:
            corpus.require_document(cur, document_id)
            return corpus.document_versions(cur, document_id)

    def ingest_runs(self, limit: int = 50, collection: str | None = None) -> list[dict]:
        with self.store.cursor() as cur:
            collection_id = corpus.require_collection(cur, collection)["id"] if collection else None
            return corpus.ingest_runs(cur, limit, collection_id)

    def ingest_files(self, run_id: int) -> list[dict]:
        with self.store.cursor() as cur:
            return corpus.ingest_files(cur, run_id)

    def stats(self, load_indexes: bool = False) -> dict:
        """Totals, and per collection: documents, chunks, index sizes and the settings that built its index.

        Index entry counts come from the loaded index; with load_indexes=False an index not yet opened in
        this process reports only its size on disk (so a page can show stats without loading models).
        """
        collections = []
        for info in self.collections():
            with self.store.cursor() as cur:
                row = corpus.collection_row(cur, info["name"])
                mime_types = corpus.mime_type_counts(cur, row["id"])
            index = self._open_index(row) if load_indexes else self._indexes.get(row["id"])
            entry = {**info, "mime_types": mime_types,
                     "index_bytes": _dir_bytes(self._index_directory(row["id"])), "index": None}
            if index is not None:
                with self._index_lock(row["id"]):
                    entry["index"] = index.stats()
            collections.append(entry)
        with self.store.cursor() as cur:
            totals = corpus.totals(cur)
            last_runs = corpus.ingest_runs(cur, 1)
        return {
            "documents": totals["documents"],
            "chunks": totals["chunks"],
            "tokens": totals["tokens"],
            "model": self.settings.embedding_model,
            "dim": self._embedder.dim if self._embedder is not None else next(
                (c["index_settings"]["dim"] for c in collections if c["index_settings"]), None),
            "chunk_tokens": self.settings.chunk_tokens,
            "chunk_overlap": self.settings.chunk_overlap,
            "index_bytes": sum(c["index_bytes"] for c in collections),
            "collections": collections,
            "last_ingest_run": last_runs[0] if last_runs else None,
        }

    # --- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        # Every writer saves the indexes it changed (and reconcile repairs any it did not), so nothing to flush.
        if self._closed:
            return
        self._closed = True
        # The tracer's exporter and retention threads write to DuckDB: stop them before the file closes.
        if self._tracer is not None:
            self._tracer.shutdown()
        self._indexes.clear()
        self.store.close()

    def __enter__(self) -> "Platform":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
