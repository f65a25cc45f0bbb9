"""Changes to the corpus (collections created, renamed, deleted; documents deleted, moved, re-ingested), each
authorised in the backend by the caller's RequestContext and audited as that caller."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from backend.context import RequestContext
from backend.ingest.attachments import attachments_prefix, mail_source
from backend.ingest.chunking import embedding_text
from backend.ingest.items import FileOutcome, IngestEvent, IngestReport, path_items
from backend.ingest.personal_data import collection_mode
from backend.models import Conflict, Forbidden, InputError
from backend.retrieval.indexes import IndexRegistry
from backend.settings import Settings
from backend.store import attachments as attachment_store
from backend.store import chunks as chunk_store
from backend.store import collections as collection_store
from backend.store import document_files as document_file_store
from backend.store import document_pii as document_pii_store
from backend.store import documents as document_store
from backend.store.audit import audit
from backend.store.db import Store
from backend.store.rows import parse_json


class _Corpus(Protocol):
    """What the changes need of CorpusService (a protocol, so this module does not import the service)."""

    store: Store
    settings: Settings
    indexes: IndexRegistry
    system: RequestContext

    def collection_row(self, name: str | None, ctx: RequestContext | None = None) -> dict: ...

    def require_document(self, document_id: int, ctx: RequestContext | None = None) -> dict: ...

    def collection_by_id(self, collection_id: int) -> dict: ...

    def open_index(self, row: dict) -> Any: ...

    def run_items(self, collection: str, items: Any, total: int | None, label: str,
                  progress: Callable[[IngestEvent], None] | None, ctx: RequestContext | None = None) -> IngestReport: ...

_COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass
class DocumentDeletion:
    """What one delete removed: the document, and for an e-mail the documents of its attachments with it."""

    document_id: int
    chunks: int = 0  # the document's and its attachments' chunks
    attachments: list[dict] = field(default_factory=list)  # id, title, source, chunks of each attachment deleted

    @property
    def ids(self) -> list[int]:
        return [self.document_id] + [a["id"] for a in self.attachments]


def check_collection_name(name) -> str:
    if not isinstance(name, str) or not _COLLECTION_NAME.match(name):
        raise InputError(
            f"collection name {name!r}: use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit",
            field="name")
    return name


class CorpusChanges:
    """The write side of CorpusService (which delegates to it): who may change what, then the change itself.

    A collection the caller may not read does not exist for it (NotFound, as for reads); one it may read but
    not change (an analyst's, a stakeholder's) is Forbidden. Only operators and admins change the corpus, and
    an operator only within their tenants.
    """

    def __init__(self, service: _Corpus):
        self.service = service
        self.store = service.store

    def _ctx(self, ctx: RequestContext | None) -> RequestContext:
        return ctx or self.service.system

    def writable(self, name: str, ctx: RequestContext | None = None) -> dict:
        """The collection's row if the caller may change it."""
        ctx = self._ctx(ctx)
        row = self.service.collection_row(name, ctx)
        self._require_writer(ctx, f"change the collection {row['name']!r}")
        return row

    @staticmethod
    def _require_writer(ctx: RequestContext, what: str) -> None:
        if not ctx.may_change():
            raise Forbidden(f"the role {ctx.role} may not {what} (needs: operator or admin)")

    # --- collections -----------------------------------------------------------------------
    def create_collection(self, name: str, tenant: str | None, description: str, ctx: RequestContext | None) -> dict:
        ctx = self._ctx(ctx)
        check_collection_name(name)
        tenant = tenant or (ctx.tenant if ctx.tenants is not None else self.service.settings.default_tenant)
        self._require_writer(ctx, "create collections")
        if ctx.tenants is not None and tenant not in ctx.tenants:
            raise Forbidden(f"tenant {tenant!r}: you may create collections only in {', '.join(sorted(ctx.tenants))}")
        with self.store.transaction() as cur:
            if collection_store.collection_row(cur, name) is not None:
                # Names are unique across tenants (they name indexes and upload folders), so this says it is taken.
                raise Conflict(f"collection {name!r} already exists", field="name")
            collection_id = collection_store.insert_collection(cur, name, tenant, description)
            # GROUNDWORK_REDACT_AT_INGEST is the default of a new collection; set_pii_at_ingest changes it.
            mode = "redact" if self.service.settings.redact_at_ingest else "flag"
            document_pii_store.set_collection_mode(cur, collection_id, mode)
            audit(cur, "collection.create", name, {"tenant": tenant, "pii_at_ingest": mode}, ctx.user)
            return collection_store.require_collection(cur, name)

    def ensure_collection(self, name: str, tenant: str | None = None, ctx: RequestContext | None = None) -> dict:
        """The collection's row, created (in `tenant`, else the caller's) when missing; changeable by the caller."""
        ctx = self._ctx(ctx)
        with self.store.cursor() as cur:
            row = collection_store.collection_row(cur, name)
        if row is not None:
            return self.writable(name, ctx)
        try:
            return self.create_collection(name, tenant, "", ctx)
        except Conflict:
            return self.writable(name, ctx)  # created by another thread in between

    def set_pii_at_ingest(self, name: str, mode: str, ctx: RequestContext | None) -> dict:
        """Redact personal data at ingest ('redact') or only record it ('flag'), for the collection's next ingests:
        documents stored already keep their text until they are ingested again. Audited as a settings change."""
        ctx = self._ctx(ctx)
        if mode not in document_pii_store.PII_MODES:
            raise InputError(f"pii_at_ingest {mode!r}: choose 'flag' (record personal data, store the text as is) or "
                             "'redact' (record it and store the text redacted)", field="pii_at_ingest")
        row = self.writable(name, ctx)
        before = collection_mode(row, self.service.settings)
        with self.store.transaction() as cur:
            document_pii_store.set_collection_mode(cur, row["id"], mode)
            if before != mode or row.get("pii_at_ingest") is None:
                audit(cur, "collection.settings", row["name"], {"tenant": row["tenant"], "setting": "pii_at_ingest",
                                                                "from": before, "to": mode}, ctx.user)
        return {"name": row["name"], "tenant": row["tenant"], "pii_at_ingest": mode}

    def rename_collection(self, old: str, new: str, ctx: RequestContext | None) -> None:
        ctx = self._ctx(ctx)
        check_collection_name(new)
        row = self.writable(old, ctx)
        if row["name"] == new:
            return
        with self.store.transaction() as cur:
            if collection_store.collection_row(cur, new) is not None:
                raise Conflict(f"collection {new!r} already exists", field="name")
            collection_store.rename_collection(cur, row["id"], new)
            audit(cur, "collection.rename", old, {"to": new}, ctx.user)

    def delete_collection(self, name: str, ctx: RequestContext | None) -> None:
        ctx = self._ctx(ctx)
        row = self.writable(name, ctx)
        indexes = self.service.indexes
        with indexes.writer_lock(row["id"]):
            with self.store.transaction() as cur:
                documents = document_store.count_active_documents(cur, row["id"])
                if documents:
                    raise Conflict(f"collection {name!r} holds {documents} document(s); delete or move them first")
                chunk_store.delete_collection_chunks(cur, row["id"])
                document_pii_store.delete_collection_findings(cur, row["id"])
                collection_store.delete_collection(cur, row["id"])
                audit(cur, "collection.delete", name, {"tenant": row["tenant"]}, ctx.user)
            indexes.drop(row["id"])

    # --- documents -------------------------------------------------------------------------
    def _document(self, document_id: int, ctx: RequestContext, what: str) -> tuple[dict, dict]:
        """(the document's row, its collection's row) if the caller may change that collection."""
        doc = self.service.require_document(document_id, ctx)
        self._require_writer(ctx, f"{what} documents")
        return doc, self.service.collection_by_id(doc["collection_id"])

    def attachments(self, document_id: int, ctx: RequestContext | None) -> list[dict]:
        """The active attachments' documents (id, title, source) a delete of this document takes with it."""
        doc = self.service.require_document(document_id, self._ctx(ctx))
        with self.store.cursor() as cur:
            return attachment_store.attachment_rows(cur, doc["collection_id"], document_id,
                                                    attachments_prefix(doc["source"]))

    def delete_document(self, document_id: int, ctx: RequestContext | None) -> DocumentDeletion:
        """The document and, for an e-mail, its attachments' documents, in ONE transaction: nothing half-deleted."""
        ctx = self._ctx(ctx)
        doc, row = self._document(document_id, ctx, "delete")
        indexes = self.service.indexes
        deletion = DocumentDeletion(document_id)
        with indexes.writer_lock(row["id"]):
            index = self.service.open_index(row)
            with self.store.transaction() as cur:
                # Checked under the writer lock: of two deletes at once, the second finds it deleted.
                current = document_store.require_document(cur, document_id)
                if current["status"] == "deleted":
                    raise Conflict(f"document {document_id} is already deleted", field="document_id")
                # Read in the transaction: an attachment ingested meanwhile goes too, one deleted meanwhile is not
                # counted. An attachment's own attachments (a forwarded mail's) come with it.
                deletion.attachments = attachment_store.attachment_rows(cur, row["id"], document_id,
                                                                        attachments_prefix(current["source"]))
                removed: list[int] = []
                for target in [current, *deletion.attachments]:
                    gone = chunk_store.delete_document_chunks(cur, target["id"])
                    removed += gone
                    document_store.mark_document_deleted(cur, target["id"])
                    document_file_store.delete_document_files(cur, target["id"])  # versions' text stays, not files
                    document_pii_store.delete_document_findings(cur, target["id"])
                    if target is not current:
                        target["chunks"] = len(gone)
                        audit(cur, "document.delete", str(target["id"]),
                              {"title": target["title"], "chunks": len(gone), "collection": row["name"],
                               "with_mail": document_id}, ctx.user)
                collection_store.bump_index_version(cur, row["id"])
                audit(cur, "document.delete", str(document_id),
                      {"title": doc["title"], "chunks": len(removed), "collection": row["name"],
                       "attachments": len(deletion.attachments)}, ctx.user)
            deletion.chunks = len(removed)
            with indexes.index_lock(row["id"]):
                if removed:
                    index.remove(removed)
                index.save()
        return deletion

    def move_document(self, document_id: int, collection: str, ctx: RequestContext | None) -> None:
        ctx = self._ctx(ctx)
        doc, source_row = self._document(document_id, ctx, "move")
        if doc["status"] == "deleted":
            raise Conflict(f"document {document_id} is deleted; it cannot be moved", field="document_id")
        if source_row["name"] == collection:
            return
        # A new target is made in the document's own tenant: a move never hands a document to another tenant
        # unless the caller may change a collection there.
        target_row = self.ensure_collection(collection, source_row["tenant"], ctx)
        indexes = self.service.indexes
        first, second = sorted([source_row["id"], target_row["id"]])
        with indexes.writer_lock(first), indexes.writer_lock(second):
            source_index, target_index = self.service.open_index(source_row), self.service.open_index(target_row)
            with self.store.transaction() as cur:
                clash = document_store.active_document_by_hash(cur, target_row["id"], doc["content_hash"])
                if clash is not None:
                    raise Conflict(f"collection {collection!r} already holds the same content as document "
                                   f"{clash['id']} ({clash['title']!r})", field="collection")
                # Its personal-data findings are keyed by the document alone: they move with it, scoped by its
                # new collection from now on.
                document_store.move_document(cur, document_id, target_row["id"], target_row["tenant"])
                collection_store.bump_index_version(cur, source_row["id"])
                collection_store.bump_index_version(cur, target_row["id"])
                audit(cur, "document.move", str(document_id), {"from": source_row["name"], "to": collection}, ctx.user)
                ids, vectors, texts, titles, headings = chunk_store.chunk_index_rows(
                    cur, chunk_store.document_chunk_ids(cur, document_id))
            with indexes.index_lock(first), indexes.index_lock(second):
                if len(ids):
                    source_index.remove(ids)
                    target_index.add(ids, vectors, [embedding_text(t, h, x) for x, t, h in zip(texts, titles, headings)])
                source_index.save()
                target_index.save()

    def reingest_document(self, document_id: int, ctx: RequestContext | None) -> FileOutcome:
        ctx = self._ctx(ctx)
        doc, row = self._document(document_id, ctx, "re-ingest")
        if doc["status"] == "deleted":
            raise Conflict(f"document {document_id} is deleted; ingest its file again instead", field="document_id")
        path = Path(doc["source"])
        mail = mail_source(doc["source"], parse_json(doc["metadata"]) or {})
        if mail is not None and Path(mail).is_file():
            path = Path(mail)  # an e-mail's attachment: its mail is read again, with all its attachments
        if not path.is_file():
            raise InputError(f"{doc['source']}: the source file of document {document_id} no longer exists")
        items = path_items(str(path), path, int(self.service.settings.max_file_mb * 1024 * 1024),
                           self.service.settings.ocr)
        files = self.service.run_items(row["name"], items, len(items), f"reingest document {document_id}", None, ctx).files
        gone = files[0] if files[0].outcome == "failed" else FileOutcome(  # the mail itself failed, or lost it
            doc["source"], "failed", message=f"{doc['source']}: no longer attached to {path.name}")
        return next((f for f in files if f.path == doc["source"]), gone)
