"""What the corpus browser shows: paged document lists, document detail, diffs, PII findings, search explanation, overview aggregates, exports."""
from __future__ import annotations

import difflib
import io
import json
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from backend.ingest.tokens import MODEL_WINDOW, SPECIAL_TOKENS
from backend.models import Document, InputError

# --- vocabulary ------------------------------------------------------------------------------
MIME_LABELS = {
    "application/pdf": "PDF",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel",
    "text/html": "HTML",
    "text/markdown": "Markdown",
    "text/plain": "Text",
    "text/csv": "CSV",
}
# A document's status: 'deleted', else the `status` its own front matter declares (current, superseded,
# draft…), else 'active'. One column, so the table filters on what a reader cares about.
_STATUS_SQL = (
    "CASE WHEN d.status = 'deleted' THEN 'deleted'"
    " ELSE coalesce(nullif(lower(trim(json_extract_string(d.metadata, '$.status'))), ''), 'active') END"
)
_FROM = "documents d JOIN collections col ON col.id = d.collection_id"
SORT_COLUMNS = {
    "updated": "d.updated_at", "created": "d.created_at", "title": "lower(d.title)", "collection": "col.name",
    "type": "d.mime_type", "status": "status", "chunks": "chunks", "tokens": "tokens", "size": "d.size_bytes",
    "id": "d.id", "version": "d.version",
}
EXPORT_FORMATS = {"csv": ("text/csv", "csv"), "parquet": ("application/vnd.apache.parquet", "parquet")}
TEXT_PIECES = MODEL_WINDOW - SPECIAL_TOKENS  # word pieces of text a chunk may hold: the window minus [CLS]/[SEP]


def type_label(mime_type: str) -> str:
    return MIME_LABELS.get(mime_type, mime_type)


def _dicts(result) -> list[dict[str, Any]]:
    names = [d[0] for d in result.description]
    return [dict(zip(names, row)) for row in result.fetchall()]


def _like(text: str) -> str:
    """A LIKE pattern matching `text` literally anywhere (user input may contain % or _)."""
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


# --- the documents table ---------------------------------------------------------------------
@dataclass
class DocumentQuery:
    """Filters, sort and page of the documents table; every part is applied in SQL."""

    collection: str | None = None  # None: every collection
    search: str = ""  # title or file name contains (case-insensitive)
    mime_types: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()  # empty: all but deleted
    updated_from: date | None = None
    updated_to: date | None = None  # inclusive
    order_by: str = "updated"
    descending: bool = True
    page: int = 1
    page_size: int = 50

    def where(self) -> tuple[str, list]:
        clauses, params = [], []
        if self.collection:
            clauses.append("col.name = ?")
            params.append(self.collection)
        if self.search.strip():
            clauses.append("(d.title ILIKE ? ESCAPE '\\' OR d.source ILIKE ? ESCAPE '\\')")
            params += [_like(self.search.strip())] * 2
        if self.mime_types:
            clauses.append("d.mime_type IN (SELECT unnest(?))")
            params.append(list(self.mime_types))
        if self.statuses:
            clauses.append(f"{_STATUS_SQL} IN (SELECT unnest(?))")
            params.append(list(self.statuses))
        else:
            clauses.append("d.status <> 'deleted'")
        if self.updated_from is not None:
            clauses.append("d.updated_at >= ?")
            params.append(datetime.combine(self.updated_from, datetime.min.time()))
        if self.updated_to is not None:
            clauses.append("d.updated_at < ?")
            params.append(datetime.combine(self.updated_to + timedelta(days=1), datetime.min.time()))
        return " AND ".join(clauses) or "TRUE", params


