"""The corpus browser's documents table: filters, sort and page of one request, and the choices its filters offer."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from backend.context import RequestContext
from backend.corpus.labels import type_label
from backend.models import InputError
from backend.store import document_pii, document_table


@dataclass
class DocumentQuery:
    """Filters, sort and page of the documents table; every part is applied in SQL."""

    collection: str | None = None  # None: every collection
    search: str = ""  # title or file name contains (case-insensitive)
    mime_types: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()  # empty: all but deleted
    updated_from: date | None = None
    updated_to: date | None = None  # inclusive
    personal_data: bool = False  # only documents with personal-data findings recorded
    order_by: str = "updated"  # a key of document_table.SORT_COLUMNS
    descending: bool = True
    page: int = 1
    page_size: int = 50

    def filters(self) -> dict:
        """The filter part, as the keyword arguments of document_table.table_where."""
        return {"collection": self.collection, "search": self.search, "mime_types": self.mime_types,
                "statuses": self.statuses, "updated_from": self.updated_from, "updated_to": self.updated_to,
                "personal_data": self.personal_data}


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


def document_page(platform, query: DocumentQuery, ctx: RequestContext | None = None) -> DocumentPage:
    """One page of documents: filtered, counted, sorted and paged by DuckDB; chunk counts only for that page."""
    if query.order_by not in document_table.SORT_COLUMNS:
        raise InputError(f"sort: unknown column {query.order_by!r} (choose from {', '.join(document_table.SORT_COLUMNS)})")
    if query.page_size < 1 or query.page < 1:
        raise InputError(f"page: page {query.page} of size {query.page_size} is not a page")
    started = time.perf_counter()
    filters = {**query.filters(), "collection": platform.corpus.scope(query.collection, ctx)}
    with platform.store.cursor() as cur:
        total = document_table.count_matching(cur, filters)
        pages = max(1, -(-total // query.page_size))
        page = min(query.page, pages)  # a page past the end shows the last one
        rows = document_table.page_rows(cur, filters, query.order_by, query.descending, query.page_size,
                                        (page - 1) * query.page_size)
        findings = document_pii.finding_counts(cur, [row["id"] for row in rows])  # this page's only
    for row in rows:
        row["personal_data"] = findings.get(row["id"], 0)
        row["file"] = Path(row["source"]).name or row["source"]
        row["type"] = type_label(row["mime_type"])
        row["tokens"] = int(row["tokens"] or 0)
    return DocumentPage(rows, total, page, query.page_size, (time.perf_counter() - started) * 1000)


def document_facets(platform, collection: str | None = None, ctx: RequestContext | None = None) -> dict:
    """What the table's filters can offer: types and statuses with counts, and the range of update dates."""
    scope = platform.corpus.scope(collection, ctx)
    with platform.store.cursor() as cur:
        return document_table.facets(cur, scope)
