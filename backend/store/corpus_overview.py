"""Aggregates behind the corpus browser's overview: breakdown, chunk lengths, near-duplicates, embedding sample."""
from __future__ import annotations

import pyarrow as pa

from backend.store.documents import STATUS_SQL
from backend.store.rows import Con, Scope, dicts, scope_condition


def _collection_filter(collection: Scope, keyword: str) -> tuple[str, list]:
    """`<keyword> <scope condition>` for a collection scope, nothing for every collection."""
    condition, params = scope_condition(collection)
    return (f"{keyword} {condition}", params) if condition else ("", [])


def breakdown(con: Con, collections: Scope = None) -> list[dict]:
    """Active documents, chunks and tokens per collection and MIME type."""
    where, params = _collection_filter(collections, "AND")
    return dicts(con.execute(
        "SELECT col.name AS collection, d.mime_type, count(*) AS documents, coalesce(sum(s.chunks), 0) AS chunks,"
        " coalesce(sum(s.tokens), 0) AS tokens FROM documents d JOIN collections col ON col.id = d.collection_id"
        " LEFT JOIN (SELECT document_id, count(*) AS chunks, sum(token_count) AS tokens FROM chunks GROUP BY 1) s"
        f" ON s.document_id = d.id WHERE d.status = 'active' {where} GROUP BY 1, 2 ORDER BY 1, 3 DESC", params))


def chunk_length_histogram(con: Con, collection: Scope, bin_width: int, target: int) -> tuple[list[tuple], tuple]:
    """Chunk token counts binned in SQL, and (chunks, mean, p50, p95, longest, chunks over `target`)."""
    where, params = _collection_filter(collection, "WHERE")
    join = " JOIN collections col ON col.id = c.collection_id" if where else ""
    bins = con.execute(
        f"SELECT (token_count // ?) * ? AS bin, count(*) FROM chunks c{join} {where} GROUP BY 1 ORDER BY 1",
        [bin_width, bin_width] + params).fetchall()
    summary = con.execute(
        f"SELECT count(*), avg(token_count), quantile_cont(token_count, 0.5), quantile_cont(token_count, 0.95),"
        f" max(token_count), count(*) FILTER (WHERE token_count > ?) FROM chunks c{join} {where}",
        [target] + params).fetchall()[0]
    return bins, summary


def near_duplicate_edges(con: Con, collection: Scope = None) -> list[tuple]:
    """(path, document id or None when skipped, document it matched, similarity) for every near-duplicate ingest
    recorded, oldest first."""
    where, params = _collection_filter(collection, "AND")
    return con.execute(
        "SELECT f.path, f.document_id, f.near_duplicate_of, f.similarity FROM ingest_files f"
        " JOIN ingest_runs r ON r.id = f.run_id LEFT JOIN collections col ON col.id = r.collection_id"
        f" WHERE f.outcome = 'near-duplicate' AND f.near_duplicate_of IS NOT NULL {where} ORDER BY f.created_at",
        params).fetchall()


def titles_sources_statuses(con: Con, document_ids) -> dict[int, tuple[int, str, str, str]]:
    """id -> (id, title, source, status by STATUS_SQL) for the given documents."""
    if not document_ids:
        return {}
    return {
        row[0]: row for row in con.execute(
            f"SELECT d.id, d.title, d.source, {STATUS_SQL} FROM documents d WHERE d.id IN (SELECT unnest(?))",
            [list(document_ids)]).fetchall()
    }


def embedding_sample(con: Con, collection: Scope, limit: int) -> tuple[int, pa.Table | None]:
    """Chunks in scope, and up to `limit` of them with title, collection, tokens, preview and stored embedding."""
    where, params = _collection_filter(collection, "WHERE")
    base = f"FROM chunks c JOIN documents d ON d.id = c.document_id JOIN collections col ON col.id = c.collection_id {where}"
    total = con.execute(f"SELECT count(*) {base}", params).fetchall()[0][0]
    # hash(id) ordering samples evenly across documents and gives the same points on every rerun
    table = con.sql(
        f"SELECT c.id AS chunk_id, d.title AS document, col.name AS collection, c.token_count AS tokens,"
        f" left(c.text, 160) AS preview, c.embedding {base} ORDER BY hash(c.id) LIMIT {int(limit)}",
        params=params).to_arrow_table() if total else None
    return total, table

