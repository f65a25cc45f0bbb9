"""The corpus service: collections, documents, ingest runs and stats, every read scoped by a RequestContext."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Sized

from backend.context import RequestContext
from backend.corpus.changes import CorpusChanges, DocumentDeletion
from backend.ingest.items import FileOutcome, IngestEvent, IngestReport, expand_paths, path_items, record_item
from backend.ingest.personal_data import collection_mode
from backend.ingest.pipeline import IngestPipeline
from backend.models import Chunk, Conflict, Document, GroundworkError, InputError, LoadedDocument, NotFound
from backend.retrieval.indexes import IndexRegistry
from backend.retrieval.manifest import IndexManifest
from backend.settings import Settings
from backend.store import chunks as chunk_store
from backend.store import collections as collection_store
from backend.store import document_pii as document_pii_store
from backend.store import documents as document_store
from backend.store import ingest_runs as ingest_run_store
from backend.store import retention as retention_store
from backend.store.audit import audit
from backend.store.db import Store
from backend.store.rows import parse_json

MAX_RETENTION_DAYS = 36_500  # a hundred years: past that a typo, not a policy


def check_retention_days(days) -> int | None:
    """A collection's retention: whole days from 1 to MAX_RETENTION_DAYS, or None (or blank) to keep for ever."""
    if days is None or (isinstance(days, str) and not days.strip()):
        return None
    text = days.strip() if isinstance(days, str) else days
    whole = isinstance(text, int) and not isinstance(text, bool) or isinstance(text, str) and text.isdigit()
    if not whole or not 1 <= int(text) <= MAX_RETENTION_DAYS:
        raise InputError(f"retention_days: {days!r} must be whole days from 1 to {MAX_RETENTION_DAYS} "
                         "(leave it empty to keep documents for ever)", field="retention_days")
    return int(text)


