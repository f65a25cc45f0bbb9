"""Queries over e-mail attachments' documents: which active documents of a collection are a mail's attachments."""
from __future__ import annotations

from backend.store.rows import Con, dicts

# An attachment's document carries its mail's path in metadata.attached_to (backend/ingest/attachments.py, whose
# attachments_prefix the caller passes; the store imports no ingest code); the source prefix then picks this mail's
# attachments (and, for an attached mail, its own), never a file whose path merely starts alike.
_ATTACHMENTS_OF = (
    "SELECT d.id, d.title, d.source FROM documents d WHERE d.collection_id = ? AND d.status = 'active'"
    " AND starts_with(d.source, ?) AND json_extract_string(d.metadata, '$.attached_to') IS NOT NULL"
    " AND d.id <> ? ORDER BY d.source, d.id"
)


def attachment_rows(con: Con, collection_id: int, document_id: int, prefix: str) -> list[dict]:
    """The active attachments' documents (id, title, source) of a document in its collection, by the prefix of
    their sources (attachments_prefix of its source); none for a document that is no mail. Only its own collection:
    an attachment moved elsewhere is its own document now."""
    return dicts(con.execute(_ATTACHMENTS_OF, [collection_id, prefix, document_id]))