@dataclass
class DocumentPage:
    rows: list[dict]
    total: int
    page: int
    page_size: int
    elapsed_ms: float

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def first(self) -> int:
        return (self.page - 1) * self.page_size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def document_page(platform, query: DocumentQuery) -> DocumentPage:
    """One page of documents: filtered, counted, sorted and paged by DuckDB; chunk counts only for that page."""
    if query.order_by not in SORT_COLUMNS:
        raise InputError(f"sort: unknown column {query.order_by!r} (choose from {', '.join(SORT_COLUMNS)})")
    if query.page_size < 1 or query.page < 1:
        raise InputError(f"page: page {query.page} of size {query.page_size} is not a page")
    started = time.perf_counter()
    where, params = query.where()
    direction = "DESC" if query.descending else "ASC"
    needs_counts = query.order_by in ("chunks", "tokens")
    counts_join = (
        " LEFT JOIN (SELECT document_id, count(*) AS chunks, sum(token_count) AS tokens FROM chunks GROUP BY 1) s"
        " ON s.document_id = d.id" if needs_counts else ""
    )
    with platform.store.cursor() as cur:
        total = cur.execute(f"SELECT count(*) FROM {_FROM} WHERE {where}", params).fetchall()[0][0]
        pages = max(1, -(-total // query.page_size))
        page = min(query.page, pages)
        rows = _dicts(cur.execute(
            f"SELECT d.id, d.title, d.source, col.name AS collection, d.mime_type, {_STATUS_SQL} AS status,"
            f" d.version, d.size_bytes, d.created_at, d.updated_at"
            f"{', coalesce(s.chunks, 0) AS chunks, coalesce(s.tokens, 0) AS tokens' if needs_counts else ''}"
            f" FROM {_FROM}{counts_join} WHERE {where}"
            f" ORDER BY {SORT_COLUMNS[query.order_by]} {direction} NULLS LAST, d.id {direction} LIMIT ? OFFSET ?",
            params + [query.page_size, (page - 1) * query.page_size],
        ))
        if rows and not needs_counts:
            counts = {
                doc_id: (chunks, tokens) for doc_id, chunks, tokens in cur.execute(
                    "SELECT document_id, count(*), sum(token_count) FROM chunks"
                    " WHERE document_id IN (SELECT unnest(?)) GROUP BY 1", [[r["id"] for r in rows]],
                ).fetchall()
            }
            for row in rows:
                row["chunks"], row["tokens"] = counts.get(row["id"], (0, 0))
    for row in rows:
        row["file"] = Path(row["source"]).name or row["source"]
        row["type"] = type_label(row["mime_type"])
        row["tokens"] = int(row["tokens"] or 0)
    return DocumentPage(rows, total, page, query.page_size, (time.perf_counter() - started) * 1000)


def document_facets(platform, collection: str | None = None) -> dict:
    """What the table's filters can offer: types and statuses with counts, and the range of update dates."""
    where, params = ("col.name = ?", [collection]) if collection else ("TRUE", [])
    with platform.store.cursor() as cur:
        types = cur.execute(
            f"SELECT d.mime_type, count(*) FROM {_FROM} WHERE {where} AND d.status <> 'deleted'"
            " GROUP BY 1 ORDER BY 2 DESC, 1", params).fetchall()
        statuses = cur.execute(
            f"SELECT {_STATUS_SQL} AS status, count(*) FROM {_FROM} WHERE {where} GROUP BY 1 ORDER BY 2 DESC, 1",
            params).fetchall()
        first, last = cur.execute(f"SELECT min(d.updated_at), max(d.updated_at) FROM {_FROM} WHERE {where}",
                                  params).fetchall()[0]
    return {"types": dict(types), "statuses": dict(statuses), "updated": (first, last)}


# --- one document ----------------------------------------------------------------------------
@dataclass
class DocumentDetail:
    document: Document
    status: str  # as in the table: deleted, the declared status, or active
    file: str
    size_bytes: int | None
    chunks: int
    tokens: int
    versions: list[dict]  # version, content_hash, created_at, characters (oldest first)
    notice: str = ""  # e.g. "Superseded by fees-and-charges-2025.md on 2025-04-01."

    @property
    def superseded(self) -> bool:
        return self.status == "superseded"


def status_notice(status: str, metadata: dict) -> str:
    """One sentence on a document's declared status, from its front matter (empty when there is nothing to say)."""
    if status == "superseded":
        by, on = metadata.get("superseded_by"), metadata.get("superseded_on")
        return "Superseded" + (f" by {by}" if by else "") + (f" on {on}" if on else "") + \
            ": answers quoting it may give outdated figures."
    if status == "current" and metadata.get("supersedes"):
        return f"Current version; supersedes {metadata['supersedes']}."
    return ""


def document_detail(platform, document_id: int) -> DocumentDetail:
    document = platform.document(document_id)
    with platform.store.cursor() as cur:
        status, size, chunks, tokens = cur.execute(
            f"SELECT {_STATUS_SQL}, d.size_bytes, (SELECT count(*) FROM chunks c WHERE c.document_id = d.id),"
            " (SELECT coalesce(sum(token_count), 0) FROM chunks c WHERE c.document_id = d.id)"
            " FROM documents d WHERE d.id = ?", [document_id]).fetchall()[0]
        versions = _dicts(cur.execute(
            "SELECT version, content_hash, created_at, length(text) AS characters FROM document_versions"
            " WHERE document_id = ? ORDER BY version", [document_id]))
    return DocumentDetail(document, status, Path(document.source).name or document.source, size, chunks,
                          int(tokens), versions, status_notice(status, document.metadata))


def version_text(platform, document_id: int, version: int) -> str:
    with platform.store.cursor() as cur:
        rows = cur.execute("SELECT text FROM document_versions WHERE document_id = ? AND version = ?",
                           [document_id, version]).fetchall()
    if not rows:
        raise InputError(f"document {document_id} has no version {version}")
    return rows[0][0]


@dataclass
class VersionDiff:
    unified: str  # unified diff of the lines, for a `diff` code block
    added: int
    removed: int
    similarity: float  # 0..1, share of lines in common

    @property
    def identical(self) -> bool:
        return not self.added and not self.removed


def diff_texts(old: str, new: str, old_label: str = "old", new_label: str = "new", context: int = 2) -> VersionDiff:
    old_lines, new_lines = old.splitlines(), new.splitlines()
    lines = list(difflib.unified_diff(old_lines, new_lines, old_label, new_label, n=context, lineterm=""))
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    similarity = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False).ratio() if old_lines or new_lines else 1.0
    return VersionDiff("\n".join(lines), added, removed, round(similarity, 4))


def version_diff(platform, document_id: int, old_version: int, new_version: int, masked: bool = True) -> VersionDiff:
    """Line diff of two versions; with `masked`, of their texts with personal data masked (what the screen shows)."""
    old, new = version_text(platform, document_id, old_version), version_text(platform, document_id, new_version)
    if masked:
        redactor = _redactor(platform.settings)
        old, new = redactor(old), redactor(new)
    return diff_texts(old, new, f"version {old_version}", f"version {new_version}")


def _redactor(settings):
    from backend.pii import get_redactor  # Presidio loads on first use, not on import

    return get_redactor(settings)


class PiiMasker:
    """Personal data of one text found once (the platform's redactor), masked with the configured action
    (settings.pii_action) in any slice of it: the preview's sections without analysing each one again."""

    def __init__(self, settings, text: str):
        self.text = text
        self.redactor = _redactor(settings)
        self.findings = _without_overlaps(self.redactor.analyze(text))

    def piece(self, start: int, end: int) -> str:
        from presidio_analyzer import RecognizerResult

        piece = self.text[start:end]
        inside = [RecognizerResult(f.entity_type, max(f.start, start) - start, min(f.end, end) - start, f.score)
                  for f in self.findings if f.start < end and f.end > start]
        if not inside:
            return piece
        return self.redactor.anonymizer.anonymize(text=piece, analyzer_results=inside,
                                                  operators=self.redactor.operators).text


def _without_overlaps(findings) -> list:
    kept, end = [], -1
    for finding in sorted(findings, key=lambda f: (f.start, -f.score, -(f.end - f.start))):
        if finding.start >= end:  # Presidio can report overlapping spans; the first (best) one wins
            kept.append(finding)
            end = finding.end
    return kept


def preview_sections(document: Document, max_chars: int = 20_000,
                     masker: "PiiMasker | None" = None) -> tuple[list[tuple[str, str]], bool]:
    """(label, text) per section for a readable preview (label: page and heading path), and whether it was cut.

    With a `masker` (built on this document's text) personal data in the bodies is masked."""
    text = document.text
    spans = [(s.start, s.end, s.page, s.heading_path) for s in document.sections if s.end > s.start]
    pieces: list[tuple[str, str]] = []
    budget = max_chars
    for start, end, page, heading_path in spans or [(0, len(text), None, ())]:
        if budget <= 0:
            return pieces, True
        body = masker.piece(start, min(end, start + budget)) if masker else text[start:min(end, start + budget)]
        budget -= end - start
        body = body.strip()
        if heading_path and body.startswith(heading_path[-1]):
            body = body[len(heading_path[-1]):].strip()  # the label carries the heading
        if not body:
            continue
        label = " › ".join(heading_path)
        if page is not None:
            label = f"Page {page}" + (f" · {label}" if label else "")
        if pieces and pieces[-1][0] == label:  # consecutive spans under one heading read as one
            pieces[-1] = (label, pieces[-1][1] + "\n\n" + body)
        else:
            pieces.append((label, body))
    return pieces, budget < 0


def chunk_rows(platform, document_id: int, masked: bool = True) -> list[dict]:
    """The document's chunks; with `masked`, personal data in their texts is masked by the platform's redactor."""
    chunks = platform.chunks(document_id)
    redactor = _redactor(platform.settings) if masked and chunks else None
    return [
        {"#": c.ordinal + 1, "tokens": c.token_count, "page": c.page, "heading path": " › ".join(c.heading_path),
         "characters": c.char_end - c.char_start, "text": redactor(c.text) if redactor else c.text, "chunk id": c.id}
        for c in chunks
    ]


# --- PII -------------------------------------------------------------------------------------
@dataclass
class PiiReport:
    counts: dict[str, int]  # entity type -> findings
    segments: list[tuple[str, str | None]]  # the text with each finding replaced by its type (type, else None)
    analysed_chars: int
    total_chars: int

    @property
    def findings(self) -> int:
        return sum(self.counts.values())

    @property
    def truncated(self) -> bool:
        return self.analysed_chars < self.total_chars


def pii_report(settings, text: str, max_chars: int = 100_000) -> PiiReport:
    """Findings of the platform's redactor (backend.pii, built once per process) and the text with them masked."""
    from backend.pii import get_redactor

    sample = text[:max_chars]
    kept = _without_overlaps(get_redactor(settings).analyze(sample))
    counts: dict[str, int] = {}
    segments: list[tuple[str, str | None]] = []
    position = 0
    for finding in kept:
        counts[finding.entity_type] = counts.get(finding.entity_type, 0) + 1
        if finding.start > position:
            segments.append((sample[position:finding.start], None))
        segments.append((f"<{finding.entity_type}>", finding.entity_type))
        position = finding.end
    if position < len(sample):
        segments.append((sample[position:], None))
    return PiiReport(dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))), segments, len(sample), len(text))


