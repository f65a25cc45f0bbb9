"""Queries over documents and their versions, and the one rule for a document's status."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Iterable, Sequence

import pyarrow as pa

from backend.models import Document, InputError, Section
from backend.store.rows import Con, dicts, parse_json, registered

# The status of a document (alias `d`), the one rule every reader uses — the corpus browser's table, detail and
# search explorer, the service's document lists, and retrieval's freshness demotion: 'deleted' once deleted,
# else the `status` its own front matter declares (current, superseded, draft…), else 'active'.
# The d.status column itself records only the lifecycle (active | deleted); filters on "not deleted" use it.
STATUS_SQL = (
    "CASE WHEN d.status = 'deleted' THEN 'deleted'"
    " ELSE coalesce(nullif(lower(trim(json_extract_string(d.metadata, '$.status'))), ''), 'active') END"
)


def sections_to_json(sections: Iterable[Section]) -> str:
    return json.dumps([[s.start, s.end, s.page, list(s.heading_path)] for s in sections])


def sections_from_json(value) -> list[Section]:
    return [Section(start, end, page, tuple(path)) for start, end, page, path in (parse_json(value) or [])]


# --- what ingest dedupes against ---------------------------------------------------------
def active_document_by_hash(con: Con, collection_id: int, content_hash: str) -> dict | None:
    rows = dicts(con.execute(
        "SELECT * FROM documents WHERE collection_id = ? AND content_hash = ? AND status = 'active' ORDER BY id LIMIT 1",
        [collection_id, content_hash],
    ))
    return rows[0] if rows else None


def active_document_keys(con: Con, collection_id: int) -> list[tuple[int, str, str, str, int]]:
    """(id, source, title, content_hash, version) of every active document of a collection, by id."""
    return con.execute(
        "SELECT id, source, title, content_hash, version FROM documents"
        " WHERE collection_id = ? AND status = 'active' ORDER BY id",
        [collection_id],
    ).fetchall()


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


# --- writes --------------------------------------------------------------------------------
def insert_documents(con: Con, collection_id: int, ids: Sequence[int], sources: Sequence[str],
                     titles: Sequence[str], mime_types: Sequence[str], content_hashes: Sequence[str],
                     sizes: Sequence[int | None], metadata: Sequence[dict]) -> None:
    """Bulk insert new documents at version 1 (ids from allocate_ids in the same transaction)."""
    table = pa.table({
        "id": pa.array(list(ids), type=pa.int32()),
        "source": list(sources),
        "title": list(titles),
        "mime_type": list(mime_types),
        "content_hash": list(content_hashes),
        "size_bytes": pa.array(list(sizes), type=pa.int64()),
        "metadata": [json.dumps(m, default=str) for m in metadata],
    })
    with registered(con, "new_documents_view", table):
        con.execute(
            "INSERT INTO documents (id, collection_id, source, title, mime_type, content_hash, version,"
            " size_bytes, metadata) SELECT id, ?, source, title, mime_type, content_hash, 1, size_bytes,"
            " metadata::JSON FROM new_documents_view",
            [collection_id],
        )


def insert_versions(con: Con, document_ids: Sequence[int], versions: Sequence[int | None], content_hashes: Sequence[str],
                    texts: Sequence[str], sections: Sequence[Iterable[Section]], minhashes: Sequence[bytes]) -> None:
    """Bulk record document versions: the full text and sections of each, and its MinHash signature."""
    table = pa.table({
        "document_id": pa.array(list(document_ids), type=pa.int32()),
        "version": pa.array(list(versions), type=pa.int32()),
        "content_hash": list(content_hashes),
        "text": list(texts),
        "sections": [sections_to_json(s) for s in sections],
        "minhash": pa.array(list(minhashes), type=pa.binary()),
    })
    with registered(con, "new_versions_view", table):
        con.execute(
            "INSERT INTO document_versions (document_id, version, content_hash, text, sections, minhash)"
            " SELECT document_id, version, content_hash, text, sections::JSON, minhash FROM new_versions_view"
        )


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
    """The document and its chunks in another collection, in the caller's transaction."""
    con.execute(
        "UPDATE documents SET collection_id = ?, updated_at = current_timestamp WHERE id = ?",
        [collection_id, document_id],
    )
    con.execute("UPDATE chunks SET collection_id = ?, tenant = ? WHERE document_id = ?",
                [collection_id, tenant, document_id])


