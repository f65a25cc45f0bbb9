"""Personal-data findings of documents (types, places, hashed values) and each collection's redact-or-flag setting."""
from __future__ import annotations

from typing import Sequence

import pyarrow as pa

from backend.store.rows import Con, Scope, dicts, registered, scope_condition

PII_MODES = ("flag", "redact")
# A document whose current version has findings (the documents table's "only documents with personal data").
HAS_FINDINGS_SQL = "EXISTS (SELECT 1 FROM document_pii p WHERE p.document_id = d.id AND p.version = d.version)"
# One finding row: document id, version, chunk id, entity type, char start, char end, page, score, value hash.
FindingRow = tuple[int, int, int | None, str, int, int, int | None, float, str]


def write_findings(con: Con, scans: Sequence[tuple[int, int, bool]], findings: Sequence[FindingRow]) -> None:
    """Record the analysis of document versions ((document id, version, stored redacted) each) with their findings,
    replacing what an earlier version of those documents recorded; inside the transaction that writes the chunks."""
    if not scans:
        return
    ids = [scan[0] for scan in scans]
    con.execute("DELETE FROM document_pii WHERE document_id IN (SELECT unnest(?::INTEGER[]))", [ids])
    con.execute("DELETE FROM document_pii_scans WHERE document_id IN (SELECT unnest(?::INTEGER[]))", [ids])
    counts: dict[int, int] = {}
    for row in findings:
        counts[row[0]] = counts.get(row[0], 0) + 1
    con.executemany("INSERT INTO document_pii_scans (document_id, version, findings, redacted) VALUES (?, ?, ?, ?)",
                    [[doc, version, counts.get(doc, 0), bool(redacted)] for doc, version, redacted in scans])
    if not findings:
        return
    columns = list(zip(*findings))
    table = pa.table({
        "document_id": pa.array(columns[0], type=pa.int32()), "version": pa.array(columns[1], type=pa.int32()),
        "chunk_id": pa.array(columns[2], type=pa.int64()), "entity_type": pa.array(columns[3], type=pa.string()),
        "char_start": pa.array(columns[4], type=pa.int32()), "char_end": pa.array(columns[5], type=pa.int32()),
        "page": pa.array(columns[6], type=pa.int32()), "score": pa.array(columns[7], type=pa.float64()),
        "value_hash": pa.array(columns[8], type=pa.string()),
    })
    with registered(con, "new_document_pii_view", table):
        con.execute(
            "INSERT INTO document_pii (document_id, version, chunk_id, entity_type, char_start, char_end, page, score,"
            " value_hash) SELECT document_id, version, chunk_id, entity_type, char_start, char_end, page, score,"
            " value_hash FROM new_document_pii_view")


def delete_document_findings(con: Con, document_id: int) -> None:
    """A deleted document's findings and scans: nothing about its personal data outlives it."""
    con.execute("DELETE FROM document_pii WHERE document_id = ?", [document_id])
    con.execute("DELETE FROM document_pii_scans WHERE document_id = ?", [document_id])


def delete_collection_findings(con: Con, collection_id: int) -> None:
    """Findings of every document of a collection being deleted (its deleted documents' are gone already)."""
    for table in ("document_pii", "document_pii_scans"):
        con.execute(f"DELETE FROM {table} WHERE document_id IN"
                    " (SELECT id FROM documents WHERE collection_id = ?)", [collection_id])


def document_findings(con: Con, document_id: int) -> list[dict]:
    """The findings of the document's current version in text order, each with its chunk's ordinal (0-based)."""
    return dicts(con.execute(
        "SELECT p.entity_type, p.char_start, p.char_end, p.page, p.score, p.chunk_id, c.ordinal AS chunk_ordinal"
        " FROM document_pii p JOIN documents d ON d.id = p.document_id AND d.version = p.version"
        " LEFT JOIN chunks c ON c.id = p.chunk_id WHERE p.document_id = ? ORDER BY p.char_start, p.entity_type",
        [document_id]))


def chunk_findings(con: Con, chunk_ids: Sequence[int]) -> dict[int, dict]:
    """Per chunk whose document version was analysed at ingest: its text, whether it was stored redacted and the
    findings touching it, offsets relative to the chunk's text (one crossing its edge runs past it). A chunk of a
    version never analysed is absent. The caller has read these chunks already (they were retrieved for it)."""
    if not chunk_ids:
        return {}
    rows = con.execute(
        "SELECT c.id, c.text, s.redacted, p.entity_type, p.char_start - c.char_start, p.char_end - c.char_start,"
        " p.score, p.value_hash FROM chunks c"
        " JOIN document_pii_scans s ON s.document_id = c.document_id AND s.version = c.version"
        " LEFT JOIN document_pii p ON p.document_id = c.document_id AND p.version = c.version"
        " AND p.char_start < c.char_end AND p.char_end > c.char_start"
        " WHERE c.id IN (SELECT unnest(?::BIGINT[])) ORDER BY c.id, p.char_start", [list(chunk_ids)]).fetchall()
    out: dict[int, dict] = {}
    for chunk_id, text, redacted, entity, start, end, score, digest in rows:
        entry = out.setdefault(chunk_id, {"text": text, "redacted": bool(redacted), "findings": []})
        if entity is not None:
            entry["findings"].append((entity, int(start), int(end), float(score), digest))
    return out