# --- search explorer -------------------------------------------------------------------------
RETRIEVERS = ("bm25", "dense", "hybrid")
_WORD = re.compile(r"\w+")  # the lexical index keeps runs of 2+ word characters; tokenize_query decides the rest


def highlight_segments(text: str, terms: set[str], analyse, cache: dict[str, str | None] | None = None) -> list[tuple[str, bool]]:
    """`text` cut into (piece, matched) where matched pieces are words whose analysed form is a query term.

    `analyse` is the collection's `tokenize_query`, so a word is highlighted exactly when BM25 matched it
    (same lower-casing, stop words and stemming): "fees" lights up for the query "fee".
    """
    cache = {} if cache is None else cache
    segments: list[tuple[str, bool]] = []
    position = 0
    for match in _WORD.finditer(text):
        word = match.group(0).lower()
        if word not in cache:
            analysed = analyse(word)
            cache[word] = analysed[0] if len(analysed) == 1 else None
        if cache[word] in terms:
            if match.start() > position:
                segments.append((text[position:match.start()], False))
            segments.append((match.group(0), True))
            position = match.end()
    if position < len(text):
        segments.append((text[position:], False))
    return segments


@dataclass
class ExplainedHit:
    chunk_id: int
    document_id: int
    title: str
    file: str
    heading: str
    page: int | None
    text: str
    ranks: dict[str, int]  # retriever -> 1-based rank among its candidates ("hybrid": fused rank)
    scores: dict[str, float]
    matched_terms: list[str]  # words of the title, headings or text that BM25 matched
    text_segments: list[tuple[str, bool]]
    title_segments: list[tuple[str, bool]]
    status: str
    notice: str = ""