# --- one document --------------------------------------------------------------------------
def document_row(con: Con, document_id: int) -> dict | None:
    """The stored row (its `status` is the lifecycle, active | deleted) with collection name and tenant."""
    rows = dicts(con.execute(
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
    """The document with the text and sections of its current version, and its status by STATUS_SQL."""
    row = require_document(con, document_id)
    version = con.execute(
        "SELECT text, sections FROM document_versions WHERE document_id = ? AND version = ?",
        [document_id, row["version"]],
    ).fetchone()
    text, sections = (version[0], sections_from_json(version[1])) if version else ("", [])
    status = con.execute(f"SELECT {STATUS_SQL} FROM documents d WHERE d.id = ?", [document_id]).fetchone()[0]
    return Document(
        id=row["id"], collection=row["collection"], tenant=row["tenant"], source=row["source"], title=row["title"],
        mime_type=row["mime_type"], content_hash=row["content_hash"], version=row["version"], status=status,
        created_at=row["created_at"], updated_at=row["updated_at"], text=text, sections=sections,
        metadata=parse_json(row["metadata"]) or {},
    )


def document_summary(con: Con, document_id: int) -> tuple[str, int | None, int, int]:
    """(status, size in bytes, chunks, tokens) of one document, for its detail view."""
    return con.execute(
        f"SELECT {STATUS_SQL}, d.size_bytes, (SELECT count(*) FROM chunks c WHERE c.document_id = d.id),"
        " (SELECT coalesce(sum(token_count), 0) FROM chunks c WHERE c.document_id = d.id)"
        " FROM documents d WHERE d.id = ?", [document_id]).fetchall()[0]


def document_versions(con: Con, document_id: int) -> list[dict]:
    """Every recorded version of a document, oldest first, with its text (so two can be diffed)."""
    rows = dicts(con.execute(
        "SELECT version, content_hash, text, sections, created_at FROM document_versions"
        " WHERE document_id = ? ORDER BY version",
        [document_id],
    ))
    for row in rows:
        row["sections"] = sections_from_json(row["sections"])
    return rows


def version_summaries(con: Con, document_id: int) -> list[dict]:
    """Version, content hash, date and length of every recorded version, oldest first (no texts)."""
    return dicts(con.execute(
        "SELECT version, content_hash, created_at, length(text) AS characters FROM document_versions"
        " WHERE document_id = ? ORDER BY version", [document_id]))


def version_text(con: Con, document_id: int, version: int) -> str | None:
    """The full text of one recorded version; None when the document has no such version."""
    rows = con.execute("SELECT text FROM document_versions WHERE document_id = ? AND version = ?",
                       [document_id, version]).fetchall()
    return rows[0][0] if rows else None


# --- many documents ------------------------------------------------------------------------
def list_documents(con: Con, collection_id: int | list[int] | None = None, status: str | None = "active",
                   title_contains: str | None = None, mime_type: str | None = None,
                   updated_after: datetime | None = None, updated_before: datetime | None = None,
                   order_by: str = "updated_at", descending: bool = True,
                   limit: int | None = 1000, offset: int = 0) -> list[dict]:
    """Documents with collection name and chunk count; filtered, sorted and paged in SQL.

    `status` filters on the lifecycle (active | deleted, None: both); each row's `status` is STATUS_SQL's.
    """
    where, params = document_where(collection_id, status, title_contains, mime_type, updated_after, updated_before)
    allowed_order = {"updated_at", "created_at", "title", "source", "mime_type", "id", "version", "chunks", "collection"}
    if order_by not in allowed_order:
        raise InputError(f"cannot sort documents by {order_by!r} (choose from {', '.join(sorted(allowed_order))})")
    sql = (
        "SELECT d.id, col.name AS collection, col.tenant, d.source, d.title, d.mime_type, d.content_hash, d.version,"
        f" {STATUS_SQL} AS status, d.size_bytes, d.created_at, d.updated_at,"
        " (SELECT count(*) FROM chunks c WHERE c.document_id = d.id) AS chunks"
        " FROM documents d JOIN collections col ON col.id = d.collection_id"
        f" WHERE {where} ORDER BY {order_by} {'DESC' if descending else 'ASC'}, d.id"
    )
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [int(limit), int(offset)]
    return dicts(con.execute(sql, params))


def count_documents(con: Con, collection_id: int | list[int] | None = None, status: str | None = "active",
                    title_contains: str | None = None, mime_type: str | None = None,
                    updated_after: datetime | None = None, updated_before: datetime | None = None) -> int:
    where, params = document_where(collection_id, status, title_contains, mime_type, updated_after, updated_before)
    return con.execute(
        f"SELECT count(*) FROM documents d JOIN collections col ON col.id = d.collection_id WHERE {where}", params
    ).fetchone()[0]


def document_where(collection_id, status, title_contains, mime_type, updated_after, updated_before) -> tuple[str, list]:
    """The WHERE clause (over `documents d`) and its parameters; a None argument does not filter."""
    if isinstance(mime_type, str):
        mime_type = [mime_type]
    # collection_id: one id, or a list of the ids a caller may read (an empty list matches nothing).
    scope = ("d.collection_id IN (SELECT unnest(?::BIGINT[]))", list(collection_id)) if isinstance(collection_id, (list, tuple)) \
        else ("d.collection_id = ?", collection_id)
    conditions = [
        scope,
        ("d.status = ?", status),
        ("contains(lower(d.title), lower(?))", title_contains or None),  # literal: no LIKE wildcards
        ("d.mime_type IN (SELECT unnest(?))", list(mime_type) if mime_type else None),
        ("d.updated_at >= ?", updated_after),
        ("d.updated_at <= ?", updated_before),
    ]
    used = [(clause, value) for clause, value in conditions if value is not None]
    return " AND ".join(["TRUE"] + [clause for clause, _ in used]), [value for _, value in used]


def count_active_documents(con: Con, collection_id: int) -> int:
    return con.execute(
        "SELECT count(*) FROM documents WHERE collection_id = ? AND status = 'active'", [collection_id]
    ).fetchone()[0]


def document_source_map(con: Con, collection_id: int) -> dict[int, str]:
    return dict(con.execute(
        "SELECT id, source FROM documents WHERE collection_id = ? AND status = 'active'", [collection_id]
    ).fetchall())


def mime_type_counts(con: Con, collection_id: int | None = None) -> dict[str, int]:
    where = "AND collection_id = ?" if collection_id is not None else ""
    return dict(con.execute(
        f"SELECT mime_type, count(*) FROM documents WHERE status = 'active' {where} GROUP BY mime_type ORDER BY 2 DESC",
        [collection_id] if collection_id is not None else [],
    ).fetchall())


# --- status --------------------------------------------------------------------------------
def superseded_document_ids(con: Con, document_ids: Iterable[int]) -> set[int]:
    """Ids among `document_ids` whose status (STATUS_SQL) is superseded: what freshness demotion looks up."""
    rows = con.execute(
        f"SELECT d.id FROM documents d WHERE d.id IN (SELECT unnest(?::BIGINT[])) AND {STATUS_SQL} = 'superseded'",
        [sorted(int(i) for i in document_ids)],
    ).fetchall()
    return {row[0] for row in rows}


def statuses_with_metadata(con: Con, document_ids: Iterable[int]) -> dict[int, tuple[str, dict]]:
    """id -> (status by STATUS_SQL, front matter) for the given documents."""
    rows = con.execute(
        f"SELECT d.id, {STATUS_SQL}, d.metadata FROM documents d WHERE d.id IN (SELECT unnest(?))",
        [list(document_ids)]).fetchall()
    return {doc_id: (status, parse_json(metadata) or {}) for doc_id, status, metadata in rows}


def superseded_titles_in_collection(con: Con, collection: str) -> dict[int, str]:
    """id -> title of the named collection's active documents whose status is superseded."""
    return dict(con.execute(
        "SELECT d.id, d.title FROM documents d JOIN collections col ON col.id = d.collection_id"
        f" WHERE col.name = ? AND d.status = 'active' AND {STATUS_SQL} = 'superseded'", [collection]).fetchall())


def active_document_ids_in_collection(con: Con, collection: str) -> list[int]:
    """Ids of the named collection's active (not deleted) documents."""
    return [i for (i,) in con.execute(
        "SELECT d.id FROM documents d JOIN collections col ON col.id = d.collection_id"
        " WHERE col.name = ? AND d.status = 'active'", [collection]).fetchall()]
