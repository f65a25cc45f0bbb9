"""Plain queries over collections, documents, versions, chunks and ingest runs; each takes a DuckDB cursor."""
from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterable, Iterator, Sequence

import duckdb
import numpy as np
import pyarrow as pa

from backend.models import Chunk, Document, InputError, Section

# A cursor or connection: anything with DuckDB's execute(); callers pass store.cursor() or a transaction.
Con = Any

_CHUNK_COLUMNS = (
    "c.id, c.document_id, col.name, c.tenant, c.ordinal, c.text, c.token_count, c.char_start, c.char_end,"
    " c.page, c.heading_path, d.title, d.source"
)
_CHUNK_JOIN = "chunks c JOIN documents d ON d.id = c.document_id JOIN collections col ON col.id = c.collection_id"


def _dicts(result) -> list[dict[str, Any]]:
    names = [d[0] for d in result.description]
    return [dict(zip(names, row)) for row in result.fetchall()]


def _json(value) -> Any:
    if value is None:
        return None
    return json.loads(value) if isinstance(value, str) else value


def _chunk_from_row(row: Sequence) -> Chunk:
    return Chunk(
        id=row[0], document_id=row[1], collection=row[2], tenant=row[3], ordinal=row[4], text=row[5],
        token_count=row[6], char_start=row[7], char_end=row[8], page=row[9],
        heading_path=tuple(row[10] or ()), title=row[11], source=row[12],
    )


@contextmanager
def registered(con: Con, name: str, table: pa.Table) -> Iterator[None]:
    """An Arrow table visible to SQL as `name` for the duration of the block."""
    con.register(name, table)
    try:
        yield
    finally:
        try:
            con.unregister(name)
        except duckdb.Error:
            pass  # an aborted transaction refuses even this; the original error is the one to report


# Sequences and the tables whose ids they hand out (ids are never reused: FAISS and caches key on them).
_SEQUENCES = {"collection_id_seq": "collections", "document_id_seq": "documents", "chunk_id_seq": "chunks",
              "ingest_run_id_seq": "ingest_runs"}


def allocate_ids(con: Con, sequence: str, n: int) -> list[int]:
    """n fresh ids; call inside the write transaction that uses them (a bare SELECT nextval is not
    always made durable, so after a crash the sequence could hand the same ids out again)."""
    if n <= 0:
        return []
    return [r[0] for r in con.execute(f"SELECT nextval('{sequence}') FROM range(?)", [n]).fetchall()]


def repair_sequences(con: Con) -> dict[str, int]:
    """Move each sequence past its table's largest id (a crash can leave a sequence behind its rows)."""
    last = {name: (value or 0) for name, value in con.execute(
        "SELECT sequence_name, last_value FROM duckdb_sequences()").fetchall()}
    advanced = {}
    for sequence, table in _SEQUENCES.items():
        behind = con.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0] - last.get(sequence, 0)
        if behind > 0:
            con.execute(f"SELECT max(nextval('{sequence}')) FROM range(?)", [behind]).fetchone()
            advanced[sequence] = behind
    return advanced


def sections_to_json(sections: Iterable[Section]) -> str:
    return json.dumps([[s.start, s.end, s.page, list(s.heading_path)] for s in sections])


def sections_from_json(value) -> list[Section]:
    return [Section(start, end, page, tuple(path)) for start, end, page, path in (_json(value) or [])]


# --- collections -------------------------------------------------------------------------
def collection_row(con: Con, name: str) -> dict | None:
    rows = _dicts(con.execute("SELECT * FROM collections WHERE name = ?", [name]))
    return rows[0] if rows else None


def collection_by_id(con: Con, collection_id: int) -> dict | None:
    rows = _dicts(con.execute("SELECT * FROM collections WHERE id = ?", [collection_id]))
    return rows[0] if rows else None


def collection_names(con: Con) -> list[str]:
    return [r[0] for r in con.execute("SELECT name FROM collections ORDER BY name").fetchall()]