@dataclass
class SearchExplanation:
    query: str
    collection: str
    terms: list[str]  # the query as BM25 analysed it
    k: int
    candidate_k: int
    rankings: dict[str, list[int]]  # retriever -> chunk ids, best first (top k)
    hits: dict[int, ExplainedHit]
    elapsed_ms: float
    excluded_superseded: list[str] = field(default_factory=list)  # titles left out on request
    weak_below: float = 0.25  # settings.weak_match_cosine

    def ranked(self, retriever: str) -> list[ExplainedHit]:
        return [self.hits[chunk_id] for chunk_id in self.rankings[retriever]]

    def weak(self, hit: ExplainedHit) -> bool:
        """No query term matched (BM25 did not rank it) and its dense cosine is below the weak-match line."""
        return "bm25" not in hit.ranks and hit.scores.get("dense", 0.0) < self.weak_below

    @property
    def no_real_match(self) -> bool:
        """BM25 matched nothing and every dense hit is weak: the rankings are only the least unrelated chunks."""
        return not self.rankings["bm25"] and all(self.weak(self.hits[c]) for c in self.rankings["dense"])

    @property
    def superseded_in_results(self) -> list[str]:
        seen = {self.hits[c].title for ids in self.rankings.values() for c in ids if self.hits[c].status == "superseded"}
        return sorted(seen)


