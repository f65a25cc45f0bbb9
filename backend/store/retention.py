"""Queries of the retention job: what has outlived its collection's or the conversations' retention, and its leftovers."""
from __future__ import annotations

from datetime import datetime

from backend.store.rows import Con, dicts

# A document's age runs from its last ingest or update: a new version, a move, or an unchanged re-ingest of its
# file (recorded in ingest_files), so re-ingesting a folder keeps what is still there.
_LAST_INGESTED = (
    "greatest(d.updated_at, coalesce((SELECT max(f.created_at) FROM ingest_files f"
    " WHERE f.document_id = d.id AND f.outcome IN ('ingested', 'updated', 'unchanged')), d.updated_at))"
)


def retention_collections(con: Con) -> list[dict]:
    """Every collection's id, name, tenant and retention_days (NULL: kept for ever), by name."""
    return dicts(con.execute("SELECT id, name, tenant, retention_days FROM collections ORDER BY name"))


def expired_documents(con: Con, collection_id: int, cutoff: datetime) -> list[dict]:
    """The collection's active documents last ingested before `cutoff`, oldest first: id, title, last_ingested_at."""
    return dicts(con.execute(
        f"SELECT id, title, last_ingested_at FROM (SELECT d.id, d.title, {_LAST_INGESTED} AS last_ingested_at"
        " FROM documents d WHERE d.collection_id = ? AND d.status = 'active')"
        " WHERE last_ingested_at < ? ORDER BY last_ingested_at, id",
        [collection_id, cutoff]))


def purge_document_versions(con: Con, document_id: int) -> int:
    """Delete the text of every version of a deleted document (a user's delete keeps it; retention must not)."""
    return len(con.execute("DELETE FROM document_versions WHERE document_id = ? RETURNING version",
                           [document_id]).fetchall())


def delete_unservable_cache_entries(con: Con, collection: str, index_version: int) -> int:
    """Cached answers of a collection built on an older index than `index_version`: never served again (the cache
    keys on it), and they may quote a document just deleted."""
    return len(con.execute("DELETE FROM cache_entries WHERE collection = ? AND index_version < ? RETURNING id",
                           [collection, index_version]).fetchall())


def _conversation_filter(tenants: list[str] | None, collection: str | None) -> tuple[str, list]:
    return ("(?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], c.tenant)) AND (? IS NULL OR c.collection = ?)",
            [tenants, tenants, collection, collection])


# A conversation's age runs from its last message (one without any: from its last change).
_LAST_MESSAGE = "coalesce((SELECT max(m.created_at) FROM messages m WHERE m.conversation_id = c.id), c.updated_at)"


def expired_conversations(con: Con, cutoff: datetime, tenants: list[str] | None = None,
                          collection: str | None = None) -> list[dict]:
    """Conversations whose last message is older than `cutoff` (in these tenants and this collection, None: any),
    oldest first: id, tenant, collection, last_message_at."""
    where, params = _conversation_filter(tenants, collection)
    return dicts(con.execute(
        f"SELECT id, tenant, collection, last_message_at FROM (SELECT c.id, c.tenant, c.collection,"
        f" {_LAST_MESSAGE} AS last_message_at FROM conversations c WHERE {where})"
        " WHERE last_message_at < ? ORDER BY last_message_at, id", [*params, cutoff]))


_CACHE_BEFORE = ("created_at < ? AND (?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], tenant))"
                 " AND (? IS NULL OR collection = ?)")


def count_cache_entries_before(con: Con, cutoff: datetime, tenants: list[str] | None = None,
                               collection: str | None = None) -> int:
    return con.execute(f"SELECT count(*) FROM cache_entries WHERE {_CACHE_BEFORE}",
                       [cutoff, tenants, tenants, collection, collection]).fetchone()[0]


def delete_cache_entries_before(con: Con, cutoff: datetime, tenants: list[str] | None = None,
                                collection: str | None = None) -> int:
    """Cached answers created before `cutoff`. The cache does not record which conversation made an entry (put()
    blanks its trace, conversation and message; an entry serves everyone in its tenant), but every entry an
    expired conversation made is older than the cutoff: these are all of them, and any other entry that old."""
    return len(con.execute(f"DELETE FROM cache_entries WHERE {_CACHE_BEFORE} RETURNING id",
                           [cutoff, tenants, tenants, collection, collection]).fetchall())