def require_collection(con: Con, name: str) -> dict:
    """The collection row, or an InputError that lists the known collections."""
    row = collection_row(con, name)
    if row is None:
        known = ", ".join(collection_names(con)) or "none yet; ingest something first"
        raise InputError(f"unknown collection {name!r} (known: {known})")
    return row


def list_collections(con: Con) -> list[dict]:
    """Every collection with its document and chunk counts and its last ingest run."""
    return _dicts(con.execute(
        """
        SELECT col.id, col.name, col.tenant, col.description, col.created_at, col.index_version,
               col.index_settings,
               (SELECT count(*) FROM documents d WHERE d.collection_id = col.id AND d.status = 'active') AS documents,
               (SELECT count(*) FROM chunks c WHERE c.collection_id = col.id) AS chunks,
               (SELECT coalesce(sum(c.token_count), 0) FROM chunks c WHERE c.collection_id = col.id) AS tokens,
               (SELECT max(r.started_at) FROM ingest_runs r WHERE r.collection_id = col.id) AS last_ingest_at
        FROM collections col ORDER BY col.name
        """
    ))


def insert_collection(con: Con, name: str, tenant: str, description: str = "") -> int:
    collection_id = allocate_ids(con, "collection_id_seq", 1)[0]
    con.execute("INSERT INTO collections (id, name, tenant, description) VALUES (?, ?, ?, ?)",
                [collection_id, name, tenant, description])
    return collection_id


def rename_collection(con: Con, collection_id: int, new_name: str) -> None:
    con.execute("UPDATE collections SET name = ? WHERE id = ?", [new_name, collection_id])


def delete_collection(con: Con, collection_id: int) -> None:
    con.execute("DELETE FROM collections WHERE id = ?", [collection_id])


def set_index_settings(con: Con, collection_id: int, index_settings: dict) -> None:
    con.execute("UPDATE collections SET index_settings = ? WHERE id = ?", [json.dumps(index_settings), collection_id])


def index_settings(con: Con, collection_id: int) -> dict | None:
    row = con.execute("SELECT index_settings FROM collections WHERE id = ?", [collection_id]).fetchone()
    return _json(row[0]) if row else None


def bump_index_version(con: Con, collection_id: int) -> int:
    return con.execute(
        "UPDATE collections SET index_version = index_version + 1 WHERE id = ? RETURNING index_version",
        [collection_id],
    ).fetchone()[0]


def count_active_documents(con: Con, collection_id: int) -> int:
    return con.execute(
        "SELECT count(*) FROM documents WHERE collection_id = ? AND status = 'active'", [collection_id]
    ).fetchone()[0]


# --- documents -----------------------------------------------------------------------------


def active_document_by_hash(con: Con, collection_id: int, content_hash: str) -> dict | None:
    rows = _dicts(con.execute(
        "SELECT * FROM documents WHERE collection_id = ? AND content_hash = ? AND status = 'active' ORDER BY id LIMIT 1",
        [collection_id, content_hash],
    ))
    return rows[0] if rows else None






def active_minhashes(con: Con, collection_id: int) -> list[tuple[int, bytes]]:
    """(document id, MinHash signature of its current version) for every active document of a collection."""
    return [
        (doc_id, bytes(sig)) for doc_id, sig in con.execute(
            "SELECT d.id, v.minhash FROM documents d"
            " JOIN document_versions v ON v.document_id = d.id AND v.version = d.version"
            " WHERE d.collection_id = ? AND d.status = 'active' AND v.minhash IS NOT NULL",
            [collection_id],
        ).fetchall()
    ]






def update_document_version(con: Con, document_id: int, title: str, mime_type: str, content_hash: str,
                            size_bytes: int | None, metadata: dict) -> int:
    """Point the document at a new version; returns the new version number."""
    return con.execute(
        "UPDATE documents SET version = version + 1, title = ?, mime_type = ?, content_hash = ?, size_bytes = ?,"
        " metadata = ?, updated_at = current_timestamp WHERE id = ? RETURNING version",
        [title, mime_type, content_hash, size_bytes, json.dumps(metadata, default=str), document_id],
    ).fetchone()[0]