def _document_statuses(cur, document_ids) -> dict[int, tuple[str, str]]:
    rows = cur.execute(
        f"SELECT d.id, {_STATUS_SQL}, d.metadata FROM documents d WHERE d.id IN (SELECT unnest(?))",
        [list(document_ids)]).fetchall()
    out = {}
    for doc_id, status, metadata in rows:
        meta = json.loads(metadata) if isinstance(metadata, str) else (metadata or {})
        out[doc_id] = (status, status_notice(status, meta))
    return out


def superseded_documents(platform, collection: str) -> dict[int, str]:
    """id -> title of the collection's active documents whose front matter says they are superseded."""
    with platform.store.cursor() as cur:
        return dict(cur.execute(
            f"SELECT d.id, d.title FROM {_FROM} WHERE col.name = ? AND d.status = 'active'"
            f" AND {_STATUS_SQL} = 'superseded'", [collection]).fetchall())


def explain_search(platform, query: str, collection: str, k: int = 10, exclude_superseded: bool = False) -> SearchExplanation:
    """BM25, dense and fused rankings of one query side by side, each chunk with every retriever's rank and score.

    Each ranking is the platform's own search in that mode (the fused one is exactly what hybrid retrieval
    returns); ranks are over `candidate_k` candidates, so a chunk outside one retriever's top k still shows
    where that retriever put it.
    """
    started = time.perf_counter()
    settings = platform.settings
    k = max(1, int(k))
    candidate_k = max(k, settings.candidate_k)
    filters, excluded = None, []
    if exclude_superseded:
        superseded = superseded_documents(platform, collection)
        if superseded:
            excluded = sorted(superseded.values())
            with platform.store.cursor() as cur:
                keep = [i for (i,) in cur.execute(
                    f"SELECT d.id FROM {_FROM} WHERE col.name = ? AND d.status = 'active'", [collection]).fetchall()
                    if i not in superseded]
            filters = {"document_ids": keep}
    full = platform.search_modes(query, collection, RETRIEVERS, k=candidate_k, candidate_k=candidate_k, filters=filters)
    rankings = {mode: [h.chunk_id for h in hits[:k]] for mode, hits in full.items()}
    shown = {chunk_id for ids in rankings.values() for chunk_id in ids}
    ranks: dict[int, dict[str, int]] = {c: {} for c in shown}
    scores: dict[int, dict[str, float]] = {c: {} for c in shown}
    chunks = {}
    for mode, hits in full.items():
        for hit in hits:
            if hit.chunk_id in shown:
                ranks[hit.chunk_id][mode] = hit.rank
                scores[hit.chunk_id][mode] = float(hit.fused_score if mode == "hybrid" else hit.scores.get(mode, hit.fused_score))
                chunks[hit.chunk_id] = hit.chunk
    index = platform.collection_index(collection)
    terms = index.tokenize_query(query)
    term_set, cache = set(terms), {}
    with platform.store.cursor() as cur:
        statuses = _document_statuses(cur, {c.document_id for c in chunks.values()})
    hits: dict[int, ExplainedHit] = {}
    for chunk_id in shown:
        chunk = chunks[chunk_id]
        heading = " › ".join(chunk.heading_path)
        text_segments = highlight_segments(chunk.text, term_set, index.tokenize_query, cache)
        title_segments = highlight_segments(chunk.title, term_set, index.tokenize_query, cache)
        heading_segments = highlight_segments(heading, term_set, index.tokenize_query, cache)
        matched = sorted({piece.lower() for piece, hit in text_segments + title_segments + heading_segments if hit})
        status, notice = statuses.get(chunk.document_id, ("active", ""))
        hits[chunk_id] = ExplainedHit(
            chunk_id, chunk.document_id, chunk.title, Path(chunk.source).name, heading, chunk.page, chunk.text,
            ranks[chunk_id], scores[chunk_id], matched, text_segments, title_segments, status, notice)
    return SearchExplanation(query, collection, terms, k, candidate_k, rankings, hits,
                             (time.perf_counter() - started) * 1000, excluded, settings.weak_match_cosine)