def document_scan(con: Con, document_id: int) -> dict | None:
    """The analysis recorded for the document's current version (findings, redacted, scanned_at); None: none yet."""
    rows = dicts(con.execute(
        "SELECT s.version, s.findings, s.redacted, s.scanned_at FROM document_pii_scans s"
        " JOIN documents d ON d.id = s.document_id AND d.version = s.version WHERE s.document_id = ?", [document_id]))
    return rows[0] if rows else None


def finding_counts(con: Con, document_ids: Sequence[int]) -> dict[int, int]:
    """Findings of each document's current version; a document analysed with none, or not yet analysed, is absent."""
    if not document_ids:
        return {}
    return dict(con.execute(
        "SELECT s.document_id, s.findings FROM document_pii_scans s"
        " JOIN documents d ON d.id = s.document_id AND d.version = s.version"
        " WHERE s.document_id IN (SELECT unnest(?::INTEGER[])) AND s.findings > 0", [list(document_ids)]).fetchall())


def findings_with_values(con: Con, hashes: Sequence[str], scope: Scope) -> list[dict]:
    """Findings whose value hashes to one of `hashes`, in active documents of the collection scope (names, as
    rows.scope_condition takes them), with their document, collection and chunk."""
    condition, params = scope_condition(scope)
    return dicts(con.execute(
        "SELECT d.id AS document_id, d.title, d.source, col.name AS collection, col.tenant, p.entity_type,"
        " p.chunk_id, c.ordinal AS chunk_ordinal, p.page, p.char_start, p.char_end"
        " FROM document_pii p JOIN documents d ON d.id = p.document_id AND d.version = p.version"
        " JOIN collections col ON col.id = d.collection_id LEFT JOIN chunks c ON c.id = p.chunk_id"
        " WHERE d.status = 'active' AND p.value_hash IN (SELECT unnest(?::VARCHAR[]))"
        f"{' AND ' + condition if condition else ''} ORDER BY col.name, d.title, d.id, p.char_start",
        [list(hashes), *params]))


def unscanned_documents(con: Con, scope: Scope) -> list[dict]:
    """Active documents of the scope whose current version was never analysed (ingested before findings were)."""
    condition, params = scope_condition(scope)
    return dicts(con.execute(
        "SELECT d.id, d.version, d.title, d.metadata, col.name AS collection FROM documents d"
        " JOIN collections col ON col.id = d.collection_id"
        " LEFT JOIN document_pii_scans s ON s.document_id = d.id AND s.version = d.version"
        f" WHERE d.status = 'active' AND s.document_id IS NULL{' AND ' + condition if condition else ''}"
        " ORDER BY col.name, d.id", params))


def collection_modes(con: Con) -> dict[str, str | None]:
    """Each collection's pii_at_ingest by name (None: made before the setting, it follows redact_at_ingest)."""
    return dict(con.execute("SELECT name, pii_at_ingest FROM collections").fetchall())


def set_collection_mode(con: Con, collection_id: int, mode: str) -> None:
    con.execute("UPDATE collections SET pii_at_ingest = ? WHERE id = ?", [mode, collection_id])


def stored_redacted(con: Con, document_id: int) -> bool:
    """Was the document's current version stored redacted (then no unredacted original of it may be shown)?"""
    row = con.execute(
        "SELECT coalesce(s.redacted, (d.metadata->>'$.redacted') = 'true', false) FROM documents d"
        " LEFT JOIN document_pii_scans s ON s.document_id = d.id AND s.version = d.version WHERE d.id = ?",
        [document_id]).fetchone()
    return bool(row and row[0])


def redacted_sources(con: Con, collection_id: int, sources: Sequence[str]) -> set[str]:
    """Which of `sources` are the source of a document of the collection whose current version was stored
    redacted (its file still holds the personal data the stored text lost)."""
    if not sources:
        return set()
    return {row[0] for row in con.execute(
        "SELECT d.source FROM documents d"
        " LEFT JOIN document_pii_scans s ON s.document_id = d.id AND s.version = d.version"
        " WHERE d.collection_id = ? AND d.source IN (SELECT unnest(?::VARCHAR[]))"
        " AND coalesce(s.redacted, (d.metadata->>'$.redacted') = 'true', false)",
        [collection_id, list(sources)]).fetchall()}