def mark_document_deleted(con: Con, document_id: int) -> None:
    con.execute(
        "UPDATE documents SET status = 'deleted', updated_at = current_timestamp WHERE id = ?", [document_id]
    )


def move_document(con: Con, document_id: int, collection_id: int, tenant: str) -> None:
    con.execute(
        "UPDATE documents SET collection_id = ?, updated_at = current_timestamp WHERE id = ?",
        [collection_id, document_id],
    )
    con.execute("UPDATE chunks SET collection_id = ?, tenant = ? WHERE document_id = ?",
                [collection_id, tenant, document_id])


def document_row(con: Con, document_id: int) -> dict | None:
    rows = _dicts(con.execute(
        "SELECT d.*, col.name AS collection, col.tenant FROM documents d"
        " JOIN collections col ON col.id = d.collection_id WHERE d.id = ?",
        [document_id],
    ))
    return rows[0] if rows else None


def require_document(con: Con, document_id: int) -> dict:
    row = document_row(con, document_id)
    if row is None:
        raise InputError(f"unknown document id {document_id}")
    return row


def document(con: Con, document_id: int) -> Document:
    """The document with the text and sections of its current version."""
    row = require_document(con, document_id)
    version = con.execute(
        "SELECT text, sections FROM document_versions WHERE document_id = ? AND version = ?",
        [document_id, row["version"]],
    ).fetchone()
    text, sections = (version[0], sections_from_json(version[1])) if version else ("", [])
    return Document(
        id=row["id"], collection=row["collection"], tenant=row["tenant"], source=row["source"], title=row["title"],
        mime_type=row["mime_type"], content_hash=row["content_hash"], version=row["version"], status=row["status"],
        created_at=row["created_at"], updated_at=row["updated_at"], text=text, sections=sections,
        metadata=_json(row["metadata"]) or {},
    )


def list_documents(con: Con, collection_id: int | None = None, status: str | None = "active",
                   title_contains: str | None = None, mime_type: str | None = None,
                   updated_after: datetime | None = None, updated_before: datetime | None = None,
                   order_by: str = "updated_at", descending: bool = True,
                   limit: int | None = 1000, offset: int = 0) -> list[dict]:
    """Documents with collection name and chunk count; filtered, sorted and paged in SQL."""
    where, params = _document_where(collection_id, status, title_contains, mime_type, updated_after, updated_before)
    allowed_order = {"updated_at", "created_at", "title", "source", "mime_type", "id", "version", "chunks", "collection"}
    if order_by not in allowed_order:
        raise InputError(f"cannot sort documents by {order_by!r} (choose from {', '.join(sorted(allowed_order))})")
    sql = (
        "SELECT d.id, col.name AS collection, col.tenant, d.source, d.title, d.mime_type, d.content_hash, d.version,"
        " d.status, d.size_bytes, d.created_at, d.updated_at,"
        " (SELECT count(*) FROM chunks c WHERE c.document_id = d.id) AS chunks"
        " FROM documents d JOIN collections col ON col.id = d.collection_id"
        f" WHERE {where} ORDER BY {order_by} {'DESC' if descending else 'ASC'}, d.id"
    )
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [int(limit), int(offset)]
    return _dicts(con.execute(sql, params))


def count_documents(con: Con, collection_id: int | None = None, status: str | None = "active",
                    title_contains: str | None = None, mime_type: str | None = None,
                    updated_after: datetime | None = None, updated_before: datetime | None = None) -> int:
    where, params = _document_where(collection_id, status, title_contains, mime_type, updated_after, updated_before)
    return con.execute(
        f"SELECT count(*) FROM documents d JOIN collections col ON col.id = d.collection_id WHERE {where}", params
    ).fetchone()[0]