# --- overview --------------------------------------------------------------------------------
def corpus_breakdown(platform) -> list[dict]:
    """Active documents, chunks and tokens per collection and file type."""
    with platform.store.cursor() as cur:
        rows = _dicts(cur.execute(
            f"SELECT col.name AS collection, d.mime_type, count(*) AS documents, coalesce(sum(s.chunks), 0) AS chunks,"
            f" coalesce(sum(s.tokens), 0) AS tokens FROM {_FROM}"
            " LEFT JOIN (SELECT document_id, count(*) AS chunks, sum(token_count) AS tokens FROM chunks GROUP BY 1) s"
            " ON s.document_id = d.id WHERE d.status = 'active' GROUP BY 1, 2 ORDER BY 1, 3 DESC"))
    for row in rows:
        row["type"] = type_label(row.pop("mime_type"))
        row["chunks"], row["tokens"] = int(row["chunks"]), int(row["tokens"])
    return rows


@dataclass
class ChunkLengths:
    bins: list[tuple[int, int]]  # (first token count of the bin, chunks in it)
    bin_width: int
    chunks: int
    mean: float
    p50: float
    p95: float
    longest: int
    target: int  # settings.chunk_tokens: what the chunker aims for
    limit: int  # word pieces of text the model window leaves (window minus [CLS]/[SEP])
    window: int
    over_target: int


