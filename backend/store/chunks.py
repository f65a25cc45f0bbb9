"""Queries over chunks: bulk insert with embeddings, lookups by id or document, index rebuild rows, search filters, export."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pyarrow as pa

from backend.models import Chunk, InputError
from backend.store.documents import document_where
from backend.store.rows import Con, Scope, registered, scope_condition

_CHUNK_COLUMNS = (
    "c.id, c.document_id, col.name, c.tenant, c.ordinal, c.text, c.token_count, c.char_start, c.char_end,"
    " c.page, c.heading_path, d.title, d.source, c.ocr_confidence"
)
_CHUNK_JOIN = "chunks c JOIN documents d ON d.id = c.document_id JOIN collections col ON col.id = c.collection_id"

FILTER_KEYS = frozenset(
    {"mime_type", "title_contains", "source", "source_contains", "updated_after", "updated_before", "document_ids"}
)


def _chunk_from_row(row: Sequence) -> Chunk:
    return Chunk(
        id=row[0], document_id=row[1], collection=row[2], tenant=row[3], ordinal=row[4], text=row[5],
        token_count=row[6], char_start=row[7], char_end=row[8], page=row[9],
        heading_path=tuple(row[10] or ()), title=row[11], source=row[12], ocr_confidence=row[13],
    )


# --- writes --------------------------------------------------------------------------------
def chunk_table(ids: Sequence[int], document_ids: Sequence[int], versions: Sequence[int], collection_id: int,
                tenant: str, ordinals: Sequence[int], texts: Sequence[str], token_counts: Sequence[int],
                char_starts: Sequence[int], char_ends: Sequence[int], pages: Sequence[int | None],
                heading_paths: Sequence[Sequence[str]], embeddings: np.ndarray,
                ocr_confidences: Sequence[float | None] | None = None) -> pa.Table:
    """The rows `insert_chunks` writes; `ocr_confidences` (None: no chunk was read by OCR) per chunk."""
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
        "ocr_confidence": pa.array(ocr_confidences if ocr_confidences is not None else [None] * n, type=pa.float64()),
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(embeddings.ravel(), type=pa.float32()), max(dim, 1))
        if n else pa.array([], type=pa.list_(pa.float32())),
    })


def insert_chunks(con: Con, rows: pa.Table) -> None:
    """Bulk insert chunk rows (an Arrow table with the columns of `chunk_table`)."""
    with registered(con, "new_chunks_view", rows):
        con.execute(
            "INSERT INTO chunks (id, document_id, version, collection_id, tenant, ordinal, text, token_count,"
            " char_start, char_end, page, heading_path, ocr_confidence, embedding)"
            " SELECT id, document_id, version, collection_id, tenant, ordinal, text, token_count, char_start,"
            " char_end, page, heading_path, ocr_confidence, embedding::FLOAT[] FROM new_chunks_view"
        )


def delete_document_chunks(con: Con, document_id: int) -> list[int]:
    """Delete a document's chunks; returns their ids (to remove from FAISS and BM25)."""
    return [r[0] for r in con.execute("DELETE FROM chunks WHERE document_id = ? RETURNING id", [document_id]).fetchall()]


def delete_collection_chunks(con: Con, collection_id: int) -> None:
    con.execute("DELETE FROM chunks WHERE collection_id = ?", [collection_id])


# --- reads ---------------------------------------------------------------------------------
def count_document_chunks(con: Con, document_id: int) -> int:
    return con.execute("SELECT count(*) FROM chunks WHERE document_id = ?", [document_id]).fetchone()[0]


def document_chunk_ids(con: Con, document_id: int) -> list[int]:
    return [c for (c,) in con.execute("SELECT id FROM chunks WHERE document_id = ? ORDER BY id", [document_id]).fetchall()]


def chunk_documents(con: Con, chunk_ids: Sequence[int]) -> dict[int, int]:
    """Chunk id -> its document id."""
    return dict(con.execute(
        "SELECT id, document_id FROM chunks WHERE id IN (SELECT unnest(?::BIGINT[]))", [list(map(int, chunk_ids))]
    ).fetchall())


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
    where, params = document_where(collection_id, "active", filters.get("title_contains"), filters.get("mime_type"),
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


def chunk_export_table(con: Con, collection: Scope = None, with_embeddings: bool = False) -> pa.Table:
    """Chunks of active documents (one collection or all) with their document's title and source, in order."""
    condition, params = scope_condition(collection)
    where = f"AND {condition}" if condition else ""
    return con.sql(
        "SELECT c.id AS chunk_id, c.document_id, col.name AS collection, d.title, d.source, c.version, c.ordinal,"
        " c.token_count, c.page, array_to_string(c.heading_path, ' > ') AS heading_path, c.char_start, c.char_end,"
        f" c.text{', c.embedding' if with_embeddings else ''}"
        " FROM chunks c JOIN documents d ON d.id = c.document_id JOIN collections col ON col.id = c.collection_id"
        f" WHERE d.status = 'active' {where} ORDER BY c.document_id, c.ordinal", params=params).to_arrow_table()