class CorpusService:
    """Thread-safe: a DuckDB cursor per call; writers of one collection serialised by its writer lock.

    Reads take `ctx` (default: the system context, which reads every tenant); a collection the caller may
    not read does not exist for it, with the same message as one that does not exist at all.
    """

    def __init__(self, store: Store, settings: Settings, indexes: IndexRegistry, parts):
        self.store = store
        self.settings = settings
        self.indexes = indexes
        self._parts = parts  # the Platform: embedder, counter, manifest and redactor, built lazily there
        self.system = RequestContext.system(settings)
        self._changes = CorpusChanges(self)
        self._collection_rows: tuple[int, list[dict]] | None = None  # (store.commits() it was read at, rows)

    # --- scope ---------------------------------------------------------------------------
    def collection_row(self, name: str | None, ctx: RequestContext | None = None) -> dict:
        """The collection's row (default collection when None), if the caller may read it."""
        ctx = ctx or self.system
        with self.store.cursor() as cur:
            return collection_store.require_collection(cur, name or self.settings.default_collection, ctx.can_read)

    def _scope(self, collection: str | None, ctx: RequestContext | None) -> int | list[int] | None:
        """One collection's id, or (collection None) the ids the caller may read; None means every collection."""
        ctx = ctx or self.system
        if collection:
            return self.collection_row(collection, ctx)["id"]
        if ctx.tenants is None and ctx.collections is None:
            return None
        with self.store.cursor() as cur:
            return [r["id"] for r in collection_store.scope_rows(cur) if ctx.can_read(r)]

    def scope(self, collection: str | None, ctx: RequestContext | None = None) -> str | list[str] | None:
        """The collection names a read may touch: the named one (if readable), or every readable one
        (None when the caller reads every collection). The corpus browser's views filter by this."""
        ctx = ctx or self.system
        if collection:
            return self.collection_row(collection, ctx)["name"]
        if ctx.tenants is None and ctx.collections is None:
            return None
        return self.collection_names(ctx)

    def require_document(self, document_id: int, ctx: RequestContext | None = None) -> dict:
        """The document's row if the caller may read its collection; else 'unknown document id'."""
        return self._document_row(document_id, ctx)

    def _document_row(self, document_id: int, ctx: RequestContext | None) -> dict:
        ctx = ctx or self.system
        with self.store.cursor() as cur:
            row = document_store.document_row(cur, document_id)
        if row is None or not ctx.can_read({"name": row["collection"], "tenant": row["tenant"]}):
            raise NotFound(f"unknown document id {document_id}", field="document_id")
        return row

    def collection_by_id(self, collection_id: int) -> dict:
        with self.store.cursor() as cur:
            row = collection_store.collection_by_id(cur, collection_id)
        if row is None:
            raise InputError(f"unknown collection id {collection_id}")
        return row

    def open_index(self, row: dict):
        return self.indexes.open(row, self._parts.manifest(), self.settings)

    def collection_index(self, name: str, ctx: RequestContext | None = None):
        return self.open_index(self.collection_row(name, ctx))

    def check_index_settings(self, name: str, ctx: RequestContext | None = None) -> None:
        """Conflict when the collection's index was built with other settings than these: an ingest into it would
        stop at its first batch, so an upload is refused before any file is stored."""
        row = self.collection_row(name, ctx)
        with self.store.cursor() as cur:
            recorded = collection_store.index_settings(cur, row["id"])
        if recorded:
            try:
                IndexManifest.from_dict(recorded).check_compatible(self._parts.manifest())
            except GroundworkError as exc:
                raise Conflict(f"collection {row['name']!r}: {exc}", field="collection") from None

    def reconcile(self, name: str):
        """Re-check a collection's index against DuckDB now (also done whenever an index is first opened)."""
        return self.indexes.reconcile(self.collection_row(name), self._parts.manifest(), self.settings)

    # --- collections ---------------------------------------------------------------------
    def collections(self, ctx: RequestContext | None = None) -> list[dict]:
        ctx = ctx or self.system
        return [
            {"name": r["name"], "tenant": r["tenant"], "description": r["description"], "documents": r["documents"],
             "chunks": r["chunks"], "tokens": int(r["tokens"]), "created_at": r["created_at"],
             "index_version": r["index_version"], "last_ingest_at": r["last_ingest_at"],
             "index_settings": parse_json(r["index_settings"])}
            for r in self._all_collection_rows() if ctx.can_read(r)
        ]

    def _all_collection_rows(self) -> list[dict]:
        """Every collection with its counts, read again only after a corpus write committed. The query spends
        ~5 ms in DuckDB's planner, and every page and GET /api/v1/collections asks for it."""
        commits = self.store.commits()
        cached = self._collection_rows
        if cached is not None and cached[0] == commits:
            return cached[1]
        with self.store.cursor() as cur:
            rows = collection_store.list_collections(cur)
        self._collection_rows = (commits, rows)
        return rows

    def collection_names(self, ctx: RequestContext | None = None) -> list[str]:
        ctx = ctx or self.system
        with self.store.cursor() as cur:
            return [r["name"] for r in collection_store.scope_rows(cur) if ctx.can_read(r)]

    def has_collection(self, name: str, ctx: RequestContext | None = None) -> bool:
        ctx = ctx or self.system
        with self.store.cursor() as cur:
            row = collection_store.collection_row(cur, name)
        return row is not None and ctx.can_read(row)

    def index_version(self, name: str, ctx: RequestContext | None = None) -> int:
        return self.collection_row(name, ctx)["index_version"]

    # --- changes (backend/corpus/changes.py authorises and audits each) -------------------------
    def writable(self, name: str, ctx: RequestContext | None = None) -> dict:
        """The collection's row if the caller may change it (NotFound when unreadable, Forbidden for a reader)."""
        return self._changes.writable(name, ctx)

    def create_collection(self, name: str, tenant: str | None = None, description: str = "",
                          ctx: RequestContext | None = None) -> dict:
        return self._changes.create_collection(name, tenant, description, ctx)

    def ensure_collection(self, name: str, ctx: RequestContext | None = None) -> dict:
        return self._changes.ensure_collection(name, None, ctx)

    def rename_collection(self, old: str, new: str, ctx: RequestContext | None = None) -> None:
        self._changes.rename_collection(old, new, ctx)

    def delete_collection(self, name: str, ctx: RequestContext | None = None) -> None:
        self._changes.delete_collection(name, ctx)

    def set_pii_at_ingest(self, name: str, mode: str, ctx: RequestContext | None = None) -> dict:
        """'redact' or 'flag' personal data in the collection's next ingests (existing documents stay as stored)."""
        return self._changes.set_pii_at_ingest(name, mode, ctx)

    def pii_modes(self, ctx: RequestContext | None = None) -> dict[str, str]:
        """Each readable collection's pii_at_ingest, as its ingests apply it ('flag' or 'redact'), by name."""
        ctx = ctx or self.system
        with self.store.cursor() as cur:
            rows = collection_store.scope_rows(cur)
            modes = document_pii_store.collection_modes(cur)
        return {r["name"]: collection_mode({"pii_at_ingest": modes.get(r["name"])}, self.settings)
                for r in rows if ctx.can_read(r)}

    def delete_document(self, document_id: int, ctx: RequestContext | None = None) -> int:
        """Mark the document deleted (its versions stay recorded) and remove its chunks from DuckDB, FAISS and BM25;
        an e-mail's attachments' documents go with it (see remove_document); the number of chunks removed."""
        return self._changes.delete_document(document_id, ctx).chunks

    def remove_document(self, document_id: int, ctx: RequestContext | None = None) -> DocumentDeletion:
        """delete_document, answering what went: the chunks, and which attachments' documents left with a mail."""
        return self._changes.delete_document(document_id, ctx)

    def attachments(self, document_id: int, ctx: RequestContext | None = None) -> list[dict]:
        """The active documents of an e-mail's attachments (id, title, source), which its delete removes with it."""
        return self._changes.attachments(document_id, ctx)

    def move_document(self, document_id: int, collection: str, ctx: RequestContext | None = None) -> None:
        """Move a document and its chunks to another collection (created in its tenant if missing), reusing the
        stored embeddings."""
        self._changes.move_document(document_id, collection, ctx)

    def reingest_document(self, document_id: int, ctx: RequestContext | None = None) -> FileOutcome:
        """Load the document's source file again: a changed file becomes a new version, an unchanged one stays."""
        return self._changes.reingest_document(document_id, ctx)

    # --- retention: days a collection keeps its documents (backend/privacy/retention.py applies them) --------------
    def retention_settings(self, ctx: RequestContext | None = None) -> list[dict]:
        """Each readable collection's name, tenant and retention_days (None: kept for ever), by name."""
        ctx = ctx or self.system
        with self.store.cursor() as cur:
            return [r for r in retention_store.retention_collections(cur) if ctx.can_read(r)]

    def set_retention_days(self, name: str, days: int | None, ctx: RequestContext | None = None) -> dict:
        """Keep the collection's documents `days` days after their last ingest or update (None: for ever); only a
        caller who may change the collection (an operator in its tenant, an admin). Audited with before and after."""
        ctx = ctx or self.system
        days = check_retention_days(days)
        row = self.writable(name, ctx)
        with self.store.transaction() as cur:
            current = collection_store.collection_by_id(cur, row["id"])
            if current is None:  # deleted in between
                raise NotFound(f"collection {name!r} does not exist", field="collection")
            before = current["retention_days"]
            if before != days:
                collection_store.set_retention_days(cur, row["id"], days)
                audit(cur, "collection.retention", row["name"], {"tenant": row["tenant"], "from": before, "to": days},
                      ctx.user)
        return {"name": row["name"], "tenant": row["tenant"], "retention_days": days}

    # --- ingest --------------------------------------------------------------------------
    def run_items(self, collection: str, items, total: int | None, label: str,
                  progress: Callable[[IngestEvent], None] | None, ctx: RequestContext | None = None) -> IngestReport:
        row = self.ensure_collection(collection, ctx)
        with self.indexes.writer_lock(row["id"]):
            index = self.open_index(row)
            pipeline = IngestPipeline(
                self.store, self.settings, row, index, self._parts.embedder, self._parts.counter,
                index_lock=self.indexes.index_lock(row["id"]), redactor=self._parts.ingest_redactor(), progress=progress,
            )
            return pipeline.run(items, total=total, label=label)

    def ingest(self, paths: list[Path], collection: str | None = None,
               progress: Callable[[IngestEvent], None] | None = None,
               ctx: RequestContext | None = None, ocr: str | None = None) -> IngestReport:
        """Ingest files and folders (recursively, hidden entries skipped); one outcome per file (and per attachment of
        an e-mail), never stopping early. `ocr` (auto, always, off) for these files; default: the ocr setting."""
        collection = collection or self.settings.default_collection
        max_bytes = int(self.settings.max_file_mb * 1024 * 1024)
        ocr = ocr or self.settings.ocr
        items = [item for display, path in expand_paths(paths) for item in path_items(display, path, max_bytes, ocr)]
        return self.run_items(collection, items, len(items), " ".join(str(p) for p in paths), progress, ctx)

    def ingest_records(self, collection: str, records: Iterable[LoadedDocument],
                       progress: Callable[[IngestEvent], None] | None = None, label: str = "records",
                       ctx: RequestContext | None = None) -> IngestReport:
        """Ingest already-loaded documents (e.g. a BEIR corpus; source = its id), embedding across documents in batches."""
        total = len(records) if isinstance(records, Sized) else None
        return self.run_items(collection, (record_item(r) for r in records), total, label, progress, ctx)

    # --- reads ---------------------------------------------------------------------------
    def documents(self, collection: str | None = None, status: str | None = "active", title_contains: str | None = None,
                  mime_type: str | None = None, updated_after=None, updated_before=None, order_by: str = "updated_at",
                  descending: bool = True, limit: int | None = 1000, offset: int = 0,
                  ctx: RequestContext | None = None) -> list[dict]:
        scope = self._scope(collection, ctx)
        with self.store.cursor() as cur:
            return document_store.list_documents(cur, scope, status, title_contains, mime_type, updated_after,
                                                 updated_before, order_by, descending, limit, offset)

    def count_documents(self, collection: str | None = None, status: str | None = "active",
                        title_contains: str | None = None, mime_type: str | None = None,
                        updated_after=None, updated_before=None, ctx: RequestContext | None = None) -> int:
        scope = self._scope(collection, ctx)
        with self.store.cursor() as cur:
            return document_store.count_documents(cur, scope, status, title_contains, mime_type, updated_after, updated_before)

    def document(self, document_id: int, ctx: RequestContext | None = None) -> Document:
        self._document_row(document_id, ctx)
        with self.store.cursor() as cur:
            return document_store.document(cur, document_id)

    def chunks(self, document_id: int, ctx: RequestContext | None = None) -> list[Chunk]:
        self._document_row(document_id, ctx)
        with self.store.cursor() as cur:
            return chunk_store.document_chunks(cur, document_id)

    def chunks_by_ids(self, chunk_ids: list[int], ctx: RequestContext | None = None) -> dict[int, Chunk]:
        ctx = ctx or self.system
        with self.store.cursor() as cur:
            chunks = chunk_store.chunks_by_ids(cur, chunk_ids)
            if ctx.tenants is None and ctx.collections is None:
                return chunks
            readable = {r["name"] for r in collection_store.scope_rows(cur) if ctx.can_read(r)}
        return {i: c for i, c in chunks.items() if c.collection in readable}

    def document_versions(self, document_id: int, ctx: RequestContext | None = None) -> list[dict]:
        self._document_row(document_id, ctx)
        with self.store.cursor() as cur:
            return document_store.document_versions(cur, document_id)

    def document_source_map(self, collection: str, ctx: RequestContext | None = None) -> dict[int, str]:
        row = self.collection_row(collection, ctx)
        with self.store.cursor() as cur:
            return document_store.document_source_map(cur, row["id"])

    def ingest_runs(self, limit: int = 50, collection: str | None = None,
                    ctx: RequestContext | None = None) -> list[dict]:
        scope = self._scope(collection, ctx)
        with self.store.cursor() as cur:
            return ingest_run_store.ingest_runs(cur, limit, scope)

    def ingest_files(self, run_id: int) -> list[dict]:
        with self.store.cursor() as cur:
            return ingest_run_store.ingest_files(cur, run_id)

    def ingest_run(self, run_id: int, ctx: RequestContext | None = None) -> dict:
        """One run with its per-file outcomes ("files"), if the caller may read its collection; else NotFound."""
        ctx = ctx or self.system
        with self.store.cursor() as cur:
            run = ingest_run_store.ingest_run(cur, run_id)
            # A run of a collection since deleted has no tenant left: only a caller who reads everything sees it.
            if run is None or not (ctx.can_read({"name": run["collection"], "tenant": run["tenant"]})
                                   if run["tenant"] is not None else ctx.tenants is None and ctx.collections is None):
                raise NotFound(f"unknown ingest run id {run_id}", field="run_id")
            return {**run, "files": ingest_run_store.ingest_files(cur, run_id)}

    def collection_stats(self, name: str, load_indexes: bool = False, ctx: RequestContext | None = None) -> dict:
        """One readable collection's entry of `stats()`: its counts, mime types, index sizes and what built its index
        (Conflict, when loading it, if these settings would not build that index)."""
        row = self.collection_row(name, ctx)
        if load_indexes:
            self.check_index_settings(row["name"], ctx)
        return self._collection_entry(next(c for c in self.collections(ctx) if c["name"] == row["name"]), load_indexes)

    def _collection_entry(self, info: dict, load_indexes: bool) -> dict:
        row = self.collection_row(info["name"])  # `info` came from a scoped listing
        with self.store.cursor() as cur:
            mime_types = document_store.mime_type_counts(cur, row["id"])
        index = self.open_index(row) if load_indexes else self.indexes.loaded(row["id"])
        entry = {**info, "mime_types": mime_types, "index_bytes": self.indexes.bytes_on_disk(row["id"]), "index": None}
        if index is not None:
            with self.indexes.index_lock(row["id"]):
                entry["index"] = index.stats()
        return entry

    def stats(self, load_indexes: bool = False, ctx: RequestContext | None = None) -> dict:
        """Totals, and per collection: documents, chunks, index sizes and the settings that built its index.

        Index entry counts come from the loaded index; with load_indexes=False an index not yet opened in
        this process reports only its size on disk (so a page can show stats without loading models).
        """
        collections = [self._collection_entry(info, load_indexes) for info in self.collections(ctx)]
        runs = self.ingest_runs(1, ctx=ctx)
        dim = self._parts.loaded_embedder_dim()
        return {
            "documents": sum(c["documents"] for c in collections),
            "chunks": sum(c["chunks"] for c in collections),
            "tokens": sum(c["tokens"] for c in collections),
            "model": self.settings.embedding_model,
            "dim": dim if dim is not None else next(
                (c["index_settings"]["dim"] for c in collections if c["index_settings"]), None),
            "chunk_tokens": self.settings.chunk_tokens,
            "chunk_overlap": self.settings.chunk_overlap,
            "index_bytes": sum(c["index_bytes"] for c in collections),
            "collections": collections,
            "last_ingest_run": runs[0] if runs else None,
        }