def chunk_lengths(platform, collection: str | None = None, bin_width: int = 8) -> ChunkLengths:
    """Histogram of chunk token counts (binned in SQL) with the chunk target and the model window."""
    where, params = ("WHERE col.name = ?", [collection]) if collection else ("", [])
    join = " JOIN collections col ON col.id = c.collection_id" if collection else ""
    settings = platform.settings
    with platform.store.cursor() as cur:
        bins = cur.execute(
            f"SELECT (token_count // ?) * ? AS bin, count(*) FROM chunks c{join} {where} GROUP BY 1 ORDER BY 1",
            [bin_width, bin_width] + params).fetchall()
        n, mean, p50, p95, longest, over = cur.execute(
            f"SELECT count(*), avg(token_count), quantile_cont(token_count, 0.5), quantile_cont(token_count, 0.95),"
            f" max(token_count), count(*) FILTER (WHERE token_count > ?) FROM chunks c{join} {where}",
            [settings.chunk_tokens] + params).fetchall()[0]
    return ChunkLengths([(int(b), int(c)) for b, c in bins], bin_width, int(n), float(mean or 0), float(p50 or 0),
                        float(p95 or 0), int(longest or 0), settings.chunk_tokens, TEXT_PIECES, MODEL_WINDOW, int(over))


def ingest_history(platform, limit: int = 200, collection: str | None = None) -> list[dict]:
    runs = platform.ingest_runs(limit, collection)
    for run in runs:
        finished = run.get("finished_at")
        run["seconds"] = round((finished - run["started_at"]).total_seconds(), 1) if finished else None
    return runs


def near_duplicate_groups(platform, collection: str | None = None) -> list[list[dict]]:
    """Groups of documents the ingest flagged as near-duplicates of one another (from ingest_files), biggest first.

    Each member: document id (None when the copy was skipped), title, file, status, and the similarity
    ingest measured to the document it matched.
    """
    where, params = ("AND col.name = ?", [collection]) if collection else ("", [])
    with platform.store.cursor() as cur:
        edges = cur.execute(
            "SELECT f.path, f.document_id, f.near_duplicate_of, f.similarity FROM ingest_files f"
            " JOIN ingest_runs r ON r.id = f.run_id LEFT JOIN collections col ON col.id = r.collection_id"
            f" WHERE f.outcome = 'near-duplicate' AND f.near_duplicate_of IS NOT NULL {where} ORDER BY f.created_at",
            params).fetchall()
        ids = {e[1] for e in edges if e[1] is not None} | {e[2] for e in edges}
        docs = {
            row[0]: row for row in cur.execute(
                f"SELECT d.id, d.title, d.source, {_STATUS_SQL} FROM documents d WHERE d.id IN (SELECT unnest(?))",
                [list(ids)]).fetchall()
        } if ids else {}
    parent: dict = {}

    def root(node):
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    similarity: dict = {}
    for path, doc_id, target, sim in edges:
        node = ("doc", doc_id) if doc_id is not None else ("file", path)
        parent[root(node)] = root(("doc", target))
        similarity[node] = sim
    groups: dict = {}
    for node in list(parent):
        groups.setdefault(root(node), []).append(node)
    result = []
    for members in groups.values():
        rows = []
        for kind, key in members:
            if kind == "doc" and key in docs:
                _, title, source, status = docs[key]
                rows.append({"document_id": key, "title": title, "file": Path(source).name, "status": status,
                             "similarity": similarity.get((kind, key))})
            else:
                rows.append({"document_id": key if kind == "doc" else None, "title": "", "status": "skipped",
                             "file": Path(str(key)).name, "similarity": similarity.get((kind, key))})
        rows.sort(key=lambda r: (r["similarity"] is not None, -(r["similarity"] or 0)))
        result.append(rows)
    result.sort(key=lambda rows: -len(rows))
    return result


@dataclass
class EmbeddingMap:
    points: list[dict]  # x, y, chunk_id, document, collection, tokens, preview
    total: int  # chunks in scope
    explained: tuple[float, float]  # share of variance along each axis

    @property
    def sampled(self) -> bool:
        return len(self.points) < self.total


