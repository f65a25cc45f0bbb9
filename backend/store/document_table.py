"""Queries behind the corpus browser's documents table: filters, sort and paging in SQL, filter choices, export."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Sequence

import pyarrow as pa

from backend.store.document_pii import HAS_FINDINGS_SQL
from backend.store.documents import STATUS_SQL
from backend.store.rows import Con, Scope, dicts, scope_condition

_FROM = "documents d JOIN collections col ON col.id = d.collection_id"
# Per-document chunk and token counts, joined only when the sort needs them (otherwise counted for one page).
_CHUNK_COUNTS = "(SELECT document_id, count(*) AS chunks, sum(token_count) AS tokens FROM chunks GROUP BY 1) s"
# The table's sort keys and the SQL each sorts by (keys are what callers pass; never SQL from the caller).
SORT_COLUMNS = {
    "updated": "d.updated_at", "created": "d.created_at", "title": "lower(d.title)", "collection": "col.name",
    "type": "d.mime_type", "status": "status", "chunks": "chunks", "tokens": "tokens", "size": "d.size_bytes",
    "id": "d.id", "version": "d.version",
}


def _like(text: str) -> str:
    """A LIKE pattern matching `text` literally anywhere (user input may contain % or _)."""
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


def table_where(collection: Scope = None, search: str = "", mime_types: Sequence[str] = (),
                statuses: Sequence[str] = (), updated_from: date | None = None,
                updated_to: date | None = None, personal_data: bool = False) -> tuple[str, list]:
    """The WHERE clause and parameters of the table's filters; no statuses means all but deleted; `personal_data`
    keeps only documents whose current version has personal-data findings."""
    clauses: list[str] = []
    params: list = []
    scope, scope_params = scope_condition(collection)
    if scope:
        clauses.append(scope)
        params += scope_params
    if search.strip():
        clauses.append("(d.title ILIKE ? ESCAPE '\\' OR d.source ILIKE ? ESCAPE '\\')")
        params += [_like(search.strip())] * 2
    if mime_types:
        clauses.append("d.mime_type IN (SELECT unnest(?))")
        params.append(list(mime_types))
    if statuses:
        clauses.append(f"{STATUS_SQL} IN (SELECT unnest(?))")
        params.append(list(statuses))
    else:
        clauses.append("d.status <> 'deleted'")
    if updated_from is not None:
        clauses.append("d.updated_at >= ?")
        params.append(datetime.combine(updated_from, datetime.min.time()))
    if updated_to is not None:  # inclusive: before the start of the next day
        clauses.append("d.updated_at < ?")
        params.append(datetime.combine(updated_to + timedelta(days=1), datetime.min.time()))
    if personal_data:
        clauses.append(HAS_FINDINGS_SQL)
    return " AND ".join(clauses) or "TRUE", params


def count_matching(con: Con, filters: dict) -> int:
    """Documents matching `filters` (the keyword arguments of table_where)."""
    where, params = table_where(**filters)
    return con.execute(f"SELECT count(*) FROM {_FROM} WHERE {where}", params).fetchall()[0][0]


def page_rows(con: Con, filters: dict, order_by: str, descending: bool, limit: int, offset: int) -> list[dict]:
    """One page of matching documents with status, chunk and token counts; order_by is a SORT_COLUMNS key."""
    where, params = table_where(**filters)
    direction = "DESC" if descending else "ASC"
    needs_counts = order_by in ("chunks", "tokens")
    counts_join = f" LEFT JOIN {_CHUNK_COUNTS} ON s.document_id = d.id" if needs_counts else ""
    rows = dicts(con.execute(
        f"SELECT d.id, d.title, d.source, col.name AS collection, d.mime_type, {STATUS_SQL} AS status,"
        f" d.version, d.size_bytes, d.created_at, d.updated_at"
        f"{', coalesce(s.chunks, 0) AS chunks, coalesce(s.tokens, 0) AS tokens' if needs_counts else ''}"
        f" FROM {_FROM}{counts_join} WHERE {where}"
        f" ORDER BY {SORT_COLUMNS[order_by]} {direction} NULLS LAST, d.id {direction} LIMIT ? OFFSET ?",
        params + [limit, offset],
    ))
    if rows and not needs_counts:
        # Counting chunks for one page only is what keeps a 10,000-document table fast.
        counts = {
            doc_id: (chunks, tokens) for doc_id, chunks, tokens in con.execute(
                "SELECT document_id, count(*), sum(token_count) FROM chunks"
                " WHERE document_id IN (SELECT unnest(?)) GROUP BY 1", [[r["id"] for r in rows]],
            ).fetchall()
        }
        for row in rows:
            row["chunks"], row["tokens"] = counts.get(row["id"], (0, 0))
    return rows


def facets(con: Con, collection: Scope = None) -> dict:
    """Types and statuses with counts, and the range of update dates, of a collection scope."""
    condition, params = scope_condition(collection)
    where = condition or "TRUE"
    types = con.execute(
        f"SELECT d.mime_type, count(*) FROM {_FROM} WHERE {where} AND d.status <> 'deleted'"
        " GROUP BY 1 ORDER BY 2 DESC, 1", params).fetchall()
    statuses = con.execute(
        f"SELECT {STATUS_SQL} AS status, count(*) FROM {_FROM} WHERE {where} GROUP BY 1 ORDER BY 2 DESC, 1",
        params).fetchall()
    first, last = con.execute(f"SELECT min(d.updated_at), max(d.updated_at) FROM {_FROM} WHERE {where}",
                              params).fetchall()[0]
    return {"types": dict(types), "statuses": dict(statuses), "updated": (first, last)}


def export_table(con: Con, filters: dict, order_by: str, descending: bool) -> pa.Table:
    """Every matching document (not one page) with counts, hash and metadata, sorted like the table."""
    where, params = table_where(**filters)
    direction = "DESC" if descending else "ASC"
    order = SORT_COLUMNS.get(order_by, "d.id")
    return con.sql(
        f"SELECT d.id, col.name AS collection, d.title, d.source, d.mime_type, {STATUS_SQL} AS status,"
        " d.version, d.size_bytes, coalesce(s.chunks, 0) AS chunks, coalesce(s.tokens, 0) AS tokens,"
        f" d.content_hash, d.created_at, d.updated_at, CAST(d.metadata AS VARCHAR) AS metadata FROM {_FROM}"
        f" LEFT JOIN {_CHUNK_COUNTS}"
        f" ON s.document_id = d.id WHERE {where} ORDER BY {order} {direction} NULLS LAST, d.id {direction}",
        params=params).to_arrow_table()
