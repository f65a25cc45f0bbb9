"""Recorded personal data in the corpus: a document's findings, the documents holding a value, the backfill scan."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from backend.context import RequestContext
from backend.ingest.personal_data import collection_mode, locate, scan, search_hashes
from backend.models import ChunkSpan, Forbidden, InputError
from backend.store import chunks as chunk_store
from backend.store import document_pii
from backend.store import documents as document_store
from backend.store.rows import parse_json

MAX_VALUE_CHARS = 320  # the longest e-mail address is 254 characters; a search box past this holds no one value


@dataclass
class DocumentFindings:
    """What ingest (or pii-scan) recorded of a document's current version, and its collection's mode now."""

    mode: str  # the collection's pii_at_ingest now: 'flag' or 'redact'
    scanned: bool  # False: ingested before findings were recorded (python -m backend pii-scan records them)
    redacted: bool  # this version's text was stored with its personal data replaced
    counts: dict[str, int]  # entity type -> findings, most first
    places: list[dict]  # entity type, chunk (1-based), chunk id, page, char_start, char_end, score; text order

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def document_findings(platform, document_id: int, ctx: RequestContext | None = None) -> DocumentFindings:
    """The recorded findings of a document the caller may read (NotFound otherwise): never a value, only where."""
    row = platform.corpus.require_document(document_id, ctx)
    collection = platform.corpus.collection_by_id(row["collection_id"])
    with platform.store.cursor() as cur:
        scan_row = document_pii.document_scan(cur, document_id)
        found = document_pii.document_findings(cur, document_id)
    counts = Counter(f["entity_type"] for f in found)
    places = [{"entity type": f["entity_type"], "chunk": f["chunk_ordinal"] + 1 if f["chunk_ordinal"] is not None
               else None, "chunk id": f["chunk_id"], "page": f["page"], "char_start": f["char_start"],
               "char_end": f["char_end"], "score": f["score"]} for f in found]
    return DocumentFindings(collection_mode(collection, platform.settings), scan_row is not None,
                            bool(scan_row and scan_row["redacted"]),
                            dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))), places)


# --- which documents hold this value? -------------------------------------------------------------------------
@dataclass
class ValueMatch:
    """One document holding the searched value: where (chunks, pages) and as which entity types."""

    document_id: int
    title: str
    source: str
    collection: str
    entity_types: list[str]
    places: list[dict] = field(default_factory=list)  # entity_type, chunk_id, chunk (1-based), page, char_start, char_end

    @property
    def findings(self) -> int:
        return len(self.places)


def check_value(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError("value: type the e-mail address, phone number, name or IBAN to look for", field="value")
    if len(value) > MAX_VALUE_CHARS:
        raise InputError(f"value: at most {MAX_VALUE_CHARS} characters (one e-mail, phone number, name or IBAN)",
                         field="value")
    return value


def documents_with_value(platform, value: str, collection: str | None = None,
                         ctx: RequestContext | None = None) -> list[ValueMatch]:
    """The active documents of the caller's collections (one, with `collection`) whose recorded findings hold
    `value`, found by its salted hash: the value is normalised as at ingest, never stored or logged. Operators and
    admins only: an analyst may read a document, not ask the corpus where a person appears."""
    ctx = ctx or platform.corpus.system
    if not ctx.may_change():
        raise Forbidden(f"the role {ctx.role} may not search personal data (needs: operator or admin)")
    check_value(value)
    scope = platform.corpus.scope(collection or None, ctx)
    with platform.store.cursor() as cur:
        rows = document_pii.findings_with_values(cur, search_hashes(platform.settings.data_dir, value), scope)
    matches: dict[int, ValueMatch] = {}
    for r in rows:
        match = matches.setdefault(r["document_id"], ValueMatch(r["document_id"], r["title"], r["source"],
                                                                r["collection"], []))
        if r["entity_type"] not in match.entity_types:
            match.entity_types.append(r["entity_type"])
        match.places.append({"entity_type": r["entity_type"], "chunk_id": r["chunk_id"],
                             "chunk": r["chunk_ordinal"] + 1 if r["chunk_ordinal"] is not None else None,
                             "page": r["page"], "char_start": r["char_start"], "char_end": r["char_end"]})
    return list(matches.values())


# --- the backfill: documents ingested before findings were recorded ---------------------------------------------
@dataclass
class BackfillReport:
    documents: int = 0  # analysed now
    with_findings: int = 0
    counts: Counter = field(default_factory=Counter)  # entity type -> findings
    by_collection: dict[str, int] = field(default_factory=dict)  # collection -> documents analysed


def backfill_findings(platform, collection: str | None = None, ctx: RequestContext | None = None,
                      progress: Callable[[int, int], None] | None = None) -> BackfillReport:
    """Record findings for every active document (of `collection`, else of every collection the caller may change)
    whose current version has none recorded: one analysis of its stored text, its stored chunks' places. Each
    document in its own transaction, under its collection's writer lock, so an ingest never races it."""
    ctx = ctx or platform.corpus.system
    if not ctx.may_change():
        raise Forbidden(f"the role {ctx.role} may not record personal-data findings (needs: operator or admin)")
    scope = platform.corpus.scope(collection or None, ctx)
    with platform.store.cursor() as cur:
        todo = document_pii.unscanned_documents(cur, scope)
    redactor = platform.ingest_redactor()
    report = BackfillReport()
    for done, row in enumerate(todo, start=1):
        collection_row = platform.corpus.collection_row(row["collection"], ctx)
        with platform.corpus.indexes.writer_lock(collection_row["id"]):
            with platform.store.cursor() as cur:
                document = document_store.document(cur, row["id"])
                chunks = chunk_store.document_chunks(cur, row["id"])
            if document.version != row["version"] or document.status == "deleted":
                continue  # re-ingested or deleted since it was listed: that ingest recorded its findings
            spans = [ChunkSpan("", c.char_start, c.char_end, c.token_count, c.page) for c in chunks]
            found = locate(scan(redactor, platform.settings.data_dir, document.text), spans, document.sections)
            redacted = bool((parse_json(row["metadata"]) or {}).get("redacted"))
            with platform.store.transaction() as cur:
                document_pii.write_findings(cur, [(row["id"], row["version"], redacted)], [
                    (row["id"], row["version"], chunks[f.chunk].id if f.chunk is not None else None, f.entity_type,
                     f.start, f.end, f.page, f.score, f.value_hash) for f in found])
        report.documents += 1
        report.with_findings += bool(found)
        report.counts.update(f.entity_type for f in found)
        report.by_collection[row["collection"]] = report.by_collection.get(row["collection"], 0) + 1
        if progress is not None:
            progress(done, len(todo))
    return report