def embedding_map(platform, collection: str | None = None, limit: int = 2000) -> EmbeddingMap:
    """Stored chunk embeddings projected to 2-D with PCA; above `limit` chunks, a deterministic sample."""
    where, params = ("WHERE col.name = ?", [collection]) if collection else ("", [])
    base = f"FROM chunks c JOIN documents d ON d.id = c.document_id JOIN collections col ON col.id = c.collection_id {where}"
    with platform.store.cursor() as cur:
        total = cur.execute(f"SELECT count(*) {base}", params).fetchall()[0][0]
        # hash(id) ordering samples evenly across documents and gives the same points on every rerun
        table = cur.sql(
            f"SELECT c.id AS chunk_id, d.title AS document, col.name AS collection, c.token_count AS tokens,"
            f" left(c.text, 160) AS preview, c.embedding {base} ORDER BY hash(c.id) LIMIT {int(limit)}",
            params=params).to_arrow_table() if total else None
    if not total or table.num_rows < 2:
        return EmbeddingMap([], total, (0.0, 0.0))
    vectors = np.asarray(table.column("embedding").combine_chunks().flatten().to_numpy(zero_copy_only=False),
                         dtype=np.float32).reshape(table.num_rows, -1)
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, random_state=0)
    xy = pca.fit_transform(vectors)
    records = table.drop_columns(["embedding"]).to_pylist()
    for record, (x, y) in zip(records, xy):
        record["x"], record["y"] = float(x), float(y)
    ratio = pca.explained_variance_ratio_
    return EmbeddingMap(records, total, (float(ratio[0]), float(ratio[1])))


# --- exports ---------------------------------------------------------------------------------
def _encode(table: pa.Table, fmt: str) -> bytes:
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"export format {fmt!r}: choose csv or parquet")
    buffer = io.BytesIO()
    if fmt == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, buffer)
    else:
        import pyarrow.parquet as pq

        pq.write_table(table, buffer)
    return buffer.getvalue()


def export_documents(platform, query: DocumentQuery, fmt: str = "csv") -> bytes:
    """Every document matching the table's filters (not just one page), sorted the same way."""
    where, params = query.where()
    direction = "DESC" if query.descending else "ASC"
    order = SORT_COLUMNS.get(query.order_by, "d.id")
    with platform.store.cursor() as cur:
        table = cur.sql(
            f"SELECT d.id, col.name AS collection, d.title, d.source, d.mime_type, {_STATUS_SQL} AS status,"
            " d.version, d.size_bytes, coalesce(s.chunks, 0) AS chunks, coalesce(s.tokens, 0) AS tokens,"
            f" d.content_hash, d.created_at, d.updated_at, CAST(d.metadata AS VARCHAR) AS metadata FROM {_FROM}"
            " LEFT JOIN (SELECT document_id, count(*) AS chunks, sum(token_count) AS tokens FROM chunks GROUP BY 1) s"
            f" ON s.document_id = d.id WHERE {where} ORDER BY {order} {direction} NULLS LAST, d.id {direction}",
            params=params).to_arrow_table()
    return _encode(table, fmt)


def export_chunks(platform, collection: str | None = None, fmt: str = "csv", with_embeddings: bool = False) -> bytes:
    """Chunks of active documents (one collection or all), with their document's title and source."""
    if with_embeddings and fmt == "csv":
        raise InputError("embeddings export only as Parquet (a CSV cell cannot hold a vector)")
    where, params = ("AND col.name = ?", [collection]) if collection else ("", [])
    with platform.store.cursor() as cur:
        table = cur.sql(
            "SELECT c.id AS chunk_id, c.document_id, col.name AS collection, d.title, d.source, c.version, c.ordinal,"
            " c.token_count, c.page, array_to_string(c.heading_path, ' > ') AS heading_path, c.char_start, c.char_end,"
            f" c.text{', c.embedding' if with_embeddings else ''}"
            " FROM chunks c JOIN documents d ON d.id = c.document_id JOIN collections col ON col.id = c.collection_id"
            f" WHERE d.status = 'active' {where} ORDER BY c.document_id, c.ordinal", params=params).to_arrow_table()
    return _encode(table, fmt)