def _document_where(collection_id, status, title_contains, mime_type, updated_after, updated_before):
    if isinstance(mime_type, str):
        mime_type = [mime_type]
    conditions = [
        ("d.collection_id = ?", collection_id),
        ("d.status = ?", status),
        ("contains(lower(d.title), lower(?))", title_contains or None),  # literal: no LIKE wildcards
        ("d.mime_type IN (SELECT unnest(?))", list(mime_type) if mime_type else None),
        ("d.updated_at >= ?", updated_after),
        ("d.updated_at <= ?", updated_before),
    ]
    used = [(clause, value) for clause, value in conditions if value is not None]
    return " AND ".join(["TRUE"] + [clause for clause, _ in used]), [value for _, value in used]


def document_versions(con: Con, document_id: int) -> list[dict]:
    """Every recorded version of a document, oldest first, with its text (so two can be diffed)."""
    rows = _dicts(con.execute(
        "SELECT version, content_hash, text, sections, created_at FROM document_versions"
        " WHERE document_id = ? ORDER BY version",
        [document_id],
    ))
    for row in rows:
        row["sections"] = sections_from_json(row["sections"])
    return rows


def document_source_map(con: Con, collection_id: int) -> dict[int, str]:
    return dict(con.execute(
        "SELECT id, source FROM documents WHERE collection_id = ? AND status = 'active'", [collection_id]
    ).fetchall())


# --- chunks --------------------------------------------------------------------------------
def delete_document_chunks(con: Con, document_id: int) -> list[int]:
    """Delete a document's chunks; returns their ids (to remove from FAISS and BM25)."""
    return [r[0] for r in con.execute("DELETE FROM chunks WHERE document_id = ? RETURNING id", [document_id]).fetchall()]


def insert_chunks(con: Con, rows: pa.Table) -> None:
    """Bulk insert chunk rows (an Arrow table with the columns of `chunk_table`)."""
    with registered(con, "new_chunks_view", rows):
        con.execute(
            "INSERT INTO chunks (id, document_id, version, collection_id, tenant, ordinal, text, token_count,"
            " char_start, char_end, page, heading_path, embedding)"
            " SELECT id, document_id, version, collection_id, tenant, ordinal, text, token_count, char_start,"
            " char_end, page, heading_path, embedding::FLOAT[] FROM new_chunks_view"
        )


def chunk_table(ids: Sequence[int], document_ids: Sequence[int], versions: Sequence[int], collection_id: int,
                tenant: str, ordinals: Sequence[int], texts: Sequence[str], token_counts: Sequence[int],
                char_starts: Sequence[int], char_ends: Sequence[int], pages: Sequence[int | None],
                heading_paths: Sequence[Sequence[str]], embeddings: np.ndarray) -> pa.Table:
    n = len(ids)
    embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
    dim = embeddings.shape[1] if embeddings.ndim == 2 and n else 0
    return pa.table({
        "id": pa.array(ids, type=pa.int64()),
        "document_id": pa.array(document_ids, type=pa.int32()),
        "version": pa.array(versions, type=pa.int32()),
        "collection_id": pa.array([collection_id] * n, type=pa.int32()),
        "tenant": pa.array([tenant] * n, type=pa.string()),
        "ordinal": pa.array(ordinals, type=pa.int32()),
        "text": pa.array(texts, type=pa.string()),
        "token_count": pa.array(token_counts, type=pa.int32()),
        "char_start": pa.array(char_starts, type=pa.int32()),
        "char_end": pa.array(char_ends, type=pa.int32()),
        "page": pa.array(pages, type=pa.int32()),
        "heading_path": pa.array([list(p) for p in heading_paths], type=pa.list_(pa.string())),
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(embeddings.ravel(), type=pa.float32()), max(dim, 1))
        if n else pa.array([], type=pa.list_(pa.float32())),
    })


def chunk_ids(con: Con, collection_id: int) -> np.ndarray:
    rows = con.execute("SELECT id FROM chunks WHERE collection_id = ? ORDER BY id", [collection_id]).fetchnumpy()
    return np.asarray(rows["id"], dtype=np.int64)


