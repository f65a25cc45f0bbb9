"""Corpus browser downloads: the documents table (every match, not one page) and chunks, as CSV or Parquet; each audited."""
from __future__ import annotations

import io

import pyarrow as pa

from backend.context import SYSTEM, RequestContext
from backend.corpus.document_list import DocumentQuery
from backend.models import InputError
from backend.store import chunks, document_table

EXPORT_FORMATS = {"csv": ("text/csv", "csv"), "parquet": ("application/vnd.apache.parquet", "parquet")}


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


def _audit(platform, ctx: RequestContext | None, kind: str, collection: str | None, details: dict) -> None:
    """One audit row per file built: who exported what (the file's content is never in it)."""
    actor = ctx.user if ctx is not None else SYSTEM
    tenant = ctx.tenant if ctx is not None else platform.settings.default_tenant
    platform.gateway.audit(actor, f"export.{kind}", collection or "all collections",
                           {"kind": kind, "collection": collection, "tenant": tenant, **details})


def export_documents(platform, query: DocumentQuery, fmt: str = "csv", ctx: RequestContext | None = None) -> bytes:
    """Every document matching the table's filters (not just one page), sorted the same way."""
    filters = {**query.filters(), "collection": platform.corpus.scope(query.collection, ctx)}
    with platform.store.cursor() as cur:
        table = document_table.export_table(cur, filters, query.order_by, query.descending)
    data = _encode(table, fmt)
    chosen = {name: value for name, value in query.filters().items() if name != "collection" and value}
    _audit(platform, ctx, "documents", query.collection,
           {"filters": chosen, "order_by": query.order_by, "descending": query.descending, "rows": table.num_rows,
            "format": fmt})
    return data


def export_chunks(platform, collection: str | None = None, fmt: str = "csv", with_embeddings: bool = False,
                  ctx: RequestContext | None = None) -> bytes:
    """Chunks of active documents (one collection or all), with their document's title and source."""
    if with_embeddings and fmt == "csv":
        raise InputError("embeddings export only as Parquet (a CSV cell cannot hold a vector)")
    scope = platform.corpus.scope(collection, ctx)
    with platform.store.cursor() as cur:
        table = chunks.chunk_export_table(cur, scope, with_embeddings)
    data = _encode(table, fmt)
    _audit(platform, ctx, "chunks", collection,
           {"with_embeddings": with_embeddings, "rows": table.num_rows, "format": fmt})
    return data