def chunk_index_rows(con: Con, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray, list[str], list[str], list[tuple]]:
    """What the indexes need to (re)add chunks without re-embedding: ids, stored vectors, texts, titles, headings."""
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32), [], [], []
    with registered(con, "wanted_chunk_ids", pa.table({"id": pa.array(list(map(int, ids)), type=pa.int64())})):
        table = con.sql(
            "SELECT c.id, c.embedding, c.text, d.title, c.heading_path FROM chunks c"
            " JOIN documents d ON d.id = c.document_id"
            " WHERE c.id IN (SELECT id FROM wanted_chunk_ids) ORDER BY c.id"
        ).to_arrow_table()
    id_array = np.asarray(table.column("id").to_numpy(), dtype=np.int64)
    embeddings = table.column("embedding").combine_chunks()
    flat = np.asarray(embeddings.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
    vectors = flat.reshape(len(id_array), -1) if len(id_array) else np.zeros((0, 0), dtype=np.float32)
    headings = [tuple(h or ()) for h in table.column("heading_path").to_pylist()]
    return id_array, vectors, table.column("text").to_pylist(), table.column("title").to_pylist(), headings


def chunks_by_ids(con: Con, ids: Sequence[int]) -> dict[int, Chunk]:
    if not ids:
        return {}
    rows = con.execute(
        f"SELECT {_CHUNK_COLUMNS} FROM {_CHUNK_JOIN} WHERE c.id IN (SELECT unnest(?))", [list(map(int, ids))]
    ).fetchall()
    return {row[0]: _chunk_from_row(row) for row in rows}


def document_chunks(con: Con, document_id: int) -> list[Chunk]:
    rows = con.execute(
        f"SELECT {_CHUNK_COLUMNS} FROM {_CHUNK_JOIN} WHERE c.document_id = ? ORDER BY c.ordinal", [document_id]
    ).fetchall()
    return [_chunk_from_row(row) for row in rows]


def filtered_chunk_ids(con: Con, collection_id: int, filters: dict) -> np.ndarray:
    """Chunk ids of a collection's active documents that match `filters` (see FILTER_KEYS)."""
    unknown = set(filters) - FILTER_KEYS
    if unknown:
        raise InputError(f"unknown search filter {sorted(unknown)[0]!r} (use: {', '.join(sorted(FILTER_KEYS))})")
    where, params = _document_where(collection_id, "active", filters.get("title_contains"), filters.get("mime_type"),
                                    filters.get("updated_after"), filters.get("updated_before"))
    clauses = [where]
    if filters.get("source"):
        clauses.append("d.source = ?")
        params.append(str(filters["source"]))
    if filters.get("source_contains"):
        clauses.append("contains(lower(d.source), lower(?))")
        params.append(str(filters["source_contains"]))
    if filters.get("document_ids") is not None:
        clauses.append("d.id IN (SELECT unnest(?))")
        params.append([int(i) for i in filters["document_ids"]])
    rows = con.execute(
        f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id WHERE {' AND '.join(clauses)}", params
    ).fetchnumpy()
    return np.asarray(rows["id"], dtype=np.int64)


FILTER_KEYS = frozenset(
    {"mime_type", "title_contains", "source", "source_contains", "updated_after", "updated_before", "document_ids"}
)


# --- ingest runs ---------------------------------------------------------------------------
def start_run(con: Con, collection_id: int, label: str, files_total: int = 0) -> int:
    run_id = allocate_ids(con, "ingest_run_id_seq", 1)[0]
    con.execute("INSERT INTO ingest_runs (id, collection_id, label, files_total) VALUES (?, ?, ?, ?)",
                [run_id, collection_id, label, files_total])
    return run_id


def record_files(con: Con, run_id: int, outcomes: Iterable[dict]) -> None:
    outcomes = list(outcomes)
    if not outcomes:
        return
    table = pa.table({
        "path": pa.array([o["path"] for o in outcomes], type=pa.string()),
        "outcome": pa.array([o["outcome"] for o in outcomes], type=pa.string()),
        "document_id": pa.array([o.get("document_id") for o in outcomes], type=pa.int32()),
        "chunks": pa.array([o.get("chunks", 0) for o in outcomes], type=pa.int32()),
        "message": pa.array([o.get("message", "") for o in outcomes], type=pa.string()),
        "near_duplicate_of": pa.array([o.get("near_duplicate_of") for o in outcomes], type=pa.int32()),
        "similarity": pa.array([o.get("similarity") for o in outcomes], type=pa.float64()),
        "duration_ms": pa.array([o.get("duration_ms") for o in outcomes], type=pa.float64()),
    })
    with registered(con, "new_ingest_files_view", table):
        con.execute(
            "INSERT INTO ingest_files (run_id, path, outcome, document_id, chunks, message, near_duplicate_of,"
            " similarity, duration_ms) SELECT ?, path, outcome, document_id, chunks, message, near_duplicate_of,"
            " similarity, duration_ms FROM new_ingest_files_view",
            [run_id],
        )


def finish_run(con: Con, run_id: int, status: str, files_total: int, files_ok: int, files_skipped: int,
               files_failed: int, chunks_added: int) -> None:
    con.execute(
        "UPDATE ingest_runs SET finished_at = current_timestamp, status = ?, files_total = ?, files_ok = ?,"
        " files_skipped = ?, files_failed = ?, chunks_added = ? WHERE id = ?",
        [status, files_total, files_ok, files_skipped, files_failed, chunks_added, run_id],
    )


def mark_interrupted_runs(con: Con) -> int:
    """Runs left 'running' by a process that died; only the one writing process can call this."""
    return len(con.execute(
        "UPDATE ingest_runs SET status = 'interrupted' WHERE status = 'running' RETURNING id"
    ).fetchall())


def ingest_runs(con: Con, limit: int = 50, collection_id: int | None = None) -> list[dict]:
    where = "WHERE r.collection_id = ?" if collection_id is not None else ""
    params = [collection_id] if collection_id is not None else []
    return _dicts(con.execute(
        "SELECT r.id, col.name AS collection, r.label, r.started_at, r.finished_at, r.status, r.files_total,"
        " r.files_ok, r.files_skipped, r.files_failed, r.chunks_added FROM ingest_runs r"
        f" LEFT JOIN collections col ON col.id = r.collection_id {where} ORDER BY r.id DESC LIMIT ?",
        params + [int(limit)],
    ))


def ingest_files(con: Con, run_id: int) -> list[dict]:
    return _dicts(con.execute(
        "SELECT f.path, f.outcome, f.document_id, f.chunks, f.message, f.near_duplicate_of,"
        " nd.title AS near_duplicate_title, f.similarity, f.duration_ms, f.created_at"
        " FROM ingest_files f LEFT JOIN documents nd ON nd.id = f.near_duplicate_of"
        " WHERE f.run_id = ? ORDER BY f.created_at, f.path",
        [run_id],
    ))


def audit(con: Con, action: str, target: str, details: dict | None = None, actor: str = "system") -> None:
    con.execute(
        "INSERT INTO audit_log (actor, action, target, details) VALUES (?, ?, ?, ?)",
        [actor, action, target, json.dumps(details or {}, default=str)],
    )


# --- totals --------------------------------------------------------------------------------
def totals(con: Con) -> dict:
    row = con.execute(
        "SELECT (SELECT count(*) FROM collections), (SELECT count(*) FROM documents WHERE status = 'active'),"
        " (SELECT count(*) FROM chunks), (SELECT coalesce(sum(token_count), 0) FROM chunks)"
    ).fetchone()
    return {"collections": row[0], "documents": row[1], "chunks": row[2], "tokens": int(row[3])}


def mime_type_counts(con: Con, collection_id: int | None = None) -> dict[str, int]:
    where = "AND collection_id = ?" if collection_id is not None else ""
    return dict(con.execute(
        f"SELECT mime_type, count(*) FROM documents WHERE status = 'active' {where} GROUP BY mime_type ORDER BY 2 DESC",
        [collection_id] if collection_id is not None else [],
    ).fetchall())
